//! Raw bodies kept without a version: pages over the extraction budget (`too_complex`).
//!
//! Owns the `unparsed_bodies` table: the body goes into `blobs` (chunked and deduplicated like
//! every body) in the transaction that records the check, and a row names the watch, the time
//! and the reason. Never decides whether a page is too complex: `budget` does.

use rusqlite::params;

use super::batch::SqliteBatch;
use super::blobs::insert_blob;
use super::{Result, Sqlite};
use crate::pure::model::{BodyHash, WatchId};

/// One kept body, for `history` and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnparsedBody {
    pub at: String,
    pub body_hash: String,
    pub size: i64,
    pub reason: String,
}

impl SqliteBatch<'_> {
    /// Keeps the raw body of a page that was not parsed, in this batch's transaction.
    pub fn keep_unparsed(
        &self,
        watch: WatchId,
        at: &str,
        hash: &BodyHash,
        raw: &[u8],
        reason: &str,
    ) -> Result<()> {
        insert_blob(&self.tx, hash, raw)?;
        self.tx.execute(
            "INSERT INTO unparsed_bodies (watch_id, at, body_hash, reason) VALUES (?1, ?2, ?3, ?4)",
            params![watch.0, at, hash.to_hex(), reason],
        )?;
        Ok(())
    }
}

impl Sqlite {
    /// The bodies kept unparsed for a watch, oldest first.
    pub fn unparsed_bodies(&self, watch: WatchId) -> Result<Vec<UnparsedBody>> {
        let mut stmt = self.conn.prepare(
            "SELECT u.at, u.body_hash, b.size, u.reason FROM unparsed_bodies u
             JOIN blobs b ON b.hash = u.body_hash WHERE u.watch_id = ?1 ORDER BY u.id",
        )?;
        let rows = stmt
            .query_map([watch.0], |r| {
                Ok(UnparsedBody {
                    at: r.get(0)?,
                    body_hash: r.get(1)?,
                    size: r.get(2)?,
                    reason: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
