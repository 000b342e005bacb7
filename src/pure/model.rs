//! The vocabulary shared by every module: ids, hashes, and the kinds of things a check can conclude.
//!
//! Owns no behaviour beyond parsing and printing these values; it never does I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Row id of a watched URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WatchId(pub i64);

/// A version's place in its watch's history: 1, 2, 3, ... Versions are ordered by this number,
/// never by their timestamps, so two captures in the same second are still told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionSeq(pub i64);

impl fmt::Display for VersionSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A SHA-256 digest, printed and stored as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hash(pub [u8; 32]);

impl Sha256Hash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex digits, enough to tell versions apart on a terminal.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.short())
    }
}

impl FromStr for Sha256Hash {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|e| format!("bad hash {s:?}: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("bad hash {s:?}: expected 64 hex digits"))?;
        Ok(Self(arr))
    }
}

impl Serialize for Sha256Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of an article's canonical text: what "the article said".
pub type ContentHash = Sha256Hash;
/// SHA-256 of the raw response body: the key of the stored blob.
pub type BodyHash = Sha256Hash;

/// What one check concluded about one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// First successful capture: version 1 was stored.
    Captured,
    /// The article text is the same as the latest version (or the server said 304).
    Unchanged,
    /// The article text differs from the latest version: a new version was stored.
    Edited,
    /// The article was gone on enough consecutive checks to be confirmed deleted.
    Deleted,
    /// The article is live again after having been deleted.
    Restored,
    /// The article looked gone, but not yet on enough consecutive checks (or it is still deleted).
    Missing,
    /// A transient or unusable response (5xx, timeout, reset, truncated, too large, not HTML).
    /// Never a deletion and never an edit.
    Error,
    /// Not checked: the host asked for a pause (429 Retry-After) that outlasts the pass. Not an
    /// observation: never stored as a check, never read by classification, never alerted; the
    /// watch is due again when the pause ends.
    Deferred,
    /// A wall (paywall, registration, consent) stood in front of the article: the page showed
    /// less than the latest version. Not a version, never an edit or a deletion, never alerted;
    /// the check's detail names the wall's kind first (`paywall: ...`).
    Blocked,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Captured => "captured",
            Self::Unchanged => "unchanged",
            Self::Edited => "edited",
            Self::Deleted => "deleted",
            Self::Restored => "restored",
            Self::Missing => "missing",
            Self::Error => "error",
            Self::Deferred => "deferred",
            Self::Blocked => "blocked",
        }
    }

    /// Whether this kind is a transition worth an event row (and, later, an alert).
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Self::Captured | Self::Edited | Self::Deleted | Self::Restored
        )
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "captured" => Self::Captured,
            "unchanged" => Self::Unchanged,
            "edited" => Self::Edited,
            "deleted" => Self::Deleted,
            "restored" => Self::Restored,
            "missing" => Self::Missing,
            "error" => Self::Error,
            "deferred" => Self::Deferred,
            "blocked" => Self::Blocked,
            other => return Err(format!("unknown check kind {other:?}")),
        })
    }
}

/// How much an edit matters, from least to most: `min_significance` keeps an edit of at least
/// its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Significance {
    /// Only whitespace, punctuation or typography (quotes, dashes, ellipses) changed.
    Minor,
    /// The text is the same (or changed only in a minor way) but the byline or the published
    /// date changed.
    Metadata,
    /// Words, numbers or names changed, or text was added or removed.
    Substantive,
}

impl Significance {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minor => "minor",
            Self::Metadata => "metadata",
            Self::Substantive => "substantive",
        }
    }
}

impl FromStr for Significance {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "minor" => Ok(Self::Minor),
            "metadata" => Ok(Self::Metadata),
            "substantive" => Ok(Self::Substantive),
            other => Err(format!("unknown significance {other:?}")),
        }
    }
}

/// Whether a watched article is believed to be online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchStatus {
    /// Never captured yet.
    New,
    /// Captured and, at the last conclusive check, online.
    Live,
    /// Confirmed gone.
    Deleted,
}

impl WatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Live => "live",
            Self::Deleted => "deleted",
        }
    }
}

impl FromStr for WatchStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "new" => Ok(Self::New),
            "live" => Ok(Self::Live),
            "deleted" => Ok(Self::Deleted),
            other => Err(format!("unknown watch status {other:?}")),
        }
    }
}

/// The current time as stored and printed everywhere: RFC 3339, UTC, millisecond precision.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
