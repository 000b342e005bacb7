//! Recording check outcomes: one transaction in which a batch of checks reads each watch's
//! state and writes its check row, version, blob, event, ledger entries and outbox rows.
//!
//! Never decides what an outcome means: `classify` does.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::blobs::{PackedBody, insert_blob, insert_packed};
use super::{Result, Sqlite, StoreError, compress_text, ledger, outbox, proofs};
use crate::net::fetch::Validators;
use crate::notify::AlertRoute;
use crate::pure::classify::{Decision, Latest, Metadata, WatchState};
use crate::pure::ledger::EntryKind;
use crate::pure::model::{
    BodyHash, CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchId,
};

/// A newly observed article, ready to be stored if the rules say so.
#[derive(Debug, Clone)]
pub struct Capture {
    pub raw: Vec<u8>,
    pub body_hash: BodyHash,
    pub final_url: String,
    pub title: String,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    pub canonical_url: Option<String>,
    pub canonical_text: String,
    pub content_hash: ContentHash,
    pub loose_hash: Sha256Hash,
    /// The body cut and compressed ahead of the writer, when it was.
    pub packed: Option<PackedBody>,
    /// The canonical text compressed ahead of the writer, when it was.
    pub text_zstd: Option<Vec<u8>>,
}

/// Everything one check produced, for [`crate::store::Batch::record`].
#[derive(Debug, Clone)]
pub struct CheckRecord<'a> {
    pub watch_id: WatchId,
    pub at: &'a str,
    pub http_status: Option<u16>,
    pub decision: &'a Decision,
    pub capture: Option<&'a Capture>,
    /// Validators of the response, kept for the next conditional request when it was usable.
    pub validators: Option<&'a Validators>,
    /// When the watch is next due (RFC 3339).
    pub next_check_at: Option<&'a str>,
    /// Stop watching: `watch_for` has passed.
    pub retire: bool,
}

/// What was recorded: the current version afterwards, for reports.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub version: Option<VersionSeq>,
    pub content_hash: Option<ContentHash>,
}

impl Sqlite {
    /// Starts a transaction in which check outcomes are classified and recorded together.
    pub fn batch(&mut self) -> Result<SqliteBatch<'_>> {
        Ok(SqliteBatch {
            // As `write_transaction`, borrowing only the connection.
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
            alert_routes: &self.alert_routes,
        })
    }
}

/// One open SQLite transaction of check outcomes. Dropped without committing, it rolls back.
pub(crate) struct SqliteBatch<'a> {
    /// Open to the other store modules that add operations to a batch (`deferred`).
    pub(super) tx: Transaction<'a>,
    alert_routes: &'a [AlertRoute],
}

impl SqliteBatch<'_> {
    /// What is known about a watch now, inside this transaction.
    pub fn state(&self, watch: WatchId) -> Result<WatchState> {
        let (status, gone_streak, error_streak): (String, u32, u32) = self.tx.query_row(
            "SELECT status, gone_streak, error_streak FROM watches WHERE id = ?1",
            [watch.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let latest = self
            .tx
            .query_row(
                "SELECT seq, content_hash, loose_hash, byline, published, modified FROM versions
                 WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                [watch.0],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        Metadata {
                            byline: r.get(3)?,
                            published: r.get(4)?,
                            modified: r.get(5)?,
                        },
                    ))
                },
            )
            .optional()?
            .map(|(seq, content, loose, metadata)| -> Result<Latest> {
                Ok(Latest {
                    seq: VersionSeq(seq),
                    content_hash: content.parse().map_err(StoreError::Corrupt)?,
                    loose_hash: loose.parse().map_err(StoreError::Corrupt)?,
                    metadata,
                })
            })
            .transpose()?;
        Ok(WatchState {
            status: status.parse().map_err(StoreError::Corrupt)?,
            gone_streak,
            error_streak,
            latest,
        })
    }

    /// The first version before the latest whose text had this hash: a return to it.
    pub fn earlier_match(&self, watch: WatchId, hash: &ContentHash) -> Result<Option<VersionSeq>> {
        Ok(self
            .tx
            .query_row(
                "SELECT seq FROM versions WHERE watch_id = ?1 AND content_hash = ?2
                   AND seq < (SELECT max(seq) FROM versions WHERE watch_id = ?1)
                 ORDER BY seq LIMIT 1",
                params![watch.0, hash.to_hex()],
                |r| r.get(0).map(VersionSeq),
            )
            .optional()?)
    }

    /// Writes one check's outcome: the watch's new state, the check row, and, as the decision
    /// says, a version with its blob and an event. An `unchanged` check is folded into the
    /// previous row when that row saw the same version live: a row is a run whose first check
    /// had `kind` and whose `count - 1` later checks found the text unchanged, so a quiet article
    /// adds nothing to the database however often it is checked.
    pub fn record(&mut self, rec: &CheckRecord<'_>) -> Result<Recorded> {
        let tx = &self.tx;
        let d = rec.decision;
        let watch = rec.watch_id.0;
        let previous: Option<(i64, ContentHash)> = tx
            .query_row(
                "SELECT seq, content_hash FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                [watch],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(s, h)| h.parse().map(|h| (s, h)).map_err(StoreError::Corrupt))
            .transpose()?;
        let mut current = previous;
        if d.new_version {
            let capture = rec.capture.ok_or_else(|| {
                StoreError::Corrupt("a new version was decided without a capture".into())
            })?;
            let seq = previous.map_or(1, |(s, _)| s + 1);
            match &capture.packed {
                Some(packed) => insert_packed(tx, &capture.body_hash, &capture.raw, packed)?,
                None => insert_blob(tx, &capture.body_hash, &capture.raw)?,
            }
            let text = match &capture.text_zstd {
                Some(t) => t.clone(),
                None => compress_text(&capture.canonical_text)?,
            };
            tx.execute(
                "INSERT INTO versions (watch_id, seq, captured_at, content_hash, loose_hash,
                    body_hash, http_status, final_url, title, byline, published, modified,
                    canonical_url, text_zstd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    watch,
                    seq,
                    rec.at,
                    capture.content_hash.to_hex(),
                    capture.loose_hash.to_hex(),
                    capture.body_hash.to_hex(),
                    rec.http_status.unwrap_or(200),
                    capture.final_url,
                    capture.title,
                    capture.byline,
                    capture.published,
                    capture.modified,
                    capture.canonical_url,
                    text,
                ],
            )?;
            proofs::append_version(tx, tx.last_insert_rowid())?;
            current = Some((seq, capture.content_hash));
        }
        let version_seq = current.map(|(s, _)| s);
        if d.kind.is_event() {
            tx.execute(
                "INSERT INTO events (watch_id, kind, at, version_seq, from_seq, significance,
                    reverted_to, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    watch,
                    d.kind.as_str(),
                    rec.at,
                    version_seq,
                    if d.new_version {
                        previous.map(|(s, _)| s)
                    } else {
                        None
                    },
                    d.significance.map(Significance::as_str),
                    d.reverted_to.map(|s| s.0),
                    d.detail,
                ],
            )?;
            let event_id = tx.last_insert_rowid();
            proofs::append_event(tx, event_id)?;
            outbox::enqueue(tx, self.alert_routes, event_id, rec.at)?;
        }
        let folded = d.kind == CheckKind::Unchanged
            && tx.execute(
                "UPDATE checks SET last_at = ?2, count = count + 1.0, http_status = ?3
                 WHERE id = (SELECT max(id) FROM checks WHERE watch_id = ?1)
                   AND kind IN ('captured', 'edited', 'restored', 'unchanged')
                   AND version_seq IS ?4",
                params![watch, rec.at, rec.http_status, version_seq],
            )? > 0;
        // Checks that meet the same wall fold into one row too: its count is the run.
        let folded = folded
            || d.kind == CheckKind::Blocked
                && tx.execute(
                    "UPDATE checks SET last_at = ?2, count = count + 1.0, http_status = ?3
                     WHERE id = (SELECT max(id) FROM checks WHERE watch_id = ?1)
                       AND kind = 'blocked' AND detail IS ?4",
                    params![watch, rec.at, rec.http_status, d.detail],
                )? > 0;
        if !folded {
            tx.execute(
                "INSERT INTO checks (watch_id, kind, first_at, last_at, count, http_status, version_seq, detail)
                 VALUES (?1, ?2, ?3, ?3, 1.0, ?4, ?5, ?6)",
                params![watch, d.kind.as_str(), rec.at, rec.http_status, version_seq, d.detail],
            )?;
        }
        tx.execute(
            "UPDATE watches SET status = ?2, gone_streak = ?3, error_streak = ?4,
                last_checked_at = ?5 WHERE id = ?1",
            params![
                watch,
                d.next.status.as_str(),
                d.next.gone_streak,
                d.next.error_streak,
                rec.at
            ],
        )?;
        tx.execute(
            "UPDATE watches SET next_check_at = ?2,
                removed_at = CASE WHEN ?3 THEN ?4 ELSE removed_at END
             WHERE id = ?1",
            params![watch, rec.next_check_at, rec.retire, rec.at],
        )?;
        if rec.retire {
            ledger::append_watch(tx, EntryKind::WatchRemoved, watch, rec.at)?;
        }
        if let Some(v) = rec.validators {
            tx.execute(
                "UPDATE watches SET etag = ?2, last_modified = ?3 WHERE id = ?1",
                params![watch, v.etag, v.last_modified],
            )?;
        }
        Ok(Recorded {
            version: version_seq.map(VersionSeq),
            content_hash: current.map(|(_, h)| h),
        })
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }
}
