//! One pass of checks: fetch every target, extract and fingerprint what came back, classify it
//! against the archive and record it.
//!
//! Owns the pipeline between the shells: concurrent fetches (a global and a per-host limit),
//! extraction on blocking threads, and one writer thread that owns the write connection and
//! commits outcomes in small batches. A failing URL is reported and the pass goes on.

use std::collections::HashMap;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::classify::{self, GoneReason, Observation, Policy};
use crate::config::Config;
use crate::extract;
use crate::fetch::{AddressPolicy, Fetcher, Payload, Validators};
use crate::fingerprint::Fingerprint;
use crate::model::{
    BodyHash, CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchId, now_rfc3339,
};
use crate::polite::Politeness;
use crate::scheduler::{self, Cadence, DueInput, Next, SchedulePolicy};
use crate::store::{Capture, CheckRecord, CheckTarget, ChunkIndex, Location, PackedBody, Store};

/// How many outcomes the writer commits in one transaction at most.
const MAX_BATCH: usize = 64;

/// What one check concluded, as printed by `stet check` and logged by the daemon.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub url: String,
    pub kind: CheckKind,
    /// The watch's current version after this check (the new one when one was stored).
    pub version: Option<VersionSeq>,
    /// Hash of the article text seen on this check; null when no article was seen.
    pub content_hash: Option<ContentHash>,
    /// Null when no response arrived (timeout, reset, DNS, TLS).
    pub http_status: Option<u16>,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub significance: Option<Significance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverted_to: Option<VersionSeq>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// Counts of a finished pass.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassSummary {
    pub checked: usize,
    pub by_kind: HashMap<String, usize>,
    /// The pass was stopped before every target was checked.
    pub interrupted: bool,
}

/// What the fetch and extract stages learnt about one target, on its way to the writer.
struct Probe {
    watch_id: WatchId,
    url: String,
    at: String,
    http_status: Option<u16>,
    observation: Observation,
    capture: Option<Capture>,
    validators: Option<Validators>,
    retry_after: Option<Duration>,
    schedule: Option<String>,
    born: Option<String>,
}

/// Everything a pass needs that outlives one pass: HTTP clients, per-host politeness state and
/// the rules. The daemon keeps one; the CLI makes one per command.
pub struct Checker {
    fetcher: Fetcher,
    /// For URLs that came from feeds: internal addresses refused.
    untrusted: Fetcher,
    polite: Politeness,
    policy: Policy,
    schedule: SchedulePolicy,
    concurrency: usize,
    robots: bool,
    /// Extraction is CPU-bound: one page per core at a time keeps parsed documents (tens of
    /// megabytes for a large page) from piling up in memory.
    extract_slots: tokio::sync::Semaphore,
    /// The alert sinks whose outbox rows are written with each event.
    alert_routes: Vec<crate::notify::AlertRoute>,
}

impl Checker {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            fetcher: Fetcher::new(&config.fetch)?,
            untrusted: Fetcher::untrusted(
                &config.fetch,
                AddressPolicy {
                    allow_private: config.feeds.allow_private,
                    allow_hosts: config.feeds.allow_hosts.clone(),
                },
            )?,
            polite: Politeness::new(
                config.fetch.per_host,
                config.politeness.min_delay,
                &config.fetch.user_agent,
            ),
            policy: Policy {
                gone_after: config.detect.gone_after,
            },
            schedule: config.schedule.policy(),
            concurrency: config.fetch.concurrency,
            robots: config.politeness.robots,
            extract_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            alert_routes: crate::notify::routes(&config.alerts),
        })
    }

    /// The client for trusted URLs (the config's, the CLI's, feeds' own URLs).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn politeness(&self) -> &Politeness {
        &self.polite
    }
}

/// Checks `targets` once with a fresh [`Checker`]. `on_report` is called for each outcome as
/// soon as it is committed. When `shutdown` fires, no new fetch starts and those in flight are
/// abandoned; what was fetched is still recorded.
pub async fn run_pass(
    config: &Config,
    db_path: &Location,
    targets: Vec<CheckTarget>,
    shutdown: CancellationToken,
    on_report: impl FnMut(&CheckReport),
) -> anyhow::Result<PassSummary> {
    Checker::new(config)?
        .pass(db_path, targets, shutdown, on_report)
        .await
}

impl Checker {
    /// Checks `targets` once; see [`run_pass`].
    pub async fn pass(
        &self,
        db_path: &Location,
        targets: Vec<CheckTarget>,
        shutdown: CancellationToken,
        mut on_report: impl FnMut(&CheckReport),
    ) -> anyhow::Result<PassSummary> {
        let total = targets.len();
        let (probe_tx, probe_rx) = mpsc::channel::<Probe>(self.concurrency * 2);
        let (report_tx, mut report_rx) = mpsc::unbounded_channel::<CheckReport>();
        let writer = spawn_writer(
            db_path.to_owned(),
            self.policy,
            self.schedule.clone(),
            self.alert_routes.clone(),
            probe_rx,
            report_tx,
        )?;

        let produce = {
            let shutdown = shutdown.clone();
            async move {
                let probes = futures_util::stream::iter(targets)
                    .take_until(shutdown.clone().cancelled_owned())
                    .map(|target| {
                        let shutdown = shutdown.clone();
                        async move {
                            tokio::select! {
                                p = self.probe(target, db_path) => Some(p),
                                _ = shutdown.cancelled() => None,
                            }
                        }
                    })
                    .buffer_unordered(self.concurrency);
                let mut probes = std::pin::pin!(probes);
                while let Some(p) = probes.next().await {
                    let Some(p) = p else { continue };
                    if probe_tx.send(p).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
        };
        let consume = async {
            let mut summary = PassSummary::default();
            while let Some(report) = report_rx.recv().await {
                summary.checked += 1;
                *summary
                    .by_kind
                    .entry(report.kind.as_str().to_string())
                    .or_default() += 1;
                on_report(&report);
            }
            summary
        };
        let ((), mut summary) = tokio::join!(produce, consume);
        writer
            .await
            .map_err(|e| anyhow::anyhow!("writer thread failed: {e}"))??;
        summary.interrupted = summary.checked < total;
        Ok(summary)
    }

    /// Fetches one target politely and reduces the response to an observation.
    async fn probe(&self, target: CheckTarget, db_path: &Location) -> Probe {
        let mut probe = Probe {
            watch_id: target.id,
            url: target.url.clone(),
            at: now_rfc3339(),
            http_status: None,
            observation: Observation::Failed(String::new()),
            capture: None,
            validators: None,
            retry_after: None,
            schedule: target.schedule.clone(),
            born: target.born.clone(),
        };
        let Ok(url) = Url::parse(&target.url) else {
            probe.observation = Observation::Failed("invalid URL".into());
            return probe;
        };
        let fetcher = if target.origin == "feed" {
            &self.untrusted
        } else {
            &self.fetcher
        };
        let _permit = match self.polite.acquire(&url).await {
            Ok(p) => p,
            Err(wait) => {
                probe.observation = Observation::Failed(format!(
                    "deferred: the host asked to wait {}s (Retry-After)",
                    wait.as_secs()
                ));
                probe.retry_after = Some(wait);
                return probe;
            }
        };
        if target.robots.unwrap_or(self.robots) && !self.polite.robots_allow(fetcher, &url).await {
            probe.observation = Observation::Failed("robots: disallowed by robots.txt".into());
            return probe;
        }
        probe.at = now_rfc3339();
        fetch_and_read(
            fetcher,
            &self.extract_slots,
            db_path,
            &target,
            &url,
            &mut probe,
        )
        .await;
        if let Some(wait) = probe.retry_after {
            self.polite.pause(&url, wait);
        }
        probe
    }
}

/// Fetches one target and reduces the response to an observation (and a capture, when an
/// article was read).
async fn fetch_and_read(
    fetcher: &Fetcher,
    extract_slots: &tokio::sync::Semaphore,
    db_path: &Location,
    target: &CheckTarget,
    original: &Url,
    probe: &mut Probe,
) {
    let response = match fetcher.fetch(&target.url, &target.validators).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(url = %target.url, error = %e, "fetch failed");
            probe.observation = Observation::Failed(format!("{}: {e}", e.code()));
            return;
        }
    };
    probe.http_status = Some(response.status);
    probe.retry_after = response
        .retry_after
        .filter(|_| matches!(response.status, 429 | 503));
    if let Some(observation) = classify::observe_status(response.status) {
        probe.observation = observation;
        return;
    }
    let body = match response.payload {
        Payload::NotModified => {
            probe.observation = Observation::NotModified;
            return;
        }
        Payload::TooLarge { limit } => {
            probe.observation =
                Observation::Failed(format!("too_large: the body is over {limit} bytes"));
            return;
        }
        Payload::Body(body) => body,
    };
    if let Err(e) = extract::check_html(response.content_type.as_deref(), &body) {
        probe.observation = Observation::Failed(format!("not_html: {e}"));
        return;
    }
    if let Ok(final_url) = Url::parse(&response.final_url)
        && classify::redirected_away(original, &final_url)
    {
        probe.observation =
            Observation::Gone(GoneReason::RedirectedAway(response.final_url.clone()));
        return;
    }
    let body_hash = BodyHash::of(&body);
    probe.validators = Some(response.validators.clone());
    if target.latest_body_hash == Some(body_hash) {
        // Byte-identical to the stored version: nothing to parse.
        probe.observation = Observation::NotModified;
        return;
    }
    let content_type = response.content_type.clone();
    let final_url = response.final_url.clone();
    let _slot = extract_slots.acquire().await;
    let db_path = db_path.to_owned();
    let analysed = tokio::task::spawn_blocking(move || {
        analyse(
            body,
            body_hash,
            content_type.as_deref(),
            final_url,
            &db_path,
        )
    })
    .await;
    match analysed {
        Ok(Analysis::Article(capture)) => {
            probe.observation = Observation::Article {
                content_hash: capture.content_hash,
                loose_hash: capture.loose_hash,
                matches_earlier: None,
            };
            probe.capture = Some(*capture);
        }
        Ok(Analysis::NotFound) => {
            probe.validators = None;
            probe.observation = Observation::Gone(GoneReason::SoftNotFound);
        }
        Ok(Analysis::Empty) => {
            probe.validators = None;
            probe.observation = Observation::Failed("empty: no article text found".into());
        }
        Err(e) => {
            probe.validators = None;
            tracing::error!(url = %target.url, error = %e, "extraction panicked");
            probe.observation = Observation::Failed(format!("extract: {e}"));
        }
    }
}

enum Analysis {
    Article(Box<Capture>),
    NotFound,
    Empty,
}

/// Decodes, extracts and fingerprints a page, and packs it for storage (chunks not stored yet
/// are compressed here, in parallel, rather than on the one writer thread). CPU-bound: runs on
/// a blocking thread.
fn analyse(
    body: Vec<u8>,
    body_hash: BodyHash,
    content_type: Option<&str>,
    final_url: String,
    db_path: &Location,
) -> Analysis {
    let html = extract::decode(&body, content_type);
    let article = extract::extract(&html, &final_url);
    if article.looks_not_found {
        return Analysis::NotFound;
    }
    if article.paragraphs.is_empty() && article.title.trim().is_empty() {
        return Analysis::Empty;
    }
    let fp = Fingerprint::of(&article);
    let packed = with_chunk_index(db_path, |index| {
        PackedBody::pack(&body, |k| index.is_some_and(|i| i.contains(k))).ok()
    });
    let text_zstd = crate::store::compress_text(&fp.canonical_text).ok();
    Analysis::Article(Box::new(Capture {
        raw: body,
        body_hash,
        final_url,
        title: article.title,
        byline: article.byline,
        published: article.published,
        modified: article.modified,
        canonical_url: article.canonical_url,
        canonical_text: fp.canonical_text,
        content_hash: fp.content_hash,
        loose_hash: fp.loose_hash,
        packed,
        text_zstd,
    }))
}

thread_local! {
    /// Each blocking thread keeps one read-only connection for chunk look-ups.
    static CHUNK_INDEX: std::cell::RefCell<Option<(std::path::PathBuf, ChunkIndex)>> =
        const { std::cell::RefCell::new(None) };
}

fn with_chunk_index<T>(db: &Location, f: impl FnOnce(Option<&ChunkIndex>) -> T) -> T {
    // A shared archive is not asked: the writer stores whatever chunk it does not find.
    let Some(db_path) = db.sqlite_path() else {
        return f(None);
    };
    CHUNK_INDEX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(p, _)| p != db_path) {
            *slot = ChunkIndex::open(db_path)
                .ok()
                .map(|i| (db_path.to_owned(), i));
        }
        f(slot.as_ref().map(|(_, i)| i))
    })
}

/// The writer thread: owns the write connection, classifies each probe against the archive and
/// records it, committing up to [`MAX_BATCH`] outcomes per transaction.
fn spawn_writer(
    db_path: Location,
    policy: Policy,
    schedule: SchedulePolicy,
    alert_routes: Vec<crate::notify::AlertRoute>,
    mut probes: mpsc::Receiver<Probe>,
    reports: mpsc::UnboundedSender<CheckReport>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let mut store = Store::open(&db_path)?;
    store.set_alert_routes(alert_routes);
    Ok(tokio::task::spawn_blocking(move || {
        while let Some(first) = probes.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match probes.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let mut out = Vec::with_capacity(batch.len());
            let mut tx = store.batch()?;
            for mut probe in batch {
                let state = tx.state(probe.watch_id)?;
                if let Observation::Article {
                    content_hash,
                    matches_earlier,
                    ..
                } = &mut probe.observation
                    && state
                        .latest
                        .is_some_and(|l| l.content_hash != *content_hash)
                {
                    // Only a changed text can be a return to an earlier one.
                    *matches_earlier = tx.earlier_match(probe.watch_id, content_hash)?;
                }
                let decision = classify::classify(&state, &probe.observation, &policy);
                let born = probe
                    .born
                    .clone()
                    .or_else(|| probe.capture.as_ref().and_then(|c| c.published.clone()))
                    .unwrap_or_else(|| probe.at.clone());
                let next = next_due(&schedule, &probe, &decision, &born);
                let next_at = match &next {
                    Next::At(t) => Some(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                    Next::Retire => None,
                };
                let recorded = tx.record(&CheckRecord {
                    watch_id: probe.watch_id,
                    at: &probe.at,
                    http_status: probe.http_status,
                    decision: &decision,
                    capture: probe.capture.as_ref(),
                    validators: probe.validators.as_ref(),
                    next_check_at: next_at.as_deref(),
                    retire: next == Next::Retire,
                })?;
                if next == Next::Retire {
                    tracing::info!(url = %probe.url, "watch ended: the article is older than watch_for");
                }
                let seen_hash: Option<Sha256Hash> = match &probe.observation {
                    Observation::Article { content_hash, .. } => Some(*content_hash),
                    Observation::NotModified => recorded.content_hash,
                    _ => None,
                };
                out.push(CheckReport {
                    url: probe.url,
                    kind: decision.kind,
                    version: recorded.version,
                    content_hash: seen_hash,
                    http_status: probe.http_status,
                    at: probe.at,
                    significance: decision.significance,
                    reverted_to: decision.reverted_to,
                    detail: decision.detail,
                    title: probe.capture.map(|c| c.title),
                });
            }
            tx.commit()?;
            for report in out {
                log_report(&report);
                let _ = reports.send(report);
            }
        }
        Ok(())
    }))
}

/// When the watch is due again, from the schedule rules and this check's outcome.
fn next_due(
    schedule: &SchedulePolicy,
    probe: &Probe,
    decision: &classify::Decision,
    born: &str,
) -> Next {
    let now = parse_time(&probe.at).unwrap_or_else(Utc::now);
    let own: Option<Cadence> = probe.schedule.as_deref().and_then(|s| s.parse().ok());
    scheduler::next_check(
        schedule,
        &DueInput {
            watch_id: probe.watch_id.0,
            now,
            schedule: own.as_ref(),
            born: parse_time(born),
            status: decision.next.status,
            gone_streak: decision.next.gone_streak,
            error_streak: decision.next.error_streak,
            retry_after: probe.retry_after,
        },
    )
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn log_report(r: &CheckReport) {
    match r.kind {
        CheckKind::Error => {
            tracing::warn!(url = %r.url, status = ?r.http_status, detail = ?r.detail, "check failed")
        }
        CheckKind::Unchanged => tracing::debug!(url = %r.url, "unchanged"),
        kind => tracing::info!(
            url = %r.url,
            kind = kind.as_str(),
            version = ?r.version.map(|v| v.0),
            significance = ?r.significance.map(|s| s.as_str()),
            detail = ?r.detail,
            "article {kind}"
        ),
    }
}
