//! `stet ledger head`: the entry count and head hash, to publish elsewhere.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::output;
use super::{Context, exit};
use crate::say;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print the number of ledger entries and the head hash (`COUNT:HASH`).
    ///
    /// Publish it somewhere the archive's operator cannot rewrite (a file in another repository,
    /// a webhook, a newspaper): `stet verify --against COUNT:HASH` later proves the archive
    /// still extends it. Run it from cron or a systemd timer to publish on a schedule.
    Head {
        /// Also append the head as one JSON line to this file.
        #[arg(long, value_name = "FILE")]
        append: Option<PathBuf>,
        /// Also POST the head as JSON to this URL.
        #[arg(long, value_name = "URL")]
        post: Option<String>,
    },
}

pub async fn run(ctx: &Context, cmd: &LedgerCommand) -> anyhow::Result<u8> {
    let LedgerCommand::Head { append, post } = cmd;
    let store = ctx.open_existing_store()?;
    let head = store.ledger_head()?;
    let value = serde_json::json!({
        "entries": head.map_or(0, |h| h.entries),
        "head": head.map(|h| h.head.to_hex()),
        "at": crate::model::now_rfc3339(),
    });
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
        crate::fetch::install_crypto_provider();
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
        match head {
            Some(h) => say!("{h}"),
            None => say!("0: the ledger is empty"),
        }
    }
    Ok(exit::OK)
}
