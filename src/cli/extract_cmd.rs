//! `stet extract FILE|URL`: what stet would archive and hash for a page, without a database.
//! For finding out why a page alerts, or does not: `--explain` lists every block of text left
//! out of the article and the rule that removed it.

use std::io::Read;

use clap::Args;

use super::exit;
use super::output::{self, BOLD, DIM, paint};
use crate::pure::budget::{Budget, explain_within};
use crate::pure::extract::{self, decode};
use crate::pure::fingerprint::Fingerprint;
use crate::say;

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// A saved HTML page, - for standard input, or an http(s) URL to fetch.
    pub page: String,
    /// The URL the page came from (resolves relative links in metadata; default: the URL
    /// fetched, or https://example.org/article for a file).
    #[arg(long)]
    pub url: Option<String>,
    /// Show which blocks were removed from the article, and by which rule.
    #[arg(long)]
    pub explain: bool,
    /// CSS selector of the article container (as `select` in a [[watch]]).
    #[arg(long, value_name = "CSS")]
    pub select: Option<String>,
    /// CSS selector of elements to remove first (as `ignore`); may be repeated.
    #[arg(long, value_name = "CSS")]
    pub ignore: Vec<String>,
    /// Regular expression of lines to drop (as `ignore_text`); may be repeated.
    #[arg(long, value_name = "REGEX")]
    pub ignore_text: Vec<String>,
}

pub async fn run(
    args: &ExtractArgs,
    config: &crate::config::Config,
    json: bool,
) -> anyhow::Result<u8> {
    let is_url = args.page.starts_with("http://") || args.page.starts_with("https://");
    let (body, content_type, page_url) = if is_url {
        let url = crate::net::fetch::parse_watch_url(&args.page)?;
        let fetcher = crate::net::fetch::Fetcher::new(&config.fetch)?;
        let response = fetcher
            .fetch(url.as_str(), &Default::default())
            .await
            .map_err(|e| anyhow::anyhow!("cannot fetch {url}: {e}"))?;
        let body = match response.payload {
            crate::net::fetch::Payload::Body(b) => b,
            crate::net::fetch::Payload::TooLarge { limit } => {
                anyhow::bail!("{url}: the body is over {limit} bytes")
            }
            crate::net::fetch::Payload::NotModified => anyhow::bail!("{url}: 304 not modified"),
        };
        if response.status >= 400 {
            say!("{}", paint(DIM, format!("http {}", response.status)));
        }
        (body, response.content_type, response.final_url)
    } else {
        let mut body = Vec::new();
        if args.page == "-" {
            std::io::stdin().read_to_end(&mut body)?;
        } else {
            body = std::fs::read(&args.page)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.page))?;
        }
        (body, None, "https://example.org/article".to_string())
    };
    let url = args.url.clone().unwrap_or(page_url);
    let rules = rules(args, config, &url)?;
    let html = decode(&body, content_type.as_deref());
    let explained = match explain_within(&html, &url, &rules, &Budget::default()) {
        Ok(explained) => explained,
        Err(reason) => {
            if json {
                output::json_pretty(&serde_json::json!({
                    "error": "too_complex",
                    "reason": reason.to_string(),
                }))?;
            } else {
                say!("too_complex: {reason}");
            }
            return Ok(exit::FAILURE);
        }
    };
    let article = &explained.article;
    let fp = Fingerprint::of(article);
    if json {
        let removed: Vec<_> = explained
            .removed
            .iter()
            .map(|r| serde_json::json!({"text": r.text, "rule": r.rule.to_string()}))
            .collect();
        let mut value = serde_json::json!({
            "title": article.title,
            "headlines": article.headlines,
            "byline": article.byline,
            "published": article.published,
            "looks_not_found": article.looks_not_found,
            "content_hash": fp.content_hash,
            "canonical_text": fp.canonical_text,
            "extractor": extract::EXTRACTOR,
        });
        if args.explain {
            value["kept"] = serde_json::json!(article.paragraphs);
            value["removed"] = serde_json::json!(removed);
        }
        output::json_pretty(&value)?;
        return Ok(exit::OK);
    }
    say!("{}", paint(BOLD, &article.title));
    for h in &article.headlines {
        say!("{}", paint(DIM, format!("also headlined: {h}")));
    }
    say!(
        "{}",
        paint(
            DIM,
            format!(
                "content hash {}\n{} paragraph(s){}",
                fp.content_hash,
                article.paragraphs.len(),
                if article.looks_not_found {
                    "; looks like a 'not found' page"
                } else {
                    ""
                }
            )
        )
    );
    if args.explain {
        say!("\n{}", paint(BOLD, "kept"));
        for p in &article.paragraphs {
            say!("  + {}", excerpt(p));
        }
        say!("\n{}", paint(BOLD, "removed"));
        for r in &explained.removed {
            say!("  - [{}] {}", r.rule, excerpt(&r.text));
        }
        return Ok(exit::OK);
    }
    for p in fp.canonical_text.lines().skip(1) {
        say!("\n{p}");
    }
    Ok(exit::OK)
}

/// The rules given on the command line, or else those of the config's entry for this URL.
fn rules(
    args: &ExtractArgs,
    config: &crate::config::Config,
    url: &str,
) -> anyhow::Result<extract::Options> {
    if args.select.is_some() || !args.ignore.is_empty() || !args.ignore_text.is_empty() {
        return Ok(extract::Options::new(
            args.select.as_deref(),
            &args.ignore,
            &args.ignore_text,
        )?);
    }
    let same = |u: &str| crate::net::fetch::parse_watch_url(u).is_ok_and(|u| u.as_str() == url);
    match config.watches.iter().find(|w| same(&w.url)) {
        Some(w) => Ok(w.extract_options()?),
        None => Ok(extract::Options::default()),
    }
}

/// A block of text on one line, cut at 100 characters.
fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}
