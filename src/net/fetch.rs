//! HTTP fetching: turns a URL into a [`Response`] or a typed [`FetchError`].
//!
//! Owns the HTTP client: timeouts, redirect limit, the body size cap enforced while streaming,
//! decompression, conditional GET and the User-Agent. It never decides what a response means:
//! a 404 is returned as a response like any other; `classify` decides.

use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::config::FetchConfig;

/// A watched URL must be absolute http(s) with a host.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("invalid URL {url:?}: {reason}")]
    Invalid { url: String, reason: String },
}

/// Parses and checks a URL given by a user or a config file. The fragment is dropped: it never
/// reaches the server, so two URLs differing only by it are the same article.
pub fn parse_watch_url(input: &str) -> Result<Url, UrlError> {
    let invalid = |reason: String| UrlError::Invalid {
        url: crate::pure::secret::redact_url(input, false),
        reason,
    };
    let mut url = Url::parse(input.trim()).map_err(|e| invalid(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        // It would be stored, logged and printed with every report.
        return Err(invalid(
            "URLs with a user name or password are not watched: they would be stored and shown"
                .into(),
        ));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "only http and https URLs can be watched, not {}:",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host".into()));
    }
    url.set_fragment(None);
    Ok(url)
}

/// What the validators of the latest capture let us ask: "has it changed since?"
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response that arrived whole (or was deliberately cut at the size cap).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Where the redirects, if any, ended.
    pub final_url: String,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub payload: Payload,
    pub elapsed: Duration,
    /// The server's Retry-After (on 429 and 503), capped at a day.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum Payload {
    /// 304: the server says nothing changed since our validators.
    NotModified,
    /// The whole (decompressed) body.
    Body(Vec<u8>),
    /// The body passed the size cap and was cut off there; what was read is dropped.
    TooLarge { limit: u64 },
}

/// A fetch that produced no usable response. No variant says the article is gone, so none may
/// ever lead to a deletion: all are transient, except `Refused` (an untrusted URL pointing
/// inside the network), which stet itself declined to fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out")]
    Timeout,
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    #[error("TLS failure: {0}")]
    Tls(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("connection reset")]
    Reset,
    #[error("body truncated: {0}")]
    Truncated(String),
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("refused: {0}")]
    Refused(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// A short stable name for storage and JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Dns(_) => "dns",
            Self::Tls(_) => "tls",
            Self::Connect(_) => "connect",
            Self::Reset => "reset",
            Self::Truncated(_) => "truncated",
            Self::TooManyRedirects => "too_many_redirects",
            Self::Refused(_) => "refused",
            Self::Other(_) => "other",
        }
    }

    fn from_reqwest(err: &reqwest::Error, reading_body: bool) -> Self {
        let chain = error_chain(err);
        let lower = chain.to_lowercase();
        if let Some(reason) = chain.split(REFUSED_MARK).nth(1) {
            Self::Refused(reason.trim().to_string())
        } else if err.is_timeout() || lower.contains("timed out") {
            Self::Timeout
        } else if err.is_redirect() {
            Self::TooManyRedirects
        } else if lower.contains("reset by peer") || lower.contains("connection reset") {
            Self::Reset
        } else if lower.contains("dns error") || lower.contains("failed to lookup") {
            Self::Dns(chain)
        } else if lower.contains("certificate") || lower.contains("tls") {
            Self::Tls(chain)
        } else if reading_body || err.is_body() || err.is_decode() {
            Self::Truncated(chain)
        } else if err.is_connect() {
            Self::Connect(chain)
        } else if lower.contains("incomplete") || lower.contains("closed before") {
            Self::Truncated(chain)
        } else {
            Self::Other(chain)
        }
    }
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Which addresses an untrusted URL (one listed by a feed) may reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Allow loopback, private, link-local and other internal addresses.
    pub allow_private: bool,
    /// Hosts allowed whatever they resolve to.
    pub allow_hosts: Vec<String>,
}

const REFUSED_MARK: &str = "stet refused:";

impl AddressPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        self.allow_private
            || self
                .allow_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Refuses a URL whose host is an internal IP literal. Names are checked when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        let Some(host) = url.host_str() else {
            return Err("no host".into());
        };
        if self.host_allowed(host) {
            return Ok(());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if is_internal(ip) => Err(format!("{host} is an internal address")),
            _ => Ok(()),
        }
    }

    /// Resolves a URL's host and refuses it when any address is internal: the check a feed's
    /// URL passes before it becomes a watch.
    pub async fn check_resolved(&self, url: &Url) -> Result<(), String> {
        self.check_url(url)?;
        let host = url.host_str().unwrap_or_default();
        if self.host_allowed(host) || !matches!(url.host(), Some(url::Host::Domain(_))) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("{host} does not resolve: {e}"))?;
        for addr in addrs {
            if is_internal(addr.ip()) {
                return Err(format!(
                    "{host} resolves to the internal address {}",
                    addr.ip()
                ));
            }
        }
        Ok(())
    }
}

/// Loopback, private, link-local (cloud metadata lives there), shared, unspecified, multicast,
/// broadcast and documentation addresses, in IPv4 and IPv6 (mapped addresses included).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        }
    }
}

/// A resolver that drops internal addresses, so that neither a name nor a redirect sends an
/// untrusted URL inside the network (DNS rebinding included).
struct GuardedResolver {
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let allowed = self.policy.host_allowed(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed || !is_internal(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    format!("{REFUSED_MARK} {host} resolves only to internal addresses").into(),
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client, shared by every fetch of a pass.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: u64,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Self> {
        Self::build(config, None)
    }

    /// A client for untrusted URLs: internal addresses are refused, in redirects too.
    pub fn untrusted(config: &FetchConfig, policy: AddressPolicy) -> anyhow::Result<Self> {
        Self::build(config, Some(policy))
    }

    fn build(config: &FetchConfig, guard: Option<AddressPolicy>) -> anyhow::Result<Self> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"),
        );
        let max_redirects = config.max_redirects;
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent_header())
            .default_headers(headers)
            .timeout(config.timeout())
            .connect_timeout(config.connect_timeout())
            .pool_idle_timeout(Duration::from_secs(30));
        builder = match guard {
            None => builder.redirect(reqwest::redirect::Policy::limited(max_redirects)),
            Some(policy) => {
                let redirect_policy = policy.clone();
                builder
                    .dns_resolver(Arc::new(GuardedResolver { policy }))
                    .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                        if attempt.previous().len() >= max_redirects {
                            return attempt.error("too many redirects");
                        }
                        match redirect_policy.check_url(attempt.url()) {
                            Ok(()) => attempt.follow(),
                            Err(why) => attempt.error(format!("{REFUSED_MARK} {why}")),
                        }
                    }))
            }
        };
        let client = builder.build()?;
        Ok(Self {
            client,
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// Fetches `url`, asking only for changes since `validators` when there are any.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<Response, FetchError> {
        self.fetch_with(url, validators, &[]).await
    }

    /// [`Fetcher::fetch`] with extra request headers (a watch's way in past a wall), marked
    /// sensitive so they are never logged. The HTTP client drops `Cookie` and `Authorization`
    /// when a redirect leaves the host.
    pub async fn fetch_with(
        &self,
        url: &str,
        validators: &Validators,
        headers: &[(String, crate::pure::secret::Secret)],
    ) -> Result<Response, FetchError> {
        let started = Instant::now();
        let mut request = self.client.get(url);
        for (name, value) in headers {
            // Checked when the config was read.
            if let (Ok(name), Ok(mut value)) = (
                header::HeaderName::from_bytes(name.as_bytes()),
                header::HeaderValue::from_str(value.expose()),
            ) {
                value.set_sensitive(true);
                request = request.header(name, value);
            }
        }
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| FetchError::from_reqwest(&e, false))?;
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let header_str = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let retry_after = header_str(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v));
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let limit = self.max_body_bytes;
        let payload = if status == 304 {
            Payload::NotModified
        } else if response.content_length().is_some_and(|len| len > limit) {
            Payload::TooLarge { limit }
        } else {
            read_capped(&mut response, limit).await?
        };
        Ok(Response {
            status,
            final_url,
            content_type,
            validators,
            payload,
            elapsed: started.elapsed(),
            retry_after,
        })
    }
}

/// Reads a body up to `limit` bytes. Past it, the response is dropped, which closes the
/// connection: an endless body stops there.
async fn read_capped(response: &mut reqwest::Response, limit: u64) -> Result<Payload, FetchError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Ok(Payload::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Payload::Body(body)),
            Err(e) => return Err(FetchError::from_reqwest(&e, true)),
        }
    }
}

/// Retry-After as delay-seconds or an HTTP date, capped at a day.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(Duration::from_secs(86400)))
}

/// rustls needs one process-wide crypto provider; ring builds quickly and is well proven.
pub(crate) fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_urls_must_be_absolute_http() {
        assert!(parse_watch_url("https://news.example.org/a").is_ok());
        assert!(parse_watch_url("http://127.0.0.1:8080/a?b=1").is_ok());
        for bad in [
            "news.example.org/a",
            "ftp://x.org/a",
            "mailto:a@b.c",
            "",
            "http://",
        ] {
            assert!(parse_watch_url(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999"),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn address_policy_refuses_internal_literals_unless_allowed() {
        let url = |s: &str| Url::parse(s).unwrap();
        let strict = AddressPolicy::default();
        assert!(
            strict
                .check_url(&url("http://169.254.169.254/latest/meta-data"))
                .is_err()
        );
        assert!(strict.check_url(&url("http://127.0.0.1:8080/a")).is_err());
        assert!(strict.check_url(&url("http://[::1]/a")).is_err());
        assert!(strict.check_url(&url("https://news.example.org/a")).is_ok());
        let allow = AddressPolicy {
            allow_private: false,
            allow_hosts: vec!["127.0.0.1".into()],
        };
        assert!(allow.check_url(&url("http://127.0.0.1:8080/a")).is_ok());
    }

    #[test]
    fn fragment_is_dropped() {
        let url = parse_watch_url("https://n.example/a#comments").unwrap();
        assert_eq!(url.as_str(), "https://n.example/a");
    }
}
