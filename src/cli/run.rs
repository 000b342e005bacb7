//! `stet run`: the daemon in the foreground, stopped by SIGTERM or SIGINT.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::{Context, exit};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seconds between passes over every watched URL.
    #[arg(long, default_value_t = 3600)]
    pub interval: u64,
}

pub async fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<u8> {
    drop(ctx.open_store()?);
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stop signal received, finishing");
        trigger.cancel();
    });
    crate::daemon::run(
        &ctx.config,
        &ctx.db_path,
        Duration::from_secs(args.interval.max(1)),
        shutdown,
    )
    .await?;
    Ok(exit::OK)
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
