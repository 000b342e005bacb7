//! `stet verify [--against HEAD]`: re-computes every hash and the ledger chain.

use clap::Args;

use super::output::{self, BOLD, GREEN, RED, paint};
use super::{Context, exit};
use crate::pure::ledger::PublishedHead;
use crate::say;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A head published earlier: a signed checkpoint (as `stet ledger head` or `stet ledger
    /// publish` prints it), `COUNT:HASH`, a bare hash, or the JSON line of `stet ledger head
    /// --json`; inline or in a file. The archive must still extend it.
    #[arg(long, value_name = "CHECKPOINT")]
    pub against: Option<String>,
    /// The public key a checkpoint is checked with (as `stet ledger key` prints it, or a file
    /// holding it); default: the public half of the configured signing key.
    #[arg(long, value_name = "PUBKEY")]
    pub key: Option<String>,
}

/// What `--against` names, once read.
enum Against {
    Head(PublishedHead),
    Checkpoint(String),
}

fn against(arg: &str) -> anyhow::Result<Against> {
    let text = if std::path::Path::new(arg).is_file() {
        std::fs::read_to_string(arg)?
    } else {
        arg.to_string()
    };
    // A signed note has an empty line before its signature lines; the JSON line may carry one.
    if text.contains("\n\n\u{2014} ") {
        return Ok(Against::Checkpoint(text));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim())
        && let Some(note) = v["checkpoint"].as_str()
    {
        return Ok(Against::Checkpoint(note.to_string()));
    }
    text.trim()
        .parse::<PublishedHead>()
        .map(Against::Head)
        .map_err(super::ExitError::usage)
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<u8> {
    let against = args.against.as_deref().map(against).transpose()?;
    let store = ctx.open_existing_store()?;
    let (head, checkpoint) = match against {
        None => (None, None),
        Some(Against::Head(h)) => (Some(h), None),
        Some(Against::Checkpoint(note)) => {
            let key = match &args.key {
                Some(k) => super::proof_cmd::read_verifier(k)?,
                None => super::ledger_cmd::signer(ctx)
                    .map_err(|e| {
                        super::ExitError::usage(format!(
                            "{e:#}; or pass --key with the public key that signed the checkpoint"
                        ))
                    })?
                    .verifier(),
            };
            (None, Some((note, key)))
        }
    };
    let mut report = crate::app::verify::verify(&store, head)?;
    if let Some((note, key)) = checkpoint {
        let failures = crate::app::verify::against_checkpoint(&store, &note, &key)?;
        report.against = Some(note.lines().take(3).collect::<Vec<_>>().join(" "));
        report.ok &= failures.is_empty();
        report.failures.extend(failures);
    }
    // The integrity page shows the last run; an archive that cannot be written is still verified.
    let run = crate::store::VerificationRun {
        at: crate::pure::model::now_rfc3339(),
        ok: report.ok,
        versions: report.versions as i64,
        entries: report.entries as i64,
        head: report.head.map(|h| h.to_string()),
        failures: report.failures.len() as i64,
    };
    if let Err(e) = store.record_verification(&run) {
        tracing::warn!(error = %e, "the verification could not be recorded");
    }
    let code = if report.ok {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    if ctx.json {
        output::json_pretty(&report)?;
        return Ok(code);
    }
    for f in &report.failures {
        say!("{} {f}", paint(RED, "FAIL"));
    }
    let head = report
        .head
        .map_or_else(|| "empty ledger".to_string(), |h| h.to_string());
    say!(
        "checked {} raw bodies, {} versions, {} events, {} ledger entries (head {head})",
        report.blobs,
        report.versions,
        report.events,
        report.entries
    );
    if let Some(a) = &report.against {
        say!("against the published head {a}");
        if report.ok {
            say!("the archive extends it");
        }
    }
    if report.ok {
        say!(
            "{}",
            paint(GREEN, "verified: every hash and the whole chain match")
        );
    } else {
        say!(
            "{}",
            paint(
                BOLD,
                format!("verification FAILED: {} problem(s)", report.failures.len())
            )
        );
    }
    Ok(code)
}
