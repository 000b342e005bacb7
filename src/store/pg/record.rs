//! PostgreSQL: recording check outcomes in one transaction, storing bodies as chunks (in the
//! database, or in object storage), and reading a body back.

use std::cell::RefCell;

use postgres::GenericClient;

use super::{Pg, WRITE_LOCK, append_watch, blocking, parse, worker_id};
use crate::notify::AlertRoute;
use crate::pure::classify::{Latest, Metadata, WatchState};
use crate::pure::ledger::EntryKind;
use crate::pure::model::{BodyHash, CheckKind, ContentHash, Significance, VersionSeq, WatchId};
use crate::store::blobs::{PackedBody, compress, decompress_chunks};
use crate::store::s3::BlobBucket;
use crate::store::{CheckRecord, Recorded, Result, StoreError, compress_text};

/// One open transaction of check outcomes on PostgreSQL; it holds the write lock.
pub(in crate::store) struct PgBatch<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    blobs: Option<&'a BlobBucket>,
    lease: f64,
}

impl Pg {
    pub(in crate::store) fn batch(&mut self) -> Result<PgBatch<'_>> {
        let lease = self.lease_secs();
        let Pg { client, blobs, .. } = self;
        let client = client.get_mut().as_mut().ok_or(StoreError::Closed)?;
        let tx = blocking(|| -> Result<_> {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            Ok(tx)
        })?;
        Ok(PgBatch {
            tx: RefCell::new(tx),
            blobs: blobs.as_ref(),
            lease,
        })
    }

    /// The raw body stored under `hash`, reassembled from its chunks.
    pub(in crate::store) fn blob(&self, hash: &BodyHash) -> Result<Option<Vec<u8>>> {
        self.with(|c| read_blob(c, self.blobs.as_ref(), &hash.to_hex()))
    }
}

/// Reassembles the body stored under `hash`, if there is one.
pub(super) fn read_blob(
    c: &mut impl GenericClient,
    bucket: Option<&BlobBucket>,
    hash: &str,
) -> Result<Option<Vec<u8>>> {
    let Some(row) = c.query_opt(
        "SELECT compression, data FROM blobs WHERE hash = $1",
        &[&hash],
    )?
    else {
        return Ok(None);
    };
    let compression: String = row.try_get(0)?;
    let data: Vec<u8> = row.try_get(1)?;
    body_of(c, bucket, &compression, &data).map(Some)
}

pub(super) fn body_of(
    c: &mut impl GenericClient,
    bucket: Option<&BlobBucket>,
    compression: &str,
    data: &[u8],
) -> Result<Vec<u8>> {
    match compression {
        "chunks" => decompress_chunks(data, |key| match bucket {
            Some(b) => b.get(key),
            None => Ok(c
                .query_opt("SELECT data FROM chunks WHERE hash = $1", &[&key])?
                .map(|r| r.try_get::<_, Option<Vec<u8>>>(0))
                .transpose()?
                .flatten()),
        }),
        "zstd" => zstd::decode_all(data)
            .map_err(|e| StoreError::Corrupt(format!("blob does not decompress: {e}"))),
        "none" => Ok(data.to_vec()),
        other => Err(StoreError::Corrupt(format!(
            "unknown blob compression {other:?}"
        ))),
    }
}

/// Stores a raw body once: its chunks not stored yet (in the object store when there is one,
/// the rows say which chunks exist), then the blob row listing them.
pub(super) fn insert_body(
    tx: &mut impl GenericClient,
    bucket: Option<&BlobBucket>,
    hash: &BodyHash,
    raw: &[u8],
    packed: Option<&PackedBody>,
) -> Result<()> {
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = $1)",
            &[&hash.to_hex()],
        )?
        .try_get(0)?;
    if exists {
        return Ok(());
    }
    let packed = match packed {
        Some(p) => p.clone(),
        None => PackedBody::pack(raw, |_| false)?,
    };
    let mut manifest = Vec::with_capacity(packed.chunks.len() * 32);
    for c in &packed.chunks {
        manifest.extend_from_slice(&c.digest.0);
        let key = c.digest.to_hex();
        let stored: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = $1)",
                &[&key],
            )?
            .try_get(0)?;
        if stored {
            continue;
        }
        let data = match &c.data {
            Some(d) => d.clone(),
            None => {
                let bytes = raw.get(c.offset..c.offset + c.len).ok_or_else(|| {
                    StoreError::Corrupt("a packed chunk lies outside its body".into())
                })?;
                compress(bytes)?
            }
        };
        let in_db = match bucket {
            // The object first: a row never names bytes that are not there. An object whose
            // row rolls back is written again, to the same key, next time.
            Some(b) => {
                b.put(&key, data)?;
                None
            }
            None => Some(data),
        };
        tx.execute(
            "INSERT INTO chunks (hash, size, data) VALUES ($1, $2, $3)
             ON CONFLICT (hash) DO NOTHING",
            &[&key, &(c.len as i64), &in_db],
        )?;
    }
    tx.execute(
        "INSERT INTO blobs (hash, size, compression, data) VALUES ($1, $2, 'chunks', $3)",
        &[&hash.to_hex(), &(raw.len() as i64), &manifest],
    )?;
    Ok(())
}

impl PgBatch<'_> {
    fn with<T>(&self, f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut tx = self.tx.borrow_mut();
        blocking(|| f(&mut tx))
    }

    pub(in crate::store) fn latest_extractor(
        &self,
        watch: WatchId,
    ) -> Result<Option<Option<String>>> {
        self.with(|tx| {
            tx.query_opt(
                "SELECT extractor FROM versions WHERE watch_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&watch.0],
            )?
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .transpose()
        })
    }

    pub(in crate::store) fn latest_body(
        &self,
        watch: WatchId,
    ) -> Result<Option<crate::store::LatestBody>> {
        let bucket = self.blobs;
        self.with(|tx| {
            let Some(r) = tx.query_opt(
                "SELECT seq, extractor, final_url, body_hash, text_zstd FROM versions
                 WHERE watch_id = $1 ORDER BY seq DESC LIMIT 1",
                &[&watch.0],
            )?
            else {
                return Ok(None);
            };
            let hash: String = r.try_get(3)?;
            let raw = read_blob(tx, bucket, &hash)?
                .ok_or_else(|| StoreError::Corrupt(format!("blob {hash} is missing")))?;
            Ok(Some(crate::store::LatestBody {
                seq: VersionSeq(r.try_get(0)?),
                extractor: r.try_get(1)?,
                final_url: r.try_get(2)?,
                raw,
                text: r
                    .try_get::<_, Option<Vec<u8>>>(4)?
                    .and_then(|t| crate::store::decompress_text(&t).ok()),
            }))
        })
    }

    pub(in crate::store) fn set_extractor(
        &self,
        watch: WatchId,
        seq: VersionSeq,
        extractor: &str,
    ) -> Result<()> {
        let n = self.with(|tx| {
            Ok(tx.execute(
                "UPDATE versions SET extractor = $3 WHERE watch_id = $1 AND seq = $2",
                &[&watch.0, &seq.0, &extractor],
            )?)
        })?;
        if n != 1 {
            return Err(StoreError::Corrupt(format!(
                "no version {seq} of watch {} to mark",
                watch.0
            )));
        }
        Ok(())
    }

    /// Keeps the raw body of a page that was not parsed, in this batch's transaction.
    pub(in crate::store) fn keep_unparsed(
        &self,
        watch: WatchId,
        at: &str,
        hash: &BodyHash,
        raw: &[u8],
        reason: &str,
    ) -> Result<()> {
        let bucket = self.blobs;
        self.with(|tx| {
            insert_body(tx, bucket, hash, raw, None)?;
            tx.execute(
                "INSERT INTO unparsed_bodies (watch_id, at, body_hash, reason)
                 VALUES ($1, $2, $3, $4)",
                &[&watch.0, &at, &hash.to_hex(), &reason],
            )?;
            Ok(())
        })
    }

    pub(in crate::store) fn state(&self, watch: WatchId) -> Result<WatchState> {
        self.with(|tx| {
            let r = tx.query_one(
                "SELECT status, gone_streak, error_streak FROM watches WHERE id = $1",
                &[&watch.0],
            )?;
            let status: String = r.try_get(0)?;
            let gone_streak: i64 = r.try_get(1)?;
            let error_streak: i64 = r.try_get(2)?;
            let latest = tx
                .query_opt(
                    "SELECT seq, content_hash, loose_hash, byline, published, modified
                     FROM versions WHERE watch_id = $1 ORDER BY seq DESC LIMIT 1",
                    &[&watch.0],
                )?
                .map(|r| -> Result<Latest> {
                    Ok(Latest {
                        seq: VersionSeq(r.try_get(0)?),
                        content_hash: parse(r.try_get(1)?)?,
                        loose_hash: parse(r.try_get(2)?)?,
                        metadata: Metadata {
                            byline: r.try_get(3)?,
                            published: r.try_get(4)?,
                            modified: r.try_get(5)?,
                        },
                    })
                })
                .transpose()?;
            Ok(WatchState {
                status: parse(status)?,
                gone_streak: gone_streak as u32,
                error_streak: error_streak as u32,
                latest,
            })
        })
    }

    pub(in crate::store) fn earlier_match(
        &self,
        watch: WatchId,
        hash: &ContentHash,
    ) -> Result<Option<VersionSeq>> {
        self.with(|tx| {
            Ok(tx
                .query_opt(
                    "SELECT seq FROM versions WHERE watch_id = $1 AND content_hash = $2
                       AND seq < (SELECT max(seq) FROM versions WHERE watch_id = $1)
                     ORDER BY seq LIMIT 1",
                    &[&watch.0, &hash.to_hex()],
                )?
                .map(|r| r.try_get(0).map(VersionSeq))
                .transpose()?)
        })
    }

    /// As the SQLite batch's `record`; also ends this worker's lease on the watch.
    pub(in crate::store) fn record(
        &mut self,
        routes: &[AlertRoute],
        rec: &CheckRecord<'_>,
    ) -> Result<Recorded> {
        let bucket = self.blobs;
        self.with(|tx| {
            let d = rec.decision;
            let watch = rec.watch_id.0;
            let previous: Option<(i64, ContentHash)> = tx
                .query_opt(
                    "SELECT seq, content_hash FROM versions WHERE watch_id = $1
                     ORDER BY seq DESC LIMIT 1",
                    &[&watch],
                )?
                .map(|r| -> Result<_> { Ok((r.try_get(0)?, parse(r.try_get(1)?)?)) })
                .transpose()?;
            let mut current = previous;
            let status = rec.http_status.map(i32::from);
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
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO versions (watch_id, seq, captured_at, content_hash,
                            loose_hash, body_hash, http_status, final_url, title, byline,
                            published, modified, canonical_url, text_zstd)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                         RETURNING id",
                        &[
                            &watch,
                            &seq,
                            &rec.at,
                            &capture.content_hash.to_hex(),
                            &capture.loose_hash.to_hex(),
                            &capture.body_hash.to_hex(),
                            &status.unwrap_or(200),
                            &capture.final_url,
                            &capture.title,
                            &capture.byline,
                            &capture.published,
                            &capture.modified,
                            &capture.canonical_url,
                            &text,
                        ],
                    )?
                    .try_get(0)?;
                super::proofs::append_version(tx, id)?;
                current = Some((seq, capture.content_hash));
            }
            let version_seq = current.map(|(s, _)| s);
            if d.kind.is_event() {
                let from = if d.new_version {
                    previous.map(|(s, _)| s)
                } else {
                    None
                };
                let event_id: i64 = tx
                    .query_one(
                        "INSERT INTO events (watch_id, kind, at, version_seq, from_seq,
                            significance, reverted_to, detail)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
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
                    )?
                    .try_get(0)?;
                super::proofs::append_event(tx, event_id)?;
                super::outbox::enqueue(tx, routes, event_id, rec.at)?;
            }
            let folded = d.kind == CheckKind::Unchanged
                && tx.execute(
                    "UPDATE checks SET last_at = $2, count = count + 1, http_status = $3
                     WHERE id = (SELECT max(id) FROM checks WHERE watch_id = $1)
                       AND kind IN ('captured', 'edited', 'restored', 'unchanged')
                       AND version_seq IS NOT DISTINCT FROM $4",
                    &[&watch, &rec.at, &status, &version_seq],
                )? > 0;
            // Checks that meet the same wall fold into one row too: its count is the run.
            let folded = folded
                || d.kind == CheckKind::Blocked
                    && tx.execute(
                        "UPDATE checks SET last_at = $2, count = count + 1, http_status = $3
                         WHERE id = (SELECT max(id) FROM checks WHERE watch_id = $1)
                           AND kind = 'blocked' AND detail IS NOT DISTINCT FROM $4",
                        &[&watch, &rec.at, &status, &d.detail],
                    )? > 0;
            if !folded {
                tx.execute(
                    "INSERT INTO checks (watch_id, kind, first_at, last_at, count, http_status,
                        version_seq, detail)
                     VALUES ($1, $2, $3, $3, 1, $4, $5, $6)",
                    &[
                        &watch,
                        &d.kind.as_str(),
                        &rec.at,
                        &status,
                        &version_seq,
                        &d.detail,
                    ],
                )?;
            }
            tx.execute(
                "UPDATE watches SET status = $2, gone_streak = $3, error_streak = $4,
                    last_checked_at = $5, next_check_at = $6,
                    removed_at = CASE WHEN $7 THEN $5 ELSE removed_at END,
                    lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
                &[
                    &watch,
                    &d.next.status.as_str(),
                    &i64::from(d.next.gone_streak),
                    &i64::from(d.next.error_streak),
                    &rec.at,
                    &rec.next_check_at,
                    &rec.retire,
                ],
            )?;
            if rec.retire {
                append_watch(tx, EntryKind::WatchRemoved, watch, rec.at)?;
            }
            if let Some(v) = rec.validators {
                tx.execute(
                    "UPDATE watches SET etag = $2, last_modified = $3 WHERE id = $1",
                    &[&watch, &v.etag, &v.last_modified],
                )?;
            }
            Ok(Recorded {
                version: version_seq.map(VersionSeq),
                content_hash: current.map(|(_, h)| h),
            })
        })
    }

    /// Moves the watch's next check to `next_check_at` and ends this worker's lease on it;
    /// returns its current version.
    pub(in crate::store) fn defer(
        &mut self,
        watch: WatchId,
        next_check_at: &str,
    ) -> Result<Option<VersionSeq>> {
        self.with(|tx| {
            tx.execute(
                "UPDATE watches SET next_check_at = $2, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
                &[&watch.0, &next_check_at],
            )?;
            Ok(tx
                .query_one(
                    "SELECT max(seq) FROM versions WHERE watch_id = $1",
                    &[&watch.0],
                )?
                .try_get::<_, Option<i64>>(0)?
                .map(VersionSeq))
        })
    }

    /// Commits, and renews this worker's host claims: a pass that is still writing keeps its
    /// hosts.
    pub(in crate::store) fn commit(self) -> Result<()> {
        let lease = self.lease;
        let mut tx = self.tx.into_inner();
        blocking(|| -> Result<()> {
            tx.execute(
                "UPDATE host_claims SET lease_until = now() + make_interval(secs => $2)
                 WHERE owner = $1",
                &[&worker_id(), &lease],
            )?;
            Ok(tx.commit()?)
        })
    }
}
