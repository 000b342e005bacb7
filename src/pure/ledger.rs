//! The tamper-evident ledger: an append-only hash chain over everything the archive records.
//!
//! Owns the entry (what one entry commits to), its exact byte encoding and hash, the chain rule
//! (each entry commits to the previous entry's hash), the published head, and the JSON Lines
//! exchange format of `stet export --format jsonl` / `stet import`. Pure: never does I/O or SQL;
//! `store` writes entries in the same transaction as the rows they record. The encoding is
//! documented byte for byte in `docs/LEDGER.md`; changing it breaks every stored chain.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::pure::model::{BodyHash, ContentHash, Sha256Hash, VersionSeq};

/// Domain tag, the first field of every encoded entry without metadata.
pub const ENCODING_TAG: &str = "stet-ledger-v1";

/// Domain tag of an entry that also commits to its row's metadata ([`EntryBody::meta`]).
pub const ENCODING_TAG_V2: &str = "stet-ledger-v2";

/// The length written for an absent metadata value (a NULL column) in a v2 entry.
pub const ABSENT: u32 = u32::MAX;

/// The `versions` columns a version entry's metadata commits to, in encoding order.
pub const VERSION_META: [&str; 8] = [
    "loose_hash",
    "http_status",
    "final_url",
    "title",
    "byline",
    "published",
    "modified",
    "canonical_url",
];

/// The `events` columns an event entry's metadata commits to, in encoding order.
pub const EVENT_META: [&str; 5] = ["kind", "from_seq", "significance", "reverted_to", "detail"];

/// The `prev_hash` of entry 1: 32 zero bytes.
pub const GENESIS: Sha256Hash = Sha256Hash([0; 32]);

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// A stored version (a `versions` row): commits to its content and raw-body hashes.
    #[serde(rename = "version")]
    Version,
    /// An event (an `events` row): `captured`, `edited`, `deleted` or `restored`.
    #[serde(rename = "event:captured")]
    Captured,
    #[serde(rename = "event:edited")]
    Edited,
    #[serde(rename = "event:deleted")]
    Deleted,
    #[serde(rename = "event:restored")]
    Restored,
    /// A URL started (or started again) to be watched.
    #[serde(rename = "watch:added")]
    WatchAdded,
    /// A URL stopped being watched.
    #[serde(rename = "watch:removed")]
    WatchRemoved,
    /// The full metadata of a version stored before entries carried it, written once when the
    /// archive is upgraded.
    #[serde(rename = "attest:version")]
    AttestVersion,
    /// The full details of an event stored before entries carried them, written once when the
    /// archive is upgraded.
    #[serde(rename = "attest:event")]
    AttestEvent,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::Captured => "event:captured",
            Self::Edited => "event:edited",
            Self::Deleted => "event:deleted",
            Self::Restored => "event:restored",
            Self::WatchAdded => "watch:added",
            Self::WatchRemoved => "watch:removed",
            Self::AttestVersion => "attest:version",
            Self::AttestEvent => "attest:event",
        }
    }

    /// The metadata columns this kind of entry commits to (from v2 on), in encoding order.
    pub fn meta_fields(self) -> &'static [&'static str] {
        match self {
            Self::Version | Self::AttestVersion => &VERSION_META,
            Self::WatchAdded | Self::WatchRemoved => &[],
            _ => &EVENT_META,
        }
    }

    /// The entry kind of an event row's kind (`captured`, `edited`, ...).
    pub fn of_event(kind: crate::pure::model::CheckKind) -> Option<Self> {
        use crate::pure::model::CheckKind as K;
        match kind {
            K::Captured => Some(Self::Captured),
            K::Edited => Some(Self::Edited),
            K::Deleted => Some(Self::Deleted),
            K::Restored => Some(Self::Restored),
            K::Unchanged | K::Missing | K::Error | K::Deferred | K::Blocked => None,
        }
    }

    /// The `events.kind` an event entry records.
    pub fn event_kind(self) -> Option<crate::pure::model::CheckKind> {
        use crate::pure::model::CheckKind as K;
        match self {
            Self::Captured => Some(K::Captured),
            Self::Edited => Some(K::Edited),
            Self::Deleted => Some(K::Deleted),
            Self::Restored => Some(K::Restored),
            Self::Version
            | Self::WatchAdded
            | Self::WatchRemoved
            | Self::AttestVersion
            | Self::AttestEvent => None,
        }
    }

    /// Which table holds the recorded row.
    pub fn table(self) -> &'static str {
        match self {
            Self::Version | Self::AttestVersion => "versions",
            Self::WatchAdded | Self::WatchRemoved => "watches",
            _ => "events",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "version" => Self::Version,
            "event:captured" => Self::Captured,
            "event:edited" => Self::Edited,
            "event:deleted" => Self::Deleted,
            "event:restored" => Self::Restored,
            "watch:added" => Self::WatchAdded,
            "watch:removed" => Self::WatchRemoved,
            "attest:version" => Self::AttestVersion,
            "attest:event" => Self::AttestEvent,
            other => return Err(format!("unknown ledger entry kind {other:?}")),
        })
    }
}

/// What an entry says, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBody {
    pub kind: EntryKind,
    /// The watched URL, exactly as stored in `watches.url`.
    pub url: String,
    /// The version number, for version and event entries that have one.
    pub version: Option<VersionSeq>,
    /// The time of the recorded row (`captured_at`, `events.at`, or the time of the watch change),
    /// exactly as stored.
    pub at: String,
    pub content_hash: Option<ContentHash>,
    pub body_hash: Option<BodyHash>,
    /// The recorded row's other columns, as stored (numbers in decimal, NULL as `None`), in
    /// the order of [`EntryKind::meta_fields`]. Entries written before stet committed to
    /// metadata have none, and keep the v1 encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Vec<Option<String>>>,
}

impl EntryBody {
    /// The metadata as (column, value) pairs; empty when the entry has none.
    pub fn meta_pairs(&self) -> Vec<(&'static str, Option<&str>)> {
        match &self.meta {
            None => Vec::new(),
            Some(values) => self
                .kind
                .meta_fields()
                .iter()
                .copied()
                .zip(values.iter().map(Option::as_deref))
                .collect(),
        }
    }
}

/// One chained entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, ... without gaps.
    pub seq: i64,
    #[serde(flatten)]
    pub body: EntryBody,
    pub prev_hash: Sha256Hash,
    pub hash: Sha256Hash,
}

impl Entry {
    /// Chains `body` after an entry whose seq and hash are `prev` (`None` for the first entry).
    pub fn chain(prev: Option<(i64, Sha256Hash)>, body: EntryBody) -> Self {
        let (seq, prev_hash) = prev.map_or((1, GENESIS), |(s, h)| (s + 1, h));
        let hash = entry_hash(seq, &prev_hash, &body);
        Self {
            seq,
            body,
            prev_hash,
            hash,
        }
    }

    /// The hash this entry's contents give; differs from `self.hash` when a field was altered.
    pub fn recompute(&self) -> Sha256Hash {
        entry_hash(self.seq, &self.prev_hash, &self.body)
    }
}

/// The bytes an entry hash is computed over (and the Merkle tree's leaf data): every field as a
/// 4-byte big-endian length then its UTF-8 bytes, in this order: tag, seq, prev hash, kind,
/// URL, version, time, content hash, body hash. Numbers are decimal, hashes lower-case hex,
/// absent values empty. An entry with metadata has the tag `stet-ledger-v2` and its metadata
/// values follow, an absent one written as the length `FF FF FF FF` with no bytes.
pub fn encode(seq: i64, prev_hash: &Sha256Hash, body: &EntryBody) -> Vec<u8> {
    let tag = if body.meta.is_some() {
        ENCODING_TAG_V2
    } else {
        ENCODING_TAG
    };
    let fields: [String; 9] = [
        tag.to_string(),
        seq.to_string(),
        prev_hash.to_hex(),
        body.kind.as_str().to_string(),
        body.url.clone(),
        body.version.map(|v| v.0.to_string()).unwrap_or_default(),
        body.at.clone(),
        body.content_hash.map(|h| h.to_hex()).unwrap_or_default(),
        body.body_hash.map(|h| h.to_hex()).unwrap_or_default(),
    ];
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for field in &fields {
        let len = u32::try_from(field.len()).expect("a ledger field is shorter than 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    for value in body.meta.iter().flatten() {
        match value {
            None => out.extend_from_slice(&ABSENT.to_be_bytes()),
            Some(v) => {
                let len = u32::try_from(v.len()).expect("a ledger field is shorter than 4 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(v.as_bytes());
            }
        }
    }
    out
}

/// Reads an entry back from its encoding (what a proof carries): seq, prev hash and body; the
/// hash is the SHA-256 of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Entry, String> {
    let mut fields: Vec<Option<String>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len_bytes: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("the entry ends inside a length")?;
        let len = u32::from_be_bytes(len_bytes);
        at += 4;
        if len == ABSENT {
            fields.push(None);
            continue;
        }
        let value = bytes
            .get(at..at + len as usize)
            .ok_or("the entry ends inside a field")?;
        fields.push(Some(
            String::from_utf8(value.to_vec()).map_err(|_| "a field is not UTF-8")?,
        ));
        at += len as usize;
    }
    let text = |i: usize| -> Result<String, String> {
        fields
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| format!("field {} is missing", i + 1))
    };
    let tag = text(0)?;
    let v2 = match tag.as_str() {
        ENCODING_TAG => false,
        ENCODING_TAG_V2 => true,
        other => return Err(format!("unknown entry tag {other:?}")),
    };
    let kind: EntryKind = text(3)?.parse()?;
    let opt_hash = |i: usize| -> Result<Option<Sha256Hash>, String> {
        let s = text(i)?;
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some)
        }
    };
    let version = text(5)?;
    let meta = if v2 {
        let values = fields[9.min(fields.len())..].to_vec();
        if values.len() != kind.meta_fields().len() {
            return Err(format!(
                "a {kind} entry has {} metadata values, not {}",
                values.len(),
                kind.meta_fields().len()
            ));
        }
        Some(values)
    } else {
        if fields.len() != 9 {
            return Err(format!("a v1 entry has 9 fields, not {}", fields.len()));
        }
        None
    };
    Ok(Entry {
        seq: text(1)?.parse().map_err(|_| "bad seq")?,
        prev_hash: text(2)?.parse()?,
        body: EntryBody {
            kind,
            url: text(4)?,
            version: if version.is_empty() {
                None
            } else {
                Some(VersionSeq(version.parse().map_err(|_| "bad version")?))
            },
            at: text(6)?,
            content_hash: opt_hash(7)?,
            body_hash: opt_hash(8)?,
            meta,
        },
        hash: Sha256Hash::of(bytes),
    })
}

/// SHA-256 of [`encode`].
pub fn entry_hash(seq: i64, prev_hash: &Sha256Hash, body: &EntryBody) -> Sha256Hash {
    Sha256Hash::of(&encode(seq, prev_hash, body))
}

/// Why a run of entries is not a valid chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// Entry `expected` is missing: the next stored entry is `found`.
    Gap { expected: i64, found: i64 },
    /// The entry's fields do not hash to its stored hash.
    Hash { seq: i64, computed: Sha256Hash },
    /// The entry does not commit to the previous entry's hash.
    Link { seq: i64, expected: Sha256Hash },
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Gap { expected, found } => write!(
                f,
                "entry {expected} is missing (the next stored entry is {found})"
            ),
            Self::Hash { seq, computed } => write!(
                f,
                "entry {seq}: its fields hash to {computed}, not to its stored hash"
            ),
            Self::Link { seq, expected } => write!(
                f,
                "entry {seq}: prev_hash does not match the previous entry's hash {expected}"
            ),
        }
    }
}

/// Checks one entry against the entry before it (`None` for the first).
pub fn check_link(prev: Option<&Entry>, entry: &Entry) -> Vec<ChainFault> {
    let mut faults = Vec::new();
    let (expected_seq, expected_prev) = prev.map_or((1, GENESIS), |p| (p.seq + 1, p.hash));
    if entry.seq != expected_seq {
        faults.push(ChainFault::Gap {
            expected: expected_seq,
            found: entry.seq,
        });
    }
    if entry.prev_hash != expected_prev {
        faults.push(ChainFault::Link {
            seq: entry.seq,
            expected: expected_prev,
        });
    }
    let computed = entry.recompute();
    if computed != entry.hash {
        faults.push(ChainFault::Hash {
            seq: entry.seq,
            computed,
        });
    }
    faults
}

/// The published state of a ledger: how many entries, and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub entries: i64,
    pub head: Sha256Hash,
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.entries, self.head)
    }
}

/// A head as published: `COUNT:HASH` (what `stet ledger head` prints), a bare `HASH`, or the
/// JSON line `stet ledger head --json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedHead {
    pub entries: Option<i64>,
    pub head: Sha256Hash,
}

impl FromStr for PublishedHead {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with('{') {
            let head: Head =
                serde_json::from_str(s).map_err(|e| format!("bad published head {s:?}: {e}"))?;
            return Ok(Self {
                entries: Some(head.entries),
                head: head.head,
            });
        }
        match s.split_once(':') {
            Some((count, hash)) => Ok(Self {
                entries: Some(
                    count
                        .parse()
                        .map_err(|_| format!("bad entry count {count:?} in {s:?}"))?,
                ),
                head: hash.parse()?,
            }),
            None => Ok(Self {
                entries: None,
                head: s.parse()?,
            }),
        }
    }
}

/// One line of a JSON Lines export: a ledger entry and the row it records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportLine {
    pub entry: Entry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<ExportWatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ExportVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ExportEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportWatch {
    pub origin: String,
}

/// A stored version, complete: metadata, hashes, canonical text and the raw body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportVersion {
    pub seq: VersionSeq,
    pub captured_at: String,
    pub content_hash: ContentHash,
    pub loose_hash: Sha256Hash,
    pub body_hash: BodyHash,
    pub http_status: u16,
    pub final_url: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub canonical_url: Option<String>,
    /// The canonical text (see `docs/ARCHITECTURE.md`).
    pub text: String,
    /// The raw body as received, standard base64 with padding.
    pub body_base64: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportEvent {
    pub kind: crate::pure::model::CheckKind,
    pub at: String,
    pub version: Option<VersionSeq>,
    pub from_version: Option<VersionSeq>,
    pub significance: Option<crate::pure::model::Significance>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: EntryKind, at: &str) -> EntryBody {
        EntryBody {
            kind,
            url: "https://news.example/a".into(),
            version: Some(VersionSeq(1)),
            at: at.into(),
            content_hash: Some(Sha256Hash::of(b"text")),
            body_hash: None,
            meta: None,
        }
    }

    #[test]
    fn encoding_is_length_prefixed_fields_in_order() {
        let b = EntryBody {
            kind: EntryKind::WatchAdded,
            url: "u".into(),
            version: None,
            at: "t".into(),
            content_hash: None,
            body_hash: None,
            meta: None,
        };
        let bytes = encode(1, &GENESIS, &b);
        let mut expected = Vec::new();
        for f in [
            ENCODING_TAG,
            "1",
            &"0".repeat(64),
            "watch:added",
            "u",
            "",
            "t",
            "",
            "",
        ] {
            expected.extend_from_slice(&(f.len() as u32).to_be_bytes());
            expected.extend_from_slice(f.as_bytes());
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn known_answer_for_the_documented_example() {
        // The worked example in docs/LEDGER.md.
        let b = EntryBody {
            kind: EntryKind::WatchAdded,
            url: "https://news.example/a".into(),
            version: None,
            at: "2026-01-02T03:04:05.678Z".into(),
            content_hash: None,
            body_hash: None,
            meta: None,
        };
        assert_eq!(
            Entry::chain(None, b).hash.to_hex(),
            "5c86d714efc0963e52def27257df3edebcf32d482e238c715454ea433a465e19"
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = body(EntryKind::Version, "2026-01-01T00:00:00.000Z");
        let h = entry_hash(1, &GENESIS, &base);
        let mut variants = vec![
            EntryBody {
                kind: EntryKind::Edited,
                ..base.clone()
            },
            EntryBody {
                url: "https://news.example/b".into(),
                ..base.clone()
            },
            EntryBody {
                version: Some(VersionSeq(2)),
                ..base.clone()
            },
            EntryBody {
                at: "2026-01-01T00:00:00.001Z".into(),
                ..base.clone()
            },
            EntryBody {
                content_hash: None,
                ..base.clone()
            },
            EntryBody {
                body_hash: Some(Sha256Hash::of(b"x")),
                ..base.clone()
            },
        ];
        for v in variants.drain(..) {
            assert_ne!(entry_hash(1, &GENESIS, &v), h, "{v:?}");
        }
        assert_ne!(entry_hash(2, &GENESIS, &base), h);
        assert_ne!(entry_hash(1, &Sha256Hash::of(b"p"), &base), h);
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let a = EntryBody {
            url: "ab".into(),
            at: "c".into(),
            ..body(EntryKind::Version, "")
        };
        let b = EntryBody {
            url: "a".into(),
            at: "bc".into(),
            ..a.clone()
        };
        assert_ne!(entry_hash(1, &GENESIS, &a), entry_hash(1, &GENESIS, &b));
    }

    #[test]
    fn a_chain_links_and_swaps_break_it() {
        let e1 = Entry::chain(None, body(EntryKind::Version, "1"));
        let e2 = Entry::chain(Some((e1.seq, e1.hash)), body(EntryKind::Captured, "2"));
        let e3 = Entry::chain(Some((e2.seq, e2.hash)), body(EntryKind::Edited, "3"));
        assert!(check_link(None, &e1).is_empty());
        assert!(check_link(Some(&e1), &e2).is_empty());
        assert!(check_link(Some(&e2), &e3).is_empty());
        // Swap the contents of entries 2 and 3, keeping their positions.
        let s2 = Entry {
            seq: 2,
            ..e3.clone()
        };
        assert!(!check_link(Some(&e1), &s2).is_empty());
        // A missing entry is a gap.
        assert!(
            check_link(Some(&e1), &e3)
                .iter()
                .any(|f| matches!(f, ChainFault::Gap { expected: 2, .. }))
        );
    }

    #[test]
    fn published_heads_parse_in_every_printed_form() {
        let h = Sha256Hash::of(b"h");
        let full: PublishedHead = format!("12:{h}").parse().unwrap();
        assert_eq!(full.entries, Some(12));
        assert_eq!(full.head, h);
        let bare: PublishedHead = h.to_hex().parse().unwrap();
        assert_eq!(bare.entries, None);
        let json: PublishedHead = format!("{{\"entries\":3,\"head\":\"{h}\",\"at\":\"x\"}}")
            .parse()
            .unwrap();
        assert_eq!(json.entries, Some(3));
        assert!("12:nothex".parse::<PublishedHead>().is_err());
    }

    fn v2_version() -> EntryBody {
        EntryBody {
            meta: Some(vec![
                Some(Sha256Hash::of(b"loose").to_hex()),
                Some("200".into()),
                Some("https://news.example/a".into()),
                Some("Title".into()),
                None,
                Some("2026-01-01".into()),
                None,
                Some("https://news.example/a".into()),
            ]),
            body_hash: Some(Sha256Hash::of(b"body")),
            ..body(EntryKind::Version, "2026-01-01T00:00:00.000Z")
        }
    }

    #[test]
    fn every_metadata_value_changes_the_hash_and_absent_is_not_empty() {
        let base = v2_version();
        let h = entry_hash(1, &GENESIS, &base);
        assert_ne!(
            h,
            entry_hash(
                1,
                &GENESIS,
                &EntryBody {
                    meta: None,
                    ..base.clone()
                }
            ),
            "v2 differs from v1"
        );
        let n = base.meta.as_ref().unwrap().len();
        for i in 0..n {
            let mut altered = base.clone();
            let v = &mut altered.meta.as_mut().unwrap()[i];
            *v = match v {
                Some(s) if s.is_empty() => None,
                Some(s) => Some(format!("{s}x")),
                None => Some(String::new()),
            };
            assert_ne!(entry_hash(1, &GENESIS, &altered), h, "field {i}");
        }
        let encoded = encode(1, &GENESIS, &base);
        assert_eq!(
            &encoded[4..4 + ENCODING_TAG_V2.len()],
            ENCODING_TAG_V2.as_bytes()
        );
        assert!(encoded.windows(4).any(|w| w == ABSENT.to_be_bytes()));
    }

    #[test]
    fn decoding_gives_back_the_entry_of_either_encoding() {
        for b in [v2_version(), body(EntryKind::Captured, "t")] {
            let e = Entry::chain(Some((4, Sha256Hash::of(b"p"))), b);
            let decoded = decode(&encode(e.seq, &e.prev_hash, &e.body)).unwrap();
            assert_eq!(decoded, e);
        }
        let e = Entry::chain(None, v2_version());
        let mut bytes = encode(e.seq, &e.prev_hash, &e.body);
        bytes.truncate(bytes.len() - 3);
        assert!(decode(&bytes).is_err());
    }
}
