//! `stet check [URL...]`: one pass now, reported as it goes.

use std::io::IsTerminal;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::output::{self, BOLD, DIM, kind_style, paint};
use super::{Context, ExitError, exit};
use crate::app::check::{CheckReport, Checker};
use crate::net::fetch::parse_watch_url;
use crate::pure::model::CheckKind;
use crate::say;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only these watched URLs (default: every watched URL). A URL that is not watched yet is
    /// added first.
    pub urls: Vec<String>,
    /// Print unchanged articles too (they are only counted by default).
    #[arg(long)]
    pub all: bool,
    /// Leave queued alerts for the daemon or `stet alerts deliver` instead of sending them at
    /// the end of the pass.
    #[arg(long)]
    pub no_alerts: bool,
    /// Wait out a host's pause (a 429's Retry-After) within the pass when it ends within MAX
    /// (default 10m), instead of deferring the check to the daemon.
    #[arg(
        long,
        value_name = "MAX",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "10m",
        value_parser = humantime::parse_duration
    )]
    pub wait: Option<std::time::Duration>,
}

pub async fn run(ctx: &Context, args: &CheckArgs) -> anyhow::Result<u8> {
    let mut store = ctx.open_store()?;
    let only = if args.urls.is_empty() {
        None
    } else {
        let at = crate::pure::model::now_rfc3339();
        let mut urls = Vec::new();
        for u in &args.urls {
            let url = parse_watch_url(u).map_err(|e| ExitError::usage(e.to_string()))?;
            store.add_watch(url.as_str(), "cli", &at)?;
            urls.push(url.to_string());
        }
        Some(urls)
    };
    let targets = store.check_targets(only.as_deref())?;
    drop(store);
    if targets.is_empty() {
        if !ctx.json {
            if only.is_none() {
                say!("{}", crate::app::daemon::nothing_to_check(&ctx.source));
            } else {
                say!("nothing to check");
            }
        }
        return Ok(exit::OK);
    }
    let progress = (!ctx.json && std::io::stderr().is_terminal() && targets.len() > 1).then(|| {
        let pb = ProgressBar::new(targets.len() as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    });
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    // Ctrl-C during the pass also means: no alert delivery afterwards.
    let interrupted = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let show_all = args.all;
    let json = ctx.json;
    let mut checker = Checker::new(&ctx.config)?;
    if let Some(wait) = args.wait {
        checker.wait_pauses_up_to(wait);
    }
    let summary = checker
        .pass(&ctx.db_path, targets, shutdown, |report| {
            if json {
                let _ = output::json_line(report);
            } else if show_all || report.kind != CheckKind::Unchanged {
                let line = human_line(report);
                match &progress {
                    Some(pb) => pb.println(anstream::adapter::strip_str(&line).to_string()),
                    None => say!("{line}"),
                }
            }
            if let Some(pb) = &progress {
                pb.inc(1);
                pb.set_message(report.url.clone());
            }
        })
        .await?;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let alerts = if args.no_alerts || interrupted.is_cancelled() {
        None
    } else {
        // Alerts never fail a pass: what cannot be sent now stays queued.
        match crate::notify::deliver_round(&ctx.config, &ctx.db_path, &interrupted).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "alerts were not delivered; they stay queued");
                None
            }
        }
    };
    if !json {
        let mut counts: Vec<_> = summary
            .by_kind
            .iter()
            .filter(|(k, _)| k.as_str() != CheckKind::Deferred.as_str())
            .collect();
        counts.sort();
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        say!(
            "{}",
            paint(
                DIM,
                format!(
                    "checked {}{}: {}",
                    summary.checked - summary.deferred,
                    if summary.interrupted {
                        " (interrupted)"
                    } else {
                        ""
                    },
                    parts.join(", ")
                )
            )
        );
        if summary.deferred > 0 {
            say!(
                "{}",
                paint(
                    kind_style(CheckKind::Deferred),
                    format!(
                        "{} deferred until {}: their host asked for a pause; the daemon checks \
                         them then (or wait for it: `stet check --wait`)",
                        summary.deferred,
                        summary.deferred_until.as_deref().unwrap_or("its end"),
                    )
                )
            );
        }
        if let Some(s) = alerts.as_ref().filter(|s| !s.is_empty()) {
            say!("{}", super::alerts::describe(s));
        }
    }
    Ok(exit::OK)
}

fn human_line(r: &CheckReport) -> String {
    let kind = paint(kind_style(r.kind), format!("{:<9}", r.kind.as_str()));
    let version = r
        .version
        .map(|v| format!("v{v}"))
        .unwrap_or_else(|| "-".into());
    let mut line = format!("{kind} {version:<4} {}", paint(BOLD, &r.url));
    if let Some(s) = r.significance {
        line.push_str(&format!(" ({})", s.as_str()));
    }
    if let Some(v) = r.reverted_to {
        line.push_str(&format!(" back to v{v}"));
    }
    if let Some(d) = &r.detail {
        line.push_str(&format!(" {}", paint(DIM, format!("[{d}]"))));
    }
    if let Some(t) = &r.retry_at {
        line.push_str(&format!(" until {t}"));
    }
    line
}
