//! PostgreSQL's work queue: due watches and due alerts claimed by one worker at a time, with
//! `FOR UPDATE SKIP LOCKED` and a lease, so that several `stet run` workers share one archive.
//!
//! Owns the claims and leases (`host_claims`, `lease_owner`, `lease_until`). Never records what
//! a check found: `record` does, and ends the lease there.

use super::{Pg, WRITE_LOCK, worker_id};
use crate::store::outbox::{DUE_COLUMNS, due_alert};
use crate::store::sql::pg_row;
use crate::store::watches::{TARGET_COLUMNS, target};
use crate::store::{CheckTarget, DueAlert, Result};

impl Pg {
    /// Claims up to `limit` watches due at `now` for this worker: first the hosts (a host's
    /// watches are checked by one worker at a time, so its politeness holds across workers),
    /// then their due watches, each leased so that no other worker takes it until the lease
    /// ends. What this worker claimed before and has not recorded stays its own; its host
    /// claims from the previous pass are released first, so other workers get their turn.
    pub(in crate::store) fn claim_targets(
        &self,
        now: &str,
        limit: usize,
    ) -> Result<Vec<CheckTarget>> {
        let me = worker_id();
        let lease = self.lease_secs();
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Claims are serialised with every write: two workers never race for one host.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            tx.execute(
                "DELETE FROM host_claims WHERE owner = $1
                   AND NOT EXISTS (SELECT 1 FROM watches w WHERE w.host = host_claims.host
                     AND w.lease_owner = $1 AND w.lease_until > now())",
                &[&me],
            )?;
            // Hosts with due work that no other worker holds, most overdue first; claimed one by
            // one until they hold `limit` due watches, so that other workers find hosts left.
            let hosts = tx.query(
                "SELECT w.host, count(*) FROM watches w
                 WHERE w.removed_at IS NULL
                   AND (w.next_check_at IS NULL OR w.next_check_at <= $1)
                   AND (w.lease_until IS NULL OR w.lease_until < now() OR w.lease_owner = $2)
                   AND NOT EXISTS (SELECT 1 FROM host_claims h WHERE h.host = w.host
                         AND h.owner <> $2 AND h.lease_until > now())
                 GROUP BY w.host
                 ORDER BY min(coalesce(w.next_check_at, '')), w.host
                 LIMIT $3",
                &[&now, &me, &(limit as i64)],
            )?;
            let mut held: Vec<String> = Vec::new();
            let mut due = 0;
            for row in &hosts {
                let host: String = row.try_get(0)?;
                let count: i64 = row.try_get(1)?;
                let won = tx.query_opt(
                    "INSERT INTO host_claims (host, owner, lease_until)
                     VALUES ($1, $2, now() + make_interval(secs => $3))
                     ON CONFLICT (host) DO UPDATE SET owner = $2, lease_until = excluded.lease_until
                     WHERE host_claims.owner = $2 OR host_claims.lease_until < now()
                     RETURNING host",
                    &[&host, &me, &lease],
                )?;
                if won.is_some() {
                    held.push(host);
                    due += count;
                    if due >= limit as i64 {
                        break;
                    }
                }
            }
            let rows = tx.query(
                &format!(
                    "WITH claimed AS (
                        UPDATE watches SET lease_owner = $2,
                            lease_until = now() + make_interval(secs => $4)
                        WHERE id IN (
                            SELECT id FROM watches
                            WHERE removed_at IS NULL AND host = ANY($5)
                              AND (next_check_at IS NULL OR next_check_at <= $1)
                              AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)
                            ORDER BY next_check_at NULLS FIRST, id
                            LIMIT $3
                            FOR UPDATE SKIP LOCKED)
                        RETURNING id)
                     SELECT {TARGET_COLUMNS} FROM watches w JOIN claimed USING (id)
                     ORDER BY w.next_check_at NULLS FIRST, w.id"
                ),
                &[&now, &me, &(limit as i64), &lease, &held],
            )?;
            let targets = rows
                .iter()
                .map(|r| target(&pg_row(r)?))
                .collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(targets)
        })
    }

    /// The earliest due time; while watches are due but claimed by other workers (whose
    /// claims may end), a second from now, so that this worker looks again soon.
    pub(in crate::store) fn next_due_at(&self) -> Result<Option<String>> {
        let now = chrono::Utc::now();
        let fmt = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let soon = fmt(now + chrono::Duration::seconds(1));
        self.with(|c| {
            Ok(c.query_one(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM watches WHERE removed_at IS NULL
                          AND (next_check_at IS NULL OR next_check_at <= $1))
                        THEN $2
                        ELSE (SELECT min(next_check_at) FROM watches WHERE removed_at IS NULL)
                        END",
                &[&fmt(now), &soon],
            )?
            .try_get(0)?)
        })
    }

    /// Claims the pending alerts due at `now` that no other worker holds, oldest first.
    pub(in crate::store) fn claim_alerts(&self, now: &str) -> Result<Vec<DueAlert>> {
        let me = worker_id();
        let lease = self.lease_secs();
        self.with(|c| {
            let mut tx = c.transaction()?;
            let rows = tx.query(
                &format!(
                    "WITH claimed AS (
                        UPDATE outbox SET lease_owner = $2,
                            lease_until = now() + make_interval(secs => $3)
                        WHERE id IN (
                            SELECT id FROM outbox
                            WHERE status = 'pending' AND next_attempt_at <= $1
                              AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)
                            ORDER BY id
                            FOR UPDATE SKIP LOCKED)
                        RETURNING id)
                     {DUE_COLUMNS} JOIN claimed c ON c.id = o.id ORDER BY o.id"
                ),
                &[&now, &me, &lease],
            )?;
            let due = rows
                .iter()
                .map(|r| due_alert(&pg_row(r)?))
                .collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(due)
        })
    }
}
