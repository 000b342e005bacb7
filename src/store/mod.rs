//! The archive: the only module that runs SQL, in SQLite (the embedded default) or in
//! PostgreSQL (an archive several workers share).
//!
//! Owns opening the database (SQLite: WAL, busy timeout, migrations from `migrations/*.sql`;
//! PostgreSQL: `migrations/postgres/*.sql`), the watch list, and the atomic application of check
//! outcomes: a check row, a version, its blob and its event are written in one transaction, so a
//! crash leaves either all of them or none. Blocking: callers keep it off async threads (one
//! writer thread; readers open their own). Every version, event and watch change also gets its
//! ledger entry in the same transaction.
//!
//! Each operation is a method of [`Store`] (or of [`Batch`], one open transaction of check
//! outcomes), documented and written once over the dialect seam `sql` (a `Tx`: query, execute,
//! insert id, over one value type, for rusqlite and for postgres), in the module of its
//! concern: `watches`, `feeds`, `versions`, `listing`, `record` (the write path of a check),
//! `blobs` (chunk packing, compression, bodies, in the database or in S3-compatible storage:
//! `s3`), `ledger` (entries, scans, export and import), `proofs` (what entries commit to,
//! checkpoints, witnesses), `outbox`, `pages` (the web interface's queries), `unparsed` and
//! `clock`. What only one backend does stays with it: SQLite's opening and migrations (here),
//! FTS5 (`search`) and file copies (`rescue`); PostgreSQL's connection, claims and leases, and
//! tsvector search (`pg`). The only backend switch is `Db`.

mod blobs;
mod clock;
mod feeds;
mod ledger;
mod listing;
mod outbox;
mod pages;
mod pg;
mod proofs;
mod record;
mod rescue;
mod s3;
mod search;
mod sql;
mod unparsed;
mod versions;
mod watches;

pub(crate) use blobs::decompress_text;
pub use blobs::{ChunkIndex, PackedBody, compress_text};
pub use feeds::FeedRow;
pub use ledger::{BlobRow, EventCheckRow, ImportError, LedgerRow, VersionRow};
pub use listing::WatchPage;
pub use outbox::{AlertCount, DueAlert, OutboxRow};
pub use pages::{
    ChangeItem, ChangeQuery, LedgerPosition, VerificationRun, WatchListItem, WatchListPage,
    WatchQuery, WatchSort,
};
pub use pg::DEFAULT_LEASE;
pub use proofs::{EXEMPT_COLUMNS, StoredCheckpoint, WitnessState, event_columns, version_columns};
pub use record::{Batch, Capture, CheckRecord, LatestBody, Recorded};
pub use s3::BlobsConfig;
pub use search::{MATCH_END, MATCH_START, SearchHit, SearchQuery};
pub use unparsed::UnparsedBody;
pub use versions::{CheckRow, EventRow, Version, VersionMeta};
pub use watches::{CheckTarget, WatchSummary};

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use crate::notify::AlertRoute;
use sql::{Lite, Tx};

/// The schema, one plain SQL file per step, applied in order.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_archive.sql"),
    include_str!("../../migrations/0002_schedule_feeds.sql"),
    include_str!("../../migrations/0003_ledger.sql"),
    include_str!("../../migrations/0004_outbox.sql"),
    include_str!("../../migrations/0007_robust.sql"),
    PROOFS_SQL,
    include_str!("../../migrations/0009_search.sql"),
    include_str!("../../migrations/0010_extractor.sql"),
    include_str!("../../migrations/0011_scale.sql"),
];

/// `0008_ledger_proofs.sql`, which also writes an attestation entry for every version and event
/// an archive already holds. Found by its text, wherever later migrations put it in the list.
const PROOFS_SQL: &str = include_str!("../../migrations/0008_ledger_proofs.sql");

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
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: postgres::Error,
    },
    #[error("cannot migrate database {url}: {source}")]
    MigratePg {
        url: String,
        source: postgres::Error,
    },
    #[error("database error: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("object storage: {0}")]
    Blobs(String),
    #[error("the database connection is closed")]
    Closed,
    #[error("corrupt archive: {0}")]
    Corrupt(String),
    #[error("invalid page cursor {0:?}")]
    BadCursor(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the server said (the driver's own message is only "db error").
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// The archive, wherever it lives. Each operation is written once, over the dialect seam
/// (`sql::Tx`), in the module of its concern; what only one backend does is matched on `Db`.
pub struct Store {
    db: Db,
    /// The alert sinks whose outbox rows [`Batch::record`] writes with each event.
    alert_routes: Vec<AlertRoute>,
}

/// The backend switch.
enum Db {
    Sqlite(Sqlite),
    Postgres(Box<pg::Pg>),
}

/// Where an archive lives: a SQLite file, or a PostgreSQL database (with page-body chunks in
/// the database or in object storage).
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres {
        /// `postgresql://user:password@host:port/dbname`
        url: String,
        /// Chunk bytes in object storage instead of the database.
        blobs: Option<BlobsConfig>,
        /// How long a worker's claim on a watch, host or alert lasts.
        lease: Duration,
    },
}

impl Location {
    /// A PostgreSQL URL (`postgresql://` or `postgres://`) or a SQLite file path.
    pub fn parse(s: &str) -> Self {
        if Self::is_postgres_url(s) {
            Self::Postgres {
                url: s.to_string(),
                blobs: None,
                lease: DEFAULT_LEASE,
            }
        } else {
            Self::Sqlite(PathBuf::from(s))
        }
    }

    pub fn is_postgres_url(s: &str) -> bool {
        s.starts_with("postgresql://") || s.starts_with("postgres://")
    }

    /// The SQLite file, when the archive is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(p) => Some(p),
            Self::Postgres { .. } => None,
        }
    }

    /// Whether the archive exists already (a PostgreSQL database is taken to).
    pub fn exists(&self) -> bool {
        self.sqlite_path().is_none_or(Path::exists)
    }

    /// For messages: the path, or the URL without its password.
    pub fn display(&self) -> impl std::fmt::Display + '_ {
        self
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "{}", p.display()),
            Self::Postgres { url, .. } => match url::Url::parse(url) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("***"));
                    write!(f, "{u}")
                }
                _ => write!(f, "{url}"),
            },
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        Self::Sqlite(p.to_owned())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Self {
        Self::Sqlite(p.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Self::Sqlite(p)
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Self {
        l.clone()
    }
}

impl Store {
    /// Opens (creating if needed) the archive at `at` and brings its schema up to date.
    pub fn open(at: impl Into<Location>) -> Result<Self> {
        let at = at.into();
        let db = match &at {
            Location::Sqlite(path) => Db::Sqlite(Sqlite::open(path)?),
            Location::Postgres { .. } => Db::Postgres(Box::new(pg::Pg::open(&at)?)),
        };
        Ok(Self {
            db,
            alert_routes: Vec::new(),
        })
    }

    /// Sets the alert sinks: every event recorded from now on queues one outbox row per sink
    /// that wants it, in the event's own transaction.
    pub fn set_alert_routes(&mut self, routes: Vec<AlertRoute>) {
        self.alert_routes = routes;
    }

    /// Runs `f` on the archive's connection, each statement on its own.
    fn with<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match &self.db {
            Db::Sqlite(s) => f(&mut Lite(&s.conn)),
            Db::Postgres(p) => p.with(|c| f(c)),
        }
    }

    /// Runs `f` in one write transaction and commits it; on PostgreSQL the transaction holds
    /// the write lock that keeps the ledger one chain.
    fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match &self.db {
            Db::Sqlite(s) => {
                let tx = s.write_transaction()?;
                let out = f(&mut Lite(&tx))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
            Db::Postgres(p) => p.write(|tx| f(tx)),
        }
    }

    /// Where chunk bytes live when not in the database.
    fn bucket(&self) -> Option<&s3::BlobBucket> {
        match &self.db {
            Db::Sqlite(_) => None,
            Db::Postgres(p) => p.bucket(),
        }
    }

    /// Starts a transaction in which check outcomes are classified and recorded together.
    pub fn batch(&mut self) -> Result<Batch<'_>> {
        let (tx, bucket) = match &mut self.db {
            Db::Sqlite(s) => (
                record::BatchTx::Sqlite(
                    s.conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)?,
                ),
                None,
            ),
            Db::Postgres(p) => {
                let (tx, lease, bucket) = p.batch()?;
                (record::BatchTx::Postgres { tx, lease }, bucket)
            }
        };
        Ok(Batch {
            tx: std::cell::RefCell::new(tx),
            routes: &self.alert_routes,
            bucket,
        })
    }
}

/// The archive in SQLite: one connection.
pub(crate) struct Sqlite {
    conn: Connection,
}

impl Sqlite {
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
        // journal_mode answers with a row, so it is read rather than executed. Switching a new
        // file to WAL needs a lock that SQLite does not wait for (no busy handler): while another
        // process creates the same archive it answers "database is locked" at once, so it is
        // asked again for a while.
        let mut attempt = 0;
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(e)
                    if attempt < 100
                        && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(open_err(e)),
            }
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        let migrations = Migrations::new(
            MIGRATIONS
                .iter()
                .enumerate()
                .map(|(i, sql)| match i {
                    LEDGER_MIGRATION => M::up_with_hook(sql, |tx: &rusqlite::Transaction<'_>| {
                        ledger::backfill(&mut Lite(tx)).map_err(hook_error)
                    }),
                    _ if *sql == PROOFS_SQL => {
                        M::up_with_hook(sql, |tx: &rusqlite::Transaction<'_>| {
                            proofs::attest(&mut Lite(tx)).map_err(hook_error)
                        })
                    }
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
        Ok(Self { conn })
    }

    /// A transaction that takes the write lock at once (waiting up to the busy timeout). A
    /// deferred one that reads first could not upgrade to writing after another process
    /// committed (SQLITE_BUSY without waiting), and what it reads, such as the ledger head, could
    /// be overtaken by another writer before it writes.
    fn write_transaction(&self) -> Result<Transaction<'_>> {
        Ok(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?)
    }
}

/// A store error inside a migration's hook.
fn hook_error(e: StoreError) -> rusqlite_migration::HookError {
    rusqlite_migration::HookError::Hook(e.to_string())
}
