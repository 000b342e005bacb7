//! Faults are per URL; only a site-wide signal slows a site. One article answering 503 never
//! holds back the others of its host; a host answering 429 is slowed, and what it would not
//! serve is `deferred` (never `error`) and checked once its pause ends. The real binary against
//! a local site that logs every request it sees.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::service::{Daemon, eventually};
use crate::support::site::{Request, Route, Site, most_at_once};
use crate::support::{PARAS, Stet, article_page, kind};

fn history(stet: &Stet, url: &str) -> Value {
    serde_json::from_str(&stet.ok(&["history", url, "--json"])).unwrap()
}

fn wall(rfc3339: &str) -> SystemTime {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    SystemTime::UNIX_EPOCH + Duration::from_millis(t.timestamp_millis() as u64)
}

#[test]
fn one_article_answering_503_with_retry_after_never_holds_back_the_other_199() {
    let site = Site::start();
    let stet = Stet::new(
        "",
        "[schedule]\ndefault = \"every 3s\"\njitter = \"0s\"\nbackoff_base = \"1s\"",
    );
    let broken = "/news/077";
    let mut urls = Vec::new();
    for i in 0..200 {
        let path = format!("/news/{i:03}");
        if path == broken {
            site.set(
                &path,
                Route::WithHeaders {
                    status: 503,
                    body: Arc::new(b"<h1>Service Unavailable</h1>".to_vec()),
                    headers: vec![("Retry-After".into(), "120".into())],
                },
            );
        } else {
            site.set(
                &path,
                Route::html(article_page(&format!("Story {i}"), PARAS)),
            );
        }
        urls.push(site.url(&path));
    }
    stet.watch(&urls);

    // One pass: all 199 others are fetched and classified in it.
    let reports = stet.check(&[]);
    assert_eq!(reports.len(), 200);
    for r in &reports {
        if r["url"] == site.url(broken) {
            assert_eq!(kind(r), "error", "{r}");
            assert_eq!(r["http_status"], 503, "{r}");
        } else {
            assert_eq!(kind(r), "captured", "{r}");
        }
    }
    for i in 0..200 {
        assert_eq!(site.hits(&format!("/news/{i:03}")), 1, "/news/{i:03}");
    }

    // The daemon keeps checking the 199 on their schedule (every 3 s); the broken one waits
    // the 120 s its Retry-After asked for.
    let daemon = Daemon::start(&stet);
    eventually(&daemon, Duration::from_secs(90), || {
        (0..200)
            .map(|i| format!("/news/{i:03}"))
            .filter(|p| p != broken)
            .all(|p| site.hits(&p) >= 3)
            .then_some(())
    });
    assert_eq!(
        site.hits(broken),
        1,
        "the broken article is not asked again before its Retry-After"
    );
    let h = history(&stet, &site.url("/news/001"));
    let checks = h["checks"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["kind"] != "error"),
        "no other article inherits the fault: {h}"
    );
    let log = site.log();
    let asked_again: Vec<&Request> = log.iter().filter(|r| r.path == broken).collect();
    assert_eq!(asked_again.len(), 1, "{asked_again:?}");
    drop(daemon);
}

/// A site whose pages take a moment to answer, so the site sees how many requests are in
/// flight at once.
fn slow_site(n: usize) -> (Site, Vec<String>) {
    let site = Site::start();
    let mut urls = Vec::new();
    for i in 0..n {
        let path = format!("/a/{i:02}");
        site.set(
            &path,
            Route::Slow {
                delay: Duration::from_millis(150),
                body: Arc::new(article_page(&format!("Story {i}"), PARAS).into_bytes()),
            },
        );
        urls.push(site.url(&path));
    }
    (site, urls)
}

#[test]
fn a_host_answering_429_is_slowed_one_request_at_a_time_after_its_pause() {
    let (site, urls) = slow_site(16);
    let stet = Stet::new(
        "per_host = 4",
        "[politeness]\nrobots = false\nmin_delay = \"0s\"\nslow_delay = \"300ms\"\nslow_for = \"1m\"",
    );
    stet.watch(&urls);
    assert!(stet.check(&[]).iter().all(|r| kind(r) == "captured"));
    let before = most_at_once(&site.log());
    site.clear_log();

    // The next request is refused with 429 and Retry-After: 2. `--wait` waits the pause out.
    site.throttle_next(1, Some(2));
    let reports = stet.check(&["--wait=30s"]);
    assert_eq!(reports.len(), 16);
    for r in &reports {
        assert_eq!(kind(r), "unchanged", "checked after the pause: {r}");
    }
    let log = site.log();
    let throttled = log.iter().find(|r| r.status == 429).expect("a 429");
    let after: Vec<&Request> = log
        .iter()
        .filter(|r| r.arrived > throttled.done + Duration::from_millis(100))
        .collect();
    assert!(!after.is_empty());
    let pause = after[0].arrived - throttled.done;
    let after_owned: Vec<Request> = after.iter().map(|r| (*r).clone()).collect();
    let at_once = most_at_once(&after_owned);
    let spacing = after
        .windows(2)
        .map(|w| w[1].arrived - w[0].arrived)
        .min()
        .unwrap_or(Duration::MAX);
    let mean =
        (after[after.len() - 1].arrived - after[0].arrived) / (after.len() as u32 - 1).max(1);
    eprintln!(
        "429 site: {before} requests at once before, {at_once} after; first request {pause:?} \
         after the 429 (Retry-After: 2); least spacing after it {spacing:?}, mean {mean:?} (slow_delay 300ms); \
         {} requests after the pause",
        after.len()
    );
    assert!(
        before >= 3,
        "4 at once allowed before the 429, {before} seen"
    );
    assert!(
        pause >= Duration::from_millis(1900),
        "the pause is respected: {pause:?}"
    );
    assert_eq!(at_once, 1, "one request at a time while slowed");
    // The delay is kept between the starts of requests on stet's side; the site sees them
    // through connection set-up, which varies on a loaded machine.
    assert!(
        spacing >= Duration::from_millis(200) && mean >= Duration::from_millis(280),
        "slow_delay between requests: least {spacing:?}, mean {mean:?}"
    );
    // The URL that got the 429 was asked again after the pause.
    let paths: std::collections::HashSet<&str> = log
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(paths.len(), 16, "every page served once the pause was over");
}

#[test]
fn what_a_throttled_host_would_not_serve_is_deferred_never_error_and_checked_after_the_pause() {
    let (site, urls) = slow_site(30);
    let stet = Stet::new(
        "per_host = 4",
        "[politeness]\nrobots = false\nmin_delay = \"0s\"\nslow_delay = \"50ms\"\npause_wait = \"1s\"\n\
         [schedule]\ndefault = \"@daily\"\njitter = \"0s\"",
    );
    stet.watch(&urls);
    assert!(stet.check(&[]).iter().all(|r| kind(r) == "captured"));

    // Human output: how many were deferred, and until when.
    site.throttle_next(1, Some(3));
    let text = stet.ok(&["check"]);
    assert!(!text.contains("error"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("deferred")),
        "each deferred check is listed: {text}"
    );
    let summary = text
        .lines()
        .find(|l| l.contains(" deferred until "))
        .unwrap_or_else(|| panic!("a summary of the deferred checks: {text}"));
    let n: usize = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(n >= 20, "{summary}");

    // JSON: kind deferred with retry_at; never error; then the daemon checks them after it.
    std::thread::sleep(Duration::from_secs(3));
    site.throttle_next(1, Some(3));
    let asked = SystemTime::now();
    let reports = stet.check(&[]);
    assert_eq!(reports.len(), 30);
    let mut deferred = Vec::new();
    for r in &reports {
        match kind(r) {
            "unchanged" => {}
            "deferred" => {
                let retry_at = wall(r["retry_at"].as_str().expect("retry_at"));
                let wait = retry_at.duration_since(asked).unwrap();
                assert!(
                    wait >= Duration::from_millis(2500) && wait < Duration::from_secs(10),
                    "due again when the 3 s pause ends: {r}"
                );
                assert!(r["version"] == 1, "{r}");
                deferred.push((r["url"].as_str().unwrap().to_string(), retry_at));
            }
            other => panic!("{other}: {r}"),
        }
    }
    assert!(deferred.len() >= 20, "{reports:?}");
    let throttled: Vec<&Value> = reports.iter().filter(|r| r["http_status"] == 429).collect();
    assert_eq!(throttled.len(), 1, "the 429 itself is deferred too");
    assert_eq!(kind(throttled[0]), "deferred");

    let daemon = Daemon::start(&stet);
    let site_ref = &site;
    let log = eventually(&daemon, Duration::from_secs(60), || {
        let log = site_ref.log();
        deferred
            .iter()
            .all(|(url, retry_at)| {
                log.iter().any(|r| {
                    url.ends_with(&r.path) && r.status == 200 && r.arrived_wall >= *retry_at
                })
            })
            .then_some(log)
    });
    for (url, retry_at) in &deferred {
        let path = &url[url.find("/a/").unwrap()..];
        let early = log.iter().filter(|r| {
            r.path == *path
                && r.status != 429
                && r.arrived_wall > asked
                && r.arrived_wall < *retry_at
        });
        assert_eq!(early.count(), 0, "{path} was asked before its pause ended");
        let h = history(&stet, url);
        let checks = h["checks"].as_array().unwrap();
        assert!(
            checks
                .iter()
                .all(|c| c["kind"] == "captured" || c["kind"] == "unchanged"),
            "a deferral is not a check, and nothing is an error: {h}"
        );
    }
    drop(daemon);
}

#[test]
fn a_slowed_host_never_holds_the_daemon_back_from_another_host() {
    let (slowed, slowed_urls) = slow_site(12);
    let other = Site::start();
    let mut other_urls = Vec::new();
    for i in 0..5 {
        let path = format!("/b/{i}");
        other.set(
            &path,
            Route::html(article_page(&format!("Other {i}"), PARAS)),
        );
        other_urls.push(other.url(&path));
    }
    let stet = Stet::new(
        "per_host = 4",
        "[politeness]\nrobots = false\nmin_delay = \"0s\"\nslow_delay = \"3s\"\nslow_for = \"5m\"\n\
         pause_wait = \"2s\"\n[schedule]\ndefault = \"every 2s\"\njitter = \"0s\"",
    );
    stet.watch(&slowed_urls);
    stet.watch(&other_urls);
    assert!(stet.check(&[]).iter().all(|r| kind(r) == "captured"));
    slowed.clear_log();
    other.clear_log();

    // The slowed host's 12 checks at 3 s apart take 36 s; the other host's are due every 2 s.
    slowed.throttle_next(1, Some(1));
    let daemon = Daemon::start(&stet);
    std::thread::sleep(Duration::from_secs(20));
    let other_log = other.log();
    let slowed_log = slowed.log();
    drop(daemon);
    let per_url: Vec<usize> = (0..5)
        .map(|i| {
            other_log
                .iter()
                .filter(|r| r.path == format!("/b/{i}"))
                .count()
        })
        .collect();
    let spacing = slowed_log
        .iter()
        .skip(1)
        .filter(|r| r.status == 200)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1].arrived - w[0].arrived)
        .min();
    eprintln!(
        "in 20 s: the other host's 5 URLs checked {per_url:?} times; the slowed host answered \
         {} requests, least spacing {spacing:?} (slow_delay 3s)",
        slowed_log.len()
    );
    assert!(
        per_url.iter().all(|n| *n >= 4),
        "the other host is checked on schedule: {per_url:?}"
    );
    assert!(
        slowed_log.len() >= 3,
        "the slowed host is still checked: {slowed_log:?}"
    );
    for url in &slowed_urls {
        let h = history(&stet, url);
        assert!(
            h["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["kind"] != "error"),
            "{h}"
        );
    }
}
