//! What every integration suite shares: the `Stet` runner (a fresh data directory, a config and
//! the real binary), the archive backend the run uses (`backend`: SQLite, or PostgreSQL with
//! bodies in S3 when `STET_TEST_BACKEND=postgres`), the throwaway PostgreSQL clusters and
//! SeaweedFS servers (`cluster`), the local site a test edits, deletes and breaks (`site`), a
//! small HTTP/1.1 client and a running `stet serve` (`http`), and an archive built by real checks
//! (`archive`). Each test target includes it with `#[path = "../support/mod.rs"] mod support;`.
//! It never talks to anything beyond 127.0.0.1 and never fakes what the binary does.

// Each suite uses a part of it.
#![allow(dead_code, unused_imports)]

pub mod archive;
pub mod backend;
pub mod cluster;
pub mod db;
pub mod http;
pub mod site;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use backend::{Backend, known_postgres_failure, postgres_only, sqlite_only};
pub use http::{Resp, Served};

/// Where a `Stet`'s archive lives.
#[derive(Clone, Debug)]
pub enum Storage {
    /// `stet.db` in the data directory.
    Sqlite,
    /// A database of a PostgreSQL cluster, and body chunks under a prefix of an S3 bucket when
    /// `blobs` is given; `extra` is appended to the `[storage]` section.
    Postgres {
        url: String,
        blobs: Option<S3Place>,
        extra: String,
    },
}

/// A prefix of a bucket on an S3 server.
#[derive(Clone, Debug)]
pub struct S3Place {
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
}

impl Storage {
    /// The storage of the backend this run tests: SQLite, or a fresh database of the process's
    /// PostgreSQL cluster with its own prefix in the process's S3 bucket.
    pub fn of_this_run() -> Self {
        match backend::current() {
            Backend::Sqlite => Self::Sqlite,
            Backend::Postgres => {
                let shared = cluster::shared();
                let name = shared.pg.fresh_database();
                Self::Postgres {
                    url: shared.pg.url(&name),
                    blobs: Some(S3Place {
                        endpoint: shared.s3.endpoint(),
                        bucket: shared.s3.bucket.clone(),
                        prefix: name,
                    }),
                    extra: String::new(),
                }
            }
        }
    }

    /// With claims that end `lease` after a worker stops renewing them (PostgreSQL's
    /// `[storage] lease`; SQLite has one daemon and no claims). A test that kills a daemon and
    /// starts another sets it short: on PostgreSQL the new daemon is another worker, and the
    /// watches and alerts the killed one had claimed wait for the lease (5 minutes by default).
    pub fn lease(self, lease: &str) -> Self {
        match self {
            Self::Sqlite => Self::Sqlite,
            Self::Postgres { url, blobs, extra } => Self::Postgres {
                url,
                blobs,
                extra: format!("{extra}lease = \"{lease}\"\n"),
            },
        }
    }

    /// The `[storage]` section, with the SQLite file at `db`.
    fn section(&self, db: &Path) -> String {
        match self {
            Self::Sqlite => format!("[storage]\npath = \"{}\"\n", db.display()),
            Self::Postgres { url, blobs, extra } => {
                let blobs = blobs.as_ref().map_or(String::new(), |b| {
                    format!(
                        "blobs = \"s3://{}/{}\"\nblobs_endpoint = \"{}\"\nblobs_region = \"us-east-1\"\n\
                         blobs_access_key_id = \"test\"\nblobs_secret_access_key = \"test\"\n",
                        b.bucket, b.prefix, b.endpoint
                    )
                });
                format!("[storage]\nurl = \"{url}\"\n{blobs}{extra}")
            }
        }
    }
}

/// A fresh data directory with a config file, and the real `stet` binary to run in it.
pub struct Stet {
    pub dir: tempfile::TempDir,
    pub storage: Storage,
}

impl Stet {
    /// A config with the archive of this run's backend, short timeouts, and `extra` appended
    /// (sections a test needs; `[fetch]` keys go through `fetch`).
    pub fn new(fetch: &str, extra: &str) -> Self {
        Self::with_storage(Storage::of_this_run(), fetch, extra)
    }

    /// The same config with the archive in `storage`, whatever backend the run tests.
    pub fn with_storage(storage: Storage, fetch: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("stet.db");
        let defaults: String = ["timeout_secs = 5", "concurrency = 8", "per_host = 8"]
            .iter()
            .filter(|line| {
                let key = line.split(' ').next().unwrap();
                !fetch.lines().any(|l| l.trim_start().starts_with(key))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        // Tests do not wait a second between requests to their one local host.
        let politeness = if extra.contains("[politeness]") {
            ""
        } else {
            "[politeness]\nmin_delay = \"0s\"\nslow_delay = \"50ms\"\n"
        };
        let config = format!(
            "{}\n[fetch]\n{defaults}{fetch}\n\n{politeness}\n{extra}\n",
            storage.section(&db)
        );
        std::fs::write(dir.path().join("stet.toml"), config).unwrap();
        Self { dir, storage }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("stet.toml")
    }

    /// The SQLite file of the archive (absent on PostgreSQL).
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("stet.db")
    }

    /// The `[storage]` section of this `Stet`'s config, for a test that writes a config itself.
    pub fn storage_section(&self) -> String {
        self.storage.section(&self.db_path())
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stet"));
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_path())
            .env_remove("STET_DB")
            .env_remove("STET_CONFIG")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs stet with `args`; returns its output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run stet")
    }

    /// Runs stet, expecting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stet {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// `stet check --json [urls]`: one parsed report per URL checked.
    pub fn check(&self, urls: &[&str]) -> Vec<Value> {
        let mut args = vec!["check", "--json"];
        args.extend_from_slice(urls);
        json_lines(&self.ok(&args))
    }

    /// Checks one URL and returns its report.
    pub fn check_one(&self, url: &str) -> Value {
        let reports = self.check(&[url]);
        assert_eq!(reports.len(), 1, "{reports:?}");
        reports.into_iter().next().unwrap()
    }

    pub fn watch(&self, urls: &[String]) {
        let mut args = vec!["watch", "add"];
        args.extend(urls.iter().map(String::as_str));
        self.ok(&args);
    }

    /// Starts `stet serve` on a free loopback port (plus `args`) and waits until it answers.
    pub fn serve(&self, args: &[&str]) -> Served {
        Served::start(self.command(), args)
    }
}

pub fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The `kind` of a report.
pub fn kind(report: &Value) -> &str {
    report["kind"].as_str().unwrap_or("?")
}

/// Waits up to `secs` seconds for `cond`, checking every 100 ms.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fixture page from `tests/fixtures/readability`, decompressed.
pub fn fixture(name: &str, file: &str) -> String {
    let path = fixtures_dir().join(name).join(format!("{file}.zst"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(zstd::decode_all(bytes.as_slice()).unwrap()).unwrap()
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/readability")
}

/// The shared corpus beside the clone (`../shared/corpus`), or where `STET_SHARED_CORPUS` says.
/// A fresh user clone has none: tests that read it say so and go on without it.
pub fn shared_corpus() -> PathBuf {
    std::env::var_os("STET_SHARED_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An independent checker program (Python or Go) in `tests/checkers/`.
pub fn checker(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/checkers")
        .join(name)
}

/// A small article page for lifecycle tests.
pub fn article_page(title: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><article><h1>{title}</h1>\n{body}</article>\
         <footer>Footer</footer></body></html>"
    )
}

/// An article page with `noise` in its navigation and footer.
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
