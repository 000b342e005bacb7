//! Article extraction: turns a raw HTML body into an [`Article`] (title, byline, dates and the
//! article text as paragraphs).
//!
//! Owns charset decoding, the HTML-or-not decision, the removal of page furniture that changes on
//! every load (ads, promos, related lists, relative timestamps, comment counts, navigation,
//! sidebars, forms, scripts), the readability pass (`dom_smoothie`) and soft-404 detection.
//! Pure: takes bytes and strings, returns data; never does I/O.

use std::sync::LazyLock;

use dom_query::{Document, NodeRef};
use regex::Regex;

/// What stet knows of an article at one moment, before canonicalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Article {
    /// The headline a reader sees: the article's `<h1>`, or else the headline it declares.
    pub title: String,
    /// The other headlines the page declares (`og:title`, `twitter:title`, JSON-LD `headline`,
    /// `<title>` without the site's name) where they differ from `title`: part of the article,
    /// so a change of one is an edit.
    pub headlines: Vec<String>,
    pub byline: Option<String>,
    pub published: Option<String>,
    pub modified: Option<String>,
    /// `<link rel="canonical">`, when the page names one.
    pub canonical_url: Option<String>,
    /// The article text, one entry per paragraph, heading or list item, in page order.
    pub paragraphs: Vec<String>,
    /// The page answered 200 but says the article does not exist ("page not found").
    pub looks_not_found: bool,
}

/// Why a body is not treated as an article page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotHtml {
    #[error("not HTML: content type {0}")]
    ContentType(String),
    #[error("not HTML: the body is binary")]
    Binary,
}

/// Decides from the Content-Type header and the first bytes whether a body is an HTML page.
/// A missing or generic content type is settled by sniffing; binary bodies are refused even when
/// the server calls them HTML.
pub fn check_html(content_type: Option<&str>, body: &[u8]) -> Result<(), NotHtml> {
    let head = &body[..body.len().min(1024)];
    if head.contains(&0) {
        return Err(NotHtml::Binary);
    }
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "text/html" | "application/xhtml+xml" => Ok(()),
        "" | "application/octet-stream" | "text/plain" if sniff_html(head) => Ok(()),
        "" | "application/octet-stream" => Err(NotHtml::ContentType(if mime.is_empty() {
            "(none)".into()
        } else {
            mime
        })),
        _ => Err(NotHtml::ContentType(mime)),
    }
}

fn sniff_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with("<!doctype html") || text.starts_with("<html") || text.contains("<body")
}

/// Decodes an HTML body to text: the byte-order mark first, then the Content-Type charset, then a
/// `<meta charset>` in the first bytes, then statistical detection. Undecodable bytes become
/// U+FFFD rather than failing the capture.
pub fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let encoding = encoding_rs::Encoding::for_bom(body)
        .map(|(enc, _)| enc)
        .or_else(|| content_type.and_then(charset_param).and_then(label))
        .or_else(|| meta_charset(&body[..body.len().min(4096)]).and_then(|l| label(&l)))
        .unwrap_or_else(|| {
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(&body[..body.len().min(64 * 1024)], body.len() <= 64 * 1024);
            detector.guess(None, chardetng::Utf8Detection::Allow)
        });
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

fn label(name: &str) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(name.trim().trim_matches(['"', '\'']).as_bytes())
}

fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then_some(v.trim())
    })
}

static META_CHARSET: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r#"(?i)<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.\-]+)"#).unwrap()
});

fn meta_charset(head: &[u8]) -> Option<String> {
    let caps = META_CHARSET.captures(head)?;
    Some(String::from_utf8_lossy(&caps[1]).into_owned())
}

/// Elements that are page furniture wherever they appear.
const FURNITURE: &str = "script:not([type='application/ld+json']), style, noscript, template, \
    iframe, button, input, select, textarea, svg, canvas, object, embed, [hidden], \
    [style*='display:none'], [style*='display: none']";

/// Elements that are page furniture unless they wrap the article: whole pages sit inside one
/// `<form>` (ASP.NET) or an `aria-hidden` wrapper while a dialog is open.
const FURNITURE_UNLESS_WRAPPER: &str = "form, nav, aside, footer, dialog, [aria-hidden='true'], \
    [role='navigation'], [role='complementary'], [role='contentinfo'], [role='dialog']";

/// Elements that hold the article, for telling a wrapper from furniture.
const ARTICLE_HOLDERS: &str = "article, main, [itemprop='articleBody'], [role='main'], h1";

/// Class or id parts that name a layout region as often as a box of furniture ("sidebar",
/// "widget"): such an element is kept when it holds much of the page's paragraph text.
const LAYOUT_PARTS: &[&str] = &[
    "sidebar",
    "rail",
    "widget",
    "related",
    "recirc",
    "recirculation",
    "trending",
    "popular",
    "breadcrumb",
    "breadcrumbs",
];

/// Words that, as a part of a class or id, mark an ad, a promo, a recirculation list or a
/// social/comment widget. Matched against the `-`/`_`-separated parts of each token, so
/// `ad-slot` and `promo_box` match while `header` and `download` do not.
const NOISE_PARTS: &[&str] = &[
    "ad",
    "ads",
    "adslot",
    "adunit",
    "advert",
    "adverts",
    "advertisement",
    "advertising",
    "dfp",
    "gpt",
    "sponsor",
    "sponsored",
    "promo",
    "promos",
    "promotion",
    "promoted",
    "outbrain",
    "taboola",
    "related",
    "recirc",
    "recirculation",
    "trending",
    "popular",
    "newsletter",
    "subscribe",
    "share",
    "sharing",
    "social",
    "comments",
    "comment",
    "disqus",
    "breadcrumb",
    "breadcrumbs",
    "sidebar",
    "rail",
    "widget",
    "cookie",
    "consent",
];

/// Elements that are a relative timestamp ("5 minutes ago", "Updated 2h ago") and nothing else.
static RELATIVE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s·•|—–-]*
        (?:(?:last\s+)?(?:updated|posted|published|edited|modified)[:\s]*)?
        (?:
          (?:\d+|an?|one)\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|mo|mos|months?|y|yrs?|years?)\s+ago
          | just\s+now | moments?\s+ago | yesterday | today
        )
        [\s.·•|—–-]*$",
    )
    .unwrap()
});

/// Elements that are a count of comments, shares or views and nothing else.
static ENGAGEMENT_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
          \(?\d[\d,.]*\s*[km]?\)?\s*(?:comments?|replies|responses|reactions|shares?|views?|likes?|reads?)
          | (?:comments?|replies|shares?|views?)\s*[:(]?\s*\d[\d,.]*\s*[km]?\s*\)?
          | (?:no|one)\s+comments?
          | (?:view|show|read|see|join)(?:\s+all)?(?:\s+\d[\d,.]*)?\s+comments?
        )\s*$",
    )
    .unwrap()
});

/// Paragraphs that are only a label left behind by an ad slot.
static AD_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:skip\s+)?(?:advertisement|advertising|sponsored(?:\s+content)?|ad|story continues below(?: advertisement)?)\s*$").unwrap()
});

static NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:\b404\b|(?:page|article|story|content|file)\s+(?:was\s+)?not\s+found|no\s+longer\s+(?:available|exists)|(?:does\s*n[o']t|doesn['’]t)\s+exist|could\s*n[o']t\s+be\s+found|cannot\s+be\s+found|can['’]t\s+be\s+found|page\s+you\s+(?:are|were|’re|'re)\s+looking\s+for)",
    )
    .unwrap()
});

/// The extraction pipeline's version, stored with every version it produced. When it differs
/// from the one that made a watch's latest version, that version's raw body is re-extracted
/// before comparing, so an upgrade of the pipeline is never mistaken for an edit. Bump it with
/// every change that can change an article's canonical text.
pub const EXTRACTOR: &str = "2";

/// The extractor version of versions stored before extractor versions were recorded.
pub const LEGACY_EXTRACTOR: &str = "1";

/// A watch's or feed's own extraction rules, validated when the config is loaded.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// CSS selector of the article container: only what it matches is read.
    pub select: Option<String>,
    /// CSS selectors of elements removed before extraction.
    pub ignore: Vec<String>,
    /// Paragraphs (lines) matching any of these are dropped from the article.
    pub ignore_text: Vec<Regex>,
}

/// A rule of [`Options`] that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("invalid CSS selector {selector:?}")]
    Selector { selector: String },
    #[error("invalid regular expression {pattern:?}: {message}")]
    Regex { pattern: String, message: String },
}

impl Options {
    /// Checks and compiles the rules as a user wrote them.
    pub fn new(
        select: Option<&str>,
        ignore: &[String],
        ignore_text: &[String],
    ) -> Result<Self, OptionsError> {
        for selector in select.into_iter().chain(ignore.iter().map(String::as_str)) {
            if dom_query::Matcher::new(selector).is_err() {
                return Err(OptionsError::Selector {
                    selector: selector.to_string(),
                });
            }
        }
        let ignore_text = ignore_text
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| OptionsError::Regex {
                    pattern: p.clone(),
                    message: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .into(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            select: select.map(str::to_string),
            ignore: ignore.to_vec(),
            ignore_text,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.select.is_none() && self.ignore.is_empty() && self.ignore_text.is_empty()
    }
}

/// Why a block of the page is not part of the article, as `stet extract --explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Page furniture by its element or role (`nav`, `aside`, `script`, hidden, ...).
    Furniture,
    /// A class or id part that marks an ad, promo, related list, share or comment widget.
    NoiseMarker(String),
    /// Only a relative timestamp or an engagement count.
    Ephemeral,
    /// Only an ad label ("Advertisement").
    AdLabel,
    /// Removed by the watch's own `ignore` selector.
    Ignore(String),
    /// Outside the watch's own `select` container.
    OutsideSelect(String),
    /// Dropped by the watch's own `ignore_text` pattern.
    IgnoreText(String),
    /// The headline, which is the title line rather than a paragraph.
    Headline,
    /// Left out by the readability pass (not part of the main text).
    NotMainText,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Furniture => f.write_str("furniture (element or role)"),
            Rule::NoiseMarker(m) => write!(f, "noise marker in class/id: {m}"),
            Rule::Ephemeral => f.write_str("relative timestamp or engagement count"),
            Rule::AdLabel => f.write_str("ad label"),
            Rule::Ignore(s) => write!(f, "ignore: {s}"),
            Rule::OutsideSelect(s) => write!(f, "outside select: {s}"),
            Rule::IgnoreText(p) => write!(f, "ignore_text: {p}"),
            Rule::Headline => f.write_str("headline (kept as the title line)"),
            Rule::NotMainText => f.write_str("not main text (readability)"),
        }
    }
}

/// One block of text the extraction removed, and the rule that removed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub text: String,
    pub rule: Rule,
}

/// What [`explain`] found: the article and every block of text left out of it.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub article: Article,
    pub removed: Vec<Removed>,
}

/// Extracts the article from an HTML page. `url` resolves relative links in metadata.
pub fn extract(html: &str, url: &str) -> Article {
    extract_with(html, url, &Options::default())
}

/// Extracts the article with a watch's own rules.
pub fn extract_with(html: &str, url: &str, options: &Options) -> Article {
    run(html, url, options, None)
}

/// Extracts the article and says which blocks were removed, and by which rule.
pub fn explain(html: &str, url: &str, options: &Options) -> Explanation {
    let mut removed = Vec::new();
    let article = run(html, url, options, Some(&mut removed));
    Explanation { article, removed }
}

/// Records removals when explaining; does nothing otherwise.
struct Trace<'a>(Option<&'a mut Vec<Removed>>);

impl Trace<'_> {
    fn on(&self) -> bool {
        self.0.is_some()
    }

    fn nodes(&mut self, nodes: &[NodeRef], rule: impl Fn(&NodeRef) -> Rule) {
        if let Some(out) = self.0.as_deref_mut() {
            for n in nodes {
                // A node inside one already recorded went with it.
                if n.ancestors_it(None)
                    .any(|a| nodes.iter().any(|o| o.id == a.id))
                {
                    continue;
                }
                let text = fold_spaces(&n.text());
                if !text.is_empty() {
                    out.push(Removed {
                        text,
                        rule: rule(n),
                    });
                }
            }
        }
    }

    fn text(&mut self, text: &str, rule: Rule) {
        if let Some(out) = self.0.as_deref_mut() {
            out.push(Removed {
                text: text.to_string(),
                rule,
            });
        }
    }
}

fn run(html: &str, url: &str, options: &Options, removed: Option<&mut Vec<Removed>>) -> Article {
    let mut trace = Trace(removed);
    let doc = Document::from(html);
    let declared = DeclaredHeadlines::of(&doc);
    let doc = apply_options(doc, options, &mut trace);
    let corrections = correction_blocks(&doc);
    remove_furniture(&doc, &mut trace);
    unwrap_lone_blocks(&doc);
    let h1s: Vec<String> = doc
        .select("body h1")
        .nodes()
        .iter()
        .map(|n| fold_spaces(&n.text()))
        .filter(|t| !t.is_empty())
        .collect();
    let canonical_url = doc
        .select("link[rel='canonical']")
        .attr("href")
        .map(|h| h.to_string());
    let page_title = fold_spaces(&doc.select("title").text());
    let body_text = fold_spaces(&doc.select("body").text());
    let body_text_len = body_text.chars().count();
    let cleaned = trace.on().then(|| paragraphs_of_body(&doc));

    let cfg = dom_smoothie::Config {
        max_elements_to_parse: 0,
        ..Default::default()
    };
    let parsed = dom_smoothie::Readability::with_document(doc, Some(url), Some(cfg))
        .or_else(|_| dom_smoothie::Readability::with_document(Document::from(""), None, None))
        .and_then(|mut r| r.parse());

    let mut article = Article {
        canonical_url,
        ..Default::default()
    };
    let readability_title;
    match parsed {
        Ok(found) => {
            readability_title = fold_spaces(&found.title);
            article.byline = found.byline.clone().filter(|b| !b.trim().is_empty());
            article.published = found.published_time.clone();
            article.modified = found.modified_time.clone();
            article.paragraphs = paragraphs_of_html(&found.content);
        }
        Err(_) => {
            // Readability found no article; keep the whole cleaned page so the text is still
            // archived and compared, and let the soft-404 check below judge it.
            readability_title = page_title.clone();
            let doc = apply_options(Document::from(html), options, &mut Trace(None));
            remove_furniture(&doc, &mut Trace(None));
            article.paragraphs = paragraphs_of_body(&doc);
        }
    }
    if let Some(cleaned) = &cleaned {
        let kept: std::collections::HashSet<&String> = article.paragraphs.iter().collect();
        for p in cleaned {
            if !kept.contains(p) && !article.paragraphs.iter().any(|k| k.contains(p.as_str())) {
                trace.text(p, Rule::NotMainText);
            }
        }
    }
    article.paragraphs.retain(|p| {
        let furniture = is_furniture_text(p);
        if furniture && !p.trim().is_empty() {
            let rule = if AD_LABEL.is_match(p) {
                Rule::AdLabel
            } else {
                Rule::Ephemeral
            };
            trace.text(p, rule);
        }
        !furniture
    });
    add_corrections(&mut article.paragraphs, &corrections, &body_text);

    let (title, alternates) = headline(&declared, &h1s, &page_title, &readability_title);
    article.title = title;
    article.headlines = alternates;
    // The headline is the title line; a copy of it at the top of the text is not a paragraph,
    // whether or not readability's container happened to include it.
    let headline_forms: Vec<String> = std::iter::once(&article.title)
        .chain(&article.headlines)
        .map(|h| fold_case(h))
        .collect();
    let mut dropped = 0;
    while dropped < 3
        && article
            .paragraphs
            .first()
            .is_some_and(|p| headline_forms.contains(&fold_case(p)))
    {
        let p = article.paragraphs.remove(0);
        trace.text(&p, Rule::Headline);
        dropped += 1;
    }
    if !options.ignore_text.is_empty() {
        article.paragraphs.retain(
            |p| match options.ignore_text.iter().find(|r| r.is_match(p)) {
                Some(r) => {
                    trace.text(p, Rule::IgnoreText(r.as_str().to_string()));
                    false
                }
                None => true,
            },
        );
    }

    let text_len: usize = article.paragraphs.iter().map(|p| p.chars().count()).sum();
    let title_says = NOT_FOUND.is_match(&article.title) || NOT_FOUND.is_match(&page_title);
    let text_says = article
        .paragraphs
        .iter()
        .take(5)
        .any(|p| NOT_FOUND.is_match(p));
    article.looks_not_found =
        (title_says && text_len < 3000) || (text_says && text_len < 600 && body_text_len < 3000);
    article
}

/// Applies a watch's `select` and `ignore` rules to the parsed page.
fn apply_options(doc: Document, options: &Options, trace: &mut Trace<'_>) -> Document {
    for selector in &options.ignore {
        let sel = doc.select(selector);
        trace.nodes(sel.nodes(), |_| Rule::Ignore(selector.clone()));
        sel.remove();
    }
    let Some(selector) = &options.select else {
        return doc;
    };
    let containers = doc.select(selector);
    if containers.is_empty() {
        // Nothing matched (the site changed its markup): read the whole page rather than
        // nothing, so the article is still archived.
        tracing::debug!(selector = %selector, "select matched nothing; reading the whole page");
        return doc;
    }
    let inner: String = containers
        .nodes()
        .iter()
        .map(|n| n.html().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if trace.on() {
        let kept = fold_spaces(&containers.text());
        for p in paragraphs_of_body(&doc) {
            if !kept.contains(&p) {
                trace.text(&p, Rule::OutsideSelect(selector.clone()));
            }
        }
    }
    let head = doc.select("head").html().to_string();
    Document::from(format!("<html>{head}<body>{inner}</body></html>"))
}

fn paragraphs_of_body(doc: &Document) -> Vec<String> {
    doc.select("body")
        .nodes()
        .first()
        .map(paragraphs_of_node)
        .unwrap_or_default()
}

/// The headlines a page declares for sharing and search: `og:title`, `twitter:title` and the
/// JSON-LD `headline`, read before anything is removed.
#[derive(Debug, Default)]
struct DeclaredHeadlines {
    og: Option<String>,
    twitter: Option<String>,
    json_ld: Option<String>,
}

impl DeclaredHeadlines {
    fn of(doc: &Document) -> Self {
        let meta = |sel: &str| {
            doc.select(sel)
                .attr("content")
                .map(|c| fold_spaces(&c))
                .filter(|c| !c.is_empty())
        };
        let json_ld = doc
            .select("script[type='application/ld+json']")
            .nodes()
            .iter()
            .find_map(|n| {
                let v: serde_json::Value = serde_json::from_str(n.text().trim()).ok()?;
                json_ld_headline(&v)
            });
        Self {
            og: meta("meta[property='og:title']"),
            twitter: meta("meta[name='twitter:title'], meta[property='twitter:title']"),
            json_ld,
        }
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.og
            .iter()
            .chain(self.twitter.iter())
            .chain(self.json_ld.iter())
    }
}

/// The `headline` of the first article-like JSON-LD object (also inside `@graph` and arrays).
fn json_ld_headline(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Array(items) => items.iter().find_map(json_ld_headline),
        serde_json::Value::Object(map) => {
            if let Some(h) = map.get("headline").and_then(|h| h.as_str()) {
                let h = fold_spaces(h);
                if !h.is_empty() {
                    return Some(h);
                }
            }
            map.get("@graph").and_then(json_ld_headline)
        }
        _ => None,
    }
}

/// Separators between a headline and the site's name in `<title>`.
const TITLE_SEPARATORS: &[&str] = &[" | ", " - ", " – ", " — ", " :: ", " · ", " • ", " / "];

/// The headline a reader sees (the title line) and the other headlines the page declares where
/// they differ from it. A change of any of them is an edit; a site's or author's name around a
/// headline (after or before a separator) is not part of it.
fn headline(
    declared: &DeclaredHeadlines,
    h1s: &[String],
    page_title: &str,
    readability_title: &str,
) -> (String, Vec<String>) {
    let related = |a: &str, b: &str| {
        let (a, b) = (fold_case(a), fold_case(b));
        !a.is_empty() && !b.is_empty() && (a == b || a.contains(&b) || b.contains(&a))
    };
    let title_stripped = strip_site_name(page_title);
    let declared_all: Vec<&String> = declared.all().collect();
    let primary = h1s
        .iter()
        .find(|h| {
            declared_all.iter().any(|d| related(h, d))
                || related(h, &title_stripped)
                || related(h, readability_title)
        })
        .cloned()
        .or_else(|| declared_all.first().map(|d| strip_site_name(d)))
        .or_else(|| (!title_stripped.is_empty()).then(|| title_stripped.clone()))
        .unwrap_or_else(|| readability_title.to_string());
    let mut alternates: Vec<String> = Vec::new();
    for d in declared_all
        .into_iter()
        .chain(std::iter::once(&page_title.to_string()))
    {
        let covered = std::iter::once(&primary)
            .chain(&alternates)
            .any(|h| covers(d, h));
        if !covered {
            let d = strip_site_name(d);
            if !d.is_empty() {
                alternates.push(d);
            }
        }
    }
    (primary, alternates)
}

/// `declared` says `headline` and nothing more than a name set off by a separator before or
/// after it ("Headline | Site", "Site - Headline").
fn covers(declared: &str, headline: &str) -> bool {
    let (d, h) = (fold_case(declared), fold_case(headline));
    if h.is_empty() {
        return d.is_empty();
    }
    if d == h {
        return true;
    }
    if let Some(rest) = d.strip_prefix(&h)
        && TITLE_SEPARATORS
            .iter()
            .any(|s| rest.starts_with(s.trim_end()))
    {
        return true;
    }
    if let Some(rest) = d.strip_suffix(&h)
        && TITLE_SEPARATORS
            .iter()
            .any(|s| rest.ends_with(s.trim_start()))
    {
        return true;
    }
    false
}

/// `<title>` without the site's name before or after the headline: the shorter side of the
/// last separator (or the first, for a name in front), when that side is a few words at most.
fn strip_site_name(title: &str) -> String {
    let title = fold_spaces(title);
    for sep in TITLE_SEPARATORS {
        if let Some((head, tail)) = title.rsplit_once(sep)
            && tail.split_whitespace().count() <= 4
            && head.split_whitespace().count() > tail.split_whitespace().count()
        {
            return head.trim().to_string();
        }
        if let Some((head, tail)) = title.split_once(sep)
            && head.split_whitespace().count() <= 3
            && tail.split_whitespace().count() >= 2 * head.split_whitespace().count() + 2
        {
            return tail.trim().to_string();
        }
    }
    title
}

fn fold_case(s: &str) -> String {
    fold_spaces(s).to_lowercase()
}

/// Correction, update, clarification and editor's-note blocks: article text wherever the page
/// puts them, even in places the rest of the pipeline would treat as furniture.
static CORRECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s\[(*_]*(?:
          (?:corrections?|clarifications?|updates?|updated|editor['’]?s['’]?\s+notes?|note\s+from\s+the\s+editors?|ed\.\s+note)
            (?:\s*\([^)]{0,40}\))?\s*[:.—–-]
          | an\s+earlier\s+version\s+of\s+this
          | this\s+(?:article|story|post|report)\s+(?:was|has\s+been)\s+(?:amended|corrected|updated|changed)
        )",
    )
    .unwrap()
});

/// What a line with only a date or time looks like once its label is gone ("Updated: 3 Dec
/// 2026, 12:30 GMT"): metadata, not a correction.
static DATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d[\d:.,/-]*|[ap]\.?m\.?|gmt|utc|bst|cet|cest|e[sd]?t|p[sd]?t|at|on|am|pm|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|\W+)$").unwrap()
});

fn is_correction(text: &str) -> bool {
    let Some(m) = CORRECTION.find(text) else {
        return false;
    };
    let rest = &text[m.end()..];
    let words: Vec<&str> = rest.split_whitespace().collect();
    let meaningful = words
        .iter()
        .filter(|w| !DATE_WORDS.is_match(w.trim_matches(|c: char| !c.is_alphanumeric())))
        .count();
    meaningful >= 4 && text.len() <= 3000
}

/// The paragraphs of correction blocks, read before furniture removal: the outermost elements
/// whose text starts like a correction, outside navigation, footers, forms and comment threads.
fn correction_blocks(doc: &Document) -> Vec<String> {
    let mut found: Vec<NodeRef> = Vec::new();
    for node in doc
        .select("body p, body div, body aside, body section, body li, body blockquote, body span, body em, body strong, body i, body b")
        .nodes()
    {
        let text = fold_spaces(&node.text());
        if !is_correction(&text) {
            continue;
        }
        let excluded = node.ancestors_it(None).any(|a| {
            matches!(a.node_name().as_deref(), Some("nav" | "footer" | "form" | "script" | "template"))
                || has_marker_in(&a, &["comment", "comments", "related", "recirc", "trending", "popular", "newsletter", "promo", "disqus"])
        });
        if excluded || found.iter().any(|f| node.ancestors_it(None).any(|a| a.id == f.id)) {
            continue;
        }
        found.push(*node);
    }
    // An inline element (a `<strong>` inside a paragraph) stands for its block.
    let mut out: Vec<String> = Vec::new();
    for node in found {
        let block = if is_block(&node.node_name().unwrap_or_default().to_ascii_lowercase()) {
            node
        } else {
            node.ancestors_it(None)
                .find(|a| is_block(&a.node_name().unwrap_or_default().to_ascii_lowercase()))
                .unwrap_or(node)
        };
        for p in paragraphs_of_node(&block) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Adds the correction paragraphs the article lacks: before the text when the page has them
/// above it, after it otherwise.
fn add_corrections(paragraphs: &mut Vec<String>, corrections: &[String], body_text: &str) {
    let first_at = paragraphs
        .first()
        .and_then(|p| body_text.find(&p[..floor_char(p, 60)]));
    let mut front = Vec::new();
    for c in corrections {
        let present = paragraphs.iter().any(|p| p == c || p.contains(c.as_str()));
        if present {
            continue;
        }
        let at = body_text.find(&c[..floor_char(c, 60)]);
        match (at, first_at) {
            (Some(a), Some(f)) if a < f => front.push(c.clone()),
            _ => paragraphs.push(c.clone()),
        }
    }
    if !front.is_empty() {
        front.append(paragraphs);
        *paragraphs = front;
    }
}

fn floor_char(s: &str, max: usize) -> usize {
    let mut i = s.len().min(max);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn has_marker_in(node: &NodeRef, parts: &[&str]) -> bool {
    let class = node.attr("class");
    let id = node.attr("id");
    class
        .iter()
        .chain(id.iter())
        .flat_map(|v| {
            v.split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .any(|token| token.split(['-', '_']).any(|part| parts.contains(&part)))
}

fn fold_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_furniture_text(p: &str) -> bool {
    let p = p.trim();
    p.is_empty()
        || RELATIVE_TIME.is_match(p)
        || ENGAGEMENT_COUNT.is_match(p)
        || AD_LABEL.is_match(p)
}

/// Removes what changes from load to load without being the article.
fn remove_furniture(doc: &Document, trace: &mut Trace<'_>) {
    let furniture = doc.select(FURNITURE);
    if trace.on() {
        trace.nodes(furniture.nodes(), |_| Rule::Furniture);
    }
    furniture.remove();
    let total_long = long_paragraph_text(&doc.select("body"));
    // An element that holds the article is a wrapper, whatever it is or its class says
    // (`<form>` around an ASP.NET page, `class="l-sidebar-fixed"` around a story); one holding
    // most of the page's paragraph text is too, unless its marker names ephemeral furniture.
    let wraps_article = |node: &NodeRef, layout: bool| {
        let sel = dom_query::Selection::from(*node);
        !sel.select(ARTICLE_HOLDERS).is_empty()
            || (layout && total_long > 0 && long_paragraph_text(&sel) * 5 >= total_long * 2)
    };
    let mut doomed = Vec::new();
    for node in doc.select(FURNITURE_UNLESS_WRAPPER).nodes() {
        if !wraps_article(node, true) {
            doomed.push(*node);
        }
    }
    trace.nodes(&doomed, |_| Rule::Furniture);
    remove_all(doomed);
    let mut doomed = Vec::new();
    for node in doc.select("body *").nodes() {
        if let Some(marker) = noise_marker(node) {
            let layout = marker
                .split(['-', '_'])
                .all(|part| !NOISE_PARTS.contains(&part) || LAYOUT_PARTS.contains(&part));
            if !wraps_article(node, layout) {
                doomed.push(*node);
            }
        }
    }
    trace.nodes(&doomed, |n| {
        Rule::NoiseMarker(noise_marker(n).unwrap_or_default())
    });
    remove_all(doomed);

    // Relative timestamps and engagement counts: find the text, then remove the largest
    // enclosing element (up to three levels) whose whole text is still only that.
    let mut doomed = Vec::new();
    for node in doc
        .select("body")
        .nodes()
        .iter()
        .flat_map(|b| b.descendants_it())
    {
        if !node.is_text() {
            continue;
        }
        let text = node.text();
        let lower = text.to_ascii_lowercase();
        if !(lower.contains("ago")
            || lower.contains("now")
            || lower.contains("comment")
            || lower.contains("repl")
            || lower.contains("share")
            || lower.contains("view")
            || lower.contains("yesterday")
            || lower.contains("today"))
        {
            continue;
        }
        let mut target = None;
        for ancestor in node.ancestors_it(Some(4)) {
            if !ancestor.is_element() || ancestor.node_name().as_deref() == Some("body") {
                break;
            }
            // Measured before the text is built: the text of a large ancestor, built for each
            // of thousands of short nodes, made pages of many short counters quadratic.
            if text_longer_than(&ancestor, 120) {
                break;
            }
            let t = ancestor.text();
            if is_furniture_text(&t) {
                target = Some(ancestor);
            }
        }
        if let Some(t) = target {
            doomed.push(t);
        }
    }
    trace.nodes(&doomed, |_| Rule::Ephemeral);
    remove_all(doomed);
}

/// Whether the text under `node` is longer than `limit` bytes, reading no more of it than that.
fn text_longer_than(node: &NodeRef, limit: usize) -> bool {
    let mut len = 0;
    for d in node.descendants_it() {
        if d.is_text() {
            len += d.text().len();
            if len > limit {
                return true;
            }
        }
    }
    false
}

/// Replaces each `<div>` that holds one block and nothing else (no text of its own) by that
/// block: such a wrapper is markup only, and readability would otherwise score the wrapper, not
/// the paragraph's real container, so wrapping paragraphs one by one moved the article.
fn unwrap_lone_blocks(doc: &Document) {
    let divs: Vec<NodeRef> = doc.select("body div").nodes().to_vec();
    // Innermost first, so nested wrappers collapse one level at a time.
    for div in divs.iter().rev() {
        let children = div.element_children();
        let [only] = children.as_slice() else {
            continue;
        };
        let name = only.node_name().unwrap_or_default().to_ascii_lowercase();
        if !matches!(
            name.as_str(),
            "p" | "blockquote"
                | "ul"
                | "ol"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "pre"
                | "figure"
                | "table"
        ) {
            continue;
        }
        let own_text = div
            .children_it(false)
            .any(|c| c.is_text() && !c.text().trim().is_empty());
        if !own_text {
            only.unwrap_node();
        }
    }
}

/// Characters of text in the long paragraphs (100 characters or more) under `sel`: where the
/// article's prose is.
fn long_paragraph_text(sel: &dom_query::Selection<'_>) -> usize {
    sel.select("p")
        .nodes()
        .iter()
        .map(|p| p.text().trim().len())
        .filter(|&n| n >= 100)
        .sum()
}

fn remove_all(nodes: Vec<NodeRef>) {
    for node in &nodes {
        // A node whose ancestor is also doomed goes with it; detaching it again is harmless.
        node.remove_from_parent();
    }
}

#[cfg(test)]
fn has_noise_marker(node: &NodeRef) -> bool {
    noise_marker(node).is_some()
}

/// The class or id token that marks `node` as furniture, if one does.
fn noise_marker(node: &NodeRef) -> Option<String> {
    let name = node.node_name();
    // The document's main containers are never furniture, whatever their classes say.
    if matches!(
        name.as_deref(),
        Some("html" | "body" | "main" | "article" | "h1")
    ) {
        return None;
    }
    let class = node.attr("class");
    let id = node.attr("id");
    let marker = class
        .iter()
        .chain(id.iter())
        .flat_map(|v| {
            v.split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .find(|token| {
            token
                .split(['-', '_'])
                .any(|part| NOISE_PARTS.contains(&part))
        })?;
    Some(marker)
}

/// Tags that end one paragraph and start another.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "header"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "li"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "figure"
            | "figcaption"
            | "table"
            | "thead"
            | "tbody"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "hr"
            | "br"
            | "address"
            | "details"
            | "summary"
    )
}

fn paragraphs_of_html(html: &str) -> Vec<String> {
    let doc = Document::fragment(html);
    let root = doc.root();
    paragraphs_of_node(&root)
}

fn paragraphs_of_node(node: &NodeRef) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    walk(node, &mut current, &mut out);
    flush(&mut current, &mut out);
    out
}

fn walk(node: &NodeRef, current: &mut String, out: &mut Vec<String>) {
    for child in node.children_it(false) {
        if child.is_text() {
            current.push_str(&child.text());
        } else if child.is_element() {
            let name = child
                .node_name()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            if matches!(name.as_str(), "script" | "style" | "noscript" | "template") {
                continue;
            }
            let block = is_block(&name);
            if block {
                flush(current, out);
            } else {
                // Inline elements still separate words when the markup has no space.
                current.push(' ');
            }
            walk(&child, current, out);
            if block {
                flush(current, out);
            } else {
                current.push(' ');
            }
        }
    }
}

fn flush(current: &mut String, out: &mut Vec<String>) {
    let folded = fold_spaces(current);
    if !folded.is_empty() {
        out.push(folded);
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r##"<!doctype html><html><head><title>Troops leave Iraq - Daily</title>
<meta charset="utf-8"></head><body>
<nav><a href="/">Home</a><a href="/world">World</a></nav>
<article><h1>Troops leave Iraq</h1>
<p class="byline">By Jane Roe <span class="ts">5 minutes ago</span></p>
<p>The last American troops left the country on Sunday, officials said, ending a long war.</p>
<div class="ad-slot"><p>Buy the Widget 3000 today!</p></div>
<p>About 4,000 soldiers had remained at the base until the final weeks of the withdrawal.</p>
<a class="c" href="#comments">42 comments</a>
<p>The ministry said the handover was complete and that local forces were in control now.</p>
</article>
<aside><h2>Most read</h2><ul><li>Other story</li></ul></aside>
<footer>© 2026 Daily</footer></body></html>"##;

    fn texts(html: &str) -> Vec<String> {
        extract(html, "https://news.example.org/a").paragraphs
    }

    #[test]
    fn keeps_article_paragraphs_and_drops_furniture() {
        let paragraphs = texts(PAGE).join("\n");
        assert!(
            paragraphs.contains("The last American troops left"),
            "{paragraphs}"
        );
        assert!(paragraphs.contains("About 4,000 soldiers"), "{paragraphs}");
        for noise in [
            "Widget 3000",
            "minutes ago",
            "42 comments",
            "Most read",
            "© 2026",
            "World",
        ] {
            assert!(
                !paragraphs.contains(noise),
                "{noise:?} kept in {paragraphs}"
            );
        }
    }

    #[test]
    fn relative_timestamps_and_counts_are_recognised() {
        for s in [
            "5 minutes ago",
            "Updated 2h ago",
            "· 3 hours ago",
            "just now",
            "Yesterday",
        ] {
            assert!(RELATIVE_TIME.is_match(s), "{s}");
        }
        for s in [
            "42 comments",
            "Comments (7)",
            "1.2k shares",
            "No comments",
            "View all 12 comments",
        ] {
            assert!(ENGAGEMENT_COUNT.is_match(s), "{s}");
        }
        for s in [
            "Five years ago the war began in earnest.",
            "42 comments were received by the board",
        ] {
            assert!(!is_furniture_text(s), "{s}");
        }
    }

    #[test]
    fn noise_markers_match_class_parts_only() {
        let doc = Document::from(
            r#"<div id="a" class="ad-slot"></div><div id="b" class="header download"></div><div id="c" class="promo_box"></div>"#,
        );
        let marked: Vec<bool> = ["#a", "#b", "#c"]
            .iter()
            .map(|s| has_noise_marker(&doc.select(s).nodes()[0]))
            .collect();
        assert_eq!(marked, [true, false, true]);
    }

    #[test]
    fn soft_404_is_recognised() {
        let page = "<html><head><title>Page not found | Daily</title></head><body><h1>Sorry</h1><p>The page you were looking for does not exist.</p></body></html>";
        assert!(extract(page, "https://n.example/x").looks_not_found);
        assert!(!extract(PAGE, "https://n.example/x").looks_not_found);
    }

    #[test]
    fn html_is_told_from_other_content() {
        assert!(check_html(Some("text/html; charset=utf-8"), b"<p>x</p>").is_ok());
        assert!(check_html(None, b"<!DOCTYPE html><html>").is_ok());
        assert_eq!(
            check_html(Some("application/pdf"), b"%PDF-1.7"),
            Err(NotHtml::ContentType("application/pdf".into()))
        );
        assert_eq!(
            check_html(Some("text/html"), b"\x89PNG\r\n\x1a\n\0\0"),
            Err(NotHtml::Binary)
        );
        assert!(check_html(Some("application/octet-stream"), b"just bytes").is_err());
    }

    #[test]
    fn charset_comes_from_bom_header_then_meta() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
        assert!(decode(latin1, Some("text/html")).contains("café"));
        assert!(decode(b"caf\xc3\xa9", Some("text/html; charset=utf-8")).contains("café"));
        let bom = b"\xef\xbb\xbfcaf\xc3\xa9";
        assert!(decode(bom, Some("text/html; charset=iso-8859-1")).contains("café"));
        assert!(decode(b"caf\xff\xfe", Some("text/html; charset=utf-8")).contains('\u{fffd}'));
    }
}
