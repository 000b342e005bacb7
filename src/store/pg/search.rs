//! PostgreSQL: full-text search over every version ever stored, as `store::search` for SQLite,
//! with PostgreSQL's own full-text search (`search_text.tsv`, a GIN index, the 'simple'
//! configuration) instead of FTS5.
//!
//! Owns filling the index from the compressed texts and answering queries, one hit per article
//! with the versions that matched. Never changes the archive's own rows.

use std::collections::HashMap;

use postgres::types::ToSql;

use super::Pg;
use crate::pure::model::{VersionSeq, WatchId};
use crate::store::search::search_terms;
use crate::store::{MATCH_END, MATCH_START, Result, SearchHit, SearchQuery, StoreError};

/// The advisory lock that keeps two processes from indexing the same versions at once; it is
/// not the write lock, so indexing never holds up recording.
const SEARCH_LOCK: i64 = 0x7374_6574_7378; // "stetsx"

impl Pg {
    pub(in crate::store) fn index_search(&self, batch: usize) -> Result<usize> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT (SELECT max(id) FROM versions), (SELECT max(version_id) FROM search_text)",
                &[],
            )?;
            let stored: Option<i64> = r.try_get(0)?;
            let indexed: Option<i64> = r.try_get(1)?;
            if stored.unwrap_or(0) <= indexed.unwrap_or(0) {
                return Ok(0);
            }
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SEARCH_LOCK])?;
            let rows = tx.query(
                "SELECT id, watch_id, seq, title, text_zstd FROM versions
                 WHERE id > (SELECT coalesce(max(version_id), 0) FROM search_text)
                 ORDER BY id LIMIT $1",
                &[&(batch as i64)],
            )?;
            let insert = tx.prepare(
                "INSERT INTO search_text (version_id, watch_id, seq, title, body)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version_id) DO NOTHING",
            )?;
            for r in &rows {
                let id: i64 = r.try_get(0)?;
                let watch: i64 = r.try_get(1)?;
                let seq: i64 = r.try_get(2)?;
                let title: String = r.try_get(3)?;
                let compressed: Vec<u8> = r.try_get(4)?;
                let text = zstd::decode_all(compressed.as_slice())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                // The first line of a canonical text is the title, indexed as its own column.
                let body = text.split_once('\n').map_or("", |(_, rest)| rest);
                // PostgreSQL text holds no NUL.
                let body = body.replace('\0', " ");
                tx.execute(
                    &insert,
                    &[&id, &watch, &seq, &title.replace('\0', " "), &body],
                )?;
            }
            tx.commit()?;
            Ok(rows.len())
        })
    }

    pub(in crate::store) fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let terms = search_terms(&q.text);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // Every term must appear: a phrase as its words in order, a word as itself.
        let query = (1..=terms.len())
            .map(|i| format!("phraseto_tsquery('simple', ${i})"))
            .collect::<Vec<_>>()
            .join(" && ");
        let args: Vec<&(dyn ToSql + Sync)> =
            terms.iter().map(|t| t as &(dyn ToSql + Sync)).collect();
        let options = format!(
            "StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=16, MinWords=8, \
             MaxFragments=1, FragmentDelimiter=…"
        );
        self.with(|c| {
            let rows = c.query(
                format!(
                    "SELECT watch_id, seq, version_id FROM search_text, (SELECT {query}) AS q(q)
                     WHERE tsv @@ q.q ORDER BY ts_rank(tsv, q.q) DESC, version_id LIMIT 2000"
                )
                .as_str(),
                &args,
            )?;
            let mut order: Vec<i64> = Vec::new();
            let mut by_watch: HashMap<i64, (Vec<i64>, i64, i64)> = HashMap::new();
            for r in &rows {
                let watch: i64 = r.try_get(0)?;
                let seq: i64 = r.try_get(1)?;
                let id: i64 = r.try_get(2)?;
                let entry = by_watch.entry(watch).or_insert_with(|| {
                    order.push(watch);
                    (Vec::new(), 0, 0)
                });
                entry.0.push(seq);
                if seq > entry.1 {
                    entry.1 = seq;
                    entry.2 = id;
                }
            }
            let mut snippet_args = args.clone();
            snippet_args.push(&options);
            let snippet_sql = format!(
                "SELECT ts_headline('simple', title || E'\\n' || body, q.q, ${})
                 FROM search_text, (SELECT {query}) AS q(q) WHERE version_id = ${}",
                terms.len() + 1,
                terms.len() + 2
            );
            let mut hits = Vec::new();
            for watch in order.into_iter().take(q.limit.clamp(1, 200)) {
                let (mut seqs, newest, newest_id) = by_watch.remove(&watch).unwrap_or_default();
                seqs.sort_unstable();
                seqs.dedup();
                let mut a = snippet_args.clone();
                a.push(&newest_id);
                let snippet: String = c
                    .query_one(snippet_sql.as_str(), &a)?
                    .try_get::<_, Option<String>>(0)?
                    .unwrap_or_default();
                let r = c.query_one(
                    "SELECT w.url, s.title,
                            (SELECT max(seq) FROM versions v WHERE v.watch_id = w.id)
                     FROM watches w JOIN watch_summary s ON s.watch_id = w.id WHERE w.id = $1",
                    &[&watch],
                )?;
                let latest = r.try_get::<_, Option<i64>>(2)?.unwrap_or(0);
                hits.push(SearchHit {
                    watch_id: WatchId(watch),
                    url: r.try_get(0)?,
                    title: r.try_get(1)?,
                    versions: seqs.into_iter().map(VersionSeq).collect(),
                    latest: VersionSeq(latest),
                    snippet: snippet.replace('\n', " "),
                    removed_in: (newest < latest).then_some(VersionSeq(newest + 1)),
                });
            }
            Ok::<_, StoreError>(hits)
        })
    }
}
