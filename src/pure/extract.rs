//! Article extraction: turns a raw HTML body into an [`Article`] (title, byline, dates and the
//! article text as paragraphs).
//!
//! Owns charset decoding, the HTML-or-not decision, the removal of page furniture that changes on
//! every load (ads, promos, related lists, relative timestamps, comment counts, navigation,
//! sidebars, forms, scripts), the readability pass (`dom_smoothie`), the removal of what sits
//! inside the article's container without being the article (gallery furniture, byline and date
//! lines, bars and link lists, site boilerplate, repeated captions) and soft-404 detection.
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
pub const EXTRACTOR: &str = "3";

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
    /// A gallery's or photo's control or credit ("Image 1 of 8", "Close", "Photo: NAME").
    GalleryFurniture,
    /// A byline line inside the text (the byline is a field of the version).
    BylineLine,
    /// A date line inside the text (the dates are fields of the version).
    DateLine,
    /// A bar or card inside the container: "TRENDING:", tags, a name card, "Related".
    Bar,
    /// A run of short blocks that are all link: a related or tag list.
    LinkList,
    /// The site's boilerplate: copyright, citation, newsletter or app promotion, address.
    SiteBoilerplate,
    /// The same block said again: kept once.
    Repeated,
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
            Rule::GalleryFurniture => f.write_str("gallery or photo control or credit"),
            Rule::BylineLine => f.write_str("byline line (kept as the byline field)"),
            Rule::DateLine => f.write_str("date line (kept as a date field)"),
            Rule::Bar => f.write_str("bar or card (trending, tags, related, name card)"),
            Rule::LinkList => f.write_str("list of links (related or tags)"),
            Rule::SiteBoilerplate => {
                f.write_str("site boilerplate (copyright, promotion, contact)")
            }
            Rule::Repeated => f.write_str("repeated block (kept once)"),
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
    collapse_whitespace(&doc);
    let corrections = correction_blocks(&doc);
    // The page's prose before any rule removes a block: what the article must mostly hold.
    let prose = prose_of(&doc);
    let classed = classed_paragraphs(&doc);
    let captions = caption_texts(&doc);
    remove_furniture(&doc, &mut trace);
    unwrap_prose_wrappers(&doc);
    // Read as the paragraph walker reads text (a space where an inline element starts or
    // ends), so markup around a permalink sign or a span never changes the headline.
    let h1s: Vec<String> = doc
        .select("body h1")
        .nodes()
        .iter()
        .map(|n| fold_spaces(&paragraphs_of_node(n).join(" ")))
        .filter(|t| !t.is_empty())
        .collect();
    let canonical_url = doc
        .select("link[rel='canonical']")
        .attr("href")
        .map(|h| h.to_string());
    // The document's own `<title>`, not an SVG icon's.
    let page_title = fold_spaces(&doc.select("head title").first().text());
    let body_text = fold_spaces(&doc.select("body").text());
    // The page's blocks as the paragraph walker reads them, for placing the headline.
    let body_blocks = paragraphs_of_body(&doc);
    let body_text_len = body_text.chars().count();
    let cleaned = trace.on().then(|| body_blocks.clone());

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
    let mut blocks = std::collections::HashMap::new();
    let readability_title;
    match parsed {
        Ok(found) => {
            readability_title = fold_spaces(&found.title);
            article.byline = found.byline.clone().filter(|b| !b.trim().is_empty());
            article.published = found.published_time.clone();
            article.modified = found.modified_time.clone();
            article.paragraphs = paragraphs_of_html(&found.content);
            blocks = block_info_of_html(&found.content);
            restore_template_paragraphs(&mut article.paragraphs, &classed);
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
    // Readability (or a furniture rule) can settle on navigation, a login box or a teaser list
    // while the page's prose sits elsewhere; the article would then be page furniture, and would
    // flip to the real one on some later markup change. When what was found holds almost no
    // prose (under 600 bytes, and under a quarter of the page's), the block that holds the most
    // prose is read instead. A short article beside a long gallery of captions keeps its own.
    let prose_total: usize = prose.iter().map(String::len).sum();
    let kept = prose_kept(&prose, &article.paragraphs);
    if prose_total >= MIN_PROSE && kept < MIN_PROSE && kept * 4 < prose_total {
        let fallback = densest_prose(html, options);
        if prose_kept(&prose, &fallback) > 2 * kept {
            tracing::debug!(
                url,
                prose_total,
                "article missed the page's prose; reading its densest block"
            );
            article.paragraphs = fallback;
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

    // The `<h1>` last before the article's text, for pages whose `<h1>`s are also section
    // names and whose `<title>` names only the site.
    let lead_h1 = article.paragraphs.first().and_then(|first| {
        let at = body_blocks.iter().position(|b| b == first)?;
        body_blocks[..at]
            .iter()
            .rev()
            .find(|b| h1s.contains(b))
            .cloned()
    });
    let (title, alternates) = headline(
        &declared,
        &h1s,
        lead_h1.as_deref(),
        &page_title,
        &readability_title,
    );
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
    // The watch's own rules come first, so `--explain` names them for what they match.
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
    remove_inner_furniture(&mut article, &blocks, &captions, &mut trace);

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

/// Paragraphs of the page by their `<p>` (or paragraph-like `<div>`) element's class, in document order (outside comment
/// threads), taken before readability: `(class, text)`.
fn classed_paragraphs(doc: &Document) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in doc.select("body p[class], body div[class]").nodes() {
        // A `<div>` counts when it is a paragraph: text, no blocks inside.
        if p.node_name().as_deref() == Some("div")
            && p.element_children().iter().any(|c| {
                is_block(&c.node_name().unwrap_or_default().to_ascii_lowercase())
                    && c.node_name().as_deref() != Some("br")
            })
        {
            continue;
        }
        let class = p
            .attr("class")
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if class.is_empty() || in_comments(p) {
            continue;
        }
        out.extend(
            paragraphs_of_node(p)
                .into_iter()
                .map(|text| (class.clone(), text)),
        );
    }
    out
}

/// Puts back, in page order, paragraphs that readability left out although their `<p>` has the
/// class of three or more paragraphs it kept (a lede in its own container, a paragraph after
/// an inline box): the template says they are the article's. Only prose is put back.
fn restore_template_paragraphs(paragraphs: &mut Vec<String>, classed: &[(String, String)]) {
    let kept: std::collections::HashSet<&str> = paragraphs.iter().map(String::as_str).collect();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (class, text) in classed {
        if kept.contains(text.as_str()) {
            *count.entry(class.as_str()).or_default() += 1;
        }
    }
    let article_class = |c: &str| count.get(c).is_some_and(|&n| n >= 3);
    if !classed
        .iter()
        .any(|(c, t)| article_class(c) && !kept.contains(t.as_str()) && is_prose(t))
    {
        return;
    }
    // Each missing paragraph goes before the next kept paragraph of the same class.
    let mut out: Vec<String> = Vec::with_capacity(paragraphs.len() + 4);
    let mut pending: Vec<String> = Vec::new();
    let mut next = 0;
    for (class, text) in classed {
        if !article_class(class) {
            continue;
        }
        if kept.contains(text.as_str()) {
            if let Some(at) = paragraphs[next..].iter().position(|p| p == text) {
                out.extend(paragraphs[next..next + at].iter().cloned());
                out.append(&mut pending);
                out.push(paragraphs[next + at].clone());
                next += at + 1;
            }
        } else if is_prose(text) && !pending.contains(text) && !out.contains(text) {
            pending.push(text.clone());
        }
    }
    out.extend(paragraphs[next..].iter().cloned());
    out.append(&mut pending);
    *paragraphs = out;
}

/// Prose (in bytes) a page must have before [`densest_prose`] may overrule readability.
const MIN_PROSE: usize = 600;

/// Whether `p` reads as prose: 150 bytes or more, 25 words or more, and a sentence's end.
fn is_prose(p: &str) -> bool {
    p.len() >= 150 && p.split_whitespace().count() >= 25 && p.contains(['.', '!', '?', '\u{3002}'])
}

/// Class or id parts of a reader comment thread, whose prose is not the article's.
const COMMENT_PARTS: &[&str] = &[
    "comment",
    "comments",
    "disqus",
    "replies",
    "reply",
    "respond",
    "discussion",
];

fn in_comments(node: &NodeRef) -> bool {
    node.ancestors_it(None).any(|a| is_comment_thread(&a))
}

/// Whether `a`'s class or id names a reader comment thread.
fn is_comment_thread(a: &NodeRef) -> bool {
    a.attr("class")
        .iter()
        .chain(a.attr("id").iter())
        .flat_map(|v| {
            v.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .any(|part| COMMENT_PARTS.contains(&part.as_str()))
}

/// The page's prose paragraphs as the paragraph walker reads them, but for those of reader
/// comment threads.
fn prose_of(doc: &Document) -> Vec<String> {
    let comments: std::collections::HashSet<String> = doc
        .select("body [class], body [id]")
        .nodes()
        .iter()
        .filter(|n| is_comment_thread(n) && !n.ancestors_it(None).any(|a| is_comment_thread(&a)))
        .flat_map(paragraphs_of_node)
        .collect();
    paragraphs_of_body(doc)
        .into_iter()
        .filter(|p| is_prose(p) && !comments.contains(p))
        .collect()
}

/// Paragraphs of `<p>`, `<pre>` and `<blockquote>` that read as prose, outside comment threads,
/// each with its element.
fn prose_elements<'a>(doc: &'a Document) -> Vec<(NodeRef<'a>, String)> {
    let mut out = Vec::new();
    for node in doc.select("body p, body pre, body blockquote").nodes() {
        let text = fold_spaces(&node.text());
        if is_prose(&text) && !in_comments(node) {
            out.push((*node, text));
        }
    }
    out
}

/// Bytes of `prose` that `paragraphs` hold.
fn prose_kept(prose: &[String], paragraphs: &[String]) -> usize {
    let joined = paragraphs.join("\n");
    prose
        .iter()
        .filter(|p| joined.contains(p.as_str()))
        .map(String::len)
        .sum()
}

/// The paragraphs of the element that holds the most prose, read from a fresh parse with only
/// scripts and styles removed: each prose paragraph counts for its parent and half for its
/// grandparent (a block with prose of its own, a `<td>` of `<br>`-separated text, for itself).
fn densest_prose(html: &str, options: &Options) -> Vec<String> {
    let doc = apply_options(Document::from(html), options, &mut Trace(None));
    collapse_whitespace(&doc);
    doc.select(FURNITURE).remove();
    let mut score: std::collections::HashMap<dom_query::NodeId, usize> =
        std::collections::HashMap::new();
    let mut credit = |node: Option<NodeRef>, amount: usize| {
        if let Some(n) = node.filter(|n| n.is_element()) {
            *score.entry(n.id).or_default() += amount;
        }
    };
    for (node, text) in prose_elements(&doc) {
        let parent = node.parent();
        credit(parent.as_ref().and_then(|p| p.parent()), text.len() / 2);
        credit(parent, text.len());
    }
    for node in doc
        .select("body div, body td, body section, body article")
        .nodes()
    {
        let own: String = node
            .children_it(false)
            .filter(|c| c.is_text())
            .map(|c| c.text().to_string())
            .collect();
        let own = fold_spaces(&own);
        if !is_prose(&own) || in_comments(node) {
            continue;
        }
        credit(node.parent(), own.len() / 2);
        credit(Some(*node), own.len());
    }
    let Some((best, _)) = score
        .into_iter()
        .max_by_key(|&(id, s)| (s, std::cmp::Reverse(id)))
    else {
        return Vec::new();
    };
    let node = NodeRef::new(best, &doc.tree);
    paragraphs_of_node(&node)
        .into_iter()
        .filter(|p| !is_furniture_text(p))
        .collect()
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
                let v: serde_json::Value = serde_json::from_str(json_ld_text(&n.text())).ok()?;
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

/// A JSON-LD script's JSON, without the `<![CDATA[ ... ]]>` (or `//<![CDATA[`) that some
/// templates wrap it in.
fn json_ld_text(script: &str) -> &str {
    let t = script.trim();
    let t = t.strip_prefix("//").unwrap_or(t).trim_start();
    match t.strip_prefix("<![CDATA[") {
        Some(inner) => {
            let inner = inner.trim_end();
            let inner = inner.strip_suffix("]]>").unwrap_or(inner).trim_end();
            inner.strip_suffix("//").unwrap_or(inner).trim()
        }
        None => script.trim(),
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
    lead_h1: Option<&str>,
    page_title: &str,
    readability_title: &str,
) -> (String, Vec<String>) {
    // The same headline, or one a word or two away from it: an `<h1>` edited on its own is
    // still the headline, and its edit must show.
    let related = |a: &str, b: &str| {
        let (a, b) = (fold_case(a), fold_case(b));
        !a.is_empty()
            && !b.is_empty()
            && (a == b || a.contains(&b) || b.contains(&a) || mostly_same_words(&a, &b))
    };
    let title_stripped = strip_site_name(page_title);
    let declared_all: Vec<&String> = declared.all().collect();
    let primary = h1s
        .iter()
        .find(|h| declared_all.iter().any(|d| related(h, d)) || related(h, &title_stripped))
        .cloned()
        .or_else(|| declared_all.first().map(|d| strip_site_name(d)))
        .or_else(|| {
            lead_h1
                .filter(|h| h.split_whitespace().count() >= 3)
                .map(str::to_string)
        })
        .or_else(|| (!title_stripped.is_empty()).then(|| title_stripped.clone()))
        .unwrap_or_else(|| readability_title.to_string());
    // Every declared headline as declared: a change of any of it is an edit (a site's name in
    // `og:title` is declared by the article too). `<title>` counts without the site's name,
    // and only where it says something the others do not.
    let mut alternates: Vec<String> = Vec::new();
    for d in declared_all {
        let seen = std::iter::once(&primary)
            .chain(&alternates)
            .any(|h| fold_case(h) == fold_case(d));
        if !seen {
            alternates.push(d.clone());
        }
    }
    // A second `<h1>` of the same headline (a print header, a sticky bar) that says it
    // otherwise is read too: an edit of either shows.
    for h in h1s {
        let seen = std::iter::once(&primary)
            .chain(&alternates)
            .any(|a| fold_case(a) == fold_case(h));
        if !seen && related(h, &primary) {
            alternates.push(h.clone());
        }
    }
    let title_core = fold_case(&title_stripped);
    // A `<title>` of a few words that shares no word with the headline is a site's name (the
    // page's `<title>` names only the site): it is not an alternate.
    let long_words = |t: &str| -> std::collections::HashSet<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4)
            .map(str::to_string)
            .collect()
    };
    let bare_name = title_core.split_whitespace().count() <= 4
        && long_words(&title_core).is_disjoint(&long_words(&fold_case(&primary)));
    let seen = title_core.is_empty()
        || bare_name
        || std::iter::once(&primary)
            .chain(&alternates)
            .any(|h| fold_case(&strip_site_name(h)) == title_core);
    if !seen {
        alternates.push(title_stripped.clone());
    }
    (primary, alternates)
}

/// Whether two headlines of three words or more share at least 60% of the words of the shorter.
fn mostly_same_words(a: &str, b: &str) -> bool {
    let words = |s: &str| -> std::collections::HashSet<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let shorter = a.len().min(b.len());
    shorter >= 3 && a.intersection(&b).count() * 5 >= shorter * 3
}

/// `<title>` without the site's name before or after the headline: the shorter side of the
/// last separator (or the first, for a name in front), when that side is a few words at most.
fn strip_site_name(title: &str) -> String {
    // Names nest ("Headline - Author - Medium | Site"): stripped until none is left.
    let mut title = fold_spaces(title);
    for _ in 0..4 {
        let stripped = strip_one_name(&title);
        if stripped == title {
            break;
        }
        title = stripped;
    }
    title
}

/// One name off `title`: a name of four words at most after the last separator ("Headline |
/// Site") or, else, a site's short name in front of a long headline ("Site | A long headline").
fn strip_one_name(title: &str) -> String {
    let words = |s: &str| s.split_whitespace().count();
    for sep in TITLE_SEPARATORS {
        if let Some((head, tail)) = title.rsplit_once(sep)
            && words(tail) <= 4
            && words(head) >= 1
        {
            return head.trim().to_string();
        }
    }
    for sep in TITLE_SEPARATORS {
        if let Some((head, tail)) = title.split_once(sep)
            && words(head) <= 3
            && words(tail) >= 2 * words(head) + 2
        {
            return tail.trim().to_string();
        }
    }
    title.to_string()
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

/// Collapses each run of whitespace in the body's text to one space, outside `<pre>` and
/// `<textarea>`: a browser shows re-indented markup the same, but readability and the
/// furniture pass measure text lengths, whitespace included (a byline box counted 100
/// characters of indentation on one deploy and not on the next).
fn collapse_whitespace(doc: &Document) {
    static RUN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[ \t\r\n\x0c]{2,}|[\t\r\n\x0c]").unwrap());
    let body = doc.select("body");
    let Some(body) = body.nodes().first() else {
        return;
    };
    let has_pre = doc.select("body pre, body textarea").exists();
    // Collected first: the walk borrows the tree that `set_text` changes.
    let texts: Vec<NodeRef> = body.descendants_it().filter(|n| n.is_text()).collect();
    for node in texts {
        let text = node.text();
        if !RUN.is_match(&text) {
            continue;
        }
        if has_pre
            && node
                .ancestors_it(None)
                .any(|a| matches!(a.node_name().as_deref(), Some("pre" | "textarea")))
        {
            continue;
        }
        node.set_text(RUN.replace_all(&text, " ").into_owned());
    }
}

/// Replaces by its children each `<div>` that only groups prose blocks: no text of its own,
/// every child a paragraph-like block, and either one child or no attribute that tells a reader
/// of the page what it is. Such a wrapper is markup only (a template's run of paragraphs, a
/// paywall slice, a block of one), yet readability scores paragraphs into their parent and
/// grandparent, so a wrapper added around a run of paragraphs moved the article's container.
/// A `<div class="article-body">` stays: its name is what readability reads.
fn unwrap_prose_wrappers(doc: &Document) {
    let divs: Vec<NodeRef> = doc.select("body div").nodes().to_vec();
    // Innermost first, so nested wrappers collapse one level at a time.
    for div in divs.iter().rev() {
        let children = div.element_children();
        let Some(first) = children.first() else {
            continue;
        };
        let prose_only = children.iter().all(|c| {
            let name = c.node_name().unwrap_or_default().to_ascii_lowercase();
            matches!(
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
            )
        });
        if !prose_only || (children.len() > 1 && !is_unnamed(div)) {
            continue;
        }
        let own_text = div
            .children_it(false)
            .any(|c| c.is_text() && !c.text().trim().is_empty());
        if !own_text {
            first.unwrap_node();
        }
    }
}

/// Words in a class or id that readability (and stet's own furniture pass) reads as a sign of
/// what a block is: an element named with none of them is named for its looks only.
const TELLING_PARTS: &[&str] = &[
    "article",
    "body",
    "content",
    "entry",
    "main",
    "page",
    "post",
    "text",
    "blog",
    "story",
    "column",
    "layout",
    "shadow",
    "hidden",
    "hid",
    "banner",
    "combx",
    "comment",
    "com-",
    "contact",
    "footer",
    "header",
    "gdpr",
    "masthead",
    "media",
    "meta",
    "outbrain",
    "promo",
    "related",
    "scroll",
    "share",
    "shoutbox",
    "sidebar",
    "skyscraper",
    "sponsor",
    "shopping",
    "tags",
    "widget",
    "-ad-",
    "menu",
    "social",
    "extra",
    "remark",
    "replies",
    "rss",
    "popup",
    "pager",
    "pagination",
    "supplemental",
    "community",
    "disqus",
    "breadcrumb",
    "legends",
    "agegate",
    "caption",
    "author",
    "byline",
    "title",
];

/// Whether `node` carries no attribute but a class or id (and `data-*`), and those name none
/// of [`TELLING_PARTS`] nor a furniture marker.
fn is_unnamed(node: &NodeRef) -> bool {
    let attrs = node.attrs();
    let only_names = attrs.iter().all(|a| {
        let name: &str = &a.name.local;
        name == "class" || name == "id" || name.starts_with("data-")
    });
    if !only_names || noise_marker(node).is_some() {
        return false;
    }
    let names = format!(
        "{} {}",
        node.attr("class").unwrap_or_default(),
        node.attr("id").unwrap_or_default()
    )
    .to_ascii_lowercase();
    !TELLING_PARTS.iter().any(|part| names.contains(part))
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

/// Whether `id` is the slug of the first heading inside `node` (three words or more).
fn is_heading_anchor(node: &NodeRef, id: &str) -> bool {
    if id.split(['-', '_']).filter(|p| !p.is_empty()).count() < 3 {
        return false;
    }
    let slug = |s: &str| -> String {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    };
    let heading = dom_query::Selection::from(*node)
        .select("h1, h2, h3, h4, h5, h6")
        .first()
        .text();
    let (heading, id) = (slug(&heading), slug(id));
    !heading.is_empty() && (heading == id || heading.starts_with(&id) || id.starts_with(&heading))
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
    // A section's id made from its own heading ("sharing-with-a-single-developer" over
    // "Sharing with a single developer") names the article's section, not furniture.
    let id = node.attr("id").filter(|id| !is_heading_anchor(node, id));
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

// ---- Blocks inside the article container that are not the article ----

/// What the markup says of one block of the article: the share of its letters inside links,
/// whether it sits in a table cell and whether it is a caption.
#[derive(Debug, Clone, Copy, Default)]
struct BlockInfo {
    link_share: f32,
    in_table: bool,
    caption: bool,
    /// A line of a paragraph broken by `<br>`: part of running text.
    line: bool,
}

/// [`BlockInfo`] of each block of `html`, by its text as the paragraph walker reads it.
fn block_info_of_html(html: &str) -> std::collections::HashMap<String, BlockInfo> {
    let doc = Document::fragment(html);
    let mut out = Vec::new();
    let mut current = (String::new(), String::new());
    walk_links(&doc.root(), BlockInfo::default(), &mut current, &mut out);
    flush_links(&mut current, BlockInfo::default(), &mut out);
    out.into_iter().collect()
}

/// [`walk`], also collecting the text inside `<a>` of each block and where the block sits.
fn walk_links(
    node: &NodeRef,
    at: BlockInfo,
    current: &mut (String, String),
    out: &mut Vec<(String, BlockInfo)>,
) {
    for child in node.children_it(false) {
        if child.is_text() {
            let t = child.text();
            current.0.push_str(&t);
            if at.link_share > 0.0 {
                current.1.push_str(&t);
            }
        } else if child.is_element() {
            let name = child
                .node_name()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            if matches!(name.as_str(), "script" | "style" | "noscript" | "template") {
                continue;
            }
            let inner = BlockInfo {
                link_share: if name == "a" { 1.0 } else { at.link_share },
                in_table: at.in_table || matches!(name.as_str(), "td" | "th"),
                caption: at.caption || matches!(name.as_str(), "figcaption" | "caption"),
                line: false,
            };
            if name == "br" {
                flush_links(current, BlockInfo { line: true, ..at }, out);
                // The text after the break is a line too.
                current.1.push('\u{0}');
                continue;
            }
            let block = is_block(&name);
            if block {
                flush_links(current, at, out);
            } else {
                current.0.push(' ');
            }
            walk_links(&child, inner, current, out);
            if block {
                flush_links(current, inner, out);
            } else {
                current.0.push(' ');
            }
        }
    }
}

fn flush_links(current: &mut (String, String), at: BlockInfo, out: &mut Vec<(String, BlockInfo)>) {
    let folded = fold_spaces(&current.0);
    if !folded.is_empty() {
        let letters = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count();
        let share = letters(&current.1) as f32 / letters(&folded).max(1) as f32;
        out.push((
            folded,
            BlockInfo {
                link_share: share.min(1.0),
                line: at.line || current.1.starts_with('\u{0}'),
                ..at
            },
        ));
    }
    current.0.clear();
    current.1.clear();
}

/// The texts of the page's captions and credits (`<figcaption>`, a class naming a caption or a
/// credit), read before readability, which drops class names.
fn caption_texts(doc: &Document) -> std::collections::HashSet<String> {
    doc.select("body figcaption, body [class*='caption'], body [class*='credit']")
        .nodes()
        .iter()
        .flat_map(paragraphs_of_node)
        .collect()
}

/// A slideshow's or a photo's controls and credits: "Image 1 of 8", "Caption", "Close",
/// "Photo: NAME, AGENCY", "© NAME", "Credit: ...".
static GALLERY_CONTROL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s(\[]*(?:
          (?:(?:image|photo|picture|slide|foto|bild)\s*)?\d+\s*(?:of|/|von|de|sur)\s*\d+
          | caption | close | hide\s+caption | show\s+caption | toggle\s+caption | expand
          | enlarge(?:\s+this)?(?:\s+image|\s+photo)? | (?:view|open|launch|see)\s+(?:the\s+)?(?:full\s+)?(?:gallery|slideshow|photos?|image)
          | previous | next | prev | back\s+to\s+(?:the\s+)?gallery | full\s*screen | exit\s+full\s*screen
          | photo | image | \d+\s+(?:photos?|images?|pictures?)(?:\s+in\s+(?:this\s+)?gallery)? | gallery | slideshow
          | more\s+photos | image\s+caption | photo\s+gallery
        )[\s)\].:]*$",
    )
    .unwrap()
});

/// A credit line under a photo: "Photo: NAME, AGENCY", "Credit: ...", "(AP Photo/NAME)".
static CREDIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s(\[]*(?:
          (?:(?:photo|image|picture|video|graphic|illustration)s?\s*(?:credit|courtesy|by)?|credits?|foto|bild|fotos)\s*[:/|]
          | (?:photo|image|picture)s?\s+(?:credit|courtesy|by)\b
          | (?:ap|afp|reuters|getty|epa)\s+(?:photo|images?)\b
          | ©|\(c\)|ⓒ
        )",
    )
    .unwrap()
});

/// A line that labels a bar of links or tags: "TRENDING:", "Related:", "Tags: ...".
static BAR_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s»›>|]*(?:
          trending(?:\s+now|\s+stories|\s+topics)? | related(?:\s+(?:stories|articles|content|coverage|links|news|posts|topics|video|videos))?
          | read\s+(?:more|also|next) | also\s+read | see\s+also | more\s+(?:on\s+this|from|stories|news|coverage)(?:\s+[\w'’]+){0,3}
          | recommended(?:\s+for\s+you)? | (?:most\s+)?popular(?:\s+now)? | most\s+read | tags? | topics? | filed\s+under | categories
          | keywords | you\s+may\s+also\s+like | you\s+might\s+also\s+like | don['’]t\s+miss | editor['’]?s\s+picks
        )\s*[:|»›>]",
    )
    .unwrap()
});

/// A heading of its own that names a bar of links ("Related", "Trending now").
static BAR_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s»›>|]*(?:
          trending(?:\s+now|\s+stories|\s+topics)? | related(?:\s+(?:stories|articles|content|coverage|links|news|posts|topics))?
          | read\s+(?:more|also|next) | also\s+read | see\s+also | more\s+(?:on\s+this(?:\s+story)?|stories|news|coverage)
          | recommended(?:\s+for\s+you)? | (?:most\s+)?popular(?:\s+now)? | most\s+read | tags | topics
          | you\s+may\s+also\s+like | you\s+might\s+also\s+like | don['’]t\s+miss | editor['’]?s\s+picks
        )[\s:.»›>]*$",
    )
    .unwrap()
});

/// Site boilerplate: copyright and reproduction notices, citation lines, newsletter and app
/// promotions, filing lines, contact lines.
static BOILERPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(?:
          ^\W*(?:©|\(c\)|copyright\b)|all\s+rights\s+reserved
          | may\s+not\s+be\s+(?:published|reproduced|redistributed|copied|republished)
          | \bcitation\b.*\bretrieved\b | \bretrieved\s+.{0,40}\bfrom\s+https?://
          | this\s+document\s+is\s+subject\s+to
          | \bnewsletters?\b | \bsign\s+up\b | \bsubscribe\b | \bunsubscribe\b
          | download\s+(?:the|our)\b.{0,40}\bapp\b | \bget\s+(?:the|our)\b.{0,40}\bapp\b
          | \bfollow\s+us\b
          | \blike\s+us\s+on\s+facebook
          | a\s+version\s+of\s+this\s+(?:article|story|report)\s+appear
          | ^this\s+(?:entry|post|article|story)\s+was\s+(?:posted|filed|published)
          | \bfiled\s+under\b | ^posted\s+in\b | ^(?:tags?|topics?|categories)\s*:
          | original\s+(?:article|story)\s+on\b
          | ^(?:e-?mail|contact)\s+.{1,60}\s+at\s+\S+@ | ^\S+@\S+\.\w{2,}$
          | \b(?:tel|phone|fax|telephone|call\s+us)\b\.?\s*:?\s*\+?\(?\d
          | \+?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b
          | \bterms\s+(?:of\s+(?:use|service)|and\s+conditions)\b | \bprivacy\s+policy\b
        )",
    )
    .unwrap()
});

/// A notice of the page about the reader's browser, not the article's.
static BROWSER_NOTICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)enable\s+javascript|javascript\s+(?:is\s+)?(?:disabled|required|must\s+be\s+enabled)|best\s+viewed\s+(?:in|with)|upgrad(?:e|ing)\s+(?:your|to\s+a)\s+(?:web\s+)?browser|browser\s+(?:does\s+not|doesn['’]t)\s+support",
    )
    .unwrap()
});

/// Labels of a byline or date line ("Updated", "Posted on", "By").
const DATE_LABELS: &[&str] = &[
    "updated",
    "last",
    "posted",
    "published",
    "modified",
    "first",
    "date",
    "dated",
    "on",
    "at",
    "by",
    "and",
    "written",
    "story",
    "words",
    "|",
];

/// Words that describe the author's role after a name ("Agency Staff Writer").
const ROLE_WORDS: &[&str] = &[
    "staff",
    "writer",
    "writers",
    "reporter",
    "reporters",
    "correspondent",
    "correspondents",
    "editor",
    "editors",
    "contributor",
    "contributing",
    "columnist",
    "senior",
    "chief",
    "special",
    "associated",
    "press",
    "news",
    "service",
    "wire",
    "of",
    "the",
    "and",
    "for",
    "in",
    "with",
    "from",
];

static TIME_ZONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Z]{1,3}T|UTC|GMT|CET|CEST|BST|IST|AEST|AEDT|JST|[+-]\d{2}:?\d{2})$")
        .unwrap()
});

/// Whether `w` (trimmed of punctuation) is part of a date or time.
fn is_date_token(w: &str) -> bool {
    let t = w.trim_matches(|c: char| !c.is_alphanumeric());
    if t.is_empty() {
        return true;
    }
    let ordinal = t
        .strip_suffix("st")
        .or_else(|| t.strip_suffix("nd"))
        .or_else(|| t.strip_suffix("rd"))
        .or_else(|| t.strip_suffix("th"))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    ordinal || TIME_ZONE.is_match(t) || DATE_WORDS.is_match(t)
}

fn has_date(p: &str) -> bool {
    static DATE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\d{1,2}:\d{2}|\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+\d{1,2}\b|\b\d{1,2}\.?\s+(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b").unwrap()
    });
    DATE.is_match(p)
}

/// A line that is only a date or time with its label: "Updated 6:40 am CST, Tuesday, March 3,
/// 2020", "Posted on Sunday, July 29, 2012, at 11:38 am".
fn is_date_line(p: &str) -> bool {
    let words: Vec<&str> = p.split_whitespace().collect();
    words.len() <= 16
        && has_date(p)
        && words.iter().all(|w| {
            let t = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            is_date_token(w) || DATE_LABELS.contains(&t.as_str())
        })
}

/// Whether `w` reads as part of a name: capitalised, or initials.
fn is_name_word(w: &str) -> bool {
    let t = w.trim_matches(|c: char| !c.is_alphanumeric());
    t.chars().next().is_some_and(char::is_uppercase)
}

/// A byline line: "By NAME", "By NAME - 3/3/20 11:04 PM EST", "Jane Doe, Agency Staff Writer"
/// (the name the page declares as its byline), with only names, roles and dates beside it.
fn is_byline_line(p: &str, byline: Option<&str>, must_repeat: bool) -> bool {
    let words: Vec<&str> = p.split_whitespace().collect();
    if words.is_empty() || words.len() > 20 {
        return false;
    }
    let rest_is_meta = |rest: &[&str]| {
        rest.iter().all(|w| {
            let t = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            is_name_word(w)
                || is_date_token(w)
                || ROLE_WORDS.contains(&t.as_str())
                || DATE_LABELS.contains(&t.as_str())
        })
    };
    let first = words[0].to_lowercase();
    let starts_by = first == "by"
        || (words.len() > 1
            && matches!(
                first.as_str(),
                "written" | "posted" | "story" | "words" | "reported"
            )
            && words[1].eq_ignore_ascii_case("by"));
    if starts_by && !must_repeat {
        let at = if first == "by" { 1 } else { 2 };
        let name = &words[at..];
        return !name.is_empty() && is_name_word(name[0]) && rest_is_meta(name);
    }
    let Some(byline) = byline.map(fold_case).filter(|b| !b.is_empty()) else {
        return false;
    };
    let line = fold_case(p);
    let name = byline.trim_start_matches("by ").trim();
    if name.is_empty() || name.split_whitespace().count() > 8 || !line.contains(name) {
        return false;
    }
    let rest: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !name.contains(
                &w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase(),
            )
        })
        .collect();
    rest.len() <= 10 && rest_is_meta(&rest)
}

/// Two to four capitalised words said twice at the start of a block: an inline card that
/// expands a linked name into the name again and the linked article's headline.
fn is_name_card(p: &str) -> bool {
    let words: Vec<&str> = p.split_whitespace().collect();
    if words.len() > 30 {
        return false;
    }
    (2..=4).any(|n| {
        words.len() > 2 * n
            && words[..n].iter().all(|w| is_name_word(w))
            && words[..n] == words[n..2 * n]
    })
}

/// Removes what sits inside the article's container without being the article: gallery
/// controls and credits, byline and date lines, bars of links, boilerplate at the end and
/// repeated blocks. Corrections and editor's notes are never touched, nor table cells. A
/// byline or date line the page declares nowhere else fills the empty field instead of being
/// lost.
fn remove_inner_furniture(
    article: &mut Article,
    blocks: &std::collections::HashMap<String, BlockInfo>,
    captions: &std::collections::HashSet<String>,
    trace: &mut Trace<'_>,
) {
    let paragraphs = std::mem::take(&mut article.paragraphs);
    let info = |p: &str| blocks.get(p).copied();
    let share = |p: &str| info(p).map(|b| b.link_share);
    let words = |p: &str| p.split_whitespace().count();
    let mut verdict: Vec<Option<Rule>> = vec![None; paragraphs.len()];
    let protected: Vec<bool> = paragraphs.iter().map(|p| is_correction(p)).collect();
    // A table cell is data (a date in an infobox, a name in a list of results) unless a rule
    // reads its text alone as furniture.
    let in_table: Vec<bool> = paragraphs
        .iter()
        .map(|p| info(p).is_some_and(|b| b.in_table))
        .collect();
    // Byline and date lines are furniture where the page puts them: at the top or the bottom of
    // the text, or anywhere when they repeat the byline the page declares.
    let edge = |i: usize| i < 4 || i + 3 >= paragraphs.len();
    let declared_byline = article.byline.clone();
    for (i, p) in paragraphs.iter().enumerate() {
        if protected[i] {
            continue;
        }
        let n = words(p);
        verdict[i] = if GALLERY_CONTROL.is_match(p)
            || (n <= 10 && CREDIT.is_match(p) && !p.ends_with('.'))
        {
            Some(Rule::GalleryFurniture)
        } else if n <= 60 && BROWSER_NOTICE.is_match(p) {
            Some(Rule::SiteBoilerplate)
        } else if !in_table[i]
            && (edge(i) || declared_byline.is_some())
            && is_byline_line(p, declared_byline.as_deref(), !edge(i))
        {
            if article.byline.is_none() {
                let name = p
                    .split_whitespace()
                    .skip_while(|w| !w.eq_ignore_ascii_case("by"))
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ");
                article.byline = Some(if name.is_empty() { p.clone() } else { name });
            }
            Some(Rule::BylineLine)
        } else if !in_table[i] && edge(i) && is_date_line(p) {
            if article.published.is_none() {
                article.published = Some(p.clone());
            } else if article.modified.is_none() && p.to_lowercase().contains("updated") {
                article.modified = Some(p.clone());
            }
            Some(Rule::DateLine)
        } else if (BAR_LABEL.is_match(p) && (n <= 40 || share(p).is_some_and(|s| s >= 0.5)))
            || is_name_card(p)
        {
            Some(Rule::Bar)
        } else {
            None
        };
    }
    // Runs of three or more short blocks that are all link at the end of the text, or under a
    // heading that names a bar: a related list or a tag list. A list of links inside the text
    // (a table of contents, a list of sources) is the article's.
    let linked = |i: usize| {
        !protected[i]
            && !in_table[i]
            && words(&paragraphs[i]) <= 15
            && share(&paragraphs[i]).is_some_and(|s| s >= 0.8)
    };
    let mut i = 0;
    while i < paragraphs.len() {
        if !linked(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < paragraphs.len() && (linked(i) || verdict[i].is_some()) {
            i += 1;
        }
        let headed =
            start > 0 && !protected[start - 1] && BAR_HEADING.is_match(&paragraphs[start - 1]);
        let at_end = verdict[i..].iter().all(Option::is_some);
        if i - start >= 3 && (headed || at_end) {
            for v in &mut verdict[start..i] {
                v.get_or_insert(Rule::LinkList);
            }
            if headed {
                verdict[start - 1].get_or_insert(Rule::LinkList);
            }
        }
    }
    // A lone heading that names a bar whose links went before.
    for (i, p) in paragraphs.iter().enumerate() {
        if verdict[i].is_none() && !protected[i] && words(p) <= 5 && BAR_HEADING.is_match(p) {
            let next_gone = verdict.get(i + 1).is_none_or(|v| v.is_some());
            if next_gone {
                verdict[i] = Some(Rule::Bar);
            }
        }
    }
    // Boilerplate at the end of the container, read from the end until the article's text.
    for i in (0..paragraphs.len()).rev() {
        if verdict[i].is_some() {
            continue;
        }
        let p = &paragraphs[i];
        if protected[i] || words(p) > 80 || !BOILERPLATE.is_match(p) {
            break;
        }
        verdict[i] = Some(Rule::SiteBoilerplate);
    }
    // A caption, a credit or a line of links said twice is kept once. Prose said twice, a line
    // of dialogue, a table cell are the article's own.
    let mut seen = std::collections::HashSet::new();
    for (i, p) in paragraphs.iter().enumerate() {
        if verdict[i].is_some()
            || protected[i]
            || in_table[i]
            || seen.insert(fold_case(p))
            || is_prose(p)
        {
            continue;
        }
        let b = info(p).unwrap_or_default();
        let sentence = p
            .trim_end_matches(['"', '\'', '”', '’', ')', ' '])
            .ends_with(['.', '!', '?', '…']);
        if b.caption
            || captions.contains(p)
            || b.link_share >= 0.5
            || (words(p) >= 3 && !sentence && !b.line)
        {
            verdict[i] = Some(Rule::Repeated);
        }
    }
    for (p, v) in paragraphs.into_iter().zip(verdict) {
        match v {
            Some(rule) => trace.text(&p, rule),
            None => article.paragraphs.push(p),
        }
    }
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

    /// A page of the classes of text that sit inside an article's container without being the
    /// article: gallery furniture, byline and date lines, bars and cards, site boilerplate.
    const CLUTTERED: &str = r##"<!doctype html><html><head><title>Council backs the new bridge | Daily</title>
<meta property="og:title" content="Council backs the new bridge"></head><body>
<article><h1>Council backs the new bridge</h1>
<p>By Jane Roe</p>
<p>Updated 6:40 am CST, Tuesday, March 3, 2020</p>
<p>TRENDING: <a href="/a">Storm hits coast</a> | <a href="/b">Mayor resigns</a> | <a href="/c">Rates rise</a></p>
<p>The city council voted on Monday night to build a new bridge across the river, ending a debate that has lasted for more than a decade and divided the town.</p>
<figure><img src="1.jpg"><figcaption>The old bridge at dawn, seen from the east bank of the river.</figcaption></figure>
<p>Image 1 of 3</p>
<figure><img src="2.jpg"><figcaption>The old bridge at dawn, seen from the east bank of the river.</figcaption></figure>
<p>Image 2 of 3</p>
<p>Close</p>
<p>Photo: John Smith, Daily Agency</p>
<p>Supporters said the bridge would cut commuting times in half and bring new shops to the north side, while opponents warned about the cost to taxpayers.</p>
<p><a href="/people/mary-major">Mary Major</a> Mary Major Senate panel backs bridge funding plan</p>
<p>The vote was seven to four, and construction is expected to begin next spring once the final designs have been approved by the state transport board.</p>
<p>Correction: An earlier version of this article misstated the number of council members who voted for the plan.</p>
<p>Related</p>
<p><a href="/x">Bridge plan draws crowd to town hall</a></p>
<p><a href="/y">What the new bridge will cost you</a></p>
<p><a href="/z">Ten years of debate, in pictures</a></p>
<p>Sign up for our morning newsletter and get the day's news in your inbox.</p>
<p>© 2020 Daily Media Group. All rights reserved.</p>
<p>Daily Media Group, 12 River Street, Springfield. Tel: +1 555 010 2030</p>
</article></body></html>"##;

    #[test]
    fn inner_furniture_is_removed_and_the_article_kept() {
        let article = extract(CLUTTERED, "https://news.example.org/bridge");
        let text = article.paragraphs.join("\n");
        for kept in [
            "The city council voted on Monday night",
            "Supporters said the bridge",
            "The vote was seven to four",
            "Correction: An earlier version",
        ] {
            assert!(text.contains(kept), "{kept:?} lost from {text}");
        }
        for gone in [
            "By Jane Roe",
            "6:40 am",
            "TRENDING",
            "Image 1 of 3",
            "Image 2 of 3",
            "Close",
            "Photo: John Smith",
            "Mary Major",
            "Related",
            "Bridge plan draws crowd",
            "newsletter",
            "All rights reserved",
            "Tel:",
        ] {
            assert!(!text.contains(gone), "{gone:?} kept in {text}");
        }
        // One caption next to its photo stays; its repeats do not.
        assert_eq!(text.matches("The old bridge at dawn").count(), 1, "{text}");
        // The byline and date lines stay in their fields.
        assert_eq!(article.byline.as_deref(), Some("Jane Roe"));
        assert!(
            article
                .published
                .as_deref()
                .is_some_and(|p| p.contains("March 3, 2020")),
            "{:?}",
            article.published
        );
    }

    #[test]
    fn explain_names_the_rule_of_each_inner_block() {
        let e = explain(
            CLUTTERED,
            "https://news.example.org/bridge",
            &Options::default(),
        );
        let rule_of = |needle: &str| {
            e.removed
                .iter()
                .find(|r| r.text.contains(needle))
                .map(|r| r.rule.clone())
        };
        assert_eq!(rule_of("Image 1 of 3"), Some(Rule::GalleryFurniture));
        assert_eq!(rule_of("Photo: John Smith"), Some(Rule::GalleryFurniture));
        assert_eq!(rule_of("By Jane Roe"), Some(Rule::BylineLine));
        assert_eq!(rule_of("6:40 am"), Some(Rule::DateLine));
        assert_eq!(rule_of("TRENDING"), Some(Rule::Bar));
        assert_eq!(rule_of("Mary Major"), Some(Rule::Bar));
        assert_eq!(rule_of("Bridge plan draws crowd"), Some(Rule::LinkList));
        assert_eq!(rule_of("All rights reserved"), Some(Rule::SiteBoilerplate));
        assert_eq!(rule_of("Tel:"), Some(Rule::SiteBoilerplate));
        assert_eq!(rule_of("The old bridge at dawn"), Some(Rule::Repeated));
    }

    #[test]
    fn lines_of_the_shape_of_furniture_inside_prose_stay() {
        for (line, byline) in [
            (
                "By the time the council met, the plan had changed twice.",
                None,
            ),
            ("By Friday the river had risen by two metres.", None),
            (
                "Jane Roe said the vote was a victory for the north side of town.",
                Some("Jane Roe"),
            ),
        ] {
            assert!(!is_byline_line(line, byline, false), "{line}");
        }
        for line in [
            "By Jane Roe",
            "By JANE ROE, Associated Press Writer",
            "By Jane Roe - 3/3/20 11:04 PM EST",
        ] {
            assert!(is_byline_line(line, None, false), "{line}");
        }
        assert!(is_byline_line(
            "Jane Doe, Agency Staff Writer",
            Some("Jane Doe"),
            true
        ));
        for line in [
            "Updated 6:40 am CST, Tuesday, March 3, 2020",
            "Posted on Sunday, July 29, 2012, at 11:38 am",
        ] {
            assert!(is_date_line(line), "{line}");
        }
        assert!(!is_date_line(
            "On March 3, 2020 the council met at 6:40 am to vote."
        ));
        assert!(is_name_card(
            "Jane Doe Jane Doe Senate panel backs bridge funding plan"
        ));
        assert!(!is_name_card("Jane Doe said Senate panel backs the plan"));
    }
}
