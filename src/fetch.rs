//! HTTP fetching: turns a URL into a [`Response`] or a typed [`FetchError`].
//!
//! Owns the HTTP client: timeouts, redirect limit, the body size cap enforced while streaming,
//! decompression, conditional GET and the User-Agent. It never decides what a response means:
//! a 404 is returned as a response like any other; `classify` decides.

use std::error::Error as _;
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
        url: input.to_string(),
        reason,
    };
    let mut url = Url::parse(input.trim()).map_err(|e| invalid(e.to_string()))?;
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

/// A fetch that produced no usable response. Every variant is transient: none of them says the
/// article is gone, so none may ever lead to a deletion.
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
            Self::Other(_) => "other",
        }
    }

    fn from_reqwest(err: &reqwest::Error, reading_body: bool) -> Self {
        let chain = error_chain(err);
        let lower = chain.to_lowercase();
        if err.is_timeout() || lower.contains("timed out") {
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

/// The HTTP client, shared by every fetch of a pass.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: u64,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Self> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"),
        );
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent_header())
            .default_headers(headers)
            .timeout(config.timeout())
            .connect_timeout(config.connect_timeout())
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            client,
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// Fetches `url`, asking only for changes since `validators` when there are any.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<Response, FetchError> {
        let started = Instant::now();
        let mut request = self.client.get(url);
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
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        if status == 304 {
            return Ok(Response {
                status,
                final_url,
                content_type,
                validators,
                payload: Payload::NotModified,
                elapsed: started.elapsed(),
            });
        }
        let limit = self.max_body_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Ok(Response {
                status,
                final_url,
                content_type,
                validators,
                payload: Payload::TooLarge { limit },
                elapsed: started.elapsed(),
            });
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > limit {
                        // Dropping the response closes the connection: an endless body stops here.
                        return Ok(Response {
                            status,
                            final_url,
                            content_type,
                            validators,
                            payload: Payload::TooLarge { limit },
                            elapsed: started.elapsed(),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(FetchError::from_reqwest(&e, true)),
            }
        }
        Ok(Response {
            status,
            final_url,
            content_type,
            validators,
            payload: Payload::Body(body),
            elapsed: started.elapsed(),
        })
    }
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
    fn fragment_is_dropped() {
        let url = parse_watch_url("https://n.example/a#comments").unwrap();
        assert_eq!(url.as_str(), "https://n.example/a");
    }
}
