//! The configuration: a typed struct read from a TOML file, then environment, then flags.
//!
//! Owns parsing and validation of `stet.toml` and its defaults. Errors name the file and line.
//! The commented example in `config/stet.toml` is the documentation and is embedded in the binary
//! (`stet config example`). Loaded once at start and passed explicitly; never read from globals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The commented example configuration shipped in `config/stet.toml`.
pub const EXAMPLE: &str = include_str!("../config/stet.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub fetch: FetchConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    /// Article URLs to watch, besides those added with `stet watch add`.
    #[serde(default, rename = "watch")]
    pub watches: Vec<WatchEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The SQLite database file; created with its parent directory if missing. A relative path is
    /// taken from the working directory.
    #[serde(default = "default_db_path")]
    pub path: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: default_db_path(),
        }
    }
}

/// Under systemd the unit's `StateDirectory` is the natural home of the database.
fn default_db_path() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        Some(dir) => PathBuf::from(dir).join("stet.db"),
        None => PathBuf::from("stet.db"),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// Whole-request limit: connecting, waiting and reading the body.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Bodies longer than this are cut off while streaming and recorded as too large.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// Sent with every request. Sites deserve to know who is fetching and how to reach them.
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// A URL or e-mail address appended to the User-Agent so site operators can reach you.
    #[serde(default)]
    pub contact: Option<String>,
    /// How many URLs are fetched at once during a pass.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How many requests may be open to one host at once.
    #[serde(default = "default_per_host")]
    pub per_host: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout_secs: default_timeout_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            max_body_bytes: default_max_body_bytes(),
            max_redirects: default_max_redirects(),
            user_agent: default_user_agent(),
            contact: None,
            concurrency: default_concurrency(),
            per_host: default_per_host(),
        }
    }
}

impl FetchConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// The User-Agent header: the configured agent plus the contact, if any.
    pub fn user_agent_header(&self) -> String {
        match &self.contact {
            Some(contact) => format!("{} (+{contact})", self.user_agent),
            None => self.user_agent.clone(),
        }
    }
}

fn default_timeout_secs() -> u64 {
    30
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_max_redirects() -> usize {
    10
}
fn default_user_agent() -> String {
    format!(
        "stet/{} (article archiver; +https://github.com/stet-archive/stet)",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_concurrency() -> usize {
    8
}
fn default_per_host() -> usize {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Consecutive "gone" checks (404, 410, redirect to the home or a section page, a soft-404
    /// page) before an article is reported deleted. One gone check alone is often a glitch.
    #[serde(default = "default_gone_after")]
    pub gone_after: u32,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            gone_after: default_gone_after(),
        }
    }
}

fn default_gone_after() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEntry {
    pub url: String,
}

/// A configuration that could not be read or is not valid. The message names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|err| {
            let offset = err.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = line_and_column(text, offset);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: with_source_line(err.message().trim(), text, line),
            }
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |needle: &str, message: String| {
            let offset = text.find(needle).unwrap_or(0);
            let (line, column) = line_and_column(text, offset);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        for watch in &self.watches {
            if let Err(e) = crate::fetch::parse_watch_url(&watch.url) {
                return Err(invalid(&watch.url, e.to_string()));
            }
        }
        if self.fetch.timeout_secs == 0 {
            return Err(invalid(
                "timeout_secs",
                "timeout_secs must be at least 1".into(),
            ));
        }
        if self.fetch.concurrency == 0 || self.fetch.per_host == 0 {
            return Err(invalid(
                "concurrency",
                "concurrency and per_host must be at least 1".into(),
            ));
        }
        if self.detect.gone_after == 0 {
            return Err(invalid(
                "gone_after",
                "gone_after must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The message, then the offending line of the file, so the reader sees the key at fault.
fn with_source_line(message: &str, text: &str, line: usize) -> String {
    match text.lines().nth(line.saturating_sub(1)) {
        Some(source) if !source.trim().is_empty() => {
            format!("{message}\n  {line} | {}", source.trim_end())
        }
        _ => message.to_string(),
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("stet.toml"))
    }

    #[test]
    fn example_config_parses() {
        let config = parse(EXAMPLE).expect("the shipped example must parse");
        assert_eq!(config.detect.gone_after, 2);
    }

    #[test]
    fn empty_config_takes_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.fetch.timeout_secs, 30);
        assert_eq!(config.fetch.max_body_bytes, 10 * 1024 * 1024);
        assert!(config.watches.is_empty());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("[fetch]\ntimeout_secs = 5\ntimeuot = 3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("stet.toml:3:"), "{msg}");
        assert!(msg.contains("timeuot"), "{msg}");
    }

    #[test]
    fn syntax_error_names_its_line() {
        let err = parse("[storage]\npath = \"a.db\"\n\n[fetch\n").unwrap_err();
        assert!(err.to_string().starts_with("stet.toml:4:"), "{err}");
    }

    #[test]
    fn invalid_watch_url_names_its_line() {
        let err =
            parse("[[watch]]\nurl = \"https://ok.example/a\"\n[[watch]]\nurl = \"ftp://x/y\"\n")
                .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("stet.toml:4:"), "{msg}");
        assert!(msg.contains("ftp"), "{msg}");
    }

    #[test]
    fn contact_is_appended_to_user_agent() {
        let config =
            parse("[fetch]\nuser_agent = \"x/1\"\ncontact = \"ops@example.org\"\n").unwrap();
        assert_eq!(config.fetch.user_agent_header(), "x/1 (+ops@example.org)");
    }
}
