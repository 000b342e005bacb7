//! Deletions, restorations and transient failures, end to end through the real binary.

use std::time::Duration;

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, kind};

fn live(site: &Site, path: &str) {
    site.set(path, Route::html(article_page("Bridge to close", PARAS)));
}

#[test]
fn a_404_twice_is_deleted_and_its_return_is_restored() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/2026/bridge");
    live(&site, "/news/2026/bridge");
    assert_eq!(kind(&stet.check_one(&url)), "captured");

    site.set(
        "/news/2026/bridge",
        Route::status(404, "<h1>Not found</h1>"),
    );
    let first = stet.check_one(&url);
    assert_eq!(
        kind(&first),
        "missing",
        "one 404 is not yet a deletion: {first}"
    );
    assert_eq!(first["http_status"], 404);
    let second = stet.check_one(&url);
    assert_eq!(kind(&second), "deleted", "{second}");
    assert_eq!(second["version"], 1);
    let third = stet.check_one(&url);
    assert_eq!(
        kind(&third),
        "missing",
        "a deletion is reported once: {third}"
    );

    live(&site, "/news/2026/bridge");
    let back = stet.check_one(&url);
    assert_eq!(kind(&back), "restored", "{back}");
    assert_eq!(back["version"], 1, "the same text needs no new version");
    assert_eq!(kind(&stet.check_one(&url)), "unchanged");

    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &url, "--json"])).unwrap();
    let events: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["captured", "deleted", "restored"]);
}

#[test]
fn gone_410_redirect_home_and_soft_404_count_as_gone() {
    let site = Site::start();
    let stet = Stet::new("", "[detect]\ngone_after = 1");
    let paths = ["/a/2026/gone", "/a/2026/moved", "/a/2026/soft"];
    for p in paths {
        live(&site, p);
    }
    let urls: Vec<String> = paths.iter().map(|p| site.url(p)).collect();
    stet.watch(&urls);
    stet.check(&[]);
    site.set(paths[0], Route::status(410, "gone"));
    site.set(
        paths[1],
        Route::Redirect {
            status: 301,
            location: site.url("/"),
        },
    );
    site.set(
        "/",
        Route::html(article_page(
            "Front page",
            &["Today's top stories from the city and beyond, updated all day."],
        )),
    );
    site.set(
        paths[2],
        Route::html(
            "<html><head><title>Page not found | Daily</title></head><body><h1>Oops</h1>\
             <p>Sorry, the page you are looking for does not exist.</p></body></html>",
        ),
    );
    for r in stet.check(&[]) {
        assert_eq!(kind(&r), "deleted", "{r}");
    }
}

#[test]
fn transient_failures_are_errors_never_deletions_or_edits() {
    let site = Site::start();
    let stet = Stet::new("timeout_secs = 1", "[detect]\ngone_after = 1");
    let path = "/news/2026/outage";
    let url = site.url(path);
    live(&site, path);
    assert_eq!(kind(&stet.check_one(&url)), "captured");

    let page = article_page("Bridge to close", PARAS);
    let failures = [
        (
            "http 503",
            Route::status(503, "<h1>Service Unavailable</h1>"),
        ),
        ("timeout", Route::Stall(Duration::from_secs(3))),
        ("reset", Route::Reset),
        (
            "truncated",
            Route::Truncated {
                declared: page.len() + 5000,
                body: page.as_bytes()[..page.len() / 2].to_vec(),
            },
        ),
    ];
    for (what, route) in failures {
        site.set(path, route);
        let r = stet.check_one(&url);
        assert_eq!(kind(&r), "error", "{what}: {r}");
        let detail = r["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(what),
            "the error says why: {what} expected, got {r}"
        );
        assert!(
            r["http_status"].is_null() || what.starts_with("http") || what == "truncated",
            "{r}"
        );
        live(&site, path);
        let next = stet.check_one(&url);
        assert_eq!(kind(&next), "unchanged", "after {what}: {next}");
    }
    // A 429 is not an observation of the article: the check is deferred, never an error.
    site.set(path, Route::status(429, "slow down"));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "deferred", "{r}");
    assert_eq!(r["http_status"], 429, "{r}");
    assert!(r["retry_at"].is_string(), "{r}");
    live(&site, path);
    assert_eq!(kind(&stet.check_one(&url)), "unchanged");
    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &url, "--json"])).unwrap();
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
    assert_eq!(history["events"].as_array().unwrap().len(), 1, "{history}");
}

#[test]
fn an_error_between_two_404s_does_not_break_the_confirmation() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let path = "/news/flaky";
    let url = site.url(path);
    live(&site, path);
    stet.check_one(&url);
    site.set(path, Route::status(404, "nope"));
    assert_eq!(kind(&stet.check_one(&url)), "missing");
    site.set(path, Route::status(502, "bad gateway"));
    assert_eq!(kind(&stet.check_one(&url)), "error");
    site.set(path, Route::status(404, "nope"));
    assert_eq!(kind(&stet.check_one(&url)), "deleted");
}

#[test]
fn conditional_get_sends_validators_and_304_is_unchanged() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let path = "/news/etag";
    let url = site.url(path);
    site.set(
        path,
        Route::Page {
            status: 200,
            content_type: "text/html".into(),
            body: std::sync::Arc::new(article_page("Tagged", PARAS).into_bytes()),
            etag: Some("\"v1\"".into()),
        },
    );
    assert_eq!(kind(&stet.check_one(&url)), "captured");
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "unchanged", "{r}");
    assert_eq!(r["http_status"], 304);
    assert_eq!(
        site.last_header(path, "if-none-match").as_deref(),
        Some("\"v1\"")
    );
    assert!(r["content_hash"].is_string(), "{r}");
}

#[test]
fn two_edits_within_a_second_are_two_versions_in_order() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let path = "/news/fast";
    let url = site.url(path);
    for (i, word) in ["Monday", "Tuesday", "Wednesday"].iter().enumerate() {
        let p = format!(
            "The council will meet on {word} to decide the future of the harbour bridge repairs."
        );
        site.set(path, Route::html(article_page("Fast", &[&p, PARAS[1]])));
        let r = stet.check_one(&url);
        assert_eq!(r["version"], i + 1, "{r}");
    }
    let out = stet.ok(&["show", &url, "--version", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["text"].as_str().unwrap().contains("Tuesday"), "{v}");
}

#[test]
fn repeated_unchanged_checks_fold_into_one_row() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let path = "/news/quiet";
    let url = site.url(path);
    live(&site, path);
    for _ in 0..4 {
        stet.check_one(&url);
    }
    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &url, "--json"])).unwrap();
    let checks = history["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["kind"], "captured");
    assert_eq!(
        checks[0]["count"], 4,
        "captured, then three unchanged checks"
    );
    // A failure breaks the run; the next unchanged check starts a new one.
    site.set(path, Route::status(503, "busy"));
    stet.check_one(&url);
    live(&site, path);
    stet.check_one(&url);
    stet.check_one(&url);
    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &url, "--json"])).unwrap();
    let kinds: Vec<(&str, i64)> = history["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, [("captured", 4), ("error", 1), ("unchanged", 2)]);
}
