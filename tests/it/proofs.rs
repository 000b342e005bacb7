//! Proofs a third party can check: every stored column covered by `verify`, signed checkpoints,
//! offline proof files, RFC 3161 timestamps and witnesses, each checked through the real binary
//! and, where it says so, by code stet did not write (Go's golang.org/x/mod/sumdb/note and
//! sumdb/tlog, openssl).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, kind};

const NAME: &str = "news.example/stet";

/// An article captured and then edited, in an archive with a signing key: entries 1
/// watch:added, 2 version v1, 3 event:captured, 4 version v2, 5 event:edited.
fn archive(extra: &str) -> (Site, Stet, String) {
    let site = Site::start();
    let stet = Stet::new("", extra);
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
    stet.ok(&["ledger", "keygen", "--name", NAME]);
    (site, stet, url)
}

fn db(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// `stet --db DB verify --json`: exit code and report.
fn verify_db(stet: &Stet, path: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["--db", path.to_str().unwrap(), "verify", "--json"];
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

/// A copy of the archive to alter, made by SQLite itself.
fn copy_of(stet: &Stet, name: &str) -> PathBuf {
    let to = stet.dir.path().join(format!("{name}.db"));
    let _ = std::fs::remove_file(&to);
    db(&stet.db_path())
        .execute("VACUUM INTO ?1", [to.to_str().unwrap()])
        .unwrap();
    to
}

/// Alters one value in place: numbers grow, text changes its last character (hex stays hex),
/// NULL becomes text, a blob gets one byte flipped.
fn alter(conn: &Connection, table: &str, column: &str, row: &str) {
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let (rowid, kind): (i64, String) = conn
        .query_row(
            &format!("SELECT rowid, typeof({column}) FROM {table} WHERE {row}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("{table}.{column} where {row}: {e}"));
    let set = |sql: &str| {
        let n = conn
            .execute(
                &format!("UPDATE {table} SET {column} = {sql} WHERE rowid = ?1"),
                [rowid],
            )
            .unwrap();
        assert_eq!(n, 1);
    };
    match kind.as_str() {
        "integer" => set(&format!("{column} + 1000")),
        "real" => set(&format!("{column} + 1")),
        "null" => set("'forged'"),
        "text" if column == "meta" => set(&format!("replace({column}, '\"200\"', '\"201\"')")),
        "text" => set(&format!(
            "substr({column}, 1, length({column}) - 1) || \
             CASE WHEN substr({column}, -1) = '0' THEN '1' ELSE '0' END"
        )),
        "blob" => {
            let mut data: Vec<u8> = conn
                .query_row(
                    &format!("SELECT {column} FROM {table} WHERE rowid = ?1"),
                    [rowid],
                    |r| r.get(0),
                )
                .unwrap();
            let at = data.len() / 2;
            data[at] ^= 0x20;
            conn.execute(
                &format!("UPDATE {table} SET {column} = ?2 WHERE rowid = ?1"),
                params![rowid, data],
            )
            .unwrap();
        }
        other => panic!("{table}.{column} has type {other}"),
    }
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_column_of_every_covered_table_altered_and_every_deleted_row_is_caught_and_named() {
    if crate::support::sqlite_only("alters every column of copies of the SQLite file") {
        return;
    }
    let (_site, stet, _url) = archive("");
    let conn = db(&stet.db_path());
    let v1_body: String = conn
        .query_row("SELECT body_hash FROM versions WHERE seq = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let manifest: Vec<u8> = conn
        .query_row("SELECT data FROM blobs WHERE hash = ?1", [&v1_body], |r| {
            r.get(0)
        })
        .unwrap();
    let chunk = hex::encode(&manifest[..32]);
    drop(conn);
    let clean = copy_of(&stet, "clean");
    let (code, report) = verify_db(&stet, &clean, &[]);
    assert_eq!(code, 0, "an untouched archive is clean: {report:#}");
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);

    // (table, the row to alter, the table a failure must name, the columns whose name the
    // reason must give).
    let v1 = "seq = 1";
    let edited = "kind = 'edited'";
    let blob = format!("hash = '{v1_body}'");
    let chunk_row = format!("hash = '{chunk}'");
    let cases: Vec<(&str, String, &str, Vec<&str>)> = vec![
        (
            "versions",
            v1.to_string(),
            "versions",
            stet::store::version_columns(),
        ),
        (
            "events",
            edited.to_string(),
            "events",
            stet::store::event_columns(),
        ),
        ("blobs", blob.clone(), "blobs", vec![]),
        ("chunks", chunk_row.clone(), "blobs|chunks", vec![]),
        // row_id is not hashed: altered, the entry points at a row that is not the one it records.
        ("ledger", "seq = 2".to_string(), "ledger|versions", vec![]),
        ("watches", "id = 1".to_string(), "watches", vec![]),
    ];
    let mut checked = 0;
    for (table, row, named_table, named_columns) in &cases {
        let cols = columns(&db(&clean), table);
        let cols: Vec<&str> = match *table {
            // What verify covers of a watch is its identity; its schedule and live state
            // (status, streaks, validators, next check) change on every check by design.
            "watches" => vec!["id", "url"],
            // Every other column of the schema, but for the one list of columns entries do not
            // commit to (each with its reason): a new column nothing covers fails here.
            _ => cols
                .iter()
                .map(String::as_str)
                .filter(|c| {
                    !stet::store::EXEMPT_COLUMNS
                        .iter()
                        .any(|(t, exempt, _)| t == table && exempt == c)
                })
                .collect(),
        };
        for column in cols {
            let copy = copy_of(&stet, "altered");
            alter(&db(&copy), table, column, row);
            let (code, report) = verify_db(&stet, &copy, &[]);
            assert_eq!(
                code, 4,
                "{table}.{column} altered but verify passed: {report:#}"
            );
            let failures = report["failures"].as_array().unwrap();
            assert!(
                failures.iter().any(|f| named_table
                    .split('|')
                    .any(|t| f["table"] == t || f["table"] == "ledger")),
                "{table}.{column}: no failure names {named_table}: {report:#}"
            );
            if named_columns.contains(&column) {
                assert!(
                    failures.iter().any(|f| f["table"] == *named_table
                        && f["reason"]
                            .as_str()
                            .unwrap()
                            .starts_with(&format!("{column} is"))),
                    "{table}.{column}: the reason does not name the column: {report:#}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 44, "{checked} alterations");

    // One deleted row of each table.
    let deletions = [
        ("versions", "seq = 2".to_string(), "versions"),
        ("events", edited.to_string(), "events"),
        ("blobs", blob, "versions"),
        ("chunks", chunk_row, "blobs"),
        ("ledger", "seq = 3".to_string(), "ledger"),
        ("watches", "id = 1".to_string(), "watches"),
    ];
    for (table, row, named) in deletions {
        let copy = copy_of(&stet, "deleted");
        let conn = db(&copy);
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        assert_eq!(
            conn.execute(&format!("DELETE FROM {table} WHERE {row}"), [])
                .unwrap(),
            1
        );
        drop(conn);
        let (code, report) = verify_db(&stet, &copy, &[]);
        assert_eq!(
            code, 4,
            "a {table} row deleted but verify passed: {report:#}"
        );
        assert!(
            report["failures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["table"] == named),
            "a {table} row deleted: no failure names {named}: {report:#}"
        );
    }
}

/// The Go checker, built once from tests/checkers/tlogcheck with the Debian packages of Go and
/// golang.org/x/mod, offline (GOPATH mode, no module downloads).
fn tlogcheck() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // Under target/: reused by later runs (Go's build cache), removed by `cargo clean`.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tlogcheck");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("tlogcheck");
        let src = crate::support::checker("tlogcheck/main.go");
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .current_dir(&dir)
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOCACHE", dir.join("cache"))
            .output()
            .expect("Go is needed for the independent checks (.ci/test-deps installs it)");
        assert!(
            out.status.success(),
            "go build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// Runs the Go checker; returns (success, stdout + stderr).
fn go(args: &[&str]) -> (bool, String) {
    let out = Command::new(tlogcheck()).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// The same bytes with one byte changed, at `at` (a position inside what is checked).
fn one_byte_changed(data: &[u8], at: usize) -> Vec<u8> {
    let mut d = data.to_vec();
    d[at] = if d[at] == b'A' { b'B' } else { b'A' };
    d
}

#[test]
fn go_reference_code_verifies_the_checkpoint_and_the_inclusion_proof_and_rejects_each_altered() {
    if crate::support::sqlite_only("the independent Python encoder reads the SQLite file") {
        return;
    }
    let (_site, stet, url) = archive("");
    let dir = stet.dir.path();
    let (ok, out) = go(&["vectors"]);
    assert!(ok, "{out}");
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    assert!(key.starts_with(&format!("{NAME}+")), "{key}");

    // The signed checkpoint, and its root recomputed from the SQLite file by a second
    // independent program (Python encodes the entries, Go's tlog hashes the tree).
    let checkpoint = stet.ok(&["ledger", "head"]);
    assert!(
        checkpoint.starts_with(&format!("{NAME}\n5\n")),
        "{checkpoint}"
    );
    let cp = write(dir, "checkpoint", checkpoint.as_bytes());
    let (ok, out) = go(&["checkpoint", &key, cp.to_str().unwrap()]);
    assert!(ok, "{out}");
    let root_b64 = checkpoint.lines().nth(2).unwrap();
    assert_eq!(out.trim(), format!("{NAME} 5 {root_b64}"));
    let leaves = Command::new("python3")
        .arg(crate::support::checker("ledger_recompute.py"))
        .arg(stet.db_path())
        .arg("--leaves")
        .output()
        .unwrap();
    assert!(leaves.status.success());
    let mut child = Command::new(tlogcheck())
        .arg("treehash")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&leaves.stdout)
        .unwrap();
    let tree = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tree.stdout).trim(),
        format!("5 {root_b64}")
    );
    // One byte changed anywhere in the signed text, and Go's note.Open refuses it.
    for at in [NAME.len() + 1, checkpoint.find(root_b64).unwrap() + 5] {
        let bad = write(
            dir,
            "bad-checkpoint",
            &one_byte_changed(checkpoint.as_bytes(), at),
        );
        let (ok, out) = go(&["checkpoint", &key, bad.to_str().unwrap()]);
        assert!(!ok, "an altered checkpoint verified: {out}");
    }

    // The offline proof of v1: its tlog-proofs verify with tlog.CheckRecord.
    let proof_path = dir.join("v1.proof");
    stet.ok(&[
        "proof",
        &url,
        "--version",
        "1",
        "-o",
        proof_path.to_str().unwrap(),
    ]);
    let (ok, out) = go(&["proof", &key, proof_path.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("ok: entry 2 (version)"), "{out}");
    // One byte of an inclusion proof hash changed: rejected.
    let text = std::fs::read_to_string(&proof_path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let tlog_proof = file["entries"][0].as_str().unwrap().to_string();
    let hash_line = tlog_proof.lines().nth(3).unwrap().to_string();
    let mut altered = file.clone();
    altered["entries"][0] = tlog_proof
        .replace(
            &hash_line,
            &String::from_utf8(one_byte_changed(hash_line.as_bytes(), 3)).unwrap(),
        )
        .into();
    let bad = write(dir, "bad.proof", altered.to_string().as_bytes());
    let (ok, out) = go(&["proof", &key, bad.to_str().unwrap()]);
    assert!(!ok, "an altered inclusion proof verified: {out}");
    let out = stet.run(&["verify-proof", bad.to_str().unwrap(), "--key", &key]);
    assert_eq!(out.status.code(), Some(4));
    // One byte of the entry (the extra data) changed: rejected too.
    let extra_line = tlog_proof.lines().nth(1).unwrap().to_string();
    let mut altered = file.clone();
    altered["entries"][0] = tlog_proof
        .replace(
            &extra_line,
            &String::from_utf8(one_byte_changed(extra_line.as_bytes(), 40)).unwrap(),
        )
        .into();
    let bad = write(dir, "bad2.proof", altered.to_string().as_bytes());
    let (ok, out) = go(&["proof", &key, bad.to_str().unwrap()]);
    assert!(!ok, "an altered entry verified: {out}");
}

/// Starts the Go witness on 127.0.0.1; returns the process, its URL and its request log dir.
fn start_witness(dir: &Path, log_key: &str) -> (Child, String, PathBuf) {
    let logdir = dir.join("witness-log");
    std::fs::create_dir_all(&logdir).unwrap();
    // The witness's own key, made by stet in a directory of its own (any signer key will do).
    let keys = Stet::new("", "");
    keys.ok(&["ledger", "keygen", "--name", "witness.example/w1"]);
    let skey = std::fs::read_to_string(keys.dir.path().join("ledger.key")).unwrap();
    let mut child = Command::new(tlogcheck())
        .args(["witness", log_key, skey.trim(), logdir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the witness said {line:?}"))
        .to_string();
    (child, url, logdir)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_witness_accepts_consistent_checkpoints_and_answers_409_to_a_forked_archive() {
    if crate::support::sqlite_only("forks the archive by rewriting the SQLite file's ledger") {
        return;
    }
    // The archive's key must exist before the witness can be told to trust it, so the config
    // naming the witness is written after keygen.
    let (site, stet, url) = archive("");
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    let (witness, witness_url, logdir) = start_witness(stet.dir.path(), &key);
    let _witness = Killed(witness);
    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    std::fs::write(
        stet.config_path(),
        format!("{config}\n[ledger]\nwitnesses = [\"{witness_url}\"]\n"),
    )
    .unwrap();

    // First checkpoint: the witness has seen nothing, accepts and cosigns.
    let out = stet.ok(&["ledger", "publish"]);
    assert!(out.contains("\u{2014} witness.example/w1 "), "{out}");
    // The ledger grows; the next checkpoint comes with a consistency proof from 5.
    site.set(
        "/news/2026/bridge",
        Route::html(article_page("Bridge to close", &PARAS[..2])),
    );
    assert_eq!(kind(&stet.check_one(&url)), "edited");
    let out = stet.ok(&["ledger", "publish"]);
    assert!(out.contains("\u{2014} witness.example/w1 "), "{out}");
    let size: u64 = out.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size, 7);
    // Go's tlog.CheckTree verified that proof inside the witness; check the logged request
    // again offline, then with one byte of the proof changed.
    let body = std::fs::read(logdir.join("2.txt")).unwrap();
    assert!(
        body.starts_with(b"old 5\n"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let first = std::fs::read_to_string(logdir.join("1.txt")).unwrap();
    let root5 = first.split("\n\n").nth(1).unwrap().lines().nth(2).unwrap();
    let saved = write(stet.dir.path(), "add.txt", &body);
    let (ok, out) = go(&["consistency", &key, "5", root5, saved.to_str().unwrap()]);
    assert!(ok, "{out}");
    let bad = write(stet.dir.path(), "add-bad.txt", &one_byte_changed(&body, 8));
    let (ok, out) = go(&["consistency", &key, "5", root5, bad.to_str().unwrap()]);
    assert!(!ok, "an altered consistency proof verified: {out}");

    // A fork: the same archive with v1 rewritten and every entry re-hashed, as a careful
    // forger would. Its checkpoint of 7 entries is not the one the witness cosigned.
    let conn = db(&stet.db_path());
    conn.execute(
        "UPDATE versions SET title = 'Bridge to stay open' WHERE seq = 1",
        [],
    )
    .unwrap();
    rechain_with_metadata(&conn);
    drop(conn);
    let (code, report) = verify_db(&stet, &stet.db_path(), &[]);
    assert_eq!(code, 0, "the forgery is self-consistent: {report:#}");
    let out = stet.run(&["ledger", "publish"]);
    assert_eq!(out.status.code(), Some(4), "a refusal exits 4");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("REFUSED"), "{stderr}");
    assert!(stderr.contains("HTTP 409"), "{stderr}");
    assert!(stderr.contains("rewritten or forked"), "{stderr}");
}

/// Re-hashes every ledger entry from the rows they record, as a forger who rewrote rows would.
pub fn rechain_with_metadata(conn: &Connection) {
    use stet::pure::ledger::{Entry, EntryBody};
    // Refresh each v2 entry's metadata from its row, then re-chain.
    conn.execute_batch(
        "UPDATE ledger SET meta = (SELECT json_array(v.loose_hash, CAST(v.http_status AS TEXT),
                v.final_url, v.title, v.byline, v.published, v.modified, v.canonical_url)
             FROM versions v WHERE v.id = ledger.row_id)
         WHERE meta IS NOT NULL AND kind IN ('version', 'attest:version');",
    )
    .unwrap();
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
fn verify_against_a_signed_checkpoint_passes_for_growth_and_fails_for_a_rewrite() {
    if crate::support::sqlite_only("rewrites the SQLite file's ledger") {
        return;
    }
    let (site, stet, url) = archive("");
    let dir = stet.dir.path();
    let checkpoint = stet.ok(&["ledger", "head"]);
    let count = stet.ok(&["ledger", "head", "--count"]).trim().to_string();
    assert!(count.starts_with("5:"), "{count}");
    let cp = write(dir, "published.checkpoint", checkpoint.as_bytes());
    site.set(
        "/news/2026/bridge",
        Route::html(article_page("Bridge to close", &PARAS[..2])),
    );
    assert_eq!(kind(&stet.check_one(&url)), "edited");
    let (code, report) = verify_db(&stet, &stet.db_path(), &["--against", cp.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");
    // The checkpoint inline works too, and the old COUNT:HASH head keeps verifying.
    let (code, report) = verify_db(&stet, &stet.db_path(), &["--against", &checkpoint]);
    assert_eq!(code, 0, "{report:#}");
    let (code, report) = verify_db(&stet, &stet.db_path(), &["--against", &count]);
    assert_eq!(code, 0, "{report:#}");
    // A checkpoint signed by another key is refused.
    let other = Stet::new("", "");
    other.ok(&["ledger", "keygen", "--name", NAME]);
    let other_key = other.ok(&["ledger", "key"]).trim().to_string();
    let (code, report) = verify_db(
        &stet,
        &stet.db_path(),
        &["--against", cp.to_str().unwrap(), "--key", &other_key],
    );
    assert_eq!(code, 4, "{report:#}");
    // A rewritten, re-chained archive no longer extends the checkpoint.
    let conn = db(&stet.db_path());
    conn.execute(
        "UPDATE versions SET byline = 'By Someone Else' WHERE seq = 1",
        [],
    )
    .unwrap();
    rechain_with_metadata(&conn);
    drop(conn);
    let (code, report) = verify_db(&stet, &stet.db_path(), &[]);
    assert_eq!(code, 0, "self-consistent forgery: {report:#}");
    let (code, report) = verify_db(&stet, &stet.db_path(), &["--against", cp.to_str().unwrap()]);
    assert_eq!(code, 4, "{report:#}");
    let reason = report["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no longer extends the checkpoint"),
        "{reason}"
    );
}

#[test]
fn a_proof_file_is_checked_without_the_database_and_names_what_was_altered() {
    let (_site, stet, url) = archive("");
    let dir = stet.dir.path();
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    let path = dir.join("v2.proof");
    stet.ok(&["proof", &url, "-o", path.to_str().unwrap()]);
    // No database: the file and the key are all it takes.
    let elsewhere = Stet::new("", "");
    assert!(!elsewhere.db_path().exists());
    let out = elsewhere.ok(&["verify-proof", path.to_str().unwrap(), "--key", &key]);
    assert!(out.contains("verified: v2 of"), "{out}");
    assert!(out.contains("title          Bridge to close"), "{out}");
    assert!(out.contains("http_status    200"), "{out}");
    assert!(!elsewhere.db_path().exists());
    let out = elsewhere.ok(&["verify-proof", path.to_str().unwrap()]);
    assert!(out.contains("checked with the key the file names"), "{out}");

    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["format"], "stet-proof/v1");
    let check = |name: &str, f: &Value, key: &str| -> String {
        let p = write(dir, name, f.to_string().as_bytes());
        let out = elsewhere.run(&["verify-proof", p.to_str().unwrap(), "--key", key]);
        assert_eq!(out.status.code(), Some(4), "{name} verified");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut f = file.clone();
    f["text"] = f["text"]
        .as_str()
        .unwrap()
        .replace("45,000", "4,500")
        .into();
    let out = check("text.proof", &f, &key);
    assert!(out.contains("the text hashes to"), "{out}");
    let mut f = file.clone();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut body = b64.decode(f["body_base64"].as_str().unwrap()).unwrap();
    body[100] ^= 1;
    f["body_base64"] = b64.encode(body).into();
    let out = check("body.proof", &f, &key);
    assert!(out.contains("the raw body hashes to"), "{out}");
    let other = Stet::new("", "");
    other.ok(&["ledger", "keygen", "--name", NAME]);
    let other_key = other.ok(&["ledger", "key"]).trim().to_string();
    let out = check("key.proof", &file, &other_key);
    assert!(out.contains("signature"), "{out}");
    let mut f = file.clone();
    f["version"] = 1.into();
    let out = check("version.proof", &f, &key);
    assert!(out.contains("does not record v1"), "{out}");
}

/// A local RFC 3161 timestamp authority: `openssl ts -reply` behind a tiny HTTP server.
struct Tsa {
    url: String,
    ca: PathBuf,
    _thread: std::thread::JoinHandle<()>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for the timestamp test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_tsa(dir: &Path) -> Tsa {
    let dir = dir.join("tsa");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("tsa.cnf"),
        "[tsa]\ndefault_tsa = tsa1\n[tsa1]\ndir = .\nserial = ./serial\n\
         signer_cert = ./tsa.crt\nsigner_key = ./tsa.key\nsigner_digest = sha256\n\
         default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\n\
         ess_cert_id_chain = no\ness_cert_id_alg = sha256\n\
         [ext]\nextendedKeyUsage = critical,timeStamping\nbasicConstraints = CA:FALSE\n",
    )
    .unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Test TSA CA",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/CN=Test TSA",
        ],
    );
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "2",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "ext",
        ],
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsr", listener.local_addr().unwrap());
    let tsa_dir = dir.clone();
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut query = vec![0; len];
            if reader.read_exact(&mut query).is_err() {
                continue;
            }
            std::fs::write(tsa_dir.join("query.tsq"), &query).unwrap();
            let out = Command::new("openssl")
                .args([
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-queryfile",
                    "query.tsq",
                    "-out",
                    "reply.tsr",
                ])
                .current_dir(&tsa_dir)
                .output()
                .unwrap();
            let reply = if out.status.success() {
                std::fs::read(tsa_dir.join("reply.tsr")).unwrap()
            } else {
                Vec::new()
            };
            let head = format!(
                "HTTP/1.1 {}\r\nContent-Type: application/timestamp-reply\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                if out.status.success() {
                    "200 OK"
                } else {
                    "500 Error"
                },
                reply.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&reply);
        }
    });
    Tsa {
        url,
        ca: dir.join("ca.crt"),
        _thread: thread,
    }
}

#[test]
fn a_published_checkpoint_gets_an_rfc3161_token_that_openssl_verifies() {
    let (_site, stet, url) = archive("");
    let tsa = start_tsa(stet.dir.path());
    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    std::fs::write(
        stet.config_path(),
        format!("{config}\n[ledger]\ntsa_url = \"{}\"\n", tsa.url),
    )
    .unwrap();
    let checkpoint = stet.ok(&["ledger", "publish"]);
    let row = stet
        .db()
        .rows("SELECT timestamp_token, tsa_url, note FROM checkpoints ORDER BY id DESC LIMIT 1")
        .remove(0);
    let (token, tsa_url, note) = (row[0].bytes(), row[1].text(), row[2].text());
    assert_eq!(tsa_url, tsa.url);
    assert_eq!(note.trim_end(), checkpoint.trim_end());
    // The token is over the checkpoint's text: its three lines.
    let text: String = checkpoint
        .lines()
        .take(3)
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = stet.dir.path();
    let data = write(dir, "checkpoint.txt", text.as_bytes());
    let tok = write(dir, "token.der", &token);
    let verify = |data: &Path| {
        Command::new("openssl")
            .args(["ts", "-verify", "-token_in", "-in"])
            .arg(&tok)
            .arg("-data")
            .arg(data)
            .arg("-CAfile")
            .arg(&tsa.ca)
            .output()
            .unwrap()
    };
    let out = verify(&data);
    assert!(
        out.status.success(),
        "openssl ts -verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Another checkpoint text does not verify against the token.
    let other = write(dir, "other.txt", text.replace("\n5\n", "\n6\n").as_bytes());
    assert!(!verify(&other).status.success());
    // The proof file carries the token, and verify-proof reads its time.
    let path = dir.join("v1.proof");
    stet.ok(&[
        "proof",
        &url,
        "--version",
        "1",
        "-o",
        path.to_str().unwrap(),
    ]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["timestamp"]["tsa_url"], tsa.url);
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    let out = stet.ok(&["verify-proof", path.to_str().unwrap(), "--key", &key]);
    assert!(out.contains("timestamp  20"), "{out}");
}

#[test]
fn the_warc_export_carries_each_versions_proof_in_a_metadata_record() {
    let (_site, stet, _url) = archive("");
    let dir = stet.dir.path();
    let warc = dir.join("out.warc");
    stet.ok(&["export", "--format", "warc", "-o", warc.to_str().unwrap()]);
    let script = r#"
import sys, json
from warcio.archiveiterator import ArchiveIterator
out = []
with open(sys.argv[1], 'rb') as f:
    for r in ArchiveIterator(f):
        body = r.content_stream().read()
        out.append({'type': r.rec_type, 'id': r.rec_headers.get_header('WARC-Record-ID'),
                    'refers': r.rec_headers.get_header('WARC-Refers-To'),
                    'body': body.decode('utf-8', 'replace') if r.rec_type == 'metadata' else ''})
print(json.dumps(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&warc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let types: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "warcinfo", "response", "request", "metadata", "response", "request", "metadata"
        ]
    );
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    for (i, r) in records
        .iter()
        .enumerate()
        .filter(|(_, r)| r["type"] == "metadata")
    {
        assert_eq!(r["refers"], records[i - 2]["id"], "refers to its response");
        let p = write(
            dir,
            "from-warc.proof",
            r["body"].as_str().unwrap().as_bytes(),
        );
        let out = stet.ok(&["verify-proof", p.to_str().unwrap(), "--key", &key]);
        assert!(out.contains("(not in the file)"), "{out}");
    }
}

#[test]
fn the_daemon_publishes_a_checkpoint_on_its_schedule_only_when_the_ledger_grew() {
    let (_site, stet, _url) = archive("");
    let config = std::fs::read_to_string(stet.config_path()).unwrap();
    std::fs::write(
        stet.config_path(),
        format!("{config}\n[ledger]\npublish = \"every 1s\"\n"),
    )
    .unwrap();
    let mut child = Killed(
        stet.command()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let checkpoints = || -> Vec<(i64, String)> {
        stet.db()
            .try_rows("SELECT tree_size, note FROM checkpoints ORDER BY id")
            .unwrap_or_default()
            .iter()
            .map(|r| (r[0].int(), r[1].text()))
            .collect()
    };
    let start = std::time::Instant::now();
    while checkpoints().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no checkpoint was published"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let published = checkpoints();
    assert_eq!(published[0].0, 5);
    assert!(published[0].1.starts_with(&format!("{NAME}\n5\n")));
    // Three more turns of the schedule with nothing new: no new checkpoint.
    std::thread::sleep(std::time::Duration::from_millis(3200));
    assert_eq!(checkpoints().len(), 1);
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn an_archive_from_before_metadata_entries_keeps_its_chain_and_is_covered_after_the_upgrade() {
    if crate::support::sqlite_only(
        "turns the SQLite file back into the schema before metadata entries",
    ) {
        return;
    }
    let (_site, stet, _url) = archive("");
    // Turn the archive into one written before entries carried metadata: v1 entries only, no
    // meta column, no checkpoints: the schema of the four released migrations (those after them
    // are applied again, harmlessly, as in the ledger's own upgrade test).
    let conn = db(&stet.db_path());
    conn.execute("UPDATE ledger SET meta = NULL", []).unwrap();
    rechain_with_metadata(&conn);
    let (entries, hash): (i64, String) = conn
        .query_row(
            "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    conn.execute_batch(
        "ALTER TABLE ledger DROP COLUMN meta; DROP TABLE checkpoints; DROP TABLE witness_state;
         ALTER TABLE versions DROP COLUMN extractor;
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let published = format!("{entries}:{hash}");
    // The upgrade keeps every entry and appends one attestation per version and event.
    let (code, report) = verify_db(&stet, &stet.db_path(), &["--against", &published]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["entries"], 9);
    let kinds: Vec<String> = db(&stet.db_path())
        .prepare("SELECT kind FROM ledger WHERE seq > 5 ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kinds,
        [
            "attest:version",
            "attest:event",
            "attest:version",
            "attest:event"
        ]
    );
    // Their metadata is now covered: the title an old archive could not defend is caught.
    let copy = copy_of(&stet, "upgraded");
    db(&copy)
        .execute(
            "UPDATE versions SET title = 'Bridge to stay open' WHERE seq = 1",
            [],
        )
        .unwrap();
    let (code, report) = verify_db(&stet, &copy, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert!(
        report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["table"] == "versions"
                && f["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with("title is \"Bridge to stay open\"")),
        "{report:#}"
    );
}

#[test]
fn the_documented_manual_check_of_a_proof_file_passes_and_fails_like_verify_proof() {
    let (_site, stet, url) = archive("");
    let dir = stet.dir.path();
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    let path = dir.join("v1.proof");
    stet.ok(&[
        "proof",
        &url,
        "--version",
        "1",
        "-o",
        path.to_str().unwrap(),
    ]);
    let script = crate::support::checker("proof_check.py");
    let run = |p: &Path| {
        Command::new("python3")
            .arg(&script)
            .arg(p)
            .arg(&key)
            .output()
            .unwrap()
    };
    let out = run(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok: entry 2 (version)"), "{stdout}");
    assert!(stdout.contains("Bridge to close"), "{stdout}");
    // The checkpoint's size changed by one digit: the signature no longer verifies.
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = write(
        dir,
        "bad.proof",
        text.replace(&format!("{NAME}\\n5\\n"), &format!("{NAME}\\n6\\n"))
            .as_bytes(),
    );
    let out = run(&bad);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
