//! stet's soak benchmark: the real `stet run` daemon over 2,000 watches of a local site whose
//! pages change, fail at random and turn hostile, for a quarter of an hour or more. Samples the
//! daemon's resident memory, open file descriptors and database size over time, and at the end
//! counts watches whose last check is older than their period allows (skipped checks).
//!
//! The site, per request of page `i`: 5% answer 503, 2% stall past the timeout, 1% answer 502; every page's article text changes every 10 minutes (a third of them at a time);
//! one page in 100 is hostile (200,000 nested `<div>`, 600,000 elements, or a 4 MB attribute).
//!
//! Run: `nice -n 19 cargo bench --bench soak` (STET_SOAK_SECS=900 and STET_SOAK_WATCHES=2000 by
//! default; STET_SOAK_SAMPLE_SECS=30).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

const PARAS: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel.",
    "Local businesses said they had been given only four days of notice and warned of lost trade in the busy season.",
];

struct Site {
    started: Instant,
    requests: AtomicU64,
    hostile: Vec<Arc<String>>,
    seed: AtomicU64,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let secs = env_num("STET_SOAK_SECS", 900);
    let watches = env_num("STET_SOAK_WATCHES", 2000) as usize;
    let sample = Duration::from_secs(env_num("STET_SOAK_SAMPLE_SECS", 30));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let site = Arc::new(Site {
        started: Instant::now(),
        requests: AtomicU64::new(0),
        hostile: vec![
            Arc::new(format!(
                "<html><body>{}<p>deep</p>{}</body></html>",
                "<div>".repeat(200_000),
                "</div>".repeat(200_000)
            )),
            Arc::new(format!(
                "<html><body><article>{}</article></body></html>",
                "<span>a</span>".repeat(600_000)
            )),
            Arc::new(format!(
                "<html><body><img src=\"data:,{}\"><p>{}</p></body></html>",
                "A".repeat(4_200_000),
                PARAS[0]
            )),
        ],
        seed: AtomicU64::new(0x5eed),
    });
    let addr = rt.block_on(serve(site.clone()))?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("soak.db");
    let config = dir.path().join("stet.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[fetch]\ntimeout_secs = 5\nconcurrency = 16\nper_host = 16\n\
             [politeness]\nmin_delay = \"0s\"\nrobots = false\n\
             [schedule]\ndefault = \"every 5m\"\njitter = \"30s\"\nbackoff_base = \"30s\"\nbackoff_max = \"5m\"\n",
            db.display()
        ),
    )?;
    let stet = env!("CARGO_BIN_EXE_stet");
    let urls: Vec<String> = (0..watches)
        .map(|i| format!("http://{addr}/p/{i}"))
        .collect();
    for chunk in urls.chunks(500) {
        let status = Command::new(stet)
            .arg("--config")
            .arg(&config)
            .args(["watch", "add"])
            .args(chunk)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "stet watch add failed");
    }
    println!(
        "stet soak benchmark: {watches} watches, {secs} s, every 5 minutes; pages change, fail \
         (5% 503, 2% stall, 1% 502) and 1% are hostile"
    );
    let log = std::fs::File::create(dir.path().join("daemon.log"))?;
    let mut daemon = Command::new(stet)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("STET_LOG", "stet=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let pid = daemon.id();
    println!(
        "{:>6} {:>9} {:>5} {:>9} {:>9} {:>9}",
        "secs", "rss_kib", "fds", "db_kib", "requests", "versions"
    );
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        let s = Sample::take(pid, &db, site.requests.load(Ordering::Relaxed));
        println!(
            "{:>6} {:>9} {:>5} {:>9} {:>9} {:>9}",
            started.elapsed().as_secs(),
            s.rss_kib,
            s.fds,
            s.db_bytes / 1024,
            s.requests,
            s.versions
        );
        samples.push((started.elapsed(), s));
        if started.elapsed() >= Duration::from_secs(secs) {
            break;
        }
        if let Some(status) = daemon.try_wait()? {
            anyhow::bail!("the daemon exited early: {status}");
        }
        std::thread::sleep(sample);
    }
    // Watches whose last check is older than the period, the jitter, the longest backoff and
    // one pass allow.
    let conn = rusqlite::Connection::open(&db)?;
    let stale: i64 = conn.query_row(
        "SELECT count(*) FROM watches WHERE last_checked_at IS NULL
            OR last_checked_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-720 seconds')",
        [],
        |r| r.get(0),
    )?;
    let too_complex: i64 = conn.query_row(
        "SELECT count(DISTINCT watch_id) FROM unparsed_bodies",
        [],
        |r| r.get(0),
    )?;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stopped = Instant::now();
    let status = daemon.wait()?;
    let (_, first) = &samples[1.min(samples.len() - 1)];
    let (_, last) = samples.last().unwrap();
    println!();
    println!("| | start (after first sample) | end |");
    println!("|---|---|---|");
    println!(
        "| RSS | {} MiB | {} MiB |",
        first.rss_kib / 1024,
        last.rss_kib / 1024
    );
    println!("| open fds | {} | {} |", first.fds, last.fds);
    println!(
        "| database | {:.1} MB | {:.1} MB |",
        first.db_bytes as f64 / 1e6,
        last.db_bytes as f64 / 1e6
    );
    println!(
        "requests served {}, versions {}, hostile pages kept unparsed {too_complex}, \
         watches not checked in the last 12 minutes {stale}, stopped by SIGTERM in {:?} ({status})",
        last.requests,
        last.versions,
        stopped.elapsed()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    db_bytes: u64,
    requests: u64,
    versions: i64,
}

impl Sample {
    fn take(pid: u32, db: &Path, requests: u64) -> Self {
        let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let db_bytes = size(db) + size(Path::new(&wal));
        let versions = rusqlite::Connection::open(db)
            .and_then(|c| c.query_row("SELECT count(*) FROM versions", [], |r| r.get(0)))
            .unwrap_or(0);
        Self {
            rss_kib,
            fds,
            db_bytes,
            requests,
            versions,
        }
    }
}

impl Site {
    fn roll(&self) -> u64 {
        // xorshift: cheap, shared, good enough to pick faults.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        x % 1000
    }
}

async fn serve(site: Arc<Site>) -> anyhow::Result<std::net::SocketAddr> {
    async fn one(
        State(site): State<Arc<Site>>,
        UrlPath(i): UrlPath<usize>,
    ) -> axum::response::Response {
        site.requests.fetch_add(1, Ordering::Relaxed);
        if i % 100 == 99 {
            let page = site.hostile[(i / 100) % site.hostile.len()].clone();
            return ([(header::CONTENT_TYPE, "text/html")], page.as_ref().clone()).into_response();
        }
        match site.roll() {
            0..50 => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            50..70 => {
                tokio::time::sleep(Duration::from_secs(8)).await;
                return StatusCode::GATEWAY_TIMEOUT.into_response();
            }
            70..80 => return StatusCode::BAD_GATEWAY.into_response(),
            _ => {}
        }
        // A third of the pages change every 10 minutes, in turn.
        let epoch = site.started.elapsed().as_secs() / 600;
        let edit = (epoch + (i as u64 % 3)) / 3;
        let second = PARAS[1].replace("40,000", &format!("{},000", 40 + edit));
        let body = format!(
            "<!doctype html><html><head><title>Story {i}</title></head><body><nav><a href=\"/\">Home</a></nav>\
             <article><h1>Story {i}</h1><p>{}</p><p>{second}</p><p>{}</p><p>Story number {i}.</p></article>\
             <footer>Footer</footer></body></html>",
            PARAS[0], PARAS[2]
        );
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    }
    let app = Router::new().route("/p/{i}", get(one)).with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
