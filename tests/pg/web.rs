//! `stet serve`, `stet proof` and `verify-proof` on a PostgreSQL archive with bodies in S3: the
//! article, diff and search pages and their API answer for a real edit, and a proof made from
//! the PostgreSQL ledger checks without the database.

use serde_json::Value;

use crate::stet_on;
use crate::support::cluster::{Postgres, S3};
use crate::support::http::Served;
use crate::support::site::{Route, Site};
use crate::support::{PARAS, article, wait_until};

/// The body of a GET that must answer 200.
fn body(served: &Served, path: &str) -> String {
    let r = served.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.text()
}

fn json(served: &Served, path: &str) -> Value {
    let body = body(served, path);
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

#[test]
fn serve_and_proofs_answer_from_postgresql_with_bodies_in_s3() {
    let pg = Postgres::start();
    let s3 = S3::start();
    let url = pg.database("web");
    let stet = stet_on(&url, Some(&s3), "", "");
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

    let served = stet.serve(&[]);
    let list = json(&served, "/api/v1/watches?sort=added&limit=10");
    let id = list["items"][0]["id"].as_i64().expect("a watch id");
    assert_eq!(list["items"][0]["versions"], 2, "{list}");
    assert_eq!(list["items"][0]["last_event_kind"], "edited", "{list}");

    let article_page = body(&served, &format!("/articles/{id}"));
    assert!(article_page.contains("Bridge to close"), "{article_page}");
    let diff = body(&served, &format!("/articles/{id}/diff?from=1&to=2"));
    assert!(diff.contains("<del>40,000</del>"), "{diff}");
    assert!(diff.contains("<ins>60,000</ins>"), "{diff}");
    let api_diff = json(&served, &format!("/api/v1/watches/{id}/diff?from=1&to=2"));
    assert!(
        api_diff["hunks"].as_array().is_some_and(|h| !h.is_empty()),
        "{api_diff}"
    );
    let raw = body(&served, &format!("/api/v1/watches/{id}/versions/1/text"));
    assert!(raw.contains("four days of notice"), "{raw}");

    // Search finds the sentence the edit removed, in version 1 only. The server indexes what
    // it finds when it starts, so the first answers may still be empty.
    let mut hits = Value::Null;
    wait_until(120, "the search index to hold the archive", || {
        hits = json(&served, "/api/v1/search?q=%22four%20days%20of%20notice%22");
        hits["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    let hit = &hits["items"][0];
    assert_eq!(hit["watch_id"], id, "{hits}");
    assert_eq!(hit["versions"], serde_json::json!([1]), "{hits}");
    assert_eq!(hit["removed_in"], 2, "{hits}");
    let search = body(&served, "/search?q=%22four+days+of+notice%22");
    assert!(search.contains("removed in version 2"), "{search}");
    assert!(search.contains("<mark>"), "{search}");
    let none = json(&served, "/api/v1/search?q=zeppelin");
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
