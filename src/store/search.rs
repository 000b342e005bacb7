//! Full-text search over every version ever stored (SQLite FTS5, `search_text`), including
//! sentences a later version removed.
//!
//! Owns filling the index from the compressed texts (`index_search`, which catches up with the
//! versions written since its last run) and answering queries, one hit per article with the
//! versions that matched. Never changes the archive's own rows.

use std::collections::HashMap;

use rusqlite::{TransactionBehavior, params};
use serde::Serialize;

use super::Result;
use crate::pure::model::{VersionSeq, WatchId};

/// Marks the start and the end of a matched term in [`SearchHit::snippet`].
pub const MATCH_START: char = '\u{2}';
pub const MATCH_END: char = '\u{3}';

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words, all of which must appear; a part in double quotes is a phrase.
    pub text: String,
    pub limit: usize,
}

/// One article where the words were found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub watch_id: WatchId,
    pub url: String,
    /// The latest version's title.
    pub title: Option<String>,
    /// Versions whose text matches, oldest first.
    pub versions: Vec<VersionSeq>,
    /// The article's latest version.
    pub latest: VersionSeq,
    /// The text around the match in the newest matching version; matched terms are between
    /// [`MATCH_START`] and [`MATCH_END`].
    pub snippet: String,
    /// The words are no longer in the latest version: this version removed them.
    pub removed_in: Option<VersionSeq>,
}

impl super::Store {
    /// Adds the versions stored since the last run to the full-text index (at most `batch` of
    /// them); returns how many were added. Cheap when the index is up to date.
    pub fn index_search(&self, batch: usize) -> Result<usize> {
        match &self.db {
            super::Db::Sqlite(s) => s.index_search(batch),
            super::Db::Postgres(p) => p.index_search(batch),
        }
    }

    /// Articles whose versions contain the words, best match first.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        match &self.db {
            super::Db::Sqlite(s) => s.search(q),
            super::Db::Postgres(p) => p.search(q),
        }
    }
}

/// SQLite's index: FTS5 over each version's title and text.
impl super::Sqlite {
    /// Adds the versions stored since the last run to the full-text index (at most `batch` of
    /// them); returns how many were added. Cheap when the index is up to date.
    fn index_search(&self, batch: usize) -> Result<usize> {
        // Looked at without the write lock first: most calls find nothing to add.
        let (stored, indexed): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT (SELECT max(id) FROM versions), (SELECT max(rowid) FROM search_text)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if stored.unwrap_or(0) <= indexed.unwrap_or(0) {
            return Ok(0);
        }
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, i64, i64, String, Vec<u8>)> = {
            let mut stmt = tx.prepare(
                "SELECT id, watch_id, seq, title, text_zstd FROM versions
                 WHERE id > (SELECT coalesce(max(rowid), 0) FROM search_text)
                 ORDER BY id LIMIT ?1",
            )?;
            stmt.query_map([batch as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?
        };
        {
            let mut insert = tx.prepare(
                "INSERT INTO search_text (rowid, title, body, watch_id, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, watch, seq, title, compressed) in &rows {
                let text = zstd::decode_all(compressed.as_slice())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default();
                // The first line of a canonical text is the title, indexed as its own column.
                let body = text.split_once('\n').map_or("", |(_, rest)| rest);
                insert.execute(params![id, title, body, watch, seq])?;
            }
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// Articles whose versions contain the words, best match first.
    fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>> {
        let Some(expr) = fts_expression(&q.text) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare(
            "SELECT watch_id, seq,
                    snippet(search_text, -1, char(2), char(3), '…', 16), bm25(search_text)
             FROM search_text WHERE search_text MATCH ?1 ORDER BY rank LIMIT 2000",
        )?;
        let rows = stmt.query_map([expr], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut order: Vec<i64> = Vec::new();
        let mut by_watch: HashMap<i64, (Vec<i64>, i64, String)> = HashMap::new();
        for row in rows {
            let (watch, seq, snippet) = row?;
            let entry = by_watch.entry(watch).or_insert_with(|| {
                order.push(watch);
                (Vec::new(), 0, String::new())
            });
            entry.0.push(seq);
            if seq > entry.1 {
                entry.1 = seq;
                entry.2 = snippet;
            }
        }
        let mut hits = Vec::new();
        for watch in order.into_iter().take(q.limit.clamp(1, 200)) {
            let (mut seqs, newest, snippet) = by_watch.remove(&watch).unwrap_or_default();
            seqs.sort_unstable();
            seqs.dedup();
            let (url, title, latest): (String, Option<String>, i64) = self.conn.query_row(
                "SELECT w.url, s.title, (SELECT max(seq) FROM versions v WHERE v.watch_id = w.id)
                 FROM watches w JOIN watch_summary s ON s.watch_id = w.id WHERE w.id = ?1",
                [watch],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    ))
                },
            )?;
            hits.push(SearchHit {
                watch_id: WatchId(watch),
                url,
                title,
                versions: seqs.into_iter().map(VersionSeq).collect(),
                latest: VersionSeq(latest),
                snippet,
                removed_in: (newest < latest).then_some(VersionSeq(newest + 1)),
            });
        }
        Ok(hits)
    }
}

/// What a person typed as terms that must all appear: words (only letters, digits, `'` and
/// `-` kept) and phrases (a part in double quotes).
pub(super) fn search_terms(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for (i, piece) in text.split('"').enumerate() {
        if i % 2 == 1 {
            let phrase = piece.split_whitespace().collect::<Vec<_>>().join(" ");
            if !phrase.is_empty() {
                parts.push(phrase);
            }
        } else {
            for word in piece.split_whitespace() {
                let word: String = word
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '-')
                    .collect();
                if !word.is_empty() {
                    parts.push(word);
                }
            }
        }
    }
    parts
}

/// The FTS5 query for what a person typed: every word must appear (each quoted, so FTS5's own
/// operators are taken literally), and a part in double quotes is a phrase. `None` when there is
/// nothing to look for.
fn fts_expression(text: &str) -> Option<String> {
    let parts: Vec<String> = search_terms(text)
        .into_iter()
        .map(|t| format!("\"{t}\""))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::fts_expression;

    #[test]
    fn typed_words_become_quoted_terms_and_phrases_stay_phrases() {
        assert_eq!(
            fts_expression("bridge  \"six weeks\" OR"),
            Some("\"bridge\" \"six weeks\" \"OR\"".to_string())
        );
        assert_eq!(fts_expression("  \"\" "), None);
        assert_eq!(fts_expression("NEAR(a*"), Some("\"NEARa\"".to_string()));
    }
}
