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

    let originals: Vec<String> = (0..n)
        .map(|i| page(&sources[i % sources.len()], i, 0, false))
        .collect();
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
        for i in 0..n {
            let src = &sources[i % sources.len()];
            match i % 10 {
                0 => served[i] = with_etag(page(src, i, 1, false)), // edited in the article
                1 => served[i] = with_etag(page(src, i, 0, true)),  // changed only around it
                _ => {}
            }
        }
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

fn db_size(db: &Path) -> u64 {
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

fn load_corpus() -> anyhow::Result<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("STET_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus/readability"));
    let mut pages = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path().join("source.html");
            if let Ok(html) = std::fs::read_to_string(&p) {
                pages.push(html);
            }
        }
    }
    if pages.is_empty() {
        for entry in std::fs::read_dir(root.join("tests/fixtures/readability"))? {
            let p = entry?.path().join("source.html.zst");
            if let Ok(bytes) = std::fs::read(&p) {
                pages.push(String::from_utf8(zstd::decode_all(bytes.as_slice())?)?);
            }
        }
    }
    pages.sort();
    anyhow::ensure!(!pages.is_empty(), "no corpus pages found");
    Ok(pages)
}

/// One benchmark page: a corpus page made unique (its title carries the page number), with
/// `edit` changing a sentence of the article and `noise` changing only what is around it.
fn page(source: &str, i: usize, edit: u32, noise: bool) -> String {
    let mut s = source.replacen("<title>", &format!("<title>No. {i} "), 1);
    if edit > 0 {
        // The first long paragraph gets one more sentence.
        if let Some(p) = s.find("<p>").or_else(|| s.find("<p ")) {
            let end = s[p..].find('>').map(|e| p + e + 1).unwrap_or(p);
            s.insert_str(end, &format!("Update {edit}: this story was corrected. "));
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
                    let article = stet::extract::extract(p, "http://127.0.0.1/p");
                    std::hint::black_box(stet::fingerprint::Fingerprint::of(&article));
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
