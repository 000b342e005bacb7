//! The alert outbox, written once for both backends: the SQL behind durable alerts.
//!
//! Owns queueing outbox rows inside the transaction that records their event (so a crash keeps
//! both or neither), reading due rows (on PostgreSQL, `pg` claims them for one worker),
//! recording each delivery attempt, and the queries of `stet alerts`. Never decides what a
//! message says or when to retry: `notify` does.

use serde::Serialize;

use super::record::end_lease;
use super::sql::{Row, Tx};
use super::{Db, Result, Store};
use crate::notify::{AlertRoute, idempotency_key};
use crate::pure::model::{CheckKind, Significance, VersionSeq, WatchId};

/// Why a queued row is not delivered: the same change was already alerted (flip-flop).
const REPEAT_NOTE: &str =
    "not sent: the article went back and forth; this change was already alerted";

/// Queues one row per sink that wants event `event_id`. Called by `Batch::record` right after
/// the event row is inserted, in the same transaction.
pub(super) fn enqueue(
    tx: &mut dyn Tx,
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
         WHERE e.id = ?1",
        &[&event_id],
    )?;
    let (watch, url): (i64, String) = (r.get(0)?, r.get(1)?);
    let kind: CheckKind = r.parse(2)?;
    let significance: Option<Significance> = r.parse_opt(3)?;
    let (from_seq, to_seq): (Option<i64>, Option<i64>) = (r.get(4)?, r.get(5)?);
    let feed: Option<String> = r.get(6)?;
    for route in routes
        .iter()
        .filter(|r| r.wants(kind, significance, &url, feed.as_deref()))
    {
        let key = idempotency_key(&url, kind, at, to_seq.map(VersionSeq), &route.sink);
        let repeat = match (from_seq, to_seq) {
            (Some(from), Some(to)) => already_alerted(tx, &route.sink, watch, event_id, from, to)?,
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            &[&event_id, &route.sink, &key, &status, &at, &note],
        )?;
    }
    Ok(())
}

/// Whether `sink` was already alerted (or is queued) about a change between the same two texts
/// (with the same byline and published date) of this watch, in the same direction: an article
/// that flip-flops between two versions gets one alert per real change, not one per check.
fn already_alerted(
    tx: &mut dyn Tx,
    sink: &str,
    watch: i64,
    event_id: i64,
    from_seq: i64,
    to_seq: i64,
) -> Result<bool> {
    tx.query_one(
        "SELECT EXISTS (
            SELECT 1 FROM outbox o
            JOIN events e ON e.id = o.event_id
            JOIN versions vf ON vf.watch_id = e.watch_id AND vf.seq = e.from_seq
            JOIN versions vt ON vt.watch_id = e.watch_id AND vt.seq = e.version_seq
            WHERE o.sink = ?1 AND e.watch_id = ?2 AND e.id <> ?3 AND o.status <> 'suppressed'
              AND EXISTS (SELECT 1 FROM versions f WHERE f.watch_id = ?2 AND f.seq = ?4
                  AND f.content_hash = vf.content_hash
                  AND f.byline IS NOT DISTINCT FROM vf.byline
                  AND f.published IS NOT DISTINCT FROM vf.published)
              AND EXISTS (SELECT 1 FROM versions t WHERE t.watch_id = ?2 AND t.seq = ?5
                  AND t.content_hash = vt.content_hash
                  AND t.byline IS NOT DISTINCT FROM vt.byline
                  AND t.published IS NOT DISTINCT FROM vt.published))",
        &[&sink, &watch, &event_id, &from_seq, &to_seq],
    )?
    .get(0)
}

/// A queued alert with what its message needs to know about the event.
#[derive(Debug, Clone, Serialize)]
pub struct DueAlert {
    pub id: i64,
    pub sink: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub created_at: String,
    pub watch_id: WatchId,
    pub url: String,
    pub kind: CheckKind,
    /// When the change was detected (the event's time).
    pub at: String,
    pub from_version: Option<VersionSeq>,
    pub version: Option<VersionSeq>,
    pub significance: Option<Significance>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<String>,
}

/// An outbox row as `stet alerts list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub sink: String,
    pub status: String,
    pub url: String,
    pub event: CheckKind,
    pub from_version: Option<VersionSeq>,
    pub version: Option<VersionSeq>,
    pub detected_at: String,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub idempotency_key: String,
}

/// How many rows a sink has in one status.
#[derive(Debug, Clone, Serialize)]
pub struct AlertCount {
    pub sink: String,
    pub status: String,
    pub count: i64,
}

/// The columns of a [`DueAlert`], for [`due_alert`].
pub(super) const DUE_COLUMNS: &str = "SELECT o.id, o.sink, o.idempotency_key, o.attempts,
        o.created_at, e.watch_id, w.url, e.kind, e.at, e.from_seq, e.version_seq,
        e.significance, e.reverted_to, e.detail
    FROM outbox o JOIN events e ON e.id = o.event_id JOIN watches w ON w.id = e.watch_id";

pub(super) fn due_alert(r: &Row) -> Result<DueAlert> {
    Ok(DueAlert {
        id: r.get(0)?,
        sink: r.get(1)?,
        idempotency_key: r.get(2)?,
        attempts: r.get(3)?,
        created_at: r.get(4)?,
        watch_id: WatchId(r.get(5)?),
        url: r.get(6)?,
        kind: r.parse(7)?,
        at: r.get(8)?,
        from_version: r.get::<Option<i64>>(9)?.map(VersionSeq),
        version: r.get::<Option<i64>>(10)?.map(VersionSeq),
        significance: r.parse_opt(11)?,
        reverted_to: r.get::<Option<i64>>(12)?.map(VersionSeq),
        detail: r.get(13)?,
    })
}

impl Store {
    /// Pending alerts whose next attempt is due at `now`, oldest first. On PostgreSQL they are
    /// claimed for this worker until delivered, failed or deferred (or the lease ends).
    pub fn due_alerts(&self, now: &str) -> Result<Vec<DueAlert>> {
        match &self.db {
            Db::Postgres(p) => p.claim_alerts(now),
            Db::Sqlite(_) => self.with(|tx| {
                tx.query(
                    &format!(
                        "{DUE_COLUMNS} WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
                         ORDER BY o.id"
                    ),
                    &[&now],
                )?
                .iter()
                .map(due_alert)
                .collect()
            }),
        }
    }

    /// Records a successful delivery of the given rows (several for a digest).
    pub fn alert_sent(&mut self, ids: &[i64], at: &str) -> Result<()> {
        self.write(|tx| {
            let sql = format!(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2,
                    last_attempt_at = ?2, last_error = NULL{}
                 WHERE id = ?1",
                end_lease(tx)
            );
            for id in ids {
                tx.execute(
                    "INSERT INTO outbox_attempts (outbox_id, at, ok) VALUES (?1, ?2, ?3)",
                    &[id, &at, &true],
                )?;
                tx.execute(&sql, &[id, &at])?;
            }
            Ok(())
        })
    }

    /// Records a failed attempt: the row waits until `retry_at`, or is marked failed when
    /// `retry_at` is `None` (no attempts left).
    pub fn alert_failed(
        &mut self,
        ids: &[i64],
        at: &str,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let sql = format!(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2,
                    last_error = ?3,
                    status = CASE WHEN CAST(?4 AS TEXT) IS NULL THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = coalesce(?4, next_attempt_at){}
                 WHERE id = ?1",
                end_lease(tx)
            );
            for id in ids {
                tx.execute(
                    "INSERT INTO outbox_attempts (outbox_id, at, ok, error)
                     VALUES (?1, ?2, ?3, ?4)",
                    &[id, &at, &false, &error],
                )?;
                tx.execute(&sql, &[id, &at, &error, &retry_at])?;
            }
            Ok(())
        })
    }

    /// Moves rows to a later attempt without counting an attempt (rate limit, digest window).
    pub fn defer_alerts(&mut self, ids: &[i64], until: &str) -> Result<()> {
        self.write(|tx| {
            let sql = format!(
                "UPDATE outbox SET next_attempt_at = ?2{} WHERE id = ?1 AND status = 'pending'",
                end_lease(tx)
            );
            for id in ids {
                tx.execute(&sql, &[id, &until])?;
            }
            Ok(())
        })
    }

    /// How many messages `sink` sent at or after `since`: one per row, or for a digest sink one
    /// per digest (its rows share their `sent_at`).
    pub fn alerts_sent_since(&self, sink: &str, since: &str, digest: bool) -> Result<u32> {
        self.with(|tx| {
            tx.query_one(
                "SELECT CASE WHEN ?3 THEN count(DISTINCT sent_at) ELSE count(*) END FROM outbox
                 WHERE sink = ?1 AND status = 'sent' AND sent_at >= ?2",
                &[&sink, &since, &digest],
            )?
            .get(0)
        })
    }

    /// When `sink` last sent anything.
    pub fn last_alert_sent(&self, sink: &str) -> Result<Option<String>> {
        self.with(|tx| {
            tx.query_one(
                "SELECT max(sent_at) FROM outbox WHERE sink = ?1 AND status = 'sent'",
                &[&sink],
            )?
            .get(0)
        })
    }

    /// Queues failed alerts again, with fresh attempts: all of them, one sink's, or one row.
    /// Returns how many were queued.
    pub fn retry_alerts(
        &mut self,
        id: Option<i64>,
        sink: Option<&str>,
        now: &str,
    ) -> Result<usize> {
        let n = self.with(|tx| {
            tx.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?3
                 WHERE status = 'failed' AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR sink = ?2)",
                &[&id, &sink, &now],
            )
        })?;
        Ok(n as usize)
    }

    /// Outbox rows, newest first, optionally of one status, at most `limit`.
    pub fn outbox(&self, status: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>> {
        self.with(|tx| {
            tx.query(
                "SELECT o.id, o.sink, o.status, w.url, e.kind, e.from_seq, e.version_seq, e.at,
                        o.attempts, o.next_attempt_at, o.last_attempt_at, o.last_error, o.sent_at,
                        o.idempotency_key
                 FROM outbox o JOIN events e ON e.id = o.event_id JOIN watches w ON w.id = e.watch_id
                 WHERE CAST(?1 AS TEXT) IS NULL OR o.status = ?1
                 ORDER BY o.id DESC LIMIT ?2",
                &[&status, &limit],
            )?
            .iter()
            .map(|r| {
                let status: String = r.get(2)?;
                let pending = status == "pending";
                Ok(OutboxRow {
                    id: r.get(0)?,
                    sink: r.get(1)?,
                    url: r.get(3)?,
                    event: r.parse(4)?,
                    from_version: r.get::<Option<i64>>(5)?.map(VersionSeq),
                    version: r.get::<Option<i64>>(6)?.map(VersionSeq),
                    detected_at: r.get(7)?,
                    attempts: r.get(8)?,
                    next_attempt_at: if pending { r.get(9)? } else { None },
                    last_attempt_at: r.get(10)?,
                    last_error: r.get(11)?,
                    sent_at: r.get(12)?,
                    idempotency_key: r.get(13)?,
                    status,
                })
            })
            .collect()
        })
    }

    /// Row counts per sink and status.
    pub fn alert_counts(&self) -> Result<Vec<AlertCount>> {
        self.with(|tx| {
            tx.query(
                "SELECT sink, status, count(*) FROM outbox GROUP BY sink, status
                 ORDER BY sink, status",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(AlertCount {
                    sink: r.get(0)?,
                    status: r.get(1)?,
                    count: r.get(2)?,
                })
            })
            .collect()
        })
    }
}
