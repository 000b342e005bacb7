//! Reading what was recorded: versions (with or without their text), events and checks.
//!
//! Never writes: `batch` records outcomes.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Result, Sqlite, StoreError, decompress_text, parse_col, parse_opt_col};
use crate::pure::model::{BodyHash, CheckKind, ContentHash, Significance, VersionSeq, WatchId};

/// A stored version without its text.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMeta {
    pub seq: VersionSeq,
    pub captured_at: String,
    pub content_hash: ContentHash,
    pub body_hash: BodyHash,
    pub http_status: u16,
    pub final_url: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<String>,
}

/// A stored version with its canonical text.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    #[serde(flatten)]
    pub meta: VersionMeta,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub kind: CheckKind,
    pub at: String,
    pub version: Option<VersionSeq>,
    pub from_version: Option<VersionSeq>,
    pub significance: Option<Significance>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub kind: CheckKind,
    pub first_at: String,
    pub last_at: String,
    pub count: i64,
    pub http_status: Option<u16>,
    pub version: Option<VersionSeq>,
    pub detail: Option<String>,
}

impl Sqlite {
    pub fn versions(&self, watch: WatchId) -> Result<Vec<VersionMeta>> {
        let mut stmt = self.conn.prepare(&format!(
            "{VERSION_META_COLUMNS} FROM versions WHERE watch_id = ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([watch.0], version_meta)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One version with its text; the latest when `seq` is `None`.
    pub fn version(&self, watch: WatchId, seq: Option<VersionSeq>) -> Result<Option<Version>> {
        let sql = format!(
            "{VERSION_META_COLUMNS}, text_zstd FROM versions
             WHERE watch_id = ?1 AND (?2 IS NULL OR seq = ?2) ORDER BY seq DESC LIMIT 1"
        );
        let row = self
            .conn
            .query_row(&sql, params![watch.0, seq.map(|s| s.0)], |r| {
                Ok((version_meta(r)?, r.get::<_, Vec<u8>>(9)?))
            })
            .optional()?;
        let Some((meta, compressed)) = row else {
            return Ok(None);
        };
        let text = decompress_text(&compressed)
            .map_err(|why| StoreError::Corrupt(format!("version {} text: {why}", meta.seq)))?;
        Ok(Some(Version { meta, text }))
    }

    pub fn events(&self, watch: WatchId) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
             FROM events WHERE watch_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([watch.0], |r| {
            Ok(EventRow {
                kind: parse_col(r, 0)?,
                at: r.get(1)?,
                version: r.get::<_, Option<i64>>(2)?.map(VersionSeq),
                from_version: r.get::<_, Option<i64>>(3)?.map(VersionSeq),
                significance: parse_opt_col(r, 4)?,
                reverted_to: r.get::<_, Option<i64>>(5)?.map(VersionSeq),
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn checks(&self, watch: WatchId) -> Result<Vec<CheckRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, first_at, last_at, CAST(count AS INTEGER), http_status, version_seq, detail
             FROM checks WHERE watch_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([watch.0], |r| {
            Ok(CheckRow {
                kind: parse_col(r, 0)?,
                first_at: r.get(1)?,
                last_at: r.get(2)?,
                count: r.get(3)?,
                http_status: r.get(4)?,
                version: r.get::<_, Option<i64>>(5)?.map(VersionSeq),
                detail: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const VERSION_META_COLUMNS: &str = "SELECT seq, captured_at, content_hash, body_hash, http_status, \
    final_url, title, byline, published";

fn version_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<VersionMeta> {
    Ok(VersionMeta {
        seq: VersionSeq(r.get(0)?),
        captured_at: r.get(1)?,
        content_hash: parse_col(r, 2)?,
        body_hash: parse_col(r, 3)?,
        http_status: r.get(4)?,
        final_url: r.get(5)?,
        title: r.get(6)?,
        byline: r.get(7)?,
        published: r.get(8)?,
    })
}
