//! `stet diff URL [--from N] [--to M]`: what changed between two versions; `stet diff URL
//! --against OTHER_URL`: what the copy at URL cut, added and changed from the original at
//! OTHER_URL (their latest versions).

use clap::Args;

use super::output::{self, BOLD, CYAN, DIM, GREEN, GREEN_EMPH, RED, RED_EMPH, YELLOW, paint};
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
    /// Compare URL, as a copy, with the original at this watched URL (latest versions): what
    /// the copy cut, added and changed, word by word.
    #[arg(long, value_name = "OTHER_URL", conflicts_with_all = ["from", "to"])]
    pub against: Option<String>,
}

pub fn run(ctx: &Context, args: &DiffArgs) -> anyhow::Result<u8> {
    if let Some(original) = &args.against {
        return against(ctx, &args.url, original);
    }
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

/// `stet diff COPY --against ORIGINAL`.
fn against(ctx: &Context, copy_url: &str, original_url: &str) -> anyhow::Result<u8> {
    use crate::pure::copies::{self, Mark, Shingled, Thresholds};
    let store = ctx.open_reader()?;
    let latest = |url: &str| -> anyhow::Result<crate::store::Version> {
        let id = ctx.watch_id(&store, url)?;
        store
            .version(id, None)?
            .ok_or_else(|| ExitError::not_found(format!("{url} has no stored version yet")))
    };
    let (copy, original) = (latest(copy_url)?, latest(original_url)?);
    let d = copies::compare(&original.text, &copy.text);
    let (c, o) = (Shingled::of(&copy.text), Shingled::of(&original.text));
    let link = copies::verify(&c, &o, &Thresholds::default());
    let containment = link.map(|l| l.containment).unwrap_or_else(|| {
        copies::verify(
            &c,
            &o,
            &Thresholds {
                containment: 0.0,
                min_shingles: 1,
                min_shared: 0,
            },
        )
        .map_or(0.0, |l| l.containment)
    });
    let side = |url: &str, v: &crate::store::Version| {
        serde_json::json!({"url": url, "version": v.meta.seq, "captured_at": v.meta.captured_at,
                           "content_hash": v.meta.content_hash})
    };
    if ctx.json {
        output::json_pretty(&serde_json::json!({
            "copy": side(copy_url, &copy),
            "original": side(original_url, &original),
            "linked": link.is_some(),
            "containment": (containment * 1000.0).round() / 1000.0,
            "copied_words": d.copied_words,
            "cut_words": d.cut_words,
            "added_words": d.added_words,
            "changed_words": d.changed_words,
            "changes": d.changes,
            "original_span": d.original_span,
            "copy_span": d.copy_span,
            "original_text": d.original,
            "copy_text": d.copy,
        }))?;
        return Ok(exit::OK);
    }
    say!(
        "{}",
        paint(
            CYAN,
            format!(
                "original {original_url} v{} {}",
                original.meta.seq, original.meta.captured_at
            )
        )
    );
    say!(
        "{}",
        paint(
            CYAN,
            format!(
                "copy     {copy_url} v{} {}",
                copy.meta.seq, copy.meta.captured_at
            )
        )
    );
    if link.is_some() {
        say!(
            "the shorter text's shingles found in the longer: {:.0}%",
            containment * 100.0
        );
    } else {
        say!(
            "{}",
            paint(
                YELLOW,
                format!(
                    "these texts do not share an article (containment {:.0}%): the differences are shown all the same",
                    containment * 100.0
                )
            )
        );
    }
    // The copy, paragraph by paragraph, with what it added and changed marked, and what it cut
    // from the original shown where it was.
    let where_ = |in_span: bool| {
        if in_span {
            "inside the copied span"
        } else {
            "outside the copied span"
        }
    };
    for change in &d.changes {
        match change {
            copies::compare::Change::Cut { text, in_span } => {
                say!(
                    "{} {}",
                    paint(RED, format!("cut ({}):", where_(*in_span))),
                    paint(RED, text)
                );
            }
            copies::compare::Change::Added { text, in_span } => {
                say!(
                    "{} {}",
                    paint(GREEN, format!("added ({}):", where_(*in_span))),
                    paint(GREEN, text)
                );
            }
            copies::compare::Change::Changed { from, to } => {
                say!(
                    "{} {} {} {}",
                    paint(YELLOW, "changed:"),
                    paint(RED_EMPH, from),
                    paint(DIM, "->"),
                    paint(GREEN_EMPH, to)
                );
            }
        }
    }
    if d.changes.is_empty() {
        say!("{}", paint(DIM, "the copy is word for word the original"));
    }
    say!("{}", paint(BOLD, "the copy, marked:"));
    for p in &d.copy {
        let line: String = p
            .segments
            .iter()
            .map(|s| match s.mark {
                Mark::Copied => s.text.clone(),
                Mark::Added => paint(GREEN, format!("[+{}+]", s.text)),
                Mark::Changed => paint(YELLOW, format!("[~{}~]", s.text)),
                Mark::Cut => paint(RED, format!("[-{}-]", s.text)),
            })
            .collect::<Vec<_>>()
            .join(" ");
        say!("  {line}");
    }
    say!(
        "{}",
        paint(
            BOLD,
            format!(
                "{} word(s) copied, {} cut, {} added, {} changed",
                d.copied_words, d.cut_words, d.added_words, d.changed_words
            )
        )
    );
    Ok(exit::OK)
}
