//! Politeness toward the sites stet reads: at most `per_host` requests at once to a host, a
//! minimum delay between two requests to it, robots.txt honoured (fetched once a day per host),
//! and a pause when a host answers 429 with Retry-After.
//!
//! Owns per-host state that lives as long as the daemon. Never decides what a response means.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::fetch::{Fetcher, Payload, Validators};

/// How long a fetched robots.txt is trusted.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);

pub struct Politeness {
    per_host: usize,
    min_delay: Duration,
    /// The product token matched against robots.txt groups ("stet").
    agent: String,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    slots: Arc<Semaphore>,
    /// The earliest time the next request may start.
    next_start: tokio::sync::Mutex<Instant>,
    paused_until: Mutex<Option<Instant>>,
    /// robots.txt body (None: no rules) and when it was fetched.
    robots: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
}

impl Politeness {
    pub fn new(per_host: usize, min_delay: Duration, user_agent: &str) -> Self {
        let agent = user_agent
            .split(['/', ' '])
            .next()
            .filter(|a| !a.is_empty())
            .unwrap_or("stet")
            .to_string();
        Self {
            per_host: per_host.max(1),
            min_delay,
            agent,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.hosts.lock().expect("hosts lock");
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.per_host)),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    paused_until: Mutex::new(None),
                    robots: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }

    /// Waits for a free slot on the URL's host and for the minimum delay since the last request
    /// there. Returns `Err(wait)` instead when the host asked us to pause for longer than a few
    /// seconds.
    pub async fn acquire(&self, url: &Url) -> Result<OwnedSemaphorePermit, Duration> {
        let host = self.host(url);
        let paused_until = *host.paused_until.lock().expect("pause lock");
        if let Some(until) = paused_until {
            let now = Instant::now();
            if until > now + Duration::from_secs(5) {
                return Err(until - now);
            }
            // A short pause is simply waited out.
            tokio::time::sleep_until(until).await;
        }
        let permit = host
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let mut next = host.next_start.lock().await;
        if *next > Instant::now() {
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now() + self.min_delay;
        Ok(permit)
    }

    /// The host asked for a pause (429 or 503 with Retry-After).
    pub fn pause(&self, url: &Url, wait: Duration) {
        let host = self.host(url);
        *host.paused_until.lock().expect("pause lock") = Some(Instant::now() + wait);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_token_is_the_product_name() {
        assert_eq!(
            Politeness::new(2, Duration::ZERO, "stet/0.1 (+x)").agent,
            "stet"
        );
        assert_eq!(Politeness::new(2, Duration::ZERO, "").agent, "stet");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_by_the_minimum_delay() {
        let polite = Politeness::new(4, Duration::from_secs(2), "stet");
        let url = Url::parse("http://a.example/x").unwrap();
        let start = Instant::now();
        for i in 0..3u64 {
            let _p = polite.acquire(&url).await.unwrap();
            assert_eq!(start.elapsed().as_secs(), 2 * i);
        }
        // Another host is not held back.
        let other = Url::parse("http://b.example/x").unwrap();
        let _p = polite.acquire(&other).await.unwrap();
        assert_eq!(start.elapsed().as_secs(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_host_is_refused_until_its_time() {
        let polite = Politeness::new(1, Duration::ZERO, "stet");
        let url = Url::parse("http://a.example/x").unwrap();
        polite.pause(&url, Duration::from_secs(60));
        assert!(polite.acquire(&url).await.is_err());
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(polite.acquire(&url).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_pause_is_waited_out() {
        let polite = Politeness::new(1, Duration::ZERO, "stet");
        let url = Url::parse("http://a.example/x").unwrap();
        polite.pause(&url, Duration::from_secs(3));
        let start = Instant::now();
        assert!(polite.acquire(&url).await.is_ok());
        assert_eq!(start.elapsed().as_secs(), 3);
    }
}
