//! `stet config example|check`: the embedded example, and validation of a file.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::exit;
use crate::config::{self, Config};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the commented example configuration (the documentation of every key).
    Example,
    /// Check a configuration file and print what it sets.
    Check {
        /// The file to check; defaults to --config.
        file: Option<PathBuf>,
    },
}

pub fn run(cmd: &ConfigCommand, global: Option<&Path>, json: bool) -> anyhow::Result<u8> {
    match cmd {
        ConfigCommand::Example => {
            super::output::raw(config::EXAMPLE.as_bytes())?;
            Ok(exit::OK)
        }
        ConfigCommand::Check { file } => {
            let Some(path) = file.as_deref().or(global) else {
                return Err(super::ExitError::usage(
                    "name the file: stet config check FILE (or --config FILE)",
                ));
            };
            let config = Config::load(path)?;
            if json {
                super::output::json_line(&serde_json::json!({
                    "file": path,
                    "valid": true,
                    "database": config.storage.path,
                    "watches": config.watches.len(),
                    "alerts": config.alerts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
                    "warnings": config.warnings,
                }))?;
            } else {
                crate::say!(
                    "{}: valid; database {}, {} watch(es) in the file",
                    path.display(),
                    config.storage.path.display(),
                    config.watches.len()
                );
                for warning in &config.warnings {
                    crate::say!("warning: {warning}");
                }
            }
            Ok(exit::OK)
        }
    }
}
