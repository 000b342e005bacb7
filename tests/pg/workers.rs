//! Three `stet run` workers share one PostgreSQL archive of 2,000 watches on four local hosts;
//! one of them is killed (SIGKILL) in the middle of its pass.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::stet_on;
use crate::support::cluster::Postgres;
use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article, wait_until};

const HOSTS: usize = 4;
const PER_HOST_WATCHES: usize = 500;
const PER_HOST: usize = 2;

/// A webhook receiver that answers 200 and counts deliveries per Idempotency-Key.
struct Receiver {
    port: u16,
    keys: Arc<Mutex<HashMap<String, usize>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let keys = Arc::new(Mutex::new(HashMap::new()));
        let k = keys.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let k = k.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut key = None;
                    let mut length = 0usize;
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = h.split_once(':') {
                            match name.trim().to_ascii_lowercase().as_str() {
                                "idempotency-key" => key = Some(value.trim().to_string()),
                                "content-length" => length = value.trim().parse().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    if let Some(key) = key {
                        *k.lock().unwrap().entry(key).or_default() += 1;
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                });
            }
        });
        Self { port, keys }
    }
}

fn start_worker(stet: &Stet, name: &str) -> Child {
    let log = std::fs::File::create(stet.path().join(format!("{name}.log"))).unwrap();
    stet.command()
        .arg("run")
        .env("STET_LOG", "stet=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start stet run")
}

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn three_workers_check_every_watch_once_and_survive_a_sigkill() {
    let pg = Postgres::start();
    let url = pg.database("shared");
    let receiver = Receiver::start();
    let sinks = format!(
        "[[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\n\
         on = [\"captured\"]\nmax_per_hour = 1000000\n",
        receiver.port
    );
    // per_host across all workers; short leases so that the killed worker's claims end soon.
    let stet = stet_on(&url, None, "lease = \"3s\"\n", &sinks);
    let config = std::fs::read_to_string(stet.path().join("stet.toml"))
        .unwrap()
        .replace("per_host = 8", &format!("per_host = {PER_HOST}"))
        .replace("concurrency = 8", "concurrency = 16");
    std::fs::write(stet.path().join("stet.toml"), config).unwrap();

    let sites: Vec<Site> = (0..HOSTS).map(|_| Site::start()).collect();
    let mut urls = Vec::new();
    for (h, site) in sites.iter().enumerate() {
        for i in 0..PER_HOST_WATCHES {
            let path = format!("/news/{h}-{i}");
            let title = format!("Story {h}-{i}");
            let body = article(&title, PARAS, "").into_bytes();
            site.set(
                &path,
                Route::Slow {
                    delay: Duration::from_millis(5),
                    body: Arc::new(body),
                },
            );
            urls.push(site.url(&path));
        }
    }
    for chunk in urls.chunks(500) {
        let mut args = vec!["watch", "add"];
        args.extend(chunk.iter().map(String::as_str));
        stet.ok(&args);
    }
    let total = urls.len() as i64;

    let mut c = pg.client("shared");
    let mut workers: Vec<Child> = (0..3)
        .map(|i| start_worker(&stet, &format!("worker{i}")))
        .collect();
    // Kill one worker while it holds claimed, unrecorded watches.
    wait_until(120, "the first checks", || {
        count(&mut c, "SELECT count(*) FROM checks") >= 200
    });
    let victim_claims = count(
        &mut c,
        "SELECT count(DISTINCT lease_owner) FROM watches WHERE lease_owner IS NOT NULL",
    );
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();

    wait_until(300, "every watch to be checked", || {
        count(
            &mut c,
            "SELECT count(*) FROM watches WHERE last_checked_at IS NOT NULL",
        ) == total
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    // One alert per capture (a check that met a transient error, the machine being busy, is
    // checked again later and has no capture yet).
    let captured = count(
        &mut c,
        "SELECT count(*) FROM events WHERE kind = 'captured'",
    );
    for r in c
        .query(
            "SELECT kind, detail FROM checks WHERE kind <> 'captured' LIMIT 5",
            &[],
        )
        .unwrap()
    {
        eprintln!(
            "not captured: {} {:?}",
            r.get::<_, String>(0),
            r.get::<_, Option<String>>(1)
        );
    }
    assert!(
        captured * 10 >= total * 9,
        "only {captured} of {total} captured"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM outbox"), captured);
    while count(&mut c, "SELECT count(*) FROM outbox WHERE status = 'sent'") < captured {
        if std::time::Instant::now() > deadline {
            let rows = c
                .query(
                    "SELECT status, count(*), max(last_error), count(lease_owner) FROM outbox
                     GROUP BY status",
                    &[],
                )
                .unwrap();
            let states: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{}: {} (leased {}) {:?}",
                        r.get::<_, String>(0),
                        r.get::<_, i64>(1),
                        r.get::<_, i64>(3),
                        r.get::<_, Option<String>>(2)
                    )
                })
                .collect();
            let logs: String = (1..3)
                .map(|i| {
                    let l = std::fs::read_to_string(stet.path().join(format!("worker{i}.log")))
                        .unwrap_or_default();
                    let tail: Vec<&str> = l.lines().rev().take(8).collect();
                    format!("worker{i}: {}", tail.join("\n"))
                })
                .collect();
            panic!("alerts not all delivered: {states:?}\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for w in workers.iter_mut().skip(1) {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
        let _ = w.wait();
    }

    assert!(
        victim_claims >= 1,
        "workers were claiming work when one was killed"
    );
    // Every due watch was checked exactly once: one check row, of one check, per watch.
    assert_eq!(count(&mut c, "SELECT count(*) FROM checks"), total);
    assert_eq!(
        count(&mut c, "SELECT coalesce(sum(count), 0)::BIGINT FROM checks"),
        total
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM (SELECT watch_id FROM checks GROUP BY watch_id HAVING count(*) > 1) d"
        ),
        0
    );
    // No version lost or duplicated: one per capture, each the watch's first.
    assert_eq!(count(&mut c, "SELECT count(*) FROM versions"), captured);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM versions WHERE seq <> 1"),
        0
    );
    // More than one worker did the work.
    let log =
        |i: usize| std::fs::read_to_string(stet.path().join(format!("worker{i}.log"))).unwrap();
    let passes: Vec<usize> = (0..3)
        .map(|i| log(i).matches("pass finished").count())
        .collect();
    assert!(
        passes[1] > 0 && passes[2] > 0,
        "the surviving workers both checked: {passes:?}"
    );
    // The site never saw more than per_host requests at once on any host.
    for (h, site) in sites.iter().enumerate() {
        assert!(
            site.peak_connections() <= PER_HOST,
            "host {h} saw {} requests at once",
            site.peak_connections()
        );
    }
    // One ledger chain, intact.
    let verify = stet.ok(&["verify", "--json"]);
    let report: serde_json::Value = serde_json::from_str(verify.trim()).unwrap();
    assert_eq!(report["ok"], true, "{verify}");
    assert_eq!(report["versions"], captured);
    // Every alert delivered once per idempotency key.
    let keys = receiver.keys.lock().unwrap();
    assert_eq!(keys.len() as i64, captured);
    let repeated: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "delivered more than once: {repeated:?}"
    );
}

use std::process::Command;
