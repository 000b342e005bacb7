//! Who may read and who may write: bearer tokens known by their SHA-256 only, compared in
//! constant time; a session cookie holding the token for people using forms; CSRF tokens on
//! every form post; and the rule that refuses to expose an archive by accident.
//!
//! Never logs or echoes a token, and never takes one from a URL.

use std::net::SocketAddr;

use axum::http::{HeaderMap, Method, header};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::pure::model::Sha256Hash;

/// The cookie that carries a person's token after they log in on the login page.
pub const SESSION_COOKIE: &str = "stet_session";

/// Who may do what on one server.
#[derive(Debug, Clone)]
pub struct Access {
    /// Reading needs no token: the address is loopback, or `[server] public` says so.
    pub reads_open: bool,
    /// SHA-256 of each accepted token.
    pub token_hashes: Vec<Sha256Hash>,
    /// The key of this process's CSRF tokens (random at every start).
    pub csrf_key: [u8; 32],
}

/// Why a server may not start with these settings.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to serve on {addr}: it is not a loopback address, so anyone who can reach it could \
     read the archive; set `[server] public = true` to allow that, or add a token (`stet server \
     token`) to `[server] token_sha256` so that reading needs it"
)]
pub struct Exposed {
    pub addr: SocketAddr,
}

impl Access {
    /// The access rules for a server on `addr`; refuses a non-loopback address that is neither
    /// public nor guarded by a token.
    pub fn new(
        addr: SocketAddr,
        public: bool,
        token_hashes: Vec<Sha256Hash>,
    ) -> Result<Self, Exposed> {
        let loopback = addr.ip().is_loopback();
        if !loopback && !public && token_hashes.is_empty() {
            return Err(Exposed { addr });
        }
        Ok(Self {
            reads_open: loopback || public,
            token_hashes,
            csrf_key: random_bytes(),
        })
    }

    /// Whether `token` is one of the configured tokens. Every configured hash is compared, in
    /// constant time, whichever matches.
    pub fn accepts(&self, token: &str) -> bool {
        let presented = Sha256Hash::of(token.as_bytes());
        let mut ok = subtle::Choice::from(0);
        for known in &self.token_hashes {
            ok |= known.0.ct_eq(&presented.0);
        }
        bool::from(ok)
    }

    /// The token a request carries: `Authorization: Bearer ...`, or the session cookie.
    pub fn presented<'a>(&self, headers: &'a HeaderMap) -> Option<(&'a str, Via)> {
        if let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))?;
            return Some((token.trim(), Via::Header));
        }
        session_cookie(headers).map(|t| (t, Via::Cookie))
    }

    /// Whether the request carries an accepted token, and how.
    pub fn authenticated(&self, headers: &HeaderMap) -> Option<Via> {
        self.presented(headers)
            .filter(|(token, _)| self.accepts(token))
            .map(|(_, via)| via)
    }

    /// The CSRF token of forms shown to the holder of this session.
    pub fn csrf_token(&self, session: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.csrf_key)
            .expect("hmac takes any key length");
        mac.update(b"stet csrf\0");
        mac.update(session.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether a form post's CSRF field matches its session, compared in constant time.
    pub fn csrf_ok(&self, session: &str, field: &str) -> bool {
        let expected = self.csrf_token(session);
        expected.as_bytes().ct_eq(field.as_bytes()).into()
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An `Authorization` header: not sent by a browser on its own, so no CSRF check is needed.
    Header,
    /// The session cookie: a form post must also carry the CSRF token.
    Cookie,
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// Whether a method changes something.
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A browser's cross-site request: `Sec-Fetch-Site` says so, or `Origin` names another host.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// A new random token (256 bits, hex) for `[server] token_sha256`.
pub fn new_token() -> String {
    hex::encode(random_bytes())
}

/// The hex SHA-256 of a token, as `[server] token_sha256` lists it.
pub fn token_hash(token: &str) -> String {
    Sha256Hash::of(token.as_bytes()).to_hex()
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(addr: &str, public: bool, tokens: &[&str]) -> Result<Access, Exposed> {
        Access::new(
            addr.parse().unwrap(),
            public,
            tokens
                .iter()
                .map(|t| Sha256Hash::of(t.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn loopback_reads_are_open_and_others_need_public_or_a_token() {
        assert!(access("127.0.0.1:8480", false, &[]).unwrap().reads_open);
        assert!(access("[::1]:8480", false, &[]).unwrap().reads_open);
        let err = access("0.0.0.0:8480", false, &[]).unwrap_err();
        assert!(err.to_string().contains("public = true"), "{err}");
        assert!(access("0.0.0.0:8480", true, &[]).unwrap().reads_open);
        assert!(!access("0.0.0.0:8480", false, &["t"]).unwrap().reads_open);
    }

    #[test]
    fn only_a_configured_token_is_accepted() {
        let a = access("127.0.0.1:1", false, &["right", "other"]).unwrap();
        assert!(a.accepts("right"));
        assert!(a.accepts("other"));
        assert!(!a.accepts("wrong"));
        assert!(!a.accepts(""));
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let a = access("127.0.0.1:1", false, &["t"]).unwrap();
        let token = a.csrf_token("session-a");
        assert!(a.csrf_ok("session-a", &token));
        assert!(!a.csrf_ok("session-b", &token));
        assert!(!a.csrf_ok("session-a", ""));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; stet_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
    }
}
