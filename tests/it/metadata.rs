//! The byline and the published date are part of a version: a change of them alone, the text
//! untouched, is an edit of significance `metadata` (a new version, an alert by default), while
//! a bare bump of the modified time is not. The real binary, a local site, a command sink.

use serde_json::Value;

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, json_lines, kind};

/// An article page with its byline and dates in the usual meta tags.
fn page(byline: &str, published: &str, modified: &str) -> String {
    let body: String = PARAS.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>Bridge to close</title>\
         <meta name=\"author\" content=\"{byline}\">\
         <meta property=\"article:published_time\" content=\"{published}\">\
         <meta property=\"article:modified_time\" content=\"{modified}\">\
         </head><body><nav><a href=\"/\">Home</a></nav><article><h1>Bridge to close</h1>\n\
         {body}</article><footer>Footer</footer></body></html>"
    )
}

/// A config with two command sinks that append each alert's JSON to a file: one with the
/// defaults, one that wants substantive edits only.
fn stet_with_sinks() -> Stet {
    let stet = Stet::new("", "");
    let dir = stet.dir.path();
    let sink = |name: &str, extra: &str| {
        format!(
            "[[alert]]\nname = \"{name}\"\nkind = \"command\"\n\
             command = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n{extra}\n",
            dir.join(format!("{name}.jsonl")).display(),
            dir.join(format!("{name}.jsonl")).display(),
        )
    };
    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    let config = format!(
        "{config}\n{}{}",
        sink("all", ""),
        sink("text", "min_significance = \"substantive\"")
    );
    std::fs::write(stet.config_path(), config).unwrap();
    stet
}

fn alerts(stet: &Stet, sink: &str) -> Vec<Value> {
    let path = stet.dir.path().join(format!("{sink}.jsonl"));
    json_lines(&std::fs::read_to_string(path).unwrap_or_default())
}

fn history(stet: &Stet, url: &str) -> Value {
    serde_json::from_str(&stet.ok(&["history", url, "--json"])).unwrap()
}

#[test]
fn a_changed_byline_alone_is_a_metadata_edit_that_alerts() {
    let site = Site::start();
    let stet = stet_with_sinks();
    let (path, url) = ("/news/bridge", site.url("/news/bridge"));
    let published = "2026-11-01T10:00:00Z";
    site.set(path, Route::html(page("Jane Roe", published, published)));
    assert_eq!(kind(&stet.check_one(&url)), "captured");

    site.set(path, Route::html(page("John Doe", published, published)));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "edited", "{r}");
    assert_eq!(r["significance"], "metadata", "{r}");
    assert_eq!(r["version"], 2, "{r}");
    let detail = r["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Jane Roe") && detail.contains("John Doe"),
        "{r}"
    );

    let h = history(&stet, &url);
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(
        versions[0]["content_hash"], versions[1]["content_hash"],
        "the text is the same"
    );
    assert_eq!(versions[1]["byline"], "John Doe");
    let events = h["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["significance"], "metadata");

    let sent = alerts(&stet, "all");
    assert_eq!(sent.len(), 1, "the default sink is told: {sent:?}");
    assert_eq!(sent[0]["event"], "edited");
    assert_eq!(sent[0]["significance"], "metadata");
    assert!(
        alerts(&stet, "text").is_empty(),
        "min_significance = substantive skips it"
    );

    // Checked again unchanged: nothing more. Back to the first byline: a change again, alerted.
    assert_eq!(kind(&stet.check_one(&url)), "unchanged");
    site.set(path, Route::html(page("Jane Roe", published, published)));
    let r = stet.check_one(&url);
    assert_eq!(
        (kind(&r), r["version"].as_i64()),
        ("edited", Some(3)),
        "{r}"
    );
    assert_eq!(alerts(&stet, "all").len(), 2);
    // Every version and event of it is in the ledger: verify exits 0.
    stet.ok(&["verify"]);
}

#[test]
fn a_changed_published_date_alone_is_a_metadata_edit_but_a_modified_bump_is_not() {
    let site = Site::start();
    let stet = stet_with_sinks();
    let (path, url) = ("/news/bridge", site.url("/news/bridge"));
    site.set(
        path,
        Route::html(page(
            "Jane Roe",
            "2026-11-01T10:00:00Z",
            "2026-11-01T10:00:00Z",
        )),
    );
    assert_eq!(kind(&stet.check_one(&url)), "captured");

    // Only the modified time moves (sites bump it on every republish): unchanged, no version,
    // no alert.
    site.set(
        path,
        Route::html(page(
            "Jane Roe",
            "2026-11-01T10:00:00Z",
            "2026-11-30T08:15:00Z",
        )),
    );
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "unchanged", "{r}");
    assert_eq!(r["version"], 1);

    // The published date changes: a metadata edit.
    site.set(
        path,
        Route::html(page(
            "Jane Roe",
            "2026-10-28T09:00:00Z",
            "2026-11-30T08:15:00Z",
        )),
    );
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "edited", "{r}");
    assert_eq!(r["significance"], "metadata", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("published "),
        "{r}"
    );
    let h = history(&stet, &url);
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(versions[1]["published"], "2026-10-28T09:00:00Z");

    let sent = alerts(&stet, "all");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["significance"], "metadata");
    assert!(alerts(&stet, "text").is_empty());
}
