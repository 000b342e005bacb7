//! Faults the daemon survives, against the real binary: `kill -9` at random moments with checks
//! and alert deliveries in flight, a full disk, and its database removed, replaced or made
//! read-only underneath it. Each test prints its figures (what happened, how long it took).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, Storage, article_page};

/// Headers (lower-case names) and body of one request.
pub type Request = (HashMap<String, String>, Vec<u8>);

/// A webhook receiver that records the Idempotency-Key of every request and answers 200 after
/// `delay`, so deliveries are in flight when the daemon is killed.
pub struct KeyReceiver {
    addr: SocketAddr,
    keys: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Request>>>,
}

impl KeyReceiver {
    pub fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (k, b) = (keys.clone(), bodies.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (k, b) = (k.clone(), b.clone());
                std::thread::spawn(move || {
                    let _ = answer(stream, &k, &b, delay);
                });
            }
        });
        Self { addr, keys, bodies }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }

    /// Headers (lower-case names) and body of every request.
    pub fn requests(&self) -> Vec<Request> {
        self.bodies.lock().unwrap().clone()
    }
}

fn answer(
    stream: TcpStream,
    keys: &Mutex<Vec<String>>,
    bodies: &Mutex<Vec<Request>>,
    delay: Duration,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    std::thread::sleep(delay);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )?;
    stream.flush()?;
    // Recorded once answered: a request cut off by the kill was not delivered.
    if let Some(key) = headers.get("idempotency-key") {
        keys.lock().unwrap().push(key.clone());
    }
    bodies.lock().unwrap().push((headers, body));
    Ok(())
}

/// A `stet run` whose log is collected; killed when dropped.
pub struct Daemon {
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(stet: &Stet) -> Self {
        Self::start_with(stet, &[])
    }

    pub fn start_with(stet: &Stet, env: &[(&str, &str)]) -> Self {
        let mut cmd = stet.command();
        cmd.args(["run"])
            .env("STET_LOG", "stet=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start stet run");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until `cond` holds, failing after `secs` with the log.
    pub fn until(&self, secs: u64, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
        let started = Instant::now();
        while !cond() {
            assert!(
                started.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; daemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        started.elapsed()
    }

    /// Waits for the process to exit; its exit code.
    pub fn exit_code(&mut self, secs: u64) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(secs),
                "the daemon did not stop; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

const EVERY_SECOND: &str = "[schedule]\ndefault = \"every 1s\"\njitter = \"0s\"\n";

fn integrity_ok(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "{}", db.display());
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A small generator, so a failing run can be repeated from its printed seed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn kill_9_twenty_times_with_checks_and_deliveries_in_flight_loses_nothing() {
    let receiver = KeyReceiver::start(Duration::from_millis(150));
    let site = Site::start();
    let config = format!(
        "{EVERY_SECOND}[[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\non = [\"captured\", \"edited\"]\nmax_per_hour = 0\nbackoff_secs = 1\nmax_backoff_secs = 1\nmax_attempts = 100\n",
        receiver.url()
    );
    let stet = Stet::with_storage(
        Storage::of_this_run().lease("2s"),
        "concurrency = 4\nper_host = 4",
        &config,
    );
    let pages = 24;
    let urls: Vec<String> = (0..pages).map(|i| site.url(&format!("/k/{i}"))).collect();
    let set_round = |round: usize| {
        for i in 0..pages {
            // A third of the pages change every round: edits and their alerts keep coming.
            let n = if i % 3 == round % 3 { round } else { 0 };
            let para = PARAS[1].replace("40,000", &format!("{},000", 40 + n));
            site.set(
                &format!("/k/{i}"),
                Route::html(article_page(
                    &format!("Bridge {i}"),
                    &[PARAS[0], &para, PARAS[2]],
                )),
            );
        }
    };
    set_round(0);
    stet.watch(&urls);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let started = Instant::now();
    for round in 1..=20 {
        set_round(round);
        let mut daemon = Daemon::start(&stet);
        let wait = Duration::from_millis(300 + rng.next() % 1200);
        std::thread::sleep(wait);
        daemon.kill9();
        stet.db().integrity_ok();
        let verify = stet.run(&["verify"]);
        assert!(
            verify.status.success(),
            "round {round}: verify failed after a kill {wait:?} in:\n{}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        println!(
            "round {round}: killed after {wait:?}; versions {}, alerts queued {}, delivered {}",
            stet.db().count("SELECT count(*) FROM versions"),
            stet.db().count("SELECT count(*) FROM outbox"),
            receiver.keys().len()
        );
    }
    // Every queued alert reaches the receiver once the daemon is left to run.
    let daemon = Daemon::start(&stet);
    let drained = daemon.until(60, "every alert delivered", || {
        stet.db()
            .count("SELECT count(*) FROM outbox WHERE status != 'sent'")
            == 0
    });
    drop(daemon);
    let queued = stet.db().strings("SELECT idempotency_key FROM outbox");
    let received: HashSet<String> = receiver.keys().into_iter().collect();
    let missing: Vec<&String> = queued.iter().filter(|k| !received.contains(*k)).collect();
    assert!(missing.is_empty(), "alerts never delivered: {missing:?}");
    assert!(
        queued.len() >= pages,
        "alerts were queued: {}",
        queued.len()
    );
    let repeats = receiver.keys().len() - received.len();
    println!(
        "20 kills in {:?}: {} alerts queued, all delivered ({} delivered twice, same key), drained in {drained:?}",
        started.elapsed(),
        queued.len(),
        repeats
    );
    stet.db().integrity_ok();
}

/// A tmpfs mounted for one test (needs root); unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// `None` (and a note on stdout) where the test cannot mount file systems.
    fn mount(parent: &Path, size: &str) -> Option<Self> {
        let dir = parent.join("fs");
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("skipped: mounting a tmpfs needs root (run the tests as root, as CI does)");
            return None;
        }
        Some(Self { dir })
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {options}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// An article of about `kib` KiB of text that does not compress (distinct words per page).
fn incompressible_article(i: usize, kib: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut paras = Vec::new();
    let mut state = Sha256::digest(format!("page {i}").as_bytes()).to_vec();
    while paras.iter().map(String::len).sum::<usize>() < kib * 1024 {
        state = Sha256::digest(&state).to_vec();
        let words: Vec<String> = state.chunks(4).map(hex::encode).collect();
        paras.push(format!("{}.", words.join(" ")));
    }
    let refs: Vec<&str> = paras.iter().map(String::as_str).collect();
    article_page(&format!("Page {i}"), &refs)
}

fn stet_on(disk: &Path, extra: &str) -> Stet {
    let stet = Stet::new("concurrency = 4\nper_host = 4", extra);
    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    let db = disk.join("stet.db");
    let config = config.replace(
        &format!("path = \"{}\"", stet.db_path().display()),
        &format!("path = \"{}\"", db.display()),
    );
    std::fs::write(stet.config_path(), config).unwrap();
    stet
}

#[test]
fn a_full_disk_stops_writes_loses_nothing_committed_and_recovers_when_space_returns() {
    if crate::support::sqlite_only("puts the SQLite file on a small tmpfs that fills up") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(tmp.path(), "2500k") else {
        return;
    };
    let site = Site::start();
    let stet = stet_on(&disk.dir, EVERY_SECOND);
    let db = disk.dir.join("stet.db");
    let urls: Vec<String> = (0..40)
        .map(|i| {
            let path = format!("/big/{i}");
            site.set(&path, Route::html(incompressible_article(i, 120)));
            site.url(&path)
        })
        .collect();
    stet.watch(&urls);
    let daemon = Daemon::start(&stet);
    let full = daemon.until(60, "the disk to fill", || {
        daemon.log().contains("disk is full")
    });
    let committed = count(&db, "SELECT count(*) FROM versions");
    integrity_ok(&db);
    println!("disk full after {full:?} with {committed} of 40 pages committed");
    assert!(committed < 40, "the disk filled before every page fit");
    let log = daemon.log();
    let line = log.lines().find(|l| l.contains("disk is full")).unwrap();
    println!("logged: {line}");
    assert!(line.contains("pass failed"), "{line}");

    // Space returns: the daemon carries on by itself.
    disk.remount("size=64m");
    let resumed = daemon.until(60, "every page captured", || {
        count(&db, "SELECT count(DISTINCT watch_id) FROM versions") == 40
    });
    println!("all 40 pages captured {resumed:?} after space returned");
    drop(daemon);
    integrity_ok(&db);
    assert!(count(&db, "SELECT count(*) FROM versions") >= committed);
    let verify = stet.run(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// Sets or clears the immutable attribute (`chattr`), which refuses writes even to root and
/// even through descriptors already open: a database made read-only under the daemon.
fn immutable(paths: &[PathBuf], on: bool) -> bool {
    Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .args(paths)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_read_only_database_is_reported_and_writing_resumes_when_it_is_writable_again() {
    if crate::support::sqlite_only("makes the SQLite file and its WAL immutable (chattr +i)") {
        return;
    }
    let site = Site::start();
    let stet = Stet::new("", EVERY_SECOND);
    let db = stet.db_path();
    let url = site.url("/ro");
    site.set("/ro", Route::html(article_page("Read only", PARAS)));
    stet.watch(std::slice::from_ref(&url));
    let mut daemon = Daemon::start(&stet);
    daemon.until(30, "the first capture", || {
        count(&db, "SELECT count(*) FROM versions") == 1
    });
    let files = vec![db.clone(), stet.dir.path().join("stet.db-wal")];
    if !immutable(&files, true) {
        println!("skipped: chattr +i needs root and a file system that supports it");
        return;
    }
    let edited = PARAS[1].replace("40,000", "12,000");
    site.set(
        "/ro",
        Route::html(article_page("Read only", &[PARAS[0], &edited])),
    );
    let made = Instant::now();
    let noticed = daemon.until(30, "a clear error", || daemon.log().contains("pass failed"));
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains("pass failed"))
        .unwrap()
        .to_string();
    println!("read-only noticed in {noticed:?}: {line}");
    assert!(daemon.child.try_wait().unwrap().is_none(), "still running");
    assert!(immutable(&files, false));
    let resumed = daemon.until(40, "the edit recorded", || {
        count(&db, "SELECT count(*) FROM versions") == 2
    });
    println!(
        "writable again: the edit was recorded {resumed:?} later ({:?} after the database was made read-only)",
        made.elapsed()
    );
    drop(daemon);
    integrity_ok(&db);
    let verify = stet.run(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn a_database_removed_or_replaced_under_the_daemon_stops_it_and_saves_what_was_committed() {
    if crate::support::sqlite_only(
        "removes and replaces the SQLite file; the rescue copy is SQLite's",
    ) {
        return;
    }
    for how in ["removed", "replaced"] {
        let site = Site::start();
        let stet = Stet::new("", EVERY_SECOND);
        let url = site.url("/gone-db");
        site.set("/gone-db", Route::html(article_page("Kept", PARAS)));
        stet.watch(std::slice::from_ref(&url));
        let db = stet.db_path();
        let mut daemon = Daemon::start(&stet);
        daemon.until(30, "the first capture", || {
            count(&db, "SELECT count(*) FROM versions") == 1
        });
        let started = Instant::now();
        if how == "removed" {
            std::fs::remove_file(&db).unwrap();
        } else {
            let other = stet.dir.path().join("other.db");
            std::fs::write(&other, b"").unwrap();
            std::fs::rename(&other, &db).unwrap();
        }
        let code = daemon.exit_code(40);
        let took = started.elapsed();
        let log = daemon.log();
        println!("database {how}: exit {code:?} after {took:?}");
        assert_eq!(code, Some(1), "{log}");
        assert!(log.contains(&format!("was {how}")), "{log}");
        let rescued: Vec<PathBuf> = std::fs::read_dir(stet.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains(".rescued-"))
            .collect();
        assert_eq!(rescued.len(), 1, "{log}");
        assert!(log.contains(&rescued[0].display().to_string()), "{log}");
        integrity_ok(&rescued[0]);
        assert_eq!(
            count(&rescued[0], "SELECT count(*) FROM versions"),
            1,
            "what was committed was saved"
        );
        // Moved back, the archive verifies.
        std::fs::rename(&rescued[0], &db).unwrap();
        let _ = std::fs::remove_file(stet.dir.path().join("stet.db-wal"));
        let _ = std::fs::remove_file(stet.dir.path().join("stet.db-shm"));
        let verify = stet.run(&["verify"]);
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
}

/// libfaketime, where installed (`.ci/test-deps` installs it).
fn faketime_library() -> Option<PathBuf> {
    let found = std::fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists());
    if found.is_none() {
        println!("skipped: libfaketime is not installed (apt-get install faketime)");
    }
    found
}

#[test]
fn the_clock_jumping_back_or_forward_by_hours_neither_stalls_nor_bursts_checks() {
    let Some(lib) = faketime_library() else {
        return;
    };
    let site = Site::start();
    let period = 15;
    let stet = Stet::new(
        "",
        &format!("[schedule]\ndefault = \"every {period}s\"\njitter = \"0s\"\n"),
    );
    let urls: Vec<String> = (0..5)
        .map(|i| {
            let path = format!("/clock/{i}");
            site.set(
                &path,
                Route::html(article_page(&format!("Clock {i}"), PARAS)),
            );
            site.url(&path)
        })
        .collect();
    stet.watch(&urls);
    let offset = stet.dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let env = [
        ("LD_PRELOAD", lib.to_str().unwrap()),
        ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
        ("FAKETIME_NO_CACHE", "1"),
        // Timers keep real time; only the wall clock is moved.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    let hits = || -> usize { (0..5).map(|i| site.hits(&format!("/clock/{i}"))).sum() };
    let daemon = Daemon::start_with(&stet, &env);
    daemon.until(30, "the first checks", || hits() >= 5);
    std::thread::sleep(Duration::from_millis(500));

    // Back three hours: without care, every next check would wait three hours.
    let before = hits();
    std::fs::write(&offset, "-3h\n").unwrap();
    let back = daemon.until(period + 20, "checks after the jump back", || {
        hits() >= before + 5
    });
    println!("clock back 3 h: every watch checked again {back:?} later (period {period} s)");
    std::thread::sleep(Duration::from_millis(500));

    // Forward five hours, just after a round of checks: without care, every watch would be
    // overdue at once and checked again immediately; with it, the next round keeps its time.
    let before = hits();
    std::fs::write(&offset, "+2h\n").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let burst = hits() - before;
    let fwd = daemon.until(period + 20, "checks after the jump forward", || {
        hits() >= before + 5
    });
    println!(
        "clock forward 5 h: {burst} checks in the 5 s after it; the next round {:?} after it",
        fwd + Duration::from_secs(5)
    );
    assert_eq!(burst, 0, "checks ran early: a burst after the jump");
    let log = daemon.log();
    let jumps: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("the system clock jumped"))
        .collect();
    assert_eq!(jumps.len(), 2, "{log}");
    assert!(jumps[0].contains("jump_secs=-10800"), "{}", jumps[0]);
    assert!(jumps[1].contains("jump_secs=18000"), "{}", jumps[1]);
}
