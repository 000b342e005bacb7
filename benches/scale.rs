//! stet's scale benchmark: a SQLite archive of a million watches (synthetic rows: the watches
//! that are not due are never fetched), of which 1,000 are due on a local site, and the real
//! `stet run` over it.
//!
//! Reports: database size, the query plan and time of finding the next 1,000 due watches, time
//! for `stet run` to start (process start to "daemon started"), its RSS idle and while checking
//! the due watches, and how long that pass took.
//!
//! Run: `cargo bench --bench scale` (STET_BENCH_WATCHES=1000000 by default, STET_BENCH_DUE=1000).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::params;

fn main() -> anyhow::Result<()> {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("STET_BENCH_WATCHES", 1_000_000);
    let due = env("STET_BENCH_DUE", 1_000);
    println!("stet scale benchmark: {n} watches, {due} due");
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism()?.get(),
        cpu_model()
    );
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("stet.db");
    let port = serve_article();

    // The archive: migrated by the real store, then filled with synthetic watches.
    drop(stet::store::Store::open(&db)?);
    let started = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO watches (url, origin, added_at, status, last_checked_at,
                    next_check_at)
                 VALUES (?1, 'cli', '2026-01-01T00:00:00.000Z', ?2, ?3, ?4)",
            )?;
            let now = chrono::Utc::now();
            for i in 0..n {
                let url = format!("http://127.0.0.1:{port}/news/{i}");
                if i < due {
                    // Never checked: due now, fetched from the local site.
                    insert.execute(params![url, "new", None::<String>, None::<String>])?;
                } else {
                    // Due some time in the next 30 days (spread evenly).
                    let at =
                        now + chrono::Duration::seconds(3600 + (i as i64 * 7919) % (30 * 86_400));
                    insert.execute(params![
                        url,
                        "live",
                        "2026-01-01T00:00:00.000Z",
                        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    ])?;
                }
            }
        }
        tx.commit()?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    println!(
        "built the archive in {:.1} s; database {:.1} MB ({:.0} bytes per watch)",
        started.elapsed().as_secs_f64(),
        size(&db) as f64 / 1e6,
        size(&db) as f64 / n as f64
    );

    // Finding the next 1,000 due watches, through the store as the daemon does.
    let store = stet::store::Store::open(&db)?;
    let now = stet::pure::model::now_rfc3339();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let found = store.due_targets(&now, 1000)?;
        best = best.min(t.elapsed());
        assert_eq!(found.len(), due.min(1000));
    }
    println!(
        "next 1,000 due watches: {:.2} ms (best of 5)",
        best.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let next = store.next_due_at()?;
    println!(
        "next due time: {:.2} ms ({next:?})",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(store);
    let conn = rusqlite::Connection::open(&db)?;
    // The two index ranges `due_targets` reads (never checked, then due by time).
    for (what, sql) in [
        (
            "never checked",
            "EXPLAIN QUERY PLAN SELECT id FROM watches
             WHERE removed_at IS NULL AND next_check_at IS NULL LIMIT 1000",
        ),
        (
            "due by time",
            "EXPLAIN QUERY PLAN SELECT id FROM watches
             WHERE removed_at IS NULL AND next_check_at <= ?1 ORDER BY next_check_at LIMIT 1000",
        ),
    ] {
        let mut plan = conn.prepare(sql)?;
        let n = plan.parameter_count();
        let rows: Vec<String> = if n == 1 {
            plan.query_map([&now], |r| r.get::<_, String>(3))?
                .collect::<Result<_, _>>()?
        } else {
            plan.query_map([], |r| r.get::<_, String>(3))?
                .collect::<Result<_, _>>()?
        };
        println!("query plan ({what}): {}", rows.join("; "));
    }
    drop(conn);

    // The daemon: start-up, RSS while checking the due watches, RSS idle.
    let config = dir.path().join("stet.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n\n[fetch]\nconcurrency = 32\nper_host = 32\n\n\
             [politeness]\nmin_delay = \"0s\"\nrobots = false\n",
            db.display()
        ),
    )?;
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stet"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("STET_LOG", "stet=info")
        .env("STET_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (lines_tx, lines) = std::sync::mpsc::channel::<(Instant, String)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send((Instant::now(), line));
        }
    });
    let mut ready = None;
    let mut last_pass = None;
    let mut peak_checking = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut checked = 0;
    while Instant::now() < deadline && checked < due {
        peak_checking = peak_checking.max(rss_kb(pid));
        while let Ok((at, line)) = lines.try_recv() {
            if line.contains("stet daemon started") {
                ready = Some(at - started);
            }
            if line.contains("pass finished") {
                last_pass = Some(at);
                checked += field(&line, "checked=").unwrap_or(0);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pass_secs = last_pass.map(|t| (t - started).as_secs_f64());
    // Idle: everything checked, nothing due for an hour.
    std::thread::sleep(Duration::from_secs(3));
    let mut idle = 0;
    for _ in 0..10 {
        idle = idle.max(rss_kb(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    println!(
        "stet run: ready in {:.2} s; checked {checked} due watches, all passes done {:.1} s after \
         start",
        ready.map_or(f64::NAN, |d| d.as_secs_f64()),
        pass_secs.unwrap_or(f64::NAN)
    );
    println!(
        "stet run RSS: {:.1} MB peak while checking, {:.1} MB idle",
        peak_checking as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    println!("database after the pass: {:.1} MB", size(&db) as f64 / 1e6);
    Ok(())
}

/// A local site answering every path with one small article, on its own threads.
fn serve_article() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                let body = format!(
                    "<!doctype html><html><head><title>Story {path}</title></head><body>\
                     <article><h1>Story {path}</h1><p>The council voted on Tuesday to close \
                     the harbour bridge for six weeks of repairs to its cables ({path}).</p>\
                     <p>About 40,000 vehicles cross the bridge every day.</p></article>\
                     </body></html>"
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            });
        }
    });
    port
}

fn field(line: &str, name: &str) -> Option<usize> {
    let rest = &line[line.find(name)? + name.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn size(db: &Path) -> u64 {
    let mut total = std::fs::metadata(db).map_or(0, |m| m.len());
    for ext in ["-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(ext);
        total += std::fs::metadata(Path::new(&p)).map_or(0, |m| m.len());
    }
    total
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
