//! `stet verify`: proves the archive is what was recorded, or names every row that is not.
//!
//! Owns the rules of verification: every blob's bytes hash to its key; every version's text
//! hashes to its `content_hash` and its raw body is stored; the ledger is an unbroken chain from
//! the genesis hash; every ledger entry agrees with the row it records, and every version, event
//! and watch has its entry; optionally, the chain still passes through a head published earlier.
//! Reads through `store` scans; never writes, never repairs.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::pure::ledger::{Entry, EntryKind, Head, PublishedHead, check_link};
use crate::pure::model::Sha256Hash;
use crate::store::{Store, StoreError};

/// One row that does not verify, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// `blobs`, `versions`, `events`, `watches` or `ledger`.
    pub table: &'static str,
    /// The row: its id (`versions`, `events`, `watches`), hash key (`blobs`) or seq (`ledger`).
    pub row: String,
    /// What the row is, for a person: "v2 of https://...".
    pub what: String,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}", self.table, self.row)?;
        if !self.what.is_empty() {
            write!(f, " ({})", self.what)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What was checked, and what failed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub blobs: usize,
    pub versions: usize,
    pub events: usize,
    pub entries: usize,
    /// The head of the stored chain (`None` when the ledger is empty).
    pub head: Option<Head>,
    /// The published head checked with `--against`, when one was given.
    pub against: Option<String>,
    pub failures: Vec<Failure>,
}

struct VersionFacts {
    url: Option<String>,
    seq: i64,
    captured_at: String,
    content_hash: String,
    body_hash: String,
}

/// Verifies the whole archive; `against` is a head published earlier that the chain must extend.
pub fn verify(store: &Store, against: Option<PublishedHead>) -> Result<Report, StoreError> {
    let mut failures = Vec::new();
    let mut fail = |table: &'static str, row: String, what: String, reason: String| {
        failures.push(Failure {
            table,
            row,
            what,
            reason,
        })
    };

    // 1. Raw bodies.
    let mut blobs = 0;
    store.scan_blobs(|b| {
        blobs += 1;
        match b.data {
            Err(e) => fail("blobs", b.hash, "raw body".into(), e.to_string()),
            Ok(data) => {
                let actual = Sha256Hash::of(&data).to_hex();
                if actual != b.hash {
                    fail(
                        "blobs",
                        b.hash,
                        "raw body".into(),
                        format!("the stored bytes hash to {actual}, not to the blob's key"),
                    );
                } else if data.len() as i64 != b.size {
                    fail(
                        "blobs",
                        b.hash,
                        "raw body".into(),
                        format!("{} bytes stored, size says {}", data.len(), b.size),
                    );
                }
            }
        }
    })?;

    // 1b. Chunks: each one's recorded size is its bytes' (its bytes are checked through the
    // blobs that hold it).
    store.scan_chunk_sizes(|hash, size, actual| match actual {
        Ok(n) if n as i64 == size => {}
        Ok(n) => fail(
            "chunks",
            hash.to_string(),
            "raw body chunk".into(),
            format!("{n} bytes stored, size says {size}"),
        ),
        Err(e) => fail("chunks", hash.to_string(), "raw body chunk".into(), e),
    })?;

    // 2. Versions: texts and the presence of their bodies.
    let mut versions: HashMap<i64, VersionFacts> = HashMap::new();
    store.scan_versions(|v| {
        let what = describe(v.seq, v.url.as_deref());
        match &v.text {
            Err(e) => fail("versions", v.id.to_string(), what.clone(), e.clone()),
            Ok(text) => {
                let actual = Sha256Hash::of(text.as_bytes()).to_hex();
                if actual != v.content_hash {
                    fail(
                        "versions",
                        v.id.to_string(),
                        what.clone(),
                        format!(
                            "the stored text hashes to {actual}, but content_hash is {}",
                            v.content_hash
                        ),
                    );
                }
            }
        }
        if !v.blob_exists {
            fail(
                "versions",
                v.id.to_string(),
                what,
                format!("its raw body {} is not stored", v.body_hash),
            );
        }
        versions.insert(
            v.id,
            VersionFacts {
                url: v.url,
                seq: v.seq,
                captured_at: v.captured_at,
                content_hash: v.content_hash,
                body_hash: v.body_hash,
            },
        );
    })?;
    let version_count = versions.len();

    let events: HashMap<i64, _> = store.event_rows()?.into_iter().map(|e| (e.id, e)).collect();
    let event_count = events.len();
    let watches: HashMap<i64, String> = store
        .watch_rows()?
        .into_iter()
        .map(|(id, url)| (id.0, url))
        .collect();
    let mut watches_added: HashSet<i64> = HashSet::new();
    let version_meta = store.version_meta_rows()?;
    let event_meta = store.event_meta_rows()?;
    let mut versions_recorded: HashSet<i64> = HashSet::new();
    let mut versions_covered: HashSet<i64> = HashSet::new();
    let mut events_recorded: HashSet<i64> = HashSet::new();
    let mut events_covered: HashSet<i64> = HashSet::new();

    // 3. The chain, and each entry against the row it records.
    let rows = store.ledger_rows()?;
    let mut prev: Option<Entry> = None;
    let mut chain: Vec<(i64, Sha256Hash)> = Vec::with_capacity(rows.len());
    for row in &rows {
        let entry = match &row.entry {
            Ok(e) => e.clone(),
            Err(e) => {
                fail(
                    "ledger",
                    row.seq.to_string(),
                    String::new(),
                    format!("unreadable entry: {e}"),
                );
                continue;
            }
        };
        let what = format!("{} of {}", entry.body.kind, entry.body.url);
        for fault in check_link(prev.as_ref(), &entry) {
            fail(
                "ledger",
                entry.seq.to_string(),
                what.clone(),
                fault.to_string(),
            );
        }
        chain.push((entry.seq, entry.hash));
        let b = &entry.body;
        // The metadata a v2 entry commits to, column by column.
        let check_meta =
            |table: &'static str,
             stored: Option<&Vec<Option<String>>>,
             fail: &mut dyn FnMut(&'static str, String, String, String)| {
                let Some(stored) = stored else { return };
                for (i, (column, entered)) in b.meta_pairs().into_iter().enumerate() {
                    let value = stored.get(i).cloned().flatten();
                    if value.as_deref() != entered {
                        fail(
                            table,
                            row.row_id.to_string(),
                            format!("ledger entry {}: {what}", entry.seq),
                            format!(
                                "{column} is {}, but the ledger entry says {}",
                                show(value.as_deref()),
                                show(entered)
                            ),
                        );
                    }
                }
            };
        match b.kind {
            EntryKind::Version | EntryKind::AttestVersion => {
                match versions.get(&row.row_id) {
                    None => fail(
                        "versions",
                        row.row_id.to_string(),
                        describe_opt(b.version.map(|v| v.0), Some(&b.url)),
                        format!(
                            "ledger entry {} records this version, but the row is missing",
                            entry.seq
                        ),
                    ),
                    Some(v) => {
                        if b.kind == EntryKind::Version && !versions_recorded.insert(row.row_id) {
                            fail(
                                "versions",
                                row.row_id.to_string(),
                                describe(v.seq, v.url.as_deref()),
                                format!(
                                    "ledger entry {} records this version a second time",
                                    entry.seq
                                ),
                            );
                        }
                        let mut mismatch =
                            |table: &'static str, field: &str, stored: &str, entered: &str| {
                                if stored != entered {
                                    fail(
                                        table,
                                        row.row_id.to_string(),
                                        format!("ledger entry {}: {what}", entry.seq),
                                        format!(
                                            "{field} is {stored:?}, but the ledger entry says {entered:?}"
                                        ),
                                    );
                                }
                            };
                        mismatch("versions", "url", v.url.as_deref().unwrap_or(""), &b.url);
                        mismatch(
                            "versions",
                            "seq",
                            &v.seq.to_string(),
                            &b.version.map(|s| s.0.to_string()).unwrap_or_default(),
                        );
                        mismatch("versions", "captured_at", &v.captured_at, &b.at);
                        mismatch(
                            "versions",
                            "content_hash",
                            &v.content_hash,
                            &b.content_hash.map(|h| h.to_hex()).unwrap_or_default(),
                        );
                        mismatch(
                            "versions",
                            "body_hash",
                            &v.body_hash,
                            &b.body_hash.map(|h| h.to_hex()).unwrap_or_default(),
                        );
                        if b.meta.is_some() {
                            versions_covered.insert(row.row_id);
                            check_meta("versions", version_meta.get(&row.row_id), &mut fail);
                        }
                    }
                }
            }
            EntryKind::WatchAdded | EntryKind::WatchRemoved => {
                if b.kind == EntryKind::WatchAdded {
                    watches_added.insert(row.row_id);
                }
                match watches.get(&row.row_id) {
                    None => fail(
                        "watches",
                        row.row_id.to_string(),
                        b.url.clone(),
                        format!(
                            "ledger entry {} records this watch, but the row is missing",
                            entry.seq
                        ),
                    ),
                    Some(url) if url != &b.url => fail(
                        "watches",
                        row.row_id.to_string(),
                        format!("ledger entry {}: {what}", entry.seq),
                        format!("url is {url:?}, but the ledger entry says {:?}", b.url),
                    ),
                    Some(_) => {}
                }
            }
            kind => {
                match events.get(&row.row_id) {
                    None => fail(
                        "events",
                        row.row_id.to_string(),
                        format!(
                            "{} of {}",
                            kind.event_kind().map_or("", |k| k.as_str()),
                            b.url
                        ),
                        format!(
                            "ledger entry {} records this event, but the row is missing",
                            entry.seq
                        ),
                    ),
                    Some(e) => {
                        if kind != EntryKind::AttestEvent && !events_recorded.insert(row.row_id) {
                            fail(
                                "events",
                                row.row_id.to_string(),
                                format!("{} of {}", e.kind, b.url),
                                format!(
                                    "ledger entry {} records this event a second time",
                                    entry.seq
                                ),
                            );
                        }
                        let mut mismatch =
                            |table: &'static str, field: &str, stored: &str, entered: &str| {
                                if stored != entered {
                                    fail(
                                        table,
                                        row.row_id.to_string(),
                                        format!("ledger entry {}: {what}", entry.seq),
                                        format!(
                                            "{field} is {stored:?}, but the ledger entry says {entered:?}"
                                        ),
                                    );
                                }
                            };
                        mismatch("events", "url", e.url.as_deref().unwrap_or(""), &b.url);
                        if kind != EntryKind::AttestEvent {
                            mismatch(
                                "events",
                                "kind",
                                &e.kind,
                                kind.event_kind().map_or("", |k| k.as_str()),
                            );
                        }
                        mismatch("events", "at", &e.at, &b.at);
                        mismatch(
                            "events",
                            "version_seq",
                            &e.version_seq.map(|s| s.to_string()).unwrap_or_default(),
                            &b.version.map(|s| s.0.to_string()).unwrap_or_default(),
                        );
                        if b.meta.is_some() {
                            events_covered.insert(row.row_id);
                            check_meta("events", event_meta.get(&row.row_id), &mut fail);
                        }
                    }
                }
            }
        }
        prev = Some(entry);
    }

    // 4. Rows that no entry records (added behind the ledger's back), or whose metadata no
    // entry commits to.
    let mut ids: Vec<_> = versions.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let v = &versions[&id];
        if !versions_recorded.contains(&id) {
            fail(
                "versions",
                id.to_string(),
                describe(v.seq, v.url.as_deref()),
                "no ledger entry records this version".into(),
            );
        } else if !versions_covered.contains(&id) {
            fail(
                "versions",
                id.to_string(),
                describe(v.seq, v.url.as_deref()),
                format!(
                    "no ledger entry commits to this version's metadata ({})",
                    crate::pure::ledger::VERSION_META.join(", ")
                ),
            );
        }
    }
    let mut ids: Vec<_> = events.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let e = &events[&id];
        let what = format!("{} of {}", e.kind, e.url.as_deref().unwrap_or("?"));
        if !events_recorded.contains(&id) {
            fail(
                "events",
                id.to_string(),
                what,
                "no ledger entry records this event".into(),
            );
        } else if !events_covered.contains(&id) {
            fail(
                "events",
                id.to_string(),
                what,
                format!(
                    "no ledger entry commits to this event's details ({})",
                    crate::pure::ledger::EVENT_META.join(", ")
                ),
            );
        }
    }
    let mut ids: Vec<_> = watches.keys().copied().collect();
    ids.sort_unstable();
    for id in ids.into_iter().filter(|id| !watches_added.contains(id)) {
        fail(
            "watches",
            id.to_string(),
            watches[&id].clone(),
            "no ledger entry records that this URL was added".into(),
        );
    }

    // 5. The published head, if any.
    if let Some(published) = against {
        let found = match published.entries {
            Some(n) => chain.iter().find(|(seq, _)| *seq == n),
            None => chain.iter().find(|(_, h)| *h == published.head),
        };
        match found {
            Some((_, hash)) if *hash == published.head => {}
            Some((seq, hash)) => fail(
                "ledger",
                seq.to_string(),
                "published head".into(),
                format!(
                    "the head published as entry {seq} was {}, but entry {seq} is now {hash}: \
                     the archive no longer extends it",
                    published.head
                ),
            ),
            None => fail(
                "ledger",
                published
                    .entries
                    .map_or_else(|| "?".into(), |n| n.to_string()),
                "published head".into(),
                format!(
                    "the published head {} is not in this archive's ledger ({} entries)",
                    published.head,
                    chain.len()
                ),
            ),
        }
    }

    let head = store.ledger_head()?;
    Ok(Report {
        ok: failures.is_empty(),
        blobs,
        versions: version_count,
        events: event_count,
        entries: rows.len(),
        head,
        against: against.map(|p| match p.entries {
            Some(n) => format!("{n}:{}", p.head),
            None => p.head.to_hex(),
        }),
        failures,
    })
}

/// A stored or entered value for a failure message: quoted, or NULL.
fn show(v: Option<&str>) -> String {
    v.map_or_else(|| "NULL".to_string(), |s| format!("{s:?}"))
}

fn describe(seq: i64, url: Option<&str>) -> String {
    format!("v{seq} of {}", url.unwrap_or("a missing watch"))
}

fn describe_opt(seq: Option<i64>, url: Option<&str>) -> String {
    seq.map_or_else(|| url.unwrap_or_default().to_string(), |s| describe(s, url))
}

/// Checks a signed checkpoint published earlier against the archive: its signature by `key`,
/// then a consistency proof from the checkpoint's tree to the ledger's tree today. Each problem
/// is one failure of the `ledger` table.
pub fn against_checkpoint(
    store: &Store,
    note: &str,
    key: &crate::pure::note::Verifier,
) -> Result<Vec<Failure>, StoreError> {
    let fail = |row: String, reason: String| Failure {
        table: "ledger",
        row,
        what: "published checkpoint".into(),
        reason,
    };
    let cp = match crate::pure::proof::Checkpoint::open(note, key) {
        Ok(cp) => cp,
        Err(e) => return Ok(vec![fail("?".into(), e.to_string())]),
    };
    let tree = match crate::app::publish::current_tree(store) {
        Ok(t) => t,
        // An unreadable entry is reported by the chain check; no tree can be built over it.
        Err(e) => {
            return Ok(vec![fail(
                cp.size.to_string(),
                format!("no Merkle tree: {e}"),
            )]);
        }
    };
    if cp.size > tree.size() {
        return Ok(vec![fail(
            cp.size.to_string(),
            format!(
                "the checkpoint signs a tree of {} entries, but the ledger has only {}: \
                 entries were removed",
                cp.size,
                tree.size()
            ),
        )]);
    }
    let root = tree.root();
    let proof = tree
        .consistency(cp.size, tree.size())
        .expect("the size was checked");
    match crate::pure::merkle::verify_consistency(cp.size, tree.size(), &cp.root, &root, &proof) {
        Ok(()) => Ok(Vec::new()),
        Err(e) => Ok(vec![fail(
            cp.size.to_string(),
            format!(
                "the archive no longer extends the checkpoint of {} entries (root {}): the \
                 consistency proof to today's tree of {} fails: {e}",
                cp.size,
                cp.root,
                tree.size()
            ),
        )]),
    }
}
