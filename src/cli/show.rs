//! `stet show URL [--version N] [--raw]`: one stored version.

use std::io::Write;

use clap::Args;

use super::output::{self, BOLD, DIM, paint};
use super::{Context, ExitError, exit};
use crate::pure::model::VersionSeq;
use crate::say;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The article URL, as watched.
    pub url: String,
    /// Which version (default: the latest).
    #[arg(long)]
    pub version: Option<i64>,
    /// Print the raw page exactly as it was received, instead of the article text.
    #[arg(long)]
    pub raw: bool,
}

pub fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<u8> {
    let store = ctx.open_reader()?;
    let id = ctx.watch_id(&store, &args.url)?;
    let Some(version) = store.version(id, args.version.map(VersionSeq))? else {
        return Err(ExitError::not_found(match args.version {
            Some(v) => format!("{} has no version {v}", args.url),
            None => format!("{} has no stored version yet", args.url),
        }));
    };
    if args.raw {
        let body = store.blob(&version.meta.body_hash)?.ok_or_else(|| {
            anyhow::anyhow!(
                "the raw body {} is missing from the archive",
                version.meta.body_hash
            )
        })?;
        std::io::stdout().lock().write_all(&body)?;
        return Ok(exit::OK);
    }
    if ctx.json {
        output::json_pretty(&version)?;
        return Ok(exit::OK);
    }
    let m = &version.meta;
    let mut lines = version.text.lines();
    let title = lines.next().unwrap_or_default();
    say!("{}", paint(BOLD, title));
    if let Some(byline) = &m.byline {
        say!("{byline}");
    }
    say!(
        "{}",
        paint(
            DIM,
            format!(
                "version {} captured {} from {}\ncontent {}\nraw body {}",
                m.seq, m.captured_at, m.final_url, m.content_hash, m.body_hash
            )
        )
    );
    for paragraph in lines {
        say!("\n{paragraph}");
    }
    Ok(exit::OK)
}
