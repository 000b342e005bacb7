//! The archive in SQLite: the only module that runs SQL.
//!
//! Owns opening the database (WAL, busy timeout, migrations from `migrations/*.sql`), the watch
//! list, and the atomic application of check outcomes: a check row, a version, its blob and its
//! event are written in one transaction, so a crash leaves either all of them or none.
//! Blocking: callers keep it off async threads (one writer thread; readers open their own).
//! Every version, event and watch change also gets its ledger entry in the same transaction
//! (the `ledger` submodule).

mod ledger;

pub use ledger::{BlobRow, EventCheckRow, ImportError, LedgerRow, VersionRow};

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;

use crate::classify::{Decision, Latest, WatchState};
use crate::fetch::Validators;
use crate::ledger::{EntryBody, EntryKind};
use crate::model::{
    BodyHash, CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchId, WatchStatus,
};
use crate::notify::AlertRoute;

/// The schema, one plain SQL file per step, applied in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_archive.sql"),
    include_str!("../migrations/0002_schedule_feeds.sql"),
    include_str!("../migrations/0003_ledger.sql"),
    include_str!("../migrations/0004_outbox.sql"),
    include_str!("../migrations/0006_extractor.sql"),
];

/// The index in [`MIGRATIONS`] of `0003_ledger.sql`, which also writes the entries of the rows an
/// archive already holds.
const LEDGER_MIGRATION: usize = 2;

/// zstd level for raw bodies and texts: level 3 compresses news pages about 5.5 to 1 at
/// hundreds of MB/s.
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot migrate database {path}: {source}")]
    Migrate {
        path: String,
        source: rusqlite_migration::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("corrupt archive: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

mod extractor;
mod outbox;
pub use extractor::LatestBody;
pub use outbox::{AlertCount, DueAlert, OutboxRow};

pub struct Store {
    conn: Connection,
    /// The alert sinks whose outbox rows [`Batch::record`] writes with each event.
    alert_routes: Vec<AlertRoute>,
}

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

/// A stored version without its text.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMeta {
    pub seq: VersionSeq,
    pub captured_at: String,
    pub content_hash: ContentHash,
    pub body_hash: BodyHash,
    pub http_status: u16,
    pub final_url: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<String>,
}

/// A stored version with its canonical text.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    #[serde(flatten)]
    pub meta: VersionMeta,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub kind: CheckKind,
    pub at: String,
    pub version: Option<VersionSeq>,
    pub from_version: Option<VersionSeq>,
    pub significance: Option<Significance>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub kind: CheckKind,
    pub first_at: String,
    pub last_at: String,
    pub count: i64,
    pub http_status: Option<u16>,
    pub version: Option<VersionSeq>,
    pub detail: Option<String>,
}

/// A newly observed article, ready to be stored if the rules say so.
#[derive(Debug, Clone)]
pub struct Capture {
    pub raw: Vec<u8>,
    pub body_hash: BodyHash,
    pub final_url: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub canonical_url: Option<String>,
    pub canonical_text: String,
    pub content_hash: ContentHash,
    pub loose_hash: Sha256Hash,
    /// The body cut and compressed ahead of the writer, when it was.
    pub packed: Option<PackedBody>,
    /// The canonical text compressed ahead of the writer, when it was.
    pub text_zstd: Option<Vec<u8>>,
}

/// Everything one check produced, for [`Batch::record`].
#[derive(Debug, Clone)]
pub struct CheckRecord<'a> {
    pub watch_id: WatchId,
    pub at: &'a str,
    pub http_status: Option<u16>,
    pub decision: &'a Decision,
    pub capture: Option<&'a Capture>,
    /// Validators of the response, kept for the next conditional request when it was usable.
    pub validators: Option<&'a Validators>,
    /// When the watch is next due (RFC 3339).
    pub next_check_at: Option<&'a str>,
    /// Stop watching: `watch_for` has passed.
    pub retire: bool,
}

/// What was recorded: the current version afterwards, for reports.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub version: Option<VersionSeq>,
    pub content_hash: Option<ContentHash>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: display.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        let migrations = Migrations::new(
            MIGRATIONS
                .iter()
                .enumerate()
                .map(|(i, sql)| match i {
                    LEDGER_MIGRATION => M::up_with_hook(sql, ledger::backfill),
                    _ => M::up(sql),
                })
                .collect(),
        );
        // Two processes opening a new archive at once (the daemon and a CLI command) both see
        // it unmigrated; the one that loses the race fails inside its transaction, which rolls
        // back. It then finds the schema up to date, or tries again.
        let mut attempt = 0;
        while let Err(source) = migrations.to_latest(&mut conn) {
            let current: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap_or(0);
            if current == MIGRATIONS.len() as i64 {
                break;
            }
            attempt += 1;
            if attempt >= 5 {
                return Err(StoreError::Migrate {
                    path: display.clone(),
                    source,
                });
            }
            std::thread::sleep(Duration::from_millis(100 * attempt));
        }
        Ok(Self {
            conn,
            alert_routes: Vec::new(),
        })
    }

    /// Sets the alert sinks: every event recorded from now on queues one outbox row per sink
    /// that wants it, in the event's own transaction.
    pub fn set_alert_routes(&mut self, routes: Vec<AlertRoute>) {
        self.alert_routes = routes;
    }

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
        self.targets_where(
            "(w.next_check_at IS NULL OR w.next_check_at <= ?1)
             ORDER BY w.next_check_at IS NOT NULL, w.next_check_at LIMIT ?2",
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

    /// Adds an article URL found in a feed. Returns whether it is new.
    pub fn add_feed_watch(&mut self, url: &str, feed_id: i64, at: &str) -> Result<bool> {
        let (id, added) = self.add_watch(url, "feed", at)?;
        if added {
            self.conn.execute(
                "UPDATE watches SET feed_id = ?2 WHERE id = ?1 AND feed_id IS NULL",
                params![id.0, feed_id],
            )?;
            self.conn.execute(
                "UPDATE feeds SET discovered = discovered + 1 WHERE id = ?1",
                [feed_id],
            )?;
        }
        Ok(added)
    }

    /// Whether a URL is watched now.
    pub fn is_watched(&self, url: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM watches WHERE url = ?1 AND removed_at IS NULL)",
            [url],
            |r| r.get(0),
        )?)
    }

    /// Adds a feed, or re-activates a removed one. Returns whether anything changed.
    pub fn add_feed(&mut self, url: &str, origin: &str, at: &str) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO feeds (url, origin, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (url) DO UPDATE SET removed_at = NULL, next_poll_at = NULL
             WHERE removed_at IS NOT NULL",
            params![url, origin, at],
        )?;
        Ok(n > 0)
    }

    /// Stops polling a feed; the watches it found stay. Returns false when it was not polled.
    pub fn remove_feed(&mut self, url: &str, at: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE feeds SET removed_at = ?2 WHERE url = ?1 AND removed_at IS NULL",
            params![url, at],
        )?;
        Ok(n > 0)
    }

    /// Makes the active config-origin feeds exactly `entries` (url, schedule, robots).
    pub fn sync_config_feeds(
        &mut self,
        entries: &[(String, Option<String>, Option<bool>)],
        at: &str,
    ) -> Result<()> {
        let tx = self.write_transaction()?;
        tx.execute(
            "UPDATE feeds SET removed_at = ?1 WHERE origin = 'config' AND removed_at IS NULL",
            [at],
        )?;
        for (url, schedule, robots) in entries {
            tx.execute(
                "INSERT INTO feeds (url, origin, added_at, schedule, robots) VALUES (?1, 'config', ?2, ?3, ?4)
                 ON CONFLICT (url) DO UPDATE SET removed_at = NULL, schedule = ?3, robots = ?4",
                params![url, at, schedule, robots],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn feeds(&self, include_removed: bool) -> Result<Vec<FeedRow>> {
        self.feeds_where("(?1 OR removed_at IS NULL)", params![include_removed])
    }

    /// Active feeds due for a poll at `now`.
    pub fn due_feeds(&self, now: &str) -> Result<Vec<FeedRow>> {
        self.feeds_where(
            "removed_at IS NULL AND (next_poll_at IS NULL OR next_poll_at <= ?1)",
            params![now],
        )
    }

    /// The earliest time an active feed is due, if any.
    pub fn next_feed_due_at(&self) -> Result<Option<String>> {
        Ok(self.conn.query_row(
            "SELECT min(next_poll_at) FROM feeds WHERE removed_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    fn feeds_where(&self, condition: &str, args: impl rusqlite::Params) -> Result<Vec<FeedRow>> {
        let sql = format!(
            "SELECT id, url, origin, added_at, removed_at, schedule, robots, etag, last_modified,
                    last_polled_at, next_poll_at, last_error, discovered
             FROM feeds WHERE {condition} ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(args, |r| {
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
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        self.conn.execute(
            "UPDATE feeds SET last_polled_at = ?2, next_poll_at = ?3, last_error = ?4 WHERE id = ?1",
            params![feed_id, at, next_poll_at, error],
        )?;
        if let Some(v) = validators {
            self.conn.execute(
                "UPDATE feeds SET etag = ?2, last_modified = ?3 WHERE id = ?1",
                params![feed_id, v.etag, v.last_modified],
            )?;
        }
        Ok(())
    }

    /// Starts a transaction in which check outcomes are classified and recorded together.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        Ok(Batch {
            // As `write_transaction`, borrowing only the connection.
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
            alert_routes: &self.alert_routes,
        })
    }

    /// A transaction that takes the write lock at once (waiting up to the busy timeout). A
    /// deferred one that reads first could not upgrade to writing after another process
    /// committed (SQLITE_BUSY without waiting), and what it reads, such as the ledger head, could
    /// be overtaken by another writer before it writes.
    fn write_transaction(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    pub fn versions(&self, watch: WatchId) -> Result<Vec<VersionMeta>> {
        let mut stmt = self.conn.prepare(&format!(
            "{VERSION_META_COLUMNS} FROM versions WHERE watch_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([watch.0], version_meta)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One version with its text; the latest when `seq` is `None`.
    pub fn version(&self, watch: WatchId, seq: Option<VersionSeq>) -> Result<Option<Version>> {
        let sql = format!(
            "{VERSION_META_COLUMNS}, text_zstd FROM versions
             WHERE watch_id = ?1 AND (?2 IS NULL OR seq = ?2) ORDER BY seq DESC LIMIT 1"
        );
        let row = self
            .conn
            .query_row(&sql, params![watch.0, seq.map(|s| s.0)], |r| {
                Ok((version_meta(r)?, r.get::<_, Vec<u8>>(9)?))
            })
            .optional()?;
        let Some((meta, compressed)) = row else {
            return Ok(None);
        };
        let text = decompress_text(&compressed)
            .map_err(|why| StoreError::Corrupt(format!("version {} text: {why}", meta.seq)))?;
        Ok(Some(Version { meta, text }))
    }

    pub fn events(&self, watch: WatchId) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
             FROM events WHERE watch_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([watch.0], |r| {
            Ok(EventRow {
                kind: parse_col(r, 0)?,
                at: r.get(1)?,
                version: r.get::<_, Option<i64>>(2)?.map(VersionSeq),
                from_version: r.get::<_, Option<i64>>(3)?.map(VersionSeq),
                significance: parse_opt_col(r, 4)?,
                reverted_to: r.get::<_, Option<i64>>(5)?.map(VersionSeq),
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn checks(&self, watch: WatchId) -> Result<Vec<CheckRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, first_at, last_at, CAST(count AS INTEGER), http_status, version_seq, detail
             FROM checks WHERE watch_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([watch.0], |r| {
            Ok(CheckRow {
                kind: parse_col(r, 0)?,
                first_at: r.get(1)?,
                last_at: r.get(2)?,
                count: r.get(3)?,
                http_status: r.get(4)?,
                version: r.get::<_, Option<i64>>(5)?.map(VersionSeq),
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The raw body stored under `hash`, decompressed.
    pub fn blob(&self, hash: &BodyHash) -> Result<Option<Vec<u8>>> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT compression, data FROM blobs WHERE hash = ?1",
                [hash.to_hex()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(compression, data)| decompress(&self.conn, &compression, &data))
            .transpose()
    }
}

/// One open transaction of check outcomes. Dropped without [`Batch::commit`], it rolls back.
pub struct Batch<'a> {
    tx: Transaction<'a>,
    alert_routes: &'a [AlertRoute],
}

impl Batch<'_> {
    /// What is known about a watch now, inside this transaction.
    pub fn state(&self, watch: WatchId) -> Result<WatchState> {
        let (status, gone_streak, error_streak): (String, u32, u32) = self.tx.query_row(
            "SELECT status, gone_streak, error_streak FROM watches WHERE id = ?1",
            [watch.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let latest = self
            .tx
            .query_row(
                "SELECT seq, content_hash, loose_hash FROM versions
                 WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                [watch.0],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(seq, content, loose)| -> Result<Latest> {
                Ok(Latest {
                    seq: VersionSeq(seq),
                    content_hash: content.parse().map_err(StoreError::Corrupt)?,
                    loose_hash: loose.parse().map_err(StoreError::Corrupt)?,
                })
            })
            .transpose()?;
        Ok(WatchState {
            status: status.parse().map_err(StoreError::Corrupt)?,
            gone_streak,
            error_streak,
            latest,
        })
    }

    /// The first version before the latest whose text had this hash: a return to it.
    pub fn earlier_match(&self, watch: WatchId, hash: &ContentHash) -> Result<Option<VersionSeq>> {
        Ok(self
            .tx
            .query_row(
                "SELECT seq FROM versions WHERE watch_id = ?1 AND content_hash = ?2
                   AND seq < (SELECT max(seq) FROM versions WHERE watch_id = ?1)
                 ORDER BY seq LIMIT 1",
                params![watch.0, hash.to_hex()],
                |r| r.get(0).map(VersionSeq),
            )
            .optional()?)
    }

    /// Writes one check's outcome: the watch's new state, the check row, and, as the decision
    /// says, a version with its blob and an event. An `unchanged` check is folded into the
    /// previous row when that row saw the same version live: a row is a run whose first check
    /// had `kind` and whose `count - 1` later checks found the text unchanged, so a quiet article
    /// adds nothing to the database however often it is checked.
    pub fn record(&mut self, rec: &CheckRecord<'_>) -> Result<Recorded> {
        let tx = &self.tx;
        let d = rec.decision;
        let watch = rec.watch_id.0;
        let previous: Option<(i64, ContentHash)> = tx
            .query_row(
                "SELECT seq, content_hash FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                [watch],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(s, h)| h.parse().map(|h| (s, h)).map_err(StoreError::Corrupt))
            .transpose()?;
        let mut current = previous;
        if d.new_version {
            let capture = rec.capture.ok_or_else(|| {
                StoreError::Corrupt("a new version was decided without a capture".into())
            })?;
            let seq = previous.map_or(1, |(s, _)| s + 1);
            match &capture.packed {
                Some(packed) => insert_packed(tx, &capture.body_hash, &capture.raw, packed)?,
                None => insert_blob(tx, &capture.body_hash, &capture.raw)?,
            }
            let text = match &capture.text_zstd {
                Some(t) => t.clone(),
                None => compress_text(&capture.canonical_text)?,
            };
            tx.execute(
                "INSERT INTO versions (watch_id, seq, captured_at, content_hash, loose_hash,
                    body_hash, http_status, final_url, title, byline, published, modified,
                    canonical_url, text_zstd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    watch,
                    seq,
                    rec.at,
                    capture.content_hash.to_hex(),
                    capture.loose_hash.to_hex(),
                    capture.body_hash.to_hex(),
                    rec.http_status.unwrap_or(200),
                    capture.final_url,
                    capture.title,
                    capture.byline,
                    capture.published,
                    capture.modified,
                    capture.canonical_url,
                    text,
                ],
            )?;
            ledger::append(
                tx,
                EntryBody {
                    kind: EntryKind::Version,
                    url: watch_url(tx, watch)?,
                    version: Some(VersionSeq(seq)),
                    at: rec.at.to_string(),
                    content_hash: Some(capture.content_hash),
                    body_hash: Some(capture.body_hash),
                },
                tx.last_insert_rowid(),
            )?;
            current = Some((seq, capture.content_hash));
        }
        let version_seq = current.map(|(s, _)| s);
        if d.kind.is_event() {
            tx.execute(
                "INSERT INTO events (watch_id, kind, at, version_seq, from_seq, significance,
                    reverted_to, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    watch,
                    d.kind.as_str(),
                    rec.at,
                    version_seq,
                    if d.new_version {
                        previous.map(|(s, _)| s)
                    } else {
                        None
                    },
                    d.significance.map(Significance::as_str),
                    d.reverted_to.map(|s| s.0),
                    d.detail,
                ],
            )?;
            let event_id = tx.last_insert_rowid();
            if let Some(kind) = EntryKind::of_event(d.kind) {
                ledger::append(
                    tx,
                    EntryBody {
                        kind,
                        url: watch_url(tx, watch)?,
                        version: version_seq.map(VersionSeq),
                        at: rec.at.to_string(),
                        content_hash: None,
                        body_hash: None,
                    },
                    event_id,
                )?;
            }
            outbox::enqueue(tx, self.alert_routes, event_id, rec.at)?;
        }
        let folded = d.kind == CheckKind::Unchanged
            && tx.execute(
                "UPDATE checks SET last_at = ?2, count = count + 1.0, http_status = ?3
                 WHERE id = (SELECT max(id) FROM checks WHERE watch_id = ?1)
                   AND kind IN ('captured', 'edited', 'restored', 'unchanged')
                   AND version_seq IS ?4",
                params![watch, rec.at, rec.http_status, version_seq],
            )? > 0;
        if !folded {
            tx.execute(
                "INSERT INTO checks (watch_id, kind, first_at, last_at, count, http_status, version_seq, detail)
                 VALUES (?1, ?2, ?3, ?3, 1.0, ?4, ?5, ?6)",
                params![watch, d.kind.as_str(), rec.at, rec.http_status, version_seq, d.detail],
            )?;
        }
        tx.execute(
            "UPDATE watches SET status = ?2, gone_streak = ?3, error_streak = ?4,
                last_checked_at = ?5 WHERE id = ?1",
            params![
                watch,
                d.next.status.as_str(),
                d.next.gone_streak,
                d.next.error_streak,
                rec.at
            ],
        )?;
        tx.execute(
            "UPDATE watches SET next_check_at = ?2,
                removed_at = CASE WHEN ?3 THEN ?4 ELSE removed_at END
             WHERE id = ?1",
            params![watch, rec.next_check_at, rec.retire, rec.at],
        )?;
        if rec.retire {
            ledger::append_watch(tx, EntryKind::WatchRemoved, watch, rec.at)?;
        }
        if let Some(v) = rec.validators {
            tx.execute(
                "UPDATE watches SET etag = ?2, last_modified = ?3 WHERE id = ?1",
                params![watch, v.etag, v.last_modified],
            )?;
        }
        Ok(Recorded {
            version: version_seq.map(VersionSeq),
            content_hash: current.map(|(_, h)| h),
        })
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}

fn watch_url(tx: &Transaction<'_>, watch: i64) -> Result<String> {
    Ok(
        tx.query_row("SELECT url FROM watches WHERE id = ?1", [watch], |r| {
            r.get(0)
        })?,
    )
}

/// Content-defined chunk sizes: small enough that a site's shared template and an article's
/// unchanged parts fall into chunks already stored, large enough to compress well.
const CHUNK_MIN: u32 = 4 * 1024;
const CHUNK_AVG: u32 = 16 * 1024;
const CHUNK_MAX: u32 = 64 * 1024;

/// A raw body cut into chunks and compressed, ready for [`Batch::record`]; prepared off the
/// writer thread so that the one writer only inserts rows.
#[derive(Debug, Clone)]
pub struct PackedBody {
    chunks: Vec<PackedChunk>,
}

#[derive(Debug, Clone)]
struct PackedChunk {
    digest: Sha256Hash,
    offset: usize,
    len: usize,
    /// zstd-compressed bytes; `None` when the chunk was already stored when packed.
    data: Option<Vec<u8>>,
}

impl PackedBody {
    /// Cuts `raw` into content-defined chunks and compresses those `known` does not report as
    /// stored already.
    pub fn pack(raw: &[u8], mut known: impl FnMut(&str) -> bool) -> Result<Self> {
        let mut chunks = Vec::new();
        for c in fastcdc::v2020::FastCDC::new(raw, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX) {
            let bytes = &raw[c.offset..c.offset + c.length];
            let digest = Sha256Hash::of(bytes);
            let data = if known(&digest.to_hex()) {
                None
            } else {
                Some(compress(bytes)?)
            };
            chunks.push(PackedChunk {
                digest,
                offset: c.offset,
                len: c.length,
                data,
            });
        }
        Ok(Self { chunks })
    }
}

fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(bytes, ZSTD_LEVEL)
        .map_err(|e| StoreError::Corrupt(format!("cannot compress: {e}")))
}

/// A version's stored text, or why it cannot be read back.
pub(crate) fn decompress_text(compressed: &[u8]) -> std::result::Result<String, String> {
    let bytes =
        zstd::decode_all(compressed).map_err(|e| format!("the text does not decompress: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "the text is not UTF-8".to_string())
}

/// Compresses a version's canonical text for storage.
pub fn compress_text(text: &str) -> Result<Vec<u8>> {
    compress(text.as_bytes())
}

/// A read-only look at which chunks are stored, for packing bodies off the writer thread.
pub struct ChunkIndex {
    conn: Connection,
}

impl ChunkIndex {
    pub fn open(db_path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: db_path.display().to_string(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(Self { conn })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = ?1)")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)))
            .unwrap_or(false)
    }
}

/// Stores a raw body once: cut into content-defined chunks (FastCDC), each distinct chunk
/// stored once, zstd-compressed; the blob row lists the chunks' digests in order.
pub(crate) fn insert_blob(tx: &Transaction<'_>, hash: &BodyHash, raw: &[u8]) -> Result<()> {
    let mut has = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = ?1)")?;
    let packed = PackedBody::pack(raw, |k| has.query_row([k], |r| r.get(0)).unwrap_or(false))?;
    insert_packed(tx, hash, raw, &packed)
}

/// Writes a packed body: the chunks not stored yet, then the blob row. A chunk that was packed
/// as "already stored" but is not (its transaction rolled back meanwhile) is compressed here.
fn insert_packed(
    tx: &Transaction<'_>,
    hash: &BodyHash,
    raw: &[u8],
    packed: &PackedBody,
) -> Result<()> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)",
        [hash.to_hex()],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(());
    }
    let mut manifest = Vec::with_capacity(packed.chunks.len() * 32);
    let mut has_chunk =
        tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = ?1)")?;
    let mut add_chunk =
        tx.prepare_cached("INSERT OR IGNORE INTO chunks (hash, size, data) VALUES (?1, ?2, ?3)")?;
    for c in &packed.chunks {
        manifest.extend_from_slice(&c.digest.0);
        let key = c.digest.to_hex();
        match &c.data {
            Some(data) => {
                add_chunk.execute(params![key, c.len as i64, data])?;
            }
            None => {
                if !has_chunk.query_row([&key], |r| r.get::<_, bool>(0))? {
                    let bytes = raw.get(c.offset..c.offset + c.len).ok_or_else(|| {
                        StoreError::Corrupt("a packed chunk lies outside its body".into())
                    })?;
                    add_chunk.execute(params![key, c.len as i64, compress(bytes)?])?;
                }
            }
        }
    }
    tx.execute(
        "INSERT INTO blobs (hash, size, compression, data) VALUES (?1, ?2, 'chunks', ?3)",
        params![hash.to_hex(), raw.len() as i64, manifest],
    )?;
    Ok(())
}

/// Reassembles a stored body.
fn decompress(conn: &Connection, compression: &str, data: &[u8]) -> Result<Vec<u8>> {
    match compression {
        "chunks" => {
            if !data.len().is_multiple_of(32) {
                return Err(StoreError::Corrupt(
                    "blob manifest is not a list of digests".into(),
                ));
            }
            let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE hash = ?1")?;
            let mut out = Vec::new();
            for digest in data.chunks(32) {
                let key = hex::encode(digest);
                let compressed: Option<Vec<u8>> =
                    stmt.query_row([&key], |r| r.get(0)).optional()?;
                let compressed = compressed
                    .ok_or_else(|| StoreError::Corrupt(format!("chunk {key} is missing")))?;
                let bytes = zstd::decode_all(compressed.as_slice()).map_err(|e| {
                    StoreError::Corrupt(format!("chunk {key} does not decompress: {e}"))
                })?;
                out.extend_from_slice(&bytes);
            }
            Ok(out)
        }
        "zstd" => zstd::decode_all(data)
            .map_err(|e| StoreError::Corrupt(format!("blob does not decompress: {e}"))),
        "none" => Ok(data.to_vec()),
        other => Err(StoreError::Corrupt(format!(
            "unknown blob compression {other:?}"
        ))),
    }
}

const VERSION_META_COLUMNS: &str = "SELECT seq, captured_at, content_hash, body_hash, http_status, \
    final_url, title, byline, published";

fn version_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionMeta> {
    Ok(VersionMeta {
        seq: VersionSeq(r.get(0)?),
        captured_at: r.get(1)?,
        content_hash: parse_col(r, 2)?,
        body_hash: parse_col(r, 3)?,
        http_status: r.get(4)?,
        final_url: r.get(5)?,
        title: r.get(6)?,
        byline: r.get(7)?,
        published: r.get(8)?,
    })
}

fn parse_col<T: std::str::FromStr<Err = String>>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn parse_opt_col<T: std::str::FromStr<Err = String>>(
    r: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = r.get(i)?;
    s.map(|s| {
        s.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}
