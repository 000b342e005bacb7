//! One pass of checks: fetch every target, extract and fingerprint what came back, classify it
//! against the archive and record it.
//!
//! Owns the pipeline between the shells: concurrent fetches (a global and a per-host limit),
//! extraction on blocking threads, and one writer thread that owns the write connection and
//! commits outcomes in small batches. A failing URL is reported and the pass goes on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::classify::{self, GoneReason, Observation, Policy};
use crate::config::Config;
use crate::extract;
use crate::fetch::{Fetcher, Payload, Validators};
use crate::fingerprint::Fingerprint;
use crate::model::{
    BodyHash, CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchId, now_rfc3339,
};
use crate::store::{Capture, CheckRecord, CheckTarget, Store};

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
}

/// Checks `targets` once. `on_report` is called for each outcome as soon as it is committed.
/// When `shutdown` fires, no new fetch starts; what was fetched is still recorded.
pub async fn run_pass(
    config: &Config,
    db_path: &Path,
    targets: Vec<CheckTarget>,
    shutdown: CancellationToken,
    mut on_report: impl FnMut(&CheckReport),
) -> anyhow::Result<PassSummary> {
    let fetcher = Fetcher::new(&config.fetch)?;
    let policy = Policy {
        gone_after: config.detect.gone_after,
    };
    let total = targets.len();
    let per_host = per_host_limits(&targets, config.fetch.per_host);
    let concurrency = config.fetch.concurrency;

    let (probe_tx, probe_rx) = mpsc::channel::<Probe>(concurrency * 2);
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<CheckReport>();
    let writer = spawn_writer(db_path.to_owned(), policy, probe_rx, report_tx)?;

    let produce = {
        let shutdown = shutdown.clone();
        async move {
            let probes = futures_util::stream::iter(targets)
                .take_until(shutdown.cancelled_owned())
                .map(|target| {
                    let fetcher = fetcher.clone();
                    let host_limit = host_of(&target.url).and_then(|h| per_host.get(&h).cloned());
                    async move {
                        let _permit = match &host_limit {
                            Some(s) => Some(s.acquire().await),
                            None => None,
                        };
                        probe(&fetcher, target).await
                    }
                })
                .buffer_unordered(concurrency);
            let mut probes = std::pin::pin!(probes);
            while let Some(p) = probes.next().await {
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

fn host_of(url: &str) -> Option<String> {
    Url::parse(url).ok()?.host_str().map(str::to_string)
}

fn per_host_limits(targets: &[CheckTarget], limit: usize) -> HashMap<String, Arc<Semaphore>> {
    targets
        .iter()
        .filter_map(|t| host_of(&t.url))
        .map(|h| (h, Arc::new(Semaphore::new(limit))))
        .collect()
}

/// Fetches one target and reduces the response to an observation (and a capture, when an
/// article was read).
async fn probe(fetcher: &Fetcher, target: CheckTarget) -> Probe {
    let at = now_rfc3339();
    let mut probe = Probe {
        watch_id: target.id,
        url: target.url.clone(),
        at,
        http_status: None,
        observation: Observation::Failed(String::new()),
        capture: None,
        validators: None,
    };
    let response = match fetcher.fetch(&target.url, &target.validators).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(url = %target.url, error = %e, "fetch failed");
            probe.observation = Observation::Failed(format!("{}: {e}", e.code()));
            return probe;
        }
    };
    probe.http_status = Some(response.status);
    if let Some(observation) = classify::observe_status(response.status) {
        probe.observation = observation;
        return probe;
    }
    let body = match response.payload {
        Payload::NotModified => {
            probe.observation = Observation::NotModified;
            return probe;
        }
        Payload::TooLarge { limit } => {
            probe.observation =
                Observation::Failed(format!("too_large: the body is over {limit} bytes"));
            return probe;
        }
        Payload::Body(body) => body,
    };
    if let Err(e) = extract::check_html(response.content_type.as_deref(), &body) {
        probe.observation = Observation::Failed(format!("not_html: {e}"));
        return probe;
    }
    if let (Ok(original), Ok(final_url)) =
        (Url::parse(&target.url), Url::parse(&response.final_url))
        && classify::redirected_away(&original, &final_url)
    {
        probe.observation =
            Observation::Gone(GoneReason::RedirectedAway(response.final_url.clone()));
        return probe;
    }
    let body_hash = BodyHash::of(&body);
    probe.validators = Some(response.validators.clone());
    if target.latest_body_hash == Some(body_hash) {
        // Byte-identical to the stored version: nothing to parse.
        probe.observation = Observation::NotModified;
        return probe;
    }
    let content_type = response.content_type.clone();
    let final_url = response.final_url.clone();
    let analysed = tokio::task::spawn_blocking(move || {
        analyse(body, body_hash, content_type.as_deref(), final_url)
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
    probe
}

enum Analysis {
    Article(Box<Capture>),
    NotFound,
    Empty,
}

/// Decodes, extracts and fingerprints a page. CPU-bound: runs on a blocking thread.
fn analyse(
    body: Vec<u8>,
    body_hash: BodyHash,
    content_type: Option<&str>,
    final_url: String,
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
    }))
}

/// The writer thread: owns the write connection, classifies each probe against the archive and
/// records it, committing up to [`MAX_BATCH`] outcomes per transaction.
fn spawn_writer(
    db_path: PathBuf,
    policy: Policy,
    mut probes: mpsc::Receiver<Probe>,
    reports: mpsc::UnboundedSender<CheckReport>,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let mut store = Store::open(&db_path)?;
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
                {
                    *matches_earlier = tx.earlier_match(probe.watch_id, content_hash)?;
                }
                let decision = classify::classify(&state, &probe.observation, &policy);
                let recorded = tx.record(&CheckRecord {
                    watch_id: probe.watch_id,
                    at: &probe.at,
                    http_status: probe.http_status,
                    decision: &decision,
                    capture: probe.capture.as_ref(),
                    validators: probe.validators.as_ref(),
                })?;
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
