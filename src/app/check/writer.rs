//! The writer of a pass: the one thread that owns the write connection. It classifies each
//! probe against the archive, re-baselines texts another extractor version stored, schedules
//! the next check and records the outcome, committing up to [`MAX_BATCH`] outcomes per
//! transaction. Never fetches or extracts a live page.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::{CheckReport, Probe};
use crate::pure::budget;
use crate::pure::classify::{self, Observation, Policy};
use crate::pure::extract;
use crate::pure::fingerprint::Fingerprint;
use crate::pure::model::{CheckKind, Sha256Hash, VersionSeq};
use crate::pure::scheduler::{self, Cadence, DueInput, Next, SchedulePolicy};
use crate::pure::wall;
use crate::store::{CheckRecord, Location, Store};

/// How many outcomes the writer commits in one transaction at most.
pub(super) const MAX_BATCH: usize = 64;

/// The writer thread: owns the write connection, classifies each probe against the archive and
/// records it, committing up to [`MAX_BATCH`] outcomes per transaction.
pub(super) fn spawn(
    db_path: Location,
    policy: Policy,
    schedule: SchedulePolicy,
    alert_routes: Vec<crate::pure::alert::AlertRoute>,
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
