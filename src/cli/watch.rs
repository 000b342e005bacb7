//! `stet watch add|rm|list`: the watch list.

use clap::Subcommand;

use super::output::{self, BOLD, DIM, paint};
use super::{Context, ExitError, exit};
use crate::fetch::parse_watch_url;
use crate::model::now_rfc3339;
use crate::say;

#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Start watching article URLs (checked on the next pass).
    Add {
        /// Absolute http(s) URLs.
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Stop watching URLs. Their history stays in the archive.
    Rm {
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// List watched URLs with their status and number of versions.
    List {
        /// Include watches that were removed.
        #[arg(long)]
        all: bool,
    },
}

pub fn run(ctx: &Context, cmd: &WatchCommand) -> anyhow::Result<u8> {
    match cmd {
        WatchCommand::Add { urls } => {
            // Validate every URL before changing anything.
            let parsed = urls
                .iter()
                .map(|u| parse_watch_url(u).map_err(|e| ExitError::usage(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let mut store = ctx.open_store()?;
            let at = now_rfc3339();
            for url in parsed {
                let (_, added) = store.add_watch(url.as_str(), "cli", &at)?;
                if ctx.json {
                    output::json_line(&serde_json::json!({"url": url.as_str(), "added": added}))?;
                } else if added {
                    say!("watching {}", paint(BOLD, &url));
                } else {
                    say!("already watching {}", url);
                }
            }
            Ok(exit::OK)
        }
        WatchCommand::Rm { urls } => {
            let mut store = ctx.open_store()?;
            let at = now_rfc3339();
            let mut missing = 0;
            for url in urls {
                let normalised = parse_watch_url(url)
                    .map(|u| u.to_string())
                    .unwrap_or(url.clone());
                let removed = store.remove_watch(&normalised, &at)?;
                if ctx.json {
                    output::json_line(&serde_json::json!({"url": normalised, "removed": removed}))?;
                } else if removed {
                    say!("stopped watching {normalised} (its history is kept)");
                } else {
                    say!("not watched: {normalised}");
                }
                missing += usize::from(!removed);
            }
            Ok(if missing > 0 {
                exit::NOT_FOUND
            } else {
                exit::OK
            })
        }
        WatchCommand::List { all } => {
            let store = ctx.open_store()?;
            let watches = store.watches(*all)?;
            if ctx.json {
                for w in &watches {
                    output::json_line(w)?;
                }
                return Ok(exit::OK);
            }
            if watches.is_empty() {
                say!("no watches yet: add one with `stet watch add URL`");
                return Ok(exit::OK);
            }
            let rows = watches
                .iter()
                .map(|w| {
                    let status = if w.removed_at.is_some() {
                        "removed".to_string()
                    } else {
                        w.status.as_str().to_string()
                    };
                    vec![
                        w.url.clone(),
                        status,
                        w.versions.to_string(),
                        w.last_checked_at.clone().unwrap_or_else(|| "never".into()),
                        w.origin.clone(),
                        w.title.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            say!(
                "{}",
                output::table(
                    &["URL", "STATUS", "VERSIONS", "LAST CHECKED", "FROM", "TITLE"],
                    rows
                )
            );
            say!("{}", paint(DIM, format!("{} watch(es)", watches.len())));
            Ok(exit::OK)
        }
    }
}
