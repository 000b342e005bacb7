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
    pub title: String,
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
    iframe, form, button, input, select, textarea, nav, aside, footer, svg, canvas, dialog, \
    object, embed, [hidden], [aria-hidden='true'], [role='navigation'], [role='complementary'], \
    [role='contentinfo'], [role='dialog'], [style*='display:none'], [style*='display: none']";

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

/// Extracts the article from an HTML page. `url` resolves relative links in metadata.
pub fn extract(html: &str, url: &str) -> Article {
    let doc = Document::from(html);
    remove_furniture(&doc);
    let headline = doc
        .select("h1")
        .nodes()
        .first()
        .map(|n| n.text().to_string())
        .unwrap_or_default();
    let canonical_url = doc
        .select("link[rel='canonical']")
        .attr("href")
        .map(|h| h.to_string());
    let page_title = doc.select("title").text().to_string();
    let body_text_len = doc.select("body").text().trim().chars().count();

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
    match parsed {
        Ok(found) => {
            article.title = found.title.clone();
            article.byline = found.byline.clone().filter(|b| !b.trim().is_empty());
            article.published = found.published_time.clone();
            article.modified = found.modified_time.clone();
            article.paragraphs = paragraphs_of_html(&found.content);
        }
        Err(_) => {
            // Readability found no article; keep the whole cleaned page so the text is still
            // archived and compared, and let the soft-404 check below judge it.
            let doc = Document::from(html);
            remove_furniture(&doc);
            article.title = page_title.trim().to_string();
            if let Some(body) = doc.select("body").nodes().first() {
                article.paragraphs = paragraphs_of_node(body);
            }
        }
    }
    article.paragraphs.retain(|p| !is_furniture_text(p));
    if !headline.trim().is_empty() {
        let headline = fold_spaces(&headline);
        let already = fold_spaces(&article.title) == headline
            || article.paragraphs.first().map(|p| fold_spaces(p)) == Some(headline.clone());
        if !already {
            article.paragraphs.insert(0, headline);
        }
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
fn remove_furniture(doc: &Document) {
    doc.select(FURNITURE).remove();
    // A marked element holding a large share of the page is a layout wrapper that happens to
    // carry such a class (`id="ad-portal"` around a whole site), not furniture.
    let body_len = doc.select("body").text().len();
    let limit = (body_len / 5).max(1500);
    let mut doomed = Vec::new();
    for node in doc.select("body *").nodes() {
        if has_noise_marker(node) && node.text().len() <= limit {
            doomed.push(*node);
        }
    }
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

fn remove_all(nodes: Vec<NodeRef>) {
    for node in &nodes {
        // A node whose ancestor is also doomed goes with it; detaching it again is harmless.
        node.remove_from_parent();
    }
}

fn has_noise_marker(node: &NodeRef) -> bool {
    let name = node.node_name();
    // The document's main containers are never furniture, whatever their classes say.
    if matches!(
        name.as_deref(),
        Some("html" | "body" | "main" | "article" | "h1")
    ) {
        return false;
    }
    let class = node.attr("class");
    let id = node.attr("id");
    class
        .iter()
        .chain(id.iter())
        .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .any(|token| {
            let token = token.to_ascii_lowercase();
            token
                .split(['-', '_'])
                .any(|part| NOISE_PARTS.contains(&part))
        })
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
