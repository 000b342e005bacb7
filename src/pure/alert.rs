//! What the store needs to queue an alert: which sink wants which event (`AlertRoute`), and the
//! key that lets a receiver drop a repeated delivery. Pure: no I/O, no clock, no config.

use sha2::{Digest, Sha256};

use crate::pure::model::{CheckKind, Significance, VersionSeq};

/// What the writer needs to know about a sink to queue its alerts: its name and filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRoute {
    pub sink: String,
    pub on: Vec<CheckKind>,
    pub min_significance: Significance,
    pub match_urls: Vec<String>,
    pub match_feeds: Vec<String>,
}

impl AlertRoute {
    /// Whether this sink wants an event of `kind` about `url` (found through `feed`, if any). An
    /// edit below the sink's `min_significance` (minor < metadata < substantive) is skipped.
    pub fn wants(
        &self,
        kind: CheckKind,
        significance: Option<Significance>,
        url: &str,
        feed: Option<&str>,
    ) -> bool {
        if !self.on.contains(&kind) {
            return false;
        }
        if significance.is_some_and(|s| s < self.min_significance) {
            return false;
        }
        let url_ok =
            self.match_urls.is_empty() || self.match_urls.iter().any(|m| url.contains(m.as_str()));
        let feed_ok = self.match_feeds.is_empty()
            || feed.is_some_and(|f| self.match_feeds.iter().any(|m| m == f));
        url_ok && feed_ok
    }
}

/// The key a receiver uses to drop repeated deliveries of one alert: the same for every
/// attempt, different for every event and sink. 32 hex digits of a SHA-256.
pub fn idempotency_key(
    url: &str,
    kind: CheckKind,
    at: &str,
    version: Option<VersionSeq>,
    sink: &str,
) -> String {
    let version = version.map_or(String::new(), |v| v.to_string());
    let material = format!("stet-alert\n{url}\n{kind}\n{at}\n{version}\n{sink}");
    hex::encode(Sha256::digest(material.as_bytes()))[..32].to_string()
}
