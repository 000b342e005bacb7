//! Reading what was recorded: versions (with or without their text), events and checks.
//!
//! Written once for both backends. Never writes: `record` records outcomes.

use serde::Serialize;

use super::sql::Row;
use super::{Result, Store, StoreError, decompress_text};
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

impl Store {
    pub fn versions(&self, watch: WatchId) -> Result<Vec<VersionMeta>> {
        self.with(|tx| {
            tx.query(
                &format!("{VERSION_META_COLUMNS} FROM versions WHERE watch_id = ?1 ORDER BY seq"),
                &[&watch.0],
            )?
            .iter()
            .map(version_meta)
            .collect()
        })
    }

    /// One version with its text; the latest when `seq` is `None`.
    pub fn version(&self, watch: WatchId, seq: Option<VersionSeq>) -> Result<Option<Version>> {
        let sql = format!(
            "{VERSION_META_COLUMNS}, text_zstd FROM versions
             WHERE watch_id = ?1 AND (CAST(?2 AS BIGINT) IS NULL OR seq = ?2)
             ORDER BY seq DESC LIMIT 1"
        );
        let Some(row) = self.with(|tx| tx.query_opt(&sql, &[&watch.0, &seq.map(|s| s.0)]))? else {
            return Ok(None);
        };
        let meta = version_meta(&row)?;
        let text = decompress_text(&row.get::<Vec<u8>>(9)?)
            .map_err(|why| StoreError::Corrupt(format!("version {} text: {why}", meta.seq)))?;
        Ok(Some(Version { meta, text }))
    }

    pub fn events(&self, watch: WatchId) -> Result<Vec<EventRow>> {
        self.with(|tx| {
            tx.query(
                "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
                 FROM events WHERE watch_id = ?1 ORDER BY id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(EventRow {
                    kind: r.parse(0)?,
                    at: r.get(1)?,
                    version: r.get::<Option<i64>>(2)?.map(VersionSeq),
                    from_version: r.get::<Option<i64>>(3)?.map(VersionSeq),
                    significance: r.parse_opt(4)?,
                    reverted_to: r.get::<Option<i64>>(5)?.map(VersionSeq),
                    detail: r.get(6)?,
                })
            })
            .collect()
        })
    }

    pub fn checks(&self, watch: WatchId) -> Result<Vec<CheckRow>> {
        self.with(|tx| {
            tx.query(
                "SELECT kind, first_at, last_at, CAST(count AS BIGINT), http_status, version_seq,
                        detail
                 FROM checks WHERE watch_id = ?1 ORDER BY id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(CheckRow {
                    kind: r.parse(0)?,
                    first_at: r.get(1)?,
                    last_at: r.get(2)?,
                    count: r.get(3)?,
                    http_status: r.get(4)?,
                    version: r.get::<Option<i64>>(5)?.map(VersionSeq),
                    detail: r.get(6)?,
                })
            })
            .collect()
        })
    }
}

const VERSION_META_COLUMNS: &str = "SELECT seq, captured_at, content_hash, body_hash, http_status, \
    final_url, title, byline, published";

fn version_meta(r: &Row) -> Result<VersionMeta> {
    Ok(VersionMeta {
        seq: VersionSeq(r.get(0)?),
        captured_at: r.get(1)?,
        content_hash: r.parse(2)?,
        body_hash: r.parse(3)?,
        http_status: r.get(4)?,
        final_url: r.get(5)?,
        title: r.get(6)?,
        byline: r.get(7)?,
        published: r.get(8)?,
    })
}
