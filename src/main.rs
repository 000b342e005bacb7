//! The `stet` binary: parses arguments, sets up logging, dispatches, and turns errors into exit
//! codes with their whole chain printed.

use std::process::ExitCode;

use clap::Parser;
use stet::cli::{self, Cli, ExitError, exit};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stet: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // An extraction over its time limit may still be running on a blocking thread: the
    // command's work is done, so it is not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) if cli::output::is_closed_pipe(&err) => ExitCode::from(exit::CLOSED_STDOUT),
        Err(err) => {
            let code = exit_code_of(&err);
            eprintln!("stet: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(code)
        }
    }
}

fn exit_code_of(err: &anyhow::Error) -> u8 {
    if let Some(e) = err.downcast_ref::<ExitError>() {
        e.code
    } else if err.downcast_ref::<stet::config::ConfigError>().is_some()
        || err.downcast_ref::<stet::net::fetch::UrlError>().is_some()
    {
        exit::USAGE
    } else {
        exit::FAILURE
    }
}

/// Logs go to stderr: `STET_LOG` (or `RUST_LOG`) wins; otherwise the daemon logs at info and
/// one-shot commands at warn, raised by -v and lowered by -q.
fn init_logging(cli: &Cli) {
    let daemon = matches!(cli.command, cli::Command::Run(_));
    let demo = matches!(cli.command, cli::Command::Demo(_));
    let base = match (cli.quiet, cli.verbose, daemon) {
        (true, _, _) => "error",
        (false, 0, _) if demo => "error",
        (false, 0, false) => "warn",
        (false, 0, true) | (false, 1, _) => "info",
        (false, 2, _) => "debug",
        _ => "trace",
    };
    let filter = std::env::var("STET_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{base},html5ever=off,selectors=off")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if cli.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else if std::env::var_os("JOURNAL_STREAM").is_some() {
        // journald stamps and colors lines itself.
        builder.without_time().with_ansi(false).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}
