//! `stet demo`: stet at work with no network: a local news site whose article is edited, wrapped
//! in changing page noise, briefly unavailable, deleted and restored, checked after each step.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::exit;
use super::output::{self, BOLD, DIM, kind_style, paint};
use crate::app::check::{CheckReport, run_pass};
use crate::config::Config;
use crate::pure::diff::{LineTag, diff};
use crate::pure::model::{VersionSeq, now_rfc3339};
use crate::say;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo archive in this file instead of a new temporary one.
    #[arg(long)]
    pub keep: Option<PathBuf>,
}

const ARTICLE_PATH: &str = "/2026/11/27/harbour-bridge-closure";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Unavailable,
    Gone,
}

struct Site {
    mode: Mode,
    /// Changes on every load, like a real page's ads, timestamps and counters.
    loads: u32,
    paragraphs: Vec<String>,
    headline: String,
}

type Shared = Arc<Mutex<Site>>;

/// A change made to the site before a check.
type Step = Box<dyn Fn(&mut Site)>;

fn original_paragraphs() -> Vec<String> {
    [
        "The Harbour Bridge will close to traffic for six weeks from Monday while engineers replace corroded cables, the city council said on Thursday.",
        "\"We have no choice; the cables are at the end of their life,\" said council engineer Maria Lopes. \"Safety comes first.\"",
        "About 40,000 vehicles cross the bridge every day. Buses will be diverted through the Eastern Tunnel, adding up to 25 minutes to journeys.",
        "Local businesses said they had been given only four days' notice and warned of lost trade during the busiest season of the year.",
        "The council said the work would cost 12 million euros and that an independent review of the bridge's maintenance would follow.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Straight quotes made typographic, as an editor's tool does: a quote that opens (at the
/// start, or after a space or an opening bracket) becomes ‘ or “, any other ’ or ”.
fn curly_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for c in text.chars() {
        let opens = prev.is_none_or(|p| p.is_whitespace() || "([{\u{2014}\u{2013}".contains(p));
        out.push(match (c, opens) {
            ('"', true) => '\u{201c}',
            ('"', false) => '\u{201d}',
            ('\'', true) => '\u{2018}',
            ('\'', false) => '\u{2019}',
            _ => c,
        });
        prev = Some(c);
    }
    out
}

fn page(site: &Site) -> String {
    let n = site.loads;
    let ads = [
        "Win a weekend in Lisbon!",
        "Switch energy supplier today",
        "New: the Daily app",
    ];
    let mut related = [
        "Ferry fares to rise",
        "New tram line opens",
        "Council budget approved",
    ];
    related.rotate_left((n % 3) as usize);
    let mut body = String::new();
    for (i, p) in site.paragraphs.iter().enumerate() {
        body.push_str(&format!("<p>{p}</p>\n"));
        if i == 1 {
            body.push_str(&format!(
                "<div class=\"ad-slot\"><p>Advertisement</p><p>{}</p></div>\n",
                ads[(n % 3) as usize]
            ));
        }
    }
    let related: String = related
        .iter()
        .map(|r| format!("<li><a href=\"/r\">{r}</a></li>"))
        .collect();
    format!(
        r##"<!doctype html><html><head><meta charset="utf-8"><title>{headline} | The Harbour Daily</title>
<link rel="stylesheet" href="/static/site.css?v={n}"><script nonce="n{n}x">window.pageView={n};</script></head>
<body><nav class="site-nav"><a href="/">Home</a> <a href="/city">City</a> <a href="/sport">Sport</a></nav>
<main><article><h1>{headline}</h1>
<p class="meta">By Tom Reed · <span class="ago">{mins} minutes ago</span> · <a class="comments" href="#c">{comments} comments</a></p>
{body}</article></main>
<aside class="sidebar"><h2>Related</h2><ul>{related}</ul></aside>
<form><input type="hidden" name="csrf" value="tok{n}"></form>
<footer>© 2026 The Harbour Daily · Page generated in {gen} ms</footer></body></html>"##,
        headline = site.headline,
        mins = 3 + n * 7,
        comments = 12 + n * 5,
        gen = 40 + n % 17,
    )
}

async fn article(State(site): State<Shared>) -> impl IntoResponse {
    let mut site = site.lock().expect("demo site lock");
    site.loads += 1;
    match site.mode {
        Mode::Live => (StatusCode::OK, Html(page(&site))).into_response(),
        Mode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response(),
        Mode::Gone => (
            StatusCode::NOT_FOUND,
            Html("<h1>Not found</h1>".to_string()),
        )
            .into_response(),
    }
}

pub async fn run(args: &DemoArgs, json: bool) -> anyhow::Result<u8> {
    let site: Shared = Arc::new(Mutex::new(Site {
        mode: Mode::Live,
        loads: 0,
        paragraphs: original_paragraphs(),
        headline: "Harbour Bridge to close for six weeks of repairs".into(),
    }));
    let app = Router::new()
        .route(ARTICLE_PATH, get(article))
        .with_state(site.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server_stop = CancellationToken::new();
    let stop = server_stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    let url = format!("http://{addr}{ARTICLE_PATH}");
    let db_path = match &args.keep {
        Some(p) => p.clone(),
        None => std::env::temp_dir().join(format!("stet-demo-{}.db", std::process::id())),
    };
    let mut config = Config::default();
    config.fetch.timeout_secs = 5;
    config.storage.path = db_path.clone();
    {
        let mut store = Store::open(&db_path)?;
        store.add_watch(&url, "cli", &now_rfc3339())?;
    }
    if !json {
        say!(
            "{}",
            paint(
                BOLD,
                "stet demo: a local news site on this machine, no network needed"
            )
        );
        say!("archive: {}\narticle: {url}\n", db_path.display());
    }

    let edit = |f: &dyn Fn(&mut Site)| f(&mut site.lock().expect("demo site lock"));
    let steps: Vec<(&str, Step)> = vec![
        (
            "First check: the article is captured as version 1.",
            Box::new(|_| {}),
        ),
        (
            "The page reloads with a new ad, a new 'minutes ago', more comments, reordered related links and a new script nonce. None of it is the article: no alert.",
            Box::new(|_| {}),
        ),
        (
            "The newsroom quietly edits the story: a number changes and a quote is softened.",
            Box::new(|s| {
                s.paragraphs[2] = s.paragraphs[2].replace("40,000", "25,000");
                s.paragraphs[1] = s.paragraphs[1].replace(
                    "We have no choice; the cables are at the end of their life",
                    "The cables need attention",
                );
            }),
        ),
        (
            "Only typography changes (straight quotes become curly ones): an edit, but a minor one.",
            Box::new(|s| {
                s.paragraphs[1] = curly_quotes(&s.paragraphs[1]);
            }),
        ),
        (
            "The site has an outage (503): recorded as an error, never as a deletion.",
            Box::new(|s| s.mode = Mode::Unavailable),
        ),
        (
            "The story is pulled (404). One check is not proof: it is only 'missing'.",
            Box::new(|s| s.mode = Mode::Gone),
        ),
        (
            "Still 404 on the confirmation check: deleted.",
            Box::new(|_| {}),
        ),
        (
            "The story comes back, with a paragraph dropped.",
            Box::new(|s| {
                s.mode = Mode::Live;
                s.paragraphs.remove(3);
            }),
        ),
    ];
    for (i, (story, change)) in steps.iter().enumerate() {
        edit(change.as_ref());
        if !json {
            say!("{} {story}", paint(BOLD, format!("{}.", i + 1)));
        }
        let store = Store::open(&db_path)?;
        let targets = store.check_targets(None)?;
        drop(store);
        let mut reports: Vec<CheckReport> = Vec::new();
        run_pass(
            &config,
            &(&db_path).into(),
            targets,
            CancellationToken::new(),
            |r| reports.push(r.clone()),
        )
        .await?;
        for r in &reports {
            if json {
                output::json_line(r)?;
                continue;
            }
            let mut line = format!(
                "   stet check -> {}",
                paint(kind_style(r.kind), r.kind.as_str())
            );
            if let Some(v) = r.version {
                line.push_str(&format!(" v{v}"));
            }
            if let Some(s) = r.significance {
                line.push_str(&format!(" ({})", s.as_str()));
            }
            if let Some(d) = &r.detail {
                line.push_str(&paint(DIM, format!(" [{d}]")));
            }
            say!("{line}");
            if r.version.is_some_and(|v| v.0 > 1) && r.kind.is_event() && r.significance.is_some() {
                print_change(&db_path, &url, r.version.unwrap_or(VersionSeq(1)))?;
            }
        }
    }
    server_stop.cancel();
    if !json {
        say!(
            "\nExplore the archive:\n  stet --db {db} history {url}\n  stet --db {db} diff {url} --from 1 --to 2\n  stet --db {db} show {url} --version 1",
            db = db_path.display()
        );
    }
    Ok(exit::OK)
}

/// Prints the word diff between `to` and the version before it.
fn print_change(db_path: &std::path::Path, url: &str, to: VersionSeq) -> anyhow::Result<()> {
    let store = Store::open(db_path)?;
    let Some(id) = store.watch_id(url)? else {
        return Ok(());
    };
    let (Some(old), Some(new)) = (
        store.version(id, Some(VersionSeq(to.0 - 1)))?,
        store.version(id, Some(to))?,
    ) else {
        return Ok(());
    };
    for hunk in diff(&old.text, &new.text, 0).hunks {
        for line in hunk.lines.iter().filter(|l| l.tag != LineTag::Equal) {
            say!("     {}", output::diff_line(line));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::curly_quotes;

    #[test]
    fn curly_quotes_open_and_close() {
        assert_eq!(
            curly_quotes("\"The cables need attention,\" said Lopes. \"Safety comes first.\""),
            "\u{201c}The cables need attention,\u{201d} said Lopes. \u{201c}Safety comes first.\u{201d}"
        );
        assert_eq!(
            curly_quotes("four days' notice"),
            "four days\u{2019} notice"
        );
        assert_eq!(curly_quotes("('quoted')"), "(\u{2018}quoted\u{2019})");
    }
}
