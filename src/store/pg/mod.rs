//! The archive in PostgreSQL: the same operations as the SQLite modules beside this one, for an
//! archive that several `stet run` workers share.
//!
//! Owns connecting, the migrations in `migrations/postgres/` (applied in order under an advisory
//! lock and recorded in `stet_migrations`), the bridge from the blocking store to the driver,
//! the work queue (hosts and due watches claimed with `FOR UPDATE SKIP LOCKED` and a lease), and
//! one ledger chain for every worker (each write transaction takes one advisory lock first).
//! Never decides what an outcome means, and never runs SQLite's SQL.

mod archive;
mod outbox;
mod pages;
mod proofs;
mod record;
mod scan;
mod search;

pub(super) use record::PgBatch;

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

use postgres::{Client, GenericClient, NoTls};

use super::s3::BlobBucket;
use super::{Location, Result, StoreError};
use crate::pure::ledger::{Entry, EntryBody, EntryKind};
use crate::pure::model::Sha256Hash;

/// The schema, one plain SQL file per step, applied in order and recorded by name.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_archive",
        include_str!("../../../migrations/postgres/0001_archive.sql"),
    ),
    (
        "0002_robust",
        include_str!("../../../migrations/postgres/0002_robust.sql"),
    ),
    (
        "0003_ledger_proofs",
        include_str!("../../../migrations/postgres/0003_ledger_proofs.sql"),
    ),
    (
        "0004_search",
        include_str!("../../../migrations/postgres/0004_search.sql"),
    ),
    (
        "0005_extractor",
        include_str!("../../../migrations/postgres/0005_extractor.sql"),
    ),
];

/// The advisory lock every write transaction takes first: the ledger is one chain, so its
/// appends are serialised across workers (and migrations wait for each other).
const WRITE_LOCK: i64 = 0x7374_6574; // "stet"

/// How long a claimed watch, host or alert stays a worker's before others may take it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

/// One connection to a PostgreSQL archive, and where its chunk bytes live.
pub(super) struct Pg {
    /// Always `Some` until dropped: the driver's connection ends inside `blocking`.
    client: RefCell<Option<Client>>,
    blobs: Option<BlobBucket>,
    lease: Duration,
}

/// This process as a worker: host, process id and start time, the same for every connection it
/// opens, so that the writer's connection releases what the loop's connection claimed.
pub(super) fn worker_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{host}:{}:{started:x}", std::process::id())
    })
}

/// Runs blocking driver work from wherever the store is called: on an async worker thread it
/// steps out of the runtime first (the driver runs its own), elsewhere it just runs.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Pg {
    /// Connects and brings the schema up to date.
    pub(super) fn open(location: &Location) -> Result<Self> {
        let Location::Postgres { url, blobs, lease } = location else {
            return Err(StoreError::Corrupt("not a PostgreSQL location".into()));
        };
        let display = location.to_string();
        let mut client =
            blocking(|| Client::connect(url, NoTls)).map_err(|source| StoreError::Connect {
                url: display.clone(),
                source,
            })?;
        blocking(|| migrate(&mut client)).map_err(|source| StoreError::MigratePg {
            url: display.clone(),
            source,
        })?;
        let blobs = blobs.as_ref().map(BlobBucket::open).transpose()?;
        Ok(Self {
            client: RefCell::new(Some(client)),
            blobs,
            lease: *lease,
        })
    }

    /// Runs `f` with the connection, off the async threads.
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.client.borrow_mut();
        let client = client.as_mut().ok_or(StoreError::Closed)?;
        blocking(|| f(client))
    }

    /// Runs `f` in a write transaction that holds the write lock, and commits it.
    fn write<T>(&self, f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T>) -> Result<T> {
        self.with(|client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn lease_secs(&self) -> f64 {
        self.lease.as_secs_f64()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Closing the connection blocks on the driver's runtime: never on an async thread.
        let client = self.client.get_mut().take();
        blocking(move || drop(client));
    }
}

fn migrate(client: &mut Client) -> std::result::Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS stet_migrations (
            version    BIGINT PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let applied: i64 = tx
        .query_one("SELECT count(*) FROM stet_migrations", &[])?
        .get(0);
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO stet_migrations (version, name) VALUES ($1, $2)",
            &[&(i as i64 + 1), name],
        )?;
    }
    tx.commit()
}

/// Chains `body` after the current head and stores it, recording `row_id`. Call it inside a
/// transaction that holds the write lock.
pub(super) fn append(tx: &mut impl GenericClient, body: EntryBody, row_id: i64) -> Result<Entry> {
    let prev = last(tx)?;
    let entry = Entry::chain(prev, body);
    let b = &entry.body;
    let meta = b
        .meta
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("cannot encode metadata: {e}")))?;
    tx.execute(
        "INSERT INTO ledger (seq, kind, watch_url, version_seq, at, content_hash, body_hash,
            prev_hash, hash, row_id, meta)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &entry.seq,
            &b.kind.as_str(),
            &b.url,
            &b.version.map(|v| v.0),
            &b.at,
            &b.content_hash.map(|h| h.to_hex()),
            &b.body_hash.map(|h| h.to_hex()),
            &entry.prev_hash.to_hex(),
            &entry.hash.to_hex(),
            &row_id,
            &meta,
        ],
    )?;
    Ok(entry)
}

pub(super) fn last(tx: &mut impl GenericClient) -> Result<Option<(i64, Sha256Hash)>> {
    tx.query_opt(
        "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    .map(|r| {
        let seq: i64 = r.try_get(0)?;
        let hash: String = r.try_get(1)?;
        hash.parse().map(|h| (seq, h)).map_err(StoreError::Corrupt)
    })
    .transpose()
}

/// Records a watch change (`watch:added` or `watch:removed`) of watch `id`.
pub(super) fn append_watch(
    tx: &mut impl GenericClient,
    kind: EntryKind,
    id: i64,
    at: &str,
) -> Result<()> {
    let url: String = tx
        .query_one("SELECT url FROM watches WHERE id = $1", &[&id])?
        .try_get(0)?;
    append(
        tx,
        EntryBody {
            kind,
            url,
            version: None,
            at: at.to_string(),
            content_hash: None,
            body_hash: None,
            meta: None,
        },
        id,
    )?;
    Ok(())
}

/// Parses a stored text column (a hash, a kind) into its type.
pub(super) fn parse<T: std::str::FromStr<Err = String>>(s: String) -> Result<T> {
    s.parse().map_err(StoreError::Corrupt)
}

pub(super) fn parse_opt<T: std::str::FromStr<Err = String>>(
    s: Option<String>,
) -> Result<Option<T>> {
    s.map(parse).transpose()
}

/// A watch's host and port, the key politeness keeps its limits under.
pub(super) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or(0)
            )
        })
        .unwrap_or_default()
}
