//! Listings that page: the watch list read one page at a time, in id order, so a listing of a
//! million watches holds one page in memory and starts printing at once.
//!
//! Keyset pagination (`WHERE id > after ORDER BY id LIMIT n`): each page is its own short read,
//! so a slow reader of a long listing never holds a read transaction open against the writer.
//! Never writes.

use rusqlite::params;

use super::{Result, Sqlite, WatchSummary, parse_col};
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

impl Sqlite {
    /// One page of the watch list, in id order (the order of `watches`).
    pub fn watch_page(&self, page: WatchPage) -> Result<Vec<WatchSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT w.id, w.url, w.origin, w.status, w.added_at, w.removed_at, w.last_checked_at,
                    (SELECT count(*) FROM versions v WHERE v.watch_id = w.id),
                    (SELECT title FROM versions v WHERE v.watch_id = w.id ORDER BY seq DESC LIMIT 1)
             FROM watches w
             WHERE w.id > ?1 AND (?2 OR w.removed_at IS NULL)
             ORDER BY w.id
             LIMIT ?3",
        )?;
        let after = page.after.map_or(0, |id| id.0);
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after, page.include_removed, limit], |r| {
            Ok(WatchSummary {
                id: WatchId(r.get(0)?),
                url: r.get(1)?,
                origin: r.get(2)?,
                status: parse_col(r, 3)?,
                added_at: r.get(4)?,
                removed_at: r.get(5)?,
                last_checked_at: r.get(6)?,
                versions: r.get(7)?,
                title: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether anything is there to check: an active watch or an active feed.
    pub fn has_watches_or_feeds(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM watches WHERE removed_at IS NULL)
                 OR EXISTS (SELECT 1 FROM feeds WHERE removed_at IS NULL)",
            [],
            |r| r.get(0),
        )?)
    }
}
