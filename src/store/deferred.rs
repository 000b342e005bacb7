//! Deferred checks: a check not made because its host asked for a pause that outlasts the pass.
//!
//! Owns the one write a deferral makes: the watch's next due time. Never writes a check row,
//! an event, a ledger entry or the watch's status and streaks, so a deferral is invisible to
//! classification: it never breaks a deletion confirmation streak nor hides a state.

use rusqlite::params;

use super::Result;
use super::batch::SqliteBatch;
use crate::pure::model::{VersionSeq, WatchId};

impl SqliteBatch<'_> {
    /// Moves the watch's next check to `next_check_at` (RFC 3339); returns its current version.
    pub fn defer(&mut self, watch: WatchId, next_check_at: &str) -> Result<Option<VersionSeq>> {
        self.tx.execute(
            "UPDATE watches SET next_check_at = ?2 WHERE id = ?1",
            params![watch.0, next_check_at],
        )?;
        Ok(self
            .tx
            .query_row(
                "SELECT max(seq) FROM versions WHERE watch_id = ?1",
                [watch.0],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .map(VersionSeq))
    }
}
