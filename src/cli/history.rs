//! `stet history URL`: every version and event of one article.

use super::output::{self, BOLD, DIM, kind_cell, paint};
use super::{Context, UrlArgs, exit};
use crate::say;

pub fn run(ctx: &Context, args: &UrlArgs) -> anyhow::Result<u8> {
    let store = ctx.open_reader()?;
    let id = ctx.watch_id(&store, &args.url)?;
    let versions = store.versions(id)?;
    let events = store.events(id)?;
    let checks = store.checks(id)?;
    if ctx.json {
        output::json_pretty(&serde_json::json!({
            "url": args.url,
            "versions": versions,
            "events": events,
            "checks": checks,
        }))?;
        return Ok(exit::OK);
    }
    say!("{}", paint(BOLD, &args.url));
    if let Some(latest) = versions.last() {
        say!("{}", latest.title);
    }
    let rows = events
        .iter()
        .map(|e| {
            let mut detail = Vec::new();
            if let Some(s) = e.significance {
                detail.push(s.as_str().to_string());
            }
            if let Some(v) = e.reverted_to {
                detail.push(format!("text as in v{v}"));
            }
            if let Some(d) = &e.detail {
                detail.push(d.clone());
            }
            let title = e
                .version
                .filter(|_| {
                    e.from_version.is_some() || e.kind == crate::pure::model::CheckKind::Captured
                })
                .and_then(|v| versions.iter().find(|m| m.seq == v))
                .map(|m| m.content_hash.short())
                .unwrap_or_default();
            vec![
                comfy_table::Cell::new(&e.at),
                kind_cell(e.kind),
                comfy_table::Cell::new(e.version.map(|v| format!("v{v}")).unwrap_or_default()),
                comfy_table::Cell::new(title),
                comfy_table::Cell::new(detail.join("; ")),
            ]
        })
        .collect();
    say!(
        "{}",
        output::table(
            &["WHEN", "EVENT", "VERSION", "CONTENT HASH", "DETAIL"],
            rows
        )
    );
    let total: i64 = checks.iter().map(|c| c.count).sum();
    let errors: i64 = checks
        .iter()
        .filter(|c| c.kind == crate::pure::model::CheckKind::Error)
        .map(|c| c.count)
        .sum();
    let blocked: i64 = checks
        .iter()
        .filter(|c| c.kind == crate::pure::model::CheckKind::Blocked)
        .map(|c| c.count)
        .sum();
    for c in checks
        .iter()
        .filter(|c| c.kind == crate::pure::model::CheckKind::Blocked)
    {
        let until = if c.count > 1 {
            format!(" ({} checks, until {})", c.count, c.last_at)
        } else {
            String::new()
        };
        say!(
            "{}",
            paint(
                output::kind_style(crate::pure::model::CheckKind::Blocked),
                format!(
                    "blocked {}{until}: {}",
                    c.first_at,
                    c.detail.as_deref().unwrap_or("a wall")
                )
            )
        );
    }
    let last = checks.last().map(|c| c.last_at.as_str()).unwrap_or("never");
    say!(
        "{}",
        paint(
            DIM,
            format!(
                "{} version(s), {total} check(s) ({errors} failed, {blocked} blocked by a wall), last checked {last}",
                versions.len()
            )
        )
    );
    if versions.len() > 1 {
        say!(
            "{}",
            paint(DIM, format!("see the last change: stet diff {}", args.url))
        );
    }
    Ok(exit::OK)
}
