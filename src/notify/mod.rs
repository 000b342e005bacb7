//! Alerts: delivering the outbox to webhooks, chat, e-mail and programs.
//!
//! Owns delivery rounds: read the due outbox rows, shape each message ([`message`], pure),
//! deliver it ([`http`], `email`, `command`), and record the attempt: sent, retried later
//! with exponential backoff ([`rules`], pure), or failed after `max_attempts`. Also owns the
//! per-sink rate limit and digests, and the daemon's notifier task. Never writes outbox rows for
//! new events (the store does, in the event's own transaction) and never touches SQL itself.
//!
//! Delivery is at least once: a crash after a receiver accepted an alert but before the attempt
//! was recorded sends it again, with the same `Idempotency-Key`.

mod command;
mod email;
pub mod http;
pub mod message;
pub mod rules;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{AlertEntry, Config, SinkKind};
use crate::pure::model::{CheckKind, now_rfc3339};
use crate::store::{DueAlert, Store};
pub use message::{Alert, AlertSource, Digest};
pub use rules::{AlertRoute, check_sink, idempotency_key, routes};

/// How often the daemon's notifier looks for due alerts.
const POLL: Duration = Duration::from_secs(2);

/// rustls needs one process-wide crypto provider (ring, as for fetching).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// One message ready to go, in every shape a sink may need.
pub struct Outgoing<'a> {
    key: &'a str,
    /// edited, deleted, restored, captured, or digest.
    event: &'a str,
    json: String,
    subject: String,
    text: String,
    html: String,
    chat_slack: String,
    chat_discord: String,
    /// ntfy tag (an emoji short code).
    tag: &'static str,
    /// ntfy click-through URL.
    click: &'a str,
}

fn outgoing_one(alert: &Alert) -> Outgoing<'_> {
    Outgoing {
        key: &alert.idempotency_key,
        event: alert.event.as_str(),
        json: serde_json::to_string(alert).unwrap_or_default(),
        subject: alert.subject(),
        text: alert.text(),
        html: alert.html(),
        chat_slack: alert.chat(true),
        chat_discord: alert.chat(false),
        tag: match alert.event {
            CheckKind::Edited => "pencil2",
            CheckKind::Deleted => "wastebasket",
            CheckKind::Restored => "recycle",
            _ => "newspaper",
        },
        click: &alert.url,
    }
}

fn outgoing_digest<'a>(digest: &'a Digest<'a>) -> Outgoing<'a> {
    Outgoing {
        key: &digest.idempotency_key,
        event: "digest",
        json: serde_json::to_string(digest).unwrap_or_default(),
        subject: digest.subject(),
        text: digest.text(),
        html: digest.html(),
        chat_slack: digest.chat(true),
        chat_discord: digest.chat(false),
        tag: "newspaper",
        click: digest.alerts.first().map_or("", |a| a.url.as_str()),
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundSummary {
    /// Alerts delivered (an alert in a digest counts once).
    pub sent: usize,
    /// Attempts that failed and will be retried.
    pub retrying: usize,
    /// Alerts that failed their last attempt (see `stet alerts list`, `stet alerts retry`).
    pub failed: usize,
    /// Alerts held back by a rate limit or a digest interval.
    pub deferred: usize,
}

impl RoundSummary {
    pub fn is_empty(&self) -> bool {
        self.sent + self.retrying + self.failed + self.deferred == 0
    }
}

/// The alerts of one sink to deliver in this round.
struct Job {
    entry: AlertEntry,
    items: Vec<(DueAlert, Alert)>,
    digest: bool,
}

type Shared = Arc<Mutex<Store>>;

/// Runs `f` on the store off the async threads.
async fn with_store<T: Send + 'static>(
    store: &Shared,
    f: impl FnOnce(&mut Store) -> crate::store::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await?;
    Ok(result?)
}

/// `now` plus `d`, in the stored time format.
fn after(d: Duration) -> String {
    let d = chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365));
    (chrono::Utc::now() + d).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Delivers every due alert once: the one-shot form (`stet alerts deliver`, end of
/// `stet check`) and each tick of the daemon's notifier. Stops early, leaving the rest
/// pending, when `shutdown` fires.
pub async fn deliver_round(
    config: &Config,
    db_path: &crate::store::Location,
    shutdown: &CancellationToken,
) -> anyhow::Result<RoundSummary> {
    install_crypto_provider();
    let store: Shared = Arc::new(Mutex::new(Store::open(db_path)?));
    let sinks = config.alerts.clone();
    let (jobs, mut summary) = with_store(&store, move |s| plan(s, &sinks)).await?;
    if jobs.is_empty() {
        return Ok(summary);
    }
    let user_agent = config.fetch.user_agent_header();
    let runs = jobs
        .into_iter()
        .map(|job| run_job(&store, job, &user_agent));
    let results = tokio::select! {
        r = futures_util::future::join_all(runs) => r,
        _ = shutdown.cancelled() => return Ok(summary),
    };
    for r in results {
        let r = r?;
        summary.sent += r.sent;
        summary.retrying += r.retrying;
        summary.failed += r.failed;
    }
    Ok(summary)
}

/// Reads the due rows and decides what this round sends: rows of sinks no longer configured
/// fail with a clear error, rate limits and digest intervals defer, the rest become jobs.
fn plan(store: &mut Store, sinks: &[AlertEntry]) -> crate::store::Result<(Vec<Job>, RoundSummary)> {
    let now = now_rfc3339();
    let mut summary = RoundSummary::default();
    let mut by_sink: BTreeMap<String, Vec<DueAlert>> = BTreeMap::new();
    for row in store.due_alerts(&now)? {
        by_sink.entry(row.sink.clone()).or_default().push(row);
    }
    let mut jobs = Vec::new();
    for (sink, mut rows) in by_sink {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let Some(entry) = sinks.iter().find(|e| e.name == sink) else {
            let error = format!("no [[alert]] named {sink:?} in the configuration");
            store.alert_failed(&ids, &now, &error, None)?;
            summary.failed += ids.len();
            continue;
        };
        if let Some(every) = entry.digest_secs
            && let Some(last) = store.last_alert_sent(&sink)?
        {
            let next = chrono::DateTime::parse_from_rfc3339(&last)
                .map(|t| t.with_timezone(&chrono::Utc) + chrono::Duration::seconds(every as i64))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_else(|_| now.clone());
            if next > now {
                store.defer_alerts(&ids, &next)?;
                summary.deferred += ids.len();
                continue;
            }
        }
        let mut allowed = usize::MAX;
        if entry.max_per_hour > 0 {
            let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
            let since = hour_ago.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let sent = store.alerts_sent_since(&sink, &since, entry.digest_secs.is_some())?;
            allowed = entry.max_per_hour.saturating_sub(sent) as usize;
        }
        let messages = if entry.digest_secs.is_some() {
            1
        } else {
            rows.len()
        };
        if allowed < messages {
            let held: Vec<i64> = if entry.digest_secs.is_some() {
                std::mem::take(&mut rows).iter().map(|r| r.id).collect()
            } else {
                rows.split_off(allowed).iter().map(|r| r.id).collect()
            };
            let wait = Duration::from_secs(3600 / u64::from(entry.max_per_hour.max(1)));
            store.defer_alerts(&held, &after(wait))?;
            summary.deferred += held.len();
            tracing::warn!(sink = %sink, held = held.len(), "alert rate limit reached; the rest wait");
        }
        if rows.is_empty() {
            continue;
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let alert = build_alert(store, &row)?;
            items.push((row, alert));
        }
        jobs.push(Job {
            entry: entry.clone(),
            items,
            digest: entry.digest_secs.is_some(),
        });
    }
    Ok((jobs, summary))
}

/// The message of one queued alert, from the archive: title, versions, and the excerpt of
/// what changed between the two texts.
fn build_alert(store: &Store, row: &DueAlert) -> crate::store::Result<Alert> {
    let metas = store.versions(row.watch_id)?;
    let meta = |seq: Option<crate::pure::model::VersionSeq>| {
        seq.and_then(|s| metas.iter().find(|m| m.seq == s))
    };
    let title = meta(row.version)
        .or(metas.last())
        .map(|m| m.title.clone())
        .unwrap_or_default();
    let captured_at = (
        meta(row.from_version).map(|m| m.captured_at.as_str()),
        meta(row.version).map(|m| m.captured_at.as_str()),
    );
    let texts = match (row.from_version, row.version) {
        (Some(from), Some(to)) => {
            let old = store.version(row.watch_id, Some(from))?;
            let new = store.version(row.watch_id, Some(to))?;
            old.zip(new).map(|(o, n)| (o.text, n.text))
        }
        _ => None,
    };
    Ok(Alert::build(&AlertSource {
        idempotency_key: &row.idempotency_key,
        sink: &row.sink,
        event: row.kind,
        url: &row.url,
        title: &title,
        from: row.from_version,
        to: row.version,
        captured_at,
        significance: row.significance,
        reverted_to: row.reverted_to,
        detail: row.detail.as_deref(),
        detected_at: &row.at,
        texts: texts.as_ref().map(|(o, n)| (o.as_str(), n.as_str())),
    }))
}

/// A sink's connection, made once per round.
enum Connection {
    Http(reqwest::Client),
    Smtp(Box<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>),
    Program,
}

impl Connection {
    fn open(entry: &AlertEntry, user_agent: &str) -> Result<Self, String> {
        Ok(match entry.kind {
            SinkKind::Email => Self::Smtp(Box::new(email::transport(entry)?)),
            SinkKind::Command => Self::Program,
            _ => Self::Http(http::client(entry, user_agent)?),
        })
    }

    async fn send(&self, entry: &AlertEntry, out: &Outgoing<'_>) -> Result<(), String> {
        match self {
            Self::Http(client) => http::deliver(client, entry, out).await,
            Self::Smtp(transport) => email::deliver(transport, entry, out).await,
            Self::Program => command::deliver(entry, out).await,
        }
    }
}

/// Delivers one sink's alerts in order. After a failure the sink's remaining alerts wait for
/// the next round, so an unreachable sink costs one timeout per round, not one per alert.
async fn run_job(store: &Shared, job: Job, user_agent: &str) -> anyhow::Result<RoundSummary> {
    let mut summary = RoundSummary::default();
    let entry = &job.entry;
    let connection = Connection::open(entry, user_agent);
    let batches: Vec<Vec<&(DueAlert, Alert)>> = if job.digest {
        vec![job.items.iter().collect()]
    } else {
        job.items.iter().map(|i| vec![i]).collect()
    };
    for (n, batch) in batches.iter().enumerate() {
        let alerts: Vec<Alert> = batch.iter().map(|(_, a)| a.clone()).collect();
        let digest = Digest::new(&entry.name, &alerts);
        let out = if job.digest {
            outgoing_digest(&digest)
        } else {
            outgoing_one(&alerts[0])
        };
        let result = match &connection {
            Ok(c) => c.send(entry, &out).await,
            Err(e) => Err(e.clone()),
        };
        let ids: Vec<i64> = batch.iter().map(|(row, _)| row.id).collect();
        match result {
            Ok(()) => {
                tracing::info!(sink = %entry.name, key = out.key, event = out.event, "alert sent");
                summary.sent += ids.len();
                with_store(store, move |s| s.alert_sent(&ids, &now_rfc3339())).await?;
            }
            Err(error) => {
                tracing::warn!(sink = %entry.name, key = out.key, error = %error, "alert not delivered");
                for (row, _) in batch {
                    let retry_at = match rules::after_failure(row.attempts, entry) {
                        rules::AfterFailure::RetryIn(d) => {
                            summary.retrying += 1;
                            Some(after(d))
                        }
                        rules::AfterFailure::GiveUp => {
                            summary.failed += 1;
                            None
                        }
                    };
                    let (id, error) = (row.id, error.clone());
                    with_store(store, move |s| {
                        s.alert_failed(&[id], &now_rfc3339(), &error, retry_at.as_deref())
                    })
                    .await?;
                }
                // The rest were claimed with this round's rows: give them back, due now, so
                // the next round takes them whichever worker or process runs it (on
                // PostgreSQL a claim would otherwise hold them until its lease ends).
                let rest: Vec<i64> = batches[n + 1..]
                    .iter()
                    .flatten()
                    .map(|(row, _)| row.id)
                    .collect();
                if !rest.is_empty() {
                    with_store(store, move |s| s.defer_alerts(&rest, &now_rfc3339())).await?;
                }
                break;
            }
        }
    }
    Ok(summary)
}

/// Checks at startup that e-mail sinks answer, and says so in the log. Never blocks: an
/// unreachable sink only makes its alerts wait and retry.
pub async fn probe_sinks(config: &Config) {
    install_crypto_provider();
    for entry in &config.alerts {
        let target = match entry.kind {
            SinkKind::Email => entry.smtp_host.clone().unwrap_or_default(),
            SinkKind::Command => entry.command.first().cloned().unwrap_or_default(),
            _ => crate::pure::secret::redact_url(entry.url.as_deref().unwrap_or_default(), true),
        };
        let result = match entry.kind {
            SinkKind::Email => email::probe(entry).await,
            SinkKind::Command => probe_program(&entry.command),
            _ => Ok(()),
        };
        match result {
            Ok(()) => {
                tracing::info!(sink = %entry.name, kind = entry.kind.as_str(), %target, "alert sink ready")
            }
            Err(error) => tracing::error!(
                sink = %entry.name,
                kind = entry.kind.as_str(),
                %error,
                "alert sink unusable: its alerts wait and retry (see `stet alerts list`)"
            ),
        }
    }
}

fn probe_program(command: &[String]) -> Result<(), String> {
    let program = command.first().ok_or("no command")?;
    let path = Path::new(program);
    if path.components().count() > 1 && !path.exists() {
        return Err(format!("{program:?} does not exist"));
    }
    Ok(())
}

/// The daemon's notifier task, running next to the check loop.
pub struct Notifier {
    task: tokio::task::JoinHandle<()>,
    config: tokio::sync::watch::Sender<Config>,
}

impl Notifier {
    /// Uses the sinks of a reloaded configuration from the next round on.
    pub fn reload(&self, config: &Config) {
        let probe_config = config.clone();
        tokio::spawn(async move { probe_sinks(&probe_config).await });
        self.config.send_replace(config.clone());
    }

    /// Waits for the task to end once `shutdown` was cancelled. A delivery in flight is
    /// abandoned; its alert stays pending for the next start.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Starts the daemon's notifier: a delivery round now (alerts left from before a restart go
/// first), then every few seconds, until `shutdown`.
pub fn spawn(
    config: Config,
    db_path: crate::store::Location,
    shutdown: CancellationToken,
) -> Notifier {
    let probe_config = config.clone();
    tokio::spawn(async move { probe_sinks(&probe_config).await });
    let (sender, configs) = tokio::sync::watch::channel(config);
    let task = tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            let config = configs.borrow().clone();
            match deliver_round(&config, &db_path, &shutdown).await {
                Ok(s) if !s.is_empty() => tracing::info!(
                    sent = s.sent,
                    retrying = s.retrying,
                    failed = s.failed,
                    deferred = s.deferred,
                    "alert round"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "alert round failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Notifier {
        task,
        config: sender,
    }
}
