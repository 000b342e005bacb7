//! Feeds, written once for both backends: adding, removing and syncing them, which are due,
//! recording each poll, and the article watches a feed discovers.
//!
//! Never parses or fetches a feed: `crate::net::feeds` does.

use serde::Serialize;

use super::sql::Param;
use super::watches::add_watch;
use super::{Result, Store};
use crate::net::fetch::Validators;

/// A feed as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub origin: String,
    pub added_at: String,
    pub removed_at: Option<String>,
    pub schedule: Option<String>,
    pub robots: Option<bool>,
    #[serde(skip)]
    pub validators: Validators,
    pub last_polled_at: Option<String>,
    pub next_poll_at: Option<String>,
    pub last_error: Option<String>,
    pub discovered: i64,
}

impl Store {
    /// Adds an article URL found in a feed. Returns whether it is new.
    pub fn add_feed_watch(&mut self, url: &str, feed_id: i64, at: &str) -> Result<bool> {
        self.write(|tx| {
            let (id, added) = add_watch(tx, url, "feed", at)?;
            if added {
                tx.execute(
                    "UPDATE watches SET feed_id = ?2 WHERE id = ?1 AND feed_id IS NULL",
                    &[&id.0, &feed_id],
                )?;
                tx.execute(
                    "UPDATE feeds SET discovered = discovered + 1 WHERE id = ?1",
                    &[&feed_id],
                )?;
            }
            Ok(added)
        })
    }

    /// Adds a feed, or re-activates a removed one. Returns whether anything changed.
    pub fn add_feed(&mut self, url: &str, origin: &str, at: &str) -> Result<bool> {
        let n = self.with(|tx| {
            tx.execute(
                "INSERT INTO feeds (url, origin, added_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (url) DO UPDATE SET removed_at = NULL, next_poll_at = NULL
                 WHERE feeds.removed_at IS NOT NULL",
                &[&url, &origin, &at],
            )
        })?;
        Ok(n > 0)
    }

    /// Stops polling a feed; the watches it found stay. Returns false when it was not polled.
    pub fn remove_feed(&mut self, url: &str, at: &str) -> Result<bool> {
        let n = self.with(|tx| {
            tx.execute(
                "UPDATE feeds SET removed_at = ?2 WHERE url = ?1 AND removed_at IS NULL",
                &[&url, &at],
            )
        })?;
        Ok(n > 0)
    }

    /// Makes the active config-origin feeds exactly `entries` (url, schedule, robots).
    pub fn sync_config_feeds(
        &mut self,
        entries: &[(String, Option<String>, Option<bool>)],
        at: &str,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE feeds SET removed_at = ?1 WHERE origin = 'config' AND removed_at IS NULL",
                &[&at],
            )?;
            for (url, schedule, robots) in entries {
                tx.execute(
                    "INSERT INTO feeds (url, origin, added_at, schedule, robots)
                     VALUES (?1, 'config', ?2, ?3, ?4)
                     ON CONFLICT (url) DO UPDATE SET removed_at = NULL, schedule = ?3, robots = ?4",
                    &[url, &at, schedule, robots],
                )?;
            }
            Ok(())
        })
    }

    pub fn feeds(&self, include_removed: bool) -> Result<Vec<FeedRow>> {
        self.feeds_where("(?1 OR removed_at IS NULL)", &[&include_removed])
    }

    /// Active feeds due for a poll at `now`.
    pub fn due_feeds(&self, now: &str) -> Result<Vec<FeedRow>> {
        self.feeds_where(
            "removed_at IS NULL AND (next_poll_at IS NULL OR next_poll_at <= ?1)",
            &[&now],
        )
    }

    /// The earliest time an active feed is due, if any.
    pub fn next_feed_due_at(&self) -> Result<Option<String>> {
        self.with(|tx| {
            tx.query_one(
                "SELECT min(next_poll_at) FROM feeds WHERE removed_at IS NULL",
                &[],
            )?
            .get(0)
        })
    }

    fn feeds_where(&self, condition: &str, args: &[&dyn Param]) -> Result<Vec<FeedRow>> {
        let sql = format!(
            "SELECT id, url, origin, added_at, removed_at, schedule, robots, etag, last_modified,
                    last_polled_at, next_poll_at, last_error, discovered
             FROM feeds WHERE {condition} ORDER BY id"
        );
        self.with(|tx| {
            tx.query(&sql, args)?
                .iter()
                .map(|r| {
                    Ok(FeedRow {
                        id: r.get(0)?,
                        url: r.get(1)?,
                        origin: r.get(2)?,
                        added_at: r.get(3)?,
                        removed_at: r.get(4)?,
                        schedule: r.get(5)?,
                        robots: r.get(6)?,
                        validators: Validators {
                            etag: r.get(7)?,
                            last_modified: r.get(8)?,
                        },
                        last_polled_at: r.get(9)?,
                        next_poll_at: r.get(10)?,
                        last_error: r.get(11)?,
                        discovered: r.get(12)?,
                    })
                })
                .collect()
        })
    }

    /// Records a feed poll: when, what the server said, and when to poll again.
    pub fn record_feed_poll(
        &mut self,
        feed_id: i64,
        at: &str,
        validators: Option<&Validators>,
        next_poll_at: &str,
        error: Option<&str>,
    ) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "UPDATE feeds SET last_polled_at = ?2, next_poll_at = ?3, last_error = ?4
                 WHERE id = ?1",
                &[&feed_id, &at, &next_poll_at, &error],
            )?;
            if let Some(v) = validators {
                tx.execute(
                    "UPDATE feeds SET etag = ?2, last_modified = ?3 WHERE id = ?1",
                    &[&feed_id, &v.etag, &v.last_modified],
                )?;
            }
            Ok(())
        })
    }
}
