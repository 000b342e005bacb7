//! `stet feed add|rm|list|poll`: feeds whose new articles become watches.

use clap::Subcommand;

use super::output::{self, BOLD, DIM, paint};
use super::{Context, ExitError, exit};
use crate::app::check::Checker;
use crate::net::fetch::parse_watch_url;
use crate::pure::model::now_rfc3339;
use crate::say;

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Start polling RSS, Atom or sitemap URLs for new articles.
    Add {
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Stop polling feeds. The articles they found stay watched.
    Rm {
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// List feeds with when they were polled and how many articles they found.
    List {
        /// Include feeds that were removed.
        #[arg(long)]
        all: bool,
    },
    /// Poll every feed now and add the new articles as watches.
    Poll,
}

pub async fn run(ctx: &Context, cmd: &FeedCommand) -> anyhow::Result<u8> {
    match cmd {
        FeedCommand::Add { urls } => {
            let parsed = urls
                .iter()
                .map(|u| parse_watch_url(u).map_err(|e| ExitError::usage(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let mut store = ctx.open_store()?;
            for url in parsed {
                let added = store.add_feed(url.as_str(), "cli", &now_rfc3339())?;
                if ctx.json {
                    output::json_line(&serde_json::json!({"url": url.as_str(), "added": added}))?;
                } else if added {
                    say!("polling {}", paint(BOLD, &url));
                } else {
                    say!("already polling {url}");
                }
            }
            Ok(exit::OK)
        }
        FeedCommand::Rm { urls } => {
            let mut store = ctx.open_store()?;
            let mut missing = false;
            for url in urls {
                let url = parse_watch_url(url)
                    .map(|u| u.to_string())
                    .unwrap_or(url.clone());
                let removed = store.remove_feed(&url, &now_rfc3339())?;
                missing |= !removed;
                if ctx.json {
                    output::json_line(&serde_json::json!({"url": url, "removed": removed}))?;
                } else if removed {
                    say!("stopped polling {url} (its articles stay watched)");
                } else {
                    say!("not polled: {url}");
                }
            }
            Ok(if missing { exit::NOT_FOUND } else { exit::OK })
        }
        FeedCommand::List { all } => {
            let store = ctx.open_store()?;
            let feeds = store.feeds(*all)?;
            if ctx.json {
                for f in &feeds {
                    output::json_line(f)?;
                }
                return Ok(exit::OK);
            }
            if feeds.is_empty() {
                say!("no feeds yet: add one with `stet feed add URL` or a [[feed]] in the config");
                return Ok(exit::OK);
            }
            let rows = feeds
                .iter()
                .map(|f| {
                    vec![
                        f.url.clone(),
                        f.discovered.to_string(),
                        f.last_polled_at.clone().unwrap_or_else(|| "never".into()),
                        f.last_error.clone().unwrap_or_default(),
                        f.origin.clone(),
                    ]
                })
                .collect();
            say!(
                "{}",
                output::table(
                    &["FEED", "ARTICLES", "LAST POLLED", "LAST ERROR", "FROM"],
                    rows
                )
            );
            Ok(exit::OK)
        }
        FeedCommand::Poll => {
            let store = ctx.open_store()?;
            let feeds = store.feeds(false)?;
            drop(store);
            let checker = Checker::new(&ctx.config)?;
            for feed in &feeds {
                let report =
                    crate::net::feeds::poll(&checker, &ctx.config, &ctx.db_path, feed).await;
                if ctx.json {
                    output::json_line(&report)?;
                    continue;
                }
                say!(
                    "{}: {} new article(s){}{}",
                    paint(BOLD, &feed.url),
                    report.added.len(),
                    if report.deferred > 0 {
                        format!(", {} left for the next poll", report.deferred)
                    } else {
                        String::new()
                    },
                    report
                        .error
                        .as_ref()
                        .map(|e| format!(", error: {e}"))
                        .unwrap_or_default()
                );
                for url in &report.added {
                    say!("  + {url}");
                }
                for (url, why) in &report.refused {
                    say!("  {} {url}: {why}", paint(DIM, "refused"));
                }
            }
            Ok(exit::OK)
        }
    }
}
