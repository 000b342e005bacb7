//! JSON Lines export and import of the whole archive, written once for both backends.
//!
//! Owns turning ledger entries with their rows into export lines, and replaying a complete
//! export into an empty archive (every entry re-chained, each hash checked). Sits above the
//! ledger table and the watch rows it writes; never decides what an entry encodes: the
//! format is [`crate::pure::ledger`].

use base64::Engine as _;

use super::blobs::{insert_body, read_blob};
use super::ledger::{append, last, missing_row};
use super::sql::Tx;
use super::watches::insert_watch;
use super::{Result, Store, StoreError, compress_text, decompress_text};
use crate::pure::ledger::{
    Entry, EntryKind, ExportEvent, ExportLine, ExportVersion, ExportWatch, Head,
};
use crate::pure::model::{CheckKind, Sha256Hash, VersionSeq};

impl Store {
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
