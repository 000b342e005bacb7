//! The SQL of proofs, written once for both backends: ledger entries that commit to a row's
//! full metadata, the attestation entries an upgraded archive gets, the rows `verify` compares
//! with them, and the published checkpoints with what timestamp authorities and witnesses
//! answered.
//!
//! Owns reading a version or event row as the metadata an entry commits to: one column list
//! ([`crate::pure::ledger::VERSION_META`], [`crate::pure::ledger::EVENT_META`]) and one text form
//! ([`Value::text`]), and the one list of columns entries do not commit to
//! ([`EXEMPT_COLUMNS`]). Owns the `checkpoints` and `witness_state` tables. Never signs, hashes
//! a tree or talks to the network: `proof` and `publish` do, with what these functions return.

use std::collections::HashMap;

use super::ledger::append;
use super::sql::{Row, Tx, Value};
use super::{Result, Store};
use crate::pure::ledger::{EVENT_META, Entry, EntryBody, EntryKind, VERSION_META};
use crate::pure::model::{Sha256Hash, VersionSeq, WatchId};

/// The `versions` columns a version entry's fixed fields commit to (the watch's URL aside),
/// before its metadata ([`VERSION_META`]).
const VERSION_HEAD: [&str; 4] = ["seq", "captured_at", "content_hash", "body_hash"];

/// The `events` columns an event entry's fixed fields commit to, before its metadata
/// ([`EVENT_META`]).
const EVENT_HEAD: [&str; 2] = ["version_seq", "at"];

/// Every column of `versions` an entry commits to, fixed fields then metadata.
pub fn version_columns() -> Vec<&'static str> {
    [&VERSION_HEAD[..], &VERSION_META[..]].concat()
}

/// Every column of `events` an entry commits to, fixed fields then metadata.
pub fn event_columns() -> Vec<&'static str> {
    [&EVENT_HEAD[..], &EVENT_META[..]].concat()
}

/// The columns of the recorded tables that no entry commits to, each with the reason. The
/// ledger's tamper test reads every column from the schema: one neither committed to, nor
/// checked by `verify` some other way, nor listed here fails it.
pub const EXEMPT_COLUMNS: &[(&str, &str, &str)] = &[(
    "versions",
    "extractor",
    "which extraction pipeline read a version is bookkeeping for the next check (a changed \
     pipeline re-reads the stored body), not a claim about the page; it is set after the \
     version's entry is written",
)];

/// `SELECT w.url, <columns>` of one row of `table` (alias `t`) by id.
fn row_sql(table: &str, columns: &[&str]) -> String {
    format!(
        "SELECT w.url, t.{} FROM {table} t JOIN watches w ON w.id = t.watch_id WHERE t.id = ?1",
        columns.join(", t.")
    )
}

/// What a `version` (or `attest:version`) entry of versions row `id` says.
fn version_body(tx: &mut dyn Tx, id: i64, kind: EntryKind) -> Result<EntryBody> {
    let r = tx.query_one(&row_sql("versions", &version_columns()), &[&id])?;
    Ok(EntryBody {
        kind,
        url: r.get(0)?,
        version: Some(VersionSeq(r.get(1)?)),
        at: r.get(2)?,
        content_hash: Some(r.parse(3)?),
        body_hash: Some(r.parse(4)?),
        meta: Some(r.texts(5)),
    })
}

/// What an event (or `attest:event`) entry of events row `id` says; `None` for kinds the
/// ledger does not record.
fn event_body(tx: &mut dyn Tx, id: i64, attest: bool) -> Result<Option<EntryBody>> {
    let r = tx.query_one(&row_sql("events", &event_columns()), &[&id])?;
    let kind: String = r.get(3)?;
    let Some(entry_kind) = kind.parse().ok().and_then(EntryKind::of_event) else {
        return Ok(None);
    };
    Ok(Some(EntryBody {
        kind: if attest {
            EntryKind::AttestEvent
        } else {
            entry_kind
        },
        url: r.get(0)?,
        version: r.get::<Option<i64>>(1)?.map(VersionSeq),
        at: r.get(2)?,
        content_hash: None,
        body_hash: None,
        meta: Some(r.texts(3)),
    }))
}

/// Records versions row `id` (just written, in the same transaction) with all its metadata.
pub(super) fn append_version(tx: &mut dyn Tx, id: i64) -> Result<Entry> {
    let body = version_body(tx, id, EntryKind::Version)?;
    append(tx, body, id)
}

/// Records events row `id` (just written, in the same transaction) with all its details.
pub(super) fn append_event(tx: &mut dyn Tx, id: i64) -> Result<Option<Entry>> {
    match event_body(tx, id, false)? {
        Some(body) => append(tx, body, id).map(Some),
        None => Ok(None),
    }
}

/// Gives an archive whose entries predate metadata one attestation entry per version and event
/// it holds, in ledger order, inside the migration's transaction: the existing chain stays as
/// it was and verifies as before; from here on, each row's every column is committed to.
pub(super) fn attest(tx: &mut dyn Tx) -> Result<()> {
    let recorded = tx.query(
        "SELECT kind, row_id FROM ledger
         WHERE kind = 'version' OR kind LIKE 'event:%' ORDER BY seq",
        &[],
    )?;
    for r in recorded {
        let (kind, id): (String, i64) = (r.get(0)?, r.get(1)?);
        let (table, version) = (
            if kind == "version" {
                "versions"
            } else {
                "events"
            },
            kind == "version",
        );
        let exists = tx
            .query_opt(&format!("SELECT 1 FROM {table} WHERE id = ?1"), &[&id])?
            .is_some();
        // A row already missing is left for `verify` to report, not papered over.
        let body = match (exists, version) {
            (false, _) => None,
            (true, true) => Some(version_body(tx, id, EntryKind::AttestVersion)?),
            (true, false) => event_body(tx, id, true)?,
        };
        if let Some(body) = body {
            append(tx, body, id)?;
        }
    }
    Ok(())
}

/// A checkpoint as published and stored.
#[derive(Debug, Clone)]
pub struct StoredCheckpoint {
    pub id: i64,
    pub tree_size: u64,
    pub root: Sha256Hash,
    /// The signed note, with any witness cosignature lines.
    pub note: String,
    pub published_at: String,
    pub tsa_url: Option<String>,
    pub timestamp_token: Option<Vec<u8>>,
    pub timestamp_error: Option<String>,
}

fn checkpoint_row(r: &Row) -> Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        id: r.get(0)?,
        tree_size: r.get::<i64>(1)? as u64,
        root: r.parse(2)?,
        note: r.get(3)?,
        published_at: r.get(4)?,
        tsa_url: r.get(5)?,
        timestamp_token: r.get(6)?,
        timestamp_error: r.get(7)?,
    })
}

const CHECKPOINT_COLUMNS: &str = "id, tree_size, root_hash, note, published_at, tsa_url,
    timestamp_token, timestamp_error";

/// What a witness last accepted.
#[derive(Debug, Clone)]
pub struct WitnessState {
    pub url: String,
    pub tree_size: u64,
    pub root: Sha256Hash,
    pub updated_at: String,
    pub last_error: Option<String>,
}

impl Store {
    /// The seqs of the entries that record versions row `id`: its `version` entry first, then
    /// any `attest:version` entry.
    pub fn version_entry_seqs(&self, id: i64) -> Result<Vec<i64>> {
        self.with(|tx| {
            tx.query(
                "SELECT seq FROM ledger WHERE kind IN ('version', 'attest:version')
                   AND row_id = ?1 ORDER BY seq",
                &[&id],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// The URL of a watch, as stored, and the versions row id of its version `seq`.
    pub fn version_row(&self, watch: WatchId, seq: VersionSeq) -> Result<Option<(String, i64)>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT w.url, v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.id = ?1 AND v.seq = ?2",
                &[&watch.0, &seq.0],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
        })
    }

    /// The id of version `seq` of the watch with this URL.
    pub fn version_id(&self, url: &str, seq: VersionSeq) -> Result<Option<i64>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.url = ?1 AND v.seq = ?2",
                &[&url, &seq.0],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
    }

    /// Every versions row's metadata columns, as an entry commits to them, by row id.
    pub fn version_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows("versions", &VERSION_META)
    }

    /// Every events row's detail columns, as an entry commits to them, by row id.
    pub fn event_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows("events", &EVENT_META)
    }

    fn meta_rows(&self, table: &str, meta: &[&str]) -> Result<HashMap<i64, Vec<Option<String>>>> {
        let sql = format!("SELECT id, {} FROM {table}", meta.join(", "));
        self.with(|tx| {
            tx.query(&sql, &[])?
                .iter()
                .map(|r| Ok((r.get(0)?, r.texts(1))))
                .collect()
        })
    }

    /// Calls `f` with every chunk's key, recorded size and actual uncompressed size (or why it
    /// cannot be read); chunk bytes in object storage are read from there.
    pub fn scan_chunk_sizes(
        &self,
        mut f: impl FnMut(&str, i64, std::result::Result<u64, String>),
    ) -> Result<()> {
        let bucket = self.bucket();
        self.with(|tx| {
            let mut after = String::new();
            loop {
                let rows = tx.query(
                    "SELECT hash, size, data FROM chunks WHERE hash > ?1 ORDER BY hash LIMIT ?2",
                    &[&after, &super::ledger::SCAN_PAGE],
                )?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in rows {
                    let hash: String = r.get(0)?;
                    let data = match (r.get::<Option<Vec<u8>>>(2)?, bucket) {
                        (Some(d), _) => Ok(d),
                        (None, Some(b)) => b
                            .get(&hash)
                            .map_err(|e| e.to_string())
                            .and_then(|d| d.ok_or_else(|| "missing from object storage".into())),
                        (None, None) => Err("has no data".to_string()),
                    };
                    // The zstd frame header records the uncompressed size; decompress only
                    // without it.
                    let actual =
                        data.and_then(|d| match zstd::zstd_safe::get_frame_content_size(&d) {
                            Ok(Some(n)) => Ok(n),
                            _ => zstd::decode_all(d.as_slice())
                                .map(|d| d.len() as u64)
                                .map_err(|e| format!("does not decompress: {e}")),
                        });
                    f(&hash, r.get(1)?, actual);
                    after = hash;
                }
            }
        })
    }

    /// Stores a newly signed checkpoint; returns its id.
    pub fn save_checkpoint(
        &self,
        tree_size: u64,
        root: &Sha256Hash,
        note: &str,
        at: &str,
    ) -> Result<i64> {
        self.with(|tx| {
            tx.insert_id(
                "INSERT INTO checkpoints (tree_size, root_hash, note, published_at)
                 VALUES (?1, ?2, ?3, ?4)",
                &[&(tree_size as i64), &root.to_hex(), &note, &at],
            )
        })
    }

    /// Records what the timestamp authority answered for checkpoint `id`.
    pub fn set_checkpoint_timestamp(
        &self,
        id: i64,
        tsa_url: &str,
        token: std::result::Result<&[u8], &str>,
    ) -> Result<()> {
        let (tok, err) = match token {
            Ok(t) => (Some(Value::Blob(t.to_vec())), None),
            Err(e) => (None, Some(e)),
        };
        self.with(|tx| {
            tx.execute(
                "UPDATE checkpoints SET tsa_url = ?2, timestamp_token = ?3, timestamp_error = ?4
                 WHERE id = ?1",
                &[&id, &tsa_url, &tok, &err],
            )
        })?;
        Ok(())
    }

    /// Replaces checkpoint `id`'s note (with the witnesses' cosignature lines added).
    pub fn set_checkpoint_note(&self, id: i64, note: &str) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "UPDATE checkpoints SET note = ?2 WHERE id = ?1",
                &[&id, &note],
            )
        })?;
        Ok(())
    }

    /// The latest published checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.with(|tx| {
            tx.query_opt(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1"),
                &[],
            )?
            .as_ref()
            .map(checkpoint_row)
            .transpose()
        })
    }

    /// What witness `url` last accepted.
    pub fn witness_state(&self, url: &str) -> Result<Option<WitnessState>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT url, tree_size, root_hash, updated_at, last_error FROM witness_state
                 WHERE url = ?1",
                &[&url],
            )?
            .map(|r| {
                Ok(WitnessState {
                    url: r.get(0)?,
                    tree_size: r.get::<i64>(1)? as u64,
                    root: r.parse(2)?,
                    updated_at: r.get(3)?,
                    last_error: r.get(4)?,
                })
            })
            .transpose()
        })
    }

    /// Records that witness `url` accepted the tree of `tree_size` leaves with `root`.
    pub fn set_witness_accepted(
        &self,
        url: &str,
        tree_size: u64,
        root: &Sha256Hash,
        at: &str,
    ) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT (url) DO UPDATE SET tree_size = ?2, root_hash = ?3,
                    updated_at = ?4, last_error = NULL",
                &[&url, &(tree_size as i64), &root.to_hex(), &at],
            )
        })?;
        Ok(())
    }

    /// Records that witness `url` refused or could not be reached.
    pub fn set_witness_error(&self, url: &str, error: &str, at: &str) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
                 VALUES (?1, 0, ?2, ?3, ?4)
                 ON CONFLICT (url) DO UPDATE SET updated_at = ?3, last_error = ?4",
                &[&url, &Sha256Hash::of(b"").to_hex(), &at, &error],
            )
        })?;
        Ok(())
    }
}
