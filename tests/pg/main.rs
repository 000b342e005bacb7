//! stet on PostgreSQL and S3-compatible storage: the real binary against a throwaway PostgreSQL
//! cluster (Debian's server, `initdb` + `pg_ctl` in a temp dir, its own port) and a real
//! SeaweedFS S3 server, both started here on 127.0.0.1; and several workers sharing one archive.
//!
//! When `initdb` or `weed` is missing the suite says so and fails: `.ci/test-deps` installs both.

#[path = "../support/mod.rs"]
mod support;

mod web;
mod workers;

use std::process::Command;

use serde_json::Value;
use support::cluster::{Postgres, S3};
use support::site::{Route, Site};
use support::{PARAS, S3Place, Stet, Storage, article, json_lines};

/// A `Stet` on the PostgreSQL database at `url`, with its bodies under `stet/` in the bucket of
/// `s3` when given; `storage_extra` goes into `[storage]`.
pub fn stet_on(url: &str, s3: Option<&S3>, storage_extra: &str, extra: &str) -> Stet {
    let storage = Storage::Postgres {
        url: url.to_string(),
        blobs: s3.map(|s| S3Place {
            endpoint: s.endpoint(),
            bucket: s.bucket.clone(),
            prefix: "stet".into(),
        }),
        extra: storage_extra.to_string(),
    };
    Stet::with_storage(storage, "", extra)
}

/// The core cases of the SQLite suite, on PostgreSQL with bodies in S3: capture, noise, edit,
/// transient error, deletion, history, diff, verify, export; and the chunks are in the bucket,
/// not in the database.
#[test]
fn the_core_cases_pass_on_postgresql_with_bodies_in_s3() {
    let pg = Postgres::start();
    let s3 = S3::start();
    let url = pg.database("core");
    let stet = stet_on(&url, Some(&s3), "", "");
    let site = Site::start();
    let page = site.url("/news/bridge");
    site.set(
        "/news/bridge",
        Route::html(article("Bridge to close", PARAS, "")),
    );
    stet.ok(&["watch", "add", &page]);

    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "captured", "{r}");
    assert_eq!(r["version"], 1);

    // Noise: the page's furniture changes, the article does not.
    site.set(
        "/news/bridge",
        Route::html(article(
            "Bridge to close",
            PARAS,
            "<span>5 minutes ago</span>",
        )),
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "unchanged", "{r}");

    // An edit.
    let edited = PARAS[1].replace("40,000", "60,000");
    site.set(
        "/news/bridge",
        Route::html(article(
            "Bridge to close",
            &[PARAS[0], &edited, PARAS[2]],
            "",
        )),
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "edited", "{r}");
    assert_eq!(r["version"], 2);

    // A transient failure is an error, never a deletion or an edit.
    site.set("/news/bridge", Route::status(503, "busy"));
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "error", "{r}");

    // Gone twice: deleted.
    site.set("/news/bridge", Route::status(404, "<h1>Not found</h1>"));
    let first = stet.check_one(&page);
    assert_ne!(
        first["kind"], "deleted",
        "one 404 is not a deletion yet: {first}"
    );
    let r = stet.check_one(&page);
    assert_eq!(r["kind"], "deleted", "{r}");

    let history = stet.ok(&["history", "--json", &page]);
    assert!(
        history.contains("edited") && history.contains("deleted"),
        "{history}"
    );
    let diff = stet.ok(&["diff", &page, "--from", "1", "--to", "2"]);
    assert!(diff.contains("60,000") && diff.contains("40,000"), "{diff}");
    let shown = stet.ok(&["show", "--raw", &page, "--version", "1"]);
    assert!(shown.contains("About 40,000 vehicles"), "{shown}");

    let verify = stet.ok(&["verify", "--json"]);
    let report: Value = serde_json::from_str(verify.trim()).unwrap();
    assert_eq!(report["ok"], true, "{verify}");
    assert_eq!(report["versions"], 2, "{verify}");

    let export = stet.ok(&["export", "--format", "jsonl"]);
    let lines = json_lines(&export);
    assert!(
        lines.iter().filter(|l| l["version"].is_object()).count() == 2,
        "{export}"
    );

    // The bodies' chunks are objects in the bucket; the database holds only their names.
    let mut c = pg.client("core");
    let in_db: i64 = c
        .query_one("SELECT count(*) FROM chunks WHERE data IS NOT NULL", &[])
        .unwrap()
        .get(0);
    let chunks: i64 = c
        .query_one("SELECT count(*) FROM chunks", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_db, 0);
    assert!(chunks > 0);
    assert_eq!(s3.objects("stet/chunks/") as i64, chunks);

    let applied: i64 = c
        .query_one("SELECT count(*) FROM stet_migrations", &[])
        .unwrap()
        .get(0);
    assert!(applied >= 5, "the migrations are recorded: {applied}");

    // A chunk replaced in the bucket (valid zstd, other bytes) is found by verify.
    let key: String = c
        .query_one("SELECT hash FROM chunks ORDER BY hash LIMIT 1", &[])
        .unwrap()
        .get(0);
    let forged = zstd::encode_all(&b"forged bytes"[..], 3).unwrap();
    let put = s3.put(&format!("stet/chunks/{key}"), &forged);
    assert_eq!(put, Some(200), "the forged chunk is stored");
    let out = stet.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(4), "verify passed a forged chunk");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
}

/// `stet migrate --to postgresql://...` moves a SQLite archive with the same ledger head, and
/// the copy verifies and answers every verb.
#[test]
fn a_sqlite_archive_moves_to_postgresql_with_the_same_ledger_head() {
    let pg = Postgres::start();
    let url = pg.database("moved");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stet.db");
    std::fs::write(
        dir.path().join("stet.toml"),
        format!(
            "[storage]\npath = \"{}\"\n\n[fetch]\ntimeout_secs = 5\n\n[politeness]\nmin_delay = \"0s\"\n",
            db.display()
        ),
    )
    .unwrap();
    let sqlite = |args: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_stet"))
            .current_dir(dir.path())
            .arg("--config")
            .arg(dir.path().join("stet.toml"))
            .env_remove("STET_DB")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "stet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let site = Site::start();
    let a = site.url("/a");
    let b = site.url("/b");
    site.set("/a", Route::html(article("Alpha", PARAS, "")));
    site.set("/b", Route::html(article("Beta", &PARAS[..2], "")));
    sqlite(&["watch", "add", &a, &b]);
    sqlite(&["check"]);
    site.set("/a", Route::html(article("Alpha", &PARAS[1..], "")));
    sqlite(&["check"]);
    let head: Value = serde_json::from_str(sqlite(&["ledger", "head", "--json"]).trim()).unwrap();

    let out = sqlite(&["migrate", "--to", &url, "--json"]);
    let moved: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(moved["verified"], true, "{out}");
    assert_eq!(moved["head"], head["head"], "{out} vs {head}");
    assert_eq!(moved["entries"], head["entries"]);

    let stet = stet_on(&url, None, "", "");
    let verify: Value = serde_json::from_str(stet.ok(&["verify", "--json"]).trim()).unwrap();
    assert_eq!(verify["ok"], true);
    let pg_head: Value =
        serde_json::from_str(stet.ok(&["ledger", "head", "--json"]).trim()).unwrap();
    assert_eq!(pg_head["head"], head["head"]);
    let diff = stet.ok(&["diff", &a, "--from", "1", "--to", "2"]);
    assert!(diff.contains("city council"), "{diff}");
    // Checking goes on in the new archive, chained after the migrated entries.
    let r = stet.check_one(&b);
    assert_eq!(r["kind"], "unchanged", "{r}");
    assert!(stet.path().exists());

    // A second migration into the same, now full, database is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_stet"))
        .current_dir(dir.path())
        .arg("--config")
        .arg(dir.path().join("stet.toml"))
        .args(["migrate", "--to", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The ledger's every-column test (tests/it/proofs.rs) alters each column SQLite's schema has;
/// here PostgreSQL's schema is read the same way: each column of a recorded table is committed
/// to by an entry, or checked by `verify` as the row's identity (`id`, `watch_id`: its watch's
/// URL) or its text (`text_zstd`: the content hash), or in the store's one exempt list. A new
/// column that nothing covers fails here.
#[test]
fn every_column_of_the_recorded_tables_is_covered_by_the_ledger_on_postgresql() {
    let pg = Postgres::start();
    let url = pg.database("columns");
    drop(
        stet::store::Store::open(stet::store::Location::Postgres {
            url,
            blobs: None,
            lease: stet::store::DEFAULT_LEASE,
        })
        .unwrap(),
    );
    let mut client = pg.client("columns");
    for (table, committed) in [
        ("versions", stet::store::version_columns()),
        ("events", stet::store::event_columns()),
    ] {
        let columns: Vec<String> = client
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(columns.len() > 5, "{table}: {columns:?}");
        for column in &columns {
            let covered = committed.contains(&column.as_str())
                || ["id", "watch_id", "text_zstd"].contains(&column.as_str())
                || stet::store::EXEMPT_COLUMNS
                    .iter()
                    .any(|(t, c, _)| *t == table && c == column);
            assert!(
                covered,
                "{table}.{column} is neither committed to by a ledger entry, nor checked by \
                 verify, nor in store::EXEMPT_COLUMNS"
            );
        }
    }
}
