//! `stet watch add|rm|list`: the watch list.

use clap::Subcommand;

use super::output::{self, BOLD, DIM, paint};
use super::{Context, ExitError, exit};
use crate::net::fetch::parse_watch_url;
use crate::pure::model::WatchId;
use crate::pure::model::now_rfc3339;
use crate::say;
use crate::store::{WatchPage, WatchSummary};

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
    /// List watched URLs with their status and number of versions, in the order they were
    /// added. Streams: a long list starts printing at once, in constant memory.
    List {
        /// Include watches that were removed.
        #[arg(long)]
        all: bool,
        /// Print at most this many watches.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Start after this watch (its id, as `--json` prints it, or its URL): the next page
        /// after one printed with --limit.
        #[arg(long, value_name = "ID|URL")]
        after: Option<String>,
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
        WatchCommand::List { all, limit, after } => list(ctx, *all, *limit, after.as_deref()),
    }
}

/// Watches read from the archive per page: bounds the memory of a listing of any length.
const PAGE: usize = 1000;

fn list(ctx: &Context, all: bool, limit: Option<usize>, after: Option<&str>) -> anyhow::Result<u8> {
    let store = ctx.open_store()?;
    let mut after = match after {
        None => None,
        Some(s) => Some(match s.parse::<i64>() {
            Ok(id) => WatchId(id),
            Err(_) => ctx.watch_id(&store, s)?,
        }),
    };
    let mut left = limit.unwrap_or(usize::MAX);
    let mut printed = 0usize;
    let mut table: Option<Columns> = None;
    while left > 0 {
        let page = store.watch_page(WatchPage {
            after,
            limit: left.min(PAGE),
            include_removed: all,
        })?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        left -= page.len();
        printed += page.len();
        let full = page.len() == PAGE;
        // One write per page: a line at a time costs a system call per watch.
        if ctx.json {
            let mut out = Vec::with_capacity(page.len() * 256);
            for w in &page {
                serde_json::to_writer(&mut out, w)?;
                out.push(b'\n');
            }
            output::raw(&out)?;
        } else {
            let rows: Vec<[String; 6]> = page.iter().map(row).collect();
            let mut out = String::with_capacity(page.len() * 160);
            let columns = table.get_or_insert_with(|| {
                let columns = Columns::fitting(&rows);
                out.push_str(&columns.header());
                out.push('\n');
                columns
            });
            for r in &rows {
                out.push_str(&columns.line(r));
                out.push('\n');
            }
            output::styled(&out);
        }
        if !full {
            break;
        }
    }
    if ctx.json {
        return Ok(exit::OK);
    }
    if printed == 0 {
        if after.is_none() {
            say!("no watches yet: add one with `stet watch add URL`");
        } else {
            say!("no more watches");
        }
        return Ok(exit::OK);
    }
    let more = left == 0
        && !store
            .watch_page(WatchPage {
                after,
                limit: 1,
                include_removed: all,
            })?
            .is_empty();
    let mut footer = format!("{printed} watch(es)");
    if let (true, Some(id)) = (more, after) {
        footer.push_str(&format!("; more with --after {}", id.0));
    }
    say!("{}", paint(DIM, footer));
    Ok(exit::OK)
}

const HEADER: [&str; 6] = ["URL", "STATUS", "VERSIONS", "LAST CHECKED", "FROM", "TITLE"];

fn row(w: &WatchSummary) -> [String; 6] {
    let status = if w.removed_at.is_some() {
        "removed".to_string()
    } else {
        w.status.as_str().to_string()
    };
    [
        w.url.clone(),
        status,
        w.versions.to_string(),
        w.last_checked_at.clone().unwrap_or_else(|| "never".into()),
        w.origin.clone(),
        w.title.clone().unwrap_or_default(),
    ]
}

/// Column widths taken from the first page, so rows print as they are read; a longer value
/// in a later page pushes its line out rather than holding the listing back.
struct Columns([usize; 6]);

impl Columns {
    fn fitting(rows: &[[String; 6]]) -> Self {
        let mut widths = HEADER.map(|h| h.chars().count());
        for r in rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        Self(widths)
    }

    fn header(&self) -> String {
        let header = self.line(&HEADER.map(String::from));
        let rule = "─".repeat(header.chars().count());
        format!("{}\n{}", paint(BOLD, header), paint(DIM, rule))
    }

    fn line(&self, cells: &[String; 6]) -> String {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(self.0).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                let pad = width.saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        line.trim_end().to_string()
    }
}
