//! A watch's own extraction rules (`select`, `ignore`, `ignore_text` in `[[watch]]`) in a real
//! `stet check`, and `stet extract --explain` naming the rule that removed each block.

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, kind};

/// An article whose page also carries a live ticker and a "Read more" line that change on every
/// load, inside the article's own container, where no zero-config rule can tell them apart.
fn page(ticker: &str, read_more: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>Harbour bridge to close</title></head><body>\
         <div class=\"wrap\"><h1>Harbour bridge to close</h1>\n{body}\
         <div id=\"live-ticker\"><p>Live: {ticker}, and the markets moved again this morning after the \
         central bank's statement on interest rates.</p></div>\
         <p>Read more: {read_more} and other stories from the harbour district this week</p>\
         </div></body></html>"
    )
}

#[test]
fn a_watchs_ignore_rules_silence_its_own_noise_and_keep_its_edits() {
    let site = Site::start();
    let ruled = site.url("/ruled");
    let plain = site.url("/plain");
    let stet = Stet::new(
        "",
        &format!(
            "[[watch]]\nurl = \"{ruled}\"\nignore = [\"#live-ticker\"]\nignore_text = ['^Read more:']\n\n\
             [[watch]]\nurl = \"{plain}\"\n"
        ),
    );
    let serve = |ticker: &str, more: &str, paragraphs: &[&str]| {
        for path in ["/ruled", "/plain"] {
            site.set(path, Route::html(page(ticker, more, paragraphs)));
        }
    };
    let by_url = |reports: Vec<serde_json::Value>| {
        let find = |url: &str| {
            reports
                .iter()
                .find(|r| r["url"] == url)
                .map(|r| kind(r).to_string())
                .unwrap_or_else(|| panic!("no report for {url}: {reports:?}"))
        };
        (find(&ruled), find(&plain))
    };

    serve("the ferry is late", "Budget talks stall", PARAS);
    assert_eq!(
        by_url(stet.check(&[])),
        ("captured".into(), "captured".into())
    );

    // Only the ticker and the "Read more" line change: the watch whose rules drop them stays
    // quiet; the same page without rules sees an edit (so the rules are what keeps it quiet).
    serve("the tide is high", "Rail strike ends", PARAS);
    assert_eq!(
        by_url(stet.check(&[])),
        ("unchanged".into(), "edited".into())
    );

    // A changed word of the article is still an edit under the rules.
    let mut edited: Vec<String> = PARAS.iter().map(|p| p.to_string()).collect();
    edited[1] = edited[1].replace("40,000", "45,000");
    let edited: Vec<&str> = edited.iter().map(String::as_str).collect();
    serve("the wind has dropped", "Schools reopen", &edited);
    let (ruled_kind, _) = by_url(stet.check(&[]));
    assert_eq!(ruled_kind, "edited");
    let history: serde_json::Value =
        serde_json::from_str(&stet.ok(&["history", &ruled, "--json"])).unwrap();
    let events: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["captured", "edited"], "{history:#}");

    // What was archived for the ruled watch holds neither ticker nor "Read more" line.
    let shown = stet.ok(&["show", &ruled]);
    assert!(shown.contains("45,000"), "{shown}");
    assert!(
        !shown.contains("Live:") && !shown.contains("Read more"),
        "{shown}"
    );
}

#[test]
fn extract_explain_names_the_rule_that_removed_each_block() {
    let site = Site::start();
    let url = site.url("/story");
    site.set(
        "/story",
        Route::html(page("the ferry is late", "Budget talks stall", PARAS)),
    );
    let stet = Stet::new(
        "",
        &format!(
            "[[watch]]\nurl = \"{url}\"\nignore = [\"#live-ticker\"]\nignore_text = ['^Read more:']\n"
        ),
    );
    // Fetched by URL: the config's rules for that URL apply.
    let out = stet.ok(&["extract", &url, "--explain", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let removed = report["removed"].as_array().expect("removed blocks");
    let rule_of = |needle: &str| {
        removed
            .iter()
            .find(|r| r["text"].as_str().is_some_and(|t| t.contains(needle)))
            .map(|r| r["rule"].as_str().unwrap().to_string())
    };
    assert_eq!(
        rule_of("the ferry is late").as_deref(),
        Some("ignore: #live-ticker"),
        "{report:#}"
    );
    assert_eq!(
        rule_of("Budget talks stall").as_deref(),
        Some("ignore_text: ^Read more:"),
        "{report:#}"
    );
    let kept = report["kept"].as_array().unwrap();
    assert_eq!(kept.len(), PARAS.len(), "{report:#}");

    // A saved file with the rules given on the command line hashes as the watch does; without
    // them the ticker is article text and the hash differs.
    let file = stet.dir.path().join("story.html");
    std::fs::write(
        &file,
        page("the ferry is late", "Budget talks stall", PARAS),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let hash = |args: &[&str]| {
        let mut all = vec!["extract", file, "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&stet.ok(&all)).unwrap();
        v["content_hash"].as_str().unwrap().to_string()
    };
    let with_rules = hash(&["--ignore", "#live-ticker", "--ignore-text", "^Read more:"]);
    assert_eq!(with_rules, report["content_hash"].as_str().unwrap());
    assert_ne!(hash(&[]), with_rules);

    // The human form says the same.
    let text = stet.ok(&["extract", &url, "--explain"]);
    assert!(text.contains("ignore: #live-ticker"), "{text}");
}
