//! The routes of the configured sinks and the retry schedule. Pure: no I/O, no clock.

use std::time::Duration;

use crate::config::AlertEntry;
use crate::pure::alert::AlertRoute;

/// The route of one configured sink.
pub fn route(entry: &AlertEntry) -> AlertRoute {
    AlertRoute {
        sink: entry.name.clone(),
        on: entry.on.clone(),
        min_significance: entry.min_significance,
        match_urls: entry.match_urls.clone(),
        // As the feed list stores them (`stet feed add` normalises URLs the same way).
        match_feeds: entry
            .match_feeds
            .iter()
            .map(|f| {
                crate::pure::model::WatchUrl::parse(f).map_or_else(|_| f.clone(), |u| u.to_string())
            })
            .collect(),
    }
}

/// The routes of every configured sink.
pub fn routes(entries: &[AlertEntry]) -> Vec<AlertRoute> {
    entries.iter().map(route).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::pure::alert::idempotency_key;
    use crate::pure::model::{CheckKind, Significance, VersionSeq};
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
        let route = route(&entry(
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
        let route = route(&entry(
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
            route(&entry(&format!(
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
        let route = route(&entry(
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
