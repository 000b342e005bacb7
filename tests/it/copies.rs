//! Copies across sites: `stet diff COPY --against ORIGINAL` over a local site, and a small
//! generated web (from `tests/fixtures/readability`) scored through the real extraction.

use crate::support::site::{Route, Site};
use crate::support::{Stet, fixture, fixture_names};

#[path = "../../examples/copies_web/web.rs"]
mod web;

const STORY: [&str; 5] = [
    "The city council approved the new bridge over the river on Tuesday evening by seven votes to two, ending a debate that has divided the eastern districts for more than three years.",
    "The bridge will cost 40 million euros, the mayor said after the vote, and construction is due to start in March once the last permits have been granted by the regional authority.",
    "Critics on the council said the money should have gone to schools and to the repair of roads in the older neighbourhoods, where residents have complained about potholes for a decade.",
    "\"It will change the way this city lives and works,\" the mayor told reporters outside the town hall, adding that the ferry service would continue until the bridge opens to traffic.",
    "Engineers expect the work to take four years, and the council will publish the contracts for the steel and the foundations on its website before the end of the month, officials said.",
];

fn page(title: &str, paragraphs: &[String], furniture: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{title}</title></head><body>\
         <nav><a href=\"/\">{furniture} home</a></nav><article><h1>{title}</h1>\n{body}</article>\
         <footer>{furniture}, all rights reserved</footer></body></html>"
    )
}

#[test]
fn diff_against_shows_what_a_copy_cut_added_and_changed() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let original: Vec<String> = STORY.iter().map(|s| s.to_string()).collect();
    let lede = "Readers in the east of the city have asked us about the bridge all week: here is the report.";
    let mut copy: Vec<String> = vec![lede.to_string()];
    copy.extend(
        original
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, p)| p.replace("40 million", "45 million")),
    );
    site.set(
        "/news/bridge",
        Route::html(page(
            "Council approves bridge",
            &original,
            "Riverside Times",
        )),
    );
    site.set(
        "/repost/bridge",
        Route::html(page("Council approves bridge", &copy, "Aggregator")),
    );
    let (o, c) = (site.url("/news/bridge"), site.url("/repost/bridge"));
    let reports = stet.check(&[&o, &c]);
    assert_eq!(reports.len(), 2, "{reports:?}");

    let json: serde_json::Value =
        serde_json::from_str(&stet.ok(&["diff", &c, "--against", &o, "--json"])).unwrap();
    assert_eq!(json["linked"], true, "{json:#}");
    assert!(json["containment"].as_f64().unwrap() > 0.5, "{json:#}");
    assert_eq!(json["copy"]["url"], c.as_str());
    let changes = json["changes"].as_array().unwrap();
    let has = |kind: &str, key: &str, text: &str| {
        changes
            .iter()
            .any(|ch| ch["kind"] == kind && ch[key].as_str().is_some_and(|t| t.contains(text)))
    };
    assert!(has("cut", "text", "Critics on the council"), "{changes:#?}");
    assert!(has("added", "text", "Readers in the east"), "{changes:#?}");
    assert!(
        changes
            .iter()
            .any(|ch| ch["kind"] == "changed" && ch["from"] == "40" && ch["to"] == "45"),
        "{changes:#?}"
    );
    // The cut paragraph sat between copied ones; the lede came before the copied span.
    assert!(
        changes
            .iter()
            .any(|ch| ch["kind"] == "cut" && ch["in_span"] == true)
    );
    assert!(
        changes
            .iter()
            .any(|ch| ch["kind"] == "added" && ch["in_span"] == false)
    );

    let plain = stet.ok(&["diff", &c, "--against", &o]);
    assert!(
        plain.contains("cut (inside the copied span): Critics on the council"),
        "{plain}"
    );
    assert!(plain.contains("changed: 40 -> 45"), "{plain}");
    assert!(plain.contains("[+Readers in the east"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "no color codes off a terminal");

    // Two articles that share nothing are said not to be copies.
    site.set(
        "/other",
        Route::html(page(
            "Harbour festival",
            &[STORY[0].chars().rev().collect::<String>()],
            "Gazette",
        )),
    );
    let other = site.url("/other");
    stet.check(&[&other]);
    let plain = stet.ok(&["diff", &other, "--against", &o]);
    assert!(plain.contains("do not share an article"), "{plain}");
    // A URL that is not watched is an error that says so.
    let out = stet.run(&["diff", &c, "--against", &site.url("/never")]);
    assert!(!out.status.success());
}

#[test]
fn a_generated_web_of_fixture_pages_links_copies_and_not_same_event_articles() {
    let sources: Vec<web::Source> = fixture_names()
        .into_iter()
        .map(|name| web::Source {
            html: fixture(&name, "source.html"),
            name,
        })
        .collect();
    let w = web::Web::generate(&sources, 24, 18);
    assert!(
        w.original_of.len() >= 20,
        "{} originals",
        w.original_of.len()
    );
    assert!(
        w.same_event.len() >= 5,
        "{} same-event pairs",
        w.same_event.len()
    );
    let (reads, found) = web::index_all(&w);
    let t = stet::pure::copies::Thresholds::default();
    let (mut r, links) = web::score(&w, &reads, &found, &t);
    let p2 = w.phase2(18);
    web::score_phase2(&w, &reads, &links, &p2, &t, &mut r);
    let summary = format!("{r:#?}");
    assert!(r.all.recall() >= 0.95, "{summary}");
    assert!(r.all.precision() >= 0.98, "{summary}");
    let cut = &r.per_transform[&web::Transform::Cut30to50];
    assert!(cut.recall() >= 0.90, "{summary}");
    assert!(
        r.same_event_links * 100 <= r.same_event_pairs,
        "same-event false links: {summary}"
    );
    assert_eq!(r.original_wrong, 0, "{summary}");
    assert_eq!(r.copies_called_original, 0, "{summary}");
    assert_eq!(r.stale_edit_false_outside, 0, "{summary}");
    assert!(r.stale_edit.recall() >= 0.9, "{summary}");
    assert!(r.stale_edit.precision() >= 0.98, "{summary}");
    assert!(r.deleted.recall() >= 0.95, "{summary}");
    assert!(r.altered.precision() >= 0.98, "{summary}");
}
