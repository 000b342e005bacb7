//! Politeness toward the sites stet reads: at most `per_host` requests at once to a host, a
//! minimum delay between two requests to it, robots.txt honoured (fetched once a day per host),
//! and a slower pace for a host that says it is overloaded.
//!
//! Faults are per URL: a 5xx of one article delays only that article's next check (the
//! scheduler does that), never its host. Only site-wide signals slow a host down: a 429, or
//! failures of several distinct URLs of the host within a short window that are at least half
//! of what the host answered in it (the breaker). A slowed host gets one request at a time and
//! at least `slow_delay` between two; a 429's Retry-After also pauses it until then. A slowdown
//! ends `slow_for` after the last signal, so a host that is healthy again gets its pace back.
//! A pause longer than the caller will wait is refused with its remaining time, and the caller
//! defers the check; a slowdown alone never refuses, it only paces.
//!
//! Owns per-host state that lives as long as the daemon (or one CLI command). Never decides what
//! a response means for an article.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::net::fetch::{Fetcher, Payload, Validators};

/// How long a fetched robots.txt is trusted.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);

/// Outcomes remembered per host for the breaker, at most (the window is usually shorter).
const MAX_RECENT: usize = 1024;

/// When a host counts as overloaded and what slowing it down means (`[politeness]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slowdown {
    /// Distinct URLs of one host that must fail within `window` to trip the breaker...
    pub failures: usize,
    /// ...and the window; the failures must also be at least half of the host's outcomes in it.
    pub window: Duration,
    /// The least time between two requests to a slowed host (one at a time).
    pub delay: Duration,
    /// A slowdown lasts this long after the last 429 or breaker trip.
    pub slow_for: Duration,
}

impl Default for Slowdown {
    fn default() -> Self {
        Self {
            failures: 5,
            window: Duration::from_secs(60),
            delay: Duration::from_secs(10),
            slow_for: Duration::from_secs(600),
        }
    }
}

/// What a response said about its host's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The host answered (any status that is neither 5xx nor 429, including 404).
    Answered,
    /// 5xx, timeout, reset, refused or truncated connection: counts toward the breaker.
    Failed,
    /// 429 Too Many Requests, with the Retry-After the host sent.
    Throttled(Option<Duration>),
}

/// Why a request may not start now, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// The host asked for a pause (a 429's Retry-After) that lasts this much longer.
    #[error("the host asked to wait {}s", .0.as_secs())]
    Paused(Duration),
    /// The host is slowed down and its queue is longer than the caller waits: come back then.
    #[error("the host is slowed down; its next free turn is in {}s", .0.as_secs())]
    Slowed(Duration),
}

impl Busy {
    pub fn wait(self) -> Duration {
        match self {
            Self::Paused(d) | Self::Slowed(d) => d,
        }
    }
}

/// A request slot on a host and one of the global ones; dropping it frees both.
#[derive(Debug)]
pub struct HostPermit {
    _slot: OwnedSemaphorePermit,
    /// Held while the host is slowed: one request at a time.
    _lane: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
    _queued: Option<Queued>,
}

/// Counts a request in its slowed host's queue until dropped.
#[derive(Debug)]
struct Queued(Arc<Host>);

impl Drop for Queued {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().expect("host state lock");
        st.queued = st.queued.saturating_sub(1);
    }
}

pub struct Politeness {
    /// Requests in flight across all hosts. Taken only once the host has a slot for the
    /// request, so a slowed or paused host never holds slots another host could use.
    global: Arc<Semaphore>,
    per_host: usize,
    min_delay: Duration,
    slowdown: Slowdown,
    /// When set, a request that would wait longer than this in a slowed host's queue is refused
    /// with a time to come back (booked at the slowed pace) instead of waiting: the daemon's
    /// passes then never wait on one slow host. `None`: wait (a CLI pass).
    queue_budget: Option<Duration>,
    /// The product token matched against robots.txt groups ("stet").
    agent: String,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

#[derive(Debug)]
struct Host {
    slots: Arc<Semaphore>,
    /// One permit: a slowed host's requests queue here, one at a time.
    lane: Arc<Semaphore>,
    /// The earliest time the next request may start.
    next_start: tokio::sync::Mutex<Instant>,
    state: Mutex<HostState>,
    /// robots.txt body (None: no rules) and when it was fetched.
    robots: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
}

#[derive(Debug, Default)]
struct HostState {
    /// Requests waiting for or holding the slowed host's lane.
    queued: usize,
    /// The latest time handed out to a request refused from the slowed queue.
    booked: Option<Instant>,
    /// Retry-After of a 429: no request starts before this.
    paused_until: Option<Instant>,
    /// Slowed down until this time.
    slow_until: Option<Instant>,
    /// Recent outcomes: when, which URL, whether it failed.
    recent: VecDeque<(Instant, String, bool)>,
}

impl HostState {
    fn is_slow(&self, now: Instant) -> bool {
        self.slow_until.is_some_and(|t| t > now)
    }

    fn pause_left(&self, now: Instant) -> Option<Duration> {
        self.paused_until.filter(|t| *t > now).map(|t| t - now)
    }

    fn slow_down(&mut self, now: Instant, cfg: &Slowdown, pause: Option<Duration>) {
        let until = now + cfg.slow_for.max(pause.unwrap_or_default());
        self.slow_until = Some(self.slow_until.map_or(until, |t| t.max(until)));
        if let Some(wait) = pause {
            let until = now + wait;
            self.paused_until = Some(self.paused_until.map_or(until, |t| t.max(until)));
        }
        self.recent.clear();
    }

    /// Records one outcome; true when it trips the breaker.
    fn note(&mut self, now: Instant, cfg: &Slowdown, url: &str, failed: bool) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > cfg.window)
            || self.recent.len() >= MAX_RECENT
        {
            self.recent.pop_front();
        }
        self.recent.push_back((now, url.to_string(), failed));
        if !failed {
            return false;
        }
        let failing: HashSet<&str> = self
            .recent
            .iter()
            .filter(|(_, _, f)| *f)
            .map(|(_, u, _)| u.as_str())
            .collect();
        let failed_count = self.recent.iter().filter(|(_, _, f)| *f).count();
        failing.len() >= cfg.failures.max(1) && failed_count * 2 >= self.recent.len()
    }
}

impl Politeness {
    pub fn new(
        concurrency: usize,
        per_host: usize,
        min_delay: Duration,
        slowdown: Slowdown,
        user_agent: &str,
    ) -> Self {
        let agent = user_agent
            .split(['/', ' '])
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or("stet")
            .to_string();
        Self {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            min_delay,
            slowdown,
            queue_budget: None,
            agent,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses, rather than waits for, a place in a slowed host's queue that is more than
    /// `budget` away; see [`Politeness::acquire`].
    pub fn defer_slow_queues_after(&mut self, budget: Duration) {
        self.queue_budget = Some(budget);
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let mut hosts = self.hosts.lock().expect("hosts lock");
        hosts
            .entry(host_key(url))
            .or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.per_host)),
                    lane: Arc::new(Semaphore::new(1)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    state: Mutex::new(HostState::default()),
                    robots: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits for a free slot on the URL's host, then for a global one, then for the pacing delay
    /// since the last request there (longer while the host is slowed). A pause the host asked
    /// for is waited out when it ends within `max_wait`; otherwise `Err(remaining)` says how
    /// long it still lasts. With a queue budget, a place in a slowed host's queue further away
    /// than the budget is refused the same way, each refusal booking the next place at the
    /// slowed pace, so that the refused checks come back one by one.
    pub async fn acquire(&self, url: &Url, max_wait: Duration) -> Result<HostPermit, Busy> {
        let host = self.host(url);
        loop {
            let (pause, slow) = {
                let st = host.state.lock().expect("host state lock");
                let now = Instant::now();
                (st.pause_left(now), st.is_slow(now))
            };
            if let Some(left) = pause {
                if left > max_wait {
                    return Err(Busy::Paused(left));
                }
                tokio::time::sleep(left).await;
                continue;
            }
            let slow_pace = self.min_delay.max(self.slowdown.delay);
            let queued = if slow {
                let mut st = host.state.lock().expect("host state lock");
                let now = Instant::now();
                let ahead = slow_pace.saturating_mul(st.queued as u32);
                if let Some(budget) = self.queue_budget
                    && ahead > budget
                {
                    let base = st.booked.map_or(now + ahead, |b| b.max(now + ahead));
                    st.booked = Some(base + slow_pace);
                    return Err(Busy::Slowed(base - now));
                }
                st.queued += 1;
                Some(Queued(host.clone()))
            } else {
                None
            };
            // The lane before the slot, always in this order, so that no two requests wait for
            // each other's permit.
            let lane = if slow {
                Some(
                    host.lane
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("never closed"),
                )
            } else {
                None
            };
            let slot = host
                .slots
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            let (pause, slow) = {
                let st = host.state.lock().expect("host state lock");
                let now = Instant::now();
                (st.pause_left(now), st.is_slow(now))
            };
            if pause.is_some() || (slow && lane.is_none()) {
                // The host asked for a pause, or was slowed, while this request queued.
                continue;
            }
            let global = self
                .global
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            let mut next = host.next_start.lock().await;
            if *next > Instant::now() {
                tokio::time::sleep_until(*next).await;
            }
            let delay = if lane.is_some() {
                slow_pace
            } else {
                self.min_delay
            };
            *next = Instant::now() + delay;
            return Ok(HostPermit {
                _slot: slot,
                _lane: lane,
                _global: global,
                _queued: queued,
            });
        }
    }

    /// Records what a response said about its host. A 429 slows the host down (and pauses it
    /// for its Retry-After); a failure counts toward the breaker, which slows the host down
    /// when several distinct URLs fail at once. One failing URL never slows its host.
    pub fn report(&self, url: &Url, health: Health) {
        let host = self.host(url);
        let mut st = host.state.lock().expect("host state lock");
        let now = Instant::now();
        let tripped = match health {
            Health::Throttled(pause) => {
                tracing::info!(host = %host_key(url), retry_after = ?pause, "host asked to slow down (429)");
                st.slow_down(now, &self.slowdown, pause);
                return;
            }
            Health::Answered => st.note(now, &self.slowdown, url.as_str(), false),
            Health::Failed => st.note(now, &self.slowdown, url.as_str(), true),
        };
        if tripped {
            tracing::warn!(
                host = %host_key(url),
                failures = self.slowdown.failures,
                window = ?self.slowdown.window,
                "many URLs of one host are failing: slowing down"
            );
            st.slow_down(now, &self.slowdown, None);
        }
    }

    /// Whether the URL's host is slowed down now.
    pub fn is_slowed(&self, url: &Url) -> bool {
        let host = self.host(url);
        let st = host.state.lock().expect("host state lock");
        st.is_slow(Instant::now())
    }

    /// Whether robots.txt lets stet fetch `url`. A missing robots.txt (4xx) allows everything;
    /// an unreachable one (5xx, timeout) allows too, and is asked for again next time.
    pub async fn robots_allow(&self, fetcher: &Fetcher, url: &Url) -> bool {
        let host = self.host(url);
        let mut cached = host.robots.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < ROBOTS_TTL);
        if !fresh {
            let mut robots_url = url.clone();
            robots_url.set_path("/robots.txt");
            robots_url.set_query(None);
            let body = match fetcher
                .fetch(robots_url.as_str(), &Validators::default())
                .await
            {
                Ok(r) if (200..300).contains(&r.status) => match r.payload {
                    Payload::Body(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    _ => None,
                },
                Ok(r) if (400..500).contains(&r.status) => None,
                Ok(r) => {
                    tracing::debug!(url = %robots_url, status = r.status, "robots.txt unavailable");
                    return true;
                }
                Err(e) => {
                    tracing::debug!(url = %robots_url, error = %e, "robots.txt unreachable");
                    return true;
                }
            };
            *cached = Some((Instant::now(), body));
        }
        match cached.as_ref().and_then(|(_, body)| body.as_deref()) {
            None => true,
            Some(body) => robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(
                body,
                &self.agent,
                url.as_str(),
            ),
        }
    }
}

/// Requests are limited per scheme, host and port.
fn host_key(url: &Url) -> String {
    format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    fn polite(per_host: usize, min_delay: u64) -> Politeness {
        Politeness::new(
            8,
            per_host,
            Duration::from_secs(min_delay),
            Slowdown {
                failures: 3,
                window: Duration::from_secs(60),
                delay: Duration::from_secs(10),
                slow_for: Duration::from_secs(300),
            },
            "stet",
        )
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn agent_token_is_the_product_name() {
        let p = |ua| Politeness::new(2, 2, Duration::ZERO, Slowdown::default(), ua).agent;
        assert_eq!(p("stet/0.1 (+x)"), "stet");
        assert_eq!(p(""), "stet");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_by_the_minimum_delay() {
        let polite = polite(4, 2);
        let a = url("http://a.example/x");
        let start = Instant::now();
        for i in 0..3u64 {
            let _p = polite.acquire(&a, NO_WAIT).await.unwrap();
            assert_eq!(start.elapsed().as_secs(), 2 * i);
        }
        // Another host is not held back.
        let _p = polite
            .acquire(&url("http://b.example/x"), NO_WAIT)
            .await
            .unwrap();
        assert_eq!(start.elapsed().as_secs(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn one_failing_url_never_slows_its_host() {
        let polite = polite(4, 0);
        let bad = url("http://a.example/broken");
        for _ in 0..20 {
            polite.report(&bad, Health::Failed);
        }
        assert!(!polite.is_slowed(&bad));
        let start = Instant::now();
        let _p: Vec<_> = [
            polite
                .acquire(&url("http://a.example/1"), NO_WAIT)
                .await
                .unwrap(),
            polite
                .acquire(&url("http://a.example/2"), NO_WAIT)
                .await
                .unwrap(),
            polite.acquire(&bad, NO_WAIT).await.unwrap(),
        ]
        .into();
        assert_eq!(start.elapsed(), Duration::ZERO, "no pause, no delay");
    }

    #[tokio::test(start_paused = true)]
    async fn a_few_failures_among_many_answers_do_not_trip_the_breaker() {
        let polite = polite(4, 0);
        for i in 0..100 {
            polite.report(&url(&format!("http://a.example/ok/{i}")), Health::Answered);
            if i % 20 == 0 {
                polite.report(&url(&format!("http://a.example/bad/{i}")), Health::Failed);
            }
        }
        assert!(!polite.is_slowed(&url("http://a.example/")));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_of_several_urls_at_once_slow_the_host_then_it_recovers() {
        let polite = polite(4, 0);
        let a = |i: u32| url(&format!("http://a.example/{i}"));
        polite.report(&a(1), Health::Failed);
        polite.report(&a(2), Health::Failed);
        assert!(!polite.is_slowed(&a(0)), "two are not yet a pattern");
        polite.report(&a(3), Health::Failed);
        assert!(
            polite.is_slowed(&a(0)),
            "three distinct URLs within the window"
        );
        assert!(
            !polite.is_slowed(&url("http://b.example/")),
            "other hosts are not"
        );

        // Slowed: never refused, one at a time, 10 s apart.
        let start = Instant::now();
        for i in 0..3u64 {
            let p = polite
                .acquire(&a(10), NO_WAIT)
                .await
                .expect("never refused");
            assert_eq!(start.elapsed().as_secs(), 10 * i);
            drop(p);
        }
        // Healthy again: after slow_for without a new signal the pace comes back.
        tokio::time::advance(Duration::from_secs(301)).await;
        assert!(!polite.is_slowed(&a(0)));
        let start = Instant::now();
        let _p1 = polite.acquire(&a(11), NO_WAIT).await.unwrap();
        let _p2 = polite.acquire(&a(12), NO_WAIT).await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_beyond_the_window_do_not_trip_the_breaker() {
        let polite = polite(4, 0);
        for i in 0..10 {
            polite.report(&url(&format!("http://a.example/{i}")), Health::Failed);
            tokio::time::advance(Duration::from_secs(31)).await;
        }
        assert!(!polite.is_slowed(&url("http://a.example/")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slowed_host_gets_one_request_at_a_time() {
        let polite = Arc::new(polite(4, 0));
        let a = url("http://a.example/x");
        polite.report(&a, Health::Throttled(None));
        let first = polite.acquire(&a, NO_WAIT).await.unwrap();
        let second = {
            let (polite, a) = (polite.clone(), a.clone());
            tokio::spawn(async move { polite.acquire(&a, NO_WAIT).await.map(|_| Instant::now()) })
        };
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(!second.is_finished(), "waits while the first is in flight");
        let freed = Instant::now();
        drop(first);
        let started = second.await.unwrap().expect("never refused");
        assert!(started >= freed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pause_is_refused_with_its_remaining_time_then_waited_out() {
        let polite = polite(2, 0);
        let a = url("http://a.example/x");
        polite.report(&a, Health::Throttled(Some(Duration::from_secs(120))));
        assert_eq!(
            polite
                .acquire(&url("http://a.example/other"), NO_WAIT)
                .await
                .unwrap_err(),
            Busy::Paused(Duration::from_secs(120)),
            "every URL of the host waits for the pause"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        let start = Instant::now();
        // Within the caller's bound: waited out.
        let _p = polite.acquire(&a, Duration::from_secs(30)).await.unwrap();
        assert_eq!(start.elapsed().as_secs(), 20);
        assert!(polite.is_slowed(&a), "still slowed after the pause");
        // Another host never waited.
        let b = url("http://b.example/x");
        assert!(polite.acquire(&b, NO_WAIT).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slowed_host_never_holds_the_global_slots() {
        // One global slot; host a is slowed and has a queue of requests waiting.
        let polite = Arc::new(Politeness::new(
            1,
            4,
            Duration::ZERO,
            Slowdown::default(),
            "stet",
        ));
        let a = url("http://a.example/x");
        polite.report(&a, Health::Throttled(Some(Duration::from_secs(3))));
        let waiting: Vec<_> = (0..5)
            .map(|_| {
                let (polite, a) = (polite.clone(), a.clone());
                tokio::spawn(
                    async move { polite.acquire(&a, Duration::from_secs(60)).await.is_ok() },
                )
            })
            .collect();
        tokio::task::yield_now().await;
        let start = Instant::now();
        let b = polite.acquire(&url("http://b.example/x"), NO_WAIT).await;
        assert!(b.is_ok());
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "host b did not wait for host a"
        );
        drop(b);
        for w in waiting {
            assert!(w.await.unwrap(), "a's requests go on, slowly");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn with_a_queue_budget_a_slowed_hosts_queue_is_booked_not_waited_for() {
        let mut polite = polite(4, 0);
        polite.defer_slow_queues_after(Duration::from_secs(25));
        let polite = Arc::new(polite);
        let a = url("http://a.example/x");
        polite.report(&a, Health::Throttled(None));
        // Three places (10 s apart) fit in the 25 s budget; the next are booked 10 s apart.
        let held: Vec<_> = (0..3)
            .map(|_| {
                let (polite, a) = (polite.clone(), a.clone());
                tokio::spawn(async move {
                    let p = polite.acquire(&a, NO_WAIT).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    p.is_ok()
                })
            })
            .collect();
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        let refused: Vec<Duration> = [
            polite.acquire(&a, NO_WAIT).await.unwrap_err().wait(),
            polite.acquire(&a, NO_WAIT).await.unwrap_err().wait(),
            polite.acquire(&a, NO_WAIT).await.unwrap_err().wait(),
        ]
        .into();
        assert_eq!(
            refused,
            [30, 40, 50].map(Duration::from_secs),
            "come back one by one at the slowed pace"
        );
        for h in held {
            assert!(h.await.unwrap());
        }
        // The host is not slowed any more: nothing is refused.
        tokio::time::advance(Duration::from_secs(301)).await;
        assert!(polite.acquire(&a, NO_WAIT).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_that_arrives_while_a_request_queues_is_honoured() {
        let polite = Arc::new(polite(1, 0));
        let a = url("http://a.example/x");
        let first = polite.acquire(&a, NO_WAIT).await.unwrap();
        let queued = {
            let (polite, a) = (polite.clone(), a.clone());
            tokio::spawn(async move { polite.acquire(&a, NO_WAIT).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        polite.report(&a, Health::Throttled(Some(Duration::from_secs(60))));
        drop(first);
        assert_eq!(
            queued.await.unwrap(),
            Err(Busy::Paused(Duration::from_secs(60)))
        );
    }
}
