//! `stet run`: the daemon in the foreground. SIGTERM or SIGINT stop it; SIGHUP reloads the
//! configuration.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Context, exit};
use crate::app::daemon::{self, ConfigSource};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// After SIGTERM or SIGINT, the longest wait for the open work to be committed.
    #[arg(long, default_value_t = 20)]
    pub stop_timeout: u64,
}

pub async fn run(ctx: &Context, args: &RunArgs, source: ConfigSource) -> anyhow::Result<u8> {
    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let stop = shutdown.clone();
    let reloader = reload.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    reloader.notify_one();
                }
            }
        }
        tracing::info!("stop signal received, finishing");
        stop.cancel();
    });
    let daemon = daemon::run(ctx.config.clone(), source, shutdown.clone(), reload);
    let mut daemon = std::pin::pin!(daemon);
    tokio::select! {
        result = &mut daemon => result?,
        _ = async {
            shutdown.cancelled().await;
            tokio::time::sleep(Duration::from_secs(args.stop_timeout)).await;
        } => {
            tracing::error!("the daemon did not stop within {}s; exiting", args.stop_timeout);
            return Ok(exit::FAILURE);
        }
    }
    Ok(exit::OK)
}
