//! Secrets: passwords, signing keys and tokens, and URLs that may carry them.
//!
//! Owns [`Secret`], a string that never prints itself (`Debug` and `Display` show
//! `[redacted]`), where a secret comes from (the config file, a file of its own, a systemd
//! credential or an environment variable), and [`redact_url`] for every output that names a URL
//! which could hold credentials. Never logs, prints or stores a secret's value.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A secret value. Only [`Secret::expose`] gives the text, at the one place that sends it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the request or session that needs it. Never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a secret could not be read. Names where it was looked for, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret file {path} is empty")]
    Empty { path: PathBuf },
    #[error("the environment variable {name} is not set")]
    Env { name: String },
}

/// Where a `*_file` path points: an absolute path as given; a relative one in
/// `$CREDENTIALS_DIRECTORY` when systemd passed credentials (`LoadCredential=NAME:...` makes
/// `NAME` such a file), else next to the config file.
pub fn file_path(name: &Path, config_dir: &Path, credentials: Option<&Path>) -> PathBuf {
    if name.is_absolute() {
        return name.to_owned();
    }
    match credentials {
        Some(dir) if dir.join(name).exists() => dir.join(name),
        _ => config_dir.join(name),
    }
}

/// Reads a secret from a file: its content without the final line break.
pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
        path: path.to_owned(),
        source,
    })?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(SecretError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(value))
}

/// Reads a secret from an environment variable.
pub fn from_env(name: &str) -> Result<Secret, SecretError> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(SecretError::Env {
            name: name.to_string(),
        }),
    }
}

/// A URL as it may be shown: user name and password replaced by `***`, and, when `hide_path`,
/// the path and query replaced by `/…` (webhook URLs carry their token in the path). Text that
/// does not parse as a URL has anything between `://` and `@` masked.
pub fn redact_url(input: &str, hide_path: bool) -> String {
    match url::Url::parse(input) {
        Ok(mut url) if url.has_host() => {
            let had_credentials = !url.username().is_empty() || url.password().is_some();
            if had_credentials {
                let _ = url.set_username("***");
                let _ = url.set_password(None);
            }
            if hide_path && (url.path() != "/" || url.query().is_some()) {
                let origin = url.origin().ascii_serialization();
                let user = if had_credentials { "***@" } else { "" };
                let (scheme, rest) = origin.split_once("://").unwrap_or(("", &origin));
                return format!("{scheme}://{user}{rest}/…");
            }
            url.to_string()
        }
        _ => match (input.find("://"), input.rfind('@')) {
            (Some(s), Some(a)) if a > s + 3 => format!("{}***{}", &input[..s + 3], &input[a..]),
            _ => input.to_string(),
        },
    }
}

/// Whether a URL carries a user name or password.
pub fn has_credentials(input: &str) -> bool {
    match url::Url::parse(input) {
        Ok(url) => !url.username().is_empty() || url.password().is_some(),
        Err(_) => false,
    }
}

/// Whether a file can be read by users other than its owner (group or other read bit).
pub fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            password: Option<Secret>,
        }
        let shown = format!(
            "{:?}",
            Holder {
                password: Some(s.clone())
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn urls_lose_their_credentials_and_optionally_their_path() {
        assert_eq!(
            redact_url("https://bob:hunter2@news.example/a?b=c", false),
            "https://***@news.example/a?b=c"
        );
        assert_eq!(
            redact_url("https://hooks.example/services/T0/B0/tok3n", true),
            "https://hooks.example/…"
        );
        assert_eq!(
            redact_url("https://bob:pw@hooks.example:8443/x", true),
            "https://***@hooks.example:8443/…"
        );
        assert_eq!(redact_url("https://a.example/", true), "https://a.example/");
        assert_eq!(redact_url("http://bob:pw@[bad", false), "http://***@[bad");
        assert!(has_credentials("https://bob@x.example/"));
        assert!(!has_credentials("https://x.example/a@b"));
    }

    #[test]
    fn secret_files_lose_one_final_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret \n").unwrap();
        assert_eq!(from_file(&path).unwrap().expose(), "s3cret ");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(from_file(&path), Err(SecretError::Empty { .. })));
        let err = from_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn relative_files_are_credentials_under_systemd() {
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("smtp"), "x").unwrap();
        let cfg = Path::new("/etc/stet");
        assert_eq!(
            file_path(Path::new("smtp"), cfg, Some(creds.path())),
            creds.path().join("smtp")
        );
        assert_eq!(
            file_path(Path::new("other"), cfg, Some(creds.path())),
            cfg.join("other")
        );
        assert_eq!(
            file_path(Path::new("/abs/pw"), cfg, None),
            Path::new("/abs/pw")
        );
    }
}
