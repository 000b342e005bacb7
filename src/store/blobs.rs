//! Raw bodies: content-defined chunking (FastCDC), zstd compression, storing each distinct
//! chunk once, reassembling a stored body; and compressing version texts.
//!
//! Never decides which body belongs to which version: `batch` does.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::s3::BlobBucket;
use super::sql::Tx;
use super::{Result, Store, StoreError, ZSTD_LEVEL};
use crate::pure::model::{BodyHash, Sha256Hash};

/// Content-defined chunk sizes: small enough that a site's shared template and an article's
/// unchanged parts fall into chunks already stored, large enough to compress well.
const CHUNK_MIN: u32 = 4 * 1024;
const CHUNK_AVG: u32 = 16 * 1024;
const CHUNK_MAX: u32 = 64 * 1024;

/// A raw body cut into chunks and compressed, ready for [`Batch::record`](super::Batch::record);
/// prepared off the writer thread so that the one writer only inserts rows.
#[derive(Debug, Clone)]
pub struct PackedBody {
    pub(super) chunks: Vec<PackedChunk>,
}

#[derive(Debug, Clone)]
pub(super) struct PackedChunk {
    pub(super) digest: Sha256Hash,
    pub(super) offset: usize,
    pub(super) len: usize,
    /// zstd-compressed bytes; `None` when the chunk was already stored when packed.
    pub(super) data: Option<Vec<u8>>,
}

impl PackedBody {
    /// Cuts `raw` into content-defined chunks and compresses those `known` does not report as
    /// stored already.
    pub fn pack(raw: &[u8], mut known: impl FnMut(&str) -> bool) -> Result<Self> {
        let mut chunks = Vec::new();
        for c in fastcdc::v2020::FastCDC::new(raw, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX) {
            let bytes = &raw[c.offset..c.offset + c.length];
            let digest = Sha256Hash::of(bytes);
            let data = if known(&digest.to_hex()) {
                None
            } else {
                Some(compress(bytes)?)
            };
            chunks.push(PackedChunk {
                digest,
                offset: c.offset,
                len: c.length,
                data,
            });
        }
        Ok(Self { chunks })
    }
}

pub(super) fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    zstd::bulk::compress(bytes, ZSTD_LEVEL)
        .map_err(|e| StoreError::Corrupt(format!("cannot compress: {e}")))
}

/// A version's stored text, or why it cannot be read back.
pub(crate) fn decompress_text(compressed: &[u8]) -> std::result::Result<String, String> {
    let bytes =
        zstd::decode_all(compressed).map_err(|e| format!("the text does not decompress: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "the text is not UTF-8".to_string())
}

/// Compresses a version's canonical text for storage.
pub fn compress_text(text: &str) -> Result<Vec<u8>> {
    compress(text.as_bytes())
}

/// A read-only look at which chunks are stored, for packing bodies off the writer thread.
pub struct ChunkIndex {
    conn: Connection,
}

impl ChunkIndex {
    pub fn open(db_path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: db_path.display().to_string(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(Self { conn })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = ?1)")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)))
            .unwrap_or(false)
    }
}

/// Stores a raw body once: cut into content-defined chunks (FastCDC), each distinct chunk
/// stored once, zstd-compressed; the blob row lists the chunks' digests in order. With object
/// storage (`bucket`), chunk bytes go there and the rows say which chunks exist. A chunk packed
/// as "already stored" that is not (its transaction rolled back meanwhile) is compressed here.
pub(super) fn insert_body(
    tx: &mut dyn Tx,
    bucket: Option<&BlobBucket>,
    hash: &BodyHash,
    raw: &[u8],
    packed: Option<&PackedBody>,
) -> Result<()> {
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE hash = ?1)",
            &[&hash.to_hex()],
        )?
        .get(0)?;
    if exists {
        return Ok(());
    }
    let packed = match packed {
        Some(p) => p.clone(),
        None => PackedBody::pack(raw, |k| chunk_stored(tx, k).unwrap_or(false))?,
    };
    let mut manifest = Vec::with_capacity(packed.chunks.len() * 32);
    for c in &packed.chunks {
        manifest.extend_from_slice(&c.digest.0);
        let key = c.digest.to_hex();
        if (c.data.is_none() || bucket.is_some()) && chunk_stored(tx, &key)? {
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
            "INSERT INTO chunks (hash, size, data) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO NOTHING",
            &[&key, &c.len, &in_db],
        )?;
    }
    tx.execute(
        "INSERT INTO blobs (hash, size, compression, data) VALUES (?1, ?2, 'chunks', ?3)",
        &[&hash.to_hex(), &raw.len(), &manifest],
    )?;
    Ok(())
}

fn chunk_stored(tx: &mut dyn Tx, key: &str) -> Result<bool> {
    tx.query_one(
        "SELECT EXISTS (SELECT 1 FROM chunks WHERE hash = ?1)",
        &[&key],
    )?
    .get(0)
}

/// The raw body stored under `hash`, reassembled, if there is one.
pub(super) fn read_blob(
    tx: &mut dyn Tx,
    bucket: Option<&BlobBucket>,
    hash: &str,
) -> Result<Option<Vec<u8>>> {
    let Some(row) = tx.query_opt(
        "SELECT compression, data FROM blobs WHERE hash = ?1",
        &[&hash],
    )?
    else {
        return Ok(None);
    };
    body_of(tx, bucket, &row.get::<String>(0)?, &row.get::<Vec<u8>>(1)?).map(Some)
}

/// Reassembles a stored body from its blob row's compression and data.
pub(super) fn body_of(
    tx: &mut dyn Tx,
    bucket: Option<&BlobBucket>,
    compression: &str,
    data: &[u8],
) -> Result<Vec<u8>> {
    match compression {
        "chunks" => decompress_chunks(data, |key| match bucket {
            Some(b) => b.get(key),
            None => tx
                .query_opt("SELECT data FROM chunks WHERE hash = ?1", &[&key])?
                .map(|r| r.get::<Option<Vec<u8>>>(0))
                .transpose()
                .map(Option::flatten),
        }),
        "zstd" => zstd::decode_all(data)
            .map_err(|e| StoreError::Corrupt(format!("blob does not decompress: {e}"))),
        "none" => Ok(data.to_vec()),
        other => Err(StoreError::Corrupt(format!(
            "unknown blob compression {other:?}"
        ))),
    }
}

/// Reassembles a body from its manifest (the chunks' 32-byte digests in order), reading each
/// chunk's compressed bytes with `chunk`.
pub(super) fn decompress_chunks(
    manifest: &[u8],
    mut chunk: impl FnMut(&str) -> Result<Option<Vec<u8>>>,
) -> Result<Vec<u8>> {
    if !manifest.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(
            "blob manifest is not a list of digests".into(),
        ));
    }
    let mut out = Vec::new();
    for digest in manifest.chunks(32) {
        let key = hex::encode(digest);
        let compressed =
            chunk(&key)?.ok_or_else(|| StoreError::Corrupt(format!("chunk {key} is missing")))?;
        let bytes = zstd::decode_all(compressed.as_slice())
            .map_err(|e| StoreError::Corrupt(format!("chunk {key} does not decompress: {e}")))?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

impl Store {
    /// The raw body stored under `hash`, decompressed.
    pub fn blob(&self, hash: &BodyHash) -> Result<Option<Vec<u8>>> {
        let bucket = self.bucket();
        self.with(|tx| read_blob(tx, bucket, &hash.to_hex()))
    }
}
