//! `stet extract FILE`: what stet would archive and hash for a saved page, without a database.
//! For finding out why a page alerts, or does not.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::exit;
use super::output::{self, BOLD, DIM, paint};
use crate::budget::{Budget, extract_within};
use crate::extract::decode;
use crate::fingerprint::Fingerprint;
use crate::say;

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// A saved HTML page, or - for standard input.
    pub file: PathBuf,
    /// The URL the page came from (resolves relative links in metadata).
    #[arg(long, default_value = "https://example.org/article")]
    pub url: String,
}

pub fn run(args: &ExtractArgs, json: bool) -> anyhow::Result<u8> {
    let mut body = Vec::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    }
    let article = match extract_within(&decode(&body, None), &args.url, &Budget::default()) {
        Ok(article) => article,
        Err(reason) => {
            if json {
                output::json_pretty(&serde_json::json!({
                    "error": "too_complex",
                    "reason": reason.to_string(),
                }))?;
            } else {
                crate::say!("too_complex: {reason}");
            }
            return Ok(exit::FAILURE);
        }
    };
    let fp = Fingerprint::of(&article);
    if json {
        output::json_pretty(&serde_json::json!({
            "title": article.title,
            "byline": article.byline,
            "published": article.published,
            "looks_not_found": article.looks_not_found,
            "content_hash": fp.content_hash,
            "canonical_text": fp.canonical_text,
        }))?;
        return Ok(exit::OK);
    }
    say!("{}", paint(BOLD, &article.title));
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
    for p in fp.canonical_text.lines().skip(1) {
        say!("\n{p}");
    }
    Ok(exit::OK)
}
