//! The web interface and the HTTP API over an archive (`stet serve`, or beside `stet run`).
//!
//! Owns the router, access control (`auth`), the pages (`html`, laid out by compile-time
//! checked templates), the JSON API with its OpenAPI document (`api`), the Atom and JSON
//! feeds (`feeds`) and Memento (`memento`). Reads through `Store` methods on blocking
//! threads, a few pooled connections; it runs no SQL itself. It never writes to the archive
//! except adding and removing watches for a holder of a token (and keeping the derived search
//! index up to date).

mod api;
mod assets;
pub mod auth;
mod feeds;
mod html;
mod memento;
pub mod view;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

pub use auth::{Access, Exposed, new_token, token_hash};

use crate::config::Config;
use crate::pure::model::Sha256Hash;
use crate::store::{Location, Store, StoreError};

/// Where `stet serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8480";

/// How many read connections stay open between requests.
const POOL_SIZE: usize = 8;

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub public: bool,
    pub token_hashes: Vec<Sha256Hash>,
    /// The address people reach the server by, for absolute links.
    pub base_url: Option<String>,
    /// The whole configuration, for "check now" (fetch settings, politeness).
    pub config: Config,
}

impl ServeOptions {
    /// The options of `[server]`, listening on `listen` when given (else the config's address,
    /// else [`DEFAULT_LISTEN`]).
    pub fn from_config(whole: &Config, listen: Option<SocketAddr>) -> Result<Self, ServeError> {
        let config = &whole.server;
        let listen = match listen {
            Some(l) => l,
            None => config
                .listen
                .as_deref()
                .unwrap_or(DEFAULT_LISTEN)
                .parse()
                .map_err(|_| ServeError::Address(config.listen.clone().unwrap_or_default()))?,
        };
        let token_hashes = config
            .token_sha256
            .iter()
            .map(|h| h.parse().map_err(|_| ServeError::TokenHash))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            listen,
            public: config.public,
            token_hashes,
            base_url: config
                .base_url
                .as_ref()
                .map(|b| b.trim_end_matches('/').to_string()),
            config: whole.clone(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Exposed(#[from] Exposed),
    #[error("{0:?} is not an address to listen on (like 127.0.0.1:8480)")]
    Address(String),
    #[error("a [server] token_sha256 entry is not 64 hex digits")]
    TokenHash,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the web server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A server bound to its address, ready to serve.
pub struct Bound {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl Bound {
    /// The address actually listened on (port 0 picks a free one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then finishes the requests in progress.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let indexer = spawn_indexer(self.state.clone(), shutdown.clone());
        let app = router(self.state);
        let result = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(ServeError::Serve);
        indexer.abort();
        result
    }
}

/// Checks the access rules, opens the archive and binds the address.
pub async fn bind(db_path: Location, options: ServeOptions) -> Result<Bound, ServeError> {
    let access = Access::new(options.listen, options.public, options.token_hashes.clone())?;
    // Opening once here creates or migrates the archive before the first request.
    let path = db_path.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&path))
        .await
        .map_err(|e| ServeError::Serve(std::io::Error::other(e)))??;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let state = AppState {
        inner: Arc::new(Inner {
            db_path,
            idle: Mutex::new(vec![store]),
            access,
            base_url: options.base_url,
            config: options.config,
        }),
    };
    tracing::info!(
        listen = %options.listen,
        reads_open = state.inner.access.reads_open,
        tokens = state.inner.access.token_hashes.len(),
        "web interface listening"
    );
    Ok(Bound { listener, state })
}

/// Shared by every request.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db_path: Location,
    /// Open read connections not in use.
    idle: Mutex<Vec<Store>>,
    access: Access,
    base_url: Option<String>,
    config: Config,
}

impl AppState {
    /// Runs `f` with a pooled connection on a blocking thread.
    pub(crate) async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
            let store = match pooled {
                Some(s) => s,
                None => Store::open(&inner.db_path)?,
            };
            let result = f(&store);
            if let Ok(mut idle) = inner.idle.lock()
                && idle.len() < POOL_SIZE
            {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(|e| Failure::internal(format!("request task failed: {e}")))?
    }

    /// Runs `f` with a connection that may write (adding or removing a watch).
    pub(crate) async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let path = self.inner.db_path.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&path)?;
            f(&mut store)
        })
        .await
        .map_err(|e| Failure::internal(format!("request task failed: {e}")))?
    }

    /// Checks one watched URL now, as `stet check URL` would; returns what the check found.
    pub(crate) async fn check_now(
        &self,
        url: String,
    ) -> Result<crate::app::check::CheckReport, Failure> {
        let checker = crate::app::check::Checker::new(&self.inner.config)
            .map_err(|e| Failure::internal(format!("cannot check: {e:#}")))?;
        let u = url.clone();
        let targets = self
            .with_store(move |s| Ok(s.check_targets(Some(&[u]))?))
            .await?;
        if targets.is_empty() {
            return Err(Failure::not_found(format!("{url} is not watched")));
        }
        let mut reports = Vec::new();
        checker
            .pass(
                &self.inner.db_path,
                targets,
                CancellationToken::new(),
                |r| reports.push(r.clone()),
            )
            .await
            .map_err(|e| Failure::internal(format!("the check failed: {e:#}")))?;
        reports
            .pop()
            .ok_or_else(|| Failure::internal("the check reported nothing"))
    }

    pub(crate) fn access(&self) -> &Access {
        &self.inner.access
    }

    /// The scheme, host and port links are made of: `[server] base_url`, or the request's Host.
    pub(crate) fn base(&self, headers: &HeaderMap) -> String {
        if let Some(b) = &self.inner.base_url {
            return b.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}

/// Keeps the full-text index up to date with the versions the daemon writes.
fn spawn_indexer(state: AppState, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            let indexed = state.with_store(|s| Ok(s.index_search(500)?)).await;
            let pause = match indexed {
                Ok(n) if n > 0 => Duration::from_millis(10),
                Ok(_) => Duration::from_secs(5),
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e.detail, "cannot update the search index");
                        warned = true;
                    }
                    Duration::from_secs(30)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    })
}

/// A request that could not be answered: rendered as an HTML page or as
/// `application/problem+json` (RFC 9457), as the route chooses.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl Failure {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            title: "not found",
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "bad request",
            detail: detail.into(),
        }
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            title: "unauthorized",
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            title: "forbidden",
            detail: detail.into(),
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "internal error",
            detail: detail.into(),
        }
    }

    /// The problem document of an API error.
    pub fn problem(&self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stet\""),
            );
        }
        response
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor(c) => Self::bad_request(format!("invalid cursor {c:?}")),
            other => {
                tracing::error!(error = %other, "archive read failed");
                Self::internal(other.to_string())
            }
        }
    }
}

/// An API handler's error: a problem document.
pub(crate) struct ApiError(pub Failure);

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.problem()
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .merge(html::routes())
        .merge(feeds::routes())
        .merge(memento::routes())
        .nest("/api/v1", api::routes())
        .merge(assets::routes())
        .fallback(html::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Access control and the headers every response carries.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let access = state.access();
    let path = request.uri().path().to_string();
    let api = path.starts_with("/api/");
    let write = auth::is_write(request.method());
    // The login page, and the stylesheet and script it uses, must be reachable to log in.
    let login = path == "/login" || path == "/logout" || path.starts_with("/assets/");
    if !login && (write || !access.reads_open) {
        let headers = request.headers();
        let refusal = match access.authenticated(headers) {
            Some(_) if write && auth::cross_site(headers) => Some(Failure::forbidden(
                "cross-site requests may not change the archive",
            )),
            Some(_) => None,
            None if access.presented(headers).is_some() => {
                Some(Failure::unauthorized("the token is not accepted"))
            }
            None if write => Some(Failure::unauthorized(
                "changing the archive needs a bearer token (Authorization: Bearer TOKEN)",
            )),
            None => Some(Failure::unauthorized(
                "reading this archive needs a bearer token (Authorization: Bearer TOKEN), or log in at /login",
            )),
        };
        if let Some(failure) = refusal {
            tracing::info!(path = %path, status = failure.status.as_u16(), "request refused");
            return if api {
                failure.problem()
            } else {
                html::failure_page(&failure, &path)
            };
        }
    }
    let raw = path.starts_with("/raw/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if raw {
        // Archived pages run in an opaque origin: no scripts, no cookies, no forms, no top
        // navigation; nothing they do reaches stet's own origin.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
        headers.remove(header::SET_COOKIE);
    } else if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    }
    response
}

/// A strong ETag for an immutable resource, and whether the request already has it.
pub(crate) fn etag_of(parts: &[&str]) -> String {
    let joined = parts.join("\u{0}");
    format!("\"{}\"", &Sha256Hash::of(joined.as_bytes()).to_hex()[..32])
}

/// `304 Not Modified` when `If-None-Match` names `etag`.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> Option<Response> {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    matches.then(|| {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    })
}

/// Adds the ETag and a long cache lifetime to an immutable resource's response.
pub(crate) fn immutable(mut response: Response, etag: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

/// An RFC 3339 time as HTTP dates write it (`Tue, 01 Dec 2026 08:00:00 GMT`).
pub(crate) fn http_date(rfc3339: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(rfc3339).ok().map(|t| {
        t.with_timezone(&chrono::Utc)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    })
}
