//! PostgreSQL: what reads the archive whole (the ledger head and rows, raw scans for `verify`,
//! JSON Lines export) and the import that replays an export, re-chaining every entry.

use base64::Engine as _;
use postgres::GenericClient;

use super::record::{body_of, insert_body};
use super::{Pg, append, last, parse, parse_opt};
use crate::pure::ledger::{
    Entry, EntryBody, EntryKind, ExportEvent, ExportLine, ExportVersion, ExportWatch, Head,
};
use crate::pure::model::{CheckKind, Sha256Hash, VersionSeq, WatchId};
use crate::store::{
    BlobRow, EventCheckRow, ImportError, LedgerRow, Result, StoreError, VersionRow, compress_text,
    decompress_text,
};

/// Rows fetched per round trip by the scans, which never hold the whole archive in memory.
pub(super) const SCAN_PAGE: i64 = 256;

fn ledger_row(r: &postgres::Row) -> Result<LedgerRow> {
    let seq: i64 = r.try_get(0)?;
    let kind: String = r.try_get(1)?;
    let url: String = r.try_get(2)?;
    let version: Option<i64> = r.try_get(3)?;
    let at: String = r.try_get(4)?;
    let content: Option<String> = r.try_get(5)?;
    let body: Option<String> = r.try_get(6)?;
    let prev: String = r.try_get(7)?;
    let hash: String = r.try_get(8)?;
    let meta: Option<String> = r.try_get(10)?;
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
        row_id: r.try_get(9)?,
    })
}

fn missing_row(entry: &Entry, id: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "ledger entry {} records {} row {id}, which is missing (run `stet verify`)",
        entry.seq,
        entry.body.kind.table()
    ))
}

impl Pg {
    pub(in crate::store) fn ledger_head(&self) -> Result<Option<Head>> {
        self.with(|c| Ok(last(c)?.map(|(entries, head)| Head { entries, head })))
    }

    pub(in crate::store) fn ledger_rows(&self) -> Result<Vec<LedgerRow>> {
        self.with(|c| {
            c.query(
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

    pub(in crate::store) fn scan_blobs(&self, mut f: impl FnMut(BlobRow)) -> Result<()> {
        let bucket = self.blobs.as_ref();
        self.with(|c| {
            let mut after = String::new();
            loop {
                let rows = c.query(
                    "SELECT hash, size, compression, data FROM blobs WHERE hash > $1
                     ORDER BY hash LIMIT $2",
                    &[&after, &SCAN_PAGE],
                )?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in &rows {
                    let hash: String = r.try_get(0)?;
                    let compression: String = r.try_get(2)?;
                    let data: Vec<u8> = r.try_get(3)?;
                    let body = body_of(c, bucket, &compression, &data);
                    after.clone_from(&hash);
                    f(BlobRow {
                        hash,
                        size: r.try_get(1)?,
                        data: body,
                    });
                }
            }
        })
    }

    pub(in crate::store) fn scan_versions(&self, mut f: impl FnMut(VersionRow)) -> Result<()> {
        self.with(|c| {
            let mut after = 0i64;
            loop {
                let rows = c.query(
                    "SELECT v.id, w.url, v.seq, v.captured_at, v.content_hash, v.body_hash,
                            EXISTS (SELECT 1 FROM blobs b WHERE b.hash = v.body_hash),
                            v.text_zstd
                     FROM versions v LEFT JOIN watches w ON w.id = v.watch_id
                     WHERE v.id > $1 ORDER BY v.id LIMIT $2",
                    &[&after, &SCAN_PAGE],
                )?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in &rows {
                    let id: i64 = r.try_get(0)?;
                    let compressed: Vec<u8> = r.try_get(7)?;
                    after = id;
                    f(VersionRow {
                        id,
                        url: r.try_get(1)?,
                        seq: r.try_get(2)?,
                        captured_at: r.try_get(3)?,
                        content_hash: r.try_get(4)?,
                        body_hash: r.try_get(5)?,
                        blob_exists: r.try_get(6)?,
                        text: decompress_text(&compressed),
                    });
                }
            }
        })
    }

    pub(in crate::store) fn event_rows(&self) -> Result<Vec<EventCheckRow>> {
        self.with(|c| {
            c.query(
                "SELECT e.id, w.url, e.kind, e.at, e.version_seq
                 FROM events e LEFT JOIN watches w ON w.id = e.watch_id ORDER BY e.id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(EventCheckRow {
                    id: r.try_get(0)?,
                    url: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    at: r.try_get(3)?,
                    version_seq: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    pub(in crate::store) fn watch_rows(&self) -> Result<Vec<(WatchId, String)>> {
        self.with(|c| {
            c.query("SELECT id, url FROM watches ORDER BY id", &[])?
                .iter()
                .map(|r| Ok((WatchId(r.try_get(0)?), r.try_get(1)?)))
                .collect()
        })
    }

    pub(in crate::store) fn export_lines(
        &self,
        mut keep: impl FnMut(&Entry) -> bool,
        mut f: impl FnMut(ExportLine) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
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
            match line.entry.body.kind {
                EntryKind::Version | EntryKind::AttestVersion => {
                    line.version = Some(self.export_version(row.row_id)?)
                }
                EntryKind::WatchAdded | EntryKind::WatchRemoved => {
                    let origin: String = self
                        .with(|c| {
                            c.query_opt("SELECT origin FROM watches WHERE id = $1", &[&row.row_id])?
                                .map(|r| r.try_get(0))
                                .transpose()
                                .map_err(StoreError::from)
                        })?
                        .ok_or_else(|| missing_row(&line.entry, row.row_id))?;
                    line.watch = Some(ExportWatch { origin });
                }
                _ => line.event = Some(self.export_event(row.row_id, &line.entry)?),
            }
            f(line)?;
            n += 1;
        }
        Ok(n)
    }

    fn export_version(&self, id: i64) -> Result<ExportVersion> {
        let r = self
            .with(|c| {
                Ok(c.query_opt(
                    "SELECT seq, captured_at, content_hash, loose_hash, body_hash, http_status,
                            final_url, title, byline, published, modified, canonical_url,
                            text_zstd
                     FROM versions WHERE id = $1",
                    &[&id],
                )?)
            })?
            .ok_or_else(|| StoreError::Corrupt(format!("versions row {id} is missing")))?;
        let body_hash: Sha256Hash = parse(r.try_get(4)?)?;
        let text_zstd: Vec<u8> = r.try_get(12)?;
        let text = decompress_text(&text_zstd)
            .map_err(|why| StoreError::Corrupt(format!("versions row {id}: {why}")))?;
        let body = self
            .blob(&body_hash)?
            .ok_or_else(|| StoreError::Corrupt(format!("blob {body_hash} is missing")))?;
        Ok(ExportVersion {
            seq: VersionSeq(r.try_get(0)?),
            captured_at: r.try_get(1)?,
            content_hash: parse(r.try_get(2)?)?,
            loose_hash: parse(r.try_get(3)?)?,
            body_hash,
            http_status: r.try_get::<_, i32>(5)? as u16,
            final_url: r.try_get(6)?,
            title: r.try_get(7)?,
            byline: r.try_get(8)?,
            published: r.try_get(9)?,
            modified: r.try_get(10)?,
            canonical_url: r.try_get(11)?,
            text,
            body_base64: base64::engine::general_purpose::STANDARD.encode(body),
        })
    }

    fn export_event(&self, id: i64, entry: &Entry) -> Result<ExportEvent> {
        let r = self
            .with(|c| {
                Ok(c.query_opt(
                    "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
                     FROM events WHERE id = $1",
                    &[&id],
                )?)
            })?
            .ok_or_else(|| missing_row(entry, id))?;
        Ok(ExportEvent {
            kind: parse(r.try_get(0)?)?,
            at: r.try_get(1)?,
            version: r.try_get::<_, Option<i64>>(2)?.map(VersionSeq),
            from_version: r.try_get::<_, Option<i64>>(3)?.map(VersionSeq),
            significance: parse_opt(r.try_get(4)?)?,
            reverted_to: r.try_get::<_, Option<i64>>(5)?.map(VersionSeq),
            detail: r.try_get(6)?,
        })
    }

    pub(in crate::store) fn is_empty(&self) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM watches) AND NOT EXISTS (SELECT 1 FROM ledger)",
                &[],
            )?
            .try_get(0)?)
        })
    }

    /// Replays a complete JSON Lines export in one transaction, as the SQLite import does.
    pub(in crate::store) fn import(
        &self,
        lines: impl IntoIterator<Item = std::result::Result<ExportLine, ImportError>>,
    ) -> std::result::Result<Option<Head>, ImportError> {
        let bucket = self.blobs.as_ref();
        let lock = super::WRITE_LOCK;
        let mut client = self.client.borrow_mut();
        let client = client.as_mut().ok_or(StoreError::Closed)?;
        super::blocking(|| {
            let mut tx = client.transaction().map_err(StoreError::from)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
                .map_err(StoreError::from)?;
            for (i, line) in lines.into_iter().enumerate() {
                let line = line?;
                import_line(&mut tx, bucket, i + 1, &line)?;
            }
            let head = last(&mut tx)?.map(|(entries, head)| Head { entries, head });
            tx.commit().map_err(StoreError::from)?;
            Ok(head)
        })
    }
}

fn import_line(
    tx: &mut postgres::Transaction<'_>,
    bucket: Option<&super::BlobBucket>,
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
    let sql = |r: std::result::Result<u64, postgres::Error>| r.map_err(StoreError::from);
    let row_id = match e.body.kind {
        EntryKind::WatchAdded => {
            let origin = line.watch.as_ref().map_or("cli", |w| w.origin.as_str());
            sql(tx.execute(
                "INSERT INTO watches (url, origin, added_at, host) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (url) DO UPDATE SET removed_at = NULL, origin = $2",
                &[url, &origin, &e.body.at, &super::host_of(url)],
            ))?;
            watch_id(tx, url).map_err(fail)?
        }
        EntryKind::WatchRemoved => {
            let id = watch_id(tx, url).map_err(fail)?;
            sql(tx.execute(
                "UPDATE watches SET removed_at = $2 WHERE id = $1",
                &[&id, &e.body.at],
            ))?;
            id
        }
        EntryKind::AttestVersion => {
            let watch = watch_id(tx, url).map_err(fail)?;
            let seq = e.body.version.map_or(0, |v| v.0);
            tx.query_opt(
                "SELECT id FROM versions WHERE watch_id = $1 AND seq = $2",
                &[&watch, &seq],
            )
            .map_err(StoreError::from)?
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()
            .map_err(StoreError::from)?
            .ok_or_else(|| fail(format!("an attestation of v{seq}, which is not imported")))?
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
                "SELECT id FROM events WHERE watch_id = $1 AND kind = $2 AND at = $3
                   AND version_seq IS NOT DISTINCT FROM $4 ORDER BY id LIMIT 1",
                &[&watch, &kind, &e.body.at, &e.body.version.map(|v| v.0)],
            )
            .map_err(StoreError::from)?
            .map(|r| r.try_get::<_, i64>(0))
            .transpose()
            .map_err(StoreError::from)?
            .ok_or_else(|| fail("an attestation of an event that is not imported".into()))?
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
            let text = compress_text(&v.text)?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO versions (watch_id, seq, captured_at, content_hash,
                        loose_hash, body_hash, http_status, final_url, title, byline,
                        published, modified, canonical_url, text_zstd)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     RETURNING id",
                    &[
                        &watch,
                        &v.seq.0,
                        &v.captured_at,
                        &v.content_hash.to_hex(),
                        &v.loose_hash.to_hex(),
                        &v.body_hash.to_hex(),
                        &i32::from(v.http_status),
                        &v.final_url,
                        &v.title,
                        &v.byline,
                        &v.published,
                        &v.modified,
                        &v.canonical_url,
                        &text,
                    ],
                )
                .and_then(|r| r.try_get(0))
                .map_err(StoreError::from)?;
            sql(tx.execute(
                "UPDATE watches SET status = 'live', last_checked_at = $2 WHERE id = $1",
                &[&watch, &v.captured_at],
            ))?;
            id
        }
        _ => {
            let ev = line
                .event
                .as_ref()
                .ok_or_else(|| fail("an event entry without its event".into()))?;
            let watch = watch_id(tx, url).map_err(fail)?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO events (watch_id, kind, at, version_seq, from_seq,
                        significance, reverted_to, detail)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
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
                )
                .and_then(|r| r.try_get(0))
                .map_err(StoreError::from)?;
            let status = if ev.kind == CheckKind::Deleted {
                "deleted"
            } else {
                "live"
            };
            sql(tx.execute(
                "UPDATE watches SET status = $2, last_checked_at = $3 WHERE id = $1",
                &[&watch, &status, &ev.at],
            ))?;
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

fn watch_id(tx: &mut impl GenericClient, url: &str) -> std::result::Result<i64, String> {
    tx.query_opt("SELECT id FROM watches WHERE url = $1", &[&url])
        .map_err(|e| e.to_string())?
        .map(|r| r.try_get(0).map_err(|e| e.to_string()))
        .transpose()?
        .ok_or_else(|| format!("{url} appears before its watch:added entry"))
}
