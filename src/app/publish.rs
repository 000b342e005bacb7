//! Publishing the ledger: signing a checkpoint of its Merkle tree, storing it, getting it an
//! RFC 3161 timestamp, sending it to witnesses with a consistency proof, and doing so on the
//! daemon's schedule.
//!
//! Owns the network side of proofs (the timestamp authority and the C2SP tlog-witness
//! `add-checkpoint` protocol) and the policy for what a witness's answer means. The formats are
//! in `proof`, `note` and `timestamp`; SQL is in `store`. A witness refusing a checkpoint is
//! never retried into acceptance: it is reported as evidence that the ledger was rewritten.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pure::model::{Sha256Hash, now_rfc3339};
use crate::pure::note::Signer;
use crate::pure::proof::{Checkpoint, Tree, add_checkpoint_body};
use crate::store::{Location, Store};

/// Why a checkpoint could not be published at all.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read the signing key {path}: {source}")]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing key {path} is not a signer key: {source}")]
    Key {
        path: PathBuf,
        source: crate::pure::note::NoteError,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot sign the checkpoint: {0}")]
    Sign(#[from] crate::pure::note::NoteError),
    #[error("cannot start the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Reads the signer key file.
pub fn read_signer(path: &Path) -> Result<Signer, PublishError> {
    let text = std::fs::read_to_string(path).map_err(|source| PublishError::ReadKey {
        path: path.to_owned(),
        source,
    })?;
    Signer::parse(&text).map_err(|source| PublishError::Key {
        path: path.to_owned(),
        source,
    })
}

/// The Merkle tree of the archive's ledger as it is now.
pub fn current_tree(store: &Store) -> Result<Tree, crate::store::StoreError> {
    Ok(Tree::of_entries(&store.ledger_leaves()?))
}

/// A signed checkpoint of `tree` (not stored).
pub fn sign_checkpoint(signer: &Signer, tree: &Tree) -> Result<(Checkpoint, String), PublishError> {
    let cp = Checkpoint {
        origin: signer.name().to_string(),
        size: tree.size(),
        root: tree.root(),
    };
    let note = signer.sign(&cp.text())?;
    Ok((cp, note))
}

/// What a witness did with a checkpoint.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WitnessOutcome {
    /// It verified the consistency proof and cosigned.
    Accepted { cosignatures: Vec<String> },
    /// It refused: the checkpoint is not consistent with what it saw before (409 or 422), or
    /// it does not know or trust this log (403, 404), or the request was wrong (400).
    Refused { status: u16, message: String },
    /// It could not be asked (network, unexpected answer).
    Failed { error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct WitnessReport {
    pub url: String,
    #[serde(flatten)]
    pub outcome: WitnessOutcome,
}

/// What one publication did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The stored checkpoint's id.
    pub id: i64,
    /// `false` when the ledger had not grown since the last checkpoint, which was kept.
    pub new: bool,
    pub tree_size: u64,
    pub root: Sha256Hash,
    /// The signed note, with the witnesses' cosignatures.
    pub checkpoint: String,
    /// The timestamp authority's time (GeneralizedTime), or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Result<String, String>>,
    pub witnesses: Vec<WitnessReport>,
}

impl PublishReport {
    /// The witnesses that refused the checkpoint.
    pub fn refusals(&self) -> impl Iterator<Item = (&str, u16, &str)> {
        self.witnesses.iter().filter_map(|w| match &w.outcome {
            WitnessOutcome::Refused { status, message } => {
                Some((w.url.as_str(), *status, message.as_str()))
            }
            _ => None,
        })
    }
}

/// Publishes a checkpoint of the ledger of `db`: signs and stores it (unless the ledger has not
/// grown since the last one and `force` is false), timestamps it, and sends it to every witness.
pub async fn publish(
    db: &Location,
    config: &Config,
    signer: &Signer,
    force: bool,
) -> Result<PublishReport, PublishError> {
    let ledger = &config.ledger;
    let (tree, latest) = {
        let store = Store::open(db)?;
        (current_tree(&store)?, store.latest_checkpoint()?)
    };
    let root = tree.root();
    let reuse = latest.filter(|l| !force && l.tree_size == tree.size() && l.root == root);
    let new = reuse.is_none();
    let (id, cp, mut note) = match reuse {
        Some(l) => (
            l.id,
            Checkpoint {
                origin: signer.name().to_string(),
                size: l.tree_size,
                root: l.root,
            },
            l.note,
        ),
        None => {
            let (cp, note) = sign_checkpoint(signer, &tree)?;
            let id = Store::open(db)?.save_checkpoint(cp.size, &cp.root, &note, &now_rfc3339())?;
            (id, cp, note)
        }
    };
    tracing::info!(id, tree_size = cp.size, root = %cp.root, new, "checkpoint");
    crate::net::fetch::install_crypto_provider();
    let client = reqwest::Client::builder()
        .user_agent(config.fetch.user_agent_header())
        .timeout(config.fetch.timeout())
        .build()?;

    let mut timestamp = None;
    if let (Some(url), true) = (&ledger.tsa_url, new) {
        let result = request_timestamp(&client, url, &cp).await;
        let store = Store::open(db)?;
        match &result {
            Ok((token, time)) => {
                store.set_checkpoint_timestamp(id, url, Ok(token))?;
                tracing::info!(tsa = %url, time = %time, "checkpoint timestamped");
            }
            Err(e) => {
                store.set_checkpoint_timestamp(id, url, Err(e))?;
                tracing::error!(tsa = %url, error = %e, "the timestamp authority gave no token");
            }
        }
        timestamp = Some(result.map(|(_, t)| t));
    }

    let mut witnesses = Vec::new();
    for url in &ledger.witnesses {
        let state = Store::open(db)?.witness_state(url)?;
        // Start from what the witness accepted last (or nothing); it will say if it knows more.
        let old = state.as_ref().map_or(0, |s| s.tree_size);
        let outcome = add_checkpoint(&client, url, &tree, old, &note, cp.size).await;
        let store = Store::open(db)?;
        match &outcome {
            WitnessOutcome::Accepted { cosignatures } => {
                for line in cosignatures {
                    if !note.contains(line.as_str()) {
                        note.push_str(line);
                        note.push('\n');
                    }
                }
                store.set_checkpoint_note(id, &note)?;
                store.set_witness_accepted(url, cp.size, &cp.root, &now_rfc3339())?;
                tracing::info!(witness = %url, tree_size = cp.size, "witness cosigned the checkpoint");
            }
            WitnessOutcome::Refused { status, message } => {
                store.set_witness_error(url, &format!("{status}: {message}"), &now_rfc3339())?;
                tracing::error!(
                    witness = %url,
                    status,
                    tree_size = cp.size,
                    "WITNESS REFUSED the checkpoint: {message}"
                );
            }
            WitnessOutcome::Failed { error } => {
                store.set_witness_error(url, error, &now_rfc3339())?;
                tracing::warn!(witness = %url, error = %error, "witness unreachable");
            }
        }
        witnesses.push(WitnessReport {
            url: url.clone(),
            outcome,
        });
    }
    Ok(PublishReport {
        id,
        new,
        tree_size: cp.size,
        root: cp.root,
        checkpoint: note,
        timestamp,
        witnesses,
    })
}

/// Asks the timestamp authority for a token over SHA-256 of the checkpoint's text; returns the
/// token and its time.
async fn request_timestamp(
    client: &reqwest::Client,
    url: &str,
    cp: &Checkpoint,
) -> Result<(Vec<u8>, String), String> {
    let digest = Sha256Hash::of(cp.text().as_bytes()).0;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a nonce: {e}"))?;
    let nonce = u64::from_be_bytes(nonce) >> 1;
    let response = client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            crate::pure::timestamp::QUERY_TYPE,
        )
        .body(crate::pure::timestamp::request(&digest, nonce))
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("cannot read the reply of {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let token = crate::pure::timestamp::reply_token(&body).map_err(|e| e.to_string())?;
    let info =
        crate::pure::timestamp::check_token(&token, &digest, nonce).map_err(|e| e.to_string())?;
    Ok((token, info.gen_time))
}

/// One `add-checkpoint` exchange, with one retry from the size a 409 names when that size is
/// one this archive's tree has (the witness knew more than stet remembered).
async fn add_checkpoint(
    client: &reqwest::Client,
    prefix: &str,
    tree: &Tree,
    mut old: u64,
    note: &str,
    size: u64,
) -> WitnessOutcome {
    let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
    let mut retried = false;
    loop {
        if old > size {
            return WitnessOutcome::Refused {
                status: 0,
                message: format!(
                    "the witness accepted a tree of {old} entries, but this archive's ledger \
                     now has only {size}: entries were removed (the ledger was rewritten)"
                ),
            };
        }
        let proof = match tree.consistency(old, size) {
            Ok(p) => p,
            Err(e) => {
                return WitnessOutcome::Failed {
                    error: e.to_string(),
                };
            }
        };
        let body = add_checkpoint_body(old, &proof, note);
        let response = match client.post(&url).body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                return WitnessOutcome::Failed {
                    error: format!("cannot reach {url}: {e}"),
                };
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200 => {
                return WitnessOutcome::Accepted {
                    cosignatures: text
                        .lines()
                        .filter(|l| l.starts_with("\u{2014} "))
                        .map(str::to_string)
                        .collect(),
                };
            }
            409 => {
                let known: Option<u64> = text.trim().parse().ok();
                match known {
                    Some(k) if k != old && k <= size && !retried => {
                        tracing::info!(witness = %prefix, known = k, "witness knows another tree size; proving from it");
                        old = k;
                        retried = true;
                        continue;
                    }
                    Some(k) if k == size => {
                        return WitnessOutcome::Refused {
                            status,
                            message: format!(
                                "the witness holds a different tree of the same {k} entries: \
                                 this archive's ledger is not the one it saw (rewritten or forked)"
                            ),
                        };
                    }
                    Some(k) => {
                        return WitnessOutcome::Refused {
                            status,
                            message: format!(
                                "the witness holds a tree of {k} entries that this checkpoint of \
                                 {size} does not extend (rewritten or forked ledger)"
                            ),
                        };
                    }
                    None => {
                        return WitnessOutcome::Refused {
                            status,
                            message: format!("conflict: {}", text.trim()),
                        };
                    }
                }
            }
            422 => {
                return WitnessOutcome::Refused {
                    status,
                    message: format!(
                        "the consistency proof from the tree of {old} entries the witness saw \
                         does not verify: this archive's ledger does not extend it (rewritten \
                         or forked)"
                    ),
                };
            }
            400 | 403 | 404 => {
                return WitnessOutcome::Refused {
                    status,
                    message: format!("{} ({})", text.trim(), reason(status)),
                };
            }
            _ => {
                return WitnessOutcome::Failed {
                    error: format!("{url} answered {status}: {}", text.trim()),
                };
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "bad request",
        403 => "the witness does not trust this log's key",
        404 => "the witness does not know this log's origin",
        _ => "refused",
    }
}

/// The daemon's publishing task: a checkpoint on the `[ledger] publish` schedule, when the
/// ledger grew. Returns at once when no schedule or no key is configured.
pub fn spawn_schedule(
    config: Config,
    db: Location,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    let cadence: crate::pure::scheduler::Cadence =
        config.ledger.publish.as_deref()?.parse().ok()?;
    let key = config.ledger.key_path(&db);
    let signer = match read_signer(&key) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "[ledger] publish is set but there is no signing key; run `stet ledger keygen`");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now();
            let next = cadence.next_after(now);
            let wait = (next - now).to_std().unwrap_or(Duration::from_secs(1));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            match publish(&db, &config, &signer, false).await {
                Ok(report) => {
                    for (url, status, message) in report.refusals() {
                        tracing::error!(witness = %url, status, "WITNESS REFUSED checkpoint {}: {message}", report.tree_size);
                    }
                }
                Err(e) => tracing::error!(error = %e, "publishing a checkpoint failed"),
            }
        }
    }))
}
