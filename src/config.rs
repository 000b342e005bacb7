//! The configuration: a typed struct read from a TOML file, then environment, then flags.
//!
//! Owns parsing and validation of `stet.toml` and its defaults. Errors name the file and line.
//! The commented example in `config/stet.toml` is the documentation and is embedded in the binary
//! (`stet config example`). Loaded once at start and passed explicitly; never read from globals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::pure::secret::{self, Secret};

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
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub politeness: PolitenessConfig,
    #[serde(default)]
    pub feeds: FeedsConfig,
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Article URLs to watch, besides those added with `stet watch add`.
    #[serde(default, rename = "watch")]
    pub watches: Vec<WatchEntry>,
    /// RSS, Atom and sitemap feeds whose new articles become watches.
    #[serde(default, rename = "feed")]
    pub feed_entries: Vec<FeedEntry>,
    /// Where alerts about edits, deletions and restorations go (see [`crate::notify`]).
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertEntry>,
    /// The web interface and HTTP API (`stet serve`, or beside `stet run` when `listen` is set).
    #[serde(default)]
    pub server: ServerConfig,
    /// What a careful operator should know about the file (a readable secret); logged at load
    /// and shown by `stet config check`.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Serve the web interface beside `stet run` on this address (`stet serve` listens on
    /// 127.0.0.1:8480 unless told otherwise).
    #[serde(default)]
    pub listen: Option<String>,
    /// Anyone who can reach the address may read without a token. Reads are open without it
    /// only on a loopback address.
    #[serde(default)]
    pub public: bool,
    /// SHA-256 (hex) of the bearer tokens that may write (add or remove watches), and read
    /// when reads are not open. `stet server token` prints a new token and its hash.
    #[serde(default)]
    pub token_sha256: Vec<String>,
    /// The address people reach the server by (`https://archive.example.org`), for absolute
    /// links in feeds and Memento headers; by default taken from the request's Host header.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Signed checkpoints of the ledger and where they are sent (see `docs/LEDGER.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The Ed25519 signing key that `stet ledger keygen` writes (mode 0600); its name is the
    /// checkpoints' origin line. Default: `ledger.key` beside the database.
    pub key: Option<PathBuf>,
    /// An RFC 3161 timestamp authority: every published checkpoint gets a token from it.
    pub tsa_url: Option<String>,
    /// C2SP tlog-witness submission prefixes: each new checkpoint is sent to
    /// `<prefix>/add-checkpoint` with its consistency proof.
    #[serde(default)]
    pub witnesses: Vec<String>,
    /// When the daemon publishes a checkpoint (when the ledger grew): a crontab line,
    /// @hourly, @daily or "every 6h". Unset: only `stet ledger publish` does.
    pub publish: Option<String>,
}

impl LedgerConfig {
    /// Where the signing key is: `key`, or `ledger.key` beside the database `db`.
    /// The signing key: `key` when set, else `ledger.key` beside a SQLite archive, or for a
    /// PostgreSQL one in the state directory (`$STATE_DIRECTORY`, else the working directory).
    pub fn key_path(&self, db: &crate::store::Location) -> PathBuf {
        self.key.clone().unwrap_or_else(|| {
            db.sqlite_path()
                .map_or_else(default_db_path, Path::to_path_buf)
                .with_file_name("ledger.key")
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The SQLite database file; created with its parent directory if missing. A relative path is
    /// taken from the working directory.
    #[serde(default = "default_db_path")]
    pub path: PathBuf,
    /// A PostgreSQL archive (`postgresql://user:password@host:port/dbname`) instead of the
    /// SQLite file: any number of `stet run` workers may share it.
    #[serde(default)]
    pub url: Option<String>,
    /// With `url`: page-body chunks in S3-compatible storage (`s3://bucket/prefix`) instead of
    /// the database.
    #[serde(default)]
    pub blobs: Option<String>,
    /// The object store's endpoint (`http://127.0.0.1:8333`); else `AWS_ENDPOINT_URL`, else AWS.
    #[serde(default)]
    pub blobs_endpoint: Option<String>,
    /// Else `AWS_REGION` or `AWS_DEFAULT_REGION`.
    #[serde(default)]
    pub blobs_region: Option<String>,
    /// Else `AWS_ACCESS_KEY_ID`.
    #[serde(default)]
    pub blobs_access_key_id: Option<String>,
    /// Else `AWS_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub blobs_secret_access_key: Option<String>,
    /// With `url`: how long a worker's claim on due work lasts; a dead worker's watches are
    /// checked by the others once it has passed.
    #[serde(
        default = "default_lease",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub lease: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            path: default_db_path(),
            url: None,
            blobs: None,
            blobs_endpoint: None,
            blobs_region: None,
            blobs_access_key_id: None,
            blobs_secret_access_key: None,
            lease: default_lease(),
        }
    }
}

fn default_lease() -> Duration {
    crate::store::DEFAULT_LEASE
}

impl StorageConfig {
    /// Where the archive lives: the PostgreSQL `url` when there is one, else the SQLite `path`.
    pub fn location(&self) -> crate::store::Location {
        match &self.url {
            Some(url) => crate::store::Location::Postgres {
                url: url.clone(),
                blobs: self.blobs.as_ref().map(|u| crate::store::BlobsConfig {
                    url: u.clone(),
                    endpoint: self.blobs_endpoint.clone(),
                    region: self.blobs_region.clone(),
                    access_key_id: self.blobs_access_key_id.clone(),
                    secret_access_key: self.blobs_secret_access_key.clone(),
                }),
                lease: self.lease,
            },
            None => crate::store::Location::Sqlite(self.path.clone()),
        }
    }

    /// `--db` or `STET_DB`: a file path, or a PostgreSQL URL.
    pub fn set_db(&mut self, db: &std::path::Path) {
        let s = db.to_string_lossy();
        if crate::store::Location::is_postgres_url(&s) {
            self.url = Some(s.into_owned());
        } else {
            self.path = db.to_owned();
            self.url = None;
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
    /// This watch's own schedule, overriding `[schedule]`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Honour robots.txt for this URL (default: `[politeness] robots`).
    #[serde(default)]
    pub robots: Option<bool>,
    /// CSS selector of the article container: only what it matches is read.
    #[serde(default)]
    pub select: Option<String>,
    /// CSS selectors of elements removed before extraction.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Regular expressions: paragraphs (lines) matching one are dropped from the article.
    #[serde(default)]
    pub ignore_text: Vec<String>,
    /// A way in past a wall: a file of request headers sent for this URL only, one
    /// `Name: value` per line (`Cookie: session=...`, `Authorization: Bearer ...`); a relative
    /// path is looked up in `$CREDENTIALS_DIRECTORY`, then next to the config file.
    #[serde(default)]
    pub headers_file: Option<PathBuf>,
    /// The same, from an environment variable (lines separated by newlines).
    #[serde(default)]
    pub headers_env: Option<String>,
    /// The headers read from `headers_file` or `headers_env`; their values are secrets.
    #[serde(skip)]
    pub headers: Vec<(String, Secret)>,
}

/// Reads request header lines (`Name: value`; blank lines and `#` comments skipped). Errors
/// name the line, never a value.
fn parse_header_lines(text: &str) -> Result<Vec<(String, Secret)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {}: not a `Name: value` header", n + 1));
        };
        let (name, value) = (name.trim(), value.trim());
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("line {}: {name:?} is not a header name", n + 1));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "line {}: the value of {name} is not a header value",
                n + 1
            ));
        }
        if name.eq_ignore_ascii_case("host") {
            return Err(format!("line {}: Host cannot be set", n + 1));
        }
        out.push((name.to_string(), Secret::new(value)));
    }
    if out.is_empty() {
        return Err("no header in it".into());
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    pub url: String,
    /// How often the feed is polled (default: `[feeds] schedule`).
    #[serde(default)]
    pub schedule: Option<String>,
    /// Honour robots.txt for the feed and its articles (default: `[politeness] robots`).
    #[serde(default)]
    pub robots: Option<bool>,
    /// Extraction rules for the feed's articles, as for a `[[watch]]`.
    /// CSS selector of the article container: only what it matches is read.
    #[serde(default)]
    pub select: Option<String>,
    /// CSS selectors of elements removed before extraction.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Regular expressions: paragraphs (lines) matching one are dropped from the article.
    #[serde(default)]
    pub ignore_text: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When a watch is checked: a crontab line ("*/30 * * * *"), @hourly, @daily, or "every 2h".
    #[serde(default = "default_schedule")]
    pub default: String,
    /// At most this much is added to each due time, spread by watch (never more than a tenth
    /// of the period), so a thousand watches do not fire in the same second.
    #[serde(
        default = "default_jitter",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub jitter: Duration,
    /// After a failed check the next one waits this long, doubling per failure up to
    /// `backoff_max`.
    #[serde(
        default = "default_backoff_base",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub backoff_base: Duration,
    #[serde(
        default = "default_backoff_max",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub backoff_max: Duration,
    /// After a first "gone" observation, the confirmation check comes this soon.
    #[serde(
        default = "default_confirm_after",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub confirm_after: Duration,
    /// Check young articles often and old ones rarely; overrides `default` for watches without
    /// a schedule of their own.
    #[serde(default)]
    pub age_curve: Vec<crate::pure::scheduler::AgeStep>,
    /// Stop watching an article this long after it was published (or first captured).
    #[serde(default, with = "crate::pure::scheduler::humantime_serde_opt")]
    pub watch_for: Option<Duration>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            default: default_schedule(),
            jitter: default_jitter(),
            backoff_base: default_backoff_base(),
            backoff_max: default_backoff_max(),
            confirm_after: default_confirm_after(),
            age_curve: Vec::new(),
            watch_for: None,
        }
    }
}

impl ScheduleConfig {
    /// The rules as the scheduler takes them; the schedule string was validated at load.
    pub fn policy(&self) -> crate::pure::scheduler::SchedulePolicy {
        crate::pure::scheduler::SchedulePolicy {
            default: self
                .default
                .parse()
                .unwrap_or(crate::pure::scheduler::Cadence::Every(Duration::from_secs(
                    3600,
                ))),
            jitter: self.jitter,
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max,
            confirm_after: self.confirm_after,
            age_curve: self.age_curve.clone(),
            watch_for: self.watch_for,
        }
    }
}

fn default_schedule() -> String {
    "@hourly".into()
}
fn default_jitter() -> Duration {
    Duration::from_secs(300)
}
fn default_backoff_base() -> Duration {
    Duration::from_secs(60)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_confirm_after() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolitenessConfig {
    /// Honour robots.txt (fetched once per host and cached).
    #[serde(default = "default_true")]
    pub robots: bool,
    /// The least time between two requests to the same host.
    #[serde(
        default = "default_min_delay",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub min_delay: Duration,
    /// A host's pause (a 429's Retry-After) that ends within this long is waited out within a
    /// pass; a longer one defers the host's remaining checks until it ends.
    #[serde(
        default = "default_pause_wait",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub pause_wait: Duration,
    /// The breaker: this many distinct URLs of one host failing (5xx, timeout, reset) within
    /// `breaker_window`, and at least half of the host's answers in it, slow the host down.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: usize,
    #[serde(
        default = "default_breaker_window",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub breaker_window: Duration,
    /// A slowed host gets one request at a time, at least this far apart.
    #[serde(
        default = "default_slow_delay",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub slow_delay: Duration,
    /// A slowdown ends this long after the host's last 429 or breaker trip.
    #[serde(
        default = "default_slow_for",
        with = "crate::pure::scheduler::humantime_serde"
    )]
    pub slow_for: Duration,
}

impl PolitenessConfig {
    /// The slowdown rules for [`crate::net::polite::Politeness`].
    pub fn slowdown(&self) -> crate::net::polite::Slowdown {
        crate::net::polite::Slowdown {
            failures: self.breaker_failures,
            window: self.breaker_window,
            delay: self.slow_delay,
            slow_for: self.slow_for,
        }
    }
}

impl Default for PolitenessConfig {
    fn default() -> Self {
        Self {
            robots: true,
            min_delay: default_min_delay(),
            pause_wait: default_pause_wait(),
            breaker_failures: default_breaker_failures(),
            breaker_window: default_breaker_window(),
            slow_delay: default_slow_delay(),
            slow_for: default_slow_for(),
        }
    }
}

fn default_pause_wait() -> Duration {
    Duration::from_secs(5)
}
fn default_breaker_failures() -> usize {
    crate::net::polite::Slowdown::default().failures
}
fn default_breaker_window() -> Duration {
    crate::net::polite::Slowdown::default().window
}
fn default_slow_delay() -> Duration {
    crate::net::polite::Slowdown::default().delay
}
fn default_slow_for() -> Duration {
    crate::net::polite::Slowdown::default().slow_for
}

fn default_true() -> bool {
    true
}
fn default_min_delay() -> Duration {
    Duration::from_secs(1)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedsConfig {
    /// How often feeds are polled, unless a `[[feed]]` says otherwise.
    #[serde(default = "default_feed_schedule")]
    pub schedule: String,
    /// At most this many new articles become watches per feed poll; the rest wait for the next.
    #[serde(default = "default_max_new")]
    pub max_new_per_poll: usize,
    /// Article URLs listed by feeds may point at loopback, private, link-local or metadata
    /// addresses. Off by default: a feed is untrusted input.
    #[serde(default)]
    pub allow_private: bool,
    /// Hosts allowed even when they resolve to such addresses.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        Self {
            schedule: default_feed_schedule(),
            max_new_per_poll: default_max_new(),
            allow_private: false,
            allow_hosts: Vec::new(),
        }
    }
}

fn default_feed_schedule() -> String {
    "*/15 * * * *".into()
}
fn default_max_new() -> usize {
    50
}

/// The kind of an alert sink: how a message is shaped and delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// JSON POST with the documented schema, an Idempotency-Key and an optional HMAC signature.
    Webhook,
    /// Slack incoming webhook (`{"text": ...}`).
    Slack,
    /// Discord webhook (`{"content": ...}`).
    Discord,
    /// Mattermost incoming webhook (`{"text": ...}`).
    Mattermost,
    /// ntfy topic URL: plain-text body with Title, Tags and Click headers.
    Ntfy,
    /// E-mail over SMTP: plain text with the word diff and an HTML alternative.
    Email,
    /// A program (no shell) that receives the event JSON on stdin.
    Command,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Mattermost => "mattermost",
            Self::Ntfy => "ntfy",
            Self::Email => "email",
            Self::Command => "command",
        }
    }

    /// Whether the sink posts to an HTTP URL.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Self::Webhook | Self::Slack | Self::Discord | Self::Mattermost | Self::Ntfy
        )
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption at all: only for a relay on the same machine.
    None,
}

/// One `[[alert]]` sink. Which keys apply depends on `kind`; `validate` rejects missing ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEntry {
    /// Unique name, shown by `stet alerts list` and kept with every queued alert.
    pub name: String,
    pub kind: SinkKind,
    /// The events this sink wants: edited, deleted, restored, captured.
    #[serde(default = "default_alert_on")]
    pub on: Vec<crate::pure::model::CheckKind>,
    /// `substantive` skips minor edits (whitespace, punctuation, typography only).
    #[serde(default = "default_min_significance")]
    pub min_significance: crate::pure::model::Significance,
    /// Only articles whose URL contains one of these strings (a host, a section path).
    /// Empty: every article.
    #[serde(default)]
    pub match_urls: Vec<String>,
    /// Only articles that came from one of these feeds (their URLs, as in `[[feed]]`).
    /// Empty: articles from anywhere.
    #[serde(default)]
    pub match_feeds: Vec<String>,
    /// HTTP sinks: where to post.
    #[serde(default)]
    pub url: Option<String>,
    /// HTTP sinks: read the URL from this file (or systemd credential) instead, when the URL
    /// itself is the secret (Slack, Discord and ntfy put the token in the path).
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// HTTP sinks: read the URL from this environment variable instead.
    #[serde(default)]
    pub url_env: Option<String>,
    /// Webhook: signs each body with HMAC-SHA256 in the X-Stet-Signature header.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Webhook: read `secret` from this file (a relative name is looked up in systemd's
    /// `$CREDENTIALS_DIRECTORY` first, then beside the config file).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Webhook: read `secret` from this environment variable.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Email: the SMTP server.
    #[serde(default)]
    pub smtp_host: Option<String>,
    /// Email: default 587 for starttls, 465 for implicit, 25 for none.
    #[serde(default)]
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Email: read `password` from this file (looked up like `secret_file`).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Email: read `password` from this environment variable.
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// Command: the program and its arguments (no shell is involved).
    #[serde(default)]
    pub command: Vec<String>,
    /// Seconds one delivery may take (HTTP request, SMTP session, command run).
    #[serde(default = "default_alert_timeout_secs")]
    pub timeout_secs: u64,
    /// Attempts before an alert is marked failed (`stet alerts retry` queues it again).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long, up to `max_backoff_secs`.
    #[serde(default = "default_backoff_secs")]
    pub backoff_secs: u64,
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// At most this many messages per hour; the rest wait (nothing is dropped). 0: no limit.
    #[serde(default = "default_max_per_hour")]
    pub max_per_hour: u32,
    /// When set, alerts are gathered into one message at most every this many seconds.
    #[serde(default)]
    pub digest_secs: Option<u64>,
}

fn default_alert_on() -> Vec<crate::pure::model::CheckKind> {
    use crate::pure::model::CheckKind;
    vec![CheckKind::Edited, CheckKind::Deleted, CheckKind::Restored]
}
fn default_min_significance() -> crate::pure::model::Significance {
    crate::pure::model::Significance::Minor
}
fn default_alert_timeout_secs() -> u64 {
    20
}
fn default_max_attempts() -> u32 {
    8
}
fn default_backoff_secs() -> u64 {
    60
}
fn default_max_backoff_secs() -> u64 {
    6 * 3600
}
fn default_max_per_hour() -> u32 {
    30
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

impl WatchEntry {
    /// This watch's own extraction rules, compiled.
    pub fn extract_options(
        &self,
    ) -> Result<crate::pure::extract::Options, crate::pure::extract::OptionsError> {
        crate::pure::extract::Options::new(self.select.as_deref(), &self.ignore, &self.ignore_text)
    }
}

impl FeedEntry {
    /// The extraction rules of this feed's articles, compiled.
    pub fn extract_options(
        &self,
    ) -> Result<crate::pure::extract::Options, crate::pure::extract::OptionsError> {
        crate::pure::extract::Options::new(self.select.as_deref(), &self.ignore, &self.ignore_text)
    }
}

/// The text in the file that an extraction-rule error points at.
fn rule_needle(e: &crate::pure::extract::OptionsError) -> &str {
    match e {
        crate::pure::extract::OptionsError::Selector { selector } => selector,
        crate::pure::extract::OptionsError::Regex { pattern, .. } => pattern,
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        let inline_secret = config.alerts.iter().any(|a| {
            a.password.is_some() && a.password_file.is_none() && a.password_env.is_none()
                || a.secret.is_some() && a.secret_file.is_none() && a.secret_env.is_none()
        });
        // A secret written in the file is only as safe as the file.
        if inline_secret && let Some(mode) = secret::readable_by_others(path) {
            config.warnings.push(format!(
                "{} holds a password or secret and can be read by other users (mode {mode:o}): \
                 chmod 600 it, or move the secret to password_file/secret_file or the environment",
                path.display()
            ));
        }
        for warning in &config.warnings {
            tracing::warn!(file = %path.display(), "{warning}");
        }
        Ok(config)
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
        let mut config = config;
        config.resolve_secrets(text, path)?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// Reads each secret given by `*_file` or `*_env` into its field. At most one source per
    /// secret. Errors name the file or variable, never a value.
    fn resolve_secrets(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let config_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        for (index, alert) in self.alerts.iter_mut().enumerate() {
            let anchor = nth_alert_offset(text, index).unwrap_or(0);
            let err = |message: String| {
                let (line, column) = line_and_column(text, anchor);
                ConfigError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    message: format!("alert {:?}: {message}", alert.name),
                }
            };
            let resolve = |key: &str,
                           inline: bool,
                           file: &Option<PathBuf>,
                           env: &Option<String>|
             -> Result<Option<Secret>, String> {
                let sources =
                    usize::from(inline) + usize::from(file.is_some()) + usize::from(env.is_some());
                if sources > 1 {
                    return Err(format!("give {key}, {key}_file or {key}_env, not several"));
                }
                if let Some(file) = file {
                    let p = secret::file_path(file, &config_dir, credentials.as_deref());
                    return secret::from_file(&p).map(Some).map_err(|e| e.to_string());
                }
                if let Some(name) = env {
                    return secret::from_env(name).map(Some).map_err(|e| e.to_string());
                }
                Ok(None)
            };
            if let Some(v) = resolve(
                "password",
                alert.password.is_some(),
                &alert.password_file,
                &alert.password_env,
            )
            .map_err(err)?
            {
                alert.password = Some(v);
            }
            if let Some(v) = resolve(
                "secret",
                alert.secret.is_some(),
                &alert.secret_file,
                &alert.secret_env,
            )
            .map_err(err)?
            {
                alert.secret = Some(v);
            }
            if let Some(v) =
                resolve("url", alert.url.is_some(), &alert.url_file, &alert.url_env).map_err(err)?
            {
                alert.url = Some(v.expose().trim().to_string());
            }
        }
        for watch in &mut self.watches {
            let (line, column) = line_and_column(text, text.find(&watch.url).unwrap_or(0));
            let err = |message: String| ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: format!("watch {}: {message}", secret::redact_url(&watch.url, false)),
            };
            let text = match (&watch.headers_file, &watch.headers_env) {
                (Some(_), Some(_)) => {
                    return Err(err("give headers_file or headers_env, not both".into()));
                }
                (Some(file), None) => {
                    let p = secret::file_path(file, &config_dir, credentials.as_deref());
                    let v = secret::from_file(&p).map_err(|e| err(e.to_string()))?;
                    let what = format!("headers_file {}", p.display());
                    (v, what)
                }
                (None, Some(name)) => {
                    let v = secret::from_env(name).map_err(|e| err(e.to_string()))?;
                    (v, format!("headers_env {name}"))
                }
                (None, None) => continue,
            };
            watch.headers =
                parse_header_lines(text.0.expose()).map_err(|m| err(format!("{}: {m}", text.1)))?;
        }
        Ok(())
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
            if let Err(e) = crate::net::fetch::parse_watch_url(&watch.url) {
                return Err(invalid(&watch.url, e.to_string()));
            }
            if let Some(s) = &watch.schedule
                && let Err(e) = s.parse::<crate::pure::scheduler::Cadence>()
            {
                return Err(invalid(s, e.to_string()));
            }
            if let Err(e) = watch.extract_options() {
                return Err(invalid_rule(text, path, &e));
            }
        }
        for feed in &self.feed_entries {
            if let Err(e) = crate::net::fetch::parse_watch_url(&feed.url) {
                return Err(invalid(&feed.url, e.to_string()));
            }
            if let Some(s) = &feed.schedule
                && let Err(e) = s.parse::<crate::pure::scheduler::Cadence>()
            {
                return Err(invalid(s, e.to_string()));
            }
            if let Err(e) = feed.extract_options() {
                return Err(invalid_rule(text, path, &e));
            }
        }
        if let Some(s) = &self.ledger.publish
            && let Err(e) = s.parse::<crate::pure::scheduler::Cadence>()
        {
            return Err(invalid(s, e.to_string()));
        }
        for u in self.ledger.witnesses.iter().chain(&self.ledger.tsa_url) {
            if let Err(e) = url::Url::parse(u) {
                return Err(invalid(u, format!("bad URL {u:?}: {e}")));
            }
        }
        for s in [&self.schedule.default, &self.feeds.schedule] {
            if let Err(e) = s.parse::<crate::pure::scheduler::Cadence>() {
                return Err(invalid(s, e.to_string()));
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
        if self.politeness.breaker_failures == 0 {
            return Err(invalid(
                "breaker_failures",
                "breaker_failures must be at least 1".into(),
            ));
        }
        if self.detect.gone_after == 0 {
            return Err(invalid(
                "gone_after",
                "gone_after must be at least 1".into(),
            ));
        }
        for hash in &self.server.token_sha256 {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(
                    hash,
                    "token_sha256 entries must be 64 hex digits (see `stet server token`)".into(),
                ));
            }
        }
        if let Some(listen) = &self.server.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(invalid(
                listen,
                format!("server listen {listen:?} is not an address like 127.0.0.1:8480"),
            ));
        }
        self.validate_alerts(text, path)?;
        Ok(())
    }

    fn validate_alerts(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for (index, alert) in self.alerts.iter().enumerate() {
            // Point at this entry's `name = "..."` line when it can be found.
            let needle = format!("\"{}\"", alert.name);
            let anchor = nth_alert_offset(text, index)
                .and_then(|start| text[start..].find(&needle).map(|o| start + o))
                .unwrap_or(0);
            let err = |message: String| {
                let (line, column) = line_and_column(text, anchor);
                ConfigError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    message: with_source_line(
                        &format!("alert {:?}: {message}", alert.name),
                        text,
                        line,
                    ),
                }
            };
            if let Err(problem) = crate::notify::check_sink(alert) {
                return Err(err(problem));
            }
            if !names.insert(alert.name.as_str()) {
                return Err(err("another [[alert]] has this name".into()));
            }
        }
        Ok(())
    }
}

/// An extraction rule that does not parse, pointing at the line that holds it.
fn invalid_rule(text: &str, path: &Path, e: &crate::pure::extract::OptionsError) -> ConfigError {
    let needle = rule_needle(e);
    // The rule as written in TOML: find it quoted (basic or literal string) first.
    let offset = [
        format!("\"{}\"", needle.replace('\\', "\\\\").replace('"', "\\\"")),
        format!("'{needle}'"),
    ]
    .iter()
    .find_map(|quoted| text.find(quoted.as_str()))
    .or_else(|| text.find(needle))
    .unwrap_or(0);
    let (line, column) = line_and_column(text, offset);
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        column,
        message: with_source_line(&e.to_string(), text, line),
    }
}

/// Byte offset of the `index`-th `[[alert]]` header, if the text has it.
fn nth_alert_offset(text: &str, index: usize) -> Option<usize> {
    text.match_indices("[[alert]]").nth(index).map(|(o, _)| o)
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
    fn extraction_rules_are_read_and_checked_with_their_line() {
        let ok = parse(
            "[[watch]]\nurl = \"https://n.example/a\"\nselect = \"article.story\"\nignore = [\".promo\", \"#live-ticker\"]\nignore_text = ['^Read more:']\n",
        )
        .unwrap();
        let rules = ok.watches[0].extract_options().unwrap();
        assert_eq!(rules.select.as_deref(), Some("article.story"));
        assert_eq!(rules.ignore.len(), 2);
        assert!(rules.ignore_text[0].is_match("Read more: the budget"));

        let err = parse(
            "[[watch]]\nurl = \"https://n.example/a\"\n\n[[watch]]\nurl = \"https://n.example/b\"\nignore = [\"div[\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("stet.toml:6:"), "{err}");
        assert!(err.contains("invalid CSS selector \"div[\""), "{err}");

        let err =
            parse("[[feed]]\nurl = \"https://n.example/feed.xml\"\nignore_text = ['(unclosed']\n")
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("stet.toml:3:"), "{err}");
        assert!(err.contains("invalid regular expression"), "{err}");
    }

    #[test]
    fn bad_schedule_names_its_line() {
        let err = parse("[schedule]\ndefault = \"every sometimes\"\n").unwrap_err();
        assert!(err.to_string().starts_with("stet.toml:2:"), "{err}");
    }

    #[test]
    fn age_curve_and_durations_parse() {
        let c = parse(
            "[schedule]\nage_curve = [{ until = \"1d\", every = \"15m\" }, { every = \"7d\" }]\nwatch_for = \"90d\"\n",
        )
        .unwrap();
        assert_eq!(c.schedule.age_curve.len(), 2);
        assert_eq!(c.schedule.watch_for, Some(Duration::from_secs(90 * 86400)));
    }

    #[test]
    fn example_alert_sinks_parse_when_uncommented() {
        let start = EXAMPLE.find("# [[alert]]").expect("an alert example");
        let uncommented: String = EXAMPLE[start..]
            .lines()
            .filter(|l| l.starts_with("# ") && !l.starts_with("#  "))
            .map(|l| format!("{}\n", &l[2..]))
            .filter(|l| l.starts_with("[[alert]]") || l.contains(" = "))
            .collect();
        let config = parse(&uncommented).unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        let kinds: Vec<&str> = config.alerts.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds, ["webhook", "slack", "email", "command"]);
    }

    #[test]
    fn contact_is_appended_to_user_agent() {
        let config =
            parse("[fetch]\nuser_agent = \"x/1\"\ncontact = \"ops@example.org\"\n").unwrap();
        assert_eq!(config.fetch.user_agent_header(), "x/1 (+ops@example.org)");
    }
}
