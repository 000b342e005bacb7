//! stet on PostgreSQL and S3-compatible storage: the real binary against a throwaway PostgreSQL
//! cluster (Debian's server, `initdb` + `pg_ctl` in a temp dir, its own port) and a real
//! SeaweedFS S3 server, both started here on 127.0.0.1; and several workers sharing one archive.
//!
//! When `initdb` or `weed` is missing the suite says so and fails: `.ci/test-deps` installs both.

#[path = "../it/site.rs"]
#[allow(dead_code)]
mod site;

mod cluster;
mod web;
mod workers;

pub use cluster::{Postgres, free_port};

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use site::{Route, Site};

pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One SeaweedFS at a time: two started at once by parallel tests sometimes never made their
/// bucket within two minutes on a 2-core machine.
static S3_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A SeaweedFS server with its S3 gateway on 127.0.0.1, one bucket made; stopped when dropped.
pub struct S3 {
    _turn: std::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
    pub bucket: String,
}

impl S3 {
    pub fn start() -> Self {
        let turn = S3_TURN.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let p = |_: ()| free_port().to_string();
        let child = Command::new("weed")
            .arg("server")
            .arg(format!("-dir={}", dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-s3.port={port}"))
            .arg(format!("-s3.port.grpc={}", p(())))
            .arg(format!("-master.port={}", p(())))
            .arg(format!("-master.port.grpc={}", p(())))
            .arg(format!("-volume.port={}", p(())))
            .arg(format!("-volume.port.grpc={}", p(())))
            .arg(format!("-filer.port={}", p(())))
            .arg(format!("-filer.port.grpc={}", p(())))
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=8"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("SeaweedFS (weed) is not installed: run .ci/test-deps");
        let s3 = Self {
            _turn: turn,
            _dir: dir,
            child,
            port,
            bucket: "archive".into(),
        };
        wait_until(120, "the S3 gateway to make a bucket", || {
            http_status("PUT", port, "/archive") == Some(200)
        });
        // The bucket exists before a volume takes data: wait until an object is stored.
        wait_until(120, "the S3 gateway to store an object", || {
            http_with_body("PUT", port, "/archive/ready", b"ready")
                .and_then(|r| r.split_whitespace().nth(1).map(str::to_string))
                .is_some_and(|s| s == "200")
        });
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The names of the objects under `prefix` in the bucket.
    pub fn objects(&self, prefix: &str) -> usize {
        let body = http_body(
            "GET",
            self.port,
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
        );
        body.matches("<Key>").count()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(method: &str, port: u16, path: &str) -> Option<String> {
    http_with_body(method, port, path, b"")
}

fn http_with_body(method: &str, port: u16, path: &str, body: &[u8]) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .ok()?;
    s.write_all(body).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn http_status(method: &str, port: u16, path: &str) -> Option<u16> {
    http(method, port, path)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn http_body(method: &str, port: u16, path: &str) -> String {
    http(method, port, path).unwrap_or_default()
}

/// A temp dir with a config naming a PostgreSQL archive (and S3 bodies when given), and the
/// real `stet` binary to run in it.
pub struct Stet {
    pub dir: tempfile::TempDir,
}

impl Stet {
    pub fn new(url: &str, s3: Option<&S3>, storage_extra: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let blobs = s3.map_or(String::new(), |s| {
            format!(
                "blobs = \"s3://{}/stet\"\nblobs_endpoint = \"{}\"\nblobs_region = \"us-east-1\"\n\
                 blobs_access_key_id = \"test\"\nblobs_secret_access_key = \"test\"\n",
                s.bucket,
                s.endpoint()
            )
        });
        let config = format!(
            "[storage]\nurl = \"{url}\"\n{blobs}{storage_extra}\n\n\
             [fetch]\ntimeout_secs = 5\nconcurrency = 8\nper_host = 8\n\n\
             [politeness]\nmin_delay = \"0s\"\n\n{extra}\n"
        );
        std::fs::write(dir.path().join("stet.toml"), config).unwrap();
        Self { dir }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stet"));
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.dir.path().join("stet.toml"))
            .env_remove("STET_DB")
            .env_remove("STET_CONFIG")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run stet")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stet {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn check_one(&self, url: &str) -> Value {
        let out = self.ok(&["check", "--json", url]);
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "{out}");
        lines.into_iter().next().unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub fn article(title: &str, paragraphs: &[&str], noise: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a> {noise}</nav><article><h1>{title}</h1>\n{body}</article>\
         <footer>Footer {noise}</footer></body></html>"
    )
}

pub const PARAS: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel.",
    "Local businesses said they had been given only four days of notice and warned of lost trade in the busy season.",
];

/// The core cases of the SQLite suite, on PostgreSQL with bodies in S3: capture, noise, edit,
/// transient error, deletion, history, diff, verify, export; and the chunks are in the bucket,
/// not in the database.
#[test]
fn the_core_cases_pass_on_postgresql_with_bodies_in_s3() {
    let pg = Postgres::start();
    let s3 = S3::start();
    let url = pg.database("core");
    let stet = Stet::new(&url, Some(&s3), "", "");
    let site = Site::start();
    let page = site.url("/news/bridge");
    site.set(
        "/news/bridge",
        Route::html(article("Bridge to close", PARAS, "")),
    );
    stet.ok(&["watch", "add", &page]);

    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "captured", "{r}");
    assert_eq!(r["version"], 1);

    // Noise: the page's furniture changes, the article does not.
    site.set(
        "/news/bridge",
        Route::html(article(
            "Bridge to close",
            PARAS,
            "<span>5 minutes ago</span>",
        )),
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "unchanged", "{r}");

    // An edit.
    let edited = PARAS[1].replace("40,000", "60,000");
    site.set(
        "/news/bridge",
        Route::html(article(
            "Bridge to close",
            &[PARAS[0], &edited, PARAS[2]],
            "",
        )),
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "edited", "{r}");
    assert_eq!(r["version"], 2);

    // A transient failure is an error, never a deletion or an edit.
    site.set("/news/bridge", Route::status(503, "busy"));
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "error", "{r}");

    // Gone twice: deleted.
    site.set("/news/bridge", Route::status(404, "<h1>Not found</h1>"));
    let first = stet.check_one(&page);
    assert_ne!(
        first["kind"], "deleted",
        "one 404 is not a deletion yet: {first}"
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "deleted", "{r}");

    let history = stet.ok(&["history", "--json", &page]);
    assert!(
        history.contains("edited") && history.contains("deleted"),
        "{history}"
    );
    let diff = stet.ok(&["diff", &page, "--from", "1", "--to", "2"]);
    assert!(diff.contains("60,000") && diff.contains("40,000"), "{diff}");
    let shown = stet.ok(&["show", "--raw", &page, "--version", "1"]);
    assert!(shown.contains("About 40,000 vehicles"), "{shown}");

    let verify = stet.ok(&["verify", "--json"]);
    let report: Value = serde_json::from_str(verify.trim()).unwrap();
    assert_eq!(report["ok"], true, "{verify}");
    assert_eq!(report["versions"], 2, "{verify}");

    let export = stet.ok(&["export", "--format", "jsonl"]);
    let lines = json_lines(&export);
    assert!(
        lines.iter().filter(|l| l["version"].is_object()).count() == 2,
        "{export}"
    );

    // The bodies' chunks are objects in the bucket; the database holds only their names.
    let mut c = pg.client("core");
    let in_db: i64 = c
        .query_one("SELECT count(*) FROM chunks WHERE data IS NOT NULL", &[])
        .unwrap()
        .get(0);
    let chunks: i64 = c
        .query_one("SELECT count(*) FROM chunks", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_db, 0);
    assert!(chunks > 0);
    assert_eq!(s3.objects("stet/chunks/") as i64, chunks);

    let applied: i64 = c
        .query_one("SELECT count(*) FROM stet_migrations", &[])
        .unwrap()
        .get(0);
    assert!(applied >= 5, "the migrations are recorded: {applied}");

    // A chunk replaced in the bucket (valid zstd, other bytes) is found by verify.
    let key: String = c
        .query_one("SELECT hash FROM chunks ORDER BY hash LIMIT 1", &[])
        .unwrap()
        .get(0);
    let forged = zstd::encode_all(&b"forged bytes"[..], 3).unwrap();
    let put = http_with_body(
        "PUT",
        s3.port,
        &format!("/{}/stet/chunks/{key}", s3.bucket),
        &forged,
    )
    .unwrap_or_default();
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    let out = stet.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(4), "verify passed a forged chunk");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
}

/// `stet migrate --to postgresql://...` moves a SQLite archive with the same ledger head, and
/// the copy verifies and answers every verb.
#[test]
fn a_sqlite_archive_moves_to_postgresql_with_the_same_ledger_head() {
    let pg = Postgres::start();
    let url = pg.database("moved");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stet.db");
    std::fs::write(
        dir.path().join("stet.toml"),
        format!(
            "[storage]\npath = \"{}\"\n\n[fetch]\ntimeout_secs = 5\n\n[politeness]\nmin_delay = \"0s\"\n",
            db.display()
        ),
    )
    .unwrap();
    let sqlite = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_stet"))
            .current_dir(dir.path())
            .arg("--config")
            .arg(dir.path().join("stet.toml"))
            .env_remove("STET_DB")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "stet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let site = Site::start();
    let a = site.url("/a");
    let b = site.url("/b");
    site.set("/a", Route::html(article("Alpha", PARAS, "")));
    site.set("/b", Route::html(article("Beta", &PARAS[..2], "")));
    sqlite(&["watch", "add", &a, &b]);
    sqlite(&["check"]);
    site.set("/a", Route::html(article("Alpha", &PARAS[1..], "")));
    sqlite(&["check"]);
    let head: Value = serde_json::from_str(sqlite(&["ledger", "head", "--json"]).trim()).unwrap();

    let out = sqlite(&["migrate", "--to", &url, "--json"]);
    let moved: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(moved["verified"], true, "{out}");
    assert_eq!(moved["head"], head["head"], "{out} vs {head}");
    assert_eq!(moved["entries"], head["entries"]);

    let stet = Stet::new(&url, None, "", "");
    let verify: Value = serde_json::from_str(stet.ok(&["verify", "--json"]).trim()).unwrap();
    assert_eq!(verify["ok"], true);
    let pg_head: Value =
        serde_json::from_str(stet.ok(&["ledger", "head", "--json"]).trim()).unwrap();
    assert_eq!(pg_head["head"], head["head"]);
    let diff = stet.ok(&["diff", &a, "--from", "1", "--to", "2"]);
    assert!(diff.contains("city council"), "{diff}");
    // Checking goes on in the new archive, chained after the migrated entries.
    let r = stet.check_one(&b);
    assert_eq!(r["kind"], "unchanged", "{r}");
    assert!(stet.path().exists());

    // A second migration into the same, now full, database is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_stet"))
        .current_dir(dir.path())
        .arg("--config")
        .arg(dir.path().join("stet.toml"))
        .args(["migrate", "--to", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ledger's every-column test (tests/it/proofs.rs) alters each column SQLite's schema has;
/// here PostgreSQL's schema is read the same way: each column of a recorded table is committed
/// to by an entry, or checked by `verify` as the row's identity (`id`, `watch_id`: its watch's
/// URL) or its text (`text_zstd`: the content hash), or in the store's one exempt list. A new
/// column that nothing covers fails here.
#[test]
fn every_column_of_the_recorded_tables_is_covered_by_the_ledger_on_postgresql() {
    let pg = Postgres::start();
    let url = pg.database("columns");
    drop(
        stet::store::Store::open(stet::store::Location::Postgres {
            url,
            blobs: None,
            lease: stet::store::DEFAULT_LEASE,
        })
        .unwrap(),
    );
    let mut client = pg.client("columns");
    for (table, committed) in [
        ("versions", stet::store::version_columns()),
        ("events", stet::store::event_columns()),
    ] {
        let columns: Vec<String> = client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(columns.len() > 5, "{table}: {columns:?}");
        for column in &columns {
            let covered = committed.contains(&column.as_str())
                || ["id", "watch_id", "text_zstd"].contains(&column.as_str())
                || stet::store::EXEMPT_COLUMNS
                    .iter()
                    .any(|(t, c, _)| *t == table && c == column);
            assert!(
                covered,
                "{table}.{column} is neither committed to by a ledger entry, nor checked by \
                 verify, nor in store::EXEMPT_COLUMNS"
            );
        }
    }
}
