//! The ledger table and what reads the archive whole, written once for both backends:
//! appending chained entries inside the caller's transaction, the head, raw scans for `verify`,
//! and JSON Lines export and import.
//!
//! Owns the SQL of the ledger; the entry format and the chain rule are in [`crate::pure::ledger`].
//! Never decides what counts as tampering: `verify` does, from what these scans return.

use base64::Engine as _;
use zstd::bulk::Decompressor;

use super::blobs::{body_of, insert_body, read_blob};
use super::sql::{Row, Tx};
use super::watches::insert_watch;
use super::{Result, Store, StoreError, compress_text, decompress_text};
use crate::pure::ledger::{
    Entry, EntryBody, EntryKind, ExportEvent, ExportLine, ExportVersion, ExportWatch, Head,
};
use crate::pure::model::{CheckKind, Sha256Hash, VersionSeq, WatchId};

/// Article texts up to this size decompress into one reused buffer; larger ones stream.
const TEXT_BUFFER: usize = 1 << 20;

/// Rows fetched per statement by the scans, which never hold the whole archive in memory.
pub(super) const SCAN_PAGE: i64 = 256;

/// Chains `body` after the current head and stores it, recording `row_id`. Call it inside the
/// transaction that writes the recorded row (on PostgreSQL, one that holds the write lock).
pub(super) fn append(tx: &mut dyn Tx, body: EntryBody, row_id: i64) -> Result<Entry> {
    let prev = last(tx)?;
    let entry = Entry::chain(prev, body);
    let b = &entry.body;
    let meta = b
        .meta
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("cannot encode metadata: {e}")))?;
    let (seq, kind, version) = (entry.seq, b.kind.as_str(), b.version.map(|v| v.0));
    let (content, body_hash) = (
        b.content_hash.map(|h| h.to_hex()),
        b.body_hash.map(|h| h.to_hex()),
    );
    let (prev_hash, hash) = (entry.prev_hash.to_hex(), entry.hash.to_hex());
    let mut params: Vec<&dyn super::sql::Param> = vec![
        &seq, &kind, &b.url, &version, &b.at, &content, &body_hash, &prev_hash, &hash, &row_id,
    ];
    let sql = match &meta {
        // Without metadata, the statement of the ledger's first schema: the upgrade that gives
        // an old SQLite archive its entries runs before the `meta` column exists.
        None => {
            "INSERT INTO ledger (seq, kind, watch_url, version_seq, at, content_hash, body_hash,
                prev_hash, hash, row_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        }
        Some(meta) => {
            params.push(meta);
            "INSERT INTO ledger (seq, kind, watch_url, version_seq, at, content_hash, body_hash,
                prev_hash, hash, row_id, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        }
    };
    tx.execute(sql, &params)?;
    Ok(entry)
}

fn last(tx: &mut dyn Tx) -> Result<Option<(i64, Sha256Hash)>> {
    tx.query_opt(
        "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    .map(|r| Ok((r.get(0)?, r.parse(1)?)))
    .transpose()
}

/// Records a watch change (`watch:added` or `watch:removed`) of watch `id`.
pub(super) fn append_watch(tx: &mut dyn Tx, kind: EntryKind, id: i64, at: &str) -> Result<()> {
    let url: String = tx
        .query_one("SELECT url FROM watches WHERE id = ?1", &[&id])?
        .get(0)?;
    append(
        tx,
        EntryBody {
            kind,
            url,
            version: None,
            at: at.to_string(),
            content_hash: None,
            body_hash: None,
            meta: None,
        },
        id,
    )?;
    Ok(())
}

/// Gives an archive created before the ledger existed its entries, inside the migration's
/// transaction: one per existing watch (and removal), version and event, in time order (at equal
/// times: watch, version, event, removal). The chain then proves nothing changed since the
/// upgrade; it cannot speak for what happened before.
pub(super) fn backfill(tx: &mut dyn Tx) -> Result<()> {
    let mut items: Vec<(String, u8, i64)> = Vec::new();
    for r in tx.query("SELECT id, added_at, removed_at FROM watches", &[])? {
        let id: i64 = r.get(0)?;
        items.push((r.get(1)?, 0, id));
        if let Some(removed) = r.get::<Option<String>>(2)? {
            items.push((removed, 3, id));
        }
    }
    for r in tx.query("SELECT id, captured_at FROM versions", &[])? {
        items.push((r.get(1)?, 1, r.get(0)?));
    }
    for r in tx.query("SELECT id, at FROM events", &[])? {
        items.push((r.get(1)?, 2, r.get(0)?));
    }
    items.sort();
    for (at, order, id) in items {
        let body = match order {
            0 | 3 => {
                let kind = [EntryKind::WatchAdded, EntryKind::WatchRemoved][usize::from(order > 0)];
                append_watch(tx, kind, id, &at)?;
                continue;
            }
            1 => {
                let r = tx.query_one(
                    "SELECT w.url, v.seq, v.content_hash, v.body_hash
                     FROM versions v JOIN watches w ON w.id = v.watch_id WHERE v.id = ?1",
                    &[&id],
                )?;
                EntryBody {
                    kind: EntryKind::Version,
                    url: r.get(0)?,
                    version: Some(VersionSeq(r.get(1)?)),
                    at,
                    content_hash: Some(r.parse(2)?),
                    body_hash: Some(r.parse(3)?),
                    meta: None,
                }
            }
            _ => {
                let r = tx.query_one(
                    "SELECT w.url, e.kind, e.version_seq
                     FROM events e JOIN watches w ON w.id = e.watch_id WHERE e.id = ?1",
                    &[&id],
                )?;
                let kind: String = r.get(1)?;
                EntryBody {
                    kind: kind
                        .parse()
                        .ok()
                        .and_then(EntryKind::of_event)
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("events row {id} has kind {kind:?}"))
                        })?,
                    url: r.get(0)?,
                    version: r.get::<Option<i64>>(2)?.map(VersionSeq),
                    at,
                    content_hash: None,
                    body_hash: None,
                    meta: None,
                }
            }
        };
        append(tx, body, id)?;
    }
    Ok(())
}

/// A ledger row as stored: the entry (if its fields parse) and the recorded row id.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub seq: i64,
    pub entry: std::result::Result<Entry, String>,
    pub row_id: i64,
}

/// A blob row as stored, for verification.
pub struct BlobRow {
    pub hash: String,
    pub size: i64,
    /// The decompressed bytes, or why they could not be decompressed.
    pub data: Result<Vec<u8>>,
}

/// A version row as stored, for verification.
pub struct VersionRow {
    pub id: i64,
    pub url: Option<String>,
    pub seq: i64,
    pub captured_at: String,
    pub content_hash: String,
    pub body_hash: String,
    pub blob_exists: bool,
    /// The decompressed text, or why it could not be decompressed.
    pub text: std::result::Result<String, String>,
}

/// An event row as stored, for verification.
#[derive(Debug, Clone)]
pub struct EventCheckRow {
    pub id: i64,
    pub url: Option<String>,
    pub kind: String,
    pub at: String,
    pub version_seq: Option<i64>,
}

fn ledger_row(r: &Row) -> Result<LedgerRow> {
    let seq: i64 = r.get(0)?;
    let (kind, url, version, at): (String, String, Option<i64>, String) =
        (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
    let (content, body): (Option<String>, Option<String>) = (r.get(5)?, r.get(6)?);
    let (prev, hash, meta): (String, String, Option<String>) = (r.get(7)?, r.get(8)?, r.get(10)?);
    let entry = (|| -> std::result::Result<Entry, String> {
        Ok(Entry {
            seq,
            body: EntryBody {
                kind: kind.parse()?,
                url,
                version: version.map(VersionSeq),
                at,
                content_hash: content.map(|h| h.parse()).transpose()?,
                body_hash: body.map(|h| h.parse()).transpose()?,
                meta: meta
                    .map(|m| serde_json::from_str(&m).map_err(|e| format!("bad metadata: {e}")))
                    .transpose()?,
            },
            prev_hash: prev.parse()?,
            hash: hash.parse()?,
        })
    })();
    Ok(LedgerRow {
        seq,
        entry,
        row_id: r.get(9)?,
    })
}

fn missing_row(entry: &Entry, id: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "ledger entry {} records {} row {id}, which is missing (run `stet verify`)",
        entry.seq,
        entry.body.kind.table()
    ))
}

fn zstd_context() -> Result<Decompressor<'static>> {
    Decompressor::new().map_err(|e| StoreError::Corrupt(format!("cannot start zstd: {e}")))
}

impl Store {
    /// The number of entries and the last entry's hash; `None` for an empty ledger.
    pub fn ledger_head(&self) -> Result<Option<Head>> {
        self.with(|tx| Ok(last(tx)?.map(|(entries, head)| Head { entries, head })))
    }

    /// Every ledger row in order of seq.
    pub fn ledger_rows(&self) -> Result<Vec<LedgerRow>> {
        self.with(|tx| {
            tx.query(
                "SELECT seq, kind, watch_url, version_seq, at, content_hash, body_hash,
                        prev_hash, hash, row_id, meta
                 FROM ledger ORDER BY seq",
                &[],
            )?
            .iter()
            .map(ledger_row)
            .collect()
        })
    }

    /// The Merkle leaves of the ledger: each entry's encoding, in order of seq. Fails on an
    /// entry whose stored fields do not parse (`verify` names it).
    pub fn ledger_leaves(&self) -> Result<Vec<Vec<u8>>> {
        self.ledger_rows()?
            .into_iter()
            .map(|row| {
                row.entry
                    .map(|e| crate::pure::ledger::encode(e.seq, &e.prev_hash, &e.body))
                    .map_err(|why| StoreError::Corrupt(format!("ledger entry {}: {why}", row.seq)))
            })
            .collect()
    }

    /// Calls `f` with every blob, decompressed, one at a time.
    pub fn scan_blobs(&self, mut f: impl FnMut(BlobRow)) -> Result<()> {
        let bucket = self.bucket();
        self.with(|tx| {
            let mut dctx = zstd_context()?;
            let mut after = String::new();
            loop {
                let rows = tx.query(
                    "SELECT hash, size, compression, data FROM blobs WHERE hash > ?1
                     ORDER BY hash LIMIT ?2",
                    &[&after, &SCAN_PAGE],
                )?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in rows {
                    let (hash, size): (String, i64) = (r.get(0)?, r.get(1)?);
                    let (compression, data): (String, Vec<u8>) = (r.get(2)?, r.get(3)?);
                    // One reused context, and the recorded size for an exact buffer; when it
                    // does not fit (a size was altered), the streaming path says what is wrong.
                    let fast = (compression == "zstd")
                        .then(|| dctx.decompress(&data, usize::try_from(size).ok()?).ok())
                        .flatten();
                    let data = fast.map_or_else(|| body_of(tx, bucket, &compression, &data), Ok);
                    after.clone_from(&hash);
                    f(BlobRow { hash, size, data });
                }
            }
        })
    }

    /// Calls `f` with every version, its text decompressed, one at a time.
    pub fn scan_versions(&self, mut f: impl FnMut(VersionRow)) -> Result<()> {
        self.with(|tx| {
            let mut dctx = zstd_context()?;
            let mut buffer: Vec<u8> = Vec::with_capacity(TEXT_BUFFER);
            let mut after = 0i64;
            loop {
                let rows = tx.query(
                    "SELECT v.id, w.url, v.seq, v.captured_at, v.content_hash, v.body_hash,
                            EXISTS (SELECT 1 FROM blobs b WHERE b.hash = v.body_hash),
                            v.text_zstd
                     FROM versions v LEFT JOIN watches w ON w.id = v.watch_id
                     WHERE v.id > ?1 ORDER BY v.id LIMIT ?2",
                    &[&after, &SCAN_PAGE],
                )?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in rows {
                    let compressed: Vec<u8> = r.get(7)?;
                    buffer.clear();
                    let text = match dctx.decompress_to_buffer(&compressed, &mut buffer) {
                        Ok(_) => String::from_utf8(buffer.clone())
                            .map_err(|_| "the text is not UTF-8".to_string()),
                        // Larger than the buffer, or broken: the streaming path tells which.
                        Err(_) => decompress_text(&compressed),
                    };
                    after = r.get(0)?;
                    f(VersionRow {
                        id: after,
                        url: r.get(1)?,
                        seq: r.get(2)?,
                        captured_at: r.get(3)?,
                        content_hash: r.get(4)?,
                        body_hash: r.get(5)?,
                        blob_exists: r.get(6)?,
                        text,
                    });
                }
            }
        })
    }

    /// Every event row with its watch's URL.
    pub fn event_rows(&self) -> Result<Vec<EventCheckRow>> {
        self.with(|tx| {
            tx.query(
                "SELECT e.id, w.url, e.kind, e.at, e.version_seq
                 FROM events e LEFT JOIN watches w ON w.id = e.watch_id ORDER BY e.id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(EventCheckRow {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    kind: r.get(2)?,
                    at: r.get(3)?,
                    version_seq: r.get(4)?,
                })
            })
            .collect()
        })
    }

    /// Every watch row: id and URL.
    pub fn watch_rows(&self) -> Result<Vec<(WatchId, String)>> {
        self.with(|tx| {
            tx.query("SELECT id, url FROM watches ORDER BY id", &[])?
                .iter()
                .map(|r| Ok((WatchId(r.get(0)?), r.get(1)?)))
                .collect()
        })
    }

    /// One export line per ledger entry that `keep` accepts, in ledger order, each with the
    /// row it records.
    pub fn export_lines(
        &self,
        mut keep: impl FnMut(&Entry) -> bool,
        mut f: impl FnMut(ExportLine) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        let bucket = self.bucket();
        let mut n = 0;
        for row in self.ledger_rows()? {
            let entry = row
                .entry
                .map_err(|e| StoreError::Corrupt(format!("ledger entry {}: {e}", row.seq)))?;
            if !keep(&entry) {
                continue;
            }
            let mut line = ExportLine {
                entry,
                watch: None,
                version: None,
                event: None,
            };
            let id = row.row_id;
            self.with(|tx| {
                match line.entry.body.kind {
                    EntryKind::Version | EntryKind::AttestVersion => {
                        line.version = Some(export_version(tx, bucket, id)?)
                    }
                    EntryKind::WatchAdded | EntryKind::WatchRemoved => {
                        let origin = tx
                            .query_opt("SELECT origin FROM watches WHERE id = ?1", &[&id])?
                            .ok_or_else(|| missing_row(&line.entry, id))?
                            .get(0)?;
                        line.watch = Some(ExportWatch { origin });
                    }
                    _ => line.event = Some(export_event(tx, id, &line.entry)?),
                }
                Ok(())
            })?;
            f(line)?;
            n += 1;
        }
        Ok(n)
    }

    /// Whether the archive holds nothing yet (no watch, no ledger entry).
    pub fn is_empty(&self) -> Result<bool> {
        self.with(|tx| {
            tx.query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM watches) AND NOT EXISTS (SELECT 1 FROM ledger)",
                &[],
            )?
            .get(0)
        })
    }

    /// Replays a complete JSON Lines export, in one transaction: every row is written again and
    /// every entry re-chained; each re-computed entry hash must equal the exported one.
    pub fn import(
        &mut self,
        lines: impl IntoIterator<Item = std::result::Result<ExportLine, ImportError>>,
    ) -> std::result::Result<Option<Head>, ImportError> {
        let bucket = self.bucket();
        self.write(|tx| {
            for (i, line) in lines.into_iter().enumerate() {
                import_line(tx, bucket, i + 1, &line?)?;
            }
            Ok(last(tx)?.map(|(entries, head)| Head { entries, head }))
        })
    }
}

fn export_version(
    tx: &mut dyn Tx,
    bucket: Option<&super::s3::BlobBucket>,
    id: i64,
) -> Result<ExportVersion> {
    let r = tx
        .query_opt(
            "SELECT seq, captured_at, content_hash, loose_hash, body_hash, http_status,
                    final_url, title, byline, published, modified, canonical_url, text_zstd
             FROM versions WHERE id = ?1",
            &[&id],
        )?
        .ok_or_else(|| StoreError::Corrupt(format!("versions row {id} is missing")))?;
    let body_hash: Sha256Hash = r.parse(4)?;
    let text = decompress_text(&r.get::<Vec<u8>>(12)?)
        .map_err(|why| StoreError::Corrupt(format!("versions row {id}: {why}")))?;
    let body = read_blob(tx, bucket, &body_hash.to_hex())?
        .ok_or_else(|| StoreError::Corrupt(format!("blob {body_hash} is missing")))?;
    Ok(ExportVersion {
        seq: VersionSeq(r.get(0)?),
        captured_at: r.get(1)?,
        content_hash: r.parse(2)?,
        loose_hash: r.parse(3)?,
        body_hash,
        http_status: u16::try_from(r.get::<i64>(5)?)
            .map_err(|_| StoreError::Corrupt(format!("versions row {id}: bad http_status")))?,
        final_url: r.get(6)?,
        title: r.get(7)?,
        byline: r.get(8)?,
        published: r.get(9)?,
        modified: r.get(10)?,
        canonical_url: r.get(11)?,
        text,
        body_base64: base64::engine::general_purpose::STANDARD.encode(body),
    })
}

fn export_event(tx: &mut dyn Tx, id: i64, entry: &Entry) -> Result<ExportEvent> {
    let r = tx
        .query_opt(
            "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
             FROM events WHERE id = ?1",
            &[&id],
        )?
        .ok_or_else(|| missing_row(entry, id))?;
    Ok(ExportEvent {
        kind: r.parse(0)?,
        at: r.get(1)?,
        version: r.get::<Option<i64>>(2)?.map(VersionSeq),
        from_version: r.get::<Option<i64>>(3)?.map(VersionSeq),
        significance: r.parse_opt(4)?,
        reverted_to: r.get::<Option<i64>>(5)?.map(VersionSeq),
        detail: r.get(6)?,
    })
}

/// Writes one export line's row again and re-chains its entry.
fn import_line(
    tx: &mut dyn Tx,
    bucket: Option<&super::s3::BlobBucket>,
    n: usize,
    line: &ExportLine,
) -> std::result::Result<(), ImportError> {
    let fail = |message: String| ImportError::Line { line: n, message };
    let e = &line.entry;
    let url = &e.body.url;
    let next = last(tx)?.map_or(1, |(seq, _)| seq + 1);
    if e.seq != next {
        return Err(fail(format!(
            "entry {} where entry {next} was expected: only a complete export can be \
             imported (one made without --url, --since or --until)",
            e.seq
        )));
    }
    let row_id = match e.body.kind {
        EntryKind::WatchAdded => {
            let origin = line.watch.as_ref().map_or("cli", |w| w.origin.as_str());
            insert_watch(
                tx,
                url,
                origin,
                &e.body.at,
                "ON CONFLICT (url) DO UPDATE SET removed_at = NULL, origin = ?2",
            )?;
            watch_id(tx, url).map_err(fail)?
        }
        EntryKind::WatchRemoved => {
            let id = watch_id(tx, url).map_err(fail)?;
            tx.execute(
                "UPDATE watches SET removed_at = ?2 WHERE id = ?1",
                &[&id, &e.body.at],
            )?;
            id
        }
        EntryKind::AttestVersion => {
            let watch = watch_id(tx, url).map_err(fail)?;
            let seq = e.body.version.map_or(0, |v| v.0);
            tx.query_opt(
                "SELECT id FROM versions WHERE watch_id = ?1 AND seq = ?2",
                &[&watch, &seq],
            )?
            .ok_or_else(|| fail(format!("an attestation of v{seq}, which is not imported")))?
            .get(0)?
        }
        EntryKind::AttestEvent => {
            let watch = watch_id(tx, url).map_err(fail)?;
            let kind = e
                .body
                .meta
                .as_ref()
                .and_then(|m| m.first().cloned().flatten())
                .unwrap_or_default();
            tx.query_opt(
                "SELECT id FROM events WHERE watch_id = ?1 AND kind = ?2 AND at = ?3
                   AND version_seq IS NOT DISTINCT FROM ?4 ORDER BY id LIMIT 1",
                &[&watch, &kind, &e.body.at, &e.body.version.map(|v| v.0)],
            )?
            .ok_or_else(|| fail("an attestation of an event that is not imported".into()))?
            .get(0)?
        }
        EntryKind::Version => {
            let v = line
                .version
                .as_ref()
                .ok_or_else(|| fail("a version entry without its version".into()))?;
            let watch = watch_id(tx, url).map_err(fail)?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&v.body_base64)
                .map_err(|err| fail(format!("body_base64: {err}")))?;
            if Sha256Hash::of(&raw) != v.body_hash {
                return Err(fail(format!("the body does not hash to {}", v.body_hash)));
            }
            if Sha256Hash::of(v.text.as_bytes()) != v.content_hash {
                return Err(fail(format!(
                    "the text does not hash to {}",
                    v.content_hash
                )));
            }
            insert_body(tx, bucket, &v.body_hash, &raw, None)?;
            let id = tx.insert_id(
                "INSERT INTO versions (watch_id, seq, captured_at, content_hash, loose_hash,
                    body_hash, http_status, final_url, title, byline, published, modified,
                    canonical_url, text_zstd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                &[
                    &watch,
                    &v.seq.0,
                    &v.captured_at,
                    &v.content_hash.to_hex(),
                    &v.loose_hash.to_hex(),
                    &v.body_hash.to_hex(),
                    &v.http_status,
                    &v.final_url,
                    &v.title,
                    &v.byline,
                    &v.published,
                    &v.modified,
                    &v.canonical_url,
                    &compress_text(&v.text)?,
                ],
            )?;
            tx.execute(
                "UPDATE watches SET status = 'live', last_checked_at = ?2 WHERE id = ?1",
                &[&watch, &v.captured_at],
            )?;
            id
        }
        _ => {
            let ev = line
                .event
                .as_ref()
                .ok_or_else(|| fail("an event entry without its event".into()))?;
            let watch = watch_id(tx, url).map_err(fail)?;
            let id = tx.insert_id(
                "INSERT INTO events (watch_id, kind, at, version_seq, from_seq, significance,
                    reverted_to, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &[
                    &watch,
                    &ev.kind.as_str(),
                    &ev.at,
                    &ev.version.map(|s| s.0),
                    &ev.from_version.map(|s| s.0),
                    &ev.significance.map(|s| s.as_str()),
                    &ev.reverted_to.map(|s| s.0),
                    &ev.detail,
                ],
            )?;
            let status = if ev.kind == CheckKind::Deleted {
                "deleted"
            } else {
                "live"
            };
            tx.execute(
                "UPDATE watches SET status = ?2, last_checked_at = ?3 WHERE id = ?1",
                &[&watch, &status, &ev.at],
            )?;
            id
        }
    };
    let written = append(tx, e.body.clone(), row_id)?;
    if written.hash != e.hash {
        return Err(fail(format!(
            "entry {} re-computes to {}, not to the exported hash {}",
            e.seq, written.hash, e.hash
        )));
    }
    Ok(())
}

fn watch_id(tx: &mut dyn Tx, url: &str) -> std::result::Result<i64, String> {
    tx.query_opt("SELECT id FROM watches WHERE url = ?1", &[&url])
        .and_then(|r| r.map(|r| r.get(0)).transpose())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{url} appears before its watch:added entry"))
}

/// Why an import stopped; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
