//! The pages people read: watches, article, diff, version, raw page, changes, search,
//! integrity, login. Server-rendered from askama templates (`templates/`), whose syntax and
//! fields are checked when stet compiles; every page works without JavaScript.
//!
//! Never builds HTML by concatenating unescaped archive text: templates escape, and the few
//! pre-rendered fragments (diff lines, snippets) come from `view`, which escapes.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::view::{self, DiffView, Side, escape};
use super::{AppState, Failure, auth, http_date, memento};
use crate::pure::model::{ContentHash, Significance, VersionSeq, WatchId};
use crate::store::{
    ChangeItem, ChangeQuery, SearchQuery, Store, Version, VersionMeta, WatchListItem, WatchQuery,
    WatchSort,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(watches))
        .route("/watches", post(add_watch))
        .route("/articles/{id}", get(article))
        .route("/articles/{id}/remove", post(remove_watch))
        .route("/articles/{id}/diff", get(diff_by_seq))
        .route("/articles/{id}/diff/{from}/{to}", get(diff_by_hash))
        .route("/articles/{id}/versions/{seq}", get(version_page))
        .route("/raw/{id}/{seq}", get(raw_page))
        .route("/changes", get(changes))
        .route("/search", get(search))
        .route("/integrity", get(integrity))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

/// An HTML handler's error: a page saying what went wrong.
pub(crate) struct PageError(Failure);

impl From<Failure> for PageError {
    fn from(f: Failure) -> Self {
        Self(f)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        failure_page(&self.0, "")
    }
}

type PageResult = Result<Response, PageError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: &'a str,
    status: u16,
    title: &'a str,
    detail: &'a str,
    login: bool,
}

/// The page of a refused or failed request.
pub(crate) fn failure_page(failure: &Failure, _path: &str) -> Response {
    let page = ErrorPage {
        nav: "",
        status: failure.status.as_u16(),
        title: failure.title,
        detail: &failure.detail,
        login: failure.status == StatusCode::UNAUTHORIZED,
    };
    let mut response = (failure.status, render(&page)).into_response();
    if failure.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"stet\""),
        );
    }
    response
}

pub(super) async fn not_found() -> Response {
    failure_page(&Failure::not_found("there is no such page"), "")
}

fn render(t: &impl Template) -> Html<String> {
    Html(t.render().unwrap_or_else(|e| {
        format!(
            "<p>the page could not be rendered: {}</p>",
            escape(&e.to_string())
        )
    }))
}

/// An empty form field is no filter.
fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A query string built from pairs, empty values left out.
fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A time as people read it: `2026-12-01 08:22:39 UTC`.
fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

// ---------------------------------------------------------------------------------------------
// Watches

#[derive(Debug, Default, Deserialize)]
pub(super) struct WatchFilter {
    status: Option<String>,
    site: Option<String>,
    significance: Option<String>,
    feed: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

impl WatchFilter {
    pub(super) fn query(&self, limit: usize) -> Result<WatchQuery, Failure> {
        Ok(WatchQuery {
            status: nonempty(&self.status),
            host: nonempty(&self.site),
            significance: nonempty(&self.significance)
                .map(|s| s.parse::<Significance>())
                .transpose()
                .map_err(Failure::bad_request)?,
            feed: nonempty(&self.feed)
                .map(|f| f.parse::<i64>())
                .transpose()
                .map_err(|_| Failure::bad_request("feed must be a feed id"))?,
            text: nonempty(&self.q),
            sort: match nonempty(&self.sort) {
                None => WatchSort::default(),
                Some(s) => WatchSort::parse(&s)
                    .ok_or_else(|| Failure::bad_request(format!("unknown sort {s:?}")))?,
            },
            after: nonempty(&self.after),
            limit,
        })
    }
}

struct WatchRow {
    id: i64,
    url: String,
    host: String,
    status: String,
    title: String,
    versions: i64,
    last_change: String,
    last_kind: String,
    significance: String,
    /// The checks in a row that met a wall, when there are at least [`WALLED_AFTER`] of them
    /// (else 0): the user may give stet a way in (`headers_file` of the `[[watch]]`).
    walled: i64,
}

/// Blocked checks in a row from which the watch list flags a watch as walled.
pub const WALLED_AFTER: i64 = 3;

impl From<WatchListItem> for WatchRow {
    fn from(w: WatchListItem) -> Self {
        Self {
            id: w.id.0,
            title: w.title.clone().unwrap_or_else(|| w.url.clone()),
            url: w.url,
            host: w.host,
            status: w.status,
            versions: w.versions,
            last_change: w.last_event_at.as_deref().map(when).unwrap_or_default(),
            last_kind: w.last_event_kind.unwrap_or_default(),
            significance: w.last_significance.unwrap_or_default(),
            walled: if w.blocked_run >= WALLED_AFTER {
                w.blocked_run
            } else {
                0
            },
        }
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(current: &Option<String>, options: &[(&str, &str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: current.as_deref().unwrap_or("") == *value,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "watches.html")]
struct WatchesPage {
    nav: &'static str,
    rows: Vec<WatchRow>,
    statuses: Vec<Choice>,
    sites: Vec<Choice>,
    significances: Vec<Choice>,
    sorts: Vec<Choice>,
    feed: String,
    q: String,
    next_url: Option<String>,
    first_url: Option<String>,
    counts: String,
    csrf: Option<String>,
}

async fn watches(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(filter): Query<WatchFilter>,
) -> PageResult {
    let query = filter.query(50)?;
    let (page, hosts, counts) = state
        .with_store(move |s| {
            Ok((
                s.watch_list_page(&query)?,
                s.watch_hosts()?,
                s.archive_counts()?,
            ))
        })
        .await?;
    let keep = |after: Option<String>| {
        query_string(&[
            ("status", nonempty(&filter.status)),
            ("site", nonempty(&filter.site)),
            ("significance", nonempty(&filter.significance)),
            ("feed", nonempty(&filter.feed)),
            ("q", nonempty(&filter.q)),
            ("sort", nonempty(&filter.sort)),
            ("after", after),
        ])
    };
    let mut sites = vec![Choice {
        value: String::new(),
        label: "every site".into(),
        selected: nonempty(&filter.site).is_none(),
    }];
    sites.extend(hosts.into_iter().map(|(host, n)| Choice {
        selected: nonempty(&filter.site).as_deref() == Some(host.as_str()),
        label: format!("{host} ({n})"),
        value: host,
    }));
    let page = WatchesPage {
        nav: "watches",
        rows: page.items.into_iter().map(WatchRow::from).collect(),
        statuses: choices(
            &nonempty(&filter.status),
            &[
                ("", "every status"),
                ("live", "live"),
                ("missing", "missing"),
                ("deleted", "deleted"),
                ("new", "not yet captured"),
                ("removed", "no longer watched"),
            ],
        ),
        sites,
        significances: choices(
            &nonempty(&filter.significance),
            &[
                ("", "any change"),
                ("substantive", "substantive"),
                ("minor", "minor"),
            ],
        ),
        sorts: choices(
            &nonempty(&filter.sort),
            &[
                ("", "last change"),
                ("added", "recently added"),
                ("title", "title"),
                ("versions", "most versions"),
            ],
        ),
        feed: nonempty(&filter.feed).unwrap_or_default(),
        q: nonempty(&filter.q).unwrap_or_default(),
        next_url: page.next.map(|n| format!("/?{}", keep(Some(n)))),
        first_url: nonempty(&filter.after).map(|_| format!("/?{}", keep(None))),
        counts: format!(
            "{} articles watched, {} versions, {} events",
            counts.0, counts.1, counts.2
        ),
        csrf: session_csrf(&state, &headers),
    };
    Ok(render(&page).into_response())
}

/// The CSRF token of the logged-in person's forms; `None` when nobody is logged in.
fn session_csrf(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let session = auth::session_cookie(headers)?;
    state
        .access()
        .accepts(session)
        .then(|| state.access().csrf_token(session))
}

#[derive(Deserialize)]
struct AddForm {
    url: String,
    csrf: Option<String>,
}

/// Checks a form post: a session cookie with its CSRF token, or an `Authorization` header.
fn form_allowed(state: &AppState, headers: &HeaderMap, csrf: Option<&str>) -> Result<(), Failure> {
    match state.access().authenticated(headers) {
        Some(auth::Via::Header) => Ok(()),
        Some(auth::Via::Cookie) => {
            let session = auth::session_cookie(headers).unwrap_or_default();
            if state.access().csrf_ok(session, csrf.unwrap_or("")) {
                Ok(())
            } else {
                Err(Failure::forbidden(
                    "the form's CSRF token is missing or wrong; reload the page",
                ))
            }
        }
        None => Err(Failure::unauthorized("log in first")),
    }
}

async fn add_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> PageResult {
    form_allowed(&state, &headers, form.csrf.as_deref())?;
    let url = crate::net::fetch::parse_watch_url(&form.url)
        .map_err(|e| Failure::bad_request(e.to_string()))?
        .to_string();
    let id = state
        .with_writer(move |s| {
            Ok(
                s.add_watch(&url, "web", &crate::pure::model::now_rfc3339())?
                    .0,
            )
        })
        .await?;
    Ok(Redirect::to(&format!("/articles/{}", id.0)).into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn remove_watch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    form_allowed(&state, &headers, form.csrf.as_deref())?;
    state
        .with_writer(move |s| {
            let item = s
                .watch_item(WatchId(id))?
                .ok_or_else(|| Failure::not_found(format!("no article {id}")))?;
            s.remove_watch(&item.url, &crate::pure::model::now_rfc3339())?;
            Ok(())
        })
        .await?;
    Ok(Redirect::to(&format!("/articles/{id}")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Article

struct VersionRow {
    seq: i64,
    when: String,
    short: String,
    hash: String,
    title: String,
    from_checked: bool,
    to_checked: bool,
}

struct TimelineEntry {
    when: String,
    kind: String,
    text: String,
    version: Option<i64>,
    diff_url: Option<String>,
    significance: String,
    /// Failed checks, folded into one line.
    folded: Vec<String>,
}

#[derive(Template)]
#[template(path = "article.html")]
struct ArticlePage {
    nav: &'static str,
    id: i64,
    url: String,
    title: String,
    byline: String,
    published: String,
    status: String,
    host: String,
    versions: Vec<VersionRow>,
    timeline: Vec<TimelineEntry>,
    latest_diff: Option<String>,
    timemap: String,
    csrf: Option<String>,
    removed: bool,
}

fn article_data(s: &Store, id: WatchId) -> Result<(WatchListItem, Vec<VersionMeta>), Failure> {
    let item = s
        .watch_item(id)?
        .ok_or_else(|| Failure::not_found(format!("no article {}", id.0)))?;
    let versions = s.versions(id)?;
    Ok((item, versions))
}

async fn article(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> PageResult {
    let id = WatchId(id);
    let (item, versions, events, checks, sizes) = state
        .with_store(move |s| {
            let (item, versions) = article_data(s, id)?;
            let events = s.events(id)?;
            let checks = s.checks(id)?;
            // The size of each edit, in words, from the stored texts.
            let mut sizes = std::collections::HashMap::new();
            let mut previous: Option<Version> = None;
            for v in &versions {
                let current = s.version(id, Some(v.seq))?;
                if let (Some(old), Some(new)) = (&previous, &current) {
                    let r = crate::pure::diff::diff(&old.text, &new.text, 0);
                    sizes.insert(v.seq.0, (r.words_added, r.words_removed));
                }
                previous = current;
            }
            Ok((item, versions, events, checks, sizes))
        })
        .await?;
    let latest = versions.last();
    let n = versions.len();
    let version_rows = versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            seq: v.seq.0,
            when: when(&v.captured_at),
            short: v.content_hash.short(),
            hash: v.content_hash.to_hex(),
            title: v.title.clone(),
            from_checked: n >= 2 && v.seq.0 == versions[n - 2].seq.0,
            to_checked: Some(v.seq) == latest.map(|l| l.seq),
        })
        .collect();
    let mut timeline: Vec<TimelineEntry> = Vec::new();
    for e in &events {
        let version = e.version.map(|v| v.0);
        let mut text = match e.kind {
            crate::pure::model::CheckKind::Captured => "first captured".to_string(),
            crate::pure::model::CheckKind::Edited => "edited".to_string(),
            crate::pure::model::CheckKind::Deleted => {
                "deleted (gone on consecutive checks)".to_string()
            }
            crate::pure::model::CheckKind::Restored => "restored (online again)".to_string(),
            other => other.as_str().to_string(),
        };
        if let Some(v) = e
            .version
            .filter(|_| e.kind == crate::pure::model::CheckKind::Edited)
            && let Some((added, removed)) = sizes.get(&v.0)
        {
            text.push_str(&format!(": {added} word(s) added, {removed} removed"));
        }
        if let Some(r) = e.reverted_to {
            text.push_str(&format!("; text as in version {r}"));
        }
        if let Some(d) = &e.detail {
            text.push_str(&format!(" ({d})"));
        }
        let diff_url = match (e.from_version, e.version) {
            (Some(f), Some(t)) if f != t => {
                Some(format!("/articles/{}/diff?from={f}&to={t}", id.0))
            }
            _ => None,
        };
        timeline.push(TimelineEntry {
            when: when(&e.at),
            kind: e.kind.as_str().to_string(),
            text,
            version,
            diff_url,
            significance: e
                .significance
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            folded: Vec::new(),
        });
    }
    // Failed and inconclusive checks, folded: they are not changes, but a reader may ask.
    let failures: Vec<String> = checks
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                crate::pure::model::CheckKind::Error | crate::pure::model::CheckKind::Missing
            )
        })
        .map(|c| {
            let status = c
                .http_status
                .map(|s| format!(" HTTP {s}"))
                .unwrap_or_default();
            let times = if c.count > 1 {
                format!(" ×{} until {}", c.count, when(&c.last_at))
            } else {
                String::new()
            };
            format!(
                "{} {}{status}{times}{}",
                when(&c.first_at),
                c.kind.as_str(),
                c.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !failures.is_empty() {
        timeline.push(TimelineEntry {
            when: String::new(),
            kind: "error".into(),
            text: format!("{} failed or inconclusive check(s)", failures.len()),
            version: None,
            diff_url: None,
            significance: String::new(),
            folded: failures,
        });
    }
    // Checks that met a wall: the archive's latest version stays the full one.
    let blocked: Vec<String> = checks
        .iter()
        .filter(|c| c.kind == crate::pure::model::CheckKind::Blocked)
        .map(|c| {
            let times = if c.count > 1 {
                format!(" ×{} until {}", c.count, when(&c.last_at))
            } else {
                String::new()
            };
            format!(
                "{} blocked{times}: {}",
                when(&c.first_at),
                c.detail.as_deref().unwrap_or("a wall")
            )
        })
        .collect();
    if !blocked.is_empty() {
        let n: i64 = checks
            .iter()
            .filter(|c| c.kind == crate::pure::model::CheckKind::Blocked)
            .map(|c| c.count)
            .sum();
        timeline.push(TimelineEntry {
            when: String::new(),
            kind: "blocked".into(),
            text: format!(
                "{n} check(s) blocked by a wall (paywall, registration or consent): not versions, \
                 the archive keeps the full text"
            ),
            version: None,
            diff_url: None,
            significance: String::new(),
            folded: blocked,
        });
    }
    let page = ArticlePage {
        nav: "watches",
        id: id.0,
        title: item.title.clone().unwrap_or_else(|| item.url.clone()),
        byline: latest.and_then(|l| l.byline.clone()).unwrap_or_default(),
        published: latest.and_then(|l| l.published.clone()).unwrap_or_default(),
        status: item.status.clone(),
        host: item.host.clone(),
        versions: version_rows,
        timeline,
        latest_diff: (n >= 2).then(|| format!("/articles/{}/diff", id.0)),
        timemap: memento::timemap_path(&item.url),
        csrf: session_csrf(&state, &headers),
        removed: item.status == "removed",
        url: item.url,
    };
    Ok(render(&page).into_response())
}

// ---------------------------------------------------------------------------------------------
// Diff

#[derive(Debug, Deserialize)]
struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
    view: Option<String>,
}

struct VersionInfo {
    seq: i64,
    when: String,
    hash: String,
    body_hash: String,
    ledger: String,
    url: String,
}

struct Link {
    url: String,
    label: String,
}

#[derive(Template)]
#[template(path = "diff.html")]
struct DiffPage {
    nav: &'static str,
    id: i64,
    url: String,
    title: String,
    old: VersionInfo,
    new: VersionInfo,
    view: DiffView,
    inline: bool,
    side_url: String,
    inline_url: String,
    prev: Option<Link>,
    next: Option<Link>,
    permalink: String,
    diff_command: String,
    verify_command: String,
    from_choices: Vec<Choice>,
    to_choices: Vec<Choice>,
}

async fn diff_by_seq(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DiffQuery>,
) -> PageResult {
    diff_page(state, WatchId(id), Pick::Seq(q.from, q.to), q.view).await
}

async fn diff_by_hash(
    State(state): State<AppState>,
    Path((id, from, to)): Path<(i64, String, String)>,
    Query(q): Query<DiffQuery>,
) -> PageResult {
    let parse = |h: &str| {
        h.parse::<ContentHash>()
            .map_err(|_| Failure::bad_request(format!("{h:?} is not a content hash")))
    };
    diff_page(
        state,
        WatchId(id),
        Pick::Hash(parse(&from)?, parse(&to)?),
        q.view,
    )
    .await
}

pub(super) enum Pick {
    Seq(Option<i64>, Option<i64>),
    Hash(ContentHash, ContentHash),
}

/// The two versions a diff compares: by number (default: the latest and the one before) or
/// by content hash.
pub(super) fn pick_versions(
    s: &Store,
    id: WatchId,
    pick: &Pick,
) -> Result<(Version, Version, Vec<VersionMeta>), Failure> {
    let versions = s.versions(id)?;
    let latest = versions
        .last()
        .ok_or_else(|| Failure::not_found(format!("article {} has no version yet", id.0)))?
        .seq;
    let (from, to) = match pick {
        Pick::Seq(from, to) => {
            let to = to.map(VersionSeq).unwrap_or(latest);
            let from = from
                .map(VersionSeq)
                .unwrap_or(VersionSeq((to.0 - 1).max(1)));
            (from, to)
        }
        Pick::Hash(a, b) => {
            let find = |h: &ContentHash| {
                s.version_by_hash(id, h)?.ok_or_else(|| {
                    Failure::not_found(format!("article {} has no version with content {h}", id.0))
                })
            };
            (find(a)?, find(b)?)
        }
    };
    let load = |seq: VersionSeq| {
        s.version(id, Some(seq))?
            .ok_or_else(|| Failure::not_found(format!("article {} has no version {seq}", id.0)))
    };
    Ok((load(from)?, load(to)?, versions))
}

async fn diff_page(
    state: AppState,
    id: WatchId,
    pick: Pick,
    view_mode: Option<String>,
) -> PageResult {
    let (item, old, new, versions, old_pos, new_pos) = state
        .with_store(move |s| {
            let item = s
                .watch_item(id)?
                .ok_or_else(|| Failure::not_found(format!("no article {}", id.0)))?;
            let (old, new, versions) = pick_versions(s, id, &pick)?;
            let old_pos = s.version_ledger_position(id, old.meta.seq)?;
            let new_pos = s.version_ledger_position(id, new.meta.seq)?;
            Ok((item, old, new, versions, old_pos, new_pos))
        })
        .await?;
    let inline = view_mode.as_deref() == Some("inline");
    fn side(v: &Version) -> Side<'_> {
        Side {
            text: &v.text,
            title: &v.meta.title,
            byline: v.meta.byline.as_deref(),
            published: v.meta.published.as_deref(),
        }
    }
    let diff = view::diff_view(&side(&old), &side(&new));
    let info = |v: &Version, pos: Option<crate::store::LedgerPosition>| VersionInfo {
        seq: v.meta.seq.0,
        when: when(&v.meta.captured_at),
        hash: v.meta.content_hash.to_hex(),
        body_hash: v.meta.body_hash.to_hex(),
        ledger: pos
            .map(|p| format!("entry {} ({})", p.seq, &p.hash[..16.min(p.hash.len())]))
            .unwrap_or_else(|| "no entry".into()),
        url: format!("/articles/{}/versions/{}", id.0, v.meta.seq),
    };
    let (f, t) = (old.meta.seq.0, new.meta.seq.0);
    let mode = if inline { "&view=inline" } else { "" };
    let max = versions.last().map(|v| v.seq.0).unwrap_or(1);
    let prev = (f > 1).then(|| Link {
        url: format!("/articles/{}/diff?from={}&to={}{mode}", id.0, f - 1, f),
        label: format!("← versions {} → {}", f - 1, f),
    });
    let next = (t < max).then(|| Link {
        url: format!("/articles/{}/diff?from={}&to={}{mode}", id.0, t, t + 1),
        label: format!("versions {} → {} →", t, t + 1),
    });
    let selector = |current: i64| {
        versions
            .iter()
            .map(|v| Choice {
                value: v.seq.0.to_string(),
                label: format!(
                    "v{} · {} · {}",
                    v.seq,
                    when(&v.captured_at),
                    v.content_hash.short()
                ),
                selected: v.seq.0 == current,
            })
            .collect()
    };
    let page = DiffPage {
        nav: "watches",
        id: id.0,
        title: item.title.clone().unwrap_or_else(|| item.url.clone()),
        side_url: format!("/articles/{}/diff?from={f}&to={t}", id.0),
        inline_url: format!("/articles/{}/diff?from={f}&to={t}&view=inline", id.0),
        permalink: format!(
            "/articles/{}/diff/{}/{}",
            id.0,
            old.meta.content_hash.to_hex(),
            new.meta.content_hash.to_hex()
        ),
        diff_command: format!("stet diff {} --from {f} --to {t}", shell_quote(&item.url)),
        verify_command: "stet verify".to_string(),
        from_choices: selector(f),
        to_choices: selector(t),
        old: info(&old, old_pos),
        new: info(&new, new_pos),
        view: diff,
        inline,
        prev,
        next,
        url: item.url,
    };
    Ok(render(&page).into_response())
}

/// A URL as a shell word.
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/:._-%+=,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

// ---------------------------------------------------------------------------------------------
// Version and raw page

#[derive(Template)]
#[template(path = "version.html")]
struct VersionPage {
    nav: &'static str,
    id: i64,
    url: String,
    seq: i64,
    title: String,
    byline: String,
    published: String,
    when: String,
    final_url: String,
    http_status: u16,
    paragraphs: Vec<String>,
    content_hash: String,
    body_hash: String,
    ledger: String,
    raw_url: String,
    prev_diff: Option<String>,
    show_command: String,
}

async fn version_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, seq)): Path<(i64, i64)>,
) -> PageResult {
    let wid = WatchId(id);
    let (item, version, pos) = state
        .with_store(move |s| {
            let item = s
                .watch_item(wid)?
                .ok_or_else(|| Failure::not_found(format!("no article {id}")))?;
            let version = s
                .version(wid, Some(VersionSeq(seq)))?
                .ok_or_else(|| Failure::not_found(format!("article {id} has no version {seq}")))?;
            let pos = s.version_ledger_position(wid, VersionSeq(seq))?;
            Ok((item, version, pos))
        })
        .await?;
    let m = &version.meta;
    let page = VersionPage {
        nav: "watches",
        id,
        seq,
        title: m.title.clone(),
        byline: m.byline.clone().unwrap_or_default(),
        published: m.published.clone().unwrap_or_default(),
        when: when(&m.captured_at),
        final_url: m.final_url.clone(),
        http_status: m.http_status,
        paragraphs: version.text.lines().skip(1).map(str::to_string).collect(),
        content_hash: m.content_hash.to_hex(),
        body_hash: m.body_hash.to_hex(),
        ledger: pos
            .map(|p| format!("entry {}, hash {}", p.seq, p.hash))
            .unwrap_or_else(|| "no entry".into()),
        raw_url: format!("/raw/{id}/{seq}"),
        prev_diff: (seq > 1).then(|| format!("/articles/{id}/diff?from={}&to={seq}", seq - 1)),
        show_command: format!("stet show {} --version {seq}", shell_quote(&item.url)),
        url: item.url.clone(),
    };
    let mut response = render(&page).into_response();
    memento::memento_headers(
        &mut response,
        &state.base(&headers),
        &item.url,
        &m.captured_at,
    );
    Ok(response)
}

async fn raw_page(State(state): State<AppState>, Path((id, seq)): Path<(i64, i64)>) -> PageResult {
    let wid = WatchId(id);
    let (meta, body) = state
        .with_store(move |s| {
            let version = s
                .version(wid, Some(VersionSeq(seq)))?
                .ok_or_else(|| Failure::not_found(format!("article {id} has no version {seq}")))?;
            let body = s.blob(&version.meta.body_hash)?.ok_or_else(|| {
                Failure::internal(format!(
                    "the raw body {} is missing",
                    version.meta.body_hash
                ))
            })?;
            Ok((version.meta, body))
        })
        .await?;
    let etag = format!("\"{}\"", meta.body_hash.to_hex());
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html".to_string()),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        body,
    )
        .into_response();
    if let Some(date) = http_date(&meta.captured_at)
        && let Ok(v) = HeaderValue::from_str(&date)
    {
        response.headers_mut().insert("memento-datetime", v);
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Changes

#[derive(Debug, Default, Deserialize)]
pub(super) struct ChangeFilter {
    pub kind: Option<String>,
    pub significance: Option<String>,
    pub site: Option<String>,
    pub since: Option<String>,
    pub before: Option<i64>,
}

impl ChangeFilter {
    pub(super) fn query(&self, limit: usize) -> Result<ChangeQuery, Failure> {
        let kind = nonempty(&self.kind);
        if let Some(k) = &kind
            && !["edited", "deleted", "restored"].contains(&k.as_str())
        {
            return Err(Failure::bad_request(format!(
                "kind must be edited, deleted or restored, not {k:?}"
            )));
        }
        let since = nonempty(&self.since).map(|s| parse_time(&s)).transpose()?;
        Ok(ChangeQuery {
            kind,
            significance: nonempty(&self.significance)
                .map(|s| s.parse::<Significance>())
                .transpose()
                .map_err(Failure::bad_request)?,
            host: nonempty(&self.site),
            watch: None,
            since,
            after_id: None,
            before_id: self.before,
            limit,
        })
    }
}

/// A time given as RFC 3339 or a date, normalised as the archive stores times.
pub(super) fn parse_time(s: &str) -> Result<String, Failure> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(format!("{d}T00:00:00.000Z"));
    }
    Err(Failure::bad_request(format!(
        "{s:?} is not a time (RFC 3339, like 2026-12-01T08:00:00Z, or a date)"
    )))
}

pub(super) struct ChangeRow {
    pub id: i64,
    pub article: i64,
    pub title: String,
    pub url: String,
    pub kind: String,
    pub when: String,
    pub significance: String,
    pub diff_url: Option<String>,
    pub version_url: Option<String>,
    pub text: String,
}

pub(super) fn change_row(c: &ChangeItem) -> ChangeRow {
    let diff_url = match (c.from_version, c.version) {
        (Some(f), Some(t)) if f != t => {
            Some(format!("/articles/{}/diff?from={f}&to={t}", c.watch_id.0))
        }
        _ => None,
    };
    let text = match c.kind.as_str() {
        "edited" => format!(
            "edited: version {} → {}",
            c.from_version.map(|v| v.0).unwrap_or(0),
            c.version.map(|v| v.0).unwrap_or(0)
        ),
        "deleted" => format!(
            "deleted; the last version was {}",
            c.version.map(|v| v.0).unwrap_or(0)
        ),
        "restored" => match c.reverted_to {
            Some(r) => format!("restored with the text of version {r}"),
            None => "restored".to_string(),
        },
        other => other.to_string(),
    };
    ChangeRow {
        id: c.id,
        article: c.watch_id.0,
        title: c.title.clone().unwrap_or_else(|| c.url.clone()),
        url: c.url.clone(),
        kind: c.kind.clone(),
        when: when(&c.at),
        significance: c.significance.clone().unwrap_or_default(),
        diff_url,
        version_url: c
            .version
            .map(|v| format!("/articles/{}/versions/{v}", c.watch_id.0)),
        text,
    }
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    nav: &'static str,
    rows: Vec<ChangeRow>,
    kinds: Vec<Choice>,
    significances: Vec<Choice>,
    site: String,
    since: String,
    next_url: Option<String>,
    atom_url: String,
    json_url: String,
}

async fn changes(State(state): State<AppState>, Query(filter): Query<ChangeFilter>) -> PageResult {
    let query = filter.query(50)?;
    let items = state.with_store(move |s| Ok(s.changes(&query)?)).await?;
    let keep = |before: Option<String>| {
        query_string(&[
            ("kind", nonempty(&filter.kind)),
            ("significance", nonempty(&filter.significance)),
            ("site", nonempty(&filter.site)),
            ("since", nonempty(&filter.since)),
            ("before", before),
        ])
    };
    let next_url = (items.len() == 50 && nonempty(&filter.since).is_none())
        .then(|| {
            items
                .last()
                .map(|c| format!("/changes?{}", keep(Some(c.id.to_string()))))
        })
        .flatten();
    let feed_query = keep(None);
    let page = ChangesPage {
        nav: "changes",
        rows: items.iter().map(change_row).collect(),
        kinds: choices(
            &nonempty(&filter.kind),
            &[
                ("", "edits, deletions and restorations"),
                ("edited", "edits"),
                ("deleted", "deletions"),
                ("restored", "restorations"),
            ],
        ),
        significances: choices(
            &nonempty(&filter.significance),
            &[
                ("", "any significance"),
                ("substantive", "substantive"),
                ("minor", "minor"),
            ],
        ),
        site: nonempty(&filter.site).unwrap_or_default(),
        since: nonempty(&filter.since).unwrap_or_default(),
        next_url,
        atom_url: format!("/feeds/changes.atom?{feed_query}"),
        json_url: format!("/feeds/changes.json?{feed_query}"),
    };
    Ok(render(&page).into_response())
}

// ---------------------------------------------------------------------------------------------
// Search

#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchParams {
    pub q: Option<String>,
}

struct HitRow {
    article: i64,
    title: String,
    url: String,
    snippet: String,
    versions: String,
    version_url: String,
    removed: Option<Link>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: &'static str,
    q: String,
    rows: Vec<HitRow>,
    searched: bool,
}

/// A snippet with its match markers turned into `<mark>`, the rest escaped.
pub(super) fn snippet_html(snippet: &str) -> String {
    escape(snippet)
        .replace(crate::store::MATCH_START, "<mark>")
        .replace(crate::store::MATCH_END, "</mark>")
}

async fn search(State(state): State<AppState>, Query(params): Query<SearchParams>) -> PageResult {
    let q = nonempty(&params.q).unwrap_or_default();
    let text = q.clone();
    let hits = if q.is_empty() {
        Vec::new()
    } else {
        state
            .with_store(move |s| {
                // Catch up with what was stored since the indexer last ran.
                if let Err(e) = s.index_search(2000) {
                    tracing::debug!(error = %e, "search index not updated");
                }
                Ok(s.search(&SearchQuery { text, limit: 50 })?)
            })
            .await?
    };
    let rows = hits
        .into_iter()
        .map(|h| {
            let newest = h.versions.last().map(|v| v.0).unwrap_or(h.latest.0);
            HitRow {
                article: h.watch_id.0,
                title: h.title.clone().unwrap_or_else(|| h.url.clone()),
                versions: h
                    .versions
                    .iter()
                    .map(|v| format!("v{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                version_url: format!("/articles/{}/versions/{newest}", h.watch_id.0),
                removed: h.removed_in.map(|r| Link {
                    url: format!("/articles/{}/diff?from={}&to={r}", h.watch_id.0, r.0 - 1),
                    label: format!("removed in version {r}"),
                }),
                snippet: snippet_html(&h.snippet),
                url: h.url,
            }
        })
        .collect();
    let page = SearchPage {
        nav: "search",
        searched: !q.is_empty(),
        q,
        rows,
    };
    Ok(render(&page).into_response())
}

// ---------------------------------------------------------------------------------------------
// Integrity

#[derive(Template)]
#[template(path = "integrity.html")]
struct IntegrityPage {
    nav: &'static str,
    head: String,
    entries: i64,
    last: Option<String>,
    last_ok: bool,
    counts: String,
}

async fn integrity(State(state): State<AppState>) -> PageResult {
    let (head, last, counts) = state
        .with_store(|s| {
            Ok((
                s.ledger_head()?,
                s.last_verification()?,
                s.archive_counts()?,
            ))
        })
        .await?;
    let page = IntegrityPage {
        nav: "integrity",
        head: head.map(|h| h.to_string()).unwrap_or_default(),
        entries: head.map(|h| h.entries).unwrap_or(0),
        last_ok: last.as_ref().is_some_and(|l| l.ok),
        last: last.map(|l| {
            format!(
                "{}: {} — {} versions and {} ledger entries checked{}",
                when(&l.at),
                if l.ok { "verified" } else { "FAILED" },
                l.versions,
                l.entries,
                if l.ok {
                    String::new()
                } else {
                    format!(", {} problem(s)", l.failures)
                }
            )
        }),
        counts: format!(
            "{} articles watched, {} versions, {} events",
            counts.0, counts.1, counts.2
        ),
    };
    Ok(render(&page).into_response())
}

// ---------------------------------------------------------------------------------------------
// Login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: &'static str,
    message: String,
    logged_in: bool,
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let page = LoginPage {
        nav: "login",
        message: String::new(),
        logged_in: session_csrf(&state, &headers).is_some(),
    };
    Ok(render(&page).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    if auth::cross_site(&headers) {
        return Err(Failure::forbidden("cross-site login refused").into());
    }
    let token = form.token.trim();
    if !state.access().accepts(token) {
        tracing::info!("login refused: token not accepted");
        let page = LoginPage {
            nav: "login",
            message: "That token is not accepted.".into(),
            logged_in: false,
        };
        return Ok((StatusCode::UNAUTHORIZED, render(&page)).into_response());
    }
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict",
        auth::SESSION_COOKIE
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("stet_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
