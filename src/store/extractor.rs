//! Which extraction pipeline produced each version, and the raw body of a watch's latest
//! version for re-extraction when the pipeline has changed since.
//!
//! Owns the `versions.extractor` column (migration `0010_extractor.sql`). Never extracts
//! anything itself: `check` decides what to do with the body.

use rusqlite::OptionalExtension;
use rusqlite::params;

use std::collections::HashMap;

use super::batch::SqliteBatch;
use super::{Result, Sqlite, StoreError, decompress};
use crate::pure::model::{VersionSeq, WatchId};

/// The latest version of a watch as stored: its raw body and the pipeline that read it.
#[derive(Debug, Clone)]
pub struct LatestBody {
    pub seq: VersionSeq,
    /// `None`: stored before extractor versions were recorded.
    pub extractor: Option<String>,
    pub final_url: String,
    pub raw: Vec<u8>,
    /// The version's canonical text as stored (a wall is judged against it).
    pub text: Option<String>,
}

impl Sqlite {
    /// The feed URL each feed-found watch came from.
    pub fn feed_urls_of_watches(&self) -> Result<HashMap<WatchId, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT w.id, f.url FROM watches w JOIN feeds f ON f.id = w.feed_id
             WHERE w.removed_at IS NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((WatchId(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteBatch<'_> {
    /// The extractor version that produced the watch's latest version: `None` when the watch
    /// has no version, `Some(None)` when its latest version was stored before extractor
    /// versions were recorded.
    pub fn latest_extractor(&self, watch: WatchId) -> Result<Option<Option<String>>> {
        Ok(self
            .tx
            .query_row(
                "SELECT extractor FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                [watch.0],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?)
    }

    /// The watch's latest version with its raw body, for re-extraction.
    pub fn latest_body(&self, watch: WatchId) -> Result<Option<LatestBody>> {
        type Row = (
            i64,
            Option<String>,
            String,
            String,
            Vec<u8>,
            Option<Vec<u8>>,
        );
        let row: Option<Row> = self
            .tx
            .query_row(
                "SELECT v.seq, v.extractor, v.final_url, b.compression, b.data, v.text_zstd
                 FROM versions v JOIN blobs b ON b.hash = v.body_hash
                 WHERE v.watch_id = ?1 ORDER BY v.seq DESC LIMIT 1",
                [watch.0],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(seq, extractor, final_url, compression, data, text)| {
            Ok(LatestBody {
                seq: VersionSeq(seq),
                extractor,
                final_url,
                raw: decompress(&self.tx, &compression, &data)?,
                text: text.and_then(|t| super::blobs::decompress_text(&t).ok()),
            })
        })
        .transpose()
    }

    /// Records which extractor produced a stored version.
    pub fn set_extractor(&self, watch: WatchId, seq: VersionSeq, extractor: &str) -> Result<()> {
        let n = self.tx.execute(
            "UPDATE versions SET extractor = ?3 WHERE watch_id = ?1 AND seq = ?2",
            params![watch.0, seq.0, extractor],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {seq} of watch {} to mark",
                watch.0
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::classify::{Decision, WatchState};
    use crate::pure::model::{CheckKind, Sha256Hash, WatchStatus};
    use crate::store::Store;
    use crate::store::{Capture, CheckRecord};

    #[test]
    fn extractor_is_recorded_and_latest_body_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("a.db")).unwrap();
        let (watch, _) = store
            .add_watch("https://n.example/a", "cli", "2026-01-01T00:00:00Z")
            .unwrap();
        let raw = b"<html><body><p>Hello there, reader.</p></body></html>".to_vec();
        let capture = Capture {
            raw: raw.clone(),
            body_hash: Sha256Hash::of(&raw),
            final_url: "https://n.example/a".into(),
            title: "T".into(),
            byline: None,
            published: None,
            modified: None,
            canonical_url: None,
            canonical_text: "T\nHello there, reader.".into(),
            content_hash: Sha256Hash::of(b"T\nHello there, reader."),
            loose_hash: Sha256Hash::of(b"x"),
            packed: None,
            text_zstd: None,
        };
        let mut next = WatchState::new();
        next.status = WatchStatus::Live;
        let decision = Decision {
            kind: CheckKind::Captured,
            new_version: true,
            significance: None,
            reverted_to: None,
            next,
            detail: None,
        };
        let mut tx = store.batch().unwrap();
        assert!(tx.latest_extractor(watch).unwrap().is_none());
        tx.record(&CheckRecord {
            watch_id: watch,
            at: "2026-01-01T00:00:00Z",
            http_status: Some(200),
            decision: &decision,
            capture: Some(&capture),
            validators: None,
            next_check_at: None,
            retire: false,
        })
        .unwrap();
        assert_eq!(tx.latest_extractor(watch).unwrap(), Some(None));
        tx.set_extractor(watch, VersionSeq(1), "2").unwrap();
        assert_eq!(tx.latest_extractor(watch).unwrap(), Some(Some("2".into())));
        let latest = tx.latest_body(watch).unwrap().unwrap();
        assert_eq!(latest.raw, raw);
        assert_eq!(latest.seq, VersionSeq(1));
        assert!(tx.set_extractor(watch, VersionSeq(9), "2").is_err());
        tx.commit().unwrap();
    }
}
