//! Recording check outcomes, written once for both backends: one transaction in which a batch
//! of checks reads each watch's state and writes its check row, version, blob, event, ledger
//! entries and outbox rows; deferrals (a check not made: only the due time moves); bodies kept
//! unparsed; and which extractor read each version.
//!
//! Never decides what an outcome means: `classify` does.

use std::cell::RefCell;

use super::blobs::{PackedBody, insert_body, read_blob};
use super::s3::BlobBucket;
use super::sql::{Dialect, Lite, Tx, end_lease};
use super::{Result, StoreError, compress_text, ledger, outbox, proofs};
use crate::net::fetch::Validators;
use crate::pure::alert::AlertRoute;
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

/// Everything one check produced, for [`Batch::record`].
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

/// The open transaction under a batch, in its backend's driver.
pub(super) enum BatchTx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres {
        tx: postgres::Transaction<'a>,
        /// The lease (seconds) a commit renews this worker's host claims for.
        lease: f64,
    },
}

/// One open transaction of check outcomes. Dropped without [`Batch::commit`], it rolls back.
pub struct Batch<'a> {
    pub(super) tx: RefCell<BatchTx<'a>>,
    pub(super) routes: &'a [AlertRoute],
    pub(super) bucket: Option<&'a BlobBucket>,
}

impl Batch<'_> {
    fn run<T>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        match &mut *self.tx.borrow_mut() {
            BatchTx::Sqlite(tx) => f(&mut Lite(tx)),
            BatchTx::Postgres { tx, .. } => super::sql::blocking(|| f(tx)),
        }
    }

    /// What is known about a watch now, inside this transaction.
    pub fn state(&self, watch: WatchId) -> Result<WatchState> {
        self.run(|tx| {
            let r = tx.query_one(
                "SELECT status, gone_streak, error_streak FROM watches WHERE id = ?1",
                &[&watch.0],
            )?;
            let latest = tx
                .query_opt(
                    "SELECT seq, content_hash, loose_hash, byline, published, modified
                     FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                    &[&watch.0],
                )?
                .map(|v| -> Result<Latest> {
                    Ok(Latest {
                        seq: VersionSeq(v.get(0)?),
                        content_hash: v.parse(1)?,
                        loose_hash: v.parse(2)?,
                        metadata: Metadata {
                            byline: v.get(3)?,
                            published: v.get(4)?,
                            modified: v.get(5)?,
                        },
                    })
                })
                .transpose()?;
            Ok(WatchState {
                status: r.parse(0)?,
                gone_streak: r.get(1)?,
                error_streak: r.get(2)?,
                latest,
            })
        })
    }

    /// The first version before the latest whose text had this hash: a return to it.
    pub fn earlier_match(&self, watch: WatchId, hash: &ContentHash) -> Result<Option<VersionSeq>> {
        self.run(|tx| {
            tx.query_opt(
                "SELECT seq FROM versions WHERE watch_id = ?1 AND content_hash = ?2
                   AND seq < (SELECT max(seq) FROM versions WHERE watch_id = ?1)
                 ORDER BY seq LIMIT 1",
                &[&watch.0, &hash.to_hex()],
            )?
            .map(|r| r.get(0).map(VersionSeq))
            .transpose()
        })
    }

    /// Writes one check's outcome: the watch's new state, the check row, and, as the decision
    /// says, a version with its blob and an event (with its ledger entry and outbox rows); on
    /// PostgreSQL it also ends this worker's lease on the watch. An `unchanged` check is folded
    /// into the previous row when that row saw the same version live: a row is a run whose
    /// first check had `kind` and whose `count - 1` later checks found the text unchanged, so a
    /// quiet article adds nothing to the database however often it is checked.
    pub fn record(&mut self, rec: &CheckRecord<'_>) -> Result<Recorded> {
        let (routes, bucket) = (self.routes, self.bucket);
        self.run(|tx| record(tx, routes, bucket, rec))
    }

    /// Moves the watch's next check to `next_check_at` (RFC 3339), a check not made (its host
    /// asked for a pause), and ends this worker's lease on it; returns its current version.
    /// Never writes a check row, an event, a ledger entry or the watch's status and streaks, so
    /// a deferral is invisible to classification.
    pub fn defer(&mut self, watch: WatchId, next_check_at: &str) -> Result<Option<VersionSeq>> {
        self.run(|tx| {
            let sql = format!(
                "UPDATE watches SET next_check_at = ?2{} WHERE id = ?1",
                end_lease(tx)
            );
            tx.execute(&sql, &[&watch.0, &next_check_at])?;
            Ok(tx
                .query_one(
                    "SELECT max(seq) FROM versions WHERE watch_id = ?1",
                    &[&watch.0],
                )?
                .get::<Option<i64>>(0)?
                .map(VersionSeq))
        })
    }

    /// Keeps the raw body of a page that was not parsed (`too_complex`), in this batch's
    /// transaction: the body goes into `blobs` like every body, and a row names the watch, the
    /// time and the reason.
    pub fn keep_unparsed(
        &self,
        watch: WatchId,
        at: &str,
        hash: &BodyHash,
        raw: &[u8],
        reason: &str,
    ) -> Result<()> {
        self.run(|tx| {
            insert_body(tx, self.bucket, hash, raw, None)?;
            tx.execute(
                "INSERT INTO unparsed_bodies (watch_id, at, body_hash, reason)
                 VALUES (?1, ?2, ?3, ?4)",
                &[&watch.0, &at, &hash.to_hex(), &reason],
            )?;
            Ok(())
        })
    }

    /// The extractor version that produced the watch's latest version: `None` when the watch
    /// has no version, `Some(None)` when its latest version was stored before extractor
    /// versions were recorded.
    pub fn latest_extractor(&self, watch: WatchId) -> Result<Option<Option<String>>> {
        self.run(|tx| {
            tx.query_opt(
                "SELECT extractor FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                &[&watch.0],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
    }

    /// The watch's latest version with its raw body, for re-extraction.
    pub fn latest_body(&self, watch: WatchId) -> Result<Option<LatestBody>> {
        self.run(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT seq, extractor, final_url, body_hash, text_zstd FROM versions
                 WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
                &[&watch.0],
            )?
            else {
                return Ok(None);
            };
            let hash: String = r.get(3)?;
            let raw = read_blob(tx, self.bucket, &hash)?
                .ok_or_else(|| StoreError::Corrupt(format!("blob {hash} is missing")))?;
            Ok(Some(LatestBody {
                seq: VersionSeq(r.get(0)?),
                extractor: r.get(1)?,
                final_url: r.get(2)?,
                raw,
                text: r
                    .get::<Option<Vec<u8>>>(4)?
                    .and_then(|t| super::decompress_text(&t).ok()),
            }))
        })
    }

    /// Records which extractor produced a stored version.
    pub fn set_extractor(&self, watch: WatchId, seq: VersionSeq, extractor: &str) -> Result<()> {
        let n = self.run(|tx| {
            tx.execute(
                "UPDATE versions SET extractor = ?3 WHERE watch_id = ?1 AND seq = ?2",
                &[&watch.0, &seq.0, &extractor],
            )
        })?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {seq} of watch {} to mark",
                watch.0
            )));
        }
        Ok(())
    }

    /// Commits. On PostgreSQL it first renews this worker's host claims: a pass that is still
    /// writing keeps its hosts.
    pub fn commit(self) -> Result<()> {
        match self.tx.into_inner() {
            BatchTx::Sqlite(tx) => Ok(tx.commit()?),
            BatchTx::Postgres { mut tx, lease } => super::sql::blocking(|| {
                Tx::execute(
                    &mut tx,
                    "UPDATE host_claims SET lease_until = now() + make_interval(secs => ?2)
                     WHERE owner = ?1",
                    &[&super::pg::worker_id(), &lease],
                )?;
                Ok(tx.commit()?)
            }),
        }
    }
}

/// The latest version of a watch as stored: its raw body and the pipeline that read it.
#[derive(Debug, Clone)]
pub struct LatestBody {
    pub seq: VersionSeq,
    /// `None`: stored before extractor versions were recorded.
    pub extractor: Option<String>,
    pub final_url: String,
    pub raw: Vec<u8>,
    /// The version's canonical text as stored (a wall is judged against it).
    pub text: Option<String>,
}

fn record(
    tx: &mut dyn Tx,
    routes: &[AlertRoute],
    bucket: Option<&BlobBucket>,
    rec: &CheckRecord<'_>,
) -> Result<Recorded> {
    let d = rec.decision;
    let watch = rec.watch_id.0;
    let previous: Option<(i64, ContentHash)> = tx
        .query_opt(
            "SELECT seq, content_hash FROM versions WHERE watch_id = ?1 ORDER BY seq DESC LIMIT 1",
            &[&watch],
        )?
        .map(|r| -> Result<_> { Ok((r.get(0)?, r.parse(1)?)) })
        .transpose()?;
    let mut current = previous;
    if d.new_version {
        let capture = rec.capture.ok_or_else(|| {
            StoreError::Corrupt("a new version was decided without a capture".into())
        })?;
        let seq = previous.map_or(1, |(s, _)| s + 1);
        insert_body(
            tx,
            bucket,
            &capture.body_hash,
            &capture.raw,
            capture.packed.as_ref(),
        )?;
        let text = match &capture.text_zstd {
            Some(t) => t.clone(),
            None => compress_text(&capture.canonical_text)?,
        };
        let id = tx.insert_id(
            "INSERT INTO versions (watch_id, seq, captured_at, content_hash, loose_hash,
                body_hash, http_status, final_url, title, byline, published, modified,
                canonical_url, text_zstd)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            &[
                &watch,
                &seq,
                &rec.at,
                &capture.content_hash.to_hex(),
                &capture.loose_hash.to_hex(),
                &capture.body_hash.to_hex(),
                &rec.http_status.unwrap_or(200),
                &capture.final_url,
                &capture.title,
                &capture.byline,
                &capture.published,
                &capture.modified,
                &capture.canonical_url,
                &text,
            ],
        )?;
        proofs::append_version(tx, id)?;
        current = Some((seq, capture.content_hash));
    }
    let version_seq = current.map(|(s, _)| s);
    if d.kind.is_event() {
        let from = previous.filter(|_| d.new_version).map(|(s, _)| s);
        let event_id = tx.insert_id(
            "INSERT INTO events (watch_id, kind, at, version_seq, from_seq, significance,
                reverted_to, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                &watch,
                &d.kind.as_str(),
                &rec.at,
                &version_seq,
                &from,
                &d.significance.map(Significance::as_str),
                &d.reverted_to.map(|s| s.0),
                &d.detail,
            ],
        )?;
        proofs::append_event(tx, event_id)?;
        outbox::enqueue(tx, routes, event_id, rec.at)?;
    }
    let folded = d.kind == CheckKind::Unchanged
        && tx.execute(
            "UPDATE checks SET last_at = ?2, count = count + 1, http_status = ?3
             WHERE id = (SELECT max(id) FROM checks WHERE watch_id = ?1)
               AND kind IN ('captured', 'edited', 'restored', 'unchanged')
               AND version_seq IS NOT DISTINCT FROM ?4",
            &[&watch, &rec.at, &rec.http_status, &version_seq],
        )? > 0;
    // Checks that meet the same wall fold into one row too: its count is the run.
    let folded = folded
        || d.kind == CheckKind::Blocked
            && tx.execute(
                "UPDATE checks SET last_at = ?2, count = count + 1, http_status = ?3
                 WHERE id = (SELECT max(id) FROM checks WHERE watch_id = ?1)
                   AND kind = 'blocked' AND detail IS NOT DISTINCT FROM ?4",
                &[&watch, &rec.at, &rec.http_status, &d.detail],
            )? > 0;
    if !folded {
        let count = match tx.dialect() {
            // A real: SQLite stores small integers in fewer bytes, so an integer count would
            // grow the row it is folded into (0001_archive.sql).
            Dialect::Sqlite => "1.0",
            Dialect::Postgres => "1",
        };
        let sql = format!(
            "INSERT INTO checks (watch_id, kind, first_at, last_at, count, http_status,
                version_seq, detail)
             VALUES (?1, ?2, ?3, ?3, {count}, ?4, ?5, ?6)"
        );
        tx.execute(
            &sql,
            &[
                &watch,
                &d.kind.as_str(),
                &rec.at,
                &rec.http_status,
                &version_seq,
                &d.detail,
            ],
        )?;
    }
    let sql = format!(
        "UPDATE watches SET status = ?2, gone_streak = ?3, error_streak = ?4,
            last_checked_at = ?5, next_check_at = ?6,
            removed_at = CASE WHEN ?7 THEN ?5 ELSE removed_at END{}
         WHERE id = ?1",
        end_lease(tx)
    );
    tx.execute(
        &sql,
        &[
            &watch,
            &d.next.status.as_str(),
            &d.next.gone_streak,
            &d.next.error_streak,
            &rec.at,
            &rec.next_check_at,
            &rec.retire,
        ],
    )?;
    if rec.retire {
        ledger::append_watch(tx, EntryKind::WatchRemoved, watch, rec.at)?;
    }
    if let Some(v) = rec.validators {
        tx.execute(
            "UPDATE watches SET etag = ?2, last_modified = ?3 WHERE id = ?1",
            &[&watch, &v.etag, &v.last_modified],
        )?;
    }
    Ok(Recorded {
        version: version_seq.map(VersionSeq),
        content_hash: current.map(|(_, h)| h),
    })
}

#[cfg(test)]
mod tests {
    use crate::pure::classify::{Decision, WatchState};
    use crate::pure::model::VersionSeq;
    use crate::pure::model::{CheckKind, Sha256Hash, WatchStatus};
    use crate::store::Store;
    use crate::store::{Capture, CheckRecord};

    #[test]
    fn extractor_is_recorded_and_latest_body_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("a.db")).unwrap();
        let (watch, _) = store
            .add_watch(
                "https://n.example/a",
                crate::pure::model::Origin::Cli,
                "2026-01-01T00:00:00Z",
            )
            .unwrap();
        let raw = b"<html><body><p>Hello there, reader.</p></body></html>".to_vec();
        let capture = Capture {
            raw: raw.clone(),
            body_hash: Sha256Hash::of(&raw),
            final_url: "https://n.example/a".into(),
            title: "T".into(),
            byline: None,
            published: None,
            modified: None,
            canonical_url: None,
            canonical_text: "T\nHello there, reader.".into(),
            content_hash: Sha256Hash::of(b"T\nHello there, reader."),
            loose_hash: Sha256Hash::of(b"x"),
            packed: None,
            text_zstd: None,
        };
        let mut next = WatchState::new();
        next.status = WatchStatus::Live;
        let decision = Decision {
            kind: CheckKind::Captured,
            new_version: true,
            significance: None,
            reverted_to: None,
            next,
            detail: None,
        };
        let mut tx = store.batch().unwrap();
        assert!(tx.latest_extractor(watch).unwrap().is_none());
        tx.record(&CheckRecord {
            watch_id: watch,
            at: "2026-01-01T00:00:00Z",
            http_status: Some(200),
            decision: &decision,
            capture: Some(&capture),
            validators: None,
            next_check_at: None,
            retire: false,
        })
        .unwrap();
        assert_eq!(tx.latest_extractor(watch).unwrap(), Some(None));
        tx.set_extractor(watch, VersionSeq(1), "2").unwrap();
        assert_eq!(tx.latest_extractor(watch).unwrap(), Some(Some("2".into())));
        let latest = tx.latest_body(watch).unwrap().unwrap();
        assert_eq!(latest.raw, raw);
        assert_eq!(latest.seq, VersionSeq(1));
        assert!(tx.set_extractor(watch, VersionSeq(9), "2").is_err());
        tx.commit().unwrap();
    }
}
