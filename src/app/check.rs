//! One pass of checks: fetch every target, extract and fingerprint what came back, classify it
//! against the archive and record it.
//!
//! Owns the pipeline between the shells: concurrent fetches (through `polite`'s global and
//! per-host limits), extraction on blocking threads, and one writer thread that owns the write
//! connection and commits outcomes in small batches. A failing URL is reported and the pass goes
//! on. A check its host's pause does not allow is `deferred`: it is not an observation, so it
//! never reaches classification; only the watch's next due time moves to the pause's end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Config;
use crate::net::fetch::{AddressPolicy, Fetcher, Payload, Validators};
use crate::net::polite::{Health, Politeness};
use crate::pure::budget;
use crate::pure::classify::{self, GoneReason, Observation, Policy};
use crate::pure::extract;
use crate::pure::fingerprint::Fingerprint;
use crate::pure::model::{
    BodyHash, CheckKind, ContentHash, Sha256Hash, Significance, VersionSeq, WatchId, now_rfc3339,
};
use crate::pure::scheduler::{self, Cadence, DueInput, Next, SchedulePolicy};
use crate::pure::wall;
use crate::store::{Capture, CheckRecord, CheckTarget, ChunkIndex, Location, PackedBody, Store};

/// How many checks of a pass wait for their host at once, at most (each holds about 1.6 KB
/// while it waits). Beyond it, a pass over more targets of one slowed host than this could
/// hold back the others.
const MAX_WAITING: usize = 4096;

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
    /// For a `deferred` check: when the watch is due again (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// The kind of wall the page put in front of the article (`paywall`, `registration`,
    /// `consent`): on a `blocked` check, and on a version stored from a walled page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall: Option<&'static str>,
}

/// Counts of a finished pass.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassSummary {
    pub checked: usize,
    pub by_kind: HashMap<String, usize>,
    /// The pass was stopped before every target was checked.
    pub interrupted: bool,
    /// Checks not made because their host asked for a pause that outlasts the pass.
    pub deferred: usize,
    /// The latest time a deferred check is due again (RFC 3339).
    pub deferred_until: Option<String>,
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
    /// What the response said about the host's health, for the breaker.
    health: Option<Health>,
    /// Not checked: the host's pause ends at this time.
    deferred: Option<DateTime<Utc>>,
    schedule: Option<String>,
    born: Option<String>,
    /// The raw body of a page that was fetched but not parsed (`too_complex`), kept as served.
    unparsed: Option<(BodyHash, Vec<u8>)>,
    /// The response's Content-Type, to decode the latest stored body alike when it must be
    /// re-extracted.
    content_type: Option<String>,
    /// The watch's own extraction rules.
    rules: Arc<extract::Options>,
    /// The page's wall signs, when it has any: judged against the latest version's text by
    /// the writer.
    wall_signs: Option<wall::Signs>,
}

impl Probe {
    /// Forgets what an attempt saw, before the next attempt.
    fn reset(&mut self) {
        self.http_status = None;
        self.observation = Observation::Failed(String::new());
        self.capture = None;
        self.validators = None;
        self.retry_after = None;
        self.health = None;
        self.wall_signs = None;
    }

    /// The check is not made: the host asked for a pause that lasts `wait` more.
    fn defer(&mut self, wait: Duration, why: &str) {
        let status = self.http_status;
        self.reset();
        self.http_status = status;
        self.deferred = Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default());
        self.observation = Observation::Failed(why.to_string());
    }
}

/// Attempts of one check that a 429 may take within a pass (each after the host's pause).
const MAX_THROTTLED_ATTEMPTS: usize = 3;

/// Everything a pass needs that outlives one pass: HTTP clients, per-host politeness state and
/// the rules. The daemon keeps one; the CLI makes one per command.
pub struct Checker {
    fetcher: Fetcher,
    /// For URLs that came from feeds: internal addresses refused.
    untrusted: Fetcher,
    polite: Politeness,
    policy: Policy,
    schedule: SchedulePolicy,
    robots: bool,
    /// A host's pause ending within this long is waited out; a longer one defers the check.
    pause_wait: Duration,
    /// Extraction is CPU-bound: one page per core at a time keeps parsed documents (tens of
    /// megabytes for a large page) from piling up in memory.
    extract_slots: tokio::sync::Semaphore,
    /// The alert sinks whose outbox rows are written with each event.
    alert_routes: Vec<crate::notify::AlertRoute>,
    /// Extraction rules of `[[watch]]` entries that have any, by watch URL.
    watch_rules: HashMap<String, Arc<extract::Options>>,
    /// Extraction rules of `[[feed]]` entries that have any, by feed URL: they apply to the
    /// articles the feed found.
    feed_rules: HashMap<String, Arc<extract::Options>>,
    /// Request headers of `[[watch]]` entries that give a way in past a wall, by watch URL.
    watch_headers: HashMap<String, Arc<Vec<(String, crate::pure::secret::Secret)>>>,
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
                config.fetch.concurrency,
                config.fetch.per_host,
                config.politeness.min_delay,
                config.politeness.slowdown(),
                &config.fetch.user_agent,
            ),
            policy: Policy {
                gone_after: config.detect.gone_after,
            },
            schedule: config.schedule.policy(),
            robots: config.politeness.robots,
            pause_wait: config.politeness.pause_wait,
            extract_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            alert_routes: crate::notify::routes(&config.alerts),
            watch_rules: rules_by_url(
                config.watches.iter().map(|w| (&w.url, w.extract_options())),
            )?,
            feed_rules: rules_by_url(
                config
                    .feed_entries
                    .iter()
                    .map(|f| (&f.url, f.extract_options())),
            )?,
            watch_headers: config
                .watches
                .iter()
                .filter(|w| !w.headers.is_empty())
                .map(|w| (w.url.clone(), Arc::new(w.headers.clone())))
                .collect(),
        })
    }

    /// The extraction rules for one target: its `[[watch]]` entry's, or else those of the
    /// `[[feed]]` it came from.
    fn rules_for(
        &self,
        target: &CheckTarget,
        feed_of: &HashMap<WatchId, String>,
    ) -> Arc<extract::Options> {
        self.watch_rules
            .get(&target.url)
            .or_else(|| feed_of.get(&target.id).and_then(|f| self.feed_rules.get(f)))
            .cloned()
            .unwrap_or_default()
    }

    /// The client for trusted URLs (the config's, the CLI's, feeds' own URLs).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn politeness(&self) -> &Politeness {
        &self.polite
    }

    /// A checker for the daemon: a slowed host's checks that would wait in its queue longer
    /// than `pause_wait` are deferred to their turn instead, so that no pass waits on one slow
    /// host while others are due.
    pub fn for_daemon(config: &Config) -> anyhow::Result<Self> {
        let mut checker = Self::new(config)?;
        checker
            .polite
            .defer_slow_queues_after(config.politeness.pause_wait);
        Ok(checker)
    }

    /// Waits out a host's pause within a pass when it ends within `wait` (`check --wait`),
    /// instead of deferring the check.
    pub fn wait_pauses_up_to(&mut self, wait: Duration) {
        self.pause_wait = self.pause_wait.max(wait);
    }
}

/// The rules of the entries that have any, keyed by the URL as the archive stores it.
fn rules_by_url<'a>(
    entries: impl Iterator<Item = (&'a String, Result<extract::Options, extract::OptionsError>)>,
) -> anyhow::Result<HashMap<String, Arc<extract::Options>>> {
    let mut out = HashMap::new();
    for (url, rules) in entries {
        let rules = rules?;
        if rules.is_empty() {
            continue;
        }
        let url = crate::net::fetch::parse_watch_url(url)?.to_string();
        out.insert(url, Arc::new(rules));
    }
    Ok(out)
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
        let (probe_tx, probe_rx) = mpsc::channel::<Probe>(MAX_BATCH * 2);
        let (report_tx, mut report_rx) = mpsc::unbounded_channel::<CheckReport>();
        let writer = spawn_writer(
            db_path.to_owned(),
            self.policy,
            self.schedule.clone(),
            self.alert_routes.clone(),
            probe_rx,
            report_tx,
        )?;

        let feed_of = if self.feed_rules.is_empty() {
            HashMap::new()
        } else {
            Store::open(db_path)?.feed_urls_of_watches()?
        };
        let produce = {
            let shutdown = shutdown.clone();
            let feed_of = &feed_of;
            async move {
                let probes = futures_util::stream::iter(targets)
                    .take_until(shutdown.clone().cancelled_owned())
                    .map(|target| {
                        let shutdown = shutdown.clone();
                        let rules = self.rules_for(&target, feed_of);
                        async move {
                            tokio::select! {
                                p = self.probe(target, rules, db_path) => Some(p),
                                _ = shutdown.cancelled() => None,
                            }
                        }
                    })
                    // Targets wait for their host first (`polite` then takes a global slot),
                    // so a slowed or paused host never holds back the others.
                    .buffer_unordered(total.clamp(1, MAX_WAITING));
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
                if report.kind == CheckKind::Deferred {
                    summary.deferred += 1;
                    if report.retry_at > summary.deferred_until {
                        summary.deferred_until = report.retry_at.clone();
                    }
                }
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
    async fn probe(
        &self,
        target: CheckTarget,
        rules: Arc<extract::Options>,
        db_path: &Location,
    ) -> Probe {
        let mut probe = Probe {
            watch_id: target.id,
            url: target.url.clone(),
            at: now_rfc3339(),
            http_status: None,
            observation: Observation::Failed(String::new()),
            capture: None,
            validators: None,
            retry_after: None,
            health: None,
            deferred: None,
            schedule: target.schedule.clone(),
            born: target.born.clone(),
            unparsed: None,
            content_type: None,
            rules,
            wall_signs: None,
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
        let mut attempts = 0;
        loop {
            let permit = match self.polite.acquire(&url, self.pause_wait).await {
                Ok(p) => p,
                Err(busy) => {
                    probe.defer(busy.wait(), &busy.to_string());
                    return probe;
                }
            };
            if attempts == 0
                && target.robots.unwrap_or(self.robots)
                && !Box::pin(self.polite.robots_allow(fetcher, &url)).await
            {
                probe.observation = Observation::Failed("robots: disallowed by robots.txt".into());
                return probe;
            }
            attempts += 1;
            probe.reset();
            probe.at = now_rfc3339();
            // Boxed: the future of every target waits in the pass at once, so the waiting
            // part stays small.
            Box::pin(fetch_and_read(
                fetcher,
                self.watch_headers
                    .get(&target.url)
                    .map_or(&[][..], |h| h.as_slice()),
                &self.extract_slots,
                db_path,
                &target,
                &url,
                &mut probe,
            ))
            .await;
            // Reported before the slot is freed, so that no request starts before a pause.
            if let Some(health) = probe.health {
                self.polite.report(&url, health);
            }
            drop(permit);
            if probe.http_status != Some(429) {
                return probe;
            }
            // Too many requests: not an observation of the article. Tried again after the
            // host's pause when it ends within the pass, else deferred.
            let wait = probe.retry_after.unwrap_or(self.schedule.backoff_base);
            if attempts >= MAX_THROTTLED_ATTEMPTS {
                probe.defer(wait, "the host answered 429 too many requests");
                return probe;
            }
        }
    }
}

/// Fetches one target and reduces the response to an observation (and a capture, when an
/// article was read).
async fn fetch_and_read(
    fetcher: &Fetcher,
    headers: &[(String, crate::pure::secret::Secret)],
    extract_slots: &tokio::sync::Semaphore,
    db_path: &Location,
    target: &CheckTarget,
    original: &Url,
    probe: &mut Probe,
) {
    let response = match fetcher
        .fetch_with(&target.url, &target.validators, headers)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(url = %target.url, error = %e, "fetch failed");
            use crate::net::fetch::FetchError as E;
            if matches!(e, E::Timeout | E::Reset | E::Connect(_) | E::Truncated(_)) {
                probe.health = Some(Health::Failed);
            }
            probe.observation = Observation::Failed(format!("{}: {e}", e.code()));
            return;
        }
    };
    probe.http_status = Some(response.status);
    let server_error = (500..600).contains(&response.status);
    // A Retry-After on a 5xx is honoured for this URL alone (the scheduler); on a 429 the
    // host is paused too (`polite`).
    probe.retry_after = response
        .retry_after
        .filter(|_| response.status == 429 || server_error);
    probe.health = Some(match response.status {
        429 => Health::Throttled(probe.retry_after),
        _ if server_error => Health::Failed,
        _ => Health::Answered,
    });
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
    probe.content_type = content_type.clone();
    let final_url = response.final_url.clone();
    let slot = extract_slots.acquire().await;
    let db_path = db_path.to_owned();
    let rules = probe.rules.clone();
    // Kept in case the extraction runs out of time: the body is archived all the same.
    let served = body.clone();
    let analysing = tokio::task::spawn_blocking(move || {
        analyse(
            body,
            body_hash,
            content_type.as_deref(),
            final_url,
            &rules,
            &db_path,
        )
    });
    // The shape budget refuses the pages known to be costly before they are parsed; the time
    // limit is the backstop for any shape it does not foresee. A page over it is left to finish
    // on its thread (threads cannot be stopped) while the pass goes on without it.
    let analysed = match tokio::time::timeout(budget::TIME_LIMIT, analysing).await {
        Ok(result) => result,
        Err(_) => {
            drop(slot);
            probe.validators = None;
            tracing::warn!(url = %target.url, limit_secs = budget::TIME_LIMIT.as_secs(), "extraction over its time limit");
            probe.observation = Observation::Failed(format!(
                "too_complex: extraction took longer than {}s",
                budget::TIME_LIMIT.as_secs()
            ));
            probe.unparsed = Some((body_hash, served));
            return;
        }
    };
    drop(slot);
    drop(served);
    match analysed {
        Ok(Analysis::TooComplex { reason, body }) => {
            probe.validators = None;
            tracing::warn!(url = %target.url, reason = %reason, "page over the extraction budget");
            probe.observation = Observation::Failed(format!("too_complex: {reason}"));
            probe.unparsed = Some((body_hash, body));
        }
        Ok(Analysis::Article(capture, signs)) => {
            probe.wall_signs = signs;
            probe.observation = Observation::Article {
                content_hash: capture.content_hash,
                loose_hash: capture.loose_hash,
                matches_earlier: None,
                metadata: classify::Metadata {
                    byline: capture.byline.clone(),
                    published: capture.published.clone(),
                    modified: capture.modified.clone(),
                },
                wall: None,
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
    /// The article, and the page's wall signs when it has any.
    Article(Box<Capture>, Option<wall::Signs>),
    /// Over the extraction budget: not parsed; the body is kept as served.
    TooComplex {
        reason: budget::TooComplex,
        body: Vec<u8>,
    },
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
    rules: &extract::Options,
    db_path: &Location,
) -> Analysis {
    let html = extract::decode(&body, content_type);
    let article = match budget::extract_within(&html, &final_url, rules, &budget::Budget::default())
    {
        Ok(article) => article,
        Err(reason) => return Analysis::TooComplex { reason, body },
    };
    if article.looks_not_found {
        return Analysis::NotFound;
    }
    if article.paragraphs.is_empty() && article.title.trim().is_empty() {
        return Analysis::Empty;
    }
    let fp = Fingerprint::of(&article);
    let signs = Some(wall::scan(&html)).filter(wall::Signs::any);
    let packed = with_chunk_index(db_path, |index| {
        PackedBody::pack(&body, |k| index.is_some_and(|i| i.contains(k))).ok()
    });
    let text_zstd = crate::store::compress_text(&fp.canonical_text).ok();
    Analysis::Article(
        Box::new(Capture {
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
        }),
        signs,
    )
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
                if let Some(retry_at) = probe.deferred {
                    // Not an observation: nothing but the watch's due time is written.
                    let now = parse_time(&probe.at).unwrap_or_else(Utc::now);
                    let next =
                        scheduler::deferred_until(&schedule, probe.watch_id.0, now, retry_at);
                    let next_at = next.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    let version = tx.defer(probe.watch_id, &next_at)?;
                    let detail = match probe.observation {
                        Observation::Failed(why) => Some(why),
                        _ => None,
                    };
                    out.push(CheckReport {
                        url: probe.url,
                        kind: CheckKind::Deferred,
                        version,
                        content_hash: None,
                        http_status: probe.http_status,
                        at: probe.at,
                        significance: None,
                        reverted_to: None,
                        detail,
                        title: None,
                        retry_at: Some(next_at),
                        wall: None,
                    });
                    continue;
                }
                let mut state = tx.state(probe.watch_id)?;
                let rebaseline = rebaseline(&tx, &probe, &mut state)?;
                if let Observation::Article {
                    content_hash,
                    matches_earlier,
                    ..
                } = &mut probe.observation
                    && state
                        .latest
                        .as_ref()
                        .is_some_and(|l| l.content_hash != *content_hash)
                {
                    // Only a changed text can be a return to an earlier one.
                    *matches_earlier = tx.earlier_match(probe.watch_id, content_hash)?;
                }
                judge_wall(&tx, &mut probe, &state)?;
                let mut decision = classify::classify(&state, &probe.observation, &policy);
                if let Some(old) = &rebaseline
                    && !decision.new_version
                    && matches!(decision.kind, CheckKind::Unchanged | CheckKind::Restored)
                {
                    // The article is unchanged; only the pipeline reads it differently now.
                    // Its text as the current pipeline reads it becomes the new baseline, as a
                    // version of its own, without an event or an alert.
                    decision.new_version = true;
                    decision.detail = Some(format!(
                        "re-baselined: extractor {} reads version {} as this text (extractor {} stored it); the article is unchanged",
                        extract::EXTRACTOR,
                        old.seq,
                        old.extractor
                    ));
                }
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
                if let Some((hash, raw)) = &probe.unparsed {
                    let reason = decision.detail.as_deref().unwrap_or("too_complex");
                    tx.keep_unparsed(probe.watch_id, &probe.at, hash, raw, reason)?;
                }
                if decision.new_version
                    && let Some(seq) = recorded.version
                {
                    tx.set_extractor(probe.watch_id, seq, extract::EXTRACTOR)?;
                }
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
                    retry_at: None,
                    wall: match &probe.observation {
                        Observation::Article { wall: Some(w), .. } => Some(w.kind.as_str()),
                        _ => None,
                    },
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

/// Judges a page with wall signs whose text differs from the latest version's: against the
/// latest version's stored text, or on its own when there is none yet. Sets the observation's
/// `wall`.
fn judge_wall(
    tx: &crate::store::Batch<'_>,
    probe: &mut Probe,
    state: &classify::WatchState,
) -> anyhow::Result<()> {
    let Some(signs) = &probe.wall_signs else {
        return Ok(());
    };
    let (
        Observation::Article {
            content_hash, wall, ..
        },
        Some(capture),
    ) = (&mut probe.observation, &probe.capture)
    else {
        return Ok(());
    };
    let paragraphs = text_paragraphs(&capture.canonical_text);
    let found = match &state.latest {
        None => wall::judge(signs, &paragraphs, None),
        Some(latest) if latest.content_hash == *content_hash => None,
        Some(_) => {
            let Some(body) = tx.latest_body(probe.watch_id)? else {
                return Ok(());
            };
            let Some(text) = &body.text else {
                return Ok(());
            };
            // Only the signs the full page did not carry tell of a wall.
            let before = wall::scan(&extract::decode(&body.raw, probe.content_type.as_deref()));
            wall::judge(
                &signs.since(&before),
                &paragraphs,
                Some(&text_paragraphs(text)),
            )
        }
    };
    if let Some(found) = &found {
        tracing::info!(url = %probe.url, wall = %found.kind, evidence = %found.evidence, "walled page");
        // The place for a counter of walled checks per kind, once metrics exist.
    }
    *wall = found;
    Ok(())
}

/// The paragraphs of a canonical text: its lines after the title line.
fn text_paragraphs(canonical: &str) -> Vec<String> {
    canonical.lines().skip(1).map(str::to_string).collect()
}

/// The latest version a changed text is compared with, when another extractor produced it.
struct Rebaseline {
    seq: VersionSeq,
    extractor: String,
}

/// When the text seen differs from the latest version's and another version of the extraction
/// pipeline produced that version, re-extracts the version's stored raw body with the current
/// pipeline and compares with that instead (`state.latest` is replaced): upgrading stet must
/// not report every article as edited.
fn rebaseline(
    tx: &crate::store::Batch<'_>,
    probe: &Probe,
    state: &mut classify::WatchState,
) -> anyhow::Result<Option<Rebaseline>> {
    let Observation::Article { content_hash, .. } = &probe.observation else {
        return Ok(None);
    };
    let Some(latest_seq) = state
        .latest
        .as_ref()
        .filter(|l| l.content_hash != *content_hash)
        .map(|l| l.seq)
    else {
        return Ok(None);
    };
    let Some(made_by) = tx.latest_extractor(probe.watch_id)? else {
        return Ok(None);
    };
    let made_by = made_by.unwrap_or_else(|| extract::LEGACY_EXTRACTOR.to_string());
    if made_by == extract::EXTRACTOR {
        return Ok(None);
    }
    let Some(body) = tx.latest_body(probe.watch_id)? else {
        return Ok(None);
    };
    let html = extract::decode(&body.raw, probe.content_type.as_deref());
    // A body stored before the shape budget existed may be over it: then it is not re-read,
    // and the check is compared with the stored text as it stands.
    let Ok(article) = budget::extract_within(
        &html,
        &body.final_url,
        &probe.rules,
        &budget::Budget::default(),
    ) else {
        return Ok(None);
    };
    let reread = Fingerprint::of(&article);
    tracing::debug!(url = %probe.url, version = body.seq.0, extractor = %made_by, "latest version re-extracted");
    // The byline and dates as the current pipeline reads them too, so a pipeline that reads
    // them differently is not a metadata change either.
    state.latest = Some(classify::Latest {
        seq: latest_seq,
        content_hash: reread.content_hash,
        loose_hash: reread.loose_hash,
        metadata: classify::Metadata {
            byline: article.byline,
            published: article.published,
            modified: article.modified,
        },
    });
    Ok(Some(Rebaseline {
        seq: body.seq,
        extractor: made_by,
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
        CheckKind::Deferred => {
            tracing::debug!(url = %r.url, retry_at = ?r.retry_at, detail = ?r.detail, "check deferred")
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target of a pass waits in it at once (for its host's slot), so what one waiting
    /// check holds must stay small: the fetch and extraction are boxed until they start.
    #[tokio::test]
    async fn a_waiting_check_holds_little_memory() {
        let checker = Checker::new(&Config::default()).unwrap();
        let target = CheckTarget {
            id: WatchId(1),
            url: "http://127.0.0.1:9/a".into(),
            validators: Validators::default(),
            latest_body_hash: None,
            origin: "cli".into(),
            schedule: None,
            robots: None,
            born: None,
        };
        let path = Location::from(std::path::PathBuf::from("unused.db"));
        let probe = checker.probe(target, Default::default(), &path);
        let size = std::mem::size_of_val(&probe);
        eprintln!("a waiting check: {size} bytes");
        assert!(size < 4096, "{size} bytes");
    }
}
