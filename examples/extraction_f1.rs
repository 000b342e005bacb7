//! Extraction quality, measured: token-shingle precision, recall and F1 of each candidate
//! extractor against human-made article bodies, and the CPU time it takes per page.
//!
//! ```text
//! cargo run --release --example extraction_f1 [--features candidates] -- [OPTIONS]
//!   --corpus DIR        the shared corpus folder (default ../shared/corpus)
//!   --only NAME,...     run only these candidates
//!   --out DIR           where predictions are written (default target/extraction-f1)
//!   --limit N           the first N pages of each corpus only (a quick look)
//! ```
//!
//! Two corpora:
//! - `extraction-dev/`: 750 full-text and 250 snippet pages from independent public datasets.
//!   Predictions are written in the form its `score.py` reads (`{"id": {"articleBody": "..."}}`)
//!   and scored by running `python3 score.py --json` on them, so the figures are the scorer's own.
//! - `readability/`: Mozilla Readability's test pages, scored here with the same shingle F1
//!   against the text of `expected.html`; each page's output, precision and recall are written
//!   to `NAME-readability.json`.
//!
//! The candidates: `stet` (the project's own `extract::extract`) always; with the `candidates`
//! feature also `rs-trafilatura`, `trafilatura` (the crate), and two combinations of them with
//! stet's pipeline. CPU time is the thread's own (`/proc/thread-self/schedstat`), so other load
//! on the machine does not inflate it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

/// One extractor under test: page HTML and URL in, article body text out.
struct Candidate {
    name: &'static str,
    run: fn(&str, &str) -> String,
}

fn stet_body(html: &str, url: &str) -> String {
    stet::pure::extract::extract(html, url)
        .paragraphs
        .join("\n")
}

#[cfg(feature = "candidates")]
mod others {
    pub fn rs_trafilatura(html: &str, url: &str) -> String {
        let options = rs_trafilatura::Options {
            url: Some(url.to_string()),
            include_tables: true,
            ..Default::default()
        };
        rs_trafilatura::extract_with_options(html, &options)
            .map(|r| r.content_text)
            .unwrap_or_default()
    }

    pub fn trafilatura(html: &str, url: &str) -> String {
        let mut options = trafilatura::Options::default();
        if let Ok(u) = url::Url::parse(url) {
            options = options.with_url(u);
        }
        trafilatura::extract(html, &options)
            .map(|r| r.content_text)
            .unwrap_or_default()
    }

    /// rs-trafilatura first; stet's pipeline when rs-trafilatura finds (almost) nothing.
    pub fn rs_trafilatura_then_stet(html: &str, url: &str) -> String {
        let first = rs_trafilatura(html, url);
        if first.split_whitespace().count() >= 40 {
            first
        } else {
            super::stet_body(html, url)
        }
    }

    /// Both, and the paragraphs of stet's result that rs-trafilatura also found (a consensus);
    /// the longer one alone when they share almost nothing.
    pub fn consensus(html: &str, url: &str) -> String {
        let a = rs_trafilatura(html, url);
        let b = super::stet_body(html, url);
        let folded = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let a_text = folded(&a);
        let kept: Vec<&str> = b
            .lines()
            .filter(|p| {
                let p = folded(p);
                !p.is_empty() && a_text.contains(&p)
            })
            .collect();
        let kept_words: usize = kept.iter().map(|p| p.split_whitespace().count()).sum();
        if kept_words * 2 >= a.split_whitespace().count() {
            kept.join("\n")
        } else if a.len() >= b.len() {
            a
        } else {
            b
        }
    }
}

fn candidates() -> Vec<Candidate> {
    #[allow(unused_mut)]
    let mut list = vec![Candidate {
        name: "stet",
        run: stet_body,
    }];
    #[cfg(feature = "candidates")]
    list.extend([
        Candidate {
            name: "rs-trafilatura",
            run: others::rs_trafilatura,
        },
        Candidate {
            name: "trafilatura",
            run: others::trafilatura,
        },
        Candidate {
            name: "rs-trafilatura+stet-fallback",
            run: others::rs_trafilatura_then_stet,
        },
        Candidate {
            name: "consensus",
            run: others::consensus,
        },
    ]);
    list
}

struct Args {
    corpus: PathBuf,
    only: Option<Vec<String>>,
    out: PathBuf,
    limit: Option<usize>,
}

fn args() -> Args {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        corpus: root.join("../shared/corpus"),
        only: None,
        out: root.join("target/extraction-f1"),
        limit: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--corpus" => a.corpus = value().into(),
            "--only" => a.only = Some(value().split(',').map(str::to_string).collect()),
            "--out" => a.out = value().into(),
            "--limit" => a.limit = Some(value().parse().expect("--limit takes a number")),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

/// CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\w+").unwrap());

/// 4-token shingles of lower-cased `\w+` tokens, as `score.py` makes them.
fn shingles(text: &str) -> BTreeMap<Vec<String>, usize> {
    let lower = text.to_lowercase();
    let toks: Vec<String> = WORD
        .find_iter(&lower)
        .map(|m| m.as_str().to_string())
        .collect();
    let mut out = BTreeMap::new();
    if toks.is_empty() {
        return out;
    }
    if toks.len() < 4 {
        out.insert(toks, 1);
        return out;
    }
    for w in toks.windows(4) {
        *out.entry(w.to_vec()).or_insert(0) += 1;
    }
    out
}

fn precision_recall(pred: &str, truth: &str) -> (f64, f64) {
    let (p, t) = (shingles(pred), shingles(truth));
    let tp: usize = p
        .iter()
        .map(|(k, n)| (*n).min(t.get(k).copied().unwrap_or(0)))
        .sum();
    let np: usize = p.values().sum();
    let nt: usize = t.values().sum();
    let both_empty = np == 0 && nt == 0;
    let ratio = |num: usize, den: usize| {
        if den > 0 {
            num as f64 / den as f64
        } else if both_empty {
            1.0
        } else {
            0.0
        }
    };
    (ratio(tp, np), ratio(tp, nt))
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

#[derive(Default, Clone)]
struct Row {
    pages: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    cpu_ms_per_page: f64,
    /// Snippet pages of extraction-dev: share of `with` found, of `without` absent.
    snippets: Option<(f64, f64)>,
}

/// The pages of extraction-dev: id, URL, HTML.
fn extraction_dev_pages(dir: &Path, limit: Option<usize>) -> Vec<(String, String, String)> {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ground-truth.json")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for (id, entry) in truth.as_object().unwrap() {
        let mut bytes = Vec::new();
        let file = std::fs::File::open(dir.join("pages").join(format!("{id}.html.gz"))).unwrap();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .unwrap();
        let html = stet::pure::extract::decode(&bytes, None);
        let url = entry["url"]
            .as_str()
            .unwrap_or("https://example.org/article")
            .to_string();
        out.push((id.clone(), url, html));
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    out
}

/// Runs `score.py --json` on a predictions file and reads its summary.
fn score_with_python(dir: &Path, predictions: &Path) -> (Row, BTreeMap<String, Row>) {
    let out = Command::new("python3")
        .arg(dir.join("score.py"))
        .arg(predictions)
        .arg("--json")
        .output()
        .expect("python3 runs score.py");
    assert!(
        out.status.success(),
        "score.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |v: &serde_json::Value| Row {
        pages: v["pages"].as_u64().unwrap_or(0) as usize,
        precision: v["precision"].as_f64().unwrap_or(0.0),
        recall: v["recall"].as_f64().unwrap_or(0.0),
        f1: v["f1"].as_f64().unwrap_or(0.0),
        ..Default::default()
    };
    let all = row(&summary["full_text"]["all"]);
    let mut groups = BTreeMap::new();
    for (g, v) in summary["full_text"].as_object().unwrap() {
        if g != "all" {
            groups.insert(g.clone(), row(v));
        }
    }
    if let Some(s) = summary["snippets"]["trafilatura"].as_object() {
        let mut r = Row {
            pages: s["pages"].as_u64().unwrap_or(0) as usize,
            ..Default::default()
        };
        r.snippets = Some((
            s["with_found"].as_f64().unwrap_or(0.0),
            s["without_absent"].as_f64().unwrap_or(0.0),
        ));
        groups.insert("trafilatura (snippets)".into(), r);
    }
    (all, groups)
}

fn readability_pages(dir: &Path, limit: Option<usize>) -> Vec<(String, String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.path()
                .join("source.html")
                .exists()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    if let Some(l) = limit {
        names.truncate(l);
    }
    names
        .into_iter()
        .map(|n| {
            let html = std::fs::read_to_string(dir.join(&n).join("source.html")).unwrap();
            let expected = std::fs::read_to_string(dir.join(&n).join("expected.html")).unwrap();
            (n, html, expected)
        })
        .collect()
}

/// The text of Readability's expected output, one block per line.
fn expected_text(html: &str) -> String {
    let doc = dom_query::Document::fragment(html);
    doc.select("p, h1, h2, h3, h4, h5, h6, li, pre, blockquote, td, figcaption")
        .nodes()
        .iter()
        .filter(|n| {
            // Only the innermost blocks, so nested text is counted once.
            n.descendants_it().all(|d| {
                !d.is_element()
                    || !matches!(
                        d.node_name().as_deref(),
                        Some(
                            "p" | "h1"
                                | "h2"
                                | "h3"
                                | "h4"
                                | "h5"
                                | "h6"
                                | "li"
                                | "pre"
                                | "blockquote"
                                | "td"
                                | "figcaption"
                        )
                    )
            })
        })
        .map(|n| n.text().split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    let args = args();
    std::fs::create_dir_all(&args.out).unwrap();
    let chosen: Vec<Candidate> = candidates()
        .into_iter()
        .filter(|c| {
            args.only
                .as_ref()
                .is_none_or(|o| o.iter().any(|n| n == c.name))
        })
        .collect();
    let dev_dir = args.corpus.join("extraction-dev");
    let rd_dir = args.corpus.join("readability");

    let mut table: Vec<(String, String, Row)> = Vec::new();
    let mut breakdown: Vec<(String, BTreeMap<String, Row>)> = Vec::new();
    if dev_dir.join("score.py").exists() {
        let pages = extraction_dev_pages(&dev_dir, args.limit);
        eprintln!("extraction-dev: {} pages", pages.len());
        for c in &chosen {
            let mut predictions = serde_json::Map::new();
            let mut cpu = 0u64;
            for (id, url, html) in &pages {
                let t0 = thread_cpu_ns();
                let body = (c.run)(html, url);
                cpu += thread_cpu_ns() - t0;
                predictions.insert(id.clone(), serde_json::json!({ "articleBody": body }));
            }
            let file = args.out.join(format!("{}.json", c.name));
            std::fs::write(&file, serde_json::to_vec(&predictions).unwrap()).unwrap();
            let (mut all, groups) = score_with_python(&dev_dir, &file);
            all.cpu_ms_per_page = cpu as f64 / 1e6 / pages.len() as f64;
            eprintln!("  {:<30} F1 {:.4}", c.name, all.f1);
            table.push((c.name.into(), "extraction-dev (full text)".into(), all));
            breakdown.push((c.name.into(), groups));
        }
    } else {
        eprintln!(
            "{} not found: extraction-dev skipped",
            dev_dir.join("score.py").display()
        );
    }
    if rd_dir.exists() {
        let pages = readability_pages(&rd_dir, args.limit);
        eprintln!("readability: {} pages", pages.len());
        for c in &chosen {
            let (mut p_sum, mut r_sum, mut cpu) = (0.0, 0.0, 0u64);
            let mut per_page = serde_json::Map::new();
            for (name, html, expected) in &pages {
                let url = format!("https://example.org/{name}/");
                let t0 = thread_cpu_ns();
                let body = (c.run)(html, &url);
                cpu += thread_cpu_ns() - t0;
                let (p, r) = precision_recall(&body, &expected_text(expected));
                p_sum += p;
                r_sum += r;
                per_page.insert(
                    name.clone(),
                    serde_json::json!({ "articleBody": body, "precision": p, "recall": r }),
                );
            }
            let file = args.out.join(format!("{}-readability.json", c.name));
            std::fs::write(&file, serde_json::to_vec(&per_page).unwrap()).unwrap();
            let n = pages.len() as f64;
            let (p, r) = (p_sum / n, r_sum / n);
            table.push((
                c.name.into(),
                "readability".into(),
                Row {
                    pages: pages.len(),
                    precision: p,
                    recall: r,
                    f1: f1(p, r),
                    cpu_ms_per_page: cpu as f64 / 1e6 / n,
                    snippets: None,
                },
            ));
        }
    }

    println!("| candidate | corpus | pages | precision | recall | F1 | CPU ms/page |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, corpus, r) in &table {
        println!(
            "| {name} | {corpus} | {} | {:.4} | {:.4} | {:.4} | {:.1} |",
            r.pages, r.precision, r.recall, r.f1, r.cpu_ms_per_page
        );
    }
    println!();
    println!(
        "| candidate | group | pages | precision | recall | F1 / with found | without absent |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, groups) in &breakdown {
        for (g, r) in groups {
            match r.snippets {
                Some((w, wo)) => println!("| {name} | {g} | {} | | | {w:.4} | {wo:.4} |", r.pages),
                None => println!(
                    "| {name} | {g} | {} | {:.4} | {:.4} | {:.4} | |",
                    r.pages, r.precision, r.recall, r.f1
                ),
            }
        }
    }
    println!(
        "\npredictions: {} (score page by page with score.py --per-page)",
        args.out.display()
    );
}
