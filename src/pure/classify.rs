//! Classification: what one check means, given what was known before it.
//!
//! Owns every rule about edits (of the text and of the byline and dates), deletions,
//! restorations and transient faults. A deferred check (its host asked for a pause) never comes
//! here: it is not an observation. A pure function of
//! `(state, observation, policy) -> Decision`: it never does I/O, never reads the clock and never
//! touches the database, so every rule is tested here without a server.

use url::Url;

use crate::pure::model::{
    CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchStatus,
};
use crate::pure::wall::{Shown, Wall};

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub seq: VersionSeq,
    pub content_hash: ContentHash,
    pub loose_hash: Sha256Hash,
    pub metadata: Metadata,
}

/// An article's byline and dates, as extracted; stored with each version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
}

impl Metadata {
    /// What changed from `old` that a reader would notice: another byline or another published
    /// date, one phrase each. A byline is compared by the names in it (see [`byline_key`]), a
    /// date by the instant it names, so spacing, a comment count or a relative time sitting in
    /// the byline line, and "Z" against "+00:00", are not changes. A byline or date that appears
    /// or disappears is not reported on its own: extraction does not find it on every load of
    /// every page. A change of the modified date alone is not reported either: sites bump it
    /// without touching the article.
    pub fn changes_from(&self, old: &Metadata) -> Vec<String> {
        let mut out = Vec::new();
        let quoted = |v: &str| format!("\u{201c}{}\u{201d}", v.trim());
        if let (Some(a), Some(b)) = (&old.byline, &self.byline) {
            let (ka, kb) = (byline_key(a), byline_key(b));
            if !ka.is_empty() && !kb.is_empty() && ka != kb {
                out.push(format!("byline {} \u{2192} {}", quoted(a), quoted(b)));
            }
        }
        if let (Some(a), Some(b)) = (&old.published, &self.published) {
            let (ka, kb) = (date_key(a), date_key(b));
            if !ka.is_empty() && !kb.is_empty() && ka != kb {
                out.push(format!("published {} \u{2192} {}", quoted(a), quoted(b)));
            }
        }
        out
    }
}

/// Words sites put in the byline line that are not names: "by", dates, times, counts.
const NOT_NAMES: &[&str] = &[
    "by",
    "and",
    "the",
    "of",
    "on",
    "at",
    "in",
    "from",
    "with",
    "for",
    "ago",
    "just",
    "now",
    "today",
    "yesterday",
    "updated",
    "update",
    "published",
    "posted",
    "last",
    "modified",
    "edited",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "m",
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "am",
    "pm",
    "gmt",
    "utc",
    "est",
    "edt",
    "cst",
    "cdt",
    "pst",
    "pdt",
    "bst",
    "cet",
    "cest",
    "comment",
    "comments",
    "share",
    "shares",
    "view",
    "views",
    "read",
    "reads",
    "reading",
    "time",
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
];

/// The names in a byline: its words of letters, case-folded, without digits, punctuation and
/// the words of `NOT_NAMES`. "By Lucas Nolan22 Dec 2016651" and "by Lucas Nolan 22 Dec 2016
/// 651" are both "lucas nolan".
pub fn byline_key(byline: &str) -> String {
    byline
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !NOT_NAMES.contains(&w.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A date as the instant it names when it parses as RFC 3339, else its text with spacing folded.
fn date_key(d: &str) -> String {
    let d = d.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(d) {
        return t.with_timezone(&chrono::Utc).to_rfc3339();
    }
    d.split_whitespace().collect::<Vec<_>>().join(" ")
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
        metadata: Metadata,
        /// A wall stood in front of the article: the text is what it let through.
        wall: Option<Wall>,
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
    /// A short reason for `missing`, `deleted` and `error` checks; what changed in the byline
    /// or dates for an edit of them.
    pub detail: Option<String>,
}

/// Applies the rules.
pub fn classify(state: &WatchState, observation: &Observation, policy: &Policy) -> Decision {
    let mut next = state.clone();
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
            metadata,
            wall,
        } => {
            if let Some(wall) = wall
                && let Some(latest) = &state.latest
                && latest.content_hash != *content_hash
            {
                return walled(state, wall);
            }
            next.gone_streak = 0;
            next.error_streak = 0;
            let was_deleted = state.status == WatchStatus::Deleted;
            next.status = WatchStatus::Live;
            let Some(latest) = &state.latest else {
                // Walled from the start: the archive keeps what the page shows, and says so.
                let detail = wall.as_ref().map(|w| format!("partial: {}", w.describe()));
                return Decision {
                    new_version: true,
                    ..decision(CheckKind::Captured, next, detail)
                };
            };
            let changed = latest.content_hash != *content_hash;
            let meta_changes = metadata.changes_from(&latest.metadata);
            let kind = match (was_deleted, changed || !meta_changes.is_empty()) {
                (true, _) => CheckKind::Restored,
                (false, true) => CheckKind::Edited,
                (false, false) => CheckKind::Unchanged,
            };
            let text = match (changed, latest.loose_hash == *loose_hash) {
                (false, _) => None,
                (true, true) => Some(Significance::Minor),
                (true, false) => Some(Significance::Substantive),
            };
            let meta = (!meta_changes.is_empty()).then_some(Significance::Metadata);
            let Some(significance) = text.max(meta) else {
                return decision(kind, next, None);
            };
            let detail = (!meta_changes.is_empty()).then(|| meta_changes.join("; "));
            Decision {
                new_version: true,
                significance: Some(significance),
                reverted_to: matches_earlier.filter(|_| changed),
                ..decision(kind, next, detail)
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

/// The rules for a page behind a wall whose text differs from the latest version's. When what
/// it shows is part of the latest version, the check is `blocked`: no version, no event, the
/// latest version stays the full one, and neither streak moves (a wall is neither a deletion
/// nor a fault; the status stays what it was). When it changed a sentence above the wall, the
/// change is an edit, stored as the page shows it and marked partial, naming the sentences.
fn walled(state: &WatchState, wall: &Wall) -> Decision {
    match &wall.shown {
        Shown::Changed(sentences) => {
            let mut next = state.clone();
            next.gone_streak = 0;
            next.error_streak = 0;
            next.status = WatchStatus::Live;
            let kind = if state.status == WatchStatus::Deleted {
                CheckKind::Restored
            } else {
                CheckKind::Edited
            };
            let named = sentences
                .iter()
                .map(|s| format!("\u{201c}{s}\u{201d}"))
                .collect::<Vec<_>>()
                .join("; ");
            Decision {
                kind,
                new_version: true,
                significance: Some(Significance::Substantive),
                reverted_to: None,
                next,
                detail: Some(format!(
                    "partial: {}; changed above the wall: {named}",
                    wall.describe()
                )),
            }
        }
        Shown::Part | Shown::First => Decision {
            kind: CheckKind::Blocked,
            new_version: false,
            significance: None,
            reverted_to: None,
            next: state.clone(),
            detail: Some(wall.describe()),
        },
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
            metadata: meta(Some("By Jane Roe"), Some("2026-11-01T10:00:00Z"), None),
            wall: None,
        }
    }

    fn meta(byline: Option<&str>, published: Option<&str>, modified: Option<&str>) -> Metadata {
        Metadata {
            byline: byline.map(str::to_string),
            published: published.map(str::to_string),
            modified: modified.map(str::to_string),
        }
    }

    /// The same text as [`live`]'s version 1 (hash 1), with other metadata.
    fn same_text_with(metadata: Metadata) -> Observation {
        Observation::Article {
            content_hash: h(1),
            loose_hash: h(1),
            matches_earlier: None,
            metadata,
            wall: None,
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
                metadata: meta(Some("By Jane Roe"), Some("2026-11-01T10:00:00Z"), None),
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
    use Significance::{Minor, Substantive};
    const META: Option<Significance> = Some(Significance::Metadata);

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
            metadata: meta(Some("By Jane Roe"), Some("2026-11-01T10:00:00Z"), None),
            wall: None,
        };
        let d = check(
            live(2, 2, 2),
            observation,
            (Edited, true, Some(Substantive)),
        );
        assert_eq!(d.reverted_to, Some(VersionSeq(1)));
    }

    #[test]
    fn a_changed_byline_alone_is_a_metadata_edit_with_a_version() {
        let d = check(
            live(1, 1, 1),
            same_text_with(meta(
                Some("By John Doe"),
                Some("2026-11-01T10:00:00Z"),
                None,
            )),
            (Edited, true, META),
        );
        assert_eq!(
            d.detail.as_deref(),
            Some("byline \u{201c}By Jane Roe\u{201d} \u{2192} \u{201c}By John Doe\u{201d}")
        );
        assert_eq!(d.reverted_to, None);
    }

    #[test]
    fn a_changed_published_date_alone_is_a_metadata_edit() {
        let d = check(
            live(1, 1, 1),
            same_text_with(meta(
                Some("By Jane Roe"),
                Some("2026-11-02T08:00:00Z"),
                None,
            )),
            (Edited, true, META),
        );
        assert!(d.detail.unwrap().starts_with("published "));
    }

    #[test]
    fn a_byline_or_date_that_appears_or_disappears_is_not_an_edit_alone() {
        for m in [
            meta(None, Some("2026-11-01T10:00:00Z"), None),
            meta(Some("By Jane Roe"), None, None),
            meta(Some("  "), Some("2026-11-01T10:00:00Z"), None),
        ] {
            check(live(1, 1, 1), same_text_with(m), (Unchanged, false, None));
        }
        let mut state = live(1, 1, 1);
        state.latest.as_mut().unwrap().metadata = meta(None, None, None);
        check(state, article(1, 1), (Unchanged, false, None));
    }

    #[test]
    fn bylines_compare_by_the_names_in_them() {
        assert_eq!(byline_key("By Lucas Nolan22 Dec 2016651"), "lucas nolan");
        assert_eq!(byline_key("by Lucas Nolan 22 Dec 2016 651"), "lucas nolan");
        assert_eq!(
            byline_key("By JANE ROE and John Doe, Updated 5 minutes ago"),
            "jane roe john doe"
        );
        assert_eq!(byline_key("Par Élise Dupont"), "par élise dupont");
        assert_ne!(byline_key("By Jane Roe"), byline_key("By Jane Doe"));
        // A comment count or a relative time changing in the byline line is not a change.
        check(
            live(1, 1, 1),
            same_text_with(meta(
                Some("By Jane Roe \u{b7} 2 hours ago \u{b7} 651 comments"),
                Some("2026-11-01T10:00:00Z"),
                None,
            )),
            (Unchanged, false, None),
        );
    }

    #[test]
    fn a_bare_modified_bump_is_unchanged_and_never_alerts() {
        let d = check(
            live(1, 1, 1),
            same_text_with(meta(
                Some("By Jane Roe"),
                Some("2026-11-01T10:00:00Z"),
                Some("2026-11-30T23:59:00Z"),
            )),
            (Unchanged, false, None),
        );
        assert_eq!(d.detail, None);
    }

    #[test]
    fn spacing_and_spelling_of_one_instant_are_not_metadata_changes() {
        check(
            live(1, 1, 1),
            same_text_with(meta(
                Some("  By   Jane Roe "),
                Some("2026-11-01T11:00:00+01:00"),
                None,
            )),
            (Unchanged, false, None),
        );
    }

    #[test]
    fn a_minor_text_edit_with_a_new_byline_ranks_as_metadata() {
        let mut obs = article(2, 1);
        if let Observation::Article { metadata, .. } = &mut obs {
            metadata.byline = Some("By John Doe".into());
        }
        check(live(1, 1, 1), obs, (Edited, true, META));
        // A substantive edit stays substantive, and says what else changed.
        let mut obs = article(2, 2);
        if let Observation::Article { metadata, .. } = &mut obs {
            metadata.byline = Some("By John Doe".into());
        }
        let d = check(live(1, 1, 1), obs, (Edited, true, Some(Substantive)));
        assert!(d.detail.unwrap().starts_with("byline "));
    }

    #[test]
    fn back_after_deletion_with_another_byline_is_restored_with_a_version() {
        check(
            deleted(1, 1),
            same_text_with(meta(
                Some("By John Doe"),
                Some("2026-11-01T10:00:00Z"),
                None,
            )),
            (Restored, true, META),
        );
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

    fn walled(content: u8, shown: Shown) -> Observation {
        Observation::Article {
            content_hash: h(content),
            loose_hash: h(content),
            matches_earlier: None,
            metadata: meta(Some("By Jane Roe"), Some("2026-11-01T10:00:00Z"), None),
            wall: Some(Wall {
                kind: crate::pure::wall::WallKind::Paywall,
                evidence: "\u{201c}subscribe to continue\u{201d}".into(),
                shown,
            }),
        }
    }

    #[test]
    fn a_wall_is_blocked_not_an_edit_and_moves_no_streak() {
        let mut state = live(3, 1, 1);
        state.gone_streak = 1;
        state.error_streak = 2;
        let d = check(
            state.clone(),
            walled(2, Shown::Part),
            (Blocked, false, None),
        );
        assert_eq!(d.next, state, "status and streaks untouched");
        assert_eq!(d.reverted_to, None);
        assert!(d.detail.unwrap().starts_with("paywall: "));
        // A deletion is not confirmed by a wall either.
        let d = check(
            deleted(3, 1),
            walled(2, Shown::Part),
            (Blocked, false, None),
        );
        assert_eq!(d.next.status, WatchStatus::Deleted);
        assert_eq!(d.next.gone_streak, 2);
    }

    #[test]
    fn a_wall_from_the_start_is_captured_as_partial() {
        let d = check(
            WatchState::new(),
            walled(1, Shown::First),
            (Captured, true, None),
        );
        assert!(d.detail.unwrap().starts_with("partial: paywall: "));
    }

    #[test]
    fn the_same_teaser_again_is_unchanged() {
        check(
            live(1, 1, 1),
            walled(1, Shown::Part),
            (Unchanged, false, None),
        );
    }

    #[test]
    fn a_changed_sentence_above_the_wall_is_a_substantive_edit_naming_it() {
        let d = check(
            live(1, 1, 1),
            walled(2, Shown::Changed(vec!["About 25,000 vehicles.".into()])),
            (Edited, true, Some(Substantive)),
        );
        let detail = d.detail.unwrap();
        assert!(detail.starts_with("partial: paywall"), "{detail}");
        assert!(
            detail.contains("\u{201c}About 25,000 vehicles.\u{201d}"),
            "{detail}"
        );
        check(
            deleted(1, 1),
            walled(2, Shown::Changed(vec!["x.".into()])),
            (Restored, true, Some(Substantive)),
        );
    }

    #[test]
    fn the_full_page_after_a_wall_is_compared_as_usual() {
        // Nothing was stored for the wall: the full page meets the full latest version.
        check(live(1, 1, 1), article(1, 1), (Unchanged, false, None));
        check(
            live(1, 1, 1),
            article(2, 2),
            (Edited, true, Some(Substantive)),
        );
    }
}
