//! Feed polling: one poll of one feed turns the article URLs it lists into watches.
//!
//! Owns the conditional GET of a feed (and the child sitemaps of an index), a bounded number of
//! new watches per poll, refusal of URLs that point inside the network, and scheduling the next
//! poll. A feed is untrusted input: every URL it lists is checked before it is watched, and
//! fetched through a client that refuses internal addresses. Parsing is `net::feeds`'s.

use std::collections::BTreeSet;

use url::Url;

use crate::app::check::Checker;
use crate::config::Config;
use crate::net::feeds::{canonical_article_url, parse_listing};
use crate::net::fetch::{AddressPolicy, Payload};
use crate::pure::model::now_rfc3339;
use crate::pure::scheduler::Cadence;
use crate::store::{FeedRow, Store};

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
