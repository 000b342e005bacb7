//! `stet run` as a service: schedules, confirmation of deletions, feeds, politeness, signals,
//! the single-instance lock and the systemd unit. Real daemon processes against a local site.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::site::{Route, Site};
use crate::support::{Backend, PARAS, Stet, article_page, json_lines, kind};

/// A running `stet run`, killed when dropped.
pub struct Daemon {
    child: Child,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    pub fn start(stet: &Stet) -> Self {
        let mut child = stet
            .command()
            .args(["run"])
            .env("STET_LOG", "stet=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start stet run");
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child, stderr }
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the process to exit; returns its exit code and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the daemon did not exit within {limit:?}\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `what` until it returns `Some`, or fails after `limit` with the daemon's log.
pub fn eventually<T>(daemon: &Daemon, limit: Duration, mut what: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = what() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?}; daemon log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn history(stet: &Stet, url: &str) -> serde_json::Value {
    serde_json::from_str(&stet.ok(&["history", url, "--json"])).unwrap()
}

/// The events of a URL; none while it is not watched yet.
fn event_kinds(stet: &Stet, url: &str) -> Vec<String> {
    let out = stet.run(&["history", url, "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_daemon_catches_edits_confirms_deletions_early_and_ignores_outages() {
    let site = Site::start();
    let stet = Stet::new(
        "",
        "[schedule]\ndefault = \"every 10s\"\njitter = \"0s\"\nconfirm_after = \"300ms\"\nbackoff_base = \"1s\"\nbackoff_max = \"2s\"",
    );
    let (edit, gone, flaky) = ("/a/edit", "/a/gone", "/a/flaky");
    for p in [edit, gone, flaky] {
        site.set(p, Route::html(article_page("Bridge to close", PARAS)));
    }
    let urls: Vec<String> = [edit, gone, flaky].iter().map(|p| site.url(p)).collect();
    stet.watch(&urls);
    let daemon = Daemon::start(&stet);
    eventually(&daemon, Duration::from_secs(60), || {
        urls.iter()
            .all(|u| event_kinds(&stet, u) == ["captured"])
            .then_some(())
    });

    let changed = PARAS[1].replace("40,000", "25,000");
    site.set(
        edit,
        Route::html(article_page(
            "Bridge to close",
            &[PARAS[0], &changed, PARAS[2]],
        )),
    );
    site.set(gone, Route::status(404, "<h1>Not found</h1>"));
    site.set(flaky, Route::status(503, "<h1>Busy</h1>"));

    eventually(&daemon, Duration::from_secs(60), || {
        (event_kinds(&stet, &urls[0]) == ["captured", "edited"]).then_some(())
    });
    let h = history(&stet, &urls[0]);
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);

    let deleted = eventually(&daemon, Duration::from_secs(60), || {
        let h = history(&stet, &urls[1]);
        let checks = h["checks"].as_array()?.clone();
        let missing = checks.iter().find(|c| c["kind"] == "missing")?;
        let deleted = checks.iter().find(|c| c["kind"] == "deleted")?;
        Some((
            missing["first_at"].as_str()?.to_string(),
            deleted["first_at"].as_str()?.to_string(),
        ))
    });
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let confirm = t(&deleted.1) - t(&deleted.0);
    assert!(
        confirm < chrono::Duration::seconds(6),
        "the confirmation came {confirm} after the first 404, not at the next 10 s tick"
    );

    // The 503 page has been failing for at least as long: errors, never a deletion.
    let h = history(&stet, &urls[2]);
    let errors: i64 = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "error")
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert!(errors >= 1, "{h}");
    assert_eq!(event_kinds(&stet, &urls[2]), ["captured"], "{h}");
}

#[test]
fn sigterm_mid_pass_exits_promptly_with_a_consistent_database() {
    let site = Site::start();
    let stet = Stet::new("concurrency = 4\nper_host = 4\ntimeout_secs = 30", "");
    let mut urls = Vec::new();
    for i in 0..40 {
        let path = format!("/slow/{i}");
        let body = article_page(&format!("Story {i}"), PARAS).into_bytes();
        site.set(
            &path,
            Route::Slow {
                delay: Duration::from_millis(300),
                body: Arc::new(body),
            },
        );
        urls.push(site.url(&path));
    }
    stet.watch(&urls);
    let mut daemon = Daemon::start(&stet);
    eventually(&daemon, Duration::from_secs(60), || {
        let n = json_lines(&stet.ok(&["watch", "list", "--json"]))
            .iter()
            .filter(|w| w["versions"].as_i64() == Some(1))
            .count();
        (n >= 4).then_some(())
    });
    daemon.signal("-TERM");
    let (code, took) = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", daemon.log());
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(daemon.log().contains("stopped"), "{}", daemon.log());

    let mut db = stet.db();
    db.integrity_ok();
    let orphans = db.count(
        "SELECT count(*) FROM versions v WHERE NOT EXISTS
           (SELECT 1 FROM events e WHERE e.watch_id = v.watch_id AND e.version_seq = v.seq)",
    );
    assert_eq!(orphans, 0);
}

#[test]
fn sighup_picks_up_a_new_watch_and_a_second_daemon_is_refused() {
    let site = Site::start();
    site.set("/one", Route::html(article_page("One", PARAS)));
    site.set("/two", Route::html(article_page("Two", PARAS)));
    let stet = Stet::new("", &format!("[[watch]]\nurl = \"{}\"", site.url("/one")));
    let daemon = Daemon::start(&stet);
    eventually(&daemon, Duration::from_secs(60), || {
        (event_kinds(&stet, &site.url("/one")) == ["captured"]).then_some(())
    });

    // One daemon per SQLite archive (its lock file); PostgreSQL's workers share theirs.
    if Backend::Sqlite == crate::support::backend::current() {
        let second = stet.run(&["run"]);
        assert_ne!(second.status.code(), Some(0));
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(err.contains("already running"), "{err}");
    } else {
        eprintln!("a second daemon beside the first: SQLite only (PostgreSQL has workers)");
    }

    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    std::fs::write(
        stet.config_path(),
        format!("{config}\n[[watch]]\nurl = \"{}\"\n", site.url("/two")),
    )
    .unwrap();
    daemon.signal("-HUP");
    eventually(&daemon, Duration::from_secs(60), || {
        (event_kinds(&stet, &site.url("/two")) == ["captured"]).then_some(())
    });
    assert!(
        daemon.log().contains("configuration reloaded"),
        "{}",
        daemon.log()
    );
    // The CLI keeps working while the daemon runs.
    let reports = stet.check(&[&site.url("/one")]);
    assert_eq!(kind(&reports[0]), "unchanged");
}

fn feed(items: &[String]) -> String {
    let items: String = items
        .iter()
        .map(|u| format!("<item><title>t</title><link>{u}</link></item>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title>{items}</channel></rss>"
    )
}

#[test]
fn a_feed_item_becomes_a_watch_and_is_captured() {
    let site = Site::start();
    let stet = Stet::new(
        "",
        &format!(
            "[feeds]\nallow_hosts = [\"127.0.0.1\"]\n\n[[feed]]\nurl = \"{}\"",
            site.url("/feed.xml")
        ),
    );
    site.set("/story-1", Route::html(article_page("First", PARAS)));
    site.set("/story-2", Route::html(article_page("Second", PARAS)));
    site.set(
        "/feed.xml",
        Route::typed(
            "application/rss+xml",
            feed(&[site.url("/story-1?utm_source=rss")]),
        ),
    );
    let polled = json_lines(&stet.ok(&["feed", "poll", "--json"]));
    assert_eq!(
        polled[0]["added"],
        serde_json::json!([site.url("/story-1")]),
        "{polled:?}"
    );

    site.set(
        "/feed.xml",
        Route::typed(
            "application/rss+xml",
            feed(&[site.url("/story-2#top"), site.url("/story-1")]),
        ),
    );
    let polled = json_lines(&stet.ok(&["feed", "poll", "--json"]));
    assert_eq!(
        polled[0]["added"],
        serde_json::json!([site.url("/story-2")]),
        "duplicates folded: {polled:?}"
    );

    let reports = stet.check(&[]);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| kind(r) == "captured"), "{reports:?}");
    let watches = json_lines(&stet.ok(&["watch", "list", "--json"]));
    assert!(watches.iter().all(|w| w["origin"] == "feed"), "{watches:?}");
}

#[test]
fn feeds_may_not_point_inside_the_network_unless_allowed() {
    let site = Site::start();
    let feed_url = site.url("/feed.xml");
    site.set("/inside", Route::html(article_page("Inside", PARAS)));
    site.set(
        "/feed.xml",
        Route::typed(
            "application/rss+xml",
            feed(&[
                site.url("/inside"),
                "http://169.254.169.254/latest/meta-data/".into(),
            ]),
        ),
    );
    let strict = Stet::new("", &format!("[[feed]]\nurl = \"{feed_url}\""));
    let out = strict
        .command()
        .args(["feed", "poll", "--json"])
        .env("STET_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = &json_lines(&String::from_utf8_lossy(&out.stdout))[0];
    assert_eq!(report["added"], serde_json::json!([]), "{report}");
    assert_eq!(report["refused"].as_array().unwrap().len(), 2, "{report}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("feed item refused") && log.contains("169.254.169.254"),
        "{log}"
    );
    assert!(json_lines(&strict.ok(&["watch", "list", "--json"])).is_empty());

    let open = Stet::new(
        "",
        &format!("[feeds]\nallow_private = true\n\n[[feed]]\nurl = \"{feed_url}\""),
    );
    let report = &json_lines(&open.ok(&["feed", "poll", "--json"]))[0];
    assert_eq!(report["added"].as_array().unwrap().len(), 2, "{report}");
}

#[test]
fn per_host_limit_holds_and_robots_txt_is_honoured() {
    let site = Site::start();
    let stet = Stet::new(
        "concurrency = 8\nper_host = 2",
        "[politeness]\nmin_delay = \"0s\"\nrobots = true",
    );
    site.set(
        "/robots.txt",
        Route::typed("text/plain", "User-agent: *\nDisallow: /private/\n"),
    );
    let mut urls = Vec::new();
    for i in 0..10 {
        let path = format!("/open/{i}");
        let body = article_page(&format!("Story {i}"), PARAS).into_bytes();
        site.set(
            &path,
            Route::Slow {
                delay: Duration::from_millis(150),
                body: Arc::new(body),
            },
        );
        urls.push(site.url(&path));
    }
    site.set(
        "/private/secret",
        Route::html(article_page("Secret", PARAS)),
    );
    urls.push(site.url("/private/secret"));
    stet.watch(&urls);
    let reports = stet.check(&[]);
    assert_eq!(reports.len(), 11);
    let peak = site.peak_connections();
    assert!(peak <= 2, "the site saw {peak} connections at once");
    assert_eq!(peak, 2, "requests did overlap, up to the limit");
    let private = reports
        .iter()
        .find(|r| r["url"].as_str().unwrap().contains("private"))
        .unwrap();
    assert_eq!(kind(private), "error");
    assert!(
        private["detail"].as_str().unwrap().starts_with("robots"),
        "{private}"
    );
    assert_eq!(
        site.hits("/private/secret"),
        0,
        "a disallowed page is never fetched"
    );
    assert_eq!(
        site.hits("/robots.txt"),
        1,
        "robots.txt is fetched once and cached"
    );
}

#[test]
fn the_systemd_unit_verifies() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/stet.service"))
            .unwrap();
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=stet",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "SystemCallFilter=",
    ] {
        assert!(unit.contains(needed), "the unit sets {needed:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let local = unit.replace("/usr/bin/stet", env!("CARGO_BIN_EXE_stet"));
    let path = dir.path().join("stet.service");
    std::fs::write(&path, local).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        // The unit's Documentation=man:stet(1) is installed by the package, not here.
        .args(["verify", "--man=no", path.to_str().unwrap()])
        .output()
        .expect("systemd-analyze is installed (.ci/run installs systemd)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
