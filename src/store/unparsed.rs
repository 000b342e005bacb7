//! Raw bodies kept without a version: pages over the extraction budget (`too_complex`).
//!
//! Owns the `unparsed_bodies` table: `Batch::keep_unparsed` writes the body into `blobs`
//! (chunked and deduplicated like every body) in the transaction that records the check, with a
//! row naming the watch, the time and the reason. Never decides whether a page is too complex: `budget` does.

use super::{Result, Store};
use crate::pure::model::WatchId;

/// One kept body, for `history` and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnparsedBody {
    pub at: String,
    pub body_hash: String,
    pub size: i64,
    pub reason: String,
}

impl Store {
    /// The bodies kept unparsed for a watch, oldest first.
    pub fn unparsed_bodies(&self, watch: WatchId) -> Result<Vec<UnparsedBody>> {
        self.with(|tx| {
            tx.query(
                "SELECT u.at, u.body_hash, b.size, u.reason FROM unparsed_bodies u
                 JOIN blobs b ON b.hash = u.body_hash WHERE u.watch_id = ?1 ORDER BY u.id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(UnparsedBody {
                    at: r.get(0)?,
                    body_hash: r.get(1)?,
                    size: r.get(2)?,
                    reason: r.get(3)?,
                })
            })
            .collect()
        })
    }
}
