//! `stet migrate --to URL`: moves the archive into another one (a SQLite file into PostgreSQL),
//! entry by entry through the JSON Lines exchange format, then verifies the copy.

use anyhow::Context as _;
use clap::Args;

use super::{Context, ExitError, exit};
use crate::pure::ledger::ExportLine;
use crate::say;
use crate::store::{ImportError, Location, Store};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The new archive: `postgresql://user:password@host/dbname` (empty, or created by this
    /// command), or a SQLite file. Object storage for bodies comes from `[storage] blobs`.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

/// How many export lines wait between the reading and the writing side at most.
const IN_FLIGHT: usize = 64;

pub fn run(ctx: &Context, args: &MigrateArgs) -> anyhow::Result<u8> {
    let to = match Location::parse(&args.to) {
        Location::Postgres { url, .. } => {
            let mut storage = ctx.config.storage.clone();
            storage.url = Some(url);
            storage.location()
        }
        sqlite => sqlite,
    };
    if to == ctx.db_path {
        return Err(ExitError::usage(
            "the archive cannot be migrated into itself",
        ));
    }
    let source = Store::open(&ctx.db_path)
        .with_context(|| format!("cannot open {}", ctx.db_path.display()))?;
    let expected = source.ledger_head()?;
    let mut target = Store::open(&to).with_context(|| format!("cannot open {}", to.display()))?;
    if !target.is_empty()? {
        return Err(ExitError::usage(format!(
            "{} is not empty: migrate into a new database",
            to.display()
        )));
    }
    // The export is read on its own thread and written as it comes, so memory stays bounded
    // whatever the archive's size.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<ExportLine, ImportError>>(IN_FLIGHT);
    let reader = std::thread::spawn(move || {
        source.export_lines(
            |_| true,
            |line| {
                tx.send(Ok(line))
                    .map_err(|_| anyhow::anyhow!("the writing side stopped"))
            },
        )
    });
    let head = target.import(rx);
    let exported = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the export thread failed"))?;
    let head = head?;
    exported?;
    if head != expected {
        return Err(ExitError {
            code: exit::VERIFY_FAILED,
            message: format!(
                "the new archive's ledger head {} differs from the old one's {}",
                head.map_or("(empty)".into(), |h| h.to_string()),
                expected.map_or("(empty)".into(), |h| h.to_string())
            ),
        }
        .into());
    }
    let report = crate::app::verify::verify(&target, None)?;
    if !report.ok {
        for f in &report.failures {
            eprintln!("{f}");
        }
        return Err(ExitError {
            code: exit::VERIFY_FAILED,
            message: format!("{} does not verify after the migration", to.display()),
        }
        .into());
    }
    let value = serde_json::json!({
        "to": to.to_string(),
        "entries": head.map_or(0, |h| h.entries),
        "head": head.map(|h| h.head.to_hex()),
        "versions": report.versions,
        "verified": true,
    });
    if ctx.json {
        super::output::json_line(&value)?;
    } else {
        match head {
            Some(h) => say!(
                "migrated {} ledger entries ({} versions) to {}; head {h}, verified",
                h.entries,
                report.versions,
                to.display()
            ),
            None => say!("nothing to migrate: the archive is empty"),
        }
    }
    Ok(exit::OK)
}
