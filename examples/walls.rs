//! Measures the wall detector on real pages: every page of the shared corpus
//! (`../shared/corpus/extraction-dev` and `readability`, full articles) read as stet reads a
//! first check (a page flagged walled is a false positive), and walled variants made from each:
//! the article's paragraphs after the second replaced by a paywall box, a registration box, an
//! empty provider container with schema.org markup, or nothing (a real cut, which must not be
//! flagged); and the body replaced by a consent overlay. Each variant is judged against the
//! full page's text, as the writer judges a check against the latest version.
//!
//! ```text
//! cargo run --release --example walls [-- --corpus DIR] [--verbose]
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use dom_query::Document;
use stet::pure::{extract, fingerprint::Fingerprint, wall};

const SCHEMA: &str = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","isAccessibleForFree":false,"hasPart":{"@type":"WebPageElement","isAccessibleForFree":false,"cssSelector":".stet-paid-part"}}</script>"#;
const PAYWALL: &str = "<div class=\"offer\"><h2>Subscribe to continue reading</h2><p>Get unlimited access for 1 euro a week.</p><a href=\"/s\">Subscribe now</a> <a href=\"/login\">Already a subscriber? Log in</a></div>";
const REGWALL: &str = "<div class=\"regwall\"><p>Create a free account to keep reading this article.</p><a href=\"/r\">Register for free</a></div>";
const PIANO: &str = "<div class=\"tp-container-inner\"></div>";
const CONSENT: &str = "<div id=\"didomi-host\"><div class=\"didomi-popup\"><h2>We value your privacy</h2><p>We and our partners store and access information on your device, such as cookies.</p><button>Accept and continue</button></div></div>";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Paywall,
    Registration,
    Schema,
    Consent,
    Cut,
}

const VARIANTS: [(Variant, &str); 5] = [
    (Variant::Paywall, "paywall box after two paragraphs"),
    (
        Variant::Registration,
        "registration box after two paragraphs",
    ),
    (
        Variant::Schema,
        "schema.org markup and an empty piano container",
    ),
    (Variant::Consent, "consent overlay in place of the body"),
    (
        Variant::Cut,
        "cut after two paragraphs, no wall (must not flag)",
    ),
];

fn paragraphs(html: &str) -> Vec<String> {
    let article = extract::extract(html, "https://news.example/a/b");
    Fingerprint::of(&article)
        .canonical_text
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The page with the article's paragraphs after the second removed and `wall_box` in their
/// place; `None` when the extracted paragraphs cannot be found as `<p>` elements.
fn cut(html: &str, full: &[String], variant: Variant) -> Option<String> {
    if variant == Variant::Consent {
        let doc = Document::from(html);
        doc.select("body").set_html(CONSENT);
        return Some(doc.html().to_string());
    }
    let doc = Document::from(html);
    let wanted: Vec<String> = full.iter().map(|p| fold(p)).collect();
    let mut seen = 0;
    let mut removed = 0;
    for node in doc.select("p").nodes() {
        let text = fold(&node.text());
        if text.is_empty() || !wanted.contains(&text) {
            continue;
        }
        seen += 1;
        if seen <= 2 {
            continue;
        }
        if removed == 0 {
            let wall_box = match variant {
                Variant::Paywall => PAYWALL,
                Variant::Registration => REGWALL,
                Variant::Schema => PIANO,
                Variant::Cut | Variant::Consent => "",
            };
            node.replace_with_html(wall_box);
        } else {
            node.remove_from_parent();
        }
        removed += 1;
    }
    if removed < 2 {
        return None;
    }
    if variant == Variant::Schema {
        doc.select("head").append_html(SCHEMA);
    }
    Some(doc.html().to_string())
}

fn pages(corpus: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let dev = corpus.join("extraction-dev/pages");
    if let Ok(dir) = std::fs::read_dir(&dev) {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let mut bytes = Vec::new();
            if flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
                .read_to_end(&mut bytes)
                .is_ok()
            {
                let name = f
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace(".html.gz", "");
                out.push((format!("dev/{name}"), extract::decode(&bytes, None)));
            }
        }
    }
    let rd = corpus.join("readability");
    if let Ok(dir) = std::fs::read_dir(&rd) {
        let mut dirs: Vec<PathBuf> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs {
            if let Ok(bytes) = std::fs::read(d.join("source.html")) {
                let name = d.file_name().unwrap().to_string_lossy().into_owned();
                out.push((format!("readability/{name}"), extract::decode(&bytes, None)));
            }
        }
    }
    out
}

fn main() {
    let mut corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--corpus" => corpus = args.next().expect("--corpus DIR").into(),
            "--verbose" => verbose = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let pages = pages(&corpus);
    if pages.is_empty() {
        eprintln!("no pages under {}", corpus.display());
        std::process::exit(2);
    }
    let mut flagged_full = Vec::new();
    let mut signs_full = 0;
    let mut tried = [0usize; 5];
    let mut hits = [0usize; 5];
    let mut misses: Vec<Vec<String>> = vec![Vec::new(); 5];
    for (name, html) in &pages {
        let full = paragraphs(html);
        let signs = wall::scan(html);
        if signs.any() {
            signs_full += 1;
        }
        if let Some(w) = wall::judge(&signs, &full, None) {
            flagged_full.push(format!("{name}: {}", w.describe()));
        }
        let words: usize = full.iter().map(|p| p.split_whitespace().count()).sum();
        if full.len() < 5 || words < 150 {
            continue;
        }
        for (i, (variant, _)) in VARIANTS.iter().enumerate() {
            let Some(page) = cut(html, &full, *variant) else {
                continue;
            };
            tried[i] += 1;
            let shown = paragraphs(&page);
            let got = wall::judge(&wall::scan(&page).since(&signs), &shown, Some(&full));
            let right = match variant {
                Variant::Cut => got.is_none(),
                _ => got.as_ref().is_some_and(|w| w.shown == wall::Shown::Part),
            };
            if right {
                hits[i] += 1;
            } else {
                misses[i].push(format!(
                    "{name}: {}",
                    got.map_or("not walled".to_string(), |w| format!(
                        "{} {:?}",
                        w.describe(),
                        w.shown
                    ))
                ));
            }
        }
    }
    println!("pages: {} (corpus {})", pages.len(), corpus.display());
    println!(
        "full pages with any wall sign: {signs_full}; flagged walled on a first check (false positives): {}",
        flagged_full.len()
    );
    for f in &flagged_full {
        println!("  {f}");
    }
    println!("| variant | pages | right | wrong |");
    println!("|---|---|---|---|");
    for (i, (_, label)) in VARIANTS.iter().enumerate() {
        println!(
            "| {label} | {} | {} | {} |",
            tried[i],
            hits[i],
            tried[i] - hits[i]
        );
    }
    for (i, (_, label)) in VARIANTS.iter().enumerate() {
        let shown = if verbose {
            misses[i].len()
        } else {
            misses[i].len().min(15)
        };
        for m in &misses[i][..shown] {
            println!("  wrong [{label}] {m}");
        }
    }
}
