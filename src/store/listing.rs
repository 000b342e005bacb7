//! Listings that page: the watch list read one page at a time, in id order, so a listing of a
//! million watches holds one page in memory and starts printing at once.
//!
//! Keyset pagination (`WHERE id > after ORDER BY id LIMIT n`): each page is its own short read,
//! so a slow reader of a long listing never holds a read transaction open against the writer.
//! Never writes.

use super::watches::{SUMMARY_COLUMNS, summary};
use super::{Result, Store, WatchSummary};
use crate::pure::model::WatchId;

/// Which watches one page holds.
#[derive(Debug, Clone, Copy)]
pub struct WatchPage {
    /// Only watches whose id is greater than this one (the last id of the previous page).
    pub after: Option<WatchId>,
    /// At most this many watches.
    pub limit: usize,
    /// Include watches that were removed.
    pub include_removed: bool,
}

impl Store {
    /// One page of the watch list, in id order (the order of `watches`).
    pub fn watch_page(&self, page: WatchPage) -> Result<Vec<WatchSummary>> {
        let after = page.after.map_or(0, |id| id.0);
        self.with(|tx| {
            tx.query(
                &format!(
                    "SELECT {SUMMARY_COLUMNS} FROM watches w
                     WHERE w.id > ?1 AND (?2 OR w.removed_at IS NULL)
                     ORDER BY w.id LIMIT ?3"
                ),
                &[&after, &page.include_removed, &page.limit],
            )?
            .iter()
            .map(summary)
            .collect()
        })
    }
}
