//! The SQL of proofs: ledger entries that commit to a row's full metadata, the attestation
//! entries an upgraded archive gets, the Merkle leaves of the ledger, and the published
//! checkpoints with what timestamp authorities and witnesses answered.
//!
//! Owns reading a version or event row as the metadata an entry commits to, and the
//! `checkpoints` and `witness_state` tables. Never signs, hashes a tree or talks to the network:
//! `proof` and `publish` do, with what these functions return.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};

use super::ledger::append;
use super::{Result, Sqlite, StoreError};
use crate::pure::ledger::{Entry, EntryBody, EntryKind};
use crate::pure::model::{Sha256Hash, VersionSeq};

/// A column's value as an entry commits to it: text as is, numbers in decimal, NULL absent.
fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

const VERSION_ROW: &str = "SELECT w.url, v.seq, v.captured_at, v.content_hash, v.body_hash,
        v.loose_hash, v.http_status, v.final_url, v.title, v.byline, v.published, v.modified,
        v.canonical_url
     FROM versions v JOIN watches w ON w.id = v.watch_id WHERE v.id = ?1";

const EVENT_ROW: &str = "SELECT w.url, e.version_seq, e.at,
        e.kind, e.from_seq, e.significance, e.reverted_to, e.detail
     FROM events e JOIN watches w ON w.id = e.watch_id WHERE e.id = ?1";

/// What a `version` (or `attest:version`) entry of versions row `id` says.
fn version_body(conn: &Connection, id: i64, kind: EntryKind) -> Result<EntryBody> {
    conn.query_row(VERSION_ROW, [id], |r| {
        let hash = |i: usize| -> rusqlite::Result<Option<Sha256Hash>> {
            super::parse_col::<Sha256Hash>(r, i).map(Some)
        };
        Ok(EntryBody {
            kind,
            url: r.get(0)?,
            version: Some(VersionSeq(r.get(1)?)),
            at: r.get(2)?,
            content_hash: hash(3)?,
            body_hash: hash(4)?,
            meta: Some(
                (5..13)
                    .map(|i| r.get_ref(i).map(text_of))
                    .collect::<Result<_, _>>()?,
            ),
        })
    })
    .map_err(Into::into)
}

/// What an event (or `attest:event`) entry of events row `id` says; `None` for kinds the
/// ledger does not record.
fn event_body(conn: &Connection, id: i64, attest: bool) -> Result<Option<EntryBody>> {
    let (body, kind) = conn.query_row(EVENT_ROW, [id], |r| {
        let kind: String = r.get(3)?;
        Ok((
            EntryBody {
                kind: EntryKind::AttestEvent,
                url: r.get(0)?,
                version: r.get::<_, Option<i64>>(1)?.map(VersionSeq),
                at: r.get(2)?,
                content_hash: None,
                body_hash: None,
                meta: Some(
                    (3..8)
                        .map(|i| r.get_ref(i).map(text_of))
                        .collect::<Result<_, _>>()?,
                ),
            },
            kind,
        ))
    })?;
    let Some(entry_kind) = kind.parse().ok().and_then(EntryKind::of_event) else {
        return Ok(None);
    };
    Ok(Some(EntryBody {
        kind: if attest {
            EntryKind::AttestEvent
        } else {
            entry_kind
        },
        ..body
    }))
}

/// Records versions row `id` (just written, in the same transaction) with all its metadata.
pub(super) fn append_version(conn: &Connection, id: i64) -> Result<Entry> {
    append(conn, version_body(conn, id, EntryKind::Version)?, id)
}

/// Records events row `id` (just written, in the same transaction) with all its details.
pub(super) fn append_event(conn: &Connection, id: i64) -> Result<Option<Entry>> {
    match event_body(conn, id, false)? {
        Some(body) => append(conn, body, id).map(Some),
        None => Ok(None),
    }
}

/// Gives an archive whose entries predate metadata one attestation entry per version and event
/// it holds, in ledger order, inside the migration's transaction: the existing chain stays as
/// it was and verifies as before; from here on, each row's every column is committed to.
pub(super) fn attest(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let hook = |e: StoreError| rusqlite_migration::HookError::Hook(e.to_string());
    let recorded: Vec<(String, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT kind, row_id FROM ledger
             WHERE kind = 'version' OR kind LIKE 'event:%' ORDER BY seq",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (kind, id) in recorded {
        let body = if kind == "version" {
            tx.query_row("SELECT 1 FROM versions WHERE id = ?1", [id], |_| Ok(()))
                .optional()?
                .map(|()| version_body(tx, id, EntryKind::AttestVersion))
                .transpose()
                .map_err(hook)?
        } else {
            tx.query_row("SELECT 1 FROM events WHERE id = ?1", [id], |_| Ok(()))
                .optional()?
                .map(|()| event_body(tx, id, true))
                .transpose()
                .map_err(hook)?
                .flatten()
        };
        // A row already missing is left for `verify` to report, not papered over.
        if let Some(body) = body {
            append(tx, body, id).map_err(hook)?;
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

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        id: r.get(0)?,
        tree_size: r.get::<_, i64>(1)? as u64,
        root: super::parse_col(r, 2)?,
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

impl Sqlite {
    /// The seqs of the entries that record versions row `id`: its `version` entry first, then
    /// any `attest:version` entry.
    pub fn version_entry_seqs(&self, id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq FROM ledger WHERE kind IN ('version', 'attest:version') AND row_id = ?1
             ORDER BY seq",
        )?;
        let seqs = stmt.query_map([id], |r| r.get(0))?;
        Ok(seqs.collect::<rusqlite::Result<_>>()?)
    }

    /// The URL of a watch, as stored, and the versions row id of its version `seq`.
    pub fn version_row(
        &self,
        watch: crate::pure::model::WatchId,
        seq: VersionSeq,
    ) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT w.url, v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.id = ?1 AND v.seq = ?2",
                params![watch.0, seq.0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The id of version `seq` of the watch with this URL.
    pub fn version_id(&self, url: &str, seq: VersionSeq) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.url = ?1 AND v.seq = ?2",
                params![url, seq.0],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every versions row's metadata columns, as an entry commits to them, by row id.
    pub fn version_meta_rows(&self) -> Result<std::collections::HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows(
            "SELECT id, loose_hash, http_status, final_url, title, byline, published, modified,
                    canonical_url FROM versions",
            8,
        )
    }

    /// Every events row's detail columns, as an entry commits to them, by row id.
    pub fn event_meta_rows(&self) -> Result<std::collections::HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows(
            "SELECT id, kind, from_seq, significance, reverted_to, detail FROM events",
            5,
        )
    }

    fn meta_rows(
        &self,
        sql: &str,
        n: usize,
    ) -> Result<std::collections::HashMap<i64, Vec<Option<String>>>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            let values = (1..=n)
                .map(|i| r.get_ref(i).map(text_of))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((r.get::<_, i64>(0)?, values))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Calls `f` with every chunk's key, recorded size and actual uncompressed size (or why it
    /// cannot be read).
    pub fn scan_chunk_sizes(
        &self,
        mut f: impl FnMut(&str, i64, std::result::Result<u64, String>),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, size, data FROM chunks ORDER BY hash")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let hash: String = r.get(0)?;
            let data = r.get_ref(2)?.as_blob().unwrap_or_default();
            // The zstd frame header records the uncompressed size; decompress only without it.
            let actual = match zstd::zstd_safe::get_frame_content_size(data) {
                Ok(Some(n)) => Ok(n),
                _ => zstd::decode_all(data)
                    .map(|d| d.len() as u64)
                    .map_err(|e| format!("does not decompress: {e}")),
            };
            f(&hash, r.get(1)?, actual);
        }
        Ok(())
    }

    /// Stores a newly signed checkpoint; returns its id.
    pub fn save_checkpoint(
        &self,
        tree_size: u64,
        root: &Sha256Hash,
        note: &str,
        at: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO checkpoints (tree_size, root_hash, note, published_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![tree_size as i64, root.to_hex(), note, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records what the timestamp authority answered for checkpoint `id`.
    pub fn set_checkpoint_timestamp(
        &self,
        id: i64,
        tsa_url: &str,
        token: std::result::Result<&[u8], &str>,
    ) -> Result<()> {
        let (tok, err) = match token {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        };
        self.conn.execute(
            "UPDATE checkpoints SET tsa_url = ?2, timestamp_token = ?3, timestamp_error = ?4
             WHERE id = ?1",
            params![id, tsa_url, tok, err],
        )?;
        Ok(())
    }

    /// Replaces checkpoint `id`'s note (with the witnesses' cosignature lines added).
    pub fn set_checkpoint_note(&self, id: i64, note: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE checkpoints SET note = ?2 WHERE id = ?1",
            params![id, note],
        )?;
        Ok(())
    }

    /// The latest published checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1"),
                [],
                checkpoint_row,
            )
            .optional()?)
    }

    /// What witness `url` last accepted.
    pub fn witness_state(&self, url: &str) -> Result<Option<WitnessState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT url, tree_size, root_hash, updated_at, last_error FROM witness_state
                 WHERE url = ?1",
                [url],
                |r| {
                    Ok(WitnessState {
                        url: r.get(0)?,
                        tree_size: r.get::<_, i64>(1)? as u64,
                        root: super::parse_col(r, 2)?,
                        updated_at: r.get(3)?,
                        last_error: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records that witness `url` accepted the tree of `tree_size` leaves with `root`.
    pub fn set_witness_accepted(
        &self,
        url: &str,
        tree_size: u64,
        root: &Sha256Hash,
        at: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
             VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT (url) DO UPDATE SET tree_size = ?2, root_hash = ?3, updated_at = ?4,
                last_error = NULL",
            params![url, tree_size as i64, root.to_hex(), at],
        )?;
        Ok(())
    }

    /// Records that witness `url` refused or could not be reached.
    pub fn set_witness_error(&self, url: &str, error: &str, at: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
             VALUES (?1, 0, ?2, ?3, ?4)
             ON CONFLICT (url) DO UPDATE SET updated_at = ?3, last_error = ?4",
            params![url, Sha256Hash::of(b"").to_hex(), at, error],
        )?;
        Ok(())
    }
}
