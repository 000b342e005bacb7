//! Upgrading stet's extraction pipeline must not flood users with false edits: an archive whose
//! versions an older pipeline produced is checked again, the article unchanged, and every check
//! says `unchanged` (a re-baseline version is stored, without an event or an alert); a real edit
//! afterwards is still `edited`.
//!
//! The archive is made the way the previous release made it: the page's raw body and the
//! canonical text pipeline "1" produced from it (`tests/fixtures/extractor-1/*.txt.zst`, written by
//! that release's `stet extract`), recorded through the store without an extractor version.

use stet::pure::classify::{Decision, WatchState};
use stet::pure::fingerprint::Fingerprint;
use stet::pure::model::{CheckKind, Sha256Hash, VersionSeq, WatchStatus};
use stet::store::{Capture, CheckRecord, Store};

use crate::support::site::{Route, Site};
use crate::support::{Stet, fixture, kind};

/// Pages whose canonical text the current pipeline reads differently from pipeline "1".
const PAGES: &[&str] = &["guardian-1", "citylab-1", "breitbart"];

/// Pages whose canonical text the current pipeline reads differently from pipeline "2".
const PAGES_2: &[&str] = &["cnn", "wapo-1", "nytimes-3"];

/// The text pipeline `extractor` stored for `name`.
fn legacy_text(extractor: &str, name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/extractor-{extractor}"))
        .join(format!("{name}.txt.zst"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(zstd::decode_all(bytes.as_slice()).unwrap())
        .unwrap()
        .trim_end_matches('\n')
        .to_string()
}

/// Records version 1 of `url` as the previous release stored it: with no extractor version
/// for pipeline "1", with its version otherwise.
fn record_legacy_version(db: &std::path::Path, url: &str, raw: &[u8], text: &str, extractor: &str) {
    let mut store = Store::open(db).unwrap();
    let watch = store.watch_id(url).unwrap().expect("watch exists");
    let fp = Fingerprint::of_canonical(text.to_string());
    let capture = Capture {
        raw: raw.to_vec(),
        body_hash: Sha256Hash::of(raw),
        final_url: url.to_string(),
        title: text.lines().next().unwrap_or_default().to_string(),
        byline: None,
        published: None,
        modified: None,
        canonical_url: None,
        canonical_text: fp.canonical_text.clone(),
        content_hash: fp.content_hash,
        loose_hash: fp.loose_hash,
        packed: None,
        text_zstd: None,
    };
    let mut next = WatchState::new();
    next.status = WatchStatus::Live;
    let decision = Decision {
        kind: CheckKind::Captured,
        new_version: true,
        significance: None,
        reverted_to: None,
        next,
        detail: None,
    };
    let mut tx = store.batch().unwrap();
    tx.record(&CheckRecord {
        watch_id: watch,
        at: "2026-11-01T00:00:00.000Z",
        http_status: Some(200),
        decision: &decision,
        capture: Some(&capture),
        validators: None,
        next_check_at: None,
        retire: false,
    })
    .unwrap();
    if extractor != stet::pure::extract::LEGACY_EXTRACTOR {
        tx.set_extractor(watch, VersionSeq(1), extractor).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn an_extractor_upgrade_is_a_rebaseline_not_an_edit() {
    upgrade_from("1", PAGES);
}

#[test]
fn the_upgrade_from_extractor_2_is_a_rebaseline_not_an_edit() {
    upgrade_from("2", PAGES_2);
}

fn upgrade_from(extractor: &str, pages: &[&str]) {
    if crate::support::sqlite_only(
        "records an old pipeline's version straight into the SQLite file",
    ) {
        return;
    }
    let site = Site::start();
    let stet = Stet::new("", "");
    let mut urls = Vec::new();
    for name in pages {
        let url = site.url(&format!("/a/{name}"));
        let source = fixture(name, "source.html");
        let legacy = legacy_text(extractor, name);
        let current = Fingerprint::of(&stet::pure::extract::extract(&source, &url));
        // The test means something only where the pipelines disagree.
        assert_ne!(
            current.canonical_text, legacy,
            "{name}: pipeline {extractor} and the current one read the page alike"
        );
        stet.watch(std::slice::from_ref(&url));
        record_legacy_version(&stet.db_path(), &url, source.as_bytes(), &legacy, extractor);
        // A fresh load: the same article, other bytes (a script's build stamp changed), so the
        // page is read again rather than recognised byte for byte.
        let reloaded = source.replacen(
            "</head>",
            "<script>window.__BUILD__ = \"b7e9\";</script></head>",
            1,
        );
        site.set(&format!("/a/{name}"), Route::html(reloaded));
        urls.push((name, url, source));
    }

    for (name, url, _) in &urls {
        let r = stet.check_one(url);
        assert_eq!(kind(&r), "unchanged", "{name}: {r}");
        assert_eq!(r["version"], 2, "{name}: the re-baseline is a version: {r}");
        assert!(
            r["detail"]
                .as_str()
                .is_some_and(|d| d.contains("re-baselined")),
            "{name}: {r}"
        );
        let history: serde_json::Value =
            serde_json::from_str(&stet.ok(&["history", "--json", url])).unwrap();
        let kinds: Vec<&str> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["captured"], "{name}: no event but the capture");
    }
    // Checked again: plainly unchanged, no further version.
    for (name, url, _) in &urls {
        let r = stet.check_one(url);
        assert_eq!(kind(&r), "unchanged", "{name}: {r}");
        assert_eq!(r["version"], 2, "{name}: {r}");
    }
    // A real edit is still an edit.
    let (name, url, source) = &urls[0];
    let db = Store::open(stet.db_path()).unwrap();
    let watch = db.watch_id(url).unwrap().unwrap();
    let v2 = db.version(watch, Some(VersionSeq(2))).unwrap().unwrap();
    let sentence = v2
        .text
        .lines()
        .skip(1)
        .find(|l| l.len() > 80 && source.contains(&l[..40]))
        .expect("a paragraph found verbatim in the source")
        .to_string();
    let edited = source.replacen(&sentence[..40], &format!("{} Zqxwvj", &sentence[..40]), 1);
    site.set(&format!("/a/{name}"), Route::html(edited));
    let r = stet.check_one(url);
    assert_eq!(kind(&r), "edited", "{name}: {r}");
    assert_eq!(r["version"], 3, "{name}: {r}");
    stet.ok(&["verify"]);
}
