//! The queries behind the web interface and the HTTP API: the watch list paged by keyset over
//! `watch_summary`, the cross-archive changes with cursors, versions by content hash or by time
//! (Memento), ledger positions of versions and the record of verification runs.
//!
//! Written once for both backends (both keep `watch_summary` up to date with triggers).
//! Read-only except [`Store::record_verification`]. Never renders anything: it returns rows.

use serde::Serialize;

use super::sql::{Param, Row, Value};
use super::{Result, Store, StoreError};
use crate::pure::model::{ContentHash, Significance, VersionSeq, WatchId};

/// What the watch list shows of one article.
#[derive(Debug, Clone, Serialize)]
pub struct WatchListItem {
    pub id: WatchId,
    pub url: String,
    pub host: String,
    /// new, live, missing (live, but the last checks found it gone), deleted or removed.
    pub status: String,
    pub title: Option<String>,
    pub versions: i64,
    pub added_at: String,
    pub last_checked_at: Option<String>,
    pub last_event_at: Option<String>,
    pub last_event_kind: Option<String>,
    pub last_significance: Option<String>,
    pub feed_id: Option<i64>,
    /// The checks in a row, up to the latest, that met a wall (0 when the latest did not).
    pub blocked_run: i64,
}

/// How the watch list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchSort {
    /// Most recent event first.
    #[default]
    Changed,
    /// Most recently added first.
    Added,
    /// By title, A to Z.
    Title,
    /// Most versions first.
    Versions,
}

impl WatchSort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Added => "added",
            Self::Title => "title",
            Self::Versions => "versions",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "changed" => Self::Changed,
            "added" => Self::Added,
            "title" => Self::Title,
            "versions" => Self::Versions,
            _ => return None,
        })
    }
}

/// A filtered, sorted page of the watch list. `after` is the cursor a previous page returned.
#[derive(Debug, Clone, Default)]
pub struct WatchQuery {
    pub status: Option<String>,
    pub host: Option<String>,
    pub significance: Option<Significance>,
    pub feed: Option<i64>,
    /// A substring of the title or the URL.
    pub text: Option<String>,
    pub sort: WatchSort,
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchListPage {
    pub items: Vec<WatchListItem>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// One edit, deletion or restoration, as the changes page and feeds show it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeItem {
    /// The event's id: the cursor of the changes feed.
    pub id: i64,
    pub watch_id: WatchId,
    pub url: String,
    pub title: Option<String>,
    pub kind: String,
    pub at: String,
    pub version: Option<VersionSeq>,
    pub from_version: Option<VersionSeq>,
    pub significance: Option<String>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<String>,
}

/// Which changes to list: newest first, or oldest first after a cursor (`since_id`) or a time.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// edited, deleted or restored; all three when `None`.
    pub kind: Option<String>,
    pub significance: Option<Significance>,
    pub host: Option<String>,
    pub watch: Option<WatchId>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only events after this id, oldest first (a feed reader's cursor).
    pub after_id: Option<i64>,
    /// Only events before this id, newest first (the next page of the changes page).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// A version's place in the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerPosition {
    pub seq: i64,
    pub hash: String,
}

/// One run of `stet verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationRun {
    pub at: String,
    pub ok: bool,
    pub versions: i64,
    pub entries: i64,
    pub head: Option<String>,
    pub failures: i64,
}

const WATCH_ITEM_COLUMNS: &str = "SELECT w.id, w.url, s.host,
    CASE WHEN w.removed_at IS NOT NULL THEN 'removed'
         WHEN w.status = 'live' AND w.gone_streak > 0 THEN 'missing'
         ELSE w.status END,
    s.title, s.versions, w.added_at, w.last_checked_at, s.last_event_at, s.last_event_kind,
    s.last_significance, w.feed_id, s.last_event_id,
    coalesce((SELECT CASE WHEN c.kind = 'blocked' THEN CAST(c.count AS BIGINT) ELSE 0 END
              FROM checks c WHERE c.watch_id = w.id ORDER BY c.id DESC LIMIT 1), 0)";

fn watch_item(r: &Row) -> Result<(WatchListItem, i64)> {
    Ok((
        WatchListItem {
            id: WatchId(r.get(0)?),
            url: r.get(1)?,
            host: r.get(2)?,
            status: r.get(3)?,
            title: r.get(4)?,
            versions: r.get(5)?,
            added_at: r.get(6)?,
            last_checked_at: r.get(7)?,
            last_event_at: r.get(8)?,
            last_event_kind: r.get(9)?,
            last_significance: r.get(10)?,
            feed_id: r.get(11)?,
            blocked_run: r.get(13)?,
        },
        r.get(12)?,
    ))
}

const CHANGE_KINDS: &str = "('edited', 'deleted', 'restored')";

impl Store {
    /// One page of the watch list. Pages are cut by keyset (the sort key and the id of the last
    /// row), so the thousandth page costs what the first does.
    pub fn watch_list_page(&self, q: &WatchQuery) -> Result<WatchListPage> {
        let (sql, args, limit) = watch_list_sql(q)?;
        let rows = self.with(|tx| {
            tx.query(&sql, &params(&args))?
                .iter()
                .map(watch_item)
                .collect()
        })?;
        Ok(watch_list_finish(q, rows, limit))
    }

    /// One watch as the list shows it, removed or not.
    pub fn watch_item(&self, id: WatchId) -> Result<Option<WatchListItem>> {
        let sql = format!(
            "{WATCH_ITEM_COLUMNS} FROM watch_summary s JOIN watches w ON w.id = s.watch_id
             WHERE w.id = ?1"
        );
        self.with(|tx| {
            tx.query_opt(&sql, &[&id.0])?
                .map(|r| watch_item(&r).map(|(item, _)| item))
                .transpose()
        })
    }

    /// Every host watched, with its number of active watches, for the list's filter.
    pub fn watch_hosts(&self) -> Result<Vec<(String, i64)>> {
        self.with(|tx| {
            tx.query(
                "SELECT s.host, count(*) FROM watch_summary s JOIN watches w ON w.id = s.watch_id
                 WHERE w.removed_at IS NULL GROUP BY s.host ORDER BY s.host",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
    }

    /// Edits, deletions and restorations across the archive (or of one watch).
    pub fn changes(&self, q: &ChangeQuery) -> Result<Vec<ChangeItem>> {
        let (sql, args) = changes_sql(q);
        self.with(|tx| {
            tx.query(&sql, &params(&args))?
                .iter()
                .map(|r| {
                    Ok(ChangeItem {
                        id: r.get(0)?,
                        watch_id: WatchId(r.get(1)?),
                        url: r.get(2)?,
                        title: r.get(3)?,
                        kind: r.get(4)?,
                        at: r.get(5)?,
                        version: r.get::<Option<i64>>(6)?.map(VersionSeq),
                        from_version: r.get::<Option<i64>>(7)?.map(VersionSeq),
                        significance: r.get(8)?,
                        reverted_to: r.get::<Option<i64>>(9)?.map(VersionSeq),
                        detail: r.get(10)?,
                    })
                })
                .collect()
        })
    }

    /// The first version of a watch whose canonical text has this hash.
    pub fn version_by_hash(
        &self,
        watch: WatchId,
        hash: &ContentHash,
    ) -> Result<Option<VersionSeq>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT seq FROM versions WHERE watch_id = ?1 AND content_hash = ?2
                 ORDER BY seq LIMIT 1",
                &[&watch.0, &hash.to_hex()],
            )?
            .map(|r| r.get(0).map(VersionSeq))
            .transpose()
        })
    }

    /// The version in force at `at` (RFC 3339): the last captured at or before it, or else the
    /// first one (Memento's TimeGate answers the closest memento).
    pub fn version_at(&self, watch: WatchId, at: &str) -> Result<Option<VersionSeq>> {
        self.with(|tx| {
            let before = tx.query_opt(
                "SELECT seq FROM versions WHERE watch_id = ?1 AND captured_at <= ?2
                 ORDER BY captured_at DESC, seq DESC LIMIT 1",
                &[&watch.0, &at],
            )?;
            let seq: Option<i64> = match before {
                Some(r) => r.get(0)?,
                None => tx
                    .query_one(
                        "SELECT min(seq) FROM versions WHERE watch_id = ?1",
                        &[&watch.0],
                    )?
                    .get(0)?,
            };
            Ok(seq.map(VersionSeq))
        })
    }

    /// Where a version's own entry is in the ledger.
    pub fn version_ledger_position(
        &self,
        watch: WatchId,
        seq: VersionSeq,
    ) -> Result<Option<LedgerPosition>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT l.seq, l.hash FROM versions v
                 JOIN ledger l ON l.kind = 'version' AND l.row_id = v.id
                 WHERE v.watch_id = ?1 AND v.seq = ?2",
                &[&watch.0, &seq.0],
            )?
            .map(|r| {
                Ok(LedgerPosition {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            })
            .transpose()
        })
    }

    /// Records one run of `stet verify`, for the integrity page.
    pub fn record_verification(&self, run: &VerificationRun) -> Result<()> {
        self.with(|tx| {
            tx.execute(
                "INSERT INTO verifications (at, ok, versions, entries, head, failures)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    &run.at,
                    &run.ok,
                    &run.versions,
                    &run.entries,
                    &run.head,
                    &run.failures,
                ],
            )
        })?;
        Ok(())
    }

    /// The latest run of `stet verify`, if any.
    pub fn last_verification(&self) -> Result<Option<VerificationRun>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT at, ok, versions, entries, head, failures FROM verifications
                 ORDER BY id DESC LIMIT 1",
                &[],
            )?
            .map(|r| {
                Ok(VerificationRun {
                    at: r.get(0)?,
                    ok: r.get(1)?,
                    versions: r.get(2)?,
                    entries: r.get(3)?,
                    head: r.get(4)?,
                    failures: r.get(5)?,
                })
            })
            .transpose()
        })
    }

    /// How many active watches, versions and events the archive holds.
    pub fn archive_counts(&self) -> Result<(i64, i64, i64)> {
        self.with(|tx| {
            let r = tx.query_one(
                "SELECT (SELECT count(*) FROM watches WHERE removed_at IS NULL),
                        (SELECT count(*) FROM versions), (SELECT count(*) FROM events)",
                &[],
            )?;
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    }
}

/// Built statement arguments as parameters.
fn params(args: &[Value]) -> Vec<&dyn Param> {
    args.iter().map(|a| a as &dyn Param).collect()
}

/// The statement of one page of the watch list (`?N` parameters), its arguments and the page
/// size; the statement asks for one row more, which says whether a next page exists.
fn watch_list_sql(q: &WatchQuery) -> Result<(String, Vec<Value>, usize)> {
    let mut conditions: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let arg = |v: Value, args: &mut Vec<Value>| {
        args.push(v);
        format!("?{}", args.len())
    };
    match q.status.as_deref() {
        None | Some("") | Some("all") => conditions.push("w.removed_at IS NULL".into()),
        Some("removed") => conditions.push("w.removed_at IS NOT NULL".into()),
        Some("missing") => conditions
            .push("w.removed_at IS NULL AND w.status = 'live' AND w.gone_streak > 0".into()),
        Some("live") => conditions
            .push("w.removed_at IS NULL AND w.status = 'live' AND w.gone_streak = 0".into()),
        Some(other) => {
            let p = arg(Value::Text(other.to_string()), &mut args);
            conditions.push(format!("w.removed_at IS NULL AND w.status = {p}"));
        }
    }
    if let Some(host) = q.host.as_deref().filter(|h| !h.is_empty()) {
        let p = arg(Value::Text(host.to_ascii_lowercase()), &mut args);
        conditions.push(format!("s.host = {p}"));
    }
    if let Some(sig) = q.significance {
        let p = arg(Value::Text(sig.as_str().to_string()), &mut args);
        conditions.push(format!("s.last_significance = {p}"));
    }
    if let Some(feed) = q.feed {
        let p = arg(Value::Int(feed), &mut args);
        conditions.push(format!("w.feed_id = {p}"));
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = arg(Value::Text(format!("%{escaped}%")), &mut args);
        conditions.push(format!(
            "(s.title LIKE {p} ESCAPE '\\' OR w.url LIKE {p} ESCAPE '\\')"
        ));
    }
    let (key, order) = match q.sort {
        WatchSort::Changed => ("s.last_event_id", "DESC"),
        WatchSort::Added => ("w.id", "DESC"),
        WatchSort::Title => ("coalesce(s.title, '')", "ASC"),
        WatchSort::Versions => ("s.versions", "DESC"),
    };
    if let Some(cursor) = q.after.as_deref().filter(|c| !c.is_empty()) {
        let (value, id) = parse_cursor(cursor)?;
        let cmp = if order == "DESC" { "<" } else { ">" };
        let value = match q.sort {
            WatchSort::Title => Value::Text(value),
            _ => Value::Int(
                value
                    .parse::<i64>()
                    .map_err(|_| StoreError::BadCursor(cursor.to_string()))?,
            ),
        };
        let pv = arg(value, &mut args);
        let pi = arg(Value::Int(id), &mut args);
        conditions.push(format!("({key}, w.id) {cmp} ({pv}, {pi})"));
    }
    let limit = q.limit.clamp(1, 500);
    let sql = format!(
        "{WATCH_ITEM_COLUMNS} FROM watch_summary s JOIN watches w ON w.id = s.watch_id
             WHERE {} ORDER BY {key} {order}, w.id {order} LIMIT {}",
        conditions.join(" AND "),
        limit + 1
    );
    Ok((sql, args, limit))
}

/// The page of `rows` (one more than `limit` when a next page exists), with its cursor.
fn watch_list_finish(
    q: &WatchQuery,
    mut rows: Vec<(WatchListItem, i64)>,
    limit: usize,
) -> WatchListPage {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(item, last_event)| {
            let value = match q.sort {
                WatchSort::Changed => last_event.to_string(),
                WatchSort::Added => item.id.0.to_string(),
                WatchSort::Title => item.title.clone().unwrap_or_default(),
                WatchSort::Versions => item.versions.to_string(),
            };
            make_cursor(&value, item.id.0)
        })
    } else {
        None
    };
    WatchListPage {
        items: rows.into_iter().map(|(item, _)| item).collect(),
        next,
    }
}

/// The statement of a list of changes (`?N` parameters) and its arguments.
fn changes_sql(q: &ChangeQuery) -> (String, Vec<Value>) {
    let mut conditions = vec![match q.kind.as_deref() {
        Some("edited") => "e.kind = 'edited'".to_string(),
        Some("deleted") => "e.kind = 'deleted'".to_string(),
        Some("restored") => "e.kind = 'restored'".to_string(),
        _ => format!("e.kind IN {CHANGE_KINDS}"),
    }];
    let mut args: Vec<Value> = Vec::new();
    let mut push = |cond: &str, v: Value| {
        args.push(v);
        conditions.push(cond.replace('?', &format!("?{}", args.len())));
    };
    if let Some(sig) = q.significance {
        push("e.significance = ?", Value::Text(sig.as_str().to_string()));
    }
    if let Some(host) = q.host.as_deref().filter(|h| !h.is_empty()) {
        push("s.host = ?", Value::Text(host.to_ascii_lowercase()));
    }
    if let Some(w) = q.watch {
        push("e.watch_id = ?", Value::Int(w.0));
    }
    if let Some(since) = q.since.as_deref() {
        push("e.at >= ?", Value::Text(since.to_string()));
    }
    if let Some(after) = q.after_id {
        push("e.id > ?", Value::Int(after));
    }
    if let Some(before) = q.before_id {
        push("e.id < ?", Value::Int(before));
    }
    // A reader catching up goes forward from its cursor; a person browsing goes back in time.
    let order = if q.after_id.is_some() || q.since.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    let sql = format!(
        "SELECT e.id, e.watch_id, w.url, s.title, e.kind, e.at, e.version_seq, e.from_seq,
                    e.significance, e.reverted_to, e.detail
             FROM events e JOIN watches w ON w.id = e.watch_id
             JOIN watch_summary s ON s.watch_id = e.watch_id
             WHERE {} ORDER BY e.id {order} LIMIT {}",
        conditions.join(" AND "),
        q.limit.clamp(1, 1000)
    );
    (sql, args)
}

/// A keyset cursor: the sort value and the id, as one opaque URL-safe token.
fn make_cursor(value: &str, id: i64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{id}:{value}"))
}

fn parse_cursor(cursor: &str) -> Result<(String, i64)> {
    use base64::Engine as _;
    let bad = || StoreError::BadCursor(cursor.to_string());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, value) = text.split_once(':').ok_or_else(bad)?;
    Ok((value.to_string(), id.parse().map_err(|_| bad())?))
}
