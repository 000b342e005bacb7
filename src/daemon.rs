//! The long-running service: checks watched URLs again and again until told to stop.
//!
//! Owns the daemon's loop and its shutdown: `run` takes a cancellation token so tests and the
//! signal handler can stop it; a pass in progress stops starting fetches and commits what it has.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::check::run_pass;
use crate::config::Config;
use crate::store::Store;

/// Runs passes every `interval` until `shutdown` is cancelled.
pub async fn run(
    config: &Config,
    db_path: &Path,
    interval: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(db = %db_path.display(), interval_secs = interval.as_secs(), "stet daemon started");
    let notifier = crate::notify::spawn(config.clone(), db_path.to_owned(), shutdown.clone());
    while !shutdown.is_cancelled() {
        let targets = {
            let store = Store::open(db_path)?;
            store.check_targets(None)?
        };
        let started = std::time::Instant::now();
        let count = targets.len();
        let summary = run_pass(config, db_path, targets, shutdown.clone(), |_| {}).await?;
        tracing::info!(
            checked = summary.checked,
            of = count,
            secs = started.elapsed().as_secs_f64(),
            "pass finished"
        );
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    // An alert delivery in flight is abandoned; its row stays pending for the next start.
    shutdown.cancel();
    let _ = notifier.await;
    tracing::info!("stet daemon stopped");
    Ok(())
}
