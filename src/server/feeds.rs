//! Atom (RFC 4287) and JSON Feed 1.1 of changes: the whole archive (with the filters of the
//! changes page) and one article. Each edit carries its word-diff excerpt and links to the diff
//! and the version; deletions and restorations are entries too.
//!
//! Never writes; the excerpt comes from `notify::message::excerpt`, as alerts do.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::html::{ChangeFilter, change_row};
use super::view::{escape, line_html};
use super::{ApiError, AppState, Failure};
use crate::pure::model::WatchId;
use crate::store::{ChangeItem, Store};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/feeds/changes.atom", get(archive_atom))
        .route("/feeds/changes.json", get(archive_json))
        .route("/articles/{id}/feed.atom", get(article_atom))
        .route("/articles/{id}/feed.json", get(article_json))
}

/// One entry of a feed, ready for either format.
struct Entry {
    id: String,
    title: String,
    link: String,
    at: String,
    html: String,
    text: String,
}

/// The entries of `changes`, newest first, with their excerpts.
fn entries(s: &Store, base: &str, changes: &[ChangeItem]) -> Result<Vec<Entry>, Failure> {
    let mut out = Vec::new();
    for c in changes {
        let row = change_row(c);
        let title = format!("{}: {}", c.kind, row.title);
        let mut html = format!(
            "<p>{} · <a href=\"{base}/articles/{}\">{}</a></p>",
            escape(&row.text),
            c.watch_id.0,
            escape(&c.url)
        );
        let mut text = format!("{}\n{}\n", row.text, c.url);
        if let (Some(from), Some(to)) = (c.from_version, c.version)
            && from != to
        {
            let old = s.version(c.watch_id, Some(from))?;
            let new = s.version(c.watch_id, Some(to))?;
            if let (Some(old), Some(new)) = (old, new) {
                let ex = crate::notify::message::excerpt(&old.text, &new.text);
                html.push_str(&format!(
                    "<p>{} word(s) added, {} removed</p>",
                    ex.words_added, ex.words_removed
                ));
                for l in &ex.lines {
                    let line = crate::pure::diff::Line {
                        tag: l.tag,
                        old_line: None,
                        new_line: None,
                        segments: l.segments.clone(),
                    };
                    let sign = if l.tag == crate::pure::diff::LineTag::Delete {
                        "−"
                    } else {
                        "+"
                    };
                    html.push_str(&format!("<p>{sign} {}</p>", line_html(&line)));
                    text.push_str(&format!("{sign} {}\n", l.marked));
                }
                if ex.truncated {
                    html.push_str("<p>…</p>");
                }
            }
        }
        let link = match (&row.diff_url, &row.version_url) {
            (Some(d), _) => format!("{base}{d}"),
            (None, Some(v)) => format!("{base}{v}"),
            (None, None) => format!("{base}/articles/{}", c.watch_id.0),
        };
        out.push(Entry {
            id: format!("{base}/changes/{}", c.id),
            title,
            link,
            at: c.at.clone(),
            html,
            text,
        });
    }
    Ok(out)
}

fn atom(base: &str, title: &str, self_url: &str, alternate: &str, entries: &[Entry]) -> Response {
    let updated = entries
        .first()
        .map(|e| e.at.clone())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <id>{}</id>\n<title>{}</title>\n<updated>{updated}</updated>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
         <generator>stet</generator>\n<author><name>stet</name></author>\n",
        escape(self_url),
        escape(title),
        escape(self_url),
        escape(&format!("{base}{alternate}")),
    );
    for e in entries {
        xml.push_str(&format!(
            "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
             <content type=\"html\">{}</content>\n</entry>\n",
            escape(&e.id),
            escape(&e.title),
            e.at,
            escape(&e.link),
            escape(&e.html)
        ));
    }
    xml.push_str("</feed>\n");
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

fn json_feed(title: &str, self_url: &str, home: &str, entries: &[Entry]) -> Response {
    let items: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "url": e.link,
                "title": e.title,
                "content_html": e.html,
                "content_text": e.text,
                "date_published": e.at,
            })
        })
        .collect();
    let body = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": home,
        "feed_url": self_url,
        "items": items,
    });
    (
        [(header::CONTENT_TYPE, "application/feed+json")],
        body.to_string(),
    )
        .into_response()
}

async fn load(
    state: &AppState,
    base: String,
    filter: &ChangeFilter,
    watch: Option<WatchId>,
) -> Result<(Vec<Entry>, Option<String>), Failure> {
    let mut query = filter.query(50)?;
    query.watch = watch;
    // A feed lists the newest changes, whatever the time filter.
    let since = query.since.take();
    state
        .with_store(move |s| {
            let title = match watch {
                Some(id) => Some(
                    s.watch_item(id)?
                        .ok_or_else(|| Failure::not_found(format!("no article {}", id.0)))?
                        .title
                        .unwrap_or_default(),
                ),
                None => None,
            };
            let mut changes = s.changes(&query)?;
            if let Some(since) = since {
                changes.retain(|c| c.at >= since);
            }
            Ok((entries(s, &base, &changes)?, title))
        })
        .await
}

fn self_url(base: &str, path: &str, headers: &HeaderMap, query: &str) -> String {
    let _ = headers;
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}

async fn archive_atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(filter): Query<ChangeFilter>,
) -> Result<Response, ApiError> {
    let base = state.base(&headers);
    let (entries, _) = load(&state, base.clone(), &filter, None).await?;
    let me = self_url(&base, uri.path(), &headers, uri.query().unwrap_or(""));
    Ok(atom(&base, "stet: changes", &me, "/changes", &entries))
}

async fn archive_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(filter): Query<ChangeFilter>,
) -> Result<Response, ApiError> {
    let base = state.base(&headers);
    let (entries, _) = load(&state, base.clone(), &filter, None).await?;
    let me = self_url(&base, uri.path(), &headers, uri.query().unwrap_or(""));
    Ok(json_feed(
        "stet: changes",
        &me,
        &format!("{base}/changes"),
        &entries,
    ))
}

async fn article_atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<i64>,
    Query(filter): Query<ChangeFilter>,
) -> Result<Response, ApiError> {
    let base = state.base(&headers);
    let (entries, title) = load(&state, base.clone(), &filter, Some(WatchId(id))).await?;
    let me = self_url(&base, uri.path(), &headers, uri.query().unwrap_or(""));
    let title = format!("stet: changes of {}", title.unwrap_or_default());
    Ok(atom(
        &base,
        &title,
        &me,
        &format!("/articles/{id}"),
        &entries,
    ))
}

async fn article_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(id): Path<i64>,
    Query(filter): Query<ChangeFilter>,
) -> Result<Response, ApiError> {
    let base = state.base(&headers);
    let (entries, title) = load(&state, base.clone(), &filter, Some(WatchId(id))).await?;
    let me = self_url(&base, uri.path(), &headers, uri.query().unwrap_or(""));
    let title = format!("stet: changes of {}", title.unwrap_or_default());
    Ok(json_feed(
        &title,
        &me,
        &format!("{base}/articles/{id}"),
        &entries,
    ))
}
