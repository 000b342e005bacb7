//! Property tests of every parser of untrusted input: HTML extraction and its budget scan,
//! charsets, feeds and sitemaps, robots.txt, the config file, HTTP header values, watch URLs.
//! Each must return (never panic) within a bounded time, whatever the bytes. Inputs that once
//! broke one are kept below as a regression corpus.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use stet::pure::budget::{self, Budget};

/// The time one parse of one generated input may take (debug build, shared machine).
const LIMIT: Duration = Duration::from_secs(3);

fn timed<T>(what: &str, input: &impl std::fmt::Debug, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < LIMIT, "{what} took {took:?} on {input:?}");
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Tag soup: pieces of HTML in any order, unbalanced, with comments, scripts, tables,
/// formatting elements the parser reconstructs, entities, odd quoting and stray bytes.
fn tag_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<div>".to_string()),
        Just("</div>".to_string()),
        Just("<p>".to_string()),
        Just("</p>".to_string()),
        Just("<b>".to_string()),
        Just("</b>".to_string()),
        Just("<i class=\"ad-slot\">".to_string()),
        Just("<a href='/x'>".to_string()),
        Just("</a>".to_string()),
        Just("<table><tr><td>".to_string()),
        Just("</td></tr></table>".to_string()),
        Just("<li>".to_string()),
        Just("<ul>".to_string()),
        Just("<!-- c -->".to_string()),
        Just("<!--".to_string()),
        Just("<script>var a = '<div>';</script>".to_string()),
        Just("<style>".to_string()),
        Just("<title>".to_string()),
        Just("<article>".to_string()),
        Just("<h1>".to_string()),
        Just("<br/>".to_string()),
        Just("<img src=\"x".to_string()),
        Just("<meta charset=\"bogus\">".to_string()),
        Just("&amp;&#0;&#x110000;&nbsp".to_string()),
        Just("5 minutes ago".to_string()),
        Just("42 comments".to_string()),
        Just("page not found".to_string()),
        Just("<svg><foreignObject><p>".to_string()),
        Just("<template><td>".to_string()),
        Just("<select><option>".to_string()),
        Just("<frameset>".to_string()),
        Just("<!-->".to_string()),
        Just("<!--->".to_string()),
        Just("--!>".to_string()),
        Just("<svg><title>".to_string()),
        Just("<math><mi>".to_string()),
        Just("<noscript>".to_string()),
        Just("<textarea>".to_string()),
        Just("<plaintext>".to_string()),
        Just("<td><font>".to_string()),
        Just("</td>".to_string()),
        Just("<font color=red>".to_string()),
        Just("<b id=1>".to_string()),
        Just("<u>".to_string()),
        Just("</u>".to_string()),
        Just("<object>".to_string()),
        Just("=\"".to_string()),
        Just("'".to_string()),
        Just("<a =\"x>\">".to_string()),
        "[a-z \\n]{0,40}",
        "\\PC{0,12}",
    ];
    prop::collection::vec(piece, 0..120).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn extraction_never_panics_on_tag_soup(html in tag_soup()) {
        timed("extract_within", &html, || {
            let _ = budget::extract_within(
                &html,
                "https://news.example/a",
                &Default::default(),
                &Budget::default(),
            );
        });
    }

    #[test]
    fn extraction_never_panics_on_any_text(html in "\\PC{0,400}") {
        timed("extract_within", &html, || {
            let _ = budget::extract_within(
                &html,
                "https://news.example/a",
                &Default::default(),
                &Budget::default(),
            );
        });
    }

    /// The budget's scan must not under-count by much: a page it admits is never much deeper,
    /// once parsed, than the limit allows (else a deep tree could reach the recursive walks).
    /// The parser adds elements no tag names (html, head, body, a tbody per table, reconstructed
    /// formatting elements), and the adoption agency clones formatting elements, so the bound is four times the scanned
    /// depth and a few: at the limit of 512, a parsed tree of about 2,000 levels, which costs
    /// under a second.
    #[test]
    fn the_scan_bounds_the_parsed_depth(html in tag_soup()) {
        let shape = budget::measure(&html);
        let doc = dom_query::Document::from(html.as_str());
        let depth = tree_depth(&doc);
        prop_assert!(depth <= 4 * shape.max_depth + 8, "parsed depth {depth}, scanned {shape:?}");
    }

    #[test]
    fn decoding_takes_any_bytes_and_any_content_type(
        body in prop::collection::vec(any::<u8>(), 0..600),
        ct in "\\PC{0,40}",
    ) {
        timed("decode", &(&body, &ct), || {
            let _ = stet::pure::extract::decode(&body, Some(&ct));
            let _ = stet::pure::extract::check_html(Some(&ct), &body);
        });
    }

    #[test]
    fn feeds_and_sitemaps_take_any_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
        timed("parse_listing", &body, || { let _ = stet::net::feeds::parse_listing(&body); });
    }

    #[test]
    fn feeds_and_sitemaps_take_xml_soup(xml in xml_soup()) {
        timed("parse_listing", &xml, || { let _ = stet::net::feeds::parse_listing(xml.as_bytes()); });
        let base = url::Url::parse("https://news.example/").unwrap();
        for link in xml.split(['<', '>', '"']) {
            if let Some(url) = stet::net::feeds::canonical_article_url(link, &base) {
                // A feed never makes a watch of a URL with credentials.
                prop_assert!(url.username().is_empty() && url.password().is_none(), "{url}");
            }
        }
    }

    #[test]
    fn robots_txt_takes_any_text(body in robots_soup(), path in "/\\PC{0,30}") {
        let url = format!("https://news.example{path}");
        timed("robots", &(&body, &url), || {
            let _ = robotstxt::DefaultMatcher::default()
                .one_agent_allowed_by_robots(&body, "stet", &url);
        });
    }

    #[test]
    fn the_config_file_takes_any_text(text in config_soup()) {
        timed("config", &text, || {
            let _ = stet::config::Config::parse(&text, std::path::Path::new("stet.toml"));
        });
    }

    #[test]
    fn header_values_take_any_text(value in "\\PC{0,60}") {
        timed("retry-after", &value, || {
            if let Some(wait) = stet::net::fetch::parse_retry_after(&value) {
                assert!(wait <= Duration::from_secs(86400));
            }
        });
    }

    #[test]
    fn watch_urls_take_any_text(input in "\\PC{0,80}") {
        if let Err(e) = stet::net::fetch::parse_watch_url(&input) {
            let shown = e.to_string();
            // A refused URL never echoes a password back.
            if let Ok(u) = url::Url::parse(input.trim())
                && let Some(pw) = u.password()
                && pw.len() > 3
            {
                prop_assert!(!shown.contains(pw), "{shown}");
            }
        }
    }
}

fn xml_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<?xml version=\"1.0\"?>".to_string()),
        Just("<rss><channel>".to_string()),
        Just("<item><link>https://news.example/a?utm_source=x#f</link></item>".to_string()),
        Just("<feed xmlns=\"http://www.w3.org/2005/Atom\">".to_string()),
        Just("<entry><link href=\"/rel\"/><id>urn:x</id></entry>".to_string()),
        Just("<urlset>".to_string()),
        Just("<url><loc>".to_string()),
        Just("</loc></url>".to_string()),
        Just("<sitemapindex><sitemap><loc>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("]]>".to_string()),
        Just("&amp;&lt;&bogus;&#xFFFFFFFF;".to_string()),
        Just("<!DOCTYPE x [<!ENTITY a \"aaaa\">]>".to_string()),
        Just("</channel></rss>".to_string()),
        Just("<pubDate>not a date</pubDate>".to_string()),
        Just("<link>https://bob:pw@news.example/a</link>".to_string()),
        Just("<link>//eve@news.example/b</link>".to_string()),
        "\\PC{0,20}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn robots_soup() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("User-agent: *".to_string()),
        Just("User-agent: stet".to_string()),
        Just("Disallow: /".to_string()),
        Just("Allow: /a$".to_string()),
        Just("Disallow: /*?*".to_string()),
        Just("Disallow: *%".to_string()),
        Just("Crawl-delay: 10".to_string()),
        Just("Sitemap: https://x/s.xml".to_string()),
        Just("Disallow: /é%C3%A9%zz".to_string()),
        "\\PC{0,30}",
    ];
    prop::collection::vec(line, 0..30).prop_map(|v| v.join("\n"))
}

fn config_soup() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[storage]".to_string()),
        Just("[fetch]".to_string()),
        Just("timeout_secs = 0".to_string()),
        Just("concurrency = 99999999999999999999".to_string()),
        Just("[[watch]]".to_string()),
        Just("url = \"https://a.example/x\"".to_string()),
        Just("url = \"https://u:p@a.example/x\"".to_string()),
        Just("schedule = \"*/0 * * * *\"".to_string()),
        Just("schedule = \"every 0s\"".to_string()),
        Just("[schedule]".to_string()),
        Just("jitter = \"99999999999999999d\"".to_string()),
        Just("age_curve = [{ every = \"0s\" }]".to_string()),
        Just("[[alert]]".to_string()),
        Just("name = \"a\"".to_string()),
        Just("kind = \"webhook\"".to_string()),
        Just("kind = \"email\"".to_string()),
        Just("secret_file = \"/nonexistent/secret\"".to_string()),
        Just("password_env = \"STET_TEST_UNSET_VARIABLE\"".to_string()),
        Just("digest_secs = 0".to_string()),
        "\\PC{0,30}",
    ];
    prop::collection::vec(line, 0..25).prop_map(|v| v.join("\n"))
}

fn tree_depth(doc: &dom_query::Document) -> usize {
    // Iterative, so the test itself cannot overflow its stack.
    let mut deepest = 0;
    let mut stack = vec![(doc.root(), 0usize)];
    while let Some((node, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        for child in node.children_it(false) {
            if child.is_element() {
                stack.push((child, depth + 1));
            }
        }
    }
    deepest
}

/// Inputs that once broke a parser or the budget, kept so they never break one again: each is
/// extracted in bounded time, and its parsed depth stays within the scan's bound.
#[test]
fn regression_corpus() {
    let corpus: &[&str] = &[
        // A quote after an attribute name is part of the name, not the start of a value: the
        // scan once read the rest of the page as one attribute and saw no elements.
        "<img src=\"x<img src=\"x<img src=\"x<meta charset=\"bogus\"><table><tr><td>",
        // `<!-->` is a whole comment: the scan once skipped to a later `-->`.
        "<!--><div><div><div><div><div><div><div><div><p>x<!-- -->",
        // In SVG, <title> holds markup, not text.
        "<svg><title><div><div><div><div><div><div><div><div></title></svg>",
        // The parser runs without scripting: <noscript> holds markup.
        "<noscript><table><tr><td><object><div><div><div><div><div><div>",
        // Formatting elements closed by </div> are re-created by the parser in the next <div>.
        "<div><b><i><u><s><em><strong><code></div><div><div><div>x",
    ];
    for html in corpus {
        timed("extract_within", html, || {
            let _ = budget::extract_within(
                html,
                "https://news.example/a",
                &Default::default(),
                &Budget::default(),
            );
        });
        let shape = budget::measure(html);
        let depth = tree_depth(&dom_query::Document::from(*html));
        assert!(
            depth <= 4 * shape.max_depth + 8,
            "{html}: parsed {depth}, scanned {shape:?}"
        );
    }
}
