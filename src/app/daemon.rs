//! The long-running service: checks each watch when it is due and polls feeds, until told to stop.
//!
//! Owns the daemon's loop, its single-instance lock, configuration reloads (SIGHUP) and the
//! systemd protocol (READY, WATCHDOG, STOPPING). `run` takes a cancellation token and a reload
//! signal, so tests and the signal handlers drive it alike. Stopping abandons fetches in flight
//! and commits what was already fetched: the open transaction commits or rolls back whole.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::app::check::Checker;
use crate::config::Config;
use crate::net::feeds;
use crate::pure::clock::{JumpDetector, Reading};
use crate::pure::model::now_rfc3339;
use crate::store::{Location, Store};

/// The longest the loop sleeps before looking at the database again (watches may be added by
/// the CLI meanwhile).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// A held lock on the database: one daemon per archive.
pub struct InstanceLock {
    _file: File,
}

/// Takes the lock next to the database (`<db>.lock`), or explains who holds it.
pub fn lock_instance(db_path: &Path) -> anyhow::Result<InstanceLock> {
    let mut lock_path = db_path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = File::create(&lock_path)
        .with_context(|| format!("cannot create lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another `stet run` is already running on {} (it holds {}); stop it first, or use another database",
            db_path.display(),
            lock_path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

/// Where the daemon's configuration comes from, so it can be read again on reload.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: Option<PathBuf>,
    /// `--db`, which overrides the file on every reload.
    pub db_override: Option<PathBuf>,
}

/// The config the Debian package installs, read when no `--config` (or `STET_CONFIG`) is given.
pub const SYSTEM_CONFIG: &str = "/etc/stet/stet.toml";

impl ConfigSource {
    /// The file named (`--config`), else `system` if it exists, else none (built-in defaults).
    pub fn resolve(named: Option<PathBuf>, system: &Path, db_override: Option<PathBuf>) -> Self {
        Self {
            path: named.or_else(|| system.is_file().then(|| system.to_path_buf())),
            db_override,
        }
    }

    pub fn load(&self) -> anyhow::Result<Config> {
        let mut config = match &self.path {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(db) = &self.db_override {
            config.storage.set_db(db);
        }
        Ok(config)
    }
}

/// Runs until `shutdown` is cancelled. `reload` re-reads the configuration.
pub async fn run(
    mut config: Config,
    source: ConfigSource,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
) -> anyhow::Result<()> {
    let db_path = config.storage.location();
    // Several workers share a PostgreSQL archive; a SQLite file has one daemon.
    let _lock = db_path.sqlite_path().map(lock_instance).transpose()?;
    apply_config(&db_path, &config).await?;
    let mut checker = Checker::for_daemon(&config)?;
    let watchdog = spawn_watchdog(shutdown.clone());
    systemd_notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(db = %db_path.display(), "stet daemon started");
    let notifier = crate::notify::spawn(config.clone(), db_path.clone(), shutdown.clone());
    // Signed checkpoints on the `[ledger] publish` schedule (read at start, not on reload).
    let publisher =
        crate::app::publish::spawn_schedule(config.clone(), db_path.clone(), shutdown.clone());
    let web = spawn_server(&config, &db_path, shutdown.clone()).await?;
    // One read connection for the loop's questions (what is due, and when next); passes and
    // feed polls write through their own.
    let mut reader = Store::open(&db_path)?;
    // A SQLite archive is the file that was opened; PostgreSQL has no file to watch.
    let identity = db_path
        .sqlite_path()
        .map(|p| FileIdentity::of(p).map(|id| (p.to_path_buf(), id)))
        .transpose()?;
    let mut clock = JumpDetector::new(Duration::from_secs(60));
    let mut fatal = None;
    // Said once when the archive has nothing to check, again only after it had something.
    let mut told_empty = false;

    while !shutdown.is_cancelled() {
        // The archive is the file that was opened: if it was removed or replaced, writing on
        // would go to a file nobody can read (or create a new, empty archive). Stop instead.
        let changed = identity
            .as_ref()
            .and_then(|(path, id)| id.still(path).err().map(|e| (path, e)));
        if let Some((path, e)) = changed {
            let e = rescue(&reader, path, e);
            tracing::error!(db = %db_path.display(), error = %format!("{e:#}"), "stopping: the database file changed under the daemon");
            fatal = Some(e);
            shutdown.cancel(); // the notifier stops too
            break;
        }
        if let Some(jump) = Reading::now().and_then(|r| clock.observe(r)) {
            let secs = (jump.num_milliseconds() as f64 / 1000.0).round() as i64;
            match reader.shift_due_times(secs) {
                Ok(moved) => tracing::warn!(
                    jump_secs = secs,
                    moved,
                    "the system clock jumped; due times moved with it"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "the system clock jumped; cannot move due times")
                }
            }
        }
        if let Err(e) = poll_due_feeds(&checker, &config, &db_path, &reader, &shutdown).await {
            tracing::error!(error = %format!("{e:#}"), "feed polling failed");
        }
        let batch = (config.fetch.concurrency * 16).max(64);
        let due = match reader.due_targets(&now_rfc3339(), batch) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the due watches; retrying shortly");
                idle(&shutdown, &reload, Duration::from_secs(10)).await;
                continue;
            }
        };
        if !due.is_empty() {
            let count = due.len();
            let started = std::time::Instant::now();
            match checker.pass(&db_path, due, shutdown.clone(), |_| {}).await {
                Ok(summary) => tracing::info!(
                    checked = summary.checked - summary.deferred,
                    deferred = summary.deferred,
                    of = count,
                    secs = format!("{:.1}", started.elapsed().as_secs_f64()),
                    "pass finished"
                ),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "pass failed; retrying shortly");
                    idle(&shutdown, &reload, Duration::from_secs(10)).await;
                }
            }
            continue;
        }
        let empty = !reader.has_watches_or_feeds()?;
        if empty && !told_empty {
            tracing::info!("{}", nothing_to_check(&source));
        }
        told_empty = empty;
        let wait = time_until_next_due(&reader).unwrap_or(MAX_IDLE);
        if idle(&shutdown, &reload, wait).await == Wake::Reload {
            match source.load() {
                Ok(new) if new.storage.location() != db_path => tracing::error!(
                    "reload refused: the database path changed; restart stet to use another database"
                ),
                Ok(new) => match apply_config(&db_path, &new)
                    .await
                    .and_then(|()| Checker::for_daemon(&new))
                {
                    Ok(new_checker) => {
                        tracing::info!(
                            watches = new.watches.len(),
                            feeds = new.feed_entries.len(),
                            "configuration reloaded"
                        );
                        notifier.reload(&new);
                        config = new;
                        checker = new_checker;
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the running configuration")
                    }
                },
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the running configuration")
                }
            }
        }
    }
    systemd_notify(&[sd_notify::NotifyState::Stopping]);
    watchdog.abort();
    notifier.stopped().await;
    if let Some(p) = publisher {
        let _ = p.await;
    }
    if let Some(web) = web {
        let _ = web.await;
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    tracing::info!("stet daemon stopped");
    Ok(())
}

/// Serves the web interface beside the daemon when `[server] listen` is set. A refused address
/// stops the start, as `stet serve` would.
async fn spawn_server(
    config: &Config,
    db_path: &Location,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if config.server.listen.is_none() {
        return Ok(None);
    }
    let options = crate::server::ServeOptions::from_config(config, None)?;
    let bound = crate::server::bind(db_path.clone(), options).await?;
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = bound.serve(shutdown).await {
            tracing::error!(error = %e, "the web interface stopped");
        }
    })))
}

/// Saves what the open connection still sees of a removed or replaced archive next to it, and
/// says where in the error.
fn rescue(reader: &Store, db_path: &Path, error: anyhow::Error) -> anyhow::Error {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = db_path.as_os_str().to_owned();
    name.push(format!(".rescued-{stamp}"));
    let to = PathBuf::from(name);
    match reader.copy_to(&to) {
        Ok(()) => error.context(format!(
            "stopped; everything committed was saved to {}: move it back to {} and start stet again",
            to.display(),
            db_path.display()
        )),
        Err(e) => error.context(format!(
            "stopped; the archive could not be saved to {}: {e}",
            to.display()
        )),
    }
}

/// Which file a path names: device and inode, to notice a database removed or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> anyhow::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot stat the database {}", path.display()))?;
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Ok when `path` still names this file.
    fn still(&self, path: &Path) -> anyhow::Result<()> {
        match Self::of(path) {
            Ok(now) if now == *self => Ok(()),
            Ok(_) => Err(anyhow::anyhow!(
                "the database {} was replaced by another file while stet was running",
                path.display()
            )),
            Err(_) => Err(anyhow::anyhow!(
                "the database {} was removed while stet was running",
                path.display()
            )),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Wake {
    Timeout,
    Reload,
    Shutdown,
}

async fn idle(shutdown: &CancellationToken, reload: &Notify, wait: Duration) -> Wake {
    tokio::select! {
        _ = shutdown.cancelled() => Wake::Shutdown,
        _ = reload.notified() => Wake::Reload,
        _ = tokio::time::sleep(wait) => Wake::Timeout,
    }
}

/// What a newcomer is told when the archive has no watch and no feed: that nothing will
/// happen, and the commands that add something (naming the same config and database).
pub fn nothing_to_check(source: &ConfigSource) -> String {
    let mut stet = String::from("stet");
    // The system config is read without being named.
    if let Some(path) = source
        .path
        .as_ref()
        .filter(|p| p.as_path() != Path::new(SYSTEM_CONFIG))
    {
        stet.push_str(&format!(" --config {}", path.display()));
    }
    if let Some(db) = &source.db_override {
        stet.push_str(&format!(" --db {}", db.display()));
    }
    format!(
        "nothing to check: no watches and no feeds yet. Add an article with `{stet} watch add URL` \
         or a feed with `{stet} feed add URL` (or [[watch]] and [[feed]] entries in the config); \
         a running daemon picks them up within {}s",
        MAX_IDLE.as_secs()
    )
}

/// How long until the next watch or feed is due, at most [`MAX_IDLE`].
fn time_until_next_due(store: &Store) -> Option<Duration> {
    let next = [store.next_due_at().ok()?, store.next_feed_due_at().ok()?]
        .into_iter()
        .flatten()
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .min()?;
    let wait = (next.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::from_millis(50));
    Some(wait.clamp(Duration::from_millis(50), MAX_IDLE))
}

async fn poll_due_feeds(
    checker: &Checker,
    config: &Config,
    db_path: &Location,
    reader: &Store,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let due = reader.due_feeds(&now_rfc3339())?;
    for feed in due {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            report = feeds::poll(checker, config, db_path, &feed) => {
                if !report.added.is_empty() || report.deferred > 0 {
                    tracing::info!(feed = %feed.url, added = report.added.len(), deferred = report.deferred, "feed polled");
                }
            }
        }
    }
    Ok(())
}

/// Brings the config's watches and feeds into the archive.
pub async fn apply_config(db_path: &Location, config: &Config) -> anyhow::Result<()> {
    let db = db_path.to_owned();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&db)?;
        sync_config(&mut store, &config)
    })
    .await?
}

/// Makes the archive's config-origin watches and feeds match `config`.
pub fn sync_config(store: &mut Store, config: &Config) -> anyhow::Result<()> {
    let at = now_rfc3339();
    let mut urls = Vec::new();
    for w in &config.watches {
        urls.push(crate::net::fetch::parse_watch_url(&w.url)?.to_string());
    }
    store.sync_config_watches(&urls, &at)?;
    for (w, url) in config.watches.iter().zip(&urls) {
        store.set_watch_options(url, w.schedule.as_deref(), w.robots)?;
    }
    let mut feeds = Vec::new();
    for f in &config.feed_entries {
        let url = crate::net::fetch::parse_watch_url(&f.url)?.to_string();
        feeds.push((url, f.schedule.clone(), f.robots));
    }
    store.sync_config_feeds(&feeds, &at)?;
    Ok(())
}

fn systemd_notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Pings systemd's watchdog at half its interval, when the unit asks for one.
fn spawn_watchdog(shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(interval) = sd_notify::watchdog_enabled() else {
            return;
        };
        let mut tick = tokio::time::interval(interval / 2);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => systemd_notify(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::ConfigSource;

    #[test]
    fn the_system_config_is_read_when_none_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("stet.toml");
        let named = PathBuf::from("mine.toml");
        assert_eq!(ConfigSource::resolve(None, &system, None).path, None);
        std::fs::write(&system, "").unwrap();
        assert_eq!(
            ConfigSource::resolve(None, &system, None).path,
            Some(system.clone())
        );
        assert_eq!(
            ConfigSource::resolve(Some(named.clone()), &system, None).path,
            Some(named),
            "--config wins"
        );
        assert_eq!(
            ConfigSource::resolve(None, Path::new("/nonexistent/stet.toml"), None).path,
            None
        );
    }
}
