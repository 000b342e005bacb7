//! `stet serve` against an archive built by real checks: every page and endpoint, feeds,
//! Memento, OpenAPI, tokens and the refusal to expose an archive by accident.

use std::process::Command;

use serde_json::Value;

use crate::support::archive::{ADDED_WORD, Archive, REMOVED_SENTENCE, REMOVED_WORD};
use crate::support::http::{Served, request};

fn watch_ids(served: &Served) -> (i64, i64, i64, i64) {
    let list = served.get("/api/v1/watches?sort=added&limit=100").json();
    let id = |needle: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["url"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {list}"))["id"]
            .as_i64()
            .unwrap()
    };
    (id("bridge"), id("harbour"), id("market"), id("hostile"))
}

#[test]
fn every_page_and_endpoint_answers_over_a_real_archive() {
    let archive = Archive::build("");
    let served = archive.serve(&[]);
    let (bridge, harbour, market, hostile) = watch_ids(&served);

    // Watches: every article with its status, filters and keyset pages.
    let home = served.get("/");
    assert_eq!(home.status, 200);
    assert!(
        home.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = home.text();
    for title in [
        "Bridge closure delayed",
        "Harbour ferry returns",
        "Market hall opens",
    ] {
        assert!(
            html.contains(title),
            "{title} missing from the watch list:\n{html}"
        );
    }
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let found = served.get("/?q=market").text();
    assert!(found.contains("Market hall opens") && !found.contains("Bridge closure delayed"));
    let substantive = served.get("/?significance=substantive").text();
    assert!(substantive.contains("Bridge closure delayed") && !substantive.contains("Market hall"));
    assert!(
        served
            .get("/?status=deleted")
            .text()
            .contains("No article matches")
    );
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/watches?limit=1&cursor={c}"),
            None => "/api/v1/watches?limit=1".to_string(),
        };
        let page = served.get(&path).json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen.sort();
    let mut all = vec![bridge, harbour, market, hostile];
    all.sort();
    assert_eq!(seen, all, "keyset pages list every watch once");

    // Article: headline, byline, timeline with edits, the deletion and the restoration.
    let page = served.get(&format!("/articles/{harbour}")).text();
    for kind in ["captured", "deleted", "restored"] {
        assert!(
            page.contains(&format!("kind {kind}")),
            "{kind} not in the timeline:\n{page}"
        );
    }
    assert!(
        page.contains("failed or inconclusive check"),
        "the 404s are folded: {page}"
    );
    let page = served.get(&format!("/articles/{bridge}")).text();
    assert!(page.contains("Bridge closure delayed") && page.contains("Ana Reporter"));
    assert!(
        page.contains("word(s) added"),
        "edits carry their size: {page}"
    );
    assert!(page.contains("name=\"from\"") && page.contains("name=\"to\""));

    // Diff: word marks, fields apart, permalink by content hash, prev/next, commands.
    let diff = served
        .get(&format!("/articles/{bridge}/diff?from=1&to=2"))
        .text();
    assert!(
        diff.contains(&format!("<del>{REMOVED_WORD}</del>")),
        "{diff}"
    );
    assert!(diff.contains(&format!("<ins>{ADDED_WORD}</ins>")), "{diff}");
    assert!(diff.contains(&format!(
        "stet diff {} --from 1 --to 2",
        archive.urls.bridge
    )));
    assert!(diff.contains("stet verify"));
    assert!(diff.contains("rel=\"next\""), "a next change exists");
    let versions = served
        .get(&format!("/api/v1/watches/{bridge}/versions"))
        .json();
    let hash = |i: usize| versions[i]["content_hash"].as_str().unwrap().to_string();
    let permalink = format!("/articles/{bridge}/diff/{}/{}", hash(0), hash(1));
    assert!(diff.contains(&permalink), "the page links its permalink");
    assert_eq!(
        served.get(&permalink).text(),
        diff,
        "the permalink shows the same diff"
    );
    let headline = served
        .get(&format!("/articles/{bridge}/diff?from=2&to=3&view=inline"))
        .text();
    assert!(headline.contains("<del>"), "{headline}");
    assert!(
        headline.contains("class=\"changed\"><th>Headline</th>"),
        "the headline change is shown apart: {headline}"
    );
    assert!(
        headline.contains("class=\"line delete\""),
        "the inline view: {headline}"
    );
    assert!(
        headline.contains("<details class=\"unchanged\">")
            || headline.contains("unchanged paragraph")
    );
    assert_eq!(
        served
            .get(&format!("/articles/{bridge}/diff?from=1&to=9"))
            .status,
        404
    );

    // Version: text, hashes, Memento headers; the raw page is sandboxed and sets no cookie.
    let version = served.get(&format!("/articles/{bridge}/versions/1"));
    assert_eq!(version.status, 200);
    assert!(version.text().contains(&hash(0)));
    assert!(version.text().contains(REMOVED_SENTENCE));
    assert!(version.header("memento-datetime").unwrap().ends_with("GMT"));
    assert!(version.header("link").unwrap().contains("rel=\"original\""));
    let raw = served.get(&format!("/raw/{hostile}/1"));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-security-policy"), Some("sandbox"));
    assert!(raw.header("set-cookie").is_none());
    assert!(
        raw.text().contains("document.cookie"),
        "served exactly as received"
    );

    // Changes, filterable.
    let changes = served.get("/changes").text();
    for kind in ["edited", "deleted", "restored"] {
        assert!(
            changes.contains(&format!("change {kind}")),
            "{kind} missing: {changes}"
        );
    }
    let deletions = served.get("/changes?kind=deleted").text();
    assert!(deletions.contains("change deleted") && !deletions.contains("change edited"));

    // Search: a sentence the last version removed, with the diff that removed it.
    let search = served.get("/search?q=%22four+days+of+notice%22").text();
    assert!(search.contains("Bridge closure delayed"), "{search}");
    assert!(search.contains("removed in version 3"), "{search}");
    assert!(
        search.contains(&format!("/articles/{bridge}/diff?from=2&#38;to=3")),
        "{search}"
    );
    assert!(search.contains("<mark>"), "{search}");

    // Integrity: the same head as `stet ledger head`.
    let head = archive.ok(&["ledger", "head"]);
    let integrity = served.get("/integrity").text();
    assert!(
        integrity.contains(head.split_whitespace().next().unwrap()),
        "{head} vs {integrity}"
    );
    assert!(integrity.contains("No run of"), "{integrity}");
    archive.ok(&["verify"]);
    assert!(
        served.get("/integrity").text().contains("verified"),
        "the last verification is shown"
    );

    // Unknown pages and API paths.
    assert_eq!(served.get("/nope").status, 404);
    let missing = served.get("/api/v1/watches/9999");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(missing.json()["status"], 404);
}

#[test]
fn the_api_serves_versions_diffs_changes_and_search() {
    let archive = Archive::build("");
    let served = archive.serve(&[]);
    let (bridge, harbour, _, _) = watch_ids(&served);

    let watch = served.get(&format!("/api/v1/watches/{bridge}")).json();
    assert_eq!(watch["versions"], 3);
    assert_eq!(watch["status"], "live");

    // A version's text is exactly what its content hash covers; immutable with an ETag.
    let v1 = served.get(&format!("/api/v1/watches/{bridge}/versions/1"));
    let etag = v1.header("etag").unwrap().to_string();
    let v1 = v1.json();
    let text = served.get(&format!("/api/v1/watches/{bridge}/versions/1/text"));
    let digest = sha256_hex(&text.body);
    assert_eq!(v1["content_hash"].as_str().unwrap(), digest);
    assert_eq!(
        v1["text"].as_str().unwrap().as_bytes(),
        text.body.as_slice()
    );
    assert!(v1["ledger_seq"].as_i64().unwrap() > 0);
    let again = served.request(
        "GET",
        &format!("/api/v1/watches/{bridge}/versions/1"),
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(again.status, 304);

    // Diffs: JSON segments and unified text.
    let diff = served
        .get(&format!("/api/v1/watches/{bridge}/diff?from=1&to=2"))
        .json();
    let changed: Vec<(String, String)> = diff["hunks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["lines"].as_array().unwrap().clone())
        .flat_map(|l| {
            let tag = l["tag"].as_str().unwrap().to_string();
            l["segments"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["changed"] == true)
                .map(|s| (tag.clone(), s["text"].as_str().unwrap().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        changed,
        vec![
            ("delete".to_string(), REMOVED_WORD.to_string()),
            ("insert".to_string(), ADDED_WORD.to_string())
        ]
    );
    let unified = served
        .get(&format!(
            "/api/v1/watches/{bridge}/diff/unified?from=2&to=3"
        ))
        .text();
    assert!(
        unified.contains(&format!(
            "-Local businesses said they had been given {REMOVED_SENTENCE}"
        )),
        "{unified}"
    );
    let body = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cli = archive.ok(&["diff", &archive.urls.bridge, "--from", "2", "--to", "3"]);
    assert_eq!(
        body(&unified),
        body(&cli),
        "the API's unified diff is `stet diff`'s"
    );

    // Events, and the changes feed with cursors.
    let events = served
        .get(&format!("/api/v1/watches/{harbour}/events"))
        .json();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["captured", "deleted", "restored"]);
    let all = served
        .get("/api/v1/changes?since=2000-01-01T00:00:00Z&limit=2")
        .json();
    let first: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["edited", "edited"], "oldest first from `since`");
    let cursor = all["next_cursor"].as_str().unwrap();
    let rest = served
        .get(&format!("/api/v1/changes?cursor={cursor}"))
        .json();
    let kinds: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["deleted", "restored"]);
    let end = rest["next_cursor"].as_str().unwrap();
    let none = served.get(&format!("/api/v1/changes?cursor={end}")).json();
    assert!(none["items"].as_array().unwrap().is_empty());
    assert_eq!(
        none["next_cursor"].as_str(),
        Some(end),
        "a caught-up reader keeps its cursor"
    );
    assert_eq!(served.get("/api/v1/changes?since=yesterday").status, 400);

    // Search, and the ledger head.
    let hits = served
        .get("/api/v1/search?q=%22four%20days%20of%20notice%22")
        .json();
    let hit = &hits["items"][0];
    assert_eq!(hit["watch_id"], bridge);
    assert_eq!(hit["versions"], serde_json::json!([1, 2]));
    assert_eq!(hit["removed_in"], 3);
    let head = served.get("/api/v1/ledger/head").json();
    assert_eq!(
        head["line"].as_str().unwrap(),
        archive
            .ok(&["ledger", "head"])
            .split_whitespace()
            .next()
            .unwrap()
    );

    // Feeds: Atom and JSON Feed, whole archive and one article, deletions as entries.
    let atom = served.get("/feeds/changes.atom");
    assert!(
        atom.header("content-type")
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = feed_rs::parser::parse(atom.body.as_slice()).expect("valid Atom");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert!(
        titles.iter().any(|t| t.starts_with("deleted: Harbour")),
        "{titles:?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("restored: Harbour")),
        "{titles:?}"
    );
    let edit = feed
        .entries
        .iter()
        .find(|e| {
            e.title.as_ref().unwrap().content.starts_with("edited")
                && e.content
                    .as_ref()
                    .and_then(|c| c.body.as_ref())
                    .is_some_and(|b| b.contains(ADDED_WORD))
        })
        .expect("the word edit's entry");
    let body = edit.content.as_ref().unwrap().body.as_ref().unwrap();
    assert!(
        body.contains(&format!("<del>{REMOVED_WORD}</del>")),
        "{body}"
    );
    assert!(
        edit.links[0].href.contains("/diff?from=1&to=2"),
        "{:?}",
        edit.links
    );
    let json_feed = served.get(&format!("/articles/{harbour}/feed.json")).json();
    assert_eq!(json_feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json_feed["items"].as_array().unwrap().len(), 2);
    let only_deletions = served.get("/feeds/changes.json?kind=deleted").json();
    assert_eq!(only_deletions["items"].as_array().unwrap().len(), 1);
    let article_atom = served.get(&format!("/articles/{bridge}/feed.atom"));
    assert_eq!(
        feed_rs::parser::parse(article_atom.body.as_slice())
            .unwrap()
            .entries
            .len(),
        2
    );

    // Memento: TimeMap and TimeGate.
    let timemap = served.get(&format!("/timemap/link/{}", archive.urls.bridge));
    assert_eq!(
        timemap.header("content-type"),
        Some("application/link-format")
    );
    let tm = timemap.text();
    assert_eq!(tm.matches("memento\"; datetime=").count(), 3, "{tm}");
    assert!(tm.contains("rel=\"first memento\"") && tm.contains("rel=\"last memento\""));
    let tmj = served
        .get(&format!("/timemap/json/{}", archive.urls.bridge))
        .json();
    assert_eq!(tmj["mementos"]["list"].as_array().unwrap().len(), 3);
    let gate = served.request(
        "GET",
        &format!("/timegate/{}", archive.urls.bridge),
        &[("Accept-Datetime", "Thu, 01 Jan 2004 00:00:00 GMT")],
        b"",
    );
    assert_eq!(gate.status, 302);
    assert!(
        gate.header("location")
            .unwrap()
            .ends_with(&format!("/articles/{bridge}/versions/1"))
    );
    assert_eq!(gate.header("vary"), Some("accept-datetime"));
    let latest = served.get(&format!("/timegate/{}", archive.urls.bridge));
    assert!(latest.header("location").unwrap().ends_with("/versions/3"));
    assert_eq!(served.get("/timegate/http://unknown.example/x").status, 404);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn writes_need_the_right_token_and_reads_are_open_on_loopback() {
    let probe = Archive::build("");
    let token_out = probe.ok(&["server", "token", "--json"]);
    let token: Value = serde_json::from_str(&token_out).unwrap();
    let secret = token["token"].as_str().unwrap().to_string();
    let hash = token["sha256"].as_str().unwrap();
    assert_eq!(hash, sha256_hex(secret.as_bytes()));
    std::fs::write(
        probe.config_path(),
        std::fs::read_to_string(probe.config_path()).unwrap()
            + &format!("[server]\ntoken_sha256 = [\"{hash}\"]\n"),
    )
    .unwrap();
    let served = probe.serve(&[]);
    let body = format!(
        "{{\"url\": \"{}\"}}",
        probe.site.url("/news/2026/new-story")
    );
    let post = |headers: &[(&str, &str)]| {
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        served.request("POST", "/api/v1/watches", &h, body.as_bytes())
    };
    let none = post(&[]);
    assert_eq!(none.status, 401, "{}", none.text());
    assert_eq!(
        none.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = post(&[("Authorization", "Bearer not-the-token")]);
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {secret}");
    let right = post(&[("Authorization", &bearer)]);
    assert_eq!(right.status, 201, "{}", right.text());
    let id = right.json()["id"].as_i64().unwrap();
    assert!(
        probe
            .ok(&["watch", "list"])
            .contains("/news/2026/new-story")
    );
    let path = format!("/api/v1/watches/{id}");
    assert_eq!(served.request("DELETE", &path, &[], b"").status, 401);
    assert_eq!(
        served
            .request("DELETE", &path, &[("Authorization", "Bearer nope")], b"")
            .status,
        401
    );
    assert_eq!(
        served
            .request("DELETE", &path, &[("Authorization", &bearer)], b"")
            .status,
        204
    );
    assert_eq!(served.get(&path).json()["status"], "removed");
    // Check now: a write too.
    let bridge = served.get("/api/v1/watches?q=bridge").json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    let check = format!("/api/v1/watches/{bridge}/check");
    assert_eq!(served.request("POST", &check, &[], b"").status, 401);
    let checked = served.request("POST", &check, &[("Authorization", &bearer)], b"");
    assert_eq!(checked.status, 200, "{}", checked.text());
    assert_eq!(checked.json()["kind"], "unchanged");
    assert_eq!(checked.json()["version"], 3);
    // Form posts need a session and its CSRF token.
    let form = served.request(
        "POST",
        "/watches",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"url=http%3A%2F%2F127.0.0.1%2Fx",
    );
    assert_eq!(form.status, 401);
    let login = served.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={secret}").as_bytes(),
    );
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(login.header("set-cookie").unwrap().contains("HttpOnly"));
    let no_csrf = served.request(
        "POST",
        "/watches",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        b"url=http%3A%2F%2F127.0.0.1%2Fx",
    );
    assert_eq!(
        no_csrf.status, 403,
        "a form post without its CSRF token is refused"
    );
    let home = served
        .request("GET", "/", &[("Cookie", &cookie)], b"")
        .text();
    let csrf = home
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the add form carries a CSRF token")
        .to_string();
    let added = served.request(
        "POST",
        "/watches",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        format!("url=http%3A%2F%2F127.0.0.1%3A9%2Fform-story&csrf={csrf}").as_bytes(),
    );
    assert_eq!(added.status, 303, "{}", added.text());
    assert!(probe.ok(&["watch", "list"]).contains("form-story"));
    let cross = served.request(
        "POST",
        "/watches",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
            ("Origin", "http://evil.example"),
        ],
        format!("url=http%3A%2F%2F127.0.0.1%3A9%2Fevil&csrf={csrf}").as_bytes(),
    );
    assert_eq!(cross.status, 403, "a cross-site post is refused");
    // Reads need nothing on loopback.
    assert_eq!(served.get("/api/v1/watches").status, 200);
    assert!(served.stop(), "SIGTERM stops the server cleanly");
}

#[test]
fn a_non_loopback_address_needs_public_or_a_token() {
    let archive = Archive::build("");
    let out = archive.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve on 0.0.0.0:0"), "{err}");
    assert!(err.contains("public = true"), "{err}");

    // With a token, reads need it too.
    let secret = "a-test-token-of-enough-length";
    let hash = sha256_hex(secret.as_bytes());
    std::fs::write(
        archive.config_path(),
        std::fs::read_to_string(archive.config_path()).unwrap()
            + &format!("[server]\ntoken_sha256 = [\"{hash}\"]\n"),
    )
    .unwrap();
    let served = archive.serve(&["--listen", "0.0.0.0:0"]);
    let port = served.addr().rsplit(':').next().unwrap().to_string();
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(
        request(&addr, "GET", "/api/v1/watches", &[], b"").status,
        401
    );
    assert_eq!(request(&addr, "GET", "/", &[], b"").status, 401);
    let bearer = format!("Bearer {secret}");
    assert_eq!(
        request(
            &addr,
            "GET",
            "/api/v1/watches",
            &[("Authorization", &bearer)],
            b""
        )
        .status,
        200
    );
    drop(served);

    // `public = true` opens reads without a token; writes still need one.
    let public = Archive::build("[server]\npublic = true\n");
    let served = public.serve(&["--listen", "0.0.0.0:0"]);
    let port = served.addr().rsplit(':').next().unwrap().to_string();
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(
        request(&addr, "GET", "/api/v1/watches", &[], b"").status,
        200
    );
    assert_eq!(
        request(&addr, "DELETE", "/api/v1/watches/1", &[], b"").status,
        401
    );
}

#[test]
fn the_openapi_document_validates_and_every_path_answers_as_documented() {
    let archive = Archive::build("");
    let served = archive.serve(&[]);
    let (bridge, _, _, _) = watch_ids(&served);
    let script = crate::support::checker("openapi_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&served.base)
        .arg(bridge.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi_check.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("valid OpenAPI 3.1"), "{report}");
}

#[test]
fn a_memento_client_finds_the_version_in_force_at_a_time() {
    let archive = Archive::build("");
    let served = archive.serve(&[]);
    let versions = served.get("/api/v1/watches?q=bridge").json();
    let id = versions["items"][0]["id"].as_i64().unwrap();
    let v = served.get(&format!("/api/v1/watches/{id}/versions")).json();
    let script = crate::support::checker("memento_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&served.base)
        .arg(&archive.urls.bridge)
        .arg(v.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "memento_check.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
