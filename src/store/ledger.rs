//! The ledger table and what reads the archive whole: appending chained entries inside the
//! caller's transaction, the head, raw scans for `verify`, and JSON Lines export and import.
//!
//! Owns the SQL of the ledger; the entry format and the chain rule are in [`crate::pure::ledger`].
//! Never decides what counts as tampering: `verify` does, from what these scans return.

use rusqlite::{Connection, OptionalExtension, params};
use zstd::bulk::Decompressor;

use super::{Result, Sqlite, StoreError, ZSTD_LEVEL, decompress, decompress_text, insert_blob};
use crate::pure::ledger::{
    Entry, EntryBody, EntryKind, ExportEvent, ExportLine, ExportVersion, ExportWatch, Head,
};
use crate::pure::model::{Sha256Hash, VersionSeq, WatchId};

/// Article texts up to this size decompress into one reused buffer; larger ones stream.
const TEXT_BUFFER: usize = 1 << 20;

/// Chains `body` after the current head and stores it, recording `row_id`. Call it inside the
/// transaction that writes the recorded row.
pub(super) fn append(conn: &Connection, body: EntryBody, row_id: i64) -> Result<Entry> {
    let prev = last(conn)?;
    let entry = Entry::chain(prev, body);
    let b = &entry.body;
    let common = params![
        entry.seq,
        b.kind.as_str(),
        b.url,
        b.version.map(|v| v.0),
        b.at,
        b.content_hash.map(|h| h.to_hex()),
        b.body_hash.map(|h| h.to_hex()),
        entry.prev_hash.to_hex(),
        entry.hash.to_hex(),
        row_id,
    ];
    match &b.meta {
        // Without metadata, the statement of the ledger's first schema: the upgrade that
        // gives an old archive its entries runs before the `meta` column exists.
        None => conn.execute(
            "INSERT INTO ledger (seq, kind, watch_url, version_seq, at, content_hash, body_hash,
                prev_hash, hash, row_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            common,
        )?,
        Some(meta) => {
            let meta = serde_json::to_string(meta)
                .map_err(|e| StoreError::Corrupt(format!("cannot encode metadata: {e}")))?;
            let mut values: Vec<&dyn rusqlite::ToSql> = common.to_vec();
            values.push(&meta);
            conn.execute(
                "INSERT INTO ledger (seq, kind, watch_url, version_seq, at, content_hash,
                    body_hash, prev_hash, hash, row_id, meta)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                values.as_slice(),
            )?
        }
    };
    Ok(entry)
}

fn last(conn: &Connection) -> Result<Option<(i64, Sha256Hash)>> {
    conn.query_row(
        "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()?
    .map(|(s, h)| h.parse().map(|h| (s, h)).map_err(StoreError::Corrupt))
    .transpose()
}

/// Records a watch change (`watch:added` or `watch:removed`) of watch `id`.
pub(super) fn append_watch(conn: &Connection, kind: EntryKind, id: i64, at: &str) -> Result<()> {
    let url: String =
        conn.query_row("SELECT url FROM watches WHERE id = ?1", [id], |r| r.get(0))?;
    append(
        conn,
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
pub(super) fn backfill(tx: &rusqlite::Transaction<'_>) -> rusqlite_migration::HookResult {
    let hook = |e: StoreError| rusqlite_migration::HookError::Hook(e.to_string());
    let mut items: Vec<(String, u8, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT id, added_at, removed_at FROM watches")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            items.push((r.get(1)?, 0, id));
            if let Some(removed) = r.get::<_, Option<String>>(2)? {
                items.push((removed, 3, id));
            }
        }
        let mut stmt = tx.prepare("SELECT id, captured_at FROM versions")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            items.push((r.get(1)?, 1, r.get(0)?));
        }
        let mut stmt = tx.prepare("SELECT id, at FROM events")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            items.push((r.get(1)?, 2, r.get(0)?));
        }
    }
    items.sort();
    for (at, order, id) in items {
        match order {
            0 => append_watch(tx, EntryKind::WatchAdded, id, &at).map_err(hook)?,
            3 => append_watch(tx, EntryKind::WatchRemoved, id, &at).map_err(hook)?,
            1 => {
                let (url, seq, content, body): (String, i64, String, String) = tx.query_row(
                    "SELECT w.url, v.seq, v.content_hash, v.body_hash
                     FROM versions v JOIN watches w ON w.id = v.watch_id WHERE v.id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                let parse = |h: String| h.parse().map_err(StoreError::Corrupt).map_err(hook);
                let body = EntryBody {
                    kind: EntryKind::Version,
                    url,
                    version: Some(VersionSeq(seq)),
                    at,
                    content_hash: Some(parse(content)?),
                    body_hash: Some(parse(body)?),
                    meta: None,
                };
                append(tx, body, id).map_err(hook)?;
            }
            _ => {
                let (url, kind, version): (String, String, Option<i64>) = tx.query_row(
                    "SELECT w.url, e.kind, e.version_seq
                     FROM events e JOIN watches w ON w.id = e.watch_id WHERE e.id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                let kind = kind
                    .parse()
                    .ok()
                    .and_then(EntryKind::of_event)
                    .ok_or_else(|| {
                        hook(StoreError::Corrupt(format!(
                            "events row {id} has kind {kind:?}"
                        )))
                    })?;
                let body = EntryBody {
                    kind,
                    url,
                    version: version.map(VersionSeq),
                    at,
                    content_hash: None,
                    body_hash: None,
                    meta: None,
                };
                append(tx, body, id).map_err(hook)?;
            }
        }
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

impl Sqlite {
    /// The number of entries and the last entry's hash; `None` for an empty ledger.
    pub fn ledger_head(&self) -> Result<Option<Head>> {
        Ok(last(&self.conn)?.map(|(entries, head)| Head { entries, head }))
    }

    /// Every ledger row in order of seq.
    pub fn ledger_rows(&self) -> Result<Vec<LedgerRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, kind, watch_url, version_seq, at, content_hash, body_hash, prev_hash,
                    hash, row_id, meta
             FROM ledger ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            let seq: i64 = r.get(0)?;
            let kind: String = r.get(1)?;
            let content: Option<String> = r.get(5)?;
            let body: Option<String> = r.get(6)?;
            let prev: String = r.get(7)?;
            let hash: String = r.get(8)?;
            let url: String = r.get(2)?;
            let version: Option<i64> = r.get(3)?;
            let at: String = r.get(4)?;
            let meta: Option<String> = r.get(10)?;
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
                            .map(|m| {
                                serde_json::from_str(&m).map_err(|e| format!("bad metadata: {e}"))
                            })
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
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `f` with every blob, decompressed, one at a time.
    pub fn scan_blobs(&self, mut f: impl FnMut(BlobRow)) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, size, compression, data FROM blobs ORDER BY hash")?;
        let mut rows = stmt.query([])?;
        let mut dctx = Decompressor::new()
            .map_err(|e| StoreError::Corrupt(format!("cannot start zstd: {e}")))?;
        while let Some(r) = rows.next()? {
            let size: i64 = r.get(1)?;
            let compression: String = r.get(2)?;
            let data: Vec<u8> = r.get(3)?;
            // One reused context, and the recorded size for an exact buffer; when it does not
            // fit (a size was altered), the streaming path says what is wrong.
            let fast = (compression == "zstd")
                .then(|| dctx.decompress(&data, usize::try_from(size).ok()?).ok())
                .flatten();
            f(BlobRow {
                hash: r.get(0)?,
                size,
                data: fast.map_or_else(|| decompress(&self.conn, &compression, &data), Ok),
            });
        }
        Ok(())
    }

    /// Calls `f` with every version, its text decompressed, one at a time.
    pub fn scan_versions(&self, mut f: impl FnMut(VersionRow)) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT v.id, w.url, v.seq, v.captured_at, v.content_hash, v.body_hash,
                    EXISTS (SELECT 1 FROM blobs b WHERE b.hash = v.body_hash), v.text_zstd
             FROM versions v LEFT JOIN watches w ON w.id = v.watch_id ORDER BY v.id",
        )?;
        let mut rows = stmt.query([])?;
        let mut dctx = Decompressor::new()
            .map_err(|e| StoreError::Corrupt(format!("cannot start zstd: {e}")))?;
        let mut buffer: Vec<u8> = Vec::with_capacity(TEXT_BUFFER);
        while let Some(r) = rows.next()? {
            let compressed: Vec<u8> = r.get(7)?;
            buffer.clear();
            let text = match dctx.decompress_to_buffer(&compressed, &mut buffer) {
                Ok(_) => String::from_utf8(buffer.clone())
                    .map_err(|_| "the text is not UTF-8".to_string()),
                // Larger than the buffer, or broken: the streaming path tells which.
                Err(_) => decompress_text(&compressed),
            };
            f(VersionRow {
                id: r.get(0)?,
                url: r.get(1)?,
                seq: r.get(2)?,
                captured_at: r.get(3)?,
                content_hash: r.get(4)?,
                body_hash: r.get(5)?,
                blob_exists: r.get(6)?,
                text,
            });
        }
        Ok(())
    }

    /// Every event row with its watch's URL.
    pub fn event_rows(&self) -> Result<Vec<EventCheckRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, w.url, e.kind, e.at, e.version_seq
             FROM events e LEFT JOIN watches w ON w.id = e.watch_id ORDER BY e.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(EventCheckRow {
                id: r.get(0)?,
                url: r.get(1)?,
                kind: r.get(2)?,
                at: r.get(3)?,
                version_seq: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every watch row: id and URL.
    pub fn watch_rows(&self) -> Result<Vec<(WatchId, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, url FROM watches ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((WatchId(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One export line per ledger entry that `keep` accepts, in ledger order, each with the
    /// row it records.
    pub fn export_lines(
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
                        .conn
                        .query_row(
                            "SELECT origin FROM watches WHERE id = ?1",
                            [row.row_id],
                            |r| r.get(0),
                        )
                        .optional()?
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
        let row = self
            .conn
            .query_row(
                "SELECT seq, captured_at, content_hash, loose_hash, body_hash, http_status,
                        final_url, title, byline, published, modified, canonical_url, text_zstd
                 FROM versions WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            super::parse_col::<Sha256Hash>(r, 2)?,
                            super::parse_col::<Sha256Hash>(r, 3)?,
                            super::parse_col::<Sha256Hash>(r, 4)?,
                            r.get::<_, u16>(5)?,
                        ),
                        (
                            r.get::<_, String>(6)?,
                            r.get::<_, String>(7)?,
                            r.get::<_, Option<String>>(8)?,
                            r.get::<_, Option<String>>(9)?,
                            r.get::<_, Option<String>>(10)?,
                            r.get::<_, Option<String>>(11)?,
                            r.get::<_, Vec<u8>>(12)?,
                        ),
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::Corrupt(format!("versions row {id} is missing")))?;
        let ((seq, captured_at, content_hash, loose_hash, body_hash, http_status), rest) = row;
        let (final_url, title, byline, published, modified, canonical_url, text_zstd) = rest;
        let text = decompress_text(&text_zstd)
            .map_err(|why| StoreError::Corrupt(format!("versions row {id}: {why}")))?;
        let body = self
            .blob(&body_hash)?
            .ok_or_else(|| StoreError::Corrupt(format!("blob {body_hash} is missing")))?;
        use base64::Engine as _;
        Ok(ExportVersion {
            seq: VersionSeq(seq),
            captured_at,
            content_hash,
            loose_hash,
            body_hash,
            http_status,
            final_url,
            title,
            byline,
            published,
            modified,
            canonical_url,
            text,
            body_base64: base64::engine::general_purpose::STANDARD.encode(body),
        })
    }

    fn export_event(&self, id: i64, entry: &Entry) -> Result<ExportEvent> {
        self.conn
            .query_row(
                "SELECT kind, at, version_seq, from_seq, significance, reverted_to, detail
                 FROM events WHERE id = ?1",
                [id],
                |r| {
                    Ok(ExportEvent {
                        kind: super::parse_col(r, 0)?,
                        at: r.get(1)?,
                        version: r.get::<_, Option<i64>>(2)?.map(VersionSeq),
                        from_version: r.get::<_, Option<i64>>(3)?.map(VersionSeq),
                        significance: super::parse_opt_col(r, 4)?,
                        reverted_to: r.get::<_, Option<i64>>(5)?.map(VersionSeq),
                        detail: r.get(6)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| missing_row(entry, id))
    }

    /// Whether the archive holds nothing yet (no watch, no ledger entry).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM watches) AND NOT EXISTS (SELECT 1 FROM ledger)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Replays a complete JSON Lines export, in one transaction: every row is written again and
    /// every entry re-chained; each re-computed entry hash must equal the exported one.
    pub fn import(
        &mut self,
        lines: impl IntoIterator<Item = std::result::Result<ExportLine, ImportError>>,
    ) -> std::result::Result<Option<Head>, ImportError> {
        let tx = self.write_transaction()?;
        for (i, line) in lines.into_iter().enumerate() {
            let line = line?;
            let n = i + 1;
            let fail = |message: String| ImportError::Line { line: n, message };
            let e = &line.entry;
            let url = &e.body.url;
            let next = last(&tx)?.map_or(1, |(seq, _)| seq + 1);
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
                    tx.execute(
                        "INSERT INTO watches (url, origin, added_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (url) DO UPDATE SET removed_at = NULL, origin = ?2",
                        params![url, origin, e.body.at],
                    )?;
                    watch_id(&tx, url).map_err(|m| fail(m.to_string()))?
                }
                EntryKind::WatchRemoved => {
                    let id = watch_id(&tx, url).map_err(|m| fail(m.to_string()))?;
                    tx.execute(
                        "UPDATE watches SET removed_at = ?2 WHERE id = ?1",
                        params![id, e.body.at],
                    )?;
                    id
                }
                EntryKind::AttestVersion => {
                    let watch = watch_id(&tx, url).map_err(|m| fail(m.to_string()))?;
                    let seq = e.body.version.map_or(0, |v| v.0);
                    tx.query_row(
                        "SELECT id FROM versions WHERE watch_id = ?1 AND seq = ?2",
                        params![watch, seq],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| {
                        fail(format!("an attestation of v{seq}, which is not imported"))
                    })?
                }
                EntryKind::AttestEvent => {
                    let watch = watch_id(&tx, url).map_err(|m| fail(m.to_string()))?;
                    let kind = e
                        .body
                        .meta
                        .as_ref()
                        .and_then(|m| m.first().cloned().flatten())
                        .unwrap_or_default();
                    tx.query_row(
                        "SELECT id FROM events WHERE watch_id = ?1 AND kind = ?2 AND at = ?3
                           AND version_seq IS ?4 ORDER BY id LIMIT 1",
                        params![watch, kind, e.body.at, e.body.version.map(|v| v.0)],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| fail("an attestation of an event that is not imported".into()))?
                }
                EntryKind::Version => {
                    let v = line
                        .version
                        .as_ref()
                        .ok_or_else(|| fail("a version entry without its version".into()))?;
                    let watch = watch_id(&tx, url).map_err(|m| fail(m.to_string()))?;
                    use base64::Engine as _;
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
                    insert_blob(&tx, &v.body_hash, &raw)?;
                    let text = zstd::encode_all(v.text.as_bytes(), ZSTD_LEVEL)
                        .map_err(|e| StoreError::Corrupt(format!("cannot compress text: {e}")))?;
                    tx.execute(
                        "INSERT INTO versions (watch_id, seq, captured_at, content_hash,
                            loose_hash, body_hash, http_status, final_url, title, byline,
                            published, modified, canonical_url, text_zstd)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        params![
                            watch,
                            v.seq.0,
                            v.captured_at,
                            v.content_hash.to_hex(),
                            v.loose_hash.to_hex(),
                            v.body_hash.to_hex(),
                            v.http_status,
                            v.final_url,
                            v.title,
                            v.byline,
                            v.published,
                            v.modified,
                            v.canonical_url,
                            text,
                        ],
                    )?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "UPDATE watches SET status = 'live', last_checked_at = ?2 WHERE id = ?1",
                        params![watch, v.captured_at],
                    )?;
                    id
                }
                _ => {
                    let ev = line
                        .event
                        .as_ref()
                        .ok_or_else(|| fail("an event entry without its event".into()))?;
                    let watch = watch_id(&tx, url).map_err(|m| fail(m.to_string()))?;
                    tx.execute(
                        "INSERT INTO events (watch_id, kind, at, version_seq, from_seq,
                            significance, reverted_to, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            watch,
                            ev.kind.as_str(),
                            ev.at,
                            ev.version.map(|s| s.0),
                            ev.from_version.map(|s| s.0),
                            ev.significance.map(|s| s.as_str()),
                            ev.reverted_to.map(|s| s.0),
                            ev.detail,
                        ],
                    )?;
                    let id = tx.last_insert_rowid();
                    let status = if ev.kind == crate::pure::model::CheckKind::Deleted {
                        "deleted"
                    } else {
                        "live"
                    };
                    tx.execute(
                        "UPDATE watches SET status = ?2, last_checked_at = ?3 WHERE id = ?1",
                        params![watch, status, ev.at],
                    )?;
                    id
                }
            };
            let written = append(&tx, e.body.clone(), row_id)?;
            if written.hash != e.hash {
                return Err(fail(format!(
                    "entry {} re-computes to {}, not to the exported hash {}",
                    e.seq, written.hash, e.hash
                )));
            }
        }
        let head = last(&tx)?.map(|(entries, head)| Head { entries, head });
        tx.commit()?;
        Ok(head)
    }
}

fn watch_id(conn: &Connection, url: &str) -> std::result::Result<i64, String> {
    conn.query_row("SELECT id FROM watches WHERE url = ?1", [url], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{url} appears before its watch:added entry"))
}

fn missing_row(entry: &Entry, id: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "ledger entry {} records {} row {id}, which is missing (run `stet verify`)",
        entry.seq,
        entry.body.kind.table()
    ))
}

/// Why an import stopped; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}
