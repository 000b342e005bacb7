//! The tamper-evident archive: the ledger, `stet verify`, published heads, WARC and JSON Lines
//! export and import, through the real binary. Each tampering case edits the SQLite file
//! directly, as someone with access to the server could.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, json_lines, kind};

/// An archive with one article captured and then edited: ledger entries 1 watch:added,
/// 2 version v1, 3 event:captured, 4 version v2, 5 event:edited.
fn archive() -> (Site, Stet, String) {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/2026/bridge");
    site.set(
        "/news/2026/bridge",
        Route::html(article_page("Bridge to close", PARAS)),
    );
    assert_eq!(kind(&stet.check_one(&url)), "captured");
    let edited = [
        PARAS[0],
        "About 45,000 vehicles cross the bridge every day.",
        PARAS[2],
    ];
    site.set(
        "/news/2026/bridge",
        Route::html(article_page("Bridge to close", &edited)),
    );
    assert_eq!(kind(&stet.check_one(&url)), "edited");
    (site, stet, url)
}

/// `stet verify --json`: the exit code and the report.
fn verify(stet: &Stet, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "--json"];
    args.extend_from_slice(extra);
    let out = stet.run(&args);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

/// Asserts verification failed with exit code 4 and a failure naming `table` row `row`;
/// returns that failure's reason.
fn assert_caught(stet: &Stet, table: &str, row: &str) -> String {
    let (code, report) = verify(stet, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert_eq!(report["ok"], false);
    let failures = report["failures"].as_array().unwrap();
    let found = failures
        .iter()
        .find(|f| f["table"] == table && f["row"] == row)
        .unwrap_or_else(|| panic!("no failure names {table} row {row}: {report:#}"));
    // The plain-text report names the row too.
    let text = stet.run(&["verify"]);
    assert_eq!(text.status.code(), Some(4));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&format!("{table} row {row}")), "{stdout}");
    assert!(stdout.contains("verification FAILED"), "{stdout}");
    found["reason"].as_str().unwrap().to_string()
}

fn db(stet: &Stet) -> Connection {
    Connection::open(stet.db_path()).unwrap()
}

fn version_row(conn: &Connection, seq: i64) -> (i64, String, Vec<u8>) {
    conn.query_row(
        "SELECT id, body_hash, text_zstd FROM versions WHERE seq = ?1",
        [seq],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

fn head(stet: &Stet) -> Value {
    json_lines(&stet.ok(&["ledger", "head", "--json"])).remove(0)
}

#[test]
fn an_untouched_archive_verifies_clean() {
    let (site, stet, url) = archive();
    stet.ok(&["watch", "rm", &url]);
    let fetches = site.hits("/news/2026/bridge");
    let (code, report) = verify(&stet, &[]);
    assert_eq!(
        site.hits("/news/2026/bridge"),
        fetches,
        "verify reads only the archive"
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);
    assert_eq!(report["versions"], 2);
    assert_eq!(report["events"], 2);
    assert_eq!(report["blobs"], 2);
    // watch:added, 2 versions, 2 events, watch:removed.
    assert_eq!(report["entries"], 6);
    let h = head(&stet);
    assert_eq!(h["entries"], 6);
    assert_eq!(report["head"]["head"], h["head"]);
    let text = stet.ok(&["verify"]);
    assert!(text.contains("verified"), "{text}");
    // A mistyped path is not an empty archive that verifies.
    let missing = stet.dir.path().join("typo.db");
    let out = stet.run(&["--db", missing.to_str().unwrap(), "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!missing.exists());
}

#[test]
fn an_independent_program_recomputes_the_head_from_the_documented_encoding() {
    if crate::support::sqlite_only("the independent program reads the SQLite file") {
        return;
    }
    let (_site, stet, url) = archive();
    stet.ok(&["watch", "rm", &url]);
    let script = crate::support::checker("ledger_recompute.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(stet.db_path())
        .output()
        .expect("python3 is needed to recompute the ledger independently");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recomputed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(recomputed.trim(), stet.ok(&["ledger", "head"]).trim());
    assert!(recomputed.starts_with("6:"), "{recomputed}");
}

#[test]
fn an_archive_from_before_the_ledger_gets_its_entries_on_upgrade() {
    if crate::support::sqlite_only("turns the SQLite file back into the schema before the ledger") {
        return;
    }
    let (_site, stet, _url) = archive();
    // Turn the file back into a database of the schema before the ledger (the third migration;
    // those after it are applied again, harmlessly, once the columns they add are gone).
    let conn = db(&stet);
    conn.execute_batch(
        "DROP TABLE ledger; ALTER TABLE versions DROP COLUMN extractor; PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let (code, report) = verify(&stet, &[]);
    assert_eq!(code, 0, "{report:#}");
    // In time order, the entries an archive of that time would have had (without metadata),
    // then, from the later upgrade, one attestation per version and event.
    assert_eq!(report["entries"], 9);
    let kinds: Vec<(String, bool)> = db(&stet)
        .prepare("SELECT kind, meta IS NOT NULL FROM ledger ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = [
        ("watch:added", false),
        ("version", false),
        ("event:captured", false),
        ("version", false),
        ("event:edited", false),
        ("attest:version", true),
        ("attest:event", true),
        ("attest:version", true),
        ("attest:event", true),
    ];
    assert_eq!(
        kinds,
        expected
            .iter()
            .map(|(k, m)| (k.to_string(), *m))
            .collect::<Vec<_>>()
    );
    // From then on, the upgraded archive is protected like any other.
    db(&stet)
        .execute(
            "UPDATE events SET at = '2020-01-01T00:00:00.000Z' WHERE kind = 'edited'",
            [],
        )
        .unwrap();
    assert_caught(&stet, "events", "2");
}

#[test]
fn a_byte_changed_in_a_stored_body_is_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, _url) = archive();
    let conn = db(&stet);
    let (_, body_hash, _) = version_row(&conn, 1);
    // Bodies are stored as chunks: alter the chunk that holds the figure, keeping its name.
    let manifest: Vec<u8> = conn
        .query_row(
            "SELECT data FROM blobs WHERE hash = ?1",
            [&body_hash],
            |r| r.get(0),
        )
        .unwrap();
    let mut altered = false;
    for digest in manifest.chunks(32) {
        let key = hex::encode(digest);
        let data: Vec<u8> = conn
            .query_row("SELECT data FROM chunks WHERE hash = ?1", [&key], |r| {
                r.get(0)
            })
            .unwrap();
        let mut raw = zstd::decode_all(data.as_slice()).unwrap();
        if let Some(at) = raw.windows(6).position(|w| w == b"40,000") {
            raw[at] = b'9';
            let data = zstd::encode_all(raw.as_slice(), 3).unwrap();
            conn.execute(
                "UPDATE chunks SET data = ?2 WHERE hash = ?1",
                params![key, data],
            )
            .unwrap();
            altered = true;
        }
    }
    assert!(altered, "the figure is in one of the body's chunks");
    let reason = assert_caught(&stet, "blobs", &body_hash);
    assert!(reason.contains("hash to"), "{reason}");
}

#[test]
fn a_changed_body_size_is_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, _url) = archive();
    let conn = db(&stet);
    let (_, body_hash, _) = version_row(&conn, 2);
    conn.execute(
        "UPDATE blobs SET size = size - 1 WHERE hash = ?1",
        [&body_hash],
    )
    .unwrap();
    let reason = assert_caught(&stet, "blobs", &body_hash);
    assert!(reason.contains("bytes stored, size says"), "{reason}");
}

#[test]
fn an_edited_version_text_is_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, url) = archive();
    let conn = db(&stet);
    let (id, _, text) = version_row(&conn, 1);
    let text = String::from_utf8(zstd::decode_all(text.as_slice()).unwrap()).unwrap();
    let forged = text.replace("six weeks", "two weeks");
    assert_ne!(forged, text);
    let forged = zstd::encode_all(forged.as_bytes(), 3).unwrap();
    conn.execute(
        "UPDATE versions SET text_zstd = ?2 WHERE id = ?1",
        params![id, forged],
    )
    .unwrap();
    let reason = assert_caught(&stet, "versions", &id.to_string());
    assert!(reason.contains("content_hash"), "{reason}");
    let (_, report) = verify(&stet, &[]);
    let failure = &report["failures"][0];
    assert_eq!(failure["what"], format!("v1 of {url}"));
}

#[test]
fn an_edited_text_with_a_matching_content_hash_is_caught_by_the_ledger() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, _url) = archive();
    let conn = db(&stet);
    let (id, _, text) = version_row(&conn, 1);
    let text = String::from_utf8(zstd::decode_all(text.as_slice()).unwrap()).unwrap();
    let forged = text.replace("six weeks", "two weeks");
    let hash = stet::pure::model::Sha256Hash::of(forged.as_bytes()).to_hex();
    conn.execute(
        "UPDATE versions SET text_zstd = ?2, content_hash = ?3 WHERE id = ?1",
        params![id, zstd::encode_all(forged.as_bytes(), 3).unwrap(), hash],
    )
    .unwrap();
    let reason = assert_caught(&stet, "versions", &id.to_string());
    assert!(reason.contains("content_hash is"), "{reason}");
    assert!(reason.contains("the ledger entry says"), "{reason}");
}

#[test]
fn a_deleted_version_row_is_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, url) = archive();
    let conn = db(&stet);
    let (id, _, _) = version_row(&conn, 2);
    conn.execute("DELETE FROM versions WHERE id = ?1", [id])
        .unwrap();
    let reason = assert_caught(&stet, "versions", &id.to_string());
    assert!(reason.contains("ledger entry 4"), "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    let (_, report) = verify(&stet, &[]);
    assert!(
        report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["what"] == format!("v2 of {url}")),
        "{report:#}"
    );
}

#[test]
fn a_changed_event_time_is_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, _url) = archive();
    let conn = db(&stet);
    let (id, at): (i64, String) = conn
        .query_row("SELECT id, at FROM events WHERE kind = 'edited'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    conn.execute(
        "UPDATE events SET at = '2020-01-01T00:00:00.000Z' WHERE id = ?1",
        [id],
    )
    .unwrap();
    let reason = assert_caught(&stet, "events", &id.to_string());
    assert!(reason.contains("2020-01-01T00:00:00.000Z"), "{reason}");
    assert!(
        reason.contains(&at),
        "the reason gives the recorded time: {reason}"
    );
}

#[test]
fn two_swapped_ledger_entries_are_caught() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (_site, stet, _url) = archive();
    let conn = db(&stet);
    // Exchange the contents of entries 2 and 3, keeping their positions.
    conn.execute_batch(
        "UPDATE ledger SET seq = -2 WHERE seq = 2;
         UPDATE ledger SET seq = 2 WHERE seq = 3;
         UPDATE ledger SET seq = 3 WHERE seq = -2;",
    )
    .unwrap();
    let reason2 = assert_caught(&stet, "ledger", "2");
    assert!(reason2.contains("entry 2"), "{reason2}");
    let reason3 = assert_caught(&stet, "ledger", "3");
    assert!(reason3.contains("entry 3"), "{reason3}");
}

#[test]
fn a_rewritten_history_with_a_recomputed_chain_fails_against_the_published_head() {
    if crate::support::sqlite_only("tampers with rows of the SQLite file to see verify catch it") {
        return;
    }
    let (site, stet, url) = archive();
    let published = stet.ok(&["ledger", "head"]).trim().to_string();
    assert!(published.starts_with("5:"), "{published}");
    let conn = db(&stet);
    // Forge v1's text and content hash, then rewrite every ledger entry consistently, as a
    // careful forger with write access would.
    let (id, _, text) = version_row(&conn, 1);
    let text = String::from_utf8(zstd::decode_all(text.as_slice()).unwrap()).unwrap();
    let forged = text.replace("six weeks", "two weeks");
    let hash = stet::pure::model::Sha256Hash::of(forged.as_bytes());
    conn.execute(
        "UPDATE versions SET text_zstd = ?2, content_hash = ?3 WHERE id = ?1",
        params![
            id,
            zstd::encode_all(forged.as_bytes(), 3).unwrap(),
            hash.to_hex()
        ],
    )
    .unwrap();
    conn.execute(
        "UPDATE ledger SET content_hash = ?1 WHERE kind = 'version' AND version_seq = 1",
        [hash.to_hex()],
    )
    .unwrap();
    rechain(&conn);
    drop(conn);
    let (code, report) = verify(&stet, &[]);
    assert_eq!(code, 0, "the forgery is self-consistent: {report:#}");
    let (code, report) = verify(&stet, &["--against", &published]);
    assert_eq!(code, 4, "{report:#}");
    let reason = report["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("no longer extends"), "{reason}");
    // An honest archive that grew since still extends the head it published.
    let (_site2, honest, url2) = archive();
    let early = honest.ok(&["ledger", "head"]).trim().to_string();
    honest.ok(&["watch", "rm", &url2]);
    let (code, report) = verify(&honest, &["--against", &early]);
    assert_eq!(code, 0, "{report:#}");
    drop((site, url));
}

/// Re-hashes every ledger entry in order with stet's own (documented) encoding.
fn rechain(conn: &Connection) {
    use stet::pure::ledger::{Entry, EntryBody};
    let mut stmt = conn
        .prepare(
            "SELECT seq, kind, watch_url, version_seq, at, content_hash, body_hash, meta
             FROM ledger ORDER BY seq",
        )
        .unwrap();
    let bodies: Vec<EntryBody> = stmt
        .query_map([], |r| {
            let parse = |s: Option<String>| s.map(|s| s.parse().unwrap());
            Ok(EntryBody {
                kind: r.get::<_, String>(1)?.parse().unwrap(),
                url: r.get(2)?,
                version: r
                    .get::<_, Option<i64>>(3)?
                    .map(stet::pure::model::VersionSeq),
                at: r.get(4)?,
                content_hash: parse(r.get(5)?),
                body_hash: parse(r.get(6)?),
                meta: r
                    .get::<_, Option<String>>(7)?
                    .map(|m| serde_json::from_str(&m).unwrap()),
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = None;
    for body in bodies {
        let e = Entry::chain(prev, body);
        conn.execute(
            "UPDATE ledger SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![e.seq, e.prev_hash.to_hex(), e.hash.to_hex()],
        )
        .unwrap();
        prev = Some((e.seq, e.hash));
    }
}

#[test]
fn the_head_is_appended_to_a_file_and_posted_to_a_webhook() {
    let (_site, stet, _url) = archive();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/heads", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .unwrap();
        (request_line, body)
    });
    let file = stet.dir.path().join("heads.jsonl");
    let file_arg = file.to_str().unwrap();
    let printed = stet.ok(&["ledger", "head", "--append", file_arg, "--post", &hook]);
    let (request_line, body) = server.join().unwrap();
    assert!(request_line.starts_with("POST /heads "), "{request_line}");
    let posted: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(posted["entries"], 5);
    assert_eq!(
        printed.trim(),
        format!("5:{}", posted["head"].as_str().unwrap())
    );
    stet.ok(&["ledger", "head", "--append", file_arg]);
    let lines = json_lines(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(lines.len(), 2, "each run appends one line");
    assert_eq!(lines[0]["head"], posted["head"]);
    // The appended line itself is accepted as the head to verify against.
    let line = std::fs::read_to_string(&file).unwrap();
    let first = line.lines().next().unwrap();
    let (code, report) = verify(&stet, &["--against", first]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn a_warc_export_validates_with_an_independent_reader() {
    let (site, stet, url) = archive();
    let other = site.url("/news/2026/other");
    site.set(
        "/news/2026/other",
        Route::html(article_page("Ferry to resume", &[PARAS[1]])),
    );
    stet.check_one(&other);
    let warc = stet.dir.path().join("archive.warc");
    stet.ok(&["export", "--format", "warc", "-o", warc.to_str().unwrap()]);
    let checked = warc_check(&warc);
    assert_eq!(checked["types"]["warcinfo"], 1, "{checked}");
    assert_eq!(checked["types"]["response"], 3, "{checked}");
    assert_eq!(checked["types"]["request"], 3, "{checked}");
    // Every payload read back is the raw page stet stored, byte for byte.
    let history: Value = serde_json::from_str(&stet.ok(&["history", &url, "--json"])).unwrap();
    let stored: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["body_hash"].as_str().unwrap())
        .collect();
    let responses = checked["responses"].as_array().unwrap();
    let read_back: Vec<&str> = responses
        .iter()
        .filter(|r| r["uri"] == url.as_str())
        .map(|r| r["payload_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(read_back, stored);
    assert!(responses.iter().all(|r| r["status"] == "200"), "{checked}");

    // Filters: one URL only.
    let one = stet.dir.path().join("one.warc");
    stet.ok(&[
        "export",
        "--format",
        "warc",
        "--url",
        &other,
        "-o",
        one.to_str().unwrap(),
    ]);
    let checked = warc_check(&one);
    assert_eq!(checked["types"]["response"], 1, "{checked}");
    assert_eq!(checked["responses"][0]["uri"], other.as_str());
}

fn warc_check(warc: &Path) -> Value {
    let script = crate::support::checker("warc_check.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(warc)
        .output()
        .expect("python3 is needed to validate WARC files");
    assert!(
        out.status.success(),
        "the WARC file does not validate with warcio (exit {:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn export_then_import_into_a_fresh_database_gives_the_same_head() {
    let (site, stet, url) = archive();
    site.set(
        "/news/2026/bridge",
        Route::status(404, "<h1>Not found</h1>"),
    );
    stet.check_one(&url);
    assert_eq!(kind(&stet.check_one(&url)), "deleted");
    stet.ok(&["watch", "rm", &url]);
    let original = head(&stet);

    let export = stet.dir.path().join("archive.jsonl");
    stet.ok(&[
        "export",
        "--format",
        "jsonl",
        "-o",
        export.to_str().unwrap(),
    ]);
    let lines = json_lines(&std::fs::read_to_string(&export).unwrap());
    assert_eq!(lines.len() as i64, original["entries"].as_i64().unwrap());
    let v1 = lines
        .iter()
        .find(|l| l["entry"]["kind"] == "version")
        .unwrap();
    assert_eq!(v1["version"]["seq"], 1);
    assert_eq!(v1["version"]["content_hash"], v1["entry"]["content_hash"]);
    assert!(
        v1["version"]["text"]
            .as_str()
            .unwrap()
            .contains("six weeks")
    );

    let fresh = Stet::new("", "");
    let imported = json_lines(&fresh.ok(&["import", export.to_str().unwrap(), "--json"]));
    assert_eq!(imported[0]["head"], original["head"]);
    assert_eq!(head(&fresh)["head"], original["head"]);
    let (code, report) = verify(&fresh, &[]);
    assert_eq!(code, 0, "{report:#}");
    // The same article, text and raw page come back.
    assert_eq!(
        fresh.ok(&["show", &url, "--version", "1", "--raw"]),
        stet.ok(&["show", &url, "--version", "1", "--raw"])
    );
    let events = |s: &Stet| -> Value {
        serde_json::from_str::<Value>(&s.ok(&["history", &url, "--json"])).unwrap()["events"]
            .clone()
    };
    assert_eq!(events(&fresh), events(&stet));

    // An archive is imported only into an empty database.
    let again = fresh.run(&["import", export.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn a_tampered_or_partial_export_is_refused_on_import() {
    let (_site, stet, url) = archive();
    let export = stet.dir.path().join("archive.jsonl");
    stet.ok(&[
        "export",
        "--format",
        "jsonl",
        "-o",
        export.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&export).unwrap();

    // A changed time in the export no longer re-computes to the exported entry hash.
    let mut lines: Vec<Value> = json_lines(&text);
    lines[2]["event"]["at"] = "2020-01-01T00:00:00.000Z".into();
    lines[2]["entry"]["at"] = "2020-01-01T00:00:00.000Z".into();
    let forged = stet.dir.path().join("forged.jsonl");
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&forged, body).unwrap();
    let fresh = Stet::new("", "");
    let out = fresh.run(&["import", forged.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:"), "names the line: {err}");
    assert!(err.contains("entry 3"), "{err}");
    assert_eq!(head(&fresh)["entries"], 0, "nothing was imported");

    // A time-filtered export is not a complete archive.
    let at = lines[3]["entry"]["at"].as_str().unwrap().to_string();
    let partial = stet.dir.path().join("partial.jsonl");
    stet.ok(&[
        "export",
        "--format",
        "jsonl",
        "--url",
        &url,
        "--since",
        &at,
        "-o",
        partial.to_str().unwrap(),
    ]);
    let kept = json_lines(&std::fs::read_to_string(&partial).unwrap());
    assert!(!kept.is_empty() && kept.len() < lines.len(), "{kept:?}");
    assert!(
        kept.iter()
            .all(|l| l["entry"]["at"].as_str().unwrap() >= at.as_str())
    );
    let out = fresh.run(&["import", partial.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("complete"));
}
