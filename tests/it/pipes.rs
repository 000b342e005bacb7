//! stet as a tool in a pipeline and on a first run: a closed stdout ends it quietly, listings
//! page and stream in constant memory, and an empty archive says how to add something.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, Storage, article_page, json_lines};

/// Adds `n` watches straight into the archive's table (after `stet` created the schema): a
/// large archive in a second, where `watch add` of each would take minutes.
fn insert_watches(stet: &Stet, n: usize) {
    stet.ok(&["watch", "list"]);
    if let Storage::Postgres { .. } = stet.storage {
        stet.db().execute(&format!(
            "INSERT INTO watches (url, origin, added_at)
             SELECT 'https://news.example.org/2026/12/01/story-number-' || lpad(i::text, 7, '0')
                    || '-of-the-synthetic-archive', 'cli', '2026-12-01T08:00:00.000Z'
             FROM generate_series(0, {}) AS i",
            n as i64 - 1
        ));
        return;
    }
    let mut db = rusqlite::Connection::open(stet.db_path()).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO watches (url, origin, added_at) VALUES (?1, 'cli', '2026-12-01T08:00:00.000Z')",
            )
            .unwrap();
        for i in 0..n {
            insert
                .execute([format!(
                    "https://news.example.org/2026/12/01/story-number-{i:07}-of-the-synthetic-archive"
                )])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Runs `stet ARGS | head -1` in bash with pipefail; returns (stdout, stderr, status).
fn into_head(stet: &Stet, args: &str) -> (String, String, Option<i32>) {
    let script = format!("set -o pipefail; \"$STET\" --config \"$CONFIG\" {args} | head -1");
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("STET", env!("CARGO_BIN_EXE_stet"))
        .env("CONFIG", stet.config_path())
        .env("NO_COLOR", "1")
        .env_remove("STET_DB")
        .env_remove("STET_LOG")
        .current_dir(stet.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn watch_list_into_head_exits_quietly() {
    let stet = Stet::new("", "");
    // Far more output than a pipe holds, so stet is still writing when head goes away.
    insert_watches(&stet, 3000);
    let (stdout, stderr, status) = into_head(&stet, "watch list --json");
    assert_eq!(stderr, "", "nothing on stderr");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let first: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        first["url"]
            .as_str()
            .unwrap()
            .contains("story-number-0000000")
    );
    assert_eq!(status, Some(141), "128 + SIGPIPE, as the shell reports it");

    let (stdout, stderr, status) = into_head(&stet, "watch list");
    assert_eq!(stderr, "", "nothing on stderr from the table either");
    assert!(stdout.starts_with("URL"), "{stdout}");
    assert_eq!(status, Some(141));
}

#[test]
fn watch_list_pages_with_limit_and_after() {
    let stet = Stet::new("", "");
    insert_watches(&stet, 2500);
    let all = json_lines(&stet.ok(&["watch", "list", "--json"]));
    assert_eq!(all.len(), 2500, "every watch, across pages of the store");
    let ids: Vec<i64> = all.iter().map(|w| w["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");

    let first = json_lines(&stet.ok(&["watch", "list", "--json", "--limit", "1001"]));
    assert_eq!(first.len(), 1001);
    let last = first.last().unwrap()["id"].as_i64().unwrap().to_string();
    let next = json_lines(&stet.ok(&["watch", "list", "--json", "--after", &last]));
    assert_eq!(next.len(), 2500 - 1001);
    assert_eq!(next[0], all[1001], "the next page starts right after");

    // --after also takes the URL of the last watch printed.
    let url = first.last().unwrap()["url"].as_str().unwrap().to_string();
    let by_url =
        json_lines(&stet.ok(&["watch", "list", "--json", "--after", &url, "--limit", "2"]));
    assert_eq!(by_url, all[1001..1003].to_vec());

    let human = stet.ok(&["watch", "list", "--limit", "3"]);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(
        lines.len(),
        2 + 3 + 1,
        "header, rule, rows, footer: {human}"
    );
    assert!(
        lines[0].starts_with("URL") && lines[0].contains("STATUS"),
        "{human}"
    );
    assert!(
        lines[5].contains("3 watch(es)") && lines[5].contains(&format!("--after {}", ids[2])),
        "the footer says where the next page starts: {human}"
    );
    let out = stet.run(&["watch", "list", "--after", "https://never.example.org/x"]);
    assert_eq!(out.status.code(), Some(3), "an unknown URL is not found");
}

/// The peak resident memory (VmHWM) of a running process, in KiB.
fn peak_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Lists with `args`, reading stdout; samples the peak memory when `sample_at` lines are read
/// (stet is then still running, blocked on the full pipe). Returns (lines, peak KiB, time to
/// the first line).
fn list_measuring(stet: &Stet, args: &[&str], sample_at: usize) -> (usize, u64, Duration) {
    let started = Instant::now();
    let mut child = stet
        .command()
        .args(args)
        .env_remove("STET_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut lines = 0;
    let mut first = None;
    let mut peak = None;
    while out.read_line(&mut line).unwrap() > 0 {
        lines += 1;
        first.get_or_insert_with(|| started.elapsed());
        if lines == sample_at {
            // Let stet fill the pipe again, so it is blocked writing, not exiting.
            std::thread::sleep(Duration::from_millis(200));
            peak = Some(peak_kib(&child));
        }
        line.clear();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{err}");
    (lines, peak.expect("sampled"), first.unwrap())
}

#[test]
fn watch_list_streams_in_constant_memory() {
    let stet = Stet::new("", "");
    let n = 100_000;
    insert_watches(&stet, n);
    let (lines, small, _) =
        list_measuring(&stet, &["watch", "list", "--json", "--limit", "2000"], 1000);
    assert_eq!(lines, 2000);
    let (lines, full, first) = list_measuring(&stet, &["watch", "list", "--json"], n - 2000);
    assert_eq!(lines, n);
    eprintln!(
        "watch list --json of {n} watches: peak {full} KiB (2,000 of them: {small} KiB), \
         first line after {first:?}"
    );
    // Holding the whole list took about 30 MB per 100,000 watches; a page is about 0.3 MB.
    assert!(
        full < small + 8 * 1024,
        "memory grows with the archive: {full} KiB for {n} watches, {small} KiB for 2,000"
    );

    // The table streams too.
    let (lines, human, _) = list_measuring(&stet, &["watch", "list"], n - 2000);
    assert_eq!(lines, n + 3, "header, rule, rows, footer");
    assert!(
        human < small + 8 * 1024,
        "the table's memory grows with the archive: {human} KiB"
    );
}

#[test]
fn an_empty_archive_says_how_to_add_something() {
    let stet = Stet::new("", "");
    let out = stet.ok(&["check"]);
    let config = stet.config_path().display().to_string();
    for needed in [
        "nothing to check",
        &format!("stet --config {config} watch add URL"),
        &format!("stet --config {config} feed add URL"),
    ] {
        assert!(out.contains(needed), "`check` says {needed:?}: {out}");
    }

    // The daemon says it once, at info level (its default), and not again on each idle turn.
    let log = stet.dir.path().join("run.log");
    let mut daemon = stet
        .command()
        .arg("run")
        .env_remove("STET_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap();
    let wait_for = |what: &str, times: usize| {
        let start = Instant::now();
        while read().matches(what).count() < times {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {what:?} in the log:\n{}",
                read()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("nothing to check", 1);
    // Each reload wakes the loop for another turn.
    for turn in 1..=2 {
        let hup = Command::new("kill")
            .args(["-HUP", &daemon.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
        wait_for("configuration reloaded", turn);
    }
    let term = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(daemon.wait().unwrap().success());
    let log = read();
    assert_eq!(
        log.matches("nothing to check").count(),
        1,
        "said once:\n{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("nothing to check"))
        .unwrap();
    assert!(line.contains("INFO"), "{line}");
    assert!(
        line.contains(&format!("stet --config {config} watch add URL")),
        "{line}"
    );
}

#[test]
fn a_closed_stdout_ends_every_verb_quietly() {
    let site = Site::start();
    let stet = Stet::new("", "");
    site.set("/a", Route::html(article_page("Bridge", PARAS)));
    let url = site.url("/a");
    stet.check_one(&url);
    let edited: Vec<&str> = PARAS
        .iter()
        .map(|p| &p[..])
        .chain(["A new paragraph."])
        .collect();
    site.set("/a", Route::html(article_page("Bridge", &edited)));
    stet.check_one(&url);
    let page = stet.dir.path().join("page.html");
    std::fs::write(&page, article_page("Saved", PARAS)).unwrap();
    let page = page.to_str().unwrap();
    let verbs: &[&[&str]] = &[
        &["watch", "list"],
        &["watch", "list", "--json"],
        &["feed", "list"],
        &["check", "--all"],
        &["check", "--all", "--json"],
        &["history", &url],
        &["history", &url, "--json"],
        &["diff", &url],
        &["show", &url],
        &["show", &url, "--raw"],
        &["show", &url, "--json"],
        &["extract", page],
        &["verify"],
        &["ledger", "head"],
        &["export", "--format", "jsonl"],
        &["export", "--format", "warc"],
        &["alerts", "list"],
        &["config", "example"],
        &["completions", "bash"],
        &["man"],
        &["demo"],
    ];
    for args in verbs {
        // A pipe whose reader is gone before stet starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = stet
            .command()
            .args(*args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "stet {args:?} prints nothing on stderr"
        );
        assert_eq!(out.status.code(), Some(141), "stet {args:?}");
    }
}
