//! Hostile page shapes: deep nesting, millions of elements, giant tables, huge attributes and
//! text made for the regular expressions. Each finishes in bounded time, as an article or as
//! `too_complex` with its raw body kept, and never delays the normal pages of the same pass.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, kind};

/// `depth` nested `<div>` around one paragraph (the shape measured in the issue).
pub fn nested_divs(depth: usize) -> String {
    format!(
        "<!doctype html><html><head><title>Deep</title></head><body>{}<p>{}</p>{}</body></html>",
        "<div>".repeat(depth),
        PARAS[0],
        "</div>".repeat(depth)
    )
}

/// The hostile pages, by name.
pub fn hostile_pages() -> Vec<(&'static str, String)> {
    let many_elements = format!(
        "<!doctype html><html><head><title>Many</title></head><body><article>{}</article></body></html>",
        "<span>a</span>".repeat(600_000)
    );
    let row = format!("<tr>{}</tr>", "<td>1</td>".repeat(100));
    let giant_table = format!(
        "<!doctype html><html><head><title>Table</title></head><body><table>{}</table><p>{}</p></body></html>",
        row.repeat(5_000),
        PARAS[1]
    );
    let huge_attribute = format!(
        "<!doctype html><html><head><title>Attr</title></head><body><img src=\"data:image/png;base64,{}\"><article><h1>Attr</h1><p>{}</p></article></body></html>",
        "QUFB".repeat(1_500_000),
        PARAS[2]
    );
    // Text aimed at the furniture patterns: "ago", "comment" and "share" everywhere, long runs
    // of digits and separators, in short elements so each is matched.
    let regex_bait = format!(
        "<!doctype html><html><head><title>Bait</title></head><body><article><h1>Bait</h1><p>{}</p>{}</article></body></html>",
        PARAS[0],
        "<span>· 5 minutes ago · 42 comments · 1.2k shares · view all 9 comments</span><b>9999999999999999999 ago</b>"
            .repeat(20_000)
    );
    vec![
        ("nested-2000", nested_divs(2_000)),
        ("nested-8000", nested_divs(8_000)),
        ("nested-200000", nested_divs(200_000)),
        ("many-elements", many_elements),
        ("giant-table", giant_table),
        ("huge-attribute", huge_attribute),
        ("regex-bait", regex_bait),
    ]
}

#[test]
fn hostile_pages_finish_quickly_beside_normal_pages_of_the_same_pass() {
    let site = Site::start();
    let stet = Stet::new("max_body_bytes = 16777216\nconcurrency = 4", "");
    let mut normal = Vec::new();
    for i in 0..6 {
        let path = format!("/news/{i}");
        site.set(
            &path,
            Route::html(article_page(&format!("Harbour bridge {i}"), PARAS)),
        );
        normal.push(site.url(&path));
    }
    let hostile = hostile_pages();
    let mut urls = Vec::new();
    for (name, page) in &hostile {
        let path = format!("/hostile/{name}");
        site.set(&path, Route::html(page.clone()));
        urls.push(site.url(&path));
    }
    // Hostile pages first, so they would hold the extraction threads if they could.
    urls.extend(normal.iter().cloned());
    stet.watch(&urls);

    let started = Instant::now();
    let reports = stet.check(&[]);
    let took = started.elapsed();
    println!("pass of {} pages took {took:?}", reports.len());
    assert_eq!(reports.len(), urls.len());
    for url in &normal {
        let r = reports.iter().find(|r| r["url"] == url.as_str()).unwrap();
        assert_eq!(kind(r), "captured", "{r}");
    }
    let mut db = stet.db();
    for (name, page) in &hostile {
        let url = site.url(&format!("/hostile/{name}"));
        let r = reports.iter().find(|r| r["url"] == url.as_str()).unwrap();
        let detail = r["detail"].as_str().unwrap_or("");
        println!("{name}: {} {detail}", kind(r));
        match kind(r) {
            "captured" => {}
            "error" => {
                assert!(detail.starts_with("too_complex"), "{name}: {r}");
                let hash = hex::encode(Sha256::digest(page.as_bytes()));
                let kept = db.count(&format!(
                    "SELECT count(*) FROM unparsed_bodies u JOIN blobs b ON b.hash = u.body_hash
                     WHERE u.body_hash = '{hash}' AND b.size = {}",
                    page.len()
                ));
                assert_eq!(kept, 1, "{name}: the raw body is kept");
            }
            other => panic!("{name}: {other}: {r}"),
        }
        if name.starts_with("nested") {
            assert_eq!(kind(r), "error", "{name}: {r}");
        }
    }
    assert!(
        took < Duration::from_secs(60),
        "the pass took {took:?}: hostile pages slowed it"
    );
    // The archive is sound, and the kept bodies are verified with the rest.
    let out = stet.run(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn stet_extract_refuses_deep_pages_within_seconds() {
    let stet = Stet::new("", "");
    for depth in [2_000, 8_000, 200_000] {
        let file = stet.dir.path().join(format!("deep-{depth}.html"));
        std::fs::write(&file, nested_divs(depth)).unwrap();
        let started = Instant::now();
        let out = stet.run(&["extract", file.to_str().unwrap()]);
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("stet extract, {depth} levels: {took:?}: {}", stdout.trim());
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains(&format!("too_complex: elements nest {} deep", depth + 3)),
            "{stdout}"
        );
        assert!(
            took < Duration::from_secs(5),
            "{depth} levels took {took:?}"
        );
    }
    // A normal page is still extracted.
    let file = stet.dir.path().join("normal.html");
    std::fs::write(&file, nested_divs(40)).unwrap();
    let out = stet.ok(&["extract", file.to_str().unwrap()]);
    assert!(out.contains("harbour bridge"), "{out}");
}

/// `stet import` of a JSON Lines export with one line broken in each way a file can break:
/// refused naming the line, and nothing loaded.
#[test]
fn import_refuses_a_bad_line_by_number_and_loads_nothing() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let urls: Vec<String> = (0..3)
        .map(|i| {
            let path = format!("/imp/{i}");
            site.set(
                &path,
                Route::html(article_page(&format!("Import {i}"), PARAS)),
            );
            site.url(&path)
        })
        .collect();
    stet.watch(&urls);
    stet.check(&[]);
    let export = stet.dir.path().join("export.jsonl");
    stet.ok(&[
        "export",
        "--format",
        "jsonl",
        "-o",
        export.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 6, "{text}");
    let target = lines.len() - 2; // a line well inside the file, after good ones
    let broken: Vec<(&str, Vec<u8>)> = vec![
        (
            "cut short",
            lines[target].as_bytes()[..lines[target].len() / 2].to_vec(),
        ),
        ("not JSON", b"{{{{".to_vec()),
        ("an empty object", b"{}".to_vec()),
        ("a hash changed", {
            let l = lines[target];
            let at = l.find("_hash\":\"").expect("a hash field") + 8;
            let mut b = l.as_bytes().to_vec();
            b[at] = if b[at] == b'0' { b'1' } else { b'0' };
            b
        }),
        ("bytes that are not UTF-8", b"{\"seq\": \xff\xfe}".to_vec()),
        (
            "a huge number",
            lines[target]
                .replacen("\"seq\":", "\"seq\":1e999999,\"x\":", 1)
                .into_bytes(),
        ),
    ];
    for (how, line) in broken {
        let mut file = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i == target {
                file.extend_from_slice(&line);
            } else {
                file.extend_from_slice(l.as_bytes());
            }
            file.push(b'\n');
        }
        let path = stet.dir.path().join("broken.jsonl");
        std::fs::write(&path, &file).unwrap();
        let db = stet
            .dir
            .path()
            .join(format!("import-{}.db", how.replace(' ', "-")));
        let out = stet
            .command()
            .args([
                "--db",
                db.to_str().unwrap(),
                "import",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{how}: imported");
        assert!(
            err.contains(&format!("broken.jsonl:{}:", target + 1)),
            "{how}: the line is named: {err}"
        );
        let conn = rusqlite::Connection::open(&db).unwrap();
        for table in ["watches", "versions", "ledger"] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{how}: {table} half-loaded");
        }
    }
}
