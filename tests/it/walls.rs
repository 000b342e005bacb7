//! Walls end to end: a metered paywall (with and without schema.org markup), a registration
//! wall and a consent overlay served in place of an article for one check, then the full page
//! again. The real binary, a real local site and a real webhook receiver: a wall is recorded as
//! a `blocked` check with its kind, never as an edit, a version or an alert; a real cut of the
//! last paragraphs stays an edit; a wall with a changed sentence above it is an edit naming it.

use serde_json::Value;

use crate::alerts::{Receiver, webhook_sink};
use crate::support::site::{Route, Site};
use crate::support::{Stet, kind};

const HEADLINE: &str = "Harbour bridge to close for six weeks of cable repairs";

const STORY: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables, after an inspection found rust deeper than the engineers had feared.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel, which the transport authority says can take the extra traffic at off-peak hours.",
    "Local businesses said they had been given only four days of notice and warned of lost trade in the busy season, when visitors from the coast fill the harbour front every weekend.",
    "The council's chief engineer told the meeting that the cables had last been replaced in 1987 and that the new ones would be made of galvanised steel with a protective sheath.",
    "Cyclists and pedestrians will be able to use a temporary walkway on the southern side of the bridge for most of the works, except on four nights when the deck is lifted.",
    "The repairs are expected to cost 12 million euros, of which the national government has agreed to pay two thirds under its programme for ageing infrastructure.",
    "Opposition councillors asked why the inspection report had not been published before the vote, and the mayor promised to release it in full by the end of the week.",
    "Work is due to begin on the first Monday of next month, and the council will publish a map of diversions and a timetable of the night closures on its website.",
];

/// The article page, with `head` added to `<head>` and `after` put where the article stops.
fn page(paragraphs: &[&str], head: &str, after: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{HEADLINE} | The Harbour Times</title>{head}</head>\
         <body><nav><a href=\"/\">Home</a> <a href=\"/city\">City</a></nav>\
         <article><h1>{HEADLINE}</h1>\n<div class=\"story-body\">{body}</div>{after}</article>\
         <footer>The Harbour Times</footer></body></html>"
    )
}

fn full() -> String {
    page(STORY, "", "")
}

const SCHEMA: &str = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"Harbour bridge to close for six weeks of cable repairs","isAccessibleForFree":false,"hasPart":{"@type":"WebPageElement","isAccessibleForFree":false,"cssSelector":".paid-content"}}</script>"#;

/// The walls, each as a page and the kind stet must name.
fn walls() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "metered paywall",
            page(
                &STORY[..2],
                "",
                "<div class=\"piano-offer\"><h2>Subscribe to continue reading</h2>\
                 <p>You have read all of your free articles this month.</p>\
                 <a href=\"/subscribe\">Subscribe for 1 euro</a> \
                 <a href=\"/login\">Already a subscriber? Log in</a></div>",
            ),
            "paywall",
        ),
        (
            "paywall with schema.org markup",
            page(
                &STORY[..3],
                SCHEMA,
                "<div class=\"tp-container-inner\"></div>",
            ),
            "paywall",
        ),
        (
            "registration wall",
            page(
                &STORY[..2],
                "",
                "<div class=\"regwall\"><p>Create a free account to keep reading this article.</p>\
                 <a href=\"/register\">Register</a> <a href=\"/login\">Log in</a></div>",
            ),
            "registration",
        ),
        (
            "consent overlay",
            format!(
                "<!doctype html><html><head><title>{HEADLINE} | The Harbour Times</title></head>\
                 <body><div id=\"didomi-host\"><div class=\"didomi-popup\">\
                 <h2>We value your privacy</h2><p>We and our 812 partners store and access \
                 information on your device, such as cookies, to show you this site.</p>\
                 <button>Accept and continue</button> <button>Refuse</button></div></div>\
                 </body></html>"
            ),
            "consent",
        ),
    ]
}

fn history(stet: &Stet, url: &str) -> Value {
    serde_json::from_str(&stet.ok(&["history", "--json", url])).unwrap()
}

#[test]
fn a_wall_for_one_check_is_blocked_not_an_edit_and_never_alerts() {
    let receiver = Receiver::start(0);
    let site = Site::start();
    let stet = Stet::new("", &webhook_sink(&receiver.url(), ""));
    for (i, (name, walled, wall)) in walls().into_iter().enumerate() {
        let path = format!("/news/bridge-{i}");
        let url = site.url(&path);
        site.set(&path, Route::html(full()));
        assert_eq!(kind(&stet.check_one(&url)), "captured", "{name}");
        let alerts = receiver.accepted().len();

        site.set(&path, Route::html(walled));
        let r = stet.check_one(&url);
        assert_eq!(kind(&r), "blocked", "{name}: {r}");
        assert_eq!(r["wall"], wall, "{name}: {r}");
        assert_eq!(
            r["version"], 1,
            "{name}: the latest version stays the full one: {r}"
        );
        assert!(r.get("significance").is_none(), "{name}: {r}");

        site.set(&path, Route::html(full()));
        let r = stet.check_one(&url);
        assert_eq!(kind(&r), "unchanged", "{name}: the full page again: {r}");
        assert_eq!(r["version"], 1, "{name}: {r}");

        assert_eq!(
            receiver.accepted().len(),
            alerts,
            "{name}: no alert for the wall nor for the full page's return"
        );
        let h = history(&stet, &url);
        assert_eq!(h["versions"].as_array().unwrap().len(), 1, "{name}: {h}");
        let events: Vec<&str> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["captured"], "{name}");
        let blocked: Vec<&Value> = h["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "blocked")
            .collect();
        assert_eq!(blocked.len(), 1, "{name}: {h}");
        let detail = blocked[0]["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{wall}: ")), "{name}: {detail}");
        // The human history says so too.
        let text = stet.ok(&["history", &url]);
        assert!(
            text.contains(&format!(
                "blocked {}",
                blocked[0]["first_at"].as_str().unwrap()
            )),
            "{text}"
        );
        assert!(text.contains("1 blocked by a wall"), "{text}");
    }
}

#[test]
fn a_cut_without_a_wall_stays_an_edit() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/cut");
    site.set("/news/cut", Route::html(full()));
    stet.check_one(&url);
    site.set("/news/cut", Route::html(page(&STORY[..3], "", "")));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "edited", "{r}");
    assert_eq!(r["significance"], "substantive", "{r}");
    assert_eq!(r["version"], 2, "{r}");
    assert!(r.get("wall").is_none(), "{r}");
}

#[test]
fn a_newsletter_box_and_a_cookie_banner_on_the_full_article_are_not_a_wall() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/banner");
    let banner = page(
        STORY,
        "",
        "<div class=\"newsletter\">Subscribe to our newsletter for the city's news.</div>\
         <div id=\"onetrust-banner-sdk\">We use cookies. <button>Accept all</button></div>",
    );
    site.set("/news/banner", Route::html(banner.clone()));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "captured", "{r}");
    assert!(r.get("detail").is_none(), "not partial: {r}");
    site.set("/news/banner", Route::html(full()));
    assert_eq!(kind(&stet.check_one(&url)), "unchanged");
}

#[test]
fn a_wall_with_a_changed_sentence_above_it_is_an_edit_naming_the_sentence() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/changed");
    site.set("/news/changed", Route::html(full()));
    stet.check_one(&url);
    let changed = STORY[1].replace("About 40,000 vehicles", "About 25,000 vehicles");
    let shown = [STORY[0], changed.as_str(), STORY[2]];
    site.set(
        "/news/changed",
        Route::html(page(
            &shown,
            "",
            "<div class=\"paywall\"><h2>Subscribe to continue reading</h2></div>",
        )),
    );
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "edited", "{r}");
    assert_eq!(r["significance"], "substantive", "{r}");
    assert_eq!(r["wall"], "paywall", "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.starts_with("partial: paywall"), "{detail}");
    assert!(
        detail.contains("About 25,000 vehicles cross the bridge every day"),
        "the edit names the changed sentence: {detail}"
    );
    assert!(
        !detail.contains("Local businesses"),
        "only the changed sentence: {detail}"
    );
}

#[test]
fn a_page_walled_from_the_start_is_archived_as_partial_until_the_full_text_comes() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/news/teaser");
    let (_, walled, _) = walls().remove(0);
    site.set("/news/teaser", Route::html(walled.clone()));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "captured", "{r}");
    assert_eq!(r["wall"], "paywall", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .starts_with("partial: paywall"),
        "{r}"
    );
    let h = history(&stet, &url);
    assert!(
        h["events"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("partial: paywall"),
        "the partial mark is on the event, which the ledger covers: {h}"
    );
    // Walled again: the same teaser, nothing new.
    assert_eq!(kind(&stet.check_one(&url)), "unchanged");
    // The full text: a new version, compared with the teaser as usual.
    site.set("/news/teaser", Route::html(full()));
    let r = stet.check_one(&url);
    assert_eq!(kind(&r), "edited", "{r}");
    assert_eq!(r["version"], 2, "{r}");
}
