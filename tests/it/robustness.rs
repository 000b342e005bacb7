//! Bad input gets a clear error and loses nothing: malformed configs, invalid URLs, huge,
//! endless, binary and non-HTML responses, an unusable database, and a kill -9 mid-pass.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use sha2::{Digest, Sha256};

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, fixture, fixture_names, kind};

#[test]
fn malformed_config_names_the_file_and_line() {
    let stet = Stet::new("", "");
    std::fs::write(
        stet.config_path(),
        "[storage]\npath = \"x.db\"\n\n[fetch]\ntimeout_secs = \"thirty\"\n",
    )
    .unwrap();
    let out = stet.run(&["watch", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stet.toml:5:"), "{err}");
    assert!(
        err.contains("timeout_secs = \"thirty\""),
        "the line is shown: {err}"
    );

    std::fs::write(
        stet.config_path(),
        "[fetch]\ntimeout_secs = 3\nuser_agnet = \"x\"\n",
    )
    .unwrap();
    let out = stet.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stet.toml:3:") && err.contains("user_agnet"),
        "{err}"
    );
    assert!(!stet.db_path().exists(), "a bad config touches nothing");
}

#[test]
fn invalid_url_is_refused_at_watch_add() {
    let stet = Stet::new("", "");
    for bad in [
        "news.example.org/story",
        "ftp://example.org/a",
        "http://",
        "not a url",
    ] {
        let out = stet.run(&["watch", "add", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid URL"), "{bad}: {err}");
    }
    let list = stet.ok(&["watch", "list", "--json"]);
    assert!(list.trim().is_empty(), "nothing was added: {list}");
}

#[test]
fn unusable_database_exits_non_zero_with_a_clear_message() {
    if crate::support::sqlite_only("writes text where the SQLite file should be") {
        return;
    }
    let stet = Stet::new("", "");
    std::fs::write(
        stet.db_path(),
        b"this is not a database, just text that is long enough",
    )
    .unwrap();
    let out = stet.run(&["watch", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stet.db"), "names the file: {err}");
    assert!(err.contains("not a database"), "{err}");
}

/// Runs stet to completion, sampling its peak resident memory (VmHWM) while it runs.
fn run_measuring_peak_kib(stet: &Stet, args: &[&str]) -> (std::process::Output, u64) {
    let mut child = stet
        .command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            peak = peak.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (child.wait_with_output().unwrap(), peak)
}

#[test]
fn huge_and_endless_responses_are_cut_at_the_cap_with_memory_bounded() {
    let site = Site::start();
    let cap = 2 * 1024 * 1024;
    let stet = Stet::new(&format!("max_body_bytes = {cap}"), "");
    // 50 MiB announced up front, and 50 MiB streamed without a length.
    let big = vec![b'a'; 50 * 1024 * 1024];
    site.set("/huge", Route::typed("text/html", big));
    site.set(
        "/endless",
        Route::Endless {
            total: 50 * 1024 * 1024,
        },
    );
    for path in ["/huge", "/endless"] {
        let url = site.url(path);
        stet.ok(&["watch", "add", &url]);
        let (out, peak_kib) = run_measuring_peak_kib(&stet, &["check", "--json", &url]);
        assert!(out.status.success());
        let r = &crate::support::json_lines(&String::from_utf8_lossy(&out.stdout))[0];
        assert_eq!(kind(r), "error", "{r}");
        assert!(
            r["detail"].as_str().unwrap().starts_with("too_large"),
            "{r}"
        );
        assert!(peak_kib > 0, "memory was sampled");
        println!("{path}: peak RSS {peak_kib} KiB");
        assert!(
            peak_kib < 45 * 1024,
            "{path}: peak RSS {peak_kib} KiB: the body must not be held whole"
        );
    }
    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &site.url("/huge"), "--json"])).unwrap();
    assert_eq!(history["checks"][0]["kind"], "error", "recorded: {history}");
}

#[test]
fn binary_and_non_html_responses_are_recorded_as_such() {
    let site = Site::start();
    let stet = Stet::new("", "");
    site.set(
        "/photo.png",
        Route::typed("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
    );
    site.set(
        "/report.pdf",
        Route::typed("application/pdf", b"%PDF-1.7\n%binary".to_vec()),
    );
    site.set(
        "/lying.html",
        Route::typed("text/html", b"GIF89a\x01\0\x01\0\0\0\0;".to_vec()),
    );
    for path in ["/photo.png", "/report.pdf", "/lying.html"] {
        let r = stet.check_one(&site.url(path));
        assert_eq!(kind(&r), "error", "{path}: {r}");
        let detail = r["detail"].as_str().unwrap();
        assert!(detail.starts_with("not_html"), "{path}: {detail}");
        assert_eq!(
            r["version"],
            serde_json::Value::Null,
            "nothing parsed as an article"
        );
    }
}

#[test]
fn mis_encoded_page_is_decoded_by_its_meta_charset() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let page = article_page("Caf\u{e9} closes", PARAS)
        .replace("<head>", "<head><meta charset=\"iso-8859-1\">");
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(&page);
    site.set("/latin1", Route::typed("text/html", latin1.into_owned()));
    let url = site.url("/latin1");
    assert_eq!(kind(&stet.check_one(&url)), "captured");
    let shown = stet.ok(&["show", &url]);
    assert!(shown.contains("Café closes"), "{shown}");
}

/// A stored body from its chunk list (concatenated SHA-256 digests of zstd-compressed chunks).
fn reassemble(db: &rusqlite::Connection, manifest: &[u8]) -> Vec<u8> {
    assert_eq!(manifest.len() % 32, 0);
    let mut raw = Vec::new();
    for digest in manifest.chunks(32) {
        let key = hex::encode(digest);
        let data: Vec<u8> = db
            .query_row("SELECT data FROM chunks WHERE hash = ?1", [&key], |r| {
                r.get(0)
            })
            .unwrap_or_else(|e| panic!("chunk {key}: {e}"));
        let chunk = zstd::decode_all(data.as_slice()).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&chunk)),
            key,
            "chunk content matches its name"
        );
        raw.extend_from_slice(&chunk);
    }
    raw
}

/// watch, seq, content hash, body hash, compressed text, blob manifest (if present).
type StoredVersion = (i64, i64, String, String, Vec<u8>, Option<Vec<u8>>);

#[test]
fn kill_9_mid_pass_leaves_a_consistent_database() {
    if crate::support::sqlite_only(
        "reassembles every body from the SQLite chunk table (on PostgreSQL they are in S3)",
    ) {
        return;
    }
    let site = Site::start();
    let stet = Stet::new("concurrency = 4\nper_host = 4", "");
    let names = fixture_names();
    let mut urls = Vec::new();
    for round in 0..3 {
        for name in &names {
            let path = format!("/k/{round}/{name}");
            site.set(&path, Route::html(fixture(name, "source.html")));
            urls.push(site.url(&path));
        }
    }
    stet.watch(&urls);
    let mut child = stet
        .command()
        .args(["check", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    while seen < 20 {
        lines.next().expect("reports before the kill").unwrap();
        seen += 1;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let verify = || {
        let db = rusqlite::Connection::open(stet.db_path()).unwrap();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let mut stmt = db
            .prepare(
                "SELECT v.watch_id, v.seq, v.content_hash, v.body_hash, v.text_zstd, b.data
                 FROM versions v LEFT JOIN blobs b ON b.hash = v.body_hash ORDER BY v.watch_id, v.seq",
            )
            .unwrap();
        let rows: Vec<StoredVersion> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (watch, seq, content_hash, body_hash, text, blob) in &rows {
            let manifest = blob
                .as_ref()
                .unwrap_or_else(|| panic!("version {watch}/{seq} has no blob"));
            let raw = reassemble(&db, manifest);
            assert_eq!(&hex::encode(Sha256::digest(&raw)), body_hash);
            let text = zstd::decode_all(text.as_slice()).unwrap();
            assert_eq!(&hex::encode(Sha256::digest(&text)), content_hash);
            let events: i64 = db
                .query_row(
                    "SELECT count(*) FROM events WHERE watch_id = ?1 AND version_seq = ?2",
                    [watch, seq],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(events, 1, "version {watch}/{seq} has its event");
        }
        rows.len()
    };
    let survived = verify();
    assert!(
        survived >= 1,
        "what was reported before the kill was committed"
    );

    // The next pass carries on from where the killed one stopped.
    let reports = stet.check(&[]);
    assert_eq!(reports.len(), urls.len());
    for r in &reports {
        assert!(matches!(kind(r), "captured" | "unchanged"), "{r}");
    }
    assert_eq!(verify(), urls.len(), "every page has exactly one version");
}

#[test]
fn the_raw_body_is_kept_byte_for_byte() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let page = article_page("Exact bytes", PARAS).replace("<body>", "<body>\r\n\t ");
    site.set("/exact", Route::html(page.clone()));
    let url = site.url("/exact");
    stet.check_one(&url);
    let out = stet
        .command()
        .args(["show", &url, "--raw"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, page.as_bytes());
}

#[test]
fn processes_opening_a_new_archive_at_once_all_succeed() {
    // The daemon and a CLI command racing to create the schema of a new database once made the
    // loser fail with "table watches already exists".
    for _ in 0..3 {
        let stet = Stet::new("", "");
        let children: Vec<_> = (0..6)
            .map(|_| {
                stet.command()
                    .args(["watch", "list", "--json"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
