//! `stet verify [--against HEAD]`: re-computes every hash and the ledger chain.

use clap::Args;

use super::output::{self, BOLD, GREEN, RED, paint};
use super::{Context, exit};
use crate::ledger::PublishedHead;
use crate::say;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A head published earlier (`COUNT:HASH` as `stet ledger head` prints it, a bare hash, or
    /// its JSON line): the archive must still extend it.
    #[arg(long, value_name = "HEAD")]
    pub against: Option<String>,
}

pub fn run(ctx: &Context, args: &VerifyArgs) -> anyhow::Result<u8> {
    let against = args
        .against
        .as_deref()
        .map(|a| a.parse::<PublishedHead>())
        .transpose()
        .map_err(super::ExitError::usage)?;
    let store = ctx.open_existing_store()?;
    let report = crate::verify::verify(&store, against)?;
    // The integrity page shows the last run; an archive that cannot be written is still verified.
    let run = crate::store::VerificationRun {
        at: crate::model::now_rfc3339(),
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
