//! stet's integration tests: the real binary against real local servers and real SQLite files.

pub(crate) mod alerts;
mod cli;
mod copies;
mod detection;
mod faults;
mod hostile;
mod ledger;
mod lifecycle;
mod metadata;
mod pipes;
mod politeness;
mod proofs;
mod props;
mod robustness;
mod rules;
mod secrets;
mod service;
mod site;
mod stability;
mod upgrade;
mod walls;
mod web;
mod web_archive;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A fresh data directory with a config file, and the real `stet` binary to run in it.
pub struct Stet {
    pub dir: tempfile::TempDir,
}

impl Stet {
    /// A config with the database in the temp dir, short timeouts, and `extra` appended
    /// (sections a test needs; `[fetch]` keys go through `fetch`).
    pub fn new(fetch: &str, extra: &str) -> Self {
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
            "[storage]\npath = \"{}\"\n\n[fetch]\n{defaults}{fetch}\n\n{politeness}\n{extra}\n",
            db.display()
        );
        std::fs::write(dir.path().join("stet.toml"), config).unwrap();
        Self { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("stet.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("stet.db")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stet"));
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_path())
            .env_remove("STET_DB")
            .env_remove("STET_CONFIG")
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

/// A small article page for lifecycle tests.
pub fn article_page(title: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><article><h1>{title}</h1>\n{body}</article>\
         <footer>Footer</footer></body></html>"
    )
}

pub const PARAS: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel.",
    "Local businesses said they had been given only four days of notice and warned of lost trade in the busy season.",
];
