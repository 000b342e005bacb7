//! The watch list, written once for both backends: adding, removing and syncing watches (each
//! change with its ledger entry), listing them, and the targets a pass checks or finds due (on
//! PostgreSQL, `pg` claims due watches for one worker).
//!
//! Never records check outcomes: `record` does.

use serde::Serialize;

use super::ledger::append_watch;
use super::sql::{Dialect, Param, Row, Tx};
use super::{Db, Result, Store};
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

/// Inserts a watch row (with `on_conflict`, which may use `?1` url, `?2` origin, `?3` at) and
/// returns its id when a row was written. On PostgreSQL the row also gets its host, which the
/// work queue claims by.
pub(super) fn insert_watch(
    tx: &mut dyn Tx,
    url: &str,
    origin: &str,
    at: &str,
    on_conflict: &str,
) -> Result<Option<i64>> {
    let host = (tx.dialect() == Dialect::Postgres).then(|| super::pg::host_of(url));
    let (column, value) = if host.is_some() {
        (", host", ", ?4")
    } else {
        ("", "")
    };
    let mut params: Vec<&dyn Param> = vec![&url, &origin, &at];
    params.extend(host.as_ref().map(|h| h as &dyn Param));
    let sql = format!(
        "INSERT INTO watches (url, origin, added_at{column}) VALUES (?1, ?2, ?3{value})
         {on_conflict} RETURNING id"
    );
    let row = tx.query_opt(&sql, &params)?;
    row.map(|r| r.get(0)).transpose()
}

/// Adds a watch, or re-activates one that was removed, with its ledger entry.
pub(super) fn add_watch(
    tx: &mut dyn Tx,
    url: &str,
    origin: &str,
    at: &str,
) -> Result<(WatchId, bool)> {
    let existing = tx.query_opt("SELECT id, removed_at FROM watches WHERE url = ?1", &[&url])?;
    let id: i64 = match existing {
        Some(r) if r.get::<Option<String>>(1)?.is_none() => return Ok((WatchId(r.get(0)?), false)),
        Some(r) => {
            let id = r.get(0)?;
            tx.execute(
                "UPDATE watches SET removed_at = NULL, origin = ?2 WHERE id = ?1",
                &[&id, &origin],
            )?;
            id
        }
        None => insert_watch(tx, url, origin, at, "")?.unwrap_or_default(),
    };
    append_watch(tx, EntryKind::WatchAdded, id, at)?;
    Ok((WatchId(id), true))
}

/// The columns of a [`CheckTarget`] (watches as `w`), for [`target`].
pub(super) const TARGET_COLUMNS: &str = "w.id, w.url, w.etag, w.last_modified,
    (SELECT body_hash FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1),
    w.origin, w.schedule, w.robots,
    (SELECT coalesce(published, captured_at) FROM versions v
      WHERE v.watch_id = w.id ORDER BY seq LIMIT 1)";

pub(super) fn target(r: &Row) -> Result<CheckTarget> {
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
}

/// The columns of a [`WatchSummary`] (watches as `w`), for [`summary`].
pub(super) const SUMMARY_COLUMNS: &str = "w.id, w.url, w.origin, w.status, w.added_at,
    w.removed_at, w.last_checked_at,
    (SELECT count(*) FROM versions v WHERE v.watch_id = w.id),
    (SELECT title FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1)";

pub(super) fn summary(r: &Row) -> Result<WatchSummary> {
    Ok(WatchSummary {
        id: WatchId(r.get(0)?),
        url: r.get(1)?,
        origin: r.get(2)?,
        status: r.parse(3)?,
        added_at: r.get(4)?,
        removed_at: r.get(5)?,
        last_checked_at: r.get(6)?,
        versions: r.get(7)?,
        title: r.get(8)?,
    })
}

impl Store {
    /// Adds a watch, or re-activates one that was removed. Returns the id and whether anything
    /// changed.
    pub fn add_watch(&mut self, url: &str, origin: &str, at: &str) -> Result<(WatchId, bool)> {
        self.write(|tx| add_watch(tx, url, origin, at))
    }

    /// Stops watching a URL; its history stays. Returns false when it was not watched.
    pub fn remove_watch(&mut self, url: &str, at: &str) -> Result<bool> {
        self.write(|tx| {
            let Some(r) = tx.query_opt(
                "UPDATE watches SET removed_at = ?2 WHERE url = ?1 AND removed_at IS NULL
                 RETURNING id",
                &[&url, &at],
            )?
            else {
                return Ok(false);
            };
            append_watch(tx, EntryKind::WatchRemoved, r.get(0)?, at)?;
            Ok(true)
        })
    }

    /// Makes the active config-origin watches exactly `urls`: adds the new ones and removes
    /// those that left the config. Watches added from the CLI are left alone.
    pub fn sync_config_watches(&mut self, urls: &[String], at: &str) -> Result<()> {
        self.write(|tx| {
            let current = tx.query(
                "SELECT url FROM watches WHERE origin = 'config' AND removed_at IS NULL",
                &[],
            )?;
            for r in current {
                let url: String = r.get(0)?;
                if urls.contains(&url) {
                    continue;
                }
                let id: i64 = tx
                    .query_one(
                        "UPDATE watches SET removed_at = ?2 WHERE url = ?1 RETURNING id",
                        &[&url, &at],
                    )?
                    .get(0)?;
                append_watch(tx, EntryKind::WatchRemoved, id, at)?;
            }
            for url in urls {
                let added = insert_watch(
                    tx,
                    url,
                    "config",
                    at,
                    "ON CONFLICT (url) DO UPDATE SET removed_at = NULL
                     WHERE watches.removed_at IS NOT NULL",
                )?;
                if let Some(id) = added {
                    append_watch(tx, EntryKind::WatchAdded, id, at)?;
                }
            }
            Ok(())
        })
    }

    pub fn watch_id(&self, url: &str) -> Result<Option<WatchId>> {
        self.with(|tx| {
            tx.query_opt("SELECT id FROM watches WHERE url = ?1", &[&url])?
                .map(|r| r.get(0).map(WatchId))
                .transpose()
        })
    }

    pub fn watches(&self, include_removed: bool) -> Result<Vec<WatchSummary>> {
        self.with(|tx| {
            tx.query(
                &format!(
                    "SELECT {SUMMARY_COLUMNS} FROM watches w
                     WHERE ?1 OR w.removed_at IS NULL ORDER BY w.id"
                ),
                &[&include_removed],
            )?
            .iter()
            .map(summary)
            .collect()
        })
    }

    /// Whether anything is there to check: an active watch or an active feed.
    pub fn has_watches_or_feeds(&self) -> Result<bool> {
        self.with(|tx| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM watches WHERE removed_at IS NULL)
                     OR EXISTS (SELECT 1 FROM feeds WHERE removed_at IS NULL)",
                &[],
            )?
            .get(0)
        })
    }

    /// The active watches a pass should check, optionally only those among `urls`.
    pub fn check_targets(&self, urls: Option<&[String]>) -> Result<Vec<CheckTarget>> {
        let mut targets: Vec<CheckTarget> = self.with(|tx| {
            tx.query(
                &format!(
                    "SELECT {TARGET_COLUMNS} FROM watches w WHERE w.removed_at IS NULL
                     ORDER BY w.id"
                ),
                &[],
            )?
            .iter()
            .map(target)
            .collect()
        })?;
        if let Some(urls) = urls {
            targets.retain(|t| urls.contains(&t.url));
        }
        Ok(targets)
    }

    /// Active watches due at `now` (never checked, or their time has come), most overdue first.
    /// On PostgreSQL they are claimed for this worker (see `pg`).
    pub fn due_targets(&self, now: &str, limit: usize) -> Result<Vec<CheckTarget>> {
        if let Db::Postgres(p) = &self.db {
            return p.claim_targets(now, limit);
        }
        // Two index range reads (never checked, then due by time), each stopping at `limit`:
        // the cost follows what is due, not how many watches there are. NULLs sort first.
        self.with(|tx| {
            tx.query(
                &format!(
                    "SELECT {TARGET_COLUMNS} FROM watches w
                     WHERE w.removed_at IS NULL AND w.id IN (
                        SELECT id FROM (SELECT id FROM watches
                            WHERE removed_at IS NULL AND next_check_at IS NULL LIMIT ?2)
                        UNION ALL
                        SELECT id FROM (SELECT id FROM watches
                            WHERE removed_at IS NULL AND next_check_at <= ?1
                            ORDER BY next_check_at LIMIT ?2))
                     ORDER BY w.next_check_at LIMIT ?2"
                ),
                &[&now, &limit],
            )?
            .iter()
            .map(target)
            .collect()
        })
    }

    /// The earliest time an active watch is due, if any is scheduled. On PostgreSQL, while
    /// watches are due but claimed by other workers (whose claims may end), a second from now,
    /// so that this worker looks again soon.
    pub fn next_due_at(&self) -> Result<Option<String>> {
        if let Db::Postgres(p) = &self.db {
            return p.next_due_at();
        }
        self.with(|tx| {
            tx.query_one(
                "SELECT min(next_check_at) FROM watches WHERE removed_at IS NULL",
                &[],
            )?
            .get(0)
        })
    }

    /// Sets a watch's own schedule and robots.txt choice (`None`: the defaults).
    pub fn set_watch_options(
        &mut self,
        url: &str,
        schedule: Option<&str>,
        robots: Option<bool>,
    ) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "UPDATE watches SET schedule = ?2, robots = ?3 WHERE url = ?1",
                &[&url, &schedule, &robots],
            )
        })?;
        Ok(())
    }

    /// Whether a URL is watched now.
    pub fn is_watched(&self, url: &str) -> Result<bool> {
        self.with(|tx| {
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM watches WHERE url = ?1 AND removed_at IS NULL)",
                &[&url],
            )?
            .get(0)
        })
    }

    /// The feed URL each feed-found watch came from.
    pub fn feed_urls_of_watches(&self) -> Result<std::collections::HashMap<WatchId, String>> {
        self.with(|tx| {
            tx.query(
                "SELECT w.id, f.url FROM watches w JOIN feeds f ON f.id = w.feed_id
                 WHERE w.removed_at IS NULL",
                &[],
            )?
            .iter()
            .map(|r| Ok((WatchId(r.get(0)?), r.get(1)?)))
            .collect()
        })
    }
}
