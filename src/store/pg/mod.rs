//! The archive in PostgreSQL, for an archive that several `stet run` workers share: what only
//! PostgreSQL does. Every operation is written once in the store's modules over the dialect
//! seam (`sql::Tx`); this module gives them a connection.
//!
//! Owns connecting, the migrations in `migrations/postgres/` (applied in order under an advisory
//! lock and recorded in `stet_migrations`), the bridge from the blocking store to the driver,
//! one ledger chain for every worker (each write transaction takes one advisory lock first), the
//! work queue (`claims`) and full-text search with tsvector (`search`). Never decides what an
//! outcome means.

mod claims;
mod search;

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::s3::BlobBucket;
use super::sql::blocking;
use super::{Location, Result, StoreError};

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
pub use crate::config::DEFAULT_LEASE;

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
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.client.borrow_mut();
        let client = client.as_mut().ok_or(StoreError::Closed)?;
        blocking(|| f(client))
    }

    /// Runs `f` in a write transaction that holds the write lock, and commits it.
    pub(super) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut client = self.client.borrow_mut();
        let client = client.as_mut().ok_or(StoreError::Closed)?;
        blocking(|| {
            let mut tx = locked(client)?;
            let out = f(&mut tx)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(out)
        })
    }

    /// A transaction of check outcomes (it holds the write lock), the lease its commit renews
    /// host claims for, and where chunk bytes go.
    pub(super) fn batch(
        &mut self,
    ) -> Result<(postgres::Transaction<'_>, f64, Option<&BlobBucket>)> {
        let lease = self.lease_secs();
        let Pg { client, blobs, .. } = self;
        let client = client.get_mut().as_mut().ok_or(StoreError::Closed)?;
        let tx = blocking(|| locked(client))?;
        Ok((tx, lease, blobs.as_ref()))
    }

    /// Where chunk bytes live when not in the database.
    pub(super) fn bucket(&self) -> Option<&BlobBucket> {
        self.blobs.as_ref()
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

/// A transaction that holds the write lock.
fn locked(client: &mut Client) -> Result<postgres::Transaction<'_>> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    Ok(tx)
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
