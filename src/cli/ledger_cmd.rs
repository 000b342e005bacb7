//! `stet ledger head|keygen|key|publish`: the ledger's head and signed checkpoints, to publish
//! elsewhere, and the key that signs them.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::output::{self, BOLD, RED, paint};
use super::{Context, ExitError, exit};
use crate::app::publish::{self, WitnessOutcome};
use crate::pure::note::Signer;
use crate::say;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print the ledger's head: a signed checkpoint (C2SP tlog-checkpoint) when a signing key
    /// exists, otherwise the number of entries and the head hash (`COUNT:HASH`).
    ///
    /// Publish it somewhere the archive's operator cannot rewrite (a file in another repository,
    /// a webhook, a newspaper): `stet verify --against` later proves the archive still extends
    /// it. Run it from cron or a systemd timer to publish on a schedule, or set
    /// `[ledger] publish` for the daemon to do it.
    Head {
        /// Also append the head as one JSON line to this file.
        #[arg(long, value_name = "FILE")]
        append: Option<PathBuf>,
        /// Also POST the head as JSON to this URL.
        #[arg(long, value_name = "URL")]
        post: Option<String>,
        /// Print `COUNT:HASH` even when a signing key exists.
        #[arg(long)]
        count: bool,
    },
    /// Make the Ed25519 key that signs checkpoints (written with mode 0600 to `[ledger] key`,
    /// by default `ledger.key` beside the database).
    Keygen {
        /// The key's name, which is also the checkpoints' origin line: a name for this archive
        /// that nobody else uses, such as `news.example/stet` (default: `<hostname>/stet`).
        #[arg(long)]
        name: Option<String>,
        /// Replace an existing key (checkpoints signed with the old one then need the old
        /// public key to check).
        #[arg(long)]
        force: bool,
    },
    /// Print the public key that checks checkpoints and proofs (`<name>+<hash>+<base64>`, the
    /// verifier key form of Go's golang.org/x/mod/sumdb/note).
    Key,
    /// Sign a checkpoint of the ledger, store it, timestamp it (`[ledger] tsa_url`) and send
    /// it to the witnesses (`[ledger] witnesses`); print it. Exits 4 when a witness refuses it.
    Publish {
        /// Sign a new checkpoint even when the ledger has not grown since the last one.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(ctx: &Context, cmd: &LedgerCommand) -> anyhow::Result<u8> {
    match cmd {
        LedgerCommand::Head {
            append,
            post,
            count,
        } => head(ctx, append.as_ref(), post.as_deref(), *count).await,
        LedgerCommand::Keygen { name, force } => keygen(ctx, name.as_deref(), *force),
        LedgerCommand::Key => {
            let signer = signer(ctx)?;
            if ctx.json {
                output::json_line(&serde_json::json!({
                    "name": signer.name(),
                    "key": signer.verifier().to_string(),
                }))?;
            } else {
                say!("{}", signer.verifier());
            }
            Ok(exit::OK)
        }
        LedgerCommand::Publish { force } => publish_now(ctx, *force).await,
    }
}

/// The signing key of the config, or an error that says how to make one.
pub fn signer(ctx: &Context) -> anyhow::Result<Signer> {
    let path = ctx.config.ledger.key_path(&ctx.db_path);
    if !path.exists() {
        return Err(ExitError::not_found(format!(
            "no signing key at {}: run `stet ledger keygen` (or set [ledger] key)",
            path.display()
        )));
    }
    Ok(publish::read_signer(&path)?)
}

fn keygen(ctx: &Context, name: Option<&str>, force: bool) -> anyhow::Result<u8> {
    let path = ctx.config.ledger.key_path(&ctx.db_path);
    let name = match name {
        Some(n) => n.to_string(),
        None => format!("{}/stet", hostname()),
    };
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let signer = Signer::from_seed(&name, seed).map_err(|e| ExitError::usage(e.to_string()))?;
    if path.exists() && !force {
        return Err(ExitError::usage(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_private(&path, &signer.encode())?;
    if ctx.json {
        output::json_line(&serde_json::json!({
            "path": path.display().to_string(),
            "name": signer.name(),
            "key": signer.verifier().to_string(),
        }))?;
    } else {
        say!("wrote the signing key {} (mode 0600)", path.display());
        say!("public key, to give to whoever checks checkpoints and proofs:");
        say!("{}", signer.verifier());
    }
    Ok(exit::OK)
}

/// Writes a secret readable by its owner only, replacing any file there.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{text}")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace) && !h.contains('+'))
        .unwrap_or_else(|| "localhost".to_string())
}

async fn head(
    ctx: &Context,
    append: Option<&PathBuf>,
    post: Option<&str>,
    count: bool,
) -> anyhow::Result<u8> {
    let store = ctx.open_existing_store()?;
    let head = store.ledger_head()?;
    let key_path = ctx.config.ledger.key_path(&ctx.db_path);
    let checkpoint = if key_path.exists() {
        let signer = publish::read_signer(&key_path)?;
        let tree = publish::current_tree(&store)?;
        Some(publish::sign_checkpoint(&signer, &tree)?)
    } else {
        None
    };
    drop(store);
    let mut value = serde_json::json!({
        "entries": head.map_or(0, |h| h.entries),
        "head": head.map(|h| h.head.to_hex()),
        "at": crate::pure::model::now_rfc3339(),
    });
    if let Some((cp, note)) = &checkpoint {
        value["tree_size"] = cp.size.into();
        value["root"] = cp.root.to_hex().into();
        value["checkpoint"] = note.clone().into();
    }
    if let Some(path) = append {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        writeln!(file, "{value}").with_context(|| format!("cannot write {}", path.display()))?;
        file.sync_all()?;
    }
    if let Some(url) = post {
        crate::net::fetch::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(ctx.config.fetch.user_agent_header())
            .timeout(ctx.config.fetch.timeout())
            .build()?;
        let response = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(value.to_string())
            .send()
            .await
            .with_context(|| format!("cannot post the head to {url}"))?;
        if !response.status().is_success() {
            anyhow::bail!("{url} answered {} to the head", response.status());
        }
    }
    if ctx.json {
        output::json_line(&value)?;
    } else {
        match (&checkpoint, head) {
            (Some((_, note)), _) if !count => say!("{}", note.trim_end_matches('\n')),
            (_, Some(h)) => say!("{h}"),
            (_, None) => say!("0: the ledger is empty"),
        }
    }
    Ok(exit::OK)
}

async fn publish_now(ctx: &Context, force: bool) -> anyhow::Result<u8> {
    let signer = signer(ctx)?;
    if !ctx.db_path.exists() {
        return Err(ExitError::not_found(format!(
            "no archive at {}",
            ctx.db_path.display()
        )));
    }
    let report = publish::publish(&ctx.db_path, &ctx.config, &signer, force).await?;
    let refused: Vec<_> = report.refusals().collect();
    for (url, status, message) in &refused {
        eprintln!(
            "{} witness {url} REFUSED checkpoint {} ({}): {message}",
            paint(RED, "error:"),
            report.tree_size,
            if *status == 0 {
                "not sent".to_string()
            } else {
                format!("HTTP {status}")
            }
        );
    }
    for w in &report.witnesses {
        if let WitnessOutcome::Failed { error } = &w.outcome {
            eprintln!("warning: witness {} not reached: {error}", w.url);
        }
    }
    if let Some(Err(e)) = &report.timestamp {
        eprintln!("warning: no timestamp: {e}");
    }
    if ctx.json {
        output::json_line(&report)?;
    } else {
        say!("{}", report.checkpoint.trim_end_matches('\n'));
        if !refused.is_empty() {
            say!(
                "{}",
                paint(
                    BOLD,
                    format!(
                        "{} witness(es) refused this checkpoint: the ledger does not extend what they saw",
                        refused.len()
                    )
                )
            );
        }
    }
    Ok(if refused.is_empty() {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    })
}
