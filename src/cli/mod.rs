//! The command line: argument definitions, the shared context of every verb, and dispatch.
//!
//! Owns what the user types and sees; each verb lives in its own module and calls the library.
//! Raw flags are parsed by clap, then turned into validated values here.

mod alerts;
mod check;
mod completions;
mod config_cmd;
mod demo;
mod diff;
mod export;
mod extract_cmd;
mod feed;
mod history;
mod ledger_cmd;
mod man;
mod migrate;
pub mod output;
mod proof_cmd;
mod run;
mod serve;
mod show;
mod verify;
mod watch;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

/// Exit codes that mean something to scripts.
pub mod exit {
    /// Everything asked was done (a pass exits 0 even when some URLs failed).
    pub const OK: u8 = 0;
    /// The work could not be done: database unusable, I/O failure.
    pub const FAILURE: u8 = 1;
    /// Bad usage or configuration: unknown flag, malformed config, invalid URL.
    pub const USAGE: u8 = 2;
    /// What was asked for does not exist: a URL that is not watched, a version that is not stored.
    pub const NOT_FOUND: u8 = 3;
    /// `verify` (or `import`) found the archive altered: a hash or the ledger chain fails.
    pub const VERIFY_FAILED: u8 = 4;
    /// The reader of stdout went away (`stet watch list | head -1`): 128 + SIGPIPE, the status
    /// a shell reports for a program that SIGPIPE ended. Nothing is printed on stderr.
    pub const CLOSED_STDOUT: u8 = 141;
}

/// An error that carries its own exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    pub code: u8,
    pub message: String,
}

impl ExitError {
    pub fn not_found(message: impl Into<String>) -> anyhow::Error {
        Self {
            code: exit::NOT_FOUND,
            message: message.into(),
        }
        .into()
    }

    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self {
            code: exit::USAGE,
            message: message.into(),
        }
        .into()
    }
}

/// The version and the commit the binary was built from (see `build.rs`).
pub const VERSION: &str = env!("STET_VERSION");

const ABOUT: &str = "Keeps an archive of news articles and proves what they said.";

const LONG_ABOUT: &str = "\
Keeps an archive of news articles and proves what they said.

stet snapshots article URLs, extracts the article (title, byline, text), hashes it (SHA-256) and
stores every version in SQLite. It reports edits (a changed word, number, paragraph or headline)
and deletions (404/410, redirects to the home page, soft-404 pages, confirmed on consecutive
checks), while ignoring page noise: ads, sidebars, related links, relative timestamps, comment
counts, scripts and markup changes. Transient failures (5xx, timeouts, resets) are recorded
as errors and never reported as deletions; a host that asks to slow down (429) is slowed, and
what it would not serve is deferred.

Try it offline:   stet demo
Start watching:   stet --config config/stet.toml watch add https://news.example.org/story
Check now:        stet --config config/stet.toml check
Run the daemon:   stet --config config/stet.toml run";

const AFTER_HELP: &str = "\
Exit codes: 0 done (a pass exits 0 even when some URLs failed), 1 failure (database unusable,
I/O), 2 bad usage or configuration, 3 not found (URL not watched, version not stored),
4 verification failed (`verify` or `import` found an altered hash or a broken ledger chain),
141 stdout closed (`stet watch list | head -1`: stet stops quietly, as if ended by SIGPIPE).

Environment: STET_CONFIG (config file), STET_DB (database file), STET_LOG (log filter, e.g.
\"stet=debug\"), STET_LOG_FORMAT (text or json), NO_COLOR (plain output).

Signals (stet run): SIGTERM and SIGINT stop after committing the open work; SIGHUP reloads the
configuration (watches and feeds added or removed) without a restart.";

#[derive(Debug, Parser)]
#[command(name = "stet", version = VERSION, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// The configuration file (TOML); without it, /etc/stet/stet.toml if it exists (as the
    /// Debian package installs it), else built-in defaults.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "STET_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// The database file; overrides `[storage] path` of the config.
    #[arg(long, global = true, env = "STET_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables and colored text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors in the log output.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Log format on stderr: `text` (journald-friendly) or `json` (one object per line).
    #[arg(long, global = true, env = "STET_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: check every watched URL on its schedule until stopped.
    Run(run::RunArgs),
    /// Check watched URLs once, now, and report what changed.
    Check(check::CheckArgs),
    /// Add, remove or list watched URLs.
    #[command(subcommand)]
    Watch(watch::WatchCommand),
    /// Add, remove, list or poll feeds (RSS, Atom, sitemaps) whose new articles become watches.
    #[command(subcommand)]
    Feed(feed::FeedCommand),
    /// Show the change history of an article: every version and event.
    History(UrlArgs),
    /// Show what changed between two versions of an article, word by word.
    Diff(diff::DiffArgs),
    /// Show one stored version of an article (its text, or the raw page with --raw).
    Show(show::ShowArgs),
    /// Show what stet would archive and hash for a saved page or a URL (no database needed);
    /// --explain says which blocks were removed and why.
    Extract(extract_cmd::ExtractArgs),
    /// See stet work offline: a local news site, an edit, page noise, an outage and a deletion.
    Demo(demo::DemoArgs),
    /// Prove the archive is unaltered: re-compute every hash and the ledger chain.
    Verify(verify::VerifyArgs),
    /// The tamper-evident ledger: its head and signed checkpoints, and the key that signs them.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
    /// Write an offline proof of one stored version: a signed checkpoint, the ledger entry, its
    /// inclusion proof, the text and the raw body, in one file.
    Proof(proof_cmd::ProofArgs),
    /// Check a file written by `stet proof`, with no database.
    VerifyProof(proof_cmd::VerifyProofArgs),
    /// Export stored versions as WARC 1.1, or the whole archive with its ledger as JSON Lines.
    Export(export::ExportArgs),
    /// Load a JSON Lines export into a new, empty database, re-checking every ledger entry.
    Import(export::ImportArgs),
    /// Move the archive into a new one (a SQLite file into PostgreSQL), with the same ledger
    /// head, and verify the copy.
    Migrate(migrate::MigrateArgs),
    /// Print the commented example configuration, or check a configuration file.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Show, retry or deliver the alerts queued for the sinks of the config (alert entries).
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Print the shell completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(completions::CompletionsArgs),
    /// Print the manual page stet(1), or write it and one page per verb into a directory.
    Man(man::ManArgs),
    /// Serve the web interface and the HTTP API over the archive (read-only without a token).
    Serve(serve::ServeArgs),
    /// The web server's tokens: print a new one.
    #[command(subcommand)]
    Server(serve::ServerCommand),
}

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// The article URL, as watched.
    pub url: String,
}

/// What every verb needs: the configuration, where the database is, and how to print.
pub struct Context {
    pub config: Config,
    pub db_path: crate::store::Location,
    pub json: bool,
    /// Where the config came from, to name the same `--config` and `--db` in hints.
    pub source: crate::app::daemon::ConfigSource,
}

impl Context {
    fn load(cli: &Cli) -> anyhow::Result<Self> {
        let source = config_source(cli);
        let config = source.load()?;
        let db_path = config.storage.location();
        Ok(Self {
            config,
            db_path,
            json: cli.json,
            source,
        })
    }

    /// Opens the archive and brings the config's watches and feeds into it.
    pub fn open_store(&self) -> anyhow::Result<Store> {
        let mut store = Store::open(&self.db_path)?;
        crate::app::daemon::sync_config(&mut store, &self.config)
            .with_context(|| format!("cannot update watches in {}", self.db_path.display()))?;
        Ok(store)
    }

    /// Opens the archive for reading only: the config is not applied, so reads never wait for
    /// a writer.
    pub fn open_reader(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.db_path)?)
    }

    /// Opens an archive that must already exist, without syncing the config's watches into it:
    /// for the verbs that prove or publish what it holds, where a mistyped path must not look
    /// like an empty, valid archive.
    pub fn open_existing_store(&self) -> anyhow::Result<Store> {
        if !self.db_path.exists() {
            return Err(ExitError::not_found(format!(
                "no archive at {}",
                self.db_path.display()
            )));
        }
        Ok(Store::open(&self.db_path)?)
    }

    /// Finds a watched URL's id, accepting the URL as typed (normalised like `watch add`).
    pub fn watch_id(
        &self,
        store: &Store,
        url: &str,
    ) -> anyhow::Result<crate::pure::model::WatchId> {
        let normalised = crate::net::fetch::parse_watch_url(url)
            .map(|u| u.to_string())
            .ok();
        for candidate in [Some(url.to_string()), normalised].into_iter().flatten() {
            if let Some(id) = store.watch_id(&candidate)? {
                return Ok(id);
            }
        }
        Err(ExitError::not_found(format!(
            "{url} is not watched (see `stet watch list`)"
        )))
    }
}

/// Where the configuration comes from: the file named by `--config`, else the system config
/// when it exists (an installed package), else built-in defaults; `--db` over it. The daemon
/// keeps it to read the file again on reload.
fn config_source(cli: &Cli) -> crate::app::daemon::ConfigSource {
    crate::app::daemon::ConfigSource::resolve(
        cli.config.clone(),
        std::path::Path::new(crate::app::daemon::SYSTEM_CONFIG),
        cli.db.clone(),
    )
}

/// Runs the parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Command::Demo(args) = &cli.command {
        return demo::run(args, cli.json).await;
    }
    if let Command::Extract(args) = &cli.command {
        let config = config_source(&cli).load()?;
        return extract_cmd::run(args, &config, cli.json).await;
    }
    if let Command::Server(serve::ServerCommand::Token) = &cli.command {
        return serve::token(cli.json);
    }
    if let Command::Completions(args) = &cli.command {
        return completions::run(args);
    }
    if let Command::Man(args) = &cli.command {
        return man::run(args);
    }
    if let Command::Config(cmd) = &cli.command {
        return config_cmd::run(cmd, cli.config.as_deref(), cli.json);
    }
    let ctx = Context::load(&cli)?;
    let source = config_source(&cli);
    match cli.command {
        Command::Run(args) => run::run(&ctx, &args, source).await,
        Command::Check(args) => check::run(&ctx, &args).await,
        Command::Watch(cmd) => watch::run(&ctx, &cmd),
        Command::Feed(cmd) => feed::run(&ctx, &cmd).await,
        Command::History(args) => history::run(&ctx, &args),
        Command::Diff(args) => diff::run(&ctx, &args),
        Command::Show(args) => show::run(&ctx, &args),
        Command::Verify(args) => verify::run(&ctx, &args),
        Command::Ledger(cmd) => ledger_cmd::run(&ctx, &cmd).await,
        Command::Proof(args) => proof_cmd::proof(&ctx, &args).await,
        Command::VerifyProof(args) => proof_cmd::verify_proof(&ctx, &args),
        Command::Export(args) => export::export(&ctx, &args),
        Command::Import(args) => export::import(&ctx, &args),
        Command::Migrate(args) => migrate::run(&ctx, &args),
        Command::Alerts(cmd) => alerts::run(&ctx, &cmd).await,
        Command::Serve(args) => serve::run(&ctx, &args).await,
        Command::Demo(_)
        | Command::Config(_)
        | Command::Extract(_)
        | Command::Completions(_)
        | Command::Man(_)
        | Command::Server(_) => {
            unreachable!("handled above")
        }
    }
}
