//! `stet export --format warc|jsonl` and `stet import`: the archive in portable formats.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, ValueEnum};

use super::{Context, ExitError, exit};
use crate::pure::ledger::{EntryKind, ExportLine};
use crate::say;
use crate::store::{ImportError, Store};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// WARC 1.1: a request and a response record per stored version.
    Warc,
    /// JSON Lines: every ledger entry with the version, event or watch it records.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: Format,
    /// Only this watched URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Only entries at or after this time (RFC 3339, or a date: 2026-01-31).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only entries before this time (RFC 3339, or a date: the start of that day, UTC).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A complete `stet export --format jsonl` file (`-` for standard input).
    pub file: PathBuf,
}

fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc())
        .map_err(|_| ExitError::usage(format!("bad time {s:?}: use RFC 3339 or YYYY-MM-DD")))
}

pub fn export(ctx: &Context, args: &ExportArgs) -> anyhow::Result<u8> {
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let store = ctx.open_existing_store()?;
    let url = match &args.url {
        Some(u) => {
            let id = ctx.watch_id(&store, u)?;
            store
                .watch_rows()?
                .into_iter()
                .find(|(w, _)| *w == id)
                .map(|(_, url)| url)
        }
        None => None,
    };
    let keep = |e: &crate::pure::ledger::Entry| {
        if url.as_ref().is_some_and(|u| *u != e.body.url) {
            return false;
        }
        if matches!(args.format, Format::Warc) && e.body.kind != EntryKind::Version {
            return false;
        }
        if since.is_some() || until.is_some() {
            let Ok(at) = DateTime::parse_from_rfc3339(&e.body.at) else {
                return false;
            };
            let at = at.with_timezone(&Utc);
            if since.is_some_and(|s| at < s) || until.is_some_and(|u| at >= u) {
                return false;
            }
        }
        true
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let n = match args.format {
        Format::Jsonl => store.export_lines(keep, |line| {
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            Ok(())
        })?,
        Format::Warc => {
            let filename = args
                .output
                .as_ref()
                .and_then(|p| p.file_name())
                .map_or("stet.warc".to_string(), |f| {
                    f.to_string_lossy().into_owned()
                });
            crate::pure::warc::write_warcinfo(
                &mut out,
                &crate::pure::model::now_rfc3339(),
                &filename,
            )?;
            let user_agent = ctx.config.fetch.user_agent_header();
            let proofs = warc_proofs(ctx, &store)?;
            store.export_lines(keep, |line| {
                let v = line
                    .version
                    .as_ref()
                    .context("a version entry without its version")?;
                let body = base64::engine::general_purpose::STANDARD.decode(&v.body_base64)?;
                let proof = match &proofs {
                    Some(p) => Some(p.file(&line.entry.body.url, v)?),
                    None => None,
                };
                crate::pure::warc::write_capture(
                    &mut out,
                    &crate::pure::warc::Capture {
                        target_uri: &v.final_url,
                        date: &v.captured_at,
                        http_status: v.http_status,
                        body: &body,
                        body_hash: &v.body_hash,
                        content_hash: &v.content_hash,
                        ledger_entry: Some((line.entry.seq, &line.entry.hash)),
                        user_agent: &user_agent,
                        proof: proof.as_deref(),
                    },
                )?;
                Ok(())
            })?
        }
    };
    out.flush()?;
    drop(out);
    if args.output.is_some() && !ctx.json {
        let what = match args.format {
            Format::Jsonl => "ledger entries",
            Format::Warc => "versions",
        };
        eprintln!("exported {n} {what}");
    }
    Ok(exit::OK)
}

/// What the WARC's `metadata` records are made from: the ledger's tree, a checkpoint signed
/// over all of it, and which entries record each version.
struct WarcProofs {
    signed: super::proof_cmd::Signed,
    tree: crate::pure::proof::Tree,
    leaves: Vec<Vec<u8>>,
    entries: std::collections::HashMap<(String, i64), Vec<i64>>,
}

impl WarcProofs {
    /// The proof file of one exported version, as JSON, without the body (the response holds it).
    fn file(&self, url: &str, v: &crate::pure::ledger::ExportVersion) -> anyhow::Result<Vec<u8>> {
        let seqs = self
            .entries
            .get(&(url.to_string(), v.seq.0))
            .cloned()
            .unwrap_or_default();
        let file = super::proof_cmd::assemble(
            &self.signed,
            &self.tree,
            &self.leaves,
            url,
            v.seq.0,
            &seqs,
            v.text.clone(),
            None,
        )?;
        Ok(serde_json::to_vec_pretty(&file)?)
    }
}

/// Proofs for a WARC export when a signing key exists: against the latest published checkpoint
/// when it covers the whole ledger, otherwise a checkpoint signed now (and not published).
fn warc_proofs(ctx: &Context, store: &Store) -> anyhow::Result<Option<WarcProofs>> {
    let path = ctx.config.ledger.key_path(&ctx.db_path);
    if !path.exists() {
        tracing::info!(
            key = %path.display(),
            "no signing key: the WARC has no proof records (run `stet ledger keygen`)"
        );
        return Ok(None);
    }
    let signer = crate::app::publish::read_signer(&path)?;
    let leaves = store.ledger_leaves()?;
    let tree = crate::pure::proof::Tree::of_entries(&leaves);
    let latest = store
        .latest_checkpoint()?
        .filter(|c| c.tree_size == tree.size() && c.root == tree.root());
    let signed = match latest {
        Some(c) => super::proof_cmd::Signed {
            key: signer.verifier().to_string(),
            note: c.note,
            tree_size: c.tree_size,
            timestamp: match (c.tsa_url, c.timestamp_token) {
                (Some(u), Some(t)) => Some(crate::pure::proof::TimestampRecord {
                    tsa_url: u,
                    token_base64: base64::engine::general_purpose::STANDARD.encode(t),
                }),
                _ => None,
            },
        },
        None => {
            let (cp, note) = crate::app::publish::sign_checkpoint(&signer, &tree)?;
            super::proof_cmd::Signed {
                key: signer.verifier().to_string(),
                note,
                tree_size: cp.size,
                timestamp: None,
            }
        }
    };
    let mut entries: std::collections::HashMap<(String, i64), Vec<i64>> = Default::default();
    for row in store.ledger_rows()? {
        if let Ok(e) = row.entry
            && matches!(e.body.kind, EntryKind::Version | EntryKind::AttestVersion)
            && let Some(v) = e.body.version
        {
            entries.entry((e.body.url, v.0)).or_default().push(e.seq);
        }
    }
    Ok(Some(WarcProofs {
        signed,
        tree,
        leaves,
        entries,
    }))
}

pub fn import(ctx: &Context, args: &ImportArgs) -> anyhow::Result<u8> {
    let mut store = Store::open(&ctx.db_path)?;
    if !store.is_empty()? {
        return Err(ExitError::usage(format!(
            "{} is not empty: import into a new database (--db NEW.db)",
            ctx.db_path.display()
        )));
    }
    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.file)
                .with_context(|| format!("cannot open {}", args.file.display()))?,
        ))
    };
    let lines = reader
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(i, l)| {
            let fail = |message: String| ImportError::Line {
                line: i + 1,
                message,
            };
            let l = l.map_err(|e| fail(e.to_string()))?;
            serde_json::from_str::<ExportLine>(&l).map_err(|e| fail(e.to_string()))
        });
    let head = match store.import(lines) {
        Ok(head) => head,
        Err(ImportError::Line { line, message }) => {
            return Err(super::ExitError {
                code: exit::VERIFY_FAILED,
                message: format!("{}:{line}: {message}", args.file.display()),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let value = serde_json::json!({
        "entries": head.map_or(0, |h| h.entries),
        "head": head.map(|h| h.head.to_hex()),
    });
    if ctx.json {
        super::output::json_line(&value)?;
    } else {
        match head {
            Some(h) => say!("imported {} ledger entries; head {h}", h.entries),
            None => say!("nothing to import"),
        }
    }
    Ok(exit::OK)
}
