//! When each watch is next due: its schedule, spread with jitter, backed off after errors, pulled
//! forward to confirm a suspected deletion, stretched as the article ages, ended by `watch_for`.
//!
//! Pure: takes the time and the facts, returns a time. Never reads the clock or the database.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::pure::model::WatchStatus;

/// How often something is checked: a cron schedule or a fixed interval.
#[derive(Debug, Clone)]
pub enum Cadence {
    Cron(Box<cron::Schedule>),
    Every(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid schedule {input:?}: {reason} (use a crontab line like \"*/15 * * * *\", @hourly, @daily, or \"every 30m\")"
)]
pub struct ScheduleError {
    pub input: String,
    pub reason: String,
}

impl FromStr for Cadence {
    type Err = ScheduleError;

    /// Accepts what people write: 5-field crontab lines (`*/15 * * * *`), the cron crate's
    /// 6- and 7-field forms with seconds, `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`, and
    /// `every 15m` (any humantime duration).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        let err = |reason: String| ScheduleError {
            input: input.to_string(),
            reason,
        };
        if let Some(every) = s.strip_prefix("every ") {
            let d = humantime::parse_duration(every.trim()).map_err(|e| err(e.to_string()))?;
            if d < Duration::from_secs(1) {
                return Err(err("the interval must be at least one second".into()));
            }
            return Ok(Self::Every(d));
        }
        let expr = match s.split_whitespace().count() {
            5 => format!("0 {s}"),
            _ => s.to_string(),
        };
        let schedule = cron::Schedule::from_str(&expr).map_err(|e| err(e.to_string()))?;
        Ok(Self::Cron(Box::new(schedule)))
    }
}

impl Cadence {
    /// The first time after `now` this cadence fires.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Every(d) => now + *d,
            Self::Cron(s) => s
                .after(&now)
                .next()
                .unwrap_or_else(|| now + chrono::Duration::days(365)),
        }
    }

    /// The typical gap between two firings, which bounds the jitter.
    pub fn period(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Self::Every(d) => *d,
            Self::Cron(s) => {
                let mut it = s.after(&now);
                match (it.next(), it.next()) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(3600)),
                    _ => Duration::from_secs(3600),
                }
            }
        }
    }
}

/// One step of the age curve: while the article is younger than `until`, check it `every`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AgeStep {
    /// Age limit of this step (`"1d"`); the last step may leave it out to mean "from then on".
    #[serde(default, with = "humantime_serde_opt")]
    pub until: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub every: Duration,
}

/// The scheduling rules, from `[schedule]`.
#[derive(Debug, Clone)]
pub struct SchedulePolicy {
    pub default: Cadence,
    /// At most this much is added to a due time, spread by watch so that a thousand watches
    /// on one schedule do not fire in the same second. Never more than a tenth of the period.
    pub jitter: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// After a first "gone" observation, the confirmation check comes this soon.
    pub confirm_after: Duration,
    pub age_curve: Vec<AgeStep>,
    /// Stop watching an article this long after it was published (or first captured).
    pub watch_for: Option<Duration>,
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        Self {
            default: Cadence::Every(Duration::from_secs(3600)),
            jitter: Duration::from_secs(300),
            backoff_base: Duration::from_secs(60),
            backoff_max: Duration::from_secs(6 * 3600),
            confirm_after: Duration::from_secs(300),
            age_curve: Vec::new(),
            watch_for: None,
        }
    }
}

/// The facts about one watch after a check.
#[derive(Debug, Clone)]
pub struct DueInput<'a> {
    /// Spreads jitter: the same watch always lands at the same offset.
    pub watch_id: i64,
    pub now: DateTime<Utc>,
    /// The watch's own schedule, overriding the default and the age curve.
    pub schedule: Option<&'a Cadence>,
    /// When the article was published, or else first captured.
    pub born: Option<DateTime<Utc>>,
    pub status: WatchStatus,
    pub gone_streak: u32,
    pub error_streak: u32,
    /// The server asked us to wait (429/503 Retry-After).
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    At(DateTime<Utc>),
    /// `watch_for` has passed: stop watching.
    Retire,
}

/// When the watch is next due.
pub fn next_check(policy: &SchedulePolicy, input: &DueInput<'_>) -> Next {
    let now = input.now;
    let age = input.born.and_then(|b| (now - b).to_std().ok());
    if let (Some(limit), Some(age)) = (policy.watch_for, age)
        && age > limit
    {
        return Next::Retire;
    }
    if input.error_streak > 0 {
        let exp = input.error_streak.saturating_sub(1).min(20);
        let backoff = policy
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(policy.backoff_max);
        let wait = backoff.max(input.retry_after.unwrap_or_default());
        return Next::At(now + wait + spread(input.watch_id, policy.jitter.min(wait / 10)));
    }
    if input.gone_streak > 0 && input.status != WatchStatus::Deleted {
        return Next::At(now + policy.confirm_after);
    }
    let (due, period) = match (input.schedule, age_interval(policy, age)) {
        (Some(own), _) => (own.next_after(now), own.period(now)),
        (None, Some(every)) => (now + every, every),
        (None, None) => (policy.default.next_after(now), policy.default.period(now)),
    };
    let due = due.max(now + input.retry_after.unwrap_or_default());
    Next::At(due + spread(input.watch_id, policy.jitter.min(period / 10)))
}

/// When a deferred check is due again: when its host's pause ends, spread a little per watch
/// (by at most a tenth of the wait, and the jitter) so that a host's deferred checks do not all
/// start in the same instant.
pub fn deferred_until(
    policy: &SchedulePolicy,
    watch_id: i64,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let wait = (retry_at - now).to_std().unwrap_or_default();
    retry_at.max(now) + spread(watch_id, policy.jitter.min(wait / 10))
}

fn age_interval(policy: &SchedulePolicy, age: Option<Duration>) -> Option<Duration> {
    if policy.age_curve.is_empty() {
        return None;
    }
    let age = age.unwrap_or_default();
    let step = policy
        .age_curve
        .iter()
        .find(|s| s.until.is_none_or(|u| age < u))
        .or(policy.age_curve.last())?;
    Some(step.every)
}

/// A stable offset in `[0, window)` for a watch (a multiplicative hash of its id).
fn spread(watch_id: i64, window: Duration) -> Duration {
    let ms = window.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    let h = (watch_id as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(31);
    Duration::from_millis(h % ms)
}

/// Serde glue for `Duration` written as "15m", "1d".
pub mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

/// Serde glue for `Option<Duration>` written as "15m", "1d".
pub mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| {
            humantime::parse_duration(&s)
                .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn input(now: &str) -> DueInput<'static> {
        DueInput {
            watch_id: 7,
            now: at(now),
            schedule: None,
            born: None,
            status: WatchStatus::Live,
            gone_streak: 0,
            error_streak: 0,
            retry_after: None,
        }
    }

    fn no_jitter() -> SchedulePolicy {
        SchedulePolicy {
            jitter: Duration::ZERO,
            ..Default::default()
        }
    }

    fn due(policy: &SchedulePolicy, i: &DueInput<'_>) -> DateTime<Utc> {
        match next_check(policy, i) {
            Next::At(t) => t,
            Next::Retire => panic!("retired"),
        }
    }

    #[test]
    fn crontab_forms_people_write_are_accepted() {
        for s in [
            "*/15 * * * *",
            "0 6 * * 1-5",
            "@hourly",
            "@daily",
            "0 */5 * * * *",
            "every 30m",
        ] {
            assert!(s.parse::<Cadence>().is_ok(), "{s}");
        }
        for s in ["*/15 * *", "every soon", "@sometimes", "every 0s"] {
            assert!(s.parse::<Cadence>().is_err(), "{s}");
        }
    }

    #[test]
    fn five_field_cron_fires_on_the_minute() {
        let c: Cadence = "*/15 * * * *".parse().unwrap();
        assert_eq!(
            c.next_after(at("2026-01-01T10:07:30Z")),
            at("2026-01-01T10:15:00Z")
        );
        assert_eq!(
            c.period(at("2026-01-01T10:07:30Z")),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn default_cadence_applies_without_a_schedule() {
        let i = input("2026-01-01T10:00:00Z");
        assert_eq!(due(&no_jitter(), &i), at("2026-01-01T11:00:00Z"));
    }

    #[test]
    fn own_schedule_wins() {
        let c: Cadence = "@daily".parse().unwrap();
        let mut i = input("2026-01-01T10:00:00Z");
        i.schedule = Some(Box::leak(Box::new(c)));
        assert_eq!(due(&no_jitter(), &i), at("2026-01-02T00:00:00Z"));
    }

    #[test]
    fn jitter_spreads_watches_within_a_tenth_of_the_period() {
        let policy = SchedulePolicy::default();
        let mut seen = std::collections::HashSet::new();
        for id in 0..1000 {
            let mut i = input("2026-01-01T10:00:00Z");
            i.watch_id = id;
            let t = due(&policy, &i);
            let offset = (t - at("2026-01-01T11:00:00Z")).num_milliseconds();
            assert!((0..300_000).contains(&offset), "{offset}");
            seen.insert(t.timestamp());
        }
        assert!(
            seen.len() > 250,
            "1000 watches land on {} distinct seconds",
            seen.len()
        );
        // Stable: the same watch lands on the same offset every time.
        let i = input("2026-01-01T10:00:00Z");
        assert_eq!(due(&policy, &i), due(&policy, &i));
    }

    #[test]
    fn errors_back_off_exponentially_up_to_the_cap() {
        let policy = no_jitter();
        let mut waits = Vec::new();
        for streak in 1..=12 {
            let mut i = input("2026-01-01T10:00:00Z");
            i.error_streak = streak;
            waits.push((due(&policy, &i) - i.now).num_seconds());
        }
        assert_eq!(&waits[..4], &[60, 120, 240, 480]);
        assert_eq!(*waits.last().unwrap(), 6 * 3600);
    }

    #[test]
    fn retry_after_is_respected() {
        let mut i = input("2026-01-01T10:00:00Z");
        i.error_streak = 1;
        i.retry_after = Some(Duration::from_secs(900));
        assert!((due(&no_jitter(), &i) - i.now).num_seconds() >= 900);
    }

    #[test]
    fn a_deferred_check_is_due_when_the_pause_ends() {
        let policy = SchedulePolicy::default();
        let now = at("2026-01-01T10:00:00Z");
        let end = at("2026-01-01T10:02:00Z");
        let mut seen = std::collections::HashSet::new();
        for id in 0..50 {
            let t = deferred_until(&policy, id, now, end);
            assert!(t >= end && t < end + chrono::Duration::seconds(12), "{t}");
            seen.insert(t);
        }
        assert!(seen.len() > 25, "spread: {} distinct times", seen.len());
    }

    #[test]
    fn a_first_gone_observation_is_confirmed_soon() {
        let mut i = input("2026-01-01T10:00:00Z");
        i.gone_streak = 1;
        assert_eq!(due(&no_jitter(), &i), at("2026-01-01T10:05:00Z"));
        i.status = WatchStatus::Deleted;
        assert_eq!(
            due(&no_jitter(), &i),
            at("2026-01-01T11:00:00Z"),
            "deleted: regular checks"
        );
    }

    #[test]
    fn age_curve_checks_fresh_articles_often_and_old_ones_rarely() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let policy = SchedulePolicy {
            age_curve: vec![
                AgeStep {
                    until: Some(hours(24)),
                    every: Duration::from_secs(900),
                },
                AgeStep {
                    until: Some(hours(24 * 7)),
                    every: hours(1),
                },
                AgeStep {
                    until: Some(hours(24 * 30)),
                    every: hours(24),
                },
                AgeStep {
                    until: None,
                    every: hours(24 * 7),
                },
            ],
            ..no_jitter()
        };
        let now = at("2026-03-01T00:00:00Z");
        let gap = |born: &str| {
            let mut i = input("2026-03-01T00:00:00Z");
            i.born = Some(at(born));
            (due(&policy, &i) - now).num_seconds()
        };
        assert_eq!(
            gap("2026-02-29T20:00:00Z".replace("02-29", "02-28").as_str()),
            900
        );
        assert_eq!(gap("2026-02-25T00:00:00Z"), 3600);
        assert_eq!(gap("2026-02-10T00:00:00Z"), 86400);
        assert_eq!(gap("2025-12-01T00:00:00Z"), 7 * 86400);
    }

    #[test]
    fn watch_for_retires_old_articles() {
        let policy = SchedulePolicy {
            watch_for: Some(Duration::from_secs(30 * 86400)),
            ..no_jitter()
        };
        let mut i = input("2026-03-01T00:00:00Z");
        i.born = Some(at("2026-01-01T00:00:00Z"));
        assert_eq!(next_check(&policy, &i), Next::Retire);
        i.born = Some(at("2026-02-20T00:00:00Z"));
        assert!(matches!(next_check(&policy, &i), Next::At(_)));
    }
}
