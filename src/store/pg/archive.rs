//! PostgreSQL: the watch list, feeds, and reading versions, events and checks; and the work
//! queue that hands due watches to one worker each.

use postgres::GenericClient;
use postgres::types::ToSql;

use super::{Pg, WRITE_LOCK, append_watch, host_of, parse, parse_opt, worker_id};
use crate::net::fetch::Validators;
use crate::pure::ledger::EntryKind;
use crate::pure::model::{VersionSeq, WatchId};
use crate::store::{
    CheckRow, CheckTarget, EventRow, FeedRow, Result, StoreError, Version, VersionMeta, WatchPage,
    WatchSummary, decompress_text,
};

const TARGET_COLUMNS: &str = "w.id, w.url, w.etag, w.last_modified,
    (SELECT body_hash FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1),
    w.origin, w.schedule, w.robots,
    (SELECT coalesce(published, captured_at) FROM versions v
      WHERE v.watch_id = w.id ORDER BY seq LIMIT 1)";

fn target(r: &postgres::Row) -> Result<CheckTarget> {
    let body_hash: Option<String> = r.try_get(4)?;
    Ok(CheckTarget {
        id: WatchId(r.try_get(0)?),
        url: r.try_get(1)?,
        validators: Validators {
            etag: r.try_get(2)?,
            last_modified: r.try_get(3)?,
        },
        latest_body_hash: body_hash.and_then(|h| h.parse().ok()),
        origin: r.try_get(5)?,
        schedule: r.try_get(6)?,
        robots: r.try_get(7)?,
        born: r.try_get(8)?,
    })
}

fn summary(r: &postgres::Row) -> Result<WatchSummary> {
    Ok(WatchSummary {
        id: WatchId(r.try_get(0)?),
        url: r.try_get(1)?,
        origin: r.try_get(2)?,
        status: parse(r.try_get(3)?)?,
        added_at: r.try_get(4)?,
        removed_at: r.try_get(5)?,
        last_checked_at: r.try_get(6)?,
        versions: r.try_get(7)?,
        title: r.try_get(8)?,
    })
}

fn add_watch_tx(
    tx: &mut impl GenericClient,
    url: &str,
    origin: &str,
    at: &str,
) -> Result<(WatchId, bool)> {
    let existing = tx.query_opt("SELECT id, removed_at FROM watches WHERE url = $1", &[&url])?;
    let id: i64 = match existing {
        Some(r) if r.try_get::<_, Option<String>>(1)?.is_none() => {
            return Ok((WatchId(r.try_get(0)?), false));
        }
        Some(r) => {
            let id: i64 = r.try_get(0)?;
            tx.execute(
                "UPDATE watches SET removed_at = NULL, origin = $2 WHERE id = $1",
                &[&id, &origin],
            )?;
            id
        }
        None => tx
            .query_one(
                "INSERT INTO watches (url, origin, added_at, host) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&url, &origin, &at, &host_of(url)],
            )?
            .try_get(0)?,
    };
    append_watch(tx, EntryKind::WatchAdded, id, at)?;
    Ok((WatchId(id), true))
}

impl Pg {
    pub(in crate::store) fn feed_urls_of_watches(
        &self,
    ) -> Result<std::collections::HashMap<WatchId, String>> {
        self.with(|c| {
            c.query(
                "SELECT w.id, f.url FROM watches w JOIN feeds f ON f.id = w.feed_id
                 WHERE w.removed_at IS NULL",
                &[],
            )?
            .iter()
            .map(|r| Ok((WatchId(r.try_get(0)?), r.try_get(1)?)))
            .collect()
        })
    }

    pub(in crate::store) fn add_watch(
        &self,
        url: &str,
        origin: &str,
        at: &str,
    ) -> Result<(WatchId, bool)> {
        self.write(|tx| add_watch_tx(tx, url, origin, at))
    }

    pub(in crate::store) fn remove_watch(&self, url: &str, at: &str) -> Result<bool> {
        self.write(|tx| {
            let row = tx.query_opt(
                "UPDATE watches SET removed_at = $2 WHERE url = $1 AND removed_at IS NULL
                 RETURNING id",
                &[&url, &at],
            )?;
            let Some(row) = row else {
                return Ok(false);
            };
            append_watch(tx, EntryKind::WatchRemoved, row.try_get(0)?, at)?;
            Ok(true)
        })
    }

    pub(in crate::store) fn sync_config_watches(&self, urls: &[String], at: &str) -> Result<()> {
        self.write(|tx| {
            let current: Vec<String> = tx
                .query(
                    "SELECT url FROM watches WHERE origin = 'config' AND removed_at IS NULL",
                    &[],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            for url in current.iter().filter(|u| !urls.contains(u)) {
                let id: i64 = tx
                    .query_one(
                        "UPDATE watches SET removed_at = $2 WHERE url = $1 RETURNING id",
                        &[url, &at],
                    )?
                    .try_get(0)?;
                append_watch(tx, EntryKind::WatchRemoved, id, at)?;
            }
            for url in urls {
                let added = tx.query_opt(
                    "INSERT INTO watches (url, origin, added_at, host) VALUES ($1, 'config', $2, $3)
                     ON CONFLICT (url) DO UPDATE SET removed_at = NULL
                     WHERE watches.removed_at IS NOT NULL
                     RETURNING id",
                    &[url, &at, &host_of(url)],
                )?;
                if let Some(r) = added {
                    append_watch(tx, EntryKind::WatchAdded, r.try_get(0)?, at)?;
                }
            }
            Ok(())
        })
    }

    pub(in crate::store) fn watch_id(&self, url: &str) -> Result<Option<WatchId>> {
        self.with(|c| {
            c.query_opt("SELECT id FROM watches WHERE url = $1", &[&url])?
                .map(|r| Ok(WatchId(r.try_get(0)?)))
                .transpose()
        })
    }

    pub(in crate::store) fn watch_page(&self, page: WatchPage) -> Result<Vec<WatchSummary>> {
        let after = page.after.map_or(0, |id| id.0);
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        self.with(|c| {
            c.query(
                "SELECT w.id, w.url, w.origin, w.status, w.added_at, w.removed_at,
                        w.last_checked_at,
                        (SELECT count(*) FROM versions v WHERE v.watch_id = w.id),
                        (SELECT title FROM versions v WHERE v.watch_id = w.id
                          ORDER BY seq DESC LIMIT 1)
                 FROM watches w
                 WHERE w.id > $1 AND ($2 OR w.removed_at IS NULL)
                 ORDER BY w.id LIMIT $3",
                &[&after, &page.include_removed, &limit],
            )?
            .iter()
            .map(summary)
            .collect()
        })
    }

    pub(in crate::store) fn has_watches_or_feeds(&self) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT EXISTS (SELECT 1 FROM watches WHERE removed_at IS NULL)
                     OR EXISTS (SELECT 1 FROM feeds WHERE removed_at IS NULL)",
                &[],
            )?
            .try_get(0)?)
        })
    }

    pub(in crate::store) fn watches(&self, include_removed: bool) -> Result<Vec<WatchSummary>> {
        self.with(|c| {
            c.query(
                "SELECT w.id, w.url, w.origin, w.status, w.added_at, w.removed_at,
                        w.last_checked_at,
                        (SELECT count(*) FROM versions v WHERE v.watch_id = w.id),
                        (SELECT title FROM versions v WHERE v.watch_id = w.id
                          ORDER BY seq DESC LIMIT 1)
                 FROM watches w
                 WHERE $1 OR w.removed_at IS NULL
                 ORDER BY w.id",
                &[&include_removed],
            )?
            .iter()
            .map(summary)
            .collect()
        })
    }

    pub(in crate::store) fn check_targets(
        &self,
        urls: Option<&[String]>,
    ) -> Result<Vec<CheckTarget>> {
        let mut targets: Vec<CheckTarget> = self.with(|c| {
            c.query(
                &format!(
                    "SELECT {TARGET_COLUMNS} FROM watches w WHERE w.removed_at IS NULL ORDER BY w.id"
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

    /// Claims up to `limit` watches due at `now` for this worker: first the hosts (a host's
    /// watches are checked by one worker at a time, so its politeness holds across workers),
    /// then their due watches, each leased so that no other worker takes it until the lease
    /// ends. What this worker claimed before and has not recorded stays its own; its host
    /// claims from the previous pass are released first, so other workers get their turn.
    pub(in crate::store) fn due_targets(
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
            let targets = rows.iter().map(target).collect::<Result<Vec<_>>>()?;
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

    pub(in crate::store) fn set_watch_options(
        &self,
        url: &str,
        schedule: Option<&str>,
        robots: Option<bool>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE watches SET schedule = $2, robots = $3 WHERE url = $1",
                &[&url, &schedule, &robots],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn is_watched(&self, url: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT EXISTS (SELECT 1 FROM watches WHERE url = $1 AND removed_at IS NULL)",
                &[&url],
            )?
            .try_get(0)?)
        })
    }

    pub(in crate::store) fn add_feed_watch(
        &self,
        url: &str,
        feed_id: i64,
        at: &str,
    ) -> Result<bool> {
        self.write(|tx| {
            let (id, added) = add_watch_tx(tx, url, "feed", at)?;
            if added {
                tx.execute(
                    "UPDATE watches SET feed_id = $2 WHERE id = $1 AND feed_id IS NULL",
                    &[&id.0, &feed_id],
                )?;
                tx.execute(
                    "UPDATE feeds SET discovered = discovered + 1 WHERE id = $1",
                    &[&feed_id],
                )?;
            }
            Ok(added)
        })
    }

    pub(in crate::store) fn add_feed(&self, url: &str, origin: &str, at: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT INTO feeds (url, origin, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT (url) DO UPDATE SET removed_at = NULL, next_poll_at = NULL
                 WHERE feeds.removed_at IS NOT NULL",
                &[&url, &origin, &at],
            )?;
            Ok(n > 0)
        })
    }

    pub(in crate::store) fn remove_feed(&self, url: &str, at: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE feeds SET removed_at = $2 WHERE url = $1 AND removed_at IS NULL",
                &[&url, &at],
            )?;
            Ok(n > 0)
        })
    }

    pub(in crate::store) fn sync_config_feeds(
        &self,
        entries: &[(String, Option<String>, Option<bool>)],
        at: &str,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE feeds SET removed_at = $1 WHERE origin = 'config' AND removed_at IS NULL",
                &[&at],
            )?;
            for (url, schedule, robots) in entries {
                tx.execute(
                    "INSERT INTO feeds (url, origin, added_at, schedule, robots)
                     VALUES ($1, 'config', $2, $3, $4)
                     ON CONFLICT (url) DO UPDATE SET removed_at = NULL, schedule = $3, robots = $4",
                    &[url, &at, schedule, robots],
                )?;
            }
            Ok(())
        })
    }

    fn feeds_where(&self, condition: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<FeedRow>> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT id, url, origin, added_at, removed_at, schedule, robots, etag,
                            last_modified, last_polled_at, next_poll_at, last_error, discovered
                     FROM feeds WHERE {condition} ORDER BY id"
                ),
                args,
            )?
            .iter()
            .map(|r| {
                Ok(FeedRow {
                    id: r.try_get(0)?,
                    url: r.try_get(1)?,
                    origin: r.try_get(2)?,
                    added_at: r.try_get(3)?,
                    removed_at: r.try_get(4)?,
                    schedule: r.try_get(5)?,
                    robots: r.try_get(6)?,
                    validators: Validators {
                        etag: r.try_get(7)?,
                        last_modified: r.try_get(8)?,
                    },
                    last_polled_at: r.try_get(9)?,
                    next_poll_at: r.try_get(10)?,
                    last_error: r.try_get(11)?,
                    discovered: r.try_get(12)?,
                })
            })
            .collect()
        })
    }

    pub(in crate::store) fn feeds(&self, include_removed: bool) -> Result<Vec<FeedRow>> {
        self.feeds_where("($1 OR removed_at IS NULL)", &[&include_removed])
    }

    pub(in crate::store) fn due_feeds(&self, now: &str) -> Result<Vec<FeedRow>> {
        self.feeds_where(
            "removed_at IS NULL AND (next_poll_at IS NULL OR next_poll_at <= $1)",
            &[&now],
        )
    }

    pub(in crate::store) fn next_feed_due_at(&self) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT min(next_poll_at) FROM feeds WHERE removed_at IS NULL",
                &[],
            )?
            .try_get(0)?)
        })
    }

    pub(in crate::store) fn record_feed_poll(
        &self,
        feed_id: i64,
        at: &str,
        validators: Option<&Validators>,
        next_poll_at: &str,
        error: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE feeds SET last_polled_at = $2, next_poll_at = $3, last_error = $4
                 WHERE id = $1",
                &[&feed_id, &at, &next_poll_at, &error],
            )?;
            if let Some(v) = validators {
                c.execute(
                    "UPDATE feeds SET etag = $2, last_modified = $3 WHERE id = $1",
                    &[&feed_id, &v.etag, &v.last_modified],
                )?;
            }
            Ok(())
        })
    }

    pub(in crate::store) fn versions(&self, watch: WatchId) -> Result<Vec<VersionMeta>> {
        self.with(|c| {
            c.query(
                &format!("{VERSION_META_COLUMNS} FROM versions WHERE watch_id = $1 ORDER BY seq"),
                &[&watch.0],
            )?
            .iter()
            .map(version_meta)
            .collect()
        })
    }

    pub(in crate::store) fn version(
        &self,
        watch: WatchId,
        seq: Option<VersionSeq>,
    ) -> Result<Option<Version>> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "{VERSION_META_COLUMNS}, text_zstd FROM versions
                     WHERE watch_id = $1 AND ($2::BIGINT IS NULL OR seq = $2)
                     ORDER BY seq DESC LIMIT 1"
                ),
                &[&watch.0, &seq.map(|s| s.0)],
            )?)
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let meta = version_meta(&row)?;
        let compressed: Vec<u8> = row.try_get(9)?;
        let text = decompress_text(&compressed)
            .map_err(|why| StoreError::Corrupt(format!("version {} text: {why}", meta.seq)))?;
        Ok(Some(Version { meta, text }))
    }

    pub(in crate::store) fn events(&self, watch: WatchId) -> Result<Vec<EventRow>> {
        self.with(|c| {
            c.query(
                "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
                 FROM events WHERE watch_id = $1 ORDER BY id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(EventRow {
                    kind: parse(r.try_get(0)?)?,
                    at: r.try_get(1)?,
                    version: r.try_get::<_, Option<i64>>(2)?.map(VersionSeq),
                    from_version: r.try_get::<_, Option<i64>>(3)?.map(VersionSeq),
                    significance: parse_opt(r.try_get(4)?)?,
                    reverted_to: r.try_get::<_, Option<i64>>(5)?.map(VersionSeq),
                    detail: r.try_get(6)?,
                })
            })
            .collect()
        })
    }

    pub(in crate::store) fn checks(&self, watch: WatchId) -> Result<Vec<CheckRow>> {
        self.with(|c| {
            c.query(
                "SELECT kind, first_at, last_at, count, http_status, version_seq, detail
                 FROM checks WHERE watch_id = $1 ORDER BY id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(CheckRow {
                    kind: parse(r.try_get(0)?)?,
                    first_at: r.try_get(1)?,
                    last_at: r.try_get(2)?,
                    count: r.try_get(3)?,
                    http_status: r.try_get::<_, Option<i32>>(4)?.map(|s| s as u16),
                    version: r.try_get::<_, Option<i64>>(5)?.map(VersionSeq),
                    detail: r.try_get(6)?,
                })
            })
            .collect()
        })
    }
}

const VERSION_META_COLUMNS: &str = "SELECT seq, captured_at, content_hash, body_hash, http_status, \
    final_url, title, byline, published";

fn version_meta(r: &postgres::Row) -> Result<VersionMeta> {
    Ok(VersionMeta {
        seq: VersionSeq(r.try_get(0)?),
        captured_at: r.try_get(1)?,
        content_hash: parse(r.try_get(2)?)?,
        body_hash: parse(r.try_get(3)?)?,
        http_status: r.try_get::<_, i32>(4)? as u16,
        final_url: r.try_get(5)?,
        title: r.try_get(6)?,
        byline: r.try_get(7)?,
        published: r.try_get(8)?,
    })
}
