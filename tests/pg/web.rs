//! `stet serve`, `stet proof` and `verify-proof` on a PostgreSQL archive with bodies in S3: the
//! article, diff and search pages and their API answer for a real edit, and a proof made from
//! the PostgreSQL ledger checks without the database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::site::{Route, Site};
use crate::{PARAS, Postgres, S3, Stet, article, wait_until};

/// A running `stet serve`, stopped when dropped.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(stet: &Stet) -> Self {
        let mut child = stet
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start stet serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split(" at http://")
            .nth(1)
            .map(|a| a.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("stet serve did not start: {line:?}"));
        Self { child, addr }
    }

    /// Status and body of a GET (HTTP/1.0: the body is sent whole, then the connection closes).
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect to stet serve");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let out = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }

    fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn json(&self, path: &str) -> Value {
        let body = self.page(path);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_and_proofs_answer_from_postgresql_with_bodies_in_s3() {
    let pg = Postgres::start();
    let s3 = S3::start();
    let url = pg.database("web");
    let stet = Stet::new(&url, Some(&s3), "", "");
    let site = Site::start();
    let page = site.url("/news/bridge");
    site.set(
        "/news/bridge",
        Route::html(article("Bridge to close", PARAS, "")),
    );
    stet.ok(&["watch", "add", &page]);
    assert_eq!(stet.check_one(&page)["kind"], "captured");
    // The edit: a figure changes and the last sentence goes.
    let edited = PARAS[1].replace("40,000", "60,000");
    site.set(
        "/news/bridge",
        Route::html(article("Bridge to close", &[PARAS[0], &edited], "")),
    );
    assert_eq!(stet.check_one(&page)["kind"], "edited");

    let served = Served::start(&stet);
    let list = served.json("/api/v1/watches?sort=added&limit=10");
    let id = list["items"][0]["id"].as_i64().expect("a watch id");
    assert_eq!(list["items"][0]["versions"], 2, "{list}");
    assert_eq!(list["items"][0]["last_event_kind"], "edited", "{list}");

    let article_page = served.page(&format!("/articles/{id}"));
    assert!(article_page.contains("Bridge to close"), "{article_page}");
    let diff = served.page(&format!("/articles/{id}/diff?from=1&to=2"));
    assert!(diff.contains("<del>40,000</del>"), "{diff}");
    assert!(diff.contains("<ins>60,000</ins>"), "{diff}");
    let api_diff = served.json(&format!("/api/v1/watches/{id}/diff?from=1&to=2"));
    assert!(
        api_diff["hunks"].as_array().is_some_and(|h| !h.is_empty()),
        "{api_diff}"
    );
    let raw = served.page(&format!("/api/v1/watches/{id}/versions/1/text"));
    assert!(raw.contains("four days of notice"), "{raw}");

    // Search finds the sentence the edit removed, in version 1 only. The server indexes what
    // it finds when it starts, so the first answers may still be empty.
    let mut hits = Value::Null;
    wait_until(120, "the search index to hold the archive", || {
        hits = served.json("/api/v1/search?q=%22four%20days%20of%20notice%22");
        hits["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    let hit = &hits["items"][0];
    assert_eq!(hit["watch_id"], id, "{hits}");
    assert_eq!(hit["versions"], serde_json::json!([1]), "{hits}");
    assert_eq!(hit["removed_in"], 2, "{hits}");
    let search = served.page("/search?q=%22four+days+of+notice%22");
    assert!(search.contains("removed in version 2"), "{search}");
    assert!(search.contains("<mark>"), "{search}");
    let none = served.json("/api/v1/search?q=zeppelin");
    assert_eq!(none["items"], serde_json::json!([]), "{none}");
    drop(served);

    // A proof of version 2 from the PostgreSQL ledger, checked without the database.
    stet.ok(&["ledger", "keygen", "--name", "archive.example/stet"]);
    let key = stet.ok(&["ledger", "key"]).trim().to_string();
    let proof = stet.path().join("v2.proof");
    stet.ok(&["proof", &page, "-o", proof.to_str().unwrap()]);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stet"))
        .current_dir(elsewhere.path())
        .env_remove("STET_DB")
        .env_remove("STET_CONFIG")
        .env("NO_COLOR", "1")
        .args(["verify-proof", proof.to_str().unwrap(), "--key", &key])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("verified: v2 of"), "{said}");
    assert!(said.contains("title          Bridge to close"), "{said}");
    // An altered text in the proof file is refused.
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    file["text"] = file["text"]
        .as_str()
        .unwrap()
        .replace("60,000", "6,000")
        .into();
    let bad = stet.path().join("bad.proof");
    std::fs::write(&bad, file.to_string()).unwrap();
    let out = stet.run(&["verify-proof", bad.to_str().unwrap(), "--key", &key]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The checkpoint the proof needed is stored in PostgreSQL, and the archive still verifies.
    let mut c = pg.client("web");
    let checkpoints: i64 = c
        .query_one("SELECT count(*) FROM checkpoints", &[])
        .unwrap()
        .get(0);
    assert_eq!(checkpoints, 1);
    let verify: Value = serde_json::from_str(stet.ok(&["verify", "--json"]).trim()).unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
}
