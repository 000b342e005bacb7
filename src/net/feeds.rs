//! Feeds: RSS, Atom and (news) sitemaps polled for new article URLs, which become watches.
//!
//! Owns parsing feeds and sitemaps (pure), canonicalising discovered URLs (tracking parameters
//! stripped, fragments dropped), and one poll of one feed: conditional GET, a bounded number of
//! new watches per poll, and refusal of URLs that point inside the network. A feed is untrusted
//! input: every URL it lists is checked before it is watched, and fetched through a client that
//! refuses internal addresses.

use std::collections::BTreeSet;

use url::Url;

use crate::app::check::Checker;
use crate::config::Config;
use crate::net::fetch::{AddressPolicy, Payload};
use crate::pure::model::now_rfc3339;
use crate::pure::scheduler::Cadence;
use crate::store::{FeedRow, Store};

/// Query parameters that identify a campaign, not an article.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "ocid",
    "cmpid",
    "smid",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "ito",
    "src_trk",
    "__twitter_impression",
];

/// What a feed or sitemap lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Article URLs, in feed order.
    pub articles: Vec<String>,
    /// Child sitemaps of a sitemap index.
    pub sitemaps: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a feed or sitemap: {0}")]
pub struct FeedError(pub String);

/// Reads an RSS/Atom feed or a sitemap (urlset or sitemap index, news sitemaps included).
pub fn parse_listing(body: &[u8]) -> Result<Listing, FeedError> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    if head.contains("<urlset") || head.contains("<sitemapindex") {
        return parse_sitemap(body);
    }
    let feed = feed_rs::parser::parse(body).map_err(|e| FeedError(e.to_string()))?;
    let articles = feed
        .entries
        .iter()
        .filter_map(|e| {
            e.links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .map(|l| l.href.clone())
                .or_else(|| e.id.starts_with("http").then(|| e.id.clone()))
        })
        .collect();
    Ok(Listing {
        articles,
        sitemaps: Vec::new(),
    })
}

fn parse_sitemap(body: &[u8]) -> Result<Listing, FeedError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut listing = Listing::default();
    let (mut in_url, mut in_sitemap, mut in_loc) = (false, false, false);
    let mut loc = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                "url" => in_url = true,
                "sitemap" => in_sitemap = true,
                "loc" => {
                    in_loc = true;
                    loc.clear();
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_loc => loc.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) if in_loc => loc.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_loc => {
                loc.push('&');
                loc.push_str(r.as_ref());
                loc.push(';');
            }
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "loc" => {
                    in_loc = false;
                    let value = quick_xml::escape::unescape(loc.trim())
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| loc.trim().to_string());
                    if in_url {
                        listing.articles.push(value);
                    } else if in_sitemap {
                        listing.sitemaps.push(value);
                    }
                }
                "url" => in_url = false,
                "sitemap" => in_sitemap = false,
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(e) => return Err(FeedError(e.to_string())),
            _ => {}
        }
        buf.clear();
    }
    Ok(listing)
}

/// The URL to watch for a link found in a feed: absolute http(s), no fragment, no tracking
/// parameters (utm_* and the like), no user name or password (it would be stored and shown).
/// `None` for anything else.
pub fn canonical_article_url(link: &str, base: &Url) -> Option<Url> {
    let mut url = base.join(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url)
}

/// What one poll did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PollReport {
    pub feed: String,
    /// Article URLs that became watches.
    pub added: Vec<String>,
    /// URLs refused, with why.
    pub refused: Vec<(String, String)>,
    /// New URLs left for a later poll (over `max_new_per_poll`).
    pub deferred: usize,
    pub not_modified: bool,
    pub error: Option<String>,
}

/// Polls one feed: fetches it (conditionally), turns new article URLs into watches, and
/// schedules the next poll.
pub async fn poll(
    checker: &Checker,
    config: &Config,
    db_path: &crate::store::Location,
    feed: &FeedRow,
) -> PollReport {
    let mut report = PollReport {
        feed: feed.url.clone(),
        ..Default::default()
    };
    let result = fetch_listing(checker, config, feed).await;
    let at = now_rfc3339();
    let cadence: Cadence = feed
        .schedule
        .as_deref()
        .unwrap_or(&config.feeds.schedule)
        .parse()
        .unwrap_or(Cadence::Every(std::time::Duration::from_secs(900)));
    let next = cadence
        .next_after(chrono::Utc::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (validators, links) = match result {
        Ok(Some((validators, links))) => (Some(validators), links),
        Ok(None) => {
            report.not_modified = true;
            (None, Vec::new())
        }
        Err(e) => {
            tracing::warn!(feed = %feed.url, error = %e, "feed poll failed");
            report.error = Some(e);
            (None, Vec::new())
        }
    };
    let base = Url::parse(&feed.url).ok();
    let policy = AddressPolicy {
        allow_private: config.feeds.allow_private,
        allow_hosts: config.feeds.allow_hosts.clone(),
    };
    let mut candidates = BTreeSet::new();
    let mut ordered = Vec::new();
    for link in &links {
        let Some(url) = base.as_ref().and_then(|b| canonical_article_url(link, b)) else {
            report
                .refused
                .push((link.clone(), "not an http(s) URL".into()));
            continue;
        };
        if candidates.insert(url.to_string()) {
            ordered.push(url);
        }
    }
    let db = db_path.to_owned();
    let urls: Vec<String> = ordered.iter().map(|u| u.to_string()).collect();
    let watched: Vec<bool> = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<bool>> {
        let store = Store::open(&db)?;
        urls.iter().map(|u| Ok(store.is_watched(u)?)).collect()
    })
    .await
    .map_err(anyhow::Error::from)
    .and_then(|r| r)
    .unwrap_or_default();
    let mut accepted = Vec::new();
    for (url, already) in ordered
        .iter()
        .zip(watched.iter().chain(std::iter::repeat(&false)))
    {
        if *already {
            continue;
        }
        if accepted.len() >= config.feeds.max_new_per_poll {
            report.deferred += 1;
            continue;
        }
        match policy.check_resolved(url).await {
            Ok(()) => accepted.push(url.to_string()),
            Err(why) => {
                tracing::warn!(feed = %feed.url, url = %url, reason = %why, "feed item refused");
                report.refused.push((url.to_string(), why));
            }
        }
    }
    let db = db_path.to_owned();
    let feed_id = feed.id;
    let error = report.error.clone();
    let stored = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut store = Store::open(&db)?;
        let mut added = Vec::new();
        for url in accepted {
            if store.add_feed_watch(&url, feed_id, &at)? {
                added.push(url);
            }
        }
        store.record_feed_poll(feed_id, &at, validators.as_ref(), &next, error.as_deref())?;
        Ok(added)
    })
    .await;
    match stored {
        Ok(Ok(added)) => report.added = added,
        Ok(Err(e)) => report.error = Some(format!("{e:#}")),
        Err(e) => report.error = Some(e.to_string()),
    }
    for url in &report.added {
        tracing::info!(feed = %feed.url, url = %url, "new article from feed");
    }
    report
}

/// Fetches a feed (and up to five child sitemaps of a sitemap index). `Ok(None)`: not modified.
async fn fetch_listing(
    checker: &Checker,
    config: &Config,
    feed: &FeedRow,
) -> Result<Option<(crate::net::fetch::Validators, Vec<String>)>, String> {
    let url = Url::parse(&feed.url).map_err(|e| e.to_string())?;
    let fetcher = checker.fetcher();
    let _permit = checker
        .politeness()
        .acquire(&url, config.politeness.pause_wait)
        .await
        .map_err(|busy| format!("deferred: {busy}"))?;
    if feed.robots.unwrap_or(config.politeness.robots)
        && !checker.politeness().robots_allow(fetcher, &url).await
    {
        return Err("robots: disallowed by robots.txt".into());
    }
    let response = fetcher
        .fetch(&feed.url, &feed.validators)
        .await
        .map_err(|e| e.to_string())?;
    if response.status == 304 {
        return Ok(None);
    }
    if !(200..300).contains(&response.status) {
        return Err(format!("http {}", response.status));
    }
    let Payload::Body(body) = response.payload else {
        return Err("the feed is too large".into());
    };
    let mut listing = parse_listing(&body).map_err(|e| e.to_string())?;
    for child in listing.sitemaps.iter().take(5) {
        match fetcher.fetch(child, &Default::default()).await {
            Ok(r) => {
                if let Payload::Body(b) = r.payload
                    && let Ok(more) = parse_listing(&b)
                {
                    listing.articles.extend(more.articles);
                }
            }
            Err(e) => tracing::debug!(sitemap = %child, error = %e, "child sitemap failed"),
        }
    }
    Ok(Some((response.validators, listing.articles)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_items_are_listed() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>
            <item><title>A</title><link>https://n.example/a?utm_source=rss</link></item>
            <item><title>B</title><link>https://n.example/b</link></item></channel></rss>"#;
        let l = parse_listing(rss).unwrap();
        assert_eq!(
            l.articles,
            ["https://n.example/a?utm_source=rss", "https://n.example/b"]
        );
    }

    #[test]
    fn atom_entries_are_listed() {
        let atom =
            br#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>N</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
            <entry><title>A</title><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>
            <link rel="alternate" href="https://n.example/a"/></entry></feed>"#;
        assert_eq!(
            parse_listing(atom).unwrap().articles,
            ["https://n.example/a"]
        );
    }

    #[test]
    fn news_sitemaps_and_indexes_are_listed() {
        let sitemap = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
            <url><loc>https://n.example/a?x=1&amp;y=2</loc><news:news><news:title>A</news:title></news:news></url>
            <url><loc> https://n.example/b </loc></url></urlset>"#;
        let l = parse_listing(sitemap).unwrap();
        assert_eq!(
            l.articles,
            ["https://n.example/a?x=1&y=2", "https://n.example/b"]
        );
        let index = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://n.example/s1.xml</loc></sitemap></sitemapindex>"#;
        assert_eq!(
            parse_listing(index).unwrap().sitemaps,
            ["https://n.example/s1.xml"]
        );
    }

    #[test]
    fn garbage_is_not_a_feed() {
        assert!(parse_listing(b"<html><body>hi</body></html>").is_err());
    }

    #[test]
    fn tracking_parameters_and_fragments_are_stripped() {
        let base = Url::parse("https://n.example/feed.xml").unwrap();
        let c = |s: &str| canonical_article_url(s, &base).map(|u| u.to_string());
        assert_eq!(
            c("https://n.example/a?utm_source=x&utm_medium=y#top").as_deref(),
            Some("https://n.example/a")
        );
        assert_eq!(
            c("/b?id=7&fbclid=abc").as_deref(),
            Some("https://n.example/b?id=7")
        );
        assert_eq!(
            c("HTTPS://N.EXAMPLE:443/c").as_deref(),
            Some("https://n.example/c")
        );
        assert_eq!(c("javascript:alert(1)"), None);
        assert_eq!(c("ftp://n.example/x"), None);
    }
}
