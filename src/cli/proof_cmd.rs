//! `stet proof URL -o FILE` writes an offline proof of one version; `stet verify-proof FILE`
//! checks one with no database.

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;

use super::output::{self, BOLD, GREEN, RED, paint};
use super::{Context, ExitError, exit};
use crate::pure::model::VersionSeq;
use crate::pure::note::Verifier;
use crate::pure::proof::{self, PROOF_FORMAT, ProofFile, TimestampRecord, TlogProof};
use crate::say;

#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The article URL, as watched.
    pub url: String,
    /// Which version (default: the latest).
    #[arg(long)]
    pub version: Option<i64>,
    /// Where to write the proof (JSON; see docs/LEDGER.md).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Leave the raw body out (the proof still commits to its hash).
    #[arg(long)]
    pub no_body: bool,
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// A file written by `stet proof`.
    pub file: PathBuf,
    /// The public key to check the checkpoint with (`<name>+<hash>+<base64>`, as `stet ledger
    /// key` prints it, or a file holding it). Without it, the key the file names is used, which
    /// proves only that the file is consistent with itself.
    #[arg(long, value_name = "PUBKEY")]
    pub key: Option<String>,
}

/// Reads a verifier key given inline or as a file.
pub fn read_verifier(arg: &str) -> anyhow::Result<Verifier> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(_) => arg.to_string(),
    };
    text.trim()
        .parse()
        .map_err(|e: crate::pure::note::NoteError| ExitError::usage(format!("--key: {e}")))
}

pub async fn proof(ctx: &Context, args: &ProofArgs) -> anyhow::Result<u8> {
    let signer = super::ledger_cmd::signer(ctx)?;
    let (url, row_id, version) = {
        let store = ctx.open_existing_store()?;
        let watch = ctx.watch_id(&store, &args.url)?;
        let Some(version) = store.version(watch, args.version.map(VersionSeq))? else {
            return Err(ExitError::not_found(match args.version {
                Some(v) => format!("{} has no version {v}", args.url),
                None => format!("{} has no stored version yet", args.url),
            }));
        };
        let (url, row_id) = store
            .version_row(watch, version.meta.seq)?
            .ok_or_else(|| ExitError::not_found("the version row is missing"))?;
        (url, row_id, version)
    };
    let store = ctx.open_reader()?;
    let seqs = store.version_entry_seqs(row_id)?;
    let Some(&last_seq) = seqs.last() else {
        anyhow::bail!(
            "no ledger entry records v{} of {url} (run `stet verify`)",
            version.meta.seq
        );
    };
    // The latest published checkpoint, if it covers the entries; otherwise publish one now.
    let covering = store
        .latest_checkpoint()?
        .filter(|c| c.tree_size >= last_seq as u64);
    drop(store);
    let checkpoint = match covering {
        Some(c) => c,
        None => {
            let report =
                crate::app::publish::publish(&ctx.db_path, &ctx.config, &signer, false).await?;
            for (url, status, message) in report.refusals() {
                eprintln!(
                    "{} witness {url} REFUSED the checkpoint ({status}): {message}",
                    paint(RED, "error:")
                );
            }
            ctx.open_reader()?
                .latest_checkpoint()?
                .context("the checkpoint just published is not stored")?
        }
    };
    let store = ctx.open_reader()?;
    let leaves = store.ledger_leaves()?;
    let file = proof_file(
        &store,
        &Signed {
            key: signer.verifier().to_string(),
            note: checkpoint.note.clone(),
            tree_size: checkpoint.tree_size,
            timestamp: match (&checkpoint.tsa_url, &checkpoint.timestamp_token) {
                (Some(u), Some(t)) => Some(TimestampRecord {
                    tsa_url: u.clone(),
                    token_base64: base64::engine::general_purpose::STANDARD.encode(t),
                }),
                _ => None,
            },
        },
        &proof::Tree::of_entries(&leaves),
        &leaves,
        &url,
        row_id,
        &version,
        !args.no_body,
    )?;
    // Never hand out a proof that does not check: a ledger rewritten since the checkpoint
    // shows here.
    let proven = proof::check_file(&file, Some(&signer.verifier())).map_err(|e| ExitError {
        code: exit::VERIFY_FAILED,
        message: format!(
            "the archive cannot prove v{} of {url} against checkpoint {} (tree of {} \
                 entries): {e}",
            version.meta.seq, checkpoint.id, checkpoint.tree_size
        ),
    })?;
    let json = serde_json::to_string_pretty(&file)?;
    std::fs::write(&args.output, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if ctx.json {
        output::json_line(&proven)?;
    } else {
        say!(
            "wrote {}: v{} of {url}, ledger entries {:?}, checkpoint of {} entries",
            args.output.display(),
            proven.version,
            proven.entries,
            proven.tree_size
        );
    }
    Ok(exit::OK)
}

/// The checkpoint a proof file is made against.
pub struct Signed {
    pub key: String,
    pub note: String,
    pub tree_size: u64,
    pub timestamp: Option<TimestampRecord>,
}

/// The proof file of one version: inclusion proofs of its entries in the checkpoint's tree.
#[allow(clippy::too_many_arguments)]
pub fn proof_file(
    store: &crate::store::Store,
    signed: &Signed,
    tree: &proof::Tree,
    leaves: &[Vec<u8>],
    url: &str,
    row_id: i64,
    version: &crate::store::Version,
    with_body: bool,
) -> anyhow::Result<ProofFile> {
    let body_base64 = if with_body {
        let body = store
            .blob(&version.meta.body_hash)?
            .context("the raw body is missing from the archive (run `stet verify`)")?;
        Some(base64::engine::general_purpose::STANDARD.encode(body))
    } else {
        None
    };
    assemble(
        signed,
        tree,
        leaves,
        url,
        version.meta.seq.0,
        &store.version_entry_seqs(row_id)?,
        version.text.clone(),
        body_base64,
    )
}

/// A proof file from its parts: the entries `seqs` of version `version` of `url`.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    signed: &Signed,
    tree: &proof::Tree,
    leaves: &[Vec<u8>],
    url: &str,
    version: i64,
    seqs: &[i64],
    text: String,
    body_base64: Option<String>,
) -> anyhow::Result<ProofFile> {
    let mut entries = Vec::new();
    for seq in seqs {
        let index = (*seq - 1) as u64;
        let hashes = tree.inclusion(index, signed.tree_size)?;
        entries.push(
            TlogProof {
                extra: Some(leaves[index as usize].clone()),
                index,
                hashes,
                checkpoint: signed.note.clone(),
            }
            .encode(),
        );
    }
    Ok(ProofFile {
        format: PROOF_FORMAT.to_string(),
        url: url.to_string(),
        version,
        key: signed.key.clone(),
        entries,
        timestamp: signed.timestamp.clone(),
        text,
        body_base64,
    })
}

pub fn verify_proof(ctx: &Context, args: &VerifyProofArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let key = args.key.as_deref().map(read_verifier).transpose()?;
    let file: ProofFile = match serde_json::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            return fail(ctx, &format!("not a stet proof file: {e}"));
        }
    };
    let proven = match proof::check_file(&file, key.as_ref()) {
        Ok(p) => p,
        Err(e) => return fail(ctx, &e.to_string()),
    };
    if ctx.json {
        output::json_pretty(&serde_json::json!({"ok": true, "proven": proven}))?;
        return Ok(exit::OK);
    }
    say!(
        "{}",
        paint(
            GREEN,
            format!(
                "verified: v{} of {} is entry {:?} of the ledger {} signed at {} entries",
                proven.version, proven.url, proven.entries, proven.origin, proven.tree_size
            )
        )
    );
    say!("captured   {}", proven.captured_at);
    for (k, v) in &proven.metadata {
        say!("{k:<14} {}", v.as_deref().unwrap_or("(none)"));
    }
    say!("content    {} (the text in the file)", proven.content_hash);
    say!(
        "raw body   {}{}",
        proven.body_hash,
        if proven.body_included {
            " (the body in the file)"
        } else {
            " (not in the file)"
        }
    );
    say!("root       {}", proven.root);
    if let Some(t) = &proven.timestamped_at {
        say!("timestamp  {t} (RFC 3161; check the authority's signature with openssl ts -verify)");
    }
    for c in &proven.cosignatures {
        say!("cosigned   {c}");
    }
    if !proven.key_given {
        say!(
            "{}",
            paint(
                BOLD,
                "checked with the key the file names: pass --key with the archive's published \
                 key to know who signed it"
            )
        );
    }
    Ok(exit::OK)
}

fn fail(ctx: &Context, why: &str) -> anyhow::Result<u8> {
    if ctx.json {
        output::json_pretty(&serde_json::json!({"ok": false, "error": why}))?;
    } else {
        say!("{} {why}", paint(RED, "FAIL"));
        say!("{}", paint(BOLD, "proof verification FAILED"));
    }
    Ok(exit::VERIFY_FAILED)
}
