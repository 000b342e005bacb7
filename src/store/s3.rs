//! Page-body chunks in S3-compatible object storage (`[storage] blobs = "s3://bucket/prefix"`):
//! each chunk is one object named by its SHA-256 under `prefix/chunks/`, zstd-compressed as in
//! the database.
//!
//! Owns the bucket client and the bridge from the blocking store to it (a small runtime of its
//! own). Never decides which chunks a body has: the store's rows say that.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{Result, StoreError};

/// Where chunk bytes go: the bucket and prefix, and how to reach and sign for it. Fields left
/// empty come from the standard AWS environment variables (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobsConfig {
    /// `s3://bucket/prefix`
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// An open bucket.
pub(super) struct BlobBucket {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// Always `Some` until dropped (a runtime cannot be dropped on an async thread, so it is
    /// shut down in the background).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for BlobBucket {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl BlobBucket {
    pub(super) fn open(config: &BlobsConfig) -> Result<Self> {
        let err = |why: String| StoreError::Blobs(format!("{}: {why}", config.url));
        let rest = config
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| err("not an s3:// URL".into()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(err("no bucket named".into()));
        }
        // Credentials are given, never discovered: no request goes to an instance-metadata
        // address the operator did not name.
        if config.access_key_id.is_none() && std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            return Err(err(
                "no credentials: set blobs_access_key_id and blobs_secret_access_key, or \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            ));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(e) = &config.endpoint {
            builder = builder
                .with_endpoint(e)
                .with_allow_http(e.starts_with("http://"));
        } else if let Ok(e) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder
                .with_allow_http(e.starts_with("http://"))
                .with_endpoint(e);
        }
        if let Some(r) = &config.region {
            builder = builder.with_region(r);
        }
        if let Some(k) = &config.access_key_id {
            builder = builder.with_access_key_id(k);
        }
        if let Some(s) = &config.secret_access_key {
            builder = builder.with_secret_access_key(s);
        }
        crate::net::tls::install_crypto_provider();
        let store = builder.build().map_err(|e| err(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start a runtime: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        self.runtime.as_ref().ok_or(StoreError::Closed)
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(format!("chunks/{key}"))
        } else {
            ObjectPath::from(format!("{}/chunks/{key}", self.prefix))
        }
    }

    /// Stores one chunk's compressed bytes under its key (writing the same key twice is
    /// harmless: the bytes are the same).
    pub(super) fn put(&self, key: &str, data: Vec<u8>) -> Result<()> {
        let path = self.path(key);
        let rt = self.runtime()?;
        super::sql::blocking(|| rt.block_on(self.store.put(&path, PutPayload::from(data))))
            .map(|_| ())
            .map_err(|e| StoreError::Blobs(format!("cannot store chunk {key}: {e}")))
    }

    /// One chunk's compressed bytes, or `None` when the bucket has no such object.
    pub(super) fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key);
        let rt = self.runtime()?;
        super::sql::blocking(|| {
            rt.block_on(async {
                match self.store.get(&path).await {
                    Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
        })
        .map_err(|e| StoreError::Blobs(format!("cannot read chunk {key}: {e}")))
    }
}
