//! The claim rate of the PostgreSQL work queue: how many due watches per second workers claim
//! (`Store::due_targets`: a host claim, then the host's due watches `FOR UPDATE SKIP LOCKED`
//! with a lease) and release again (`Batch::defer`, which ends the lease and moves the due
//! time, as a worker does when a host asks it to wait), with one and with several worker
//! processes on one archive.
//!
//! Starts its own throwaway cluster (Debian's `initdb` + `pg_ctl`, as the PostgreSQL tests do);
//! the watches are synthetic rows spread over many hosts, and nothing is fetched.
//!
//! Run: `cargo bench --bench claims` (STET_BENCH_WATCHES=20000, STET_BENCH_HOSTS=100,
//! STET_BENCH_WORKERS="1 2 4" by default).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stet::store::{DEFAULT_LEASE, Location, Store};

/// Watches claimed per call, as a daemon with `concurrency = 8` asks for (`concurrency * 16`).
const BATCH: usize = 128;

fn env(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// One worker process: claims and releases until nothing is due; prints
/// `CLAIMED START_MS END_MS CALLS CLAIMING_SECS` on stdout.
fn worker(url: &str) -> anyhow::Result<()> {
    let mut store = Store::open(Location::Postgres {
        url: url.to_string(),
        blobs: None,
        lease: DEFAULT_LEASE,
    })?;
    let later = "2099-01-01T00:00:00.000Z";
    let start = epoch_ms();
    let (mut claimed, mut calls) = (0usize, 0usize);
    let mut claiming = Duration::ZERO;
    loop {
        let now = stet::pure::model::now_rfc3339();
        let t = std::time::Instant::now();
        let targets = store.due_targets(&now, BATCH)?;
        claiming += t.elapsed();
        calls += 1;
        if targets.is_empty() {
            // Others may still hold hosts with due work: ask again until none is left.
            if store.next_due_at()?.as_deref() != Some(later) {
                std::thread::sleep(Duration::from_millis(5));
                if calls > 1_000_000 {
                    anyhow::bail!("work never ran out");
                }
                continue;
            }
            break;
        }
        claimed += targets.len();
        let mut batch = store.batch()?;
        for t in &targets {
            batch.defer(t.id, later)?;
        }
        batch.commit()?;
    }
    println!(
        "{claimed} {start} {} {calls} {}",
        epoch_ms(),
        claiming.as_secs_f64()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if let Ok(url) = std::env::var("STET_CLAIMS_WORKER") {
        return worker(&url);
    }
    let n = env("STET_BENCH_WATCHES", 20_000);
    let hosts = env("STET_BENCH_HOSTS", 100);
    let workers: Vec<usize> = std::env::var("STET_BENCH_WORKERS")
        .unwrap_or_else(|_| "1 2 4".into())
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let pg = support::cluster::Postgres::start();
    let version: String = pg
        .client("postgres")
        .query_one("SHOW server_version", &[])?
        .get(0);
    println!(
        "stet claim-rate benchmark: {n} due watches on {hosts} hosts, {BATCH} per claim; \
         PostgreSQL {version} (throwaway cluster, fsync off); {} cores",
        std::thread::available_parallelism()?.get()
    );
    for w in workers {
        let name = format!("claims{w}");
        let url = pg.database(&name);
        drop(Store::open(Location::parse(&url))?);
        let mut c = pg.client(&name);
        c.execute(
            "INSERT INTO watches (url, origin, added_at, status, host)
             SELECT 'http://site' || (i % $2::bigint) || '.example/news/' || i, 'cli',
                    '2026-01-01T00:00:00.000Z', 'new', 'site' || (i % $2::bigint) || '.example:80'
             FROM generate_series(1, $1::bigint) AS i",
            &[&(n as i64), &(hosts as i64)],
        )?;
        c.batch_execute("ANALYZE watches")?;
        let exe = std::env::current_exe()?;
        let children: Vec<_> = (0..w)
            .map(|_| {
                Command::new(&exe)
                    .env("STET_CLAIMS_WORKER", &url)
                    .stdout(Stdio::piped())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        let mut total = 0;
        let (mut first, mut last) = (f64::MAX, 0f64);
        let mut per_worker = Vec::new();
        let mut claiming = 0f64;
        for child in children {
            let out = child.wait_with_output()?;
            anyhow::ensure!(out.status.success(), "a worker failed");
            let line = String::from_utf8_lossy(&out.stdout);
            let f: Vec<f64> = line
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            anyhow::ensure!(f.len() == 5, "worker said {line:?}");
            claiming = f64::max(claiming, f[4]);
            total += f[0] as usize;
            first = first.min(f[1]);
            last = last.max(f[2]);
            per_worker.push(f[0] as usize);
        }
        // Every watch claimed once: the counts add up and every due time moved.
        let moved: i64 = c
            .query_one(
                "SELECT count(*) FROM watches WHERE next_check_at = '2099-01-01T00:00:00.000Z'
                   AND lease_owner IS NULL",
                &[],
            )?
            .get(0);
        anyhow::ensure!(
            total == n && moved == n as i64,
            "claimed {total}, moved {moved} of {n}"
        );
        let secs = (last - first) / 1e3;
        println!(
            "{w} worker(s): {n} claims and releases in {secs:.2} s = {:.0} claims/s; \
             the slowest worker spent {claiming:.2} s in due_targets ({:.0} claims/s for the \
             claims alone); each claimed {per_worker:?}",
            n as f64 / secs,
            n as f64 / claiming
        );
    }
    Ok(())
}
