//! PostgreSQL: the SQL of proofs, as `store::proofs` for SQLite: ledger entries that commit to
//! a row's full metadata, the Merkle leaves' rows, and the published checkpoints with what
//! timestamp authorities and witnesses answered.
//!
//! Never signs, hashes a tree or talks to the network: `proof` and `publish` do.

use std::collections::HashMap;

use postgres::GenericClient;

use super::{Pg, append};
use crate::pure::ledger::{Entry, EntryBody, EntryKind};
use crate::pure::model::{Sha256Hash, VersionSeq, WatchId};
use crate::store::{Result, StoreError, StoredCheckpoint, WitnessState};

/// A version row's columns as an entry commits to them: every metadata column as text (numbers
/// in decimal, as SQLite's text of an integer), NULL absent.
const VERSION_ROW: &str = "SELECT w.url, v.seq, v.captured_at, v.content_hash, v.body_hash,
        v.loose_hash, v.http_status::text, v.final_url, v.title, v.byline, v.published,
        v.modified, v.canonical_url
     FROM versions v JOIN watches w ON w.id = v.watch_id WHERE v.id = $1";

const EVENT_ROW: &str = "SELECT w.url, e.version_seq, e.at,
        e.kind, e.from_seq::text, e.significance, e.reverted_to::text, e.detail
     FROM events e JOIN watches w ON w.id = e.watch_id WHERE e.id = $1";

fn texts(r: &postgres::Row, from: usize, to: usize) -> Result<Vec<Option<String>>> {
    (from..to)
        .map(|i| r.try_get::<_, Option<String>>(i).map_err(StoreError::from))
        .collect()
}

/// What a `version` entry of versions row `id` says.
fn version_body(c: &mut impl GenericClient, id: i64) -> Result<EntryBody> {
    let r = c.query_one(VERSION_ROW, &[&id])?;
    Ok(EntryBody {
        kind: EntryKind::Version,
        url: r.try_get(0)?,
        version: Some(VersionSeq(r.try_get(1)?)),
        at: r.try_get(2)?,
        content_hash: Some(super::parse(r.try_get(3)?)?),
        body_hash: Some(super::parse(r.try_get(4)?)?),
        meta: Some(texts(&r, 5, 13)?),
    })
}

/// Records versions row `id` (just written, in the same transaction) with all its metadata.
pub(super) fn append_version(c: &mut impl GenericClient, id: i64) -> Result<Entry> {
    let body = version_body(c, id)?;
    append(c, body, id)
}

/// Records events row `id` (just written, in the same transaction) with all its details;
/// nothing for kinds the ledger does not record.
pub(super) fn append_event(c: &mut impl GenericClient, id: i64) -> Result<Option<Entry>> {
    let r = c.query_one(EVENT_ROW, &[&id])?;
    let kind: String = r.try_get(3)?;
    let Some(kind) = kind.parse().ok().and_then(EntryKind::of_event) else {
        return Ok(None);
    };
    let body = EntryBody {
        kind,
        url: r.try_get(0)?,
        version: r.try_get::<_, Option<i64>>(1)?.map(VersionSeq),
        at: r.try_get(2)?,
        content_hash: None,
        body_hash: None,
        meta: Some(texts(&r, 3, 8)?),
    };
    append(c, body, id).map(Some)
}

fn checkpoint_row(r: &postgres::Row) -> Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        id: r.try_get(0)?,
        tree_size: r.try_get::<_, i64>(1)? as u64,
        root: super::parse(r.try_get(2)?)?,
        note: r.try_get(3)?,
        published_at: r.try_get(4)?,
        tsa_url: r.try_get(5)?,
        timestamp_token: r.try_get(6)?,
        timestamp_error: r.try_get(7)?,
    })
}

impl Pg {
    pub(in crate::store) fn version_entry_seqs(&self, id: i64) -> Result<Vec<i64>> {
        self.with(|c| {
            c.query(
                "SELECT seq FROM ledger WHERE kind IN ('version', 'attest:version')
                   AND row_id = $1 ORDER BY seq",
                &[&id],
            )?
            .iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
        })
    }

    pub(in crate::store) fn version_row(
        &self,
        watch: WatchId,
        seq: VersionSeq,
    ) -> Result<Option<(String, i64)>> {
        self.with(|c| {
            c.query_opt(
                "SELECT w.url, v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.id = $1 AND v.seq = $2",
                &[&watch.0, &seq.0],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
        })
    }

    pub(in crate::store) fn version_id(&self, url: &str, seq: VersionSeq) -> Result<Option<i64>> {
        self.with(|c| {
            c.query_opt(
                "SELECT v.id FROM versions v JOIN watches w ON w.id = v.watch_id
                 WHERE w.url = $1 AND v.seq = $2",
                &[&url, &seq.0],
            )?
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .transpose()
        })
    }

    pub(in crate::store) fn version_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows(
            "SELECT id, loose_hash, http_status::text, final_url, title, byline, published,
                    modified, canonical_url FROM versions",
            8,
        )
    }

    pub(in crate::store) fn event_meta_rows(&self) -> Result<HashMap<i64, Vec<Option<String>>>> {
        self.meta_rows(
            "SELECT id, kind, from_seq::text, significance, reverted_to::text, detail FROM events",
            5,
        )
    }

    fn meta_rows(&self, sql: &str, n: usize) -> Result<HashMap<i64, Vec<Option<String>>>> {
        self.with(|c| {
            c.query(sql, &[])?
                .iter()
                .map(|r| Ok((r.try_get::<_, i64>(0)?, texts(r, 1, n + 1)?)))
                .collect()
        })
    }

    /// Calls `f` with every chunk's key, recorded size and actual uncompressed size (or why it
    /// cannot be read); chunk bytes in object storage are read from there.
    pub(in crate::store) fn scan_chunk_sizes(
        &self,
        mut f: impl FnMut(&str, i64, std::result::Result<u64, String>),
    ) -> Result<()> {
        let bucket = self.blobs.as_ref();
        self.with(|c| {
            let mut after = String::new();
            loop {
                let rows = c.query(
                    "SELECT hash, size, data FROM chunks WHERE hash > $1 ORDER BY hash LIMIT $2",
                    &[&after, &super::scan::SCAN_PAGE],
                )?;
                let Some(last) = rows.last() else {
                    return Ok(());
                };
                after = last.try_get(0)?;
                for r in &rows {
                    let hash: String = r.try_get(0)?;
                    let data: Option<Vec<u8>> = r.try_get(2)?;
                    let data = match (data, bucket) {
                        (Some(d), _) => Ok(d),
                        (None, Some(b)) => b
                            .get(&hash)
                            .map_err(|e| e.to_string())
                            .and_then(|d| d.ok_or_else(|| "missing from object storage".into())),
                        (None, None) => Err("has no data".to_string()),
                    };
                    let actual =
                        data.and_then(|d| match zstd::zstd_safe::get_frame_content_size(&d) {
                            Ok(Some(n)) => Ok(n),
                            _ => zstd::decode_all(d.as_slice())
                                .map(|d| d.len() as u64)
                                .map_err(|e| format!("does not decompress: {e}")),
                        });
                    f(&hash, r.try_get(1)?, actual);
                }
            }
        })
    }

    pub(in crate::store) fn save_checkpoint(
        &self,
        tree_size: u64,
        root: &Sha256Hash,
        note: &str,
        at: &str,
    ) -> Result<i64> {
        self.with(|c| {
            Ok(c.query_one(
                "INSERT INTO checkpoints (tree_size, root_hash, note, published_at)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[&(tree_size as i64), &root.to_hex(), &note, &at],
            )?
            .try_get(0)?)
        })
    }

    pub(in crate::store) fn set_checkpoint_timestamp(
        &self,
        id: i64,
        tsa_url: &str,
        token: std::result::Result<&[u8], &str>,
    ) -> Result<()> {
        let (tok, err) = match token {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        };
        self.with(|c| {
            c.execute(
                "UPDATE checkpoints SET tsa_url = $2, timestamp_token = $3, timestamp_error = $4
                 WHERE id = $1",
                &[&id, &tsa_url, &tok, &err],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn set_checkpoint_note(&self, id: i64, note: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE checkpoints SET note = $2 WHERE id = $1",
                &[&id, &note],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.with(|c| {
            c.query_opt(
                "SELECT id, tree_size, root_hash, note, published_at, tsa_url, timestamp_token,
                        timestamp_error
                 FROM checkpoints ORDER BY id DESC LIMIT 1",
                &[],
            )?
            .as_ref()
            .map(checkpoint_row)
            .transpose()
        })
    }

    pub(in crate::store) fn witness_state(&self, url: &str) -> Result<Option<WitnessState>> {
        self.with(|c| {
            c.query_opt(
                "SELECT url, tree_size, root_hash, updated_at, last_error FROM witness_state
                 WHERE url = $1",
                &[&url],
            )?
            .map(|r| {
                Ok(WitnessState {
                    url: r.try_get(0)?,
                    tree_size: r.try_get::<_, i64>(1)? as u64,
                    root: super::parse(r.try_get(2)?)?,
                    updated_at: r.try_get(3)?,
                    last_error: r.try_get(4)?,
                })
            })
            .transpose()
        })
    }

    pub(in crate::store) fn set_witness_accepted(
        &self,
        url: &str,
        tree_size: u64,
        root: &Sha256Hash,
        at: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
                 VALUES ($1, $2, $3, $4, NULL)
                 ON CONFLICT (url) DO UPDATE SET tree_size = $2, root_hash = $3,
                    updated_at = $4, last_error = NULL",
                &[&url, &(tree_size as i64), &root.to_hex(), &at],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn set_witness_error(
        &self,
        url: &str,
        error: &str,
        at: &str,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO witness_state (url, tree_size, root_hash, updated_at, last_error)
                 VALUES ($1, 0, $2, $3, $4)
                 ON CONFLICT (url) DO UPDATE SET updated_at = $3, last_error = $4",
                &[&url, &Sha256Hash::of(b"").to_hex(), &at, &error],
            )?;
            Ok(())
        })
    }
}
