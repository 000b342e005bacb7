//! `stet alerts list|retry|deliver`: the alert outbox.

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use super::output::{self, BOLD, DIM, RED, YELLOW, paint};
use super::{Context, ExitError, exit};
use crate::config::SinkKind;
use crate::notify::RoundSummary;
use crate::pure::model::now_rfc3339;
use crate::say;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Show the configured sinks and queued alerts: pending, sent, failed (with their errors).
    List {
        /// Only alerts in this state: pending, sent, failed or suppressed.
        #[arg(long, value_parser = ["pending", "sent", "failed", "suppressed"])]
        status: Option<String>,
        /// How many alerts to show, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue failed alerts again with fresh attempts (all of them, one sink's, or one).
    Retry {
        /// Only the alert with this id (see `stet alerts list`).
        #[arg(long)]
        id: Option<i64>,
        /// Only the alerts of this sink.
        #[arg(long)]
        sink: Option<String>,
    },
    /// Deliver every due alert now (one round), then exit.
    Deliver,
}

pub async fn run(ctx: &Context, cmd: &AlertsCommand) -> anyhow::Result<u8> {
    match cmd {
        AlertsCommand::List { status, limit } => list(ctx, status.as_deref(), *limit),
        AlertsCommand::Retry { id, sink } => {
            let mut store = ctx.open_store()?;
            let queued = store.retry_alerts(*id, sink.as_deref(), &now_rfc3339())?;
            if ctx.json {
                output::json_line(&serde_json::json!({ "queued": queued }))?;
            } else {
                say!("{queued} failed alert(s) queued again");
            }
            if queued == 0 && id.is_some() {
                return Err(ExitError::not_found(format!(
                    "no failed alert with id {}",
                    id.unwrap_or_default()
                )));
            }
            Ok(exit::OK)
        }
        AlertsCommand::Deliver => {
            drop(ctx.open_store()?);
            let summary =
                crate::notify::deliver_round(&ctx.config, &ctx.db_path, &CancellationToken::new())
                    .await?;
            if ctx.json {
                output::json_line(&summary)?;
            } else {
                say!("{}", describe(&summary));
            }
            Ok(exit::OK)
        }
    }
}

/// One line about a delivery round, for people.
pub fn describe(s: &RoundSummary) -> String {
    let mut parts = vec![format!("{} sent", s.sent)];
    if s.retrying > 0 {
        parts.push(paint(YELLOW, format!("{} to retry", s.retrying)));
    }
    if s.failed > 0 {
        parts.push(paint(RED, format!("{} failed", s.failed)));
    }
    if s.deferred > 0 {
        parts.push(format!(
            "{} held back by a rate limit or digest",
            s.deferred
        ));
    }
    format!("alerts: {}", parts.join(", "))
}

fn list(ctx: &Context, status: Option<&str>, limit: usize) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let rows = store.outbox(status, limit)?;
    let counts = store.alert_counts()?;
    let mut sinks: Vec<serde_json::Value> = Vec::new();
    for entry in &ctx.config.alerts {
        let target = match entry.kind {
            SinkKind::Email => format!(
                "{}:{} -> {}",
                entry.smtp_host.as_deref().unwrap_or(""),
                entry.smtp_port.map_or("default".into(), |p| p.to_string()),
                entry.to.join(", ")
            ),
            SinkKind::Command => entry.command.join(" "),
            _ => crate::pure::secret::redact_url(entry.url.as_deref().unwrap_or_default(), true),
        };
        let count = |st: &str| {
            counts
                .iter()
                .find(|c| c.sink == entry.name && c.status == st)
                .map_or(0, |c| c.count)
        };
        let last_error = rows
            .iter()
            .filter(|r| r.sink == entry.name && r.status != "sent" && r.status != "suppressed")
            .find_map(|r| r.last_error.clone());
        sinks.push(serde_json::json!({
            "name": entry.name,
            "kind": entry.kind.as_str(),
            "target": target,
            "configured": true,
            "pending": count("pending"),
            "sent": count("sent"),
            "failed": count("failed"),
            "suppressed": count("suppressed"),
            "last_error": last_error,
        }));
    }
    // Rows of sinks that left the configuration are shown too: they will not be delivered.
    for c in &counts {
        if !ctx.config.alerts.iter().any(|e| e.name == c.sink)
            && !sinks.iter().any(|s| s["name"] == c.sink.as_str())
        {
            sinks.push(serde_json::json!({
                "name": c.sink, "configured": false,
                "last_error": format!("no [[alert]] named {:?} in the configuration", c.sink),
            }));
        }
    }
    if ctx.json {
        output::json_pretty(&serde_json::json!({ "sinks": sinks, "alerts": rows }))?;
        return Ok(exit::OK);
    }
    if sinks.is_empty() {
        say!("no alert sinks: add an [[alert]] to the config (see `stet config example`)");
    }
    for s in &sinks {
        let name = s["name"].as_str().unwrap_or("");
        if s["configured"] == false {
            say!(
                "{} {}",
                paint(BOLD, name),
                paint(RED, "not configured: its alerts are not delivered")
            );
            continue;
        }
        say!(
            "{} ({}) {}: {} pending, {} sent, {} failed",
            paint(BOLD, name),
            s["kind"].as_str().unwrap_or(""),
            paint(DIM, s["target"].as_str().unwrap_or("")),
            s["pending"],
            s["sent"],
            s["failed"]
        );
        if let Some(e) = s["last_error"].as_str() {
            say!("  {} {}", paint(RED, "last error:"), e);
        }
    }
    if rows.is_empty() {
        return Ok(exit::OK);
    }
    let table_rows = rows
        .iter()
        .map(|r| {
            let versions = match (r.from_version, r.version) {
                (Some(f), Some(t)) => format!("v{f}\u{2192}v{t}"),
                (None, Some(t)) => format!("v{t}"),
                _ => "-".into(),
            };
            let note = match r.status.as_str() {
                "sent" => r.sent_at.clone().unwrap_or_default(),
                "pending" => match (&r.last_error, &r.next_attempt_at) {
                    (Some(e), Some(n)) => format!("next {n}: {e}"),
                    (None, Some(n)) => format!("due {n}"),
                    _ => String::new(),
                },
                _ => r.last_error.clone().unwrap_or_default(),
            };
            // The whole error is in `--json` and on the sink's line above.
            let note = if note.chars().count() > 100 {
                format!("{}\u{2026}", note.chars().take(99).collect::<String>())
            } else {
                note
            };
            vec![
                r.id.to_string(),
                r.sink.clone(),
                r.status.clone(),
                r.event.to_string(),
                versions,
                r.url.clone(),
                r.attempts.to_string(),
                note,
            ]
        })
        .collect();
    say!(
        "{}",
        output::table(
            &[
                "id", "sink", "status", "event", "versions", "url", "attempts", "note"
            ],
            table_rows
        )
    );
    Ok(exit::OK)
}
