//! PostgreSQL: the alert outbox. Rows are queued in the event's transaction, as in SQLite; due
//! rows are claimed by one worker at a time (`FOR UPDATE SKIP LOCKED` and a lease), so each
//! alert is delivered by one worker, at least once, always with the same idempotency key.

use postgres::GenericClient;

use super::{Pg, parse, parse_opt, worker_id};
use crate::notify::{AlertRoute, idempotency_key};
use crate::pure::model::{CheckKind, Significance, VersionSeq, WatchId};
use crate::store::{AlertCount, DueAlert, OutboxRow, Result};

/// Why a queued row is not delivered: the same change was already alerted (flip-flop).
const REPEAT_NOTE: &str =
    "not sent: the article went back and forth; this change was already alerted";

/// Queues one row per sink that wants event `event_id`, in the event's transaction.
pub(super) fn enqueue(
    tx: &mut impl GenericClient,
    routes: &[AlertRoute],
    event_id: i64,
    at: &str,
) -> Result<()> {
    if routes.is_empty() {
        return Ok(());
    }
    let r = tx.query_one(
        "SELECT e.watch_id, w.url, e.kind, e.significance, e.from_seq, e.version_seq, f.url
         FROM events e JOIN watches w ON w.id = e.watch_id LEFT JOIN feeds f ON f.id = w.feed_id
         WHERE e.id = $1",
        &[&event_id],
    )?;
    let watch: i64 = r.try_get(0)?;
    let url: String = r.try_get(1)?;
    let kind: CheckKind = parse(r.try_get(2)?)?;
    let significance: Option<Significance> = parse_opt(r.try_get(3)?)?;
    let from_seq: Option<i64> = r.try_get(4)?;
    let to_seq: Option<i64> = r.try_get(5)?;
    let feed: Option<String> = r.try_get(6)?;
    for route in routes
        .iter()
        .filter(|r| r.wants(kind, significance, &url, feed.as_deref()))
    {
        let key = idempotency_key(&url, kind, at, to_seq.map(VersionSeq), &route.sink);
        let repeat = match (from_seq, to_seq) {
            (Some(from), Some(to)) => tx
                .query_one(
                    "SELECT EXISTS (
                        SELECT 1 FROM outbox o
                        JOIN events e ON e.id = o.event_id
                        JOIN versions vf ON vf.watch_id = e.watch_id AND vf.seq = e.from_seq
                        JOIN versions vt ON vt.watch_id = e.watch_id AND vt.seq = e.version_seq
                        WHERE o.sink = $1 AND e.watch_id = $2 AND e.id <> $3
                          AND o.status <> 'suppressed'
                          AND EXISTS (SELECT 1 FROM versions f WHERE f.watch_id = $2
                              AND f.seq = $4 AND f.content_hash = vf.content_hash
                              AND f.byline IS NOT DISTINCT FROM vf.byline
                              AND f.published IS NOT DISTINCT FROM vf.published)
                          AND EXISTS (SELECT 1 FROM versions t WHERE t.watch_id = $2
                              AND t.seq = $5 AND t.content_hash = vt.content_hash
                              AND t.byline IS NOT DISTINCT FROM vt.byline
                              AND t.published IS NOT DISTINCT FROM vt.published))",
                    &[&route.sink, &watch, &event_id, &from, &to],
                )?
                .try_get(0)?,
            _ => false,
        };
        let (status, note) = if repeat {
            ("suppressed", Some(REPEAT_NOTE))
        } else {
            ("pending", None)
        };
        tx.execute(
            "INSERT INTO outbox (event_id, sink, idempotency_key, status, created_at,
                next_attempt_at, last_error)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
            &[&event_id, &route.sink, &key, &status, &at, &note],
        )?;
    }
    Ok(())
}

const DUE_COLUMNS: &str = "SELECT o.id, o.sink, o.idempotency_key, o.attempts, o.created_at,
        e.watch_id, w.url, e.kind, e.at, e.from_seq, e.version_seq, e.significance,
        e.reverted_to, e.detail
    FROM outbox o JOIN events e ON e.id = o.event_id JOIN watches w ON w.id = e.watch_id";

fn due_alert(r: &postgres::Row) -> Result<DueAlert> {
    Ok(DueAlert {
        id: r.try_get(0)?,
        sink: r.try_get(1)?,
        idempotency_key: r.try_get(2)?,
        attempts: r.try_get::<_, i64>(3)? as u32,
        created_at: r.try_get(4)?,
        watch_id: WatchId(r.try_get(5)?),
        url: r.try_get(6)?,
        kind: parse(r.try_get(7)?)?,
        at: r.try_get(8)?,
        from_version: r.try_get::<_, Option<i64>>(9)?.map(VersionSeq),
        version: r.try_get::<_, Option<i64>>(10)?.map(VersionSeq),
        significance: parse_opt(r.try_get(11)?)?,
        reverted_to: r.try_get::<_, Option<i64>>(12)?.map(VersionSeq),
        detail: r.try_get(13)?,
    })
}

impl Pg {
    /// Claims the pending alerts due at `now` that no other worker holds, oldest first.
    pub(in crate::store) fn due_alerts(&self, now: &str) -> Result<Vec<DueAlert>> {
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
            let due = rows.iter().map(due_alert).collect::<Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(due)
        })
    }

    pub(in crate::store) fn alert_sent(&self, ids: &[i64], at: &str) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            for id in ids {
                tx.execute(
                    "INSERT INTO outbox_attempts (outbox_id, at, ok) VALUES ($1, $2, TRUE)",
                    &[id, &at],
                )?;
                tx.execute(
                    "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $2,
                        last_attempt_at = $2, last_error = NULL,
                        lease_owner = NULL, lease_until = NULL
                     WHERE id = $1",
                    &[id, &at],
                )?;
            }
            Ok(tx.commit()?)
        })
    }

    pub(in crate::store) fn alert_failed(
        &self,
        ids: &[i64],
        at: &str,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            for id in ids {
                tx.execute(
                    "INSERT INTO outbox_attempts (outbox_id, at, ok, error)
                     VALUES ($1, $2, FALSE, $3)",
                    &[id, &at, &error],
                )?;
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = $2,
                        last_error = $3,
                        status = CASE WHEN $4::TEXT IS NULL THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = coalesce($4, next_attempt_at),
                        lease_owner = NULL, lease_until = NULL
                     WHERE id = $1",
                    &[id, &at, &error, &retry_at],
                )?;
            }
            Ok(tx.commit()?)
        })
    }

    pub(in crate::store) fn defer_alerts(&self, ids: &[i64], until: &str) -> Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            for id in ids {
                tx.execute(
                    "UPDATE outbox SET next_attempt_at = $2, lease_owner = NULL,
                        lease_until = NULL
                     WHERE id = $1 AND status = 'pending'",
                    &[id, &until],
                )?;
            }
            Ok(tx.commit()?)
        })
    }

    pub(in crate::store) fn alerts_sent_since(
        &self,
        sink: &str,
        since: &str,
        digest: bool,
    ) -> Result<u32> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT CASE WHEN $3 THEN count(DISTINCT sent_at) ELSE count(*) END
                     FROM outbox WHERE sink = $1 AND status = 'sent' AND sent_at >= $2",
                    &[&sink, &since, &digest],
                )?
                .try_get(0)?;
            Ok(n as u32)
        })
    }

    pub(in crate::store) fn last_alert_sent(&self, sink: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT max(sent_at) FROM outbox WHERE sink = $1 AND status = 'sent'",
                &[&sink],
            )?
            .try_get(0)?)
        })
    }

    pub(in crate::store) fn retry_alerts(
        &self,
        id: Option<i64>,
        sink: Option<&str>,
        now: &str,
    ) -> Result<usize> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $3
                 WHERE status = 'failed' AND ($1::BIGINT IS NULL OR id = $1)
                   AND ($2::TEXT IS NULL OR sink = $2)",
                &[&id, &sink, &now],
            )? as usize)
        })
    }

    pub(in crate::store) fn outbox(
        &self,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        self.with(|c| {
            c.query(
                "SELECT o.id, o.sink, o.status, w.url, e.kind, e.from_seq, e.version_seq, e.at,
                        o.attempts, o.next_attempt_at, o.last_attempt_at, o.last_error, o.sent_at,
                        o.idempotency_key
                 FROM outbox o JOIN events e ON e.id = o.event_id
                 JOIN watches w ON w.id = e.watch_id
                 WHERE $1::TEXT IS NULL OR o.status = $1
                 ORDER BY o.id DESC LIMIT $2",
                &[&status, &(limit as i64)],
            )?
            .iter()
            .map(|r| {
                let status: String = r.try_get(2)?;
                let pending = status == "pending";
                Ok(OutboxRow {
                    id: r.try_get(0)?,
                    sink: r.try_get(1)?,
                    url: r.try_get(3)?,
                    event: parse(r.try_get(4)?)?,
                    from_version: r.try_get::<_, Option<i64>>(5)?.map(VersionSeq),
                    version: r.try_get::<_, Option<i64>>(6)?.map(VersionSeq),
                    detected_at: r.try_get(7)?,
                    attempts: r.try_get::<_, i64>(8)? as u32,
                    next_attempt_at: if pending { r.try_get(9)? } else { None },
                    last_attempt_at: r.try_get(10)?,
                    last_error: r.try_get(11)?,
                    sent_at: r.try_get(12)?,
                    idempotency_key: r.try_get(13)?,
                    status,
                })
            })
            .collect()
        })
    }

    pub(in crate::store) fn alert_counts(&self) -> Result<Vec<AlertCount>> {
        self.with(|c| {
            c.query(
                "SELECT sink, status, count(*) FROM outbox GROUP BY sink, status
                 ORDER BY sink, status",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(AlertCount {
                    sink: r.try_get(0)?,
                    status: r.try_get(1)?,
                    count: r.try_get(2)?,
                })
            })
            .collect()
        })
    }
}
