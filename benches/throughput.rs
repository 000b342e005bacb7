//! stet's throughput benchmark: a local site serving thousands of article pages built from the
//! readability corpus, and the real `stet check` over all of them, three times:
//!
//! 1. first pass: every page is captured;
//! 2. unchanged pass: nothing changed (the site answers conditional GETs);
//! 3. mixed pass: 10% of pages edited in the article, 10% changed only around it.
//!
//! For each pass: checks per second, CPU seconds per 1,000 checks, peak RSS, database bytes and
//! bytes added per check. Two limits are measured in the same run for comparison: the same pages
//! fetched by a plain HTTP load generator (how fast this machine serves them), and extraction
//! alone on all cores (how fast it parses them).
//!
//! Run: `cargo bench --bench throughput` (STET_BENCH_PAGES=10000 by default; STET_BENCH_CORPUS
//! names the corpus folder, default ../shared/corpus/readability, else the test fixtures).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// Served pages: body and ETag, swappable between passes.
type Pages = Arc<std::sync::RwLock<Vec<(Arc<Vec<u8>>, String)>>>;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("STET_BENCH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let sources = load_corpus()?;
    println!(
        "stet throughput benchmark: {n} pages built from {} corpus pages",
        sources.len()
    );
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism()?.get(),
        cpu_model()
    );

    let page_of = |i: usize, edit: u32, noise: bool| {
        let (src, anchor) = &sources[i % sources.len()];
        page(src, anchor.as_deref(), i, edit, noise)
    };
    let originals: Vec<String> = (0..n).map(|i| page_of(i, 0, false)).collect();
    let total_bytes: usize = originals.iter().map(String::len).sum();
    println!(
        "site: {:.0} MB of HTML, {:.0} KB per page on average",
        total_bytes as f64 / 1e6,
        total_bytes as f64 / n as f64 / 1e3
    );
    let pages: Pages = Arc::new(std::sync::RwLock::new(
        originals.iter().map(|p| with_etag(p.clone())).collect(),
    ));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let addr = rt.block_on(serve(pages.clone()))?;

    // Limit 1: a plain HTTP load generator, 8 requests at a time.
    let started = Instant::now();
    let fetched = rt.block_on(load(addr, n))?;
    let load_rate = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "limit, plain HTTP GET of every page: {load_rate:.0} pages/s ({:.0} MB/s)",
        fetched as f64 / 1e6 / started.elapsed().as_secs_f64()
    );

    // Limit 2: extraction and fingerprinting alone, on all cores.
    let started = Instant::now();
    extract_all(&originals);
    let extract_rate = n as f64 / started.elapsed().as_secs_f64();
    println!("limit, extraction alone on all cores: {extract_rate:.0} pages/s");

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let config = dir.path().join("stet.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[fetch]\nconcurrency = 8\nper_host = 8\ntimeout_secs = 30\n[politeness]\nmin_delay = \"0s\"\nrobots = false\n",
            db.display()
        ),
    )?;
    let stet = stet_binary()?;
    let urls: Vec<String> = (0..n).map(|i| format!("http://{addr}/p/{i}")).collect();
    add_watches(&stet, &config, &urls)?;

    println!();
    println!(
        "{:<34} {:>9} {:>12} {:>10} {:>11} {:>14}",
        "pass", "checks/s", "CPU s/1000", "peak RSS", "db MB", "bytes/check"
    );
    let first = run_pass(&stet, &config, &db, n, "1. first (all captured)")?;
    let second = run_pass(&stet, &config, &db, n, "2. unchanged")?;
    {
        let mut served = pages.write().unwrap();
        let mut applied = 0;
        for (i, slot) in served.iter_mut().enumerate() {
            match i % 10 {
                0 => {
                    // Edited in the article (where the article's words could be found).
                    let edited = page_of(i, 1, false);
                    applied += usize::from(edited != originals[i]);
                    *slot = with_etag(edited);
                }
                1 => *slot = with_etag(page_of(i, 0, true)), // changed only around it
                _ => {}
            }
        }
        println!(
            "pass 3 serves {applied} pages with an article edit and {} with noise only",
            n.div_ceil(10)
        );
    }
    let third = run_pass(&stet, &config, &db, n, "3. 10% edited, 10% noise")?;
    let versions = count_versions(&db)?;
    println!();
    println!(
        "versions stored: {versions}; database {:.1} MB; {:.1} KB per version",
        third.db_bytes as f64 / 1e6,
        third.db_bytes as f64 / versions as f64 / 1e3
    );
    println!(
        "unchanged pass added {} bytes in total",
        second.db_bytes as i64 - first.db_bytes as i64
    );
    println!(
        "ratios: first/extraction-alone {:.2} (target >= 0.5), unchanged/first {:.1} (>= 3), mixed/first {:.1} (>= 1.5)",
        first.rate / extract_rate,
        second.rate / first.rate,
        third.rate / first.rate
    );
    let started = Instant::now();
    let verified = Command::new(&stet)
        .args(["--config", config.to_str().unwrap(), "verify"])
        .stdout(Stdio::null())
        .status()?;
    println!(
        "stet verify over the whole archive ({versions} versions): {:.1} s, {}",
        started.elapsed().as_secs_f64(),
        if verified.success() {
            "clean"
        } else {
            "FAILED"
        }
    );
    println!(
        "peak RSS over the passes: {:.0} MB (target < 150 MB)",
        [first.peak_kib, second.peak_kib, third.peak_kib]
            .into_iter()
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    );
    Ok(())
}

struct PassResult {
    rate: f64,
    peak_kib: u64,
    db_bytes: u64,
}

fn run_pass(
    stet: &Path,
    config: &Path,
    db: &Path,
    n: usize,
    label: &str,
) -> anyhow::Result<PassResult> {
    let before = db_size(db);
    let started = Instant::now();
    let mut child = Command::new(stet)
        .args(["--config", config.to_str().unwrap(), "check", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                *kinds
                    .entry(v["kind"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
        kinds
    });
    let (mut peak_kib, mut cpu_ticks) = (0u64, 0u64);
    let stat = format!("/proc/{}/stat", child.id());
    let status = format!("/proc/{}/status", child.id());
    while child.try_wait()?.is_none() {
        if let Ok(s) = std::fs::read_to_string(&status)
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kib = peak_kib.max(
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            );
        }
        if let Ok(s) = std::fs::read_to_string(&stat) {
            let fields: Vec<&str> = s
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let t = |i: usize| {
                fields
                    .get(i)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            cpu_ticks = cpu_ticks.max(t(11) + t(12)); // utime + stime after the command name
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = started.elapsed().as_secs_f64();
    let kinds = counter.join().unwrap();
    let checked: usize = kinds.values().sum();
    anyhow::ensure!(checked == n, "{label}: {checked} of {n} checked: {kinds:?}");
    let rate = n as f64 / secs;
    let cpu = cpu_ticks as f64 / 100.0;
    let after = db_size(db);
    println!(
        "{label:<34} {rate:>9.0} {:>12.2} {:>7.0} MB {:>11.1} {:>14.0}   {kinds:?}",
        cpu / n as f64 * 1000.0,
        peak_kib as f64 / 1024.0,
        after as f64 / 1e6,
        (after as f64 - before as f64) / n as f64,
    );
    Ok(PassResult {
        rate,
        peak_kib,
        db_bytes: after,
    })
}

/// Bytes stored: the database after its write-ahead log is checkpointed into it.
fn db_size(db: &Path) -> u64 {
    if let Ok(conn) = rusqlite::Connection::open(db) {
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    size(db.to_owned()) + size(PathBuf::from(wal))
}

fn count_versions(db: &Path) -> anyhow::Result<i64> {
    let conn = rusqlite::Connection::open(db)?;
    Ok(conn.query_row("SELECT count(*) FROM versions", [], |r| r.get(0))?)
}

fn add_watches(stet: &Path, config: &Path, urls: &[String]) -> anyhow::Result<()> {
    for chunk in urls.chunks(1000) {
        let status = Command::new(stet)
            .args(["--config", config.to_str().unwrap(), "watch", "add"])
            .args(chunk)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "watch add failed");
    }
    Ok(())
}

/// The release binary next to this benchmark's own executable.
fn stet_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    let bin = dir.join("stet");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: run `cargo build --release` first",
        bin.display()
    );
    Ok(bin)
}

/// Corpus pages, each with a run of words from its article's longest paragraph (when the
/// expected article is there to say which words are the article's).
fn load_corpus() -> anyhow::Result<Vec<(String, Option<String>)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("STET_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus/readability"));
    let mut pages = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let dir = entry?.path();
            if let Ok(html) = std::fs::read_to_string(dir.join("source.html")) {
                let expected = std::fs::read_to_string(dir.join("expected.html")).ok();
                pages.push((html, expected.as_deref().and_then(article_words)));
            }
        }
    }
    if pages.is_empty() {
        for entry in std::fs::read_dir(root.join("tests/fixtures/readability"))? {
            let dir = entry?.path();
            let read = |name: &str| -> Option<String> {
                let bytes = std::fs::read(dir.join(name)).ok()?;
                String::from_utf8(zstd::decode_all(bytes.as_slice()).ok()?).ok()
            };
            if let Some(html) = read("source.html.zst") {
                let anchor = read("expected.html.zst").as_deref().and_then(article_words);
                pages.push((html, anchor));
            }
        }
    }
    pages.sort();
    anyhow::ensure!(!pages.is_empty(), "no corpus pages found");
    Ok(pages)
}

/// Five plain words from the longest paragraph of an expected article.
fn article_words(expected: &str) -> Option<String> {
    let doc = dom_query::Document::from(expected);
    let longest = doc
        .select("p")
        .nodes()
        .iter()
        .map(|n| n.text().to_string())
        .max_by_key(|t| t.len())?;
    let words: Vec<&str> = longest.split_whitespace().collect();
    words
        .windows(5)
        .map(|w| w.join(" "))
        .find(|w| w.chars().all(|c| c.is_alphanumeric() || c == ' '))
}

/// One benchmark page: a corpus page made unique (its title carries the page number), with
/// `edit` changing a sentence of the article and `noise` changing only what is around it.
fn page(source: &str, anchor: Option<&str>, i: usize, edit: u32, noise: bool) -> String {
    let mut s = source.replacen("<title>", &format!("<title>No. {i} "), 1);
    if edit > 0 {
        // A sentence is added to the article: before the words of its longest paragraph (from
        // Readability's expected output), where they stand outside scripts.
        let at = anchor.and_then(|words| {
            s.match_indices(words).map(|(i, _)| i).find(|&i| {
                let before = &s[..i];
                before.rfind("<script") <= before.rfind("</script")
                    && before.rfind('<') <= before.rfind('>')
            })
        });
        if let Some(at) = at {
            s.insert_str(at, &format!("Update {edit}: this story was corrected. "));
        }
    }
    let nav = if noise {
        "Trending: storms, markets, football"
    } else {
        "Trending: elections, weather"
    };
    if let Some(b) = s.find("<body") {
        let end = s[b..].find('>').map(|e| b + e + 1).unwrap_or(b);
        s.insert_str(
            end,
            &format!(
                "<nav class=\"top\">{nav}</nav><script nonce=\"n{i}{noise}\">var t={i};</script>"
            ),
        );
    }
    s
}

fn with_etag(page: String) -> (Arc<Vec<u8>>, String) {
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(page.as_bytes())[..8]));
    (Arc::new(page.into_bytes()), etag)
}

async fn serve(pages: Pages) -> anyhow::Result<std::net::SocketAddr> {
    async fn one(
        State(pages): State<Pages>,
        UrlPath(i): UrlPath<usize>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        let Some((body, etag)) = pages.read().unwrap().get(i).cloned() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            == Some(etag.as_str())
        {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                (header::ETAG, etag),
            ],
            body.as_ref().clone(),
        )
            .into_response()
    }
    let app = Router::new().route("/p/{i}", get(one)).with_state(pages);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn load(addr: std::net::SocketAddr, n: usize) -> anyhow::Result<usize> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let sizes = futures_util::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let r = client.get(format!("http://{addr}/p/{i}")).send().await?;
                Ok::<usize, reqwest::Error>(r.bytes().await?.len())
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    sizes
        .into_iter()
        .map(|r| r.map_err(anyhow::Error::from))
        .sum()
}

fn extract_all(pages: &[String]) {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = pages.get(i) else { break };
                    let article = stet::pure::extract::extract(p, "http://127.0.0.1/p");
                    std::hint::black_box(stet::pure::fingerprint::Fingerprint::of(&article));
                }
            });
        }
    });
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
