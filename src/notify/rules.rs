//! Which sink wants which event, how a sink is validated, idempotency keys and the retry
//! schedule. Pure: no I/O, no clock.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{AlertEntry, SinkKind};
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
    pub fn from_entry(entry: &AlertEntry) -> Self {
        Self {
            sink: entry.name.clone(),
            on: entry.on.clone(),
            min_significance: entry.min_significance,
            match_urls: entry.match_urls.clone(),
            // As the feed list stores them (`stet feed add` normalises URLs the same way).
            match_feeds: entry
                .match_feeds
                .iter()
                .map(|f| {
                    crate::net::fetch::parse_watch_url(f)
                        .map_or_else(|_| f.clone(), |u| u.to_string())
                })
                .collect(),
        }
    }

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

/// The routes of every configured sink.
pub fn routes(entries: &[AlertEntry]) -> Vec<AlertRoute> {
    entries.iter().map(AlertRoute::from_entry).collect()
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

/// How long to wait after the `failures`-th failed attempt (1-based): `base`, then twice as
/// long each time, never more than `max`.
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    base.saturating_mul(1u32 << doublings).min(max)
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(Duration),
    GiveUp,
}

/// Retry with backoff until `max_attempts` attempts have failed.
pub fn after_failure(attempts_before: u32, entry: &AlertEntry) -> AfterFailure {
    let failures = attempts_before.saturating_add(1);
    if failures >= entry.max_attempts {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryIn(backoff(
            failures,
            Duration::from_secs(entry.backoff_secs),
            Duration::from_secs(entry.max_backoff_secs),
        ))
    }
}

/// Checks that a sink has what its kind needs. The message names the key at fault.
pub fn check_sink(entry: &AlertEntry) -> Result<(), String> {
    if entry.name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    if entry.on.is_empty() {
        return Err("`on` must name at least one event".into());
    }
    if let Some(k) = entry.on.iter().find(|k| !k.is_event()) {
        return Err(format!(
            "`on` may hold captured, edited, deleted and restored, not {k}"
        ));
    }
    if entry.timeout_secs == 0 || entry.max_attempts == 0 {
        return Err("timeout_secs and max_attempts must be at least 1".into());
    }
    if entry.digest_secs == Some(0) {
        return Err("digest_secs must be at least 1 (leave it out for no digest)".into());
    }
    if entry.secret.is_some() && entry.kind != SinkKind::Webhook {
        return Err("`secret` applies to webhook sinks only".into());
    }
    if entry.kind.is_http() {
        let url = entry
            .url
            .as_deref()
            .ok_or_else(|| format!("a {} sink needs `url`", entry.kind.as_str()))?;
        // The URL may hold a token: errors show it redacted.
        let shown = crate::pure::secret::redact_url(url, true);
        let parsed = url::Url::parse(url).map_err(|e| format!("bad url {shown:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "bad url {shown:?}: must be an http(s) URL with a host"
            ));
        }
    } else if entry.url.is_some() {
        return Err(format!(
            "`url` does not apply to {} sinks",
            entry.kind.as_str()
        ));
    }
    match entry.kind {
        SinkKind::Email => {
            let host = entry.smtp_host.as_deref().unwrap_or("");
            if host.trim().is_empty() {
                return Err("an email sink needs `smtp_host`".into());
            }
            let from = entry.from.as_deref().ok_or("an email sink needs `from`")?;
            from.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("bad `from` address {from:?}: {e}"))?;
            if entry.to.is_empty() {
                return Err("an email sink needs at least one `to` address".into());
            }
            for to in &entry.to {
                to.parse::<lettre::message::Mailbox>()
                    .map_err(|e| format!("bad `to` address {to:?}: {e}"))?;
            }
            if entry.username.is_some() != entry.password.is_some() {
                return Err("`username` and `password` go together".into());
            }
        }
        SinkKind::Command if entry.command.first().is_none_or(|p| p.trim().is_empty()) => {
            return Err("a command sink needs `command = [\"program\", \"arg\", ...]`".into());
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn entry(toml: &str) -> AlertEntry {
        let config = Config::parse(&format!("[[alert]]\n{toml}"), Path::new("t.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        config.alerts.into_iter().next().unwrap()
    }

    fn invalid(toml: &str) -> String {
        Config::parse(&format!("[[alert]]\n{toml}"), Path::new("t.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn default_sink_wants_edits_deletions_and_restorations() {
        let route = AlertRoute::from_entry(&entry(
            "name = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"",
        ));
        let u = "https://news.example/a/b";
        assert!(route.wants(CheckKind::Edited, Some(Significance::Minor), u, None));
        assert!(route.wants(CheckKind::Deleted, None, u, None));
        assert!(route.wants(CheckKind::Restored, None, u, Some("https://f.example/rss")));
        assert!(!route.wants(CheckKind::Captured, None, u, None));
    }

    #[test]
    fn substantive_only_skips_minor_edits() {
        let route = AlertRoute::from_entry(&entry(
            "name = \"s\"\nkind = \"slack\"\nurl = \"https://hooks.example/x\"\n\
             min_significance = \"substantive\"\nmatch_urls = [\"news.example/politics/\"]",
        ));
        let politics = "https://news.example/politics/story";
        let sub = Some(Significance::Substantive);
        assert!(!route.wants(CheckKind::Edited, Some(Significance::Minor), politics, None));
        assert!(route.wants(CheckKind::Edited, sub, politics, None));
        assert!(route.wants(CheckKind::Deleted, None, politics, None));
        assert!(!route.wants(
            CheckKind::Edited,
            sub,
            "https://news.example/sport/match",
            None
        ));
    }

    #[test]
    fn metadata_edits_alert_by_default_and_sit_between_minor_and_substantive() {
        let sink = |min: &str| {
            AlertRoute::from_entry(&entry(&format!(
                "name = \"m\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"{min}"
            )))
        };
        let u = "https://news.example/a/b";
        let meta = Some(Significance::Metadata);
        assert!(
            sink("").wants(CheckKind::Edited, meta, u, None),
            "by default"
        );
        let metadata = sink("\nmin_significance = \"metadata\"");
        assert!(metadata.wants(CheckKind::Edited, meta, u, None));
        assert!(!metadata.wants(CheckKind::Edited, Some(Significance::Minor), u, None));
        assert!(metadata.wants(CheckKind::Edited, Some(Significance::Substantive), u, None));
        let substantive = sink("\nmin_significance = \"substantive\"");
        assert!(!substantive.wants(CheckKind::Edited, meta, u, None));
    }

    #[test]
    fn feed_filter_wants_articles_from_those_feeds_only() {
        let route = AlertRoute::from_entry(&entry(
            "name = \"f\"\nkind = \"ntfy\"\nurl = \"https://ntfy.example/t\"\n\
             match_feeds = [\"https://news.example/rss\"]",
        ));
        let (u, k) = ("https://news.example/a", CheckKind::Deleted);
        assert!(route.wants(k, None, u, Some("https://news.example/rss")));
        assert!(!route.wants(k, None, u, Some("https://other.example/rss")));
        assert!(
            !route.wants(k, None, u, None),
            "added by hand, not from the feed"
        );
    }

    #[test]
    fn idempotency_keys_are_stable_and_distinct() {
        let k = |sink: &str, v: i64| {
            idempotency_key(
                "https://a.example/x",
                CheckKind::Edited,
                "2026-01-01T00:00:00.000Z",
                Some(VersionSeq(v)),
                sink,
            )
        };
        assert_eq!(k("a", 2), k("a", 2));
        assert_ne!(k("a", 2), k("b", 2));
        assert_ne!(k("a", 2), k("a", 3));
        assert_eq!(k("a", 2).len(), 32);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        let b = |n| backoff(n, s(60), s(600));
        assert_eq!(
            [b(1), b(2), b(3), b(4), b(5), b(40)],
            [s(60), s(120), s(240), s(480), s(600), s(600)]
        );
        assert_eq!(backoff(3, s(0), s(600)), s(0));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let e = entry(
            "name = \"c\"\nkind = \"command\"\ncommand = [\"true\"]\nmax_attempts = 3\n\
             backoff_secs = 10",
        );
        assert_eq!(
            after_failure(0, &e),
            AfterFailure::RetryIn(Duration::from_secs(10))
        );
        assert_eq!(
            after_failure(1, &e),
            AfterFailure::RetryIn(Duration::from_secs(20))
        );
        assert_eq!(after_failure(2, &e), AfterFailure::GiveUp);
    }

    #[test]
    fn misconfigured_sinks_are_named_with_their_line() {
        let msg = invalid("name = \"hook\"\nkind = \"webhook\"\nurl = \"not a url\"");
        assert!(msg.starts_with("t.toml:2:"), "{msg}");
        assert!(
            msg.contains("alert \"hook\"") && msg.contains("bad url"),
            "{msg}"
        );
        let msg = invalid("name = \"mail\"\nkind = \"email\"\nsmtp_host = \"localhost\"");
        assert!(msg.contains("needs `from`"), "{msg}");
        let msg = invalid(
            "name = \"mail\"\nkind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b.example\"\n\
             to = [\"not an address\"]",
        );
        assert!(msg.contains("bad `to` address"), "{msg}");
        let msg = invalid("name = \"x\"\nkind = \"command\"\ncommand = []");
        assert!(msg.contains("needs `command"), "{msg}");
        let msg = invalid("name = \"x\"\nkind = \"command\"\ncommand = [\"a\"]\non = [\"error\"]");
        assert!(msg.contains("not error"), "{msg}");
        let msg = invalid("name = \"x\"\nkind = \"pager\"");
        assert!(msg.contains("pager"), "{msg}");
    }

    #[test]
    fn sink_names_are_unique() {
        let text = "[[alert]]\nname = \"a\"\nkind = \"command\"\ncommand = [\"x\"]\n\
                    [[alert]]\nname = \"a\"\nkind = \"command\"\ncommand = [\"y\"]\n";
        let msg = Config::parse(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("t.toml:6:"), "{msg}");
        assert!(msg.contains("another [[alert]] has this name"), "{msg}");
    }
}
