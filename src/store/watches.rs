//! The watch list: adding, removing and syncing watches (each change with its ledger entry),
//! listing them, and the targets a pass checks or finds due.
//!
//! Never records check outcomes: `batch` does.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, Sqlite, ledger, parse_col};
use crate::net::fetch::Validators;
use crate::pure::ledger::EntryKind;
use crate::pure::model::{BodyHash, WatchId, WatchStatus};

/// A watch as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WatchSummary {
    pub id: WatchId,
    pub url: String,
    pub origin: String,
    pub status: WatchStatus,
    pub added_at: String,
    pub removed_at: Option<String>,
    pub versions: i64,
    pub last_checked_at: Option<String>,
    pub title: Option<String>,
}

/// What a pass needs to check one watch.
#[derive(Debug, Clone)]
pub struct CheckTarget {
    pub id: WatchId,
    pub url: String,
    pub validators: Validators,
    /// Raw-body hash of the latest version: a byte-identical body needs no extraction.
    pub latest_body_hash: Option<BodyHash>,
    /// config, cli or feed: URLs from feeds are untrusted input.
    pub origin: String,
    /// The watch's own schedule, if it has one.
    pub schedule: Option<String>,
    /// The watch's own robots.txt choice, if it has one.
    pub robots: Option<bool>,
    /// When the article was published, or else first captured (RFC 3339), for the age curve.
    pub born: Option<String>,
}

impl Sqlite {
    /// Adds a watch, or re-activates one that was removed. Returns the id and whether anything
    /// changed.
    pub fn add_watch(&mut self, url: &str, origin: &str, at: &str) -> Result<(WatchId, bool)> {
        let tx = self.write_transaction()?;
        let existing: Option<(i64, Option<String>)> = tx
            .query_row(
                "SELECT id, removed_at FROM watches WHERE url = ?1",
                [url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let id = match existing {
            Some((id, None)) => return Ok((WatchId(id), false)),
            Some((id, Some(_))) => {
                tx.execute(
                    "UPDATE watches SET removed_at = NULL, origin = ?2 WHERE id = ?1",
                    params![id, origin],
                )?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO watches (url, origin, added_at) VALUES (?1, ?2, ?3)",
                    params![url, origin, at],
                )?;
                tx.last_insert_rowid()
            }
        };
        ledger::append_watch(&tx, EntryKind::WatchAdded, id, at)?;
        tx.commit()?;
        Ok((WatchId(id), true))
    }

    /// Stops watching a URL; its history stays. Returns false when it was not watched.
    pub fn remove_watch(&mut self, url: &str, at: &str) -> Result<bool> {
        let tx = self.write_transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "UPDATE watches SET removed_at = ?2 WHERE url = ?1 AND removed_at IS NULL
                 RETURNING id",
                params![url, at],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(false);
        };
        ledger::append_watch(&tx, EntryKind::WatchRemoved, id, at)?;
        tx.commit()?;
        Ok(true)
    }

    /// Makes the active config-origin watches exactly `urls`: adds the new ones and removes
    /// those that left the config. Watches added from the CLI are left alone.
    pub fn sync_config_watches(&mut self, urls: &[String], at: &str) -> Result<()> {
        let tx = self.write_transaction()?;
        {
            let mut active = tx.prepare(
                "SELECT url FROM watches WHERE origin = 'config' AND removed_at IS NULL",
            )?;
            let current: Vec<String> = active
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for url in current.iter().filter(|u| !urls.contains(u)) {
                let id: i64 = tx.query_row(
                    "UPDATE watches SET removed_at = ?2 WHERE url = ?1 RETURNING id",
                    params![url, at],
                    |r| r.get(0),
                )?;
                ledger::append_watch(&tx, EntryKind::WatchRemoved, id, at)?;
            }
            for url in urls {
                let added: Option<i64> = tx
                    .query_row(
                        "INSERT INTO watches (url, origin, added_at) VALUES (?1, 'config', ?2)
                         ON CONFLICT (url) DO UPDATE SET removed_at = NULL
                         WHERE removed_at IS NOT NULL
                         RETURNING id",
                        params![url, at],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(id) = added {
                    ledger::append_watch(&tx, EntryKind::WatchAdded, id, at)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn watch_id(&self, url: &str) -> Result<Option<WatchId>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM watches WHERE url = ?1", [url], |r| {
                r.get(0).map(WatchId)
            })
            .optional()?)
    }

    pub fn watches(&self, include_removed: bool) -> Result<Vec<WatchSummary>> {
        let mut stmt = self.conn.prepare(
            "SELECT w.id, w.url, w.origin, w.status, w.added_at, w.removed_at, w.last_checked_at,
                    (SELECT count(*) FROM versions v WHERE v.watch_id = w.id),
                    (SELECT title FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1)
             FROM watches w
             WHERE ?1 OR w.removed_at IS NULL
             ORDER BY w.id",
        )?;
        let rows = stmt.query_map([include_removed], |r| {
            Ok(WatchSummary {
                id: WatchId(r.get(0)?),
                url: r.get(1)?,
                origin: r.get(2)?,
                status: parse_col(r, 3)?,
                added_at: r.get(4)?,
                removed_at: r.get(5)?,
                last_checked_at: r.get(6)?,
                versions: r.get(7)?,
                title: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The active watches a pass should check, optionally only those among `urls`.
    pub fn check_targets(&self, urls: Option<&[String]>) -> Result<Vec<CheckTarget>> {
        let mut targets = self.targets_where("1", params![])?;
        if let Some(urls) = urls {
            targets.retain(|t| urls.contains(&t.url));
        }
        Ok(targets)
    }

    /// Active watches due at `now` (never checked, or their time has come), most overdue first.
    pub fn due_targets(&self, now: &str, limit: usize) -> Result<Vec<CheckTarget>> {
        // Two index range reads (never checked, then due by time), each stopping at `limit`:
        // the cost follows what is due, not how many watches there are. NULLs sort first.
        self.targets_where(
            "w.id IN (
                SELECT id FROM (SELECT id FROM watches
                    WHERE removed_at IS NULL AND next_check_at IS NULL LIMIT ?2)
                UNION ALL
                SELECT id FROM (SELECT id FROM watches
                    WHERE removed_at IS NULL AND next_check_at <= ?1
                    ORDER BY next_check_at LIMIT ?2))
             ORDER BY w.next_check_at LIMIT ?2",
            params![now, limit as i64],
        )
    }

    /// The earliest time an active watch is due, if any is scheduled.
    pub fn next_due_at(&self) -> Result<Option<String>> {
        Ok(self.conn.query_row(
            "SELECT min(next_check_at) FROM watches WHERE removed_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    fn targets_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<CheckTarget>> {
        let sql = format!(
            "SELECT w.id, w.url, w.etag, w.last_modified,
                    (SELECT body_hash FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1),
                    w.origin, w.schedule, w.robots,
                    (SELECT coalesce(published, captured_at) FROM versions v
                      WHERE v.watch_id = w.id ORDER BY seq LIMIT 1)
             FROM watches w WHERE w.removed_at IS NULL AND {condition}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(args, |r| {
            let body_hash: Option<String> = r.get(4)?;
            Ok(CheckTarget {
                id: WatchId(r.get(0)?),
                url: r.get(1)?,
                validators: Validators {
                    etag: r.get(2)?,
                    last_modified: r.get(3)?,
                },
                latest_body_hash: body_hash.and_then(|h| h.parse().ok()),
                origin: r.get(5)?,
                schedule: r.get(6)?,
                robots: r.get(7)?,
                born: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a watch's own schedule and robots.txt choice (`None`: the defaults).
    pub fn set_watch_options(
        &mut self,
        url: &str,
        schedule: Option<&str>,
        robots: Option<bool>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE watches SET schedule = ?2, robots = ?3 WHERE url = ?1",
            params![url, schedule, robots],
        )?;
        Ok(())
    }

    /// Whether a URL is watched now.
    pub fn is_watched(&self, url: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM watches WHERE url = ?1 AND removed_at IS NULL)",
            [url],
            |r| r.get(0),
        )?)
    }
}
