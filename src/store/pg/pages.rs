//! PostgreSQL: the queries behind the web interface and the HTTP API, as `store::pages` for
//! SQLite. The watch list and the changes are built by the same functions as SQLite's (one
//! statement text, with PostgreSQL's `$N` parameters); the rest is written out here.
//!
//! Read-only except `record_verification`. Never renders anything: it returns rows.

use postgres::types::ToSql;

use super::Pg;
use crate::pure::model::{ContentHash, VersionSeq, WatchId};
use crate::store::pages::{WATCH_ITEM_COLUMNS, changes_sql, watch_list_finish, watch_list_sql};
use crate::store::{
    ChangeItem, ChangeQuery, LedgerPosition, Result, StoreError, VerificationRun, WatchListItem,
    WatchListPage, WatchQuery,
};

/// SQLite's `?N` parameters as PostgreSQL's `$N`.
pub(super) fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// SQLite argument values as PostgreSQL parameters.
pub(super) fn pg_args(args: Vec<rusqlite::types::Value>) -> Vec<Box<dyn ToSql + Sync>> {
    use rusqlite::types::Value;
    args.into_iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Null => Box::new(None::<String>),
                Value::Integer(i) => Box::new(i),
                Value::Real(f) => Box::new(f),
                Value::Text(t) => Box::new(t),
                Value::Blob(b) => Box::new(b),
            }
        })
        .collect()
}

fn refs(args: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref()).collect()
}

fn watch_item(r: &postgres::Row) -> Result<(WatchListItem, i64)> {
    Ok((
        WatchListItem {
            id: WatchId(r.try_get(0)?),
            url: r.try_get(1)?,
            host: r.try_get(2)?,
            status: r.try_get(3)?,
            title: r.try_get(4)?,
            versions: r.try_get(5)?,
            added_at: r.try_get(6)?,
            last_checked_at: r.try_get(7)?,
            last_event_at: r.try_get(8)?,
            last_event_kind: r.try_get(9)?,
            last_significance: r.try_get(10)?,
            feed_id: r.try_get(11)?,
            blocked_run: r.try_get(13)?,
        },
        r.try_get(12)?,
    ))
}

impl Pg {
    pub(in crate::store) fn watch_list_page(&self, q: &WatchQuery) -> Result<WatchListPage> {
        let (sql, args, limit) = watch_list_sql(q)?;
        let sql = dollar_params(&sql);
        let args = pg_args(args);
        let rows = self.with(|c| {
            c.query(sql.as_str(), &refs(&args))?
                .iter()
                .map(watch_item)
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(watch_list_finish(q, rows, limit))
    }

    pub(in crate::store) fn watch_item(&self, id: WatchId) -> Result<Option<WatchListItem>> {
        let sql = format!(
            "{WATCH_ITEM_COLUMNS} FROM watch_summary s JOIN watches w ON w.id = s.watch_id
             WHERE w.id = $1"
        );
        self.with(|c| {
            c.query_opt(sql.as_str(), &[&id.0])?
                .map(|r| watch_item(&r).map(|(item, _)| item))
                .transpose()
        })
    }

    pub(in crate::store) fn watch_hosts(&self) -> Result<Vec<(String, i64)>> {
        self.with(|c| {
            c.query(
                "SELECT s.host, count(*) FROM watch_summary s JOIN watches w ON w.id = s.watch_id
                 WHERE w.removed_at IS NULL GROUP BY s.host ORDER BY s.host",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    pub(in crate::store) fn changes(&self, q: &ChangeQuery) -> Result<Vec<ChangeItem>> {
        let (sql, args) = changes_sql(q);
        let sql = dollar_params(&sql);
        let args = pg_args(args);
        self.with(|c| {
            c.query(sql.as_str(), &refs(&args))?
                .iter()
                .map(|r| {
                    Ok(ChangeItem {
                        id: r.try_get(0)?,
                        watch_id: WatchId(r.try_get(1)?),
                        url: r.try_get(2)?,
                        title: r.try_get(3)?,
                        kind: r.try_get(4)?,
                        at: r.try_get(5)?,
                        version: r.try_get::<_, Option<i64>>(6)?.map(VersionSeq),
                        from_version: r.try_get::<_, Option<i64>>(7)?.map(VersionSeq),
                        significance: r.try_get(8)?,
                        reverted_to: r.try_get::<_, Option<i64>>(9)?.map(VersionSeq),
                        detail: r.try_get(10)?,
                    })
                })
                .collect()
        })
    }

    pub(in crate::store) fn version_by_hash(
        &self,
        watch: WatchId,
        hash: &ContentHash,
    ) -> Result<Option<VersionSeq>> {
        self.with(|c| {
            c.query_opt(
                "SELECT seq FROM versions WHERE watch_id = $1 AND content_hash = $2
                 ORDER BY seq LIMIT 1",
                &[&watch.0, &hash.to_hex()],
            )?
            .map(|r| r.try_get(0).map(VersionSeq).map_err(StoreError::from))
            .transpose()
        })
    }

    pub(in crate::store) fn version_at(
        &self,
        watch: WatchId,
        at: &str,
    ) -> Result<Option<VersionSeq>> {
        self.with(|c| {
            let before = c
                .query_opt(
                    "SELECT seq FROM versions WHERE watch_id = $1 AND captured_at <= $2
                     ORDER BY captured_at DESC, seq DESC LIMIT 1",
                    &[&watch.0, &at],
                )?
                .map(|r| r.try_get::<_, i64>(0))
                .transpose()?;
            let seq = match before {
                Some(s) => Some(s),
                None => c
                    .query_one(
                        "SELECT min(seq) FROM versions WHERE watch_id = $1",
                        &[&watch.0],
                    )?
                    .try_get::<_, Option<i64>>(0)?,
            };
            Ok(seq.map(VersionSeq))
        })
    }

    pub(in crate::store) fn version_ledger_position(
        &self,
        watch: WatchId,
        seq: VersionSeq,
    ) -> Result<Option<LedgerPosition>> {
        self.with(|c| {
            c.query_opt(
                "SELECT l.seq, l.hash FROM versions v
                 JOIN ledger l ON l.kind = 'version' AND l.row_id = v.id
                 WHERE v.watch_id = $1 AND v.seq = $2",
                &[&watch.0, &seq.0],
            )?
            .map(|r| {
                Ok(LedgerPosition {
                    seq: r.try_get(0)?,
                    hash: r.try_get(1)?,
                })
            })
            .transpose()
        })
    }

    pub(in crate::store) fn record_verification(&self, run: &VerificationRun) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO verifications (at, ok, versions, entries, head, failures)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &run.at,
                    &run.ok,
                    &run.versions,
                    &run.entries,
                    &run.head,
                    &run.failures,
                ],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn last_verification(&self) -> Result<Option<VerificationRun>> {
        self.with(|c| {
            c.query_opt(
                "SELECT at, ok, versions, entries, head, failures FROM verifications
                 ORDER BY id DESC LIMIT 1",
                &[],
            )?
            .map(|r| {
                Ok(VerificationRun {
                    at: r.try_get(0)?,
                    ok: r.try_get(1)?,
                    versions: r.try_get(2)?,
                    entries: r.try_get(3)?,
                    head: r.try_get(4)?,
                    failures: r.try_get(5)?,
                })
            })
            .transpose()
        })
    }

    pub(in crate::store) fn archive_counts(&self) -> Result<(i64, i64, i64)> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT (SELECT count(*) FROM watches WHERE removed_at IS NULL),
                        (SELECT count(*) FROM versions), (SELECT count(*) FROM events)",
                &[],
            )?;
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
        })
    }

    /// Moves every pending due time of watches and feeds by `secs` (negative: earlier), in one
    /// transaction. Returns how many watches and feeds were moved.
    pub(in crate::store) fn shift_due_times(&self, secs: i64) -> Result<usize> {
        self.write(|tx| {
            let shift = "to_char((CAST(COL AS timestamptz) + make_interval(secs => $1))
                    AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
            let secs = secs as f64;
            let mut moved = tx.execute(
                format!(
                    "UPDATE watches SET next_check_at = {}
                     WHERE removed_at IS NULL AND next_check_at IS NOT NULL",
                    shift.replace("COL", "next_check_at")
                )
                .as_str(),
                &[&secs],
            )?;
            moved += tx.execute(
                format!(
                    "UPDATE feeds SET next_poll_at = {}
                     WHERE removed_at IS NULL AND next_poll_at IS NOT NULL",
                    shift.replace("COL", "next_poll_at")
                )
                .as_str(),
                &[&secs],
            )?;
            Ok(moved as usize)
        })
    }

    pub(in crate::store) fn unparsed_bodies(
        &self,
        watch: WatchId,
    ) -> Result<Vec<crate::store::UnparsedBody>> {
        self.with(|c| {
            c.query(
                "SELECT u.at, u.body_hash, b.size, u.reason FROM unparsed_bodies u
                 JOIN blobs b ON b.hash = u.body_hash WHERE u.watch_id = $1 ORDER BY u.id",
                &[&watch.0],
            )?
            .iter()
            .map(|r| {
                Ok(crate::store::UnparsedBody {
                    at: r.try_get(0)?,
                    body_hash: r.try_get(1)?,
                    size: r.try_get(2)?,
                    reason: r.try_get(3)?,
                })
            })
            .collect()
        })
    }
}
