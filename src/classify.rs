//! Classification: what one check means, given what was known before it.
//!
//! Owns every rule about edits, deletions, restorations and transient faults. A pure function of
//! `(state, observation, policy) -> Decision`: it never does I/O, never reads the clock and never
//! touches the database, so every rule is tested here without a server.

use url::Url;

use crate::model::{CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchStatus};

/// Tunables of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Consecutive gone observations before an article is reported deleted.
    pub gone_after: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self { gone_after: 2 }
    }
}

/// What was known about a watch before this check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchState {
    pub status: WatchStatus,
    /// Consecutive gone observations so far; transient errors neither add to it nor reset it.
    pub gone_streak: u32,
    /// Consecutive transient failures so far.
    pub error_streak: u32,
    pub latest: Option<Latest>,
}

impl WatchState {
    pub fn new() -> Self {
        Self {
            status: WatchStatus::New,
            gone_streak: 0,
            error_streak: 0,
            latest: None,
        }
    }
}

impl Default for WatchState {
    fn default() -> Self {
        Self::new()
    }
}

/// The latest stored version's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    pub seq: VersionSeq,
    pub content_hash: ContentHash,
    pub loose_hash: Sha256Hash,
}

/// Why a page is considered gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoneReason {
    /// 404, 410 or 451.
    Status(u16),
    /// Redirected to the site's home page or a section front.
    RedirectedAway(String),
    /// Answered 200 with a "page not found" page.
    SoftNotFound,
}

impl GoneReason {
    pub fn describe(&self) -> String {
        match self {
            Self::Status(s) => format!("http {s}"),
            Self::RedirectedAway(to) => format!("redirected to {to}"),
            Self::SoftNotFound => "soft 404: the page says it was not found".into(),
        }
    }
}

/// What a check saw, reduced to what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// An article page was read and fingerprinted.
    Article {
        content_hash: ContentHash,
        loose_hash: Sha256Hash,
        /// An earlier version (not the latest) with this same content hash, if any.
        matches_earlier: Option<VersionSeq>,
    },
    /// 304 Not Modified, or a raw body byte-identical to the latest version's.
    NotModified,
    Gone(GoneReason),
    /// Nothing conclusive: 5xx, 429, timeout, reset, DNS, TLS, truncated, too large, not HTML.
    /// The string says which, for the check record.
    Failed(String),
}

/// The outcome of classification: what to record and the watch's state afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: CheckKind,
    /// Store the observed article as a new version.
    pub new_version: bool,
    pub significance: Option<Significance>,
    /// The new version's text equals this earlier version's.
    pub reverted_to: Option<VersionSeq>,
    pub next: WatchState,
    /// A short reason for `missing`, `deleted` and `error` checks.
    pub detail: Option<String>,
}

/// Applies the rules.
pub fn classify(state: &WatchState, observation: &Observation, policy: &Policy) -> Decision {
    let mut next = *state;
    let decision = |kind, next, detail: Option<String>| Decision {
        kind,
        new_version: false,
        significance: None,
        reverted_to: None,
        next,
        detail,
    };
    match observation {
        Observation::Article {
            content_hash,
            loose_hash,
            matches_earlier,
        } => {
            next.gone_streak = 0;
            next.error_streak = 0;
            let was_deleted = state.status == WatchStatus::Deleted;
            next.status = WatchStatus::Live;
            let Some(latest) = state.latest else {
                return Decision {
                    new_version: true,
                    ..decision(CheckKind::Captured, next, None)
                };
            };
            let changed = latest.content_hash != *content_hash;
            let kind = match (was_deleted, changed) {
                (true, _) => CheckKind::Restored,
                (false, true) => CheckKind::Edited,
                (false, false) => CheckKind::Unchanged,
            };
            if !changed {
                return decision(kind, next, None);
            }
            let significance = if latest.loose_hash == *loose_hash {
                Significance::Minor
            } else {
                Significance::Substantive
            };
            Decision {
                new_version: true,
                significance: Some(significance),
                reverted_to: *matches_earlier,
                ..decision(kind, next, None)
            }
        }
        Observation::NotModified => {
            if state.latest.is_none() {
                next.error_streak += 1;
                return decision(
                    CheckKind::Error,
                    next,
                    Some("not modified, but nothing was captured yet".into()),
                );
            }
            next.gone_streak = 0;
            next.error_streak = 0;
            let kind = if state.status == WatchStatus::Deleted {
                CheckKind::Restored
            } else {
                CheckKind::Unchanged
            };
            next.status = WatchStatus::Live;
            decision(kind, next, None)
        }
        Observation::Gone(reason) => {
            next.gone_streak = state.gone_streak.saturating_add(1);
            next.error_streak = 0;
            let detail = Some(reason.describe());
            if state.status == WatchStatus::Deleted || state.latest.is_none() {
                return decision(CheckKind::Missing, next, detail);
            }
            if next.gone_streak >= policy.gone_after {
                next.status = WatchStatus::Deleted;
                decision(CheckKind::Deleted, next, detail)
            } else {
                decision(CheckKind::Missing, next, detail)
            }
        }
        Observation::Failed(why) => {
            next.error_streak = state.error_streak.saturating_add(1);
            decision(CheckKind::Error, next, Some(why.clone()))
        }
    }
}

/// How an HTTP status that carries no article reads: gone, or a transient failure.
/// `None` for 2xx, which carry a page to look at, and 304, which says the page did not change.
pub fn observe_status(status: u16) -> Option<Observation> {
    match status {
        200..=299 | 304 => None,
        404 | 410 | 451 => Some(Observation::Gone(GoneReason::Status(status))),
        _ => Some(Observation::Failed(format!("http {status}"))),
    }
}

/// Whether a redirect took an article URL to the site's home page or a section front: a common
/// way for a site to retire a story. The target must be shallower (at most one path segment) than
/// an original with at least two, or the bare root of a deeper original.
pub fn redirected_away(original: &Url, final_url: &Url) -> bool {
    if original.as_str() == final_url.as_str() {
        return false;
    }
    let segments = |u: &Url| u.path().split('/').filter(|s| !s.is_empty()).count();
    let (from, to) = (segments(original), segments(final_url));
    let to_root = to == 0 && final_url.query().is_none();
    let same_site = original.host_str().map(strip_www) == final_url.host_str().map(strip_www);
    (to_root && from >= 1) || (same_site && to <= 1 && from >= 2 && to < from)
}

fn strip_www(host: &str) -> &str {
    host.strip_prefix("www.").unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Sha256Hash {
        Sha256Hash([n; 32])
    }

    fn article(content: u8, loose: u8) -> Observation {
        Observation::Article {
            content_hash: h(content),
            loose_hash: h(loose),
            matches_earlier: None,
        }
    }

    fn live(seq: i64, content: u8, loose: u8) -> WatchState {
        WatchState {
            status: WatchStatus::Live,
            gone_streak: 0,
            error_streak: 0,
            latest: Some(Latest {
                seq: VersionSeq(seq),
                content_hash: h(content),
                loose_hash: h(loose),
            }),
        }
    }

    fn deleted(seq: i64, content: u8) -> WatchState {
        WatchState {
            status: WatchStatus::Deleted,
            gone_streak: 2,
            ..live(seq, content, content)
        }
    }

    /// Runs the rules and compares the kind, whether a version is stored, and the significance.
    fn check(
        state: WatchState,
        observation: Observation,
        expected: (CheckKind, bool, Option<Significance>),
    ) -> Decision {
        let d = classify(&state, &observation, &Policy::default());
        assert_eq!(
            (d.kind, d.new_version, d.significance),
            expected,
            "state {state:?}\nobservation {observation:?}\ndecision {d:?}"
        );
        d
    }

    use CheckKind::*;
    use Significance::*;

    #[test]
    fn first_article_is_captured() {
        let d = check(WatchState::new(), article(1, 1), (Captured, true, None));
        assert_eq!(d.next.status, WatchStatus::Live);
    }

    #[test]
    fn same_hash_is_unchanged() {
        check(live(1, 1, 1), article(1, 1), (Unchanged, false, None));
    }

    #[test]
    fn different_words_are_a_substantive_edit() {
        check(
            live(1, 1, 1),
            article(2, 2),
            (Edited, true, Some(Substantive)),
        );
    }

    #[test]
    fn punctuation_only_is_a_minor_edit() {
        check(live(1, 1, 1), article(2, 1), (Edited, true, Some(Minor)));
    }

    #[test]
    fn returning_to_an_earlier_text_names_it() {
        let observation = Observation::Article {
            content_hash: h(1),
            loose_hash: h(1),
            matches_earlier: Some(VersionSeq(1)),
        };
        let d = check(
            live(2, 2, 2),
            observation,
            (Edited, true, Some(Substantive)),
        );
        assert_eq!(d.reverted_to, Some(VersionSeq(1)));
    }

    #[test]
    fn not_modified_is_unchanged() {
        check(
            live(1, 1, 1),
            Observation::NotModified,
            (Unchanged, false, None),
        );
    }

    #[test]
    fn not_modified_before_any_capture_is_an_error() {
        check(
            WatchState::new(),
            Observation::NotModified,
            (Error, false, None),
        );
    }

    #[test]
    fn one_gone_observation_is_only_missing() {
        let gone = Observation::Gone(GoneReason::Status(404));
        let d = check(live(1, 1, 1), gone, (Missing, false, None));
        assert_eq!(d.next.status, WatchStatus::Live);
        assert_eq!(d.next.gone_streak, 1);
    }

    #[test]
    fn second_consecutive_gone_observation_is_deleted() {
        let mut state = live(1, 1, 1);
        state.gone_streak = 1;
        let d = check(
            state,
            Observation::Gone(GoneReason::Status(410)),
            (Deleted, false, None),
        );
        assert_eq!(d.next.status, WatchStatus::Deleted);
        assert_eq!(d.detail.as_deref(), Some("http 410"));
    }

    #[test]
    fn gone_after_is_configurable() {
        let mut state = live(1, 1, 1);
        state.gone_streak = 1;
        let policy = Policy { gone_after: 3 };
        let d = classify(
            &state,
            &Observation::Gone(GoneReason::SoftNotFound),
            &policy,
        );
        assert_eq!(d.kind, Missing);
        let d = classify(
            &d.next,
            &Observation::Gone(GoneReason::SoftNotFound),
            &policy,
        );
        assert_eq!(d.kind, Deleted);
    }

    #[test]
    fn gone_after_one_deletes_at_once() {
        let policy = Policy { gone_after: 1 };
        let d = classify(
            &live(1, 1, 1),
            &Observation::Gone(GoneReason::Status(404)),
            &policy,
        );
        assert_eq!(d.kind, Deleted);
    }

    #[test]
    fn an_article_between_gone_observations_resets_the_streak() {
        let mut state = live(1, 1, 1);
        state.gone_streak = 1;
        let d = check(state, article(1, 1), (Unchanged, false, None));
        assert_eq!(d.next.gone_streak, 0);
        check(
            d.next,
            Observation::Gone(GoneReason::Status(404)),
            (Missing, false, None),
        );
    }

    #[test]
    fn transient_failures_never_delete_or_edit() {
        for why in [
            "http 503",
            "http 429",
            "timeout",
            "reset",
            "truncated",
            "too large",
        ] {
            let mut state = live(1, 1, 1);
            state.gone_streak = 1;
            for _ in 0..5 {
                let d = check(state, Observation::Failed(why.into()), (Error, false, None));
                assert_eq!(d.next.status, WatchStatus::Live);
                state = d.next;
            }
            assert_eq!(state.error_streak, 5);
            assert_eq!(
                state.gone_streak, 1,
                "errors neither add to nor reset the gone streak"
            );
        }
    }

    #[test]
    fn after_errors_the_same_text_is_unchanged() {
        let mut state = live(1, 1, 1);
        state.error_streak = 3;
        let d = check(state, article(1, 1), (Unchanged, false, None));
        assert_eq!(d.next.error_streak, 0);
    }

    #[test]
    fn still_gone_after_deletion_is_missing_not_deleted_again() {
        let d = check(
            deleted(1, 1),
            Observation::Gone(GoneReason::Status(404)),
            (Missing, false, None),
        );
        assert_eq!(d.next.status, WatchStatus::Deleted);
    }

    #[test]
    fn back_with_the_same_text_is_restored_without_a_version() {
        let d = check(deleted(1, 1), article(1, 1), (Restored, false, None));
        assert_eq!(d.next.status, WatchStatus::Live);
        assert_eq!(d.next.gone_streak, 0);
    }

    #[test]
    fn back_with_other_text_is_restored_with_a_version() {
        check(
            deleted(1, 1),
            article(2, 2),
            (Restored, true, Some(Substantive)),
        );
    }

    #[test]
    fn not_modified_after_deletion_is_restored() {
        check(
            deleted(1, 1),
            Observation::NotModified,
            (Restored, false, None),
        );
    }

    #[test]
    fn never_captured_and_gone_is_missing_forever() {
        let mut state = WatchState::new();
        for _ in 0..3 {
            let d = check(
                state,
                Observation::Gone(GoneReason::Status(404)),
                (Missing, false, None),
            );
            state = d.next;
        }
        assert_eq!(state.status, WatchStatus::New);
    }

    #[test]
    fn errors_while_deleted_keep_it_deleted() {
        let d = check(
            deleted(1, 1),
            Observation::Failed("http 502".into()),
            (Error, false, None),
        );
        assert_eq!(d.next.status, WatchStatus::Deleted);
    }

    #[test]
    fn statuses_read_as_gone_or_transient() {
        for s in [404, 410, 451] {
            assert!(
                matches!(observe_status(s), Some(Observation::Gone(_))),
                "{s}"
            );
        }
        for s in [500, 502, 503, 504, 429, 408, 403, 401, 400, 301] {
            assert!(
                matches!(observe_status(s), Some(Observation::Failed(_))),
                "{s}"
            );
        }
        assert_eq!(observe_status(200), None);
        assert_eq!(observe_status(203), None);
        assert_eq!(observe_status(304), None);
    }

    #[test]
    fn redirects_to_home_or_section_are_gone() {
        let u = |s: &str| Url::parse(s).unwrap();
        let article = u("https://news.example.org/2021/07/iraq-troops");
        assert!(redirected_away(&article, &u("https://news.example.org/")));
        assert!(redirected_away(
            &article,
            &u("https://www.news.example.org/world/")
        ));
        assert!(redirected_away(
            &article,
            &u("https://news.example.org/2021")
        ));
        assert!(!redirected_away(&article, &article));
        assert!(!redirected_away(
            &article,
            &u("https://news.example.org/2021/07/iraq-troops-leave")
        ));
        assert!(!redirected_away(
            &article,
            &u("https://news.example.org/a/b/c")
        ));
        assert!(!redirected_away(
            &u("https://n.example/story"),
            &u("https://n.example/story/")
        ));
        // A canonical move to another host's article is not a removal.
        assert!(!redirected_away(
            &article,
            &u("https://other.example/world")
        ));
    }
}
