//! `stet diff URL [--from N] [--to M]`: what changed between two versions.

use clap::Args;

use super::output::{self, BOLD, DIM, GREEN, RED, paint};
use super::{Context, ExitError, exit};
use crate::pure::diff::{diff, unified};
use crate::pure::model::VersionSeq;
use crate::say;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The article URL, as watched.
    pub url: String,
    /// The older version (default: the one before --to).
    #[arg(long)]
    pub from: Option<i64>,
    /// The newer version (default: the latest).
    #[arg(long)]
    pub to: Option<i64>,
    /// Unchanged paragraphs shown around each change.
    #[arg(long, default_value_t = 1)]
    pub context: usize,
}

pub fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<u8> {
    let store = ctx.open_reader()?;
    let id = ctx.watch_id(&store, &args.url)?;
    let versions = store.versions(id)?;
    let Some(latest) = versions.last() else {
        return Err(ExitError::not_found(format!(
            "{} has no stored version yet",
            args.url
        )));
    };
    let to = args.to.map(VersionSeq).unwrap_or(latest.seq);
    let from = match args.from {
        Some(f) => VersionSeq(f),
        None if to.0 > 1 => VersionSeq(to.0 - 1),
        None => {
            if !ctx.json {
                say!("{} has one version only: nothing to compare", args.url);
            }
            return Ok(exit::OK);
        }
    };
    let load = |seq: VersionSeq| -> anyhow::Result<crate::store::Version> {
        store
            .version(id, Some(seq))?
            .ok_or_else(|| ExitError::not_found(format!("{} has no version {seq}", args.url)))
    };
    let (old, new) = (load(from)?, load(to)?);
    let report = diff(&old.text, &new.text, args.context);
    if ctx.json {
        output::json_pretty(&serde_json::json!({
            "url": args.url,
            "from": {"version": from, "captured_at": old.meta.captured_at, "content_hash": old.meta.content_hash,
                     "byline": old.meta.byline, "published": old.meta.published},
            "to": {"version": to, "captured_at": new.meta.captured_at, "content_hash": new.meta.content_hash,
                   "byline": new.meta.byline, "published": new.meta.published},
            "words_added": report.words_added,
            "words_removed": report.words_removed,
            "hunks": report.hunks,
        }))?;
        return Ok(exit::OK);
    }
    let label =
        |v: &crate::store::Version| format!("{} v{} {}", args.url, v.meta.seq, v.meta.captured_at);
    if !output::stdout_is_terminal() {
        let text = unified(
            &old.text,
            &new.text,
            &label(&old),
            &label(&new),
            args.context,
        );
        output::raw(text.as_bytes())?;
        return Ok(exit::OK);
    }
    say!("{}", paint(RED, format!("--- {}", label(&old))));
    say!("{}", paint(GREEN, format!("+++ {}", label(&new))));
    for (what, a, b) in [
        ("byline", &old.meta.byline, &new.meta.byline),
        ("published", &old.meta.published, &new.meta.published),
    ] {
        if a != b {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            say!("{}", paint(RED, format!("-{what}: {}", show(a))));
            say!("{}", paint(GREEN, format!("+{what}: {}", show(b))));
        }
    }
    if report.hunks.is_empty() {
        say!("{}", paint(DIM, "the texts are identical"));
    }
    for hunk in &report.hunks {
        let first = hunk.lines.first();
        let at = first.and_then(|l| l.new_line.or(l.old_line)).unwrap_or(1);
        say!("{}", paint(DIM, format!("@@ paragraph {at} @@")));
        for line in &hunk.lines {
            say!("{}", output::diff_line(line));
        }
    }
    say!(
        "{}",
        paint(
            BOLD,
            format!(
                "{} word(s) added, {} removed",
                report.words_added, report.words_removed
            )
        )
    );
    Ok(exit::OK)
}
