//! Memento (RFC 7089): the archive seen by existing Memento tools and aggregators.
//!
//! Owns the TimeMap of an original URL (`/timemap/link/{url}` in `application/link-format`,
//! `/timemap/json/{url}` as JSON), the TimeGate (`/timegate/{url}`: `Accept-Datetime` → `302`
//! to the version in force then) and the `Memento-Datetime` and `Link` headers of version
//! pages (the mementos). Never guesses a URL that is not watched.

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState, Failure, http_date};
use crate::pure::model::WatchId;
use crate::store::{Store, VersionMeta};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/timemap/link/{*url}", get(timemap_link))
        .route("/timemap/json/{*url}", get(timemap_json))
        .route("/timegate/{*url}", get(timegate))
}

/// The TimeMap of an original URL, relative to the server.
pub(super) fn timemap_path(url: &str) -> String {
    format!("/timemap/link/{url}")
}

/// The original URL named by the rest of the path (and the request's own query string, which
/// belongs to it).
fn original(path_url: &str, uri: &axum::http::Uri) -> String {
    let mut url = path_url.to_string();
    // Some clients fold `//` in paths: `http:/host` is taken as `http://host`.
    for scheme in ["http:/", "https:/"] {
        if url.starts_with(scheme) && !url.starts_with(&format!("{scheme}/")) {
            url = url.replacen(scheme, &format!("{scheme}/"), 1);
        }
    }
    if let Some(q) = uri.query() {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// The watch of an original URL (as given, or normalised as `watch add` does) with its
/// versions.
fn mementos(s: &Store, url: &str) -> Result<(WatchId, String, Vec<VersionMeta>), Failure> {
    let normalised = crate::net::fetch::parse_watch_url(url)
        .map(|u| u.to_string())
        .ok();
    for candidate in [Some(url.to_string()), normalised].into_iter().flatten() {
        if let Some(id) = s.watch_id(&candidate)? {
            let versions = s.versions(id)?;
            if versions.is_empty() {
                break;
            }
            return Ok((id, candidate, versions));
        }
    }
    Err(Failure::not_found(format!(
        "{url} has no mementos in this archive"
    )))
}

fn memento_uri(base: &str, id: WatchId, v: &VersionMeta) -> String {
    format!("{base}/articles/{}/versions/{}", id.0, v.seq)
}

fn link_entry(uri: &str, rel: &str, v: &VersionMeta) -> String {
    format!(
        "<{uri}>; rel=\"{rel}\"; datetime=\"{}\"",
        http_date(&v.captured_at).unwrap_or_default()
    )
}

async fn timemap_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(url): Path<String>,
) -> Result<Response, ApiError> {
    let url = original(&url, &uri);
    let base = state.base(&headers);
    let (id, url, versions) = state.with_store(move |s| mementos(s, &url)).await?;
    let first = versions
        .first()
        .map(|v| v.captured_at.clone())
        .unwrap_or_default();
    let last = versions
        .last()
        .map(|v| v.captured_at.clone())
        .unwrap_or_default();
    let mut lines = vec![
        format!("<{url}>; rel=\"original\""),
        format!("<{base}/timegate/{url}>; rel=\"timegate\""),
        format!(
            "<{base}/timemap/link/{url}>; rel=\"self\"; type=\"application/link-format\"; from=\"{}\"; until=\"{}\"",
            http_date(&first).unwrap_or_default(),
            http_date(&last).unwrap_or_default()
        ),
        format!("<{base}/timemap/json/{url}>; rel=\"timemap\"; type=\"application/json\""),
    ];
    let n = versions.len();
    for (i, v) in versions.iter().enumerate() {
        let rel = match (i == 0, i + 1 == n) {
            (true, true) => "first last memento",
            (true, false) => "first memento",
            (false, true) => "last memento",
            (false, false) => "memento",
        };
        lines.push(link_entry(&memento_uri(&base, id, v), rel, v));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/link-format")],
        lines.join(",\n") + "\n",
    )
        .into_response())
}

async fn timemap_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(url): Path<String>,
) -> Result<Response, ApiError> {
    let url = original(&url, &uri);
    let base = state.base(&headers);
    let (id, url, versions) = state.with_store(move |s| mementos(s, &url)).await?;
    let list: Vec<serde_json::Value> = versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "datetime": v.captured_at,
                "uri": memento_uri(&base, id, v),
                "content_hash": v.content_hash,
            })
        })
        .collect();
    let body = serde_json::json!({
        "original_uri": url,
        "timegate_uri": format!("{base}/timegate/{url}"),
        "timemap_uri": {
            "link_format": format!("{base}/timemap/link/{url}"),
            "json_format": format!("{base}/timemap/json/{url}"),
        },
        "mementos": {
            "first": list.first(),
            "last": list.last(),
            "list": list,
        },
    });
    Ok(axum::Json(body).into_response())
}

async fn timegate(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(url): Path<String>,
) -> Result<Response, ApiError> {
    let url = original(&url, &uri);
    let base = state.base(&headers);
    let wanted = match headers.get("accept-datetime").and_then(|v| v.to_str().ok()) {
        None => None,
        Some(raw) => Some(
            chrono::DateTime::parse_from_rfc2822(raw.trim())
                .map_err(|_| {
                    Failure::bad_request(format!(
                        "Accept-Datetime {raw:?} is not an HTTP date (like Tue, 01 Dec 2026 08:00:00 GMT)"
                    ))
                })?
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    };
    let (id, url, versions, chosen) = state
        .with_store(move |s| {
            let (id, url, versions) = mementos(s, &url)?;
            let chosen = match wanted {
                Some(at) => s.version_at(id, &at)?,
                None => versions.last().map(|v| v.seq),
            };
            Ok((id, url, versions, chosen))
        })
        .await?;
    let index = versions
        .iter()
        .position(|v| Some(v.seq) == chosen)
        .unwrap_or(versions.len() - 1);
    let v = &versions[index];
    let location = memento_uri(&base, id, v);
    let mut links = vec![
        format!("<{url}>; rel=\"original\""),
        format!("<{base}/timemap/link/{url}>; rel=\"timemap\"; type=\"application/link-format\""),
    ];
    let first = &versions[0];
    let last = &versions[versions.len() - 1];
    links.push(link_entry(
        &memento_uri(&base, id, first),
        "first memento",
        first,
    ));
    if index > 0 {
        let p = &versions[index - 1];
        links.push(link_entry(&memento_uri(&base, id, p), "prev memento", p));
    }
    links.push(link_entry(&location, "memento", v));
    if index + 1 < versions.len() {
        let n = &versions[index + 1];
        links.push(link_entry(&memento_uri(&base, id, n), "next memento", n));
    }
    links.push(link_entry(
        &memento_uri(&base, id, last),
        "last memento",
        last,
    ));
    let mut response = StatusCode::FOUND.into_response();
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-datetime"));
    if let Ok(l) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, l);
    }
    if let Ok(l) = HeaderValue::from_str(&links.join(", ")) {
        h.insert(header::LINK, l);
    }
    Ok(response)
}

/// The headers that make a version page a memento of its article.
pub(super) fn memento_headers(response: &mut Response, base: &str, url: &str, captured_at: &str) {
    let h = response.headers_mut();
    if let Some(date) = http_date(captured_at)
        && let Ok(v) = HeaderValue::from_str(&date)
    {
        h.insert("memento-datetime", v);
    }
    let link = format!(
        "<{url}>; rel=\"original\", <{base}/timegate/{url}>; rel=\"timegate\", <{base}/timemap/link/{url}>; rel=\"timemap\"; type=\"application/link-format\""
    );
    if let Ok(v) = HeaderValue::from_str(&link) {
        h.insert(header::LINK, v);
    }
}
