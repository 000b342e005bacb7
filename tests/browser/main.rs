//! A real browser against `stet serve`: headless Chromium over WebDriver (Debian `chromium`
//! and `chromium-driver`, driven from Python selenium, all installed by `.ci/test-deps`). Its
//! own test target, so browser sessions never run beside each other or beside the main suite's
//! tests.
//!
//! `STET_SCREENSHOTS=DIR` saves the watch list and the diff page there (the README's pictures
//! come from `STET_SCREENSHOTS=docs cargo test --test browser`).

#[path = "../support/mod.rs"]
mod support;

use std::process::Command;

use support::archive::{ADDED_WORD, Archive, REMOVED_WORD};

#[test]
fn a_browser_follows_an_article_to_its_diff_and_archived_scripts_stay_sandboxed() {
    let token = "browser-test-token-0123456789abcdef";
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    };
    let archive = Archive::build(&format!("[server]\ntoken_sha256 = [\"{hash}\"]\n"));
    let served = archive.serve(&[]);
    let hostile = served.get("/api/v1/watches?q=hostile").json()["items"][0]["id"]
        .as_i64()
        .expect("the hostile page is watched");
    let shots = std::env::var("STET_SCREENSHOTS").ok().map(|d| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(d);
        std::fs::create_dir_all(&dir).unwrap();
        dir.display().to_string()
    });
    let script = support::checker("browser_check.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(&served.base)
        .arg(token)
        .arg("Bridge closure delayed")
        .arg(REMOVED_WORD)
        .arg(ADDED_WORD)
        .arg(format!("/raw/{hostile}/1"));
    if let Some(dir) = &shots {
        cmd.arg(dir);
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "browser_check.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("diff marks: ['six'] -> ['eight']"),
        "{report}"
    );
    assert!(
        report.contains("no script, no cookie, no fetch, no navigation"),
        "{report}"
    );
}
