//! A generated web of originals, copies and look-alikes, built from real article pages, and its
//! measurement through stet's extraction and copy index.
//!
//! Shared by `examples/copies_web` (the measurement on `../shared/corpus`) and the integration
//! test `copies` (a small web from `tests/fixtures/readability`). Everything is decided by one
//! seed, so a figure can be reproduced.
//!
//! Each source page's article (as stet extracts it) becomes an original on a host of its own,
//! rendered in its own page's furniture. Copies put an original's paragraphs into a *different*
//! page's furniture (its header, navigation, sidebars and footer; its own article removed) with
//! one recorded transformation each. Negatives: unrelated articles, and pairs of articles about
//! one event written separately by two "reporters" (different narration sharing one to five
//! quoted sentences and a standard line). Phase 2 edits originals (inside and outside what
//! each copy holds), deletes some, and alters some copies.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use dom_query::Document;
use stet::pure::copies::{self, Evidence, Link, Role, Shingled, Sketch, Thresholds};

/// A page of the corpus.
pub struct Source {
    pub name: String,
    pub html: String,
}

/// A deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// How a copy was made from its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transform {
    Full,
    /// The first 30-50% of the paragraphs.
    Cut30to50,
    /// The first 50-100% of the paragraphs.
    Cut50to100,
    /// 20-40% of the paragraphs deleted from the middle.
    ParagraphsDeleted,
    /// A local lede at the start and a closing paragraph at the end.
    LocalLede,
    /// A rewritten headline.
    Headline,
    /// 1-10% of the words changed.
    WordsChanged,
    /// A credit line naming the original's site, or a wire dateline.
    Credit,
    /// `rel=canonical` naming the original.
    Canonical,
    /// Two originals merged into one post.
    Merged,
}

pub const TRANSFORMS: [Transform; 10] = [
    Transform::Full,
    Transform::Cut30to50,
    Transform::Cut50to100,
    Transform::ParagraphsDeleted,
    Transform::LocalLede,
    Transform::Headline,
    Transform::WordsChanged,
    Transform::Credit,
    Transform::Canonical,
    Transform::Merged,
];

impl Transform {
    pub fn name(self) -> &'static str {
        match self {
            Transform::Full => "full copy",
            Transform::Cut30to50 => "cut to 30-50%",
            Transform::Cut50to100 => "cut to 50-100%",
            Transform::ParagraphsDeleted => "paragraphs deleted",
            Transform::LocalLede => "local lede + closing",
            Transform::Headline => "headline rewritten",
            Transform::WordsChanged => "1-10% words changed",
            Transform::Credit => "credit line",
            Transform::Canonical => "rel=canonical",
            Transform::Merged => "two merged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Original,
    Copy(Transform),
    SameEvent,
}

/// An article as stet read it from a source page.
#[derive(Debug, Clone)]
pub struct Story {
    pub title: String,
    pub paragraphs: Vec<String>,
}

/// One generated page and what is true of it.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub site: String,
    pub html: String,
    pub kind: Kind,
    /// For each original this page copies (by story index): the paragraphs of it the page holds.
    pub holds: Vec<(usize, Vec<usize>)>,
    /// The paragraphs as placed on the page (after the transformation).
    pub paragraphs: Vec<String>,
    pub title: String,
    /// Paragraphs the page added around what it copied (a lede, a closing).
    pub lede: Vec<usize>,
    pub published: Option<i64>,
    pub canonical: Option<String>,
    pub furniture: usize,
}

pub struct Web {
    pub stories: Vec<Story>,
    pub pages: Vec<Page>,
    /// The page of each original story.
    pub original_of: BTreeMap<usize, usize>,
    pub same_event: Vec<(usize, usize)>,
    /// Furniture templates by source index.
    templates: Vec<String>,
}

const SITES: [&str; 12] = [
    "riverside-times",
    "daily-lantern",
    "northern-courier",
    "harbour-gazette",
    "valley-ledger",
    "metro-dispatch",
    "coastal-herald",
    "prairie-post",
    "summit-tribune",
    "lakeside-observer",
    "capital-wire-review",
    "eastern-chronicle",
];

fn site_name(host_label: &str) -> String {
    host_label
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The furniture of a page: the page with its article, headline and article metadata removed,
/// and a marker where an article goes.
fn template(html: &str) -> Option<String> {
    let doc = Document::from(html);
    for sel in [
        "script",
        "noscript",
        "style",
        "link[rel='canonical']",
        "meta[property^='og:']",
        "meta[name^='twitter:']",
        "meta[property^='article:']",
        "meta[name='author']",
        "meta[name='description']",
        "meta[itemprop]",
        "time",
        "h1",
        "iframe",
    ] {
        doc.select(sel).remove();
    }
    let container = [
        "[itemprop='articleBody']",
        "article",
        "main",
        "[role='main']",
    ]
    .iter()
    .map(|s| doc.select(s))
    .find(|s| s.exists())
    .map(|s| s.first());
    let container = match container {
        Some(c) => c,
        None => {
            // The element with the most paragraphs of its own.
            let ps = doc.select("p");
            let parents: Vec<dom_query::NodeRef> =
                ps.nodes().iter().filter_map(|p| p.parent()).collect();
            let best = parents
                .iter()
                .max_by_key(|n| parents.iter().filter(|m| m.id == n.id).count())?;
            dom_query::Selection::from(*best)
        }
    };
    container.set_html("<div id=\"copyweb-article\"></div>");
    // What is left of the page's own article outside the container.
    for p in doc.select("p, li, div, td, blockquote").nodes() {
        if p.immediate_text().len() > 120 {
            p.remove_from_parent();
        }
    }
    doc.select("head title").set_html("{TITLE}");
    // A page whose furniture is mostly text (a list of a hundred headlines, script left in the
    // markup) says more about the corpus than about copies: not used as furniture.
    let left = doc.select("body").text().split_whitespace().count();
    let html = doc.html().to_string();
    (html.contains("copyweb-article") && left <= 400).then_some(html)
}

fn render(
    template: &str,
    title: &str,
    paragraphs: &[String],
    meta: &str,
    related: &[String],
) -> String {
    let mut article = format!("<h1>{}</h1>\n", escape(title));
    for p in paragraphs {
        article.push_str(&format!("<p>{}</p>\n", escape(p)));
    }
    article.push_str("<div class=\"related-videos\"><h3>Related Videos</h3><ul>");
    for r in related {
        article.push_str(&format!("<li><a href=\"/v\">{}</a></li>", escape(r)));
    }
    article.push_str("</ul></div><div class=\"comments\"><h3>No comments</h3><p>Be the first to comment.</p></div>");
    let html = template
        .replace("{TITLE}", &escape(title))
        .replace("<div id=\"copyweb-article\"></div>", &article);
    match html.find("<head>") {
        Some(i) => format!("{}{meta}{}", &html[..i + 6], &html[i + 6..]),
        None => format!("<html><head>{meta}</head>{html}</html>"),
    }
}

fn meta(published: Option<i64>, canonical: Option<&str>) -> String {
    let mut m = String::from("<meta charset=\"utf-8\">");
    if let Some(t) = published {
        let at = chrono::DateTime::from_timestamp(t, 0)
            .expect("time")
            .to_rfc3339();
        m.push_str(&format!(
            "<meta property=\"article:published_time\" content=\"{at}\">"
        ));
    }
    if let Some(c) = canonical {
        m.push_str(&format!("<link rel=\"canonical\" href=\"{}\">", escape(c)));
    }
    m
}

/// Reads a source page's article with stet's extractor.
fn story(s: &Source) -> Option<Story> {
    let a = stet::pure::extract::extract(&s.html, "http://source.test/");
    let paragraphs: Vec<String> = a
        .paragraphs
        .iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.split_whitespace().count() >= 4)
        .collect();
    let words: usize = paragraphs
        .iter()
        .map(|p| p.split_whitespace().count())
        .sum();
    // Script or style text read as an article is not an article.
    let text = paragraphs.join(" ");
    let code = text.matches([';', '{', '}', '=']).count();
    (code * 200 < text.len() && paragraphs.len() >= 6 && words >= 250 && !a.title.is_empty()).then(
        || Story {
            title: a.title.clone(),
            paragraphs,
        },
    )
}

const BASE_TIME: i64 = 1_765_000_000;
const HOUR: i64 = 3600;

fn sentences(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for w in p.split_whitespace() {
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
        if w.ends_with(['.', '!', '?']) {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Web {
    /// Builds phase 1: originals, copies (each original gets every transformation but a few)
    /// and same-event pairs, from `sources`.
    pub fn generate(sources: &[Source], originals: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let templates: Vec<(usize, String)> = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| template(&s.html).map(|t| (i, t)))
            .collect();
        let mut stories = Vec::new();
        let mut story_source = Vec::new();
        // The corpus holds a few articles twice (one story saved from two pages, test variants
        // of one page): a story that shares text with an earlier one is left out, or its two
        // "originals" would be copies of each other.
        let mut seen = copies::CopyIndex::new();
        let mut seen_text: Vec<Shingled> = Vec::new();
        let loose = Thresholds {
            containment: 0.2,
            min_shingles: 20,
            min_shared: 15,
        };
        for (i, s) in sources.iter().enumerate() {
            if let Some(st) = story(s) {
                let sh = Shingled::of(&st.paragraphs.join("\n"));
                let sketch = sh.sketch();
                let dup = seen
                    .candidates(&sketch)
                    .iter()
                    .any(|c| copies::verify(&sh, &seen_text[c.id], &loose).is_some());
                if dup {
                    continue;
                }
                seen.insert(seen_text.len(), &sketch);
                seen_text.push(sh);
                stories.push(st);
                story_source.push(i);
            }
        }
        // The stories in an order of the seed's, so originals come from every part of the corpus.
        let mut order: Vec<usize> = (0..stories.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let stories: Vec<Story> = order.iter().map(|&i| stories[i].clone()).collect();
        let story_source: Vec<usize> = order.iter().map(|&i| story_source[i]).collect();
        let n_orig = originals.min(stories.len() * 2 / 3);
        let mut web = Web {
            stories,
            pages: Vec::new(),
            original_of: BTreeMap::new(),
            same_event: Vec::new(),
            templates: templates.iter().map(|t| t.1.clone()).collect(),
        };
        let vocabulary: Vec<String> = web
            .stories
            .iter()
            .flat_map(|s| s.paragraphs.iter().flat_map(|p| p.split_whitespace()))
            .filter(|w| w.len() > 3 && w.chars().all(char::is_alphabetic))
            .take(20_000)
            .map(str::to_string)
            .collect();
        let headlines: Vec<String> = web.stories.iter().map(|s| s.title.clone()).collect();
        let related = |rng: &mut Rng| -> Vec<String> {
            (0..3)
                .map(|_| headlines[rng.below(headlines.len())].clone())
                .collect()
        };
        let template_of_source = |src: usize| templates.iter().position(|t| t.0 == src);
        let mut site_counter = 0usize;
        let mut next_site = || {
            site_counter += 1;
            format!("{}-{site_counter}", SITES[site_counter % SITES.len()])
        };
        for (s, &source) in story_source.iter().enumerate().take(n_orig) {
            let story = web.stories[s].clone();
            let own = template_of_source(source).unwrap_or(0);
            let site = next_site();
            let url = format!("http://{site}.test/news/{s}");
            let published = rng.chance(0.9).then_some(BASE_TIME + s as i64 * 24 * HOUR);
            let page = Page {
                url: url.clone(),
                site: site.clone(),
                html: String::new(),
                kind: Kind::Original,
                holds: vec![(s, (0..story.paragraphs.len()).collect())],
                paragraphs: story.paragraphs.clone(),
                title: story.title.clone(),
                lede: Vec::new(),
                published,
                canonical: rng.chance(0.5).then(|| url.clone()),
                furniture: own,
            };
            web.original_of.insert(s, web.pages.len());
            web.pages.push(page);
        }
        for s in 0..n_orig {
            let story = web.stories[s].clone();
            let orig = web.pages[web.original_of[&s]].clone();
            let n = story.paragraphs.len();
            for t in TRANSFORMS {
                if t == Transform::Merged && (s % 2 == 1 || s + 1 >= n_orig) {
                    continue;
                }
                let site = next_site();
                let url = format!("http://{site}.test/{}/{s}", t.name().replace(' ', "-"));
                let mut held: Vec<usize> = (0..n).collect();
                let mut title = story.title.clone();
                let mut lede = Vec::new();
                let mut canonical = rng.chance(0.5).then(|| url.clone());
                match t {
                    Transform::Cut30to50 | Transform::Cut50to100 => {
                        let (lo, hi) = if t == Transform::Cut30to50 {
                            (0.3, 0.5)
                        } else {
                            (0.5, 1.0)
                        };
                        let keep = ((n as f64 * rng.range(lo, hi)).round() as usize).clamp(1, n);
                        held.truncate(keep);
                    }
                    Transform::ParagraphsDeleted => {
                        let drop = ((n as f64 * rng.range(0.2, 0.4)).round() as usize).max(1);
                        for _ in 0..drop {
                            if held.len() > 3 {
                                let i = 1 + rng.below(held.len() - 2);
                                held.remove(i);
                            }
                        }
                    }
                    Transform::Headline => {
                        let words: Vec<&str> = story.title.split_whitespace().collect();
                        let keep = words.len().div_ceil(2);
                        title =
                            format!("Explainer: {} and what comes next", words[..keep].join(" "));
                    }
                    Transform::Canonical => canonical = Some(orig.url.clone()),
                    _ => {}
                }
                let mut paragraphs: Vec<String> =
                    held.iter().map(|&i| story.paragraphs[i].clone()).collect();
                let mut holds = vec![(s, held.clone())];
                match t {
                    Transform::LocalLede => {
                        paragraphs.insert(
                            0,
                            format!(
                                "Readers in {} have been asking us about this story all week, so here is the full report as it was published, with our own notes.",
                                site_name(&site)
                            ),
                        );
                        paragraphs.push(format!(
                            "Have a tip about this or another story? Write to the {} newsroom; we read every message.",
                            site_name(&site)
                        ));
                        lede = vec![0, paragraphs.len() - 1];
                    }
                    Transform::WordsChanged => {
                        let total: usize = paragraphs
                            .iter()
                            .map(|p| p.split_whitespace().count())
                            .sum();
                        let change =
                            ((total as f64 * rng.range(0.01, 0.10)).round() as usize).max(1);
                        for _ in 0..change {
                            let pi = rng.below(paragraphs.len());
                            let mut words: Vec<String> = paragraphs[pi]
                                .split_whitespace()
                                .map(str::to_string)
                                .collect();
                            let wi = rng.below(words.len());
                            words[wi] = vocabulary[rng.below(vocabulary.len())].clone();
                            paragraphs[pi] = words.join(" ");
                        }
                    }
                    Transform::Credit => match rng.below(3) {
                        0 => paragraphs.push(format!("Source: {}", site_name(&orig.site))),
                        1 => paragraphs.push(format!(
                            "This article originally appeared on {}.",
                            site_name(&orig.site)
                        )),
                        _ => paragraphs[0] = format!("WASHINGTON (AP) — {}", paragraphs[0]),
                    },
                    Transform::Merged => {
                        let other = &web.stories[s + 1];
                        paragraphs.extend(other.paragraphs.iter().cloned());
                        holds.push((s + 1, (0..other.paragraphs.len()).collect()));
                        title = format!("{} / {}", story.title, other.title);
                    }
                    _ => {}
                }
                let published = orig
                    .published
                    .filter(|_| rng.chance(0.75))
                    .map(|p| p + (2 + rng.below(46) as i64) * HOUR);
                let mut furniture = rng.below(web.templates.len());
                if furniture == orig.furniture {
                    furniture = (furniture + 1) % web.templates.len();
                }
                web.pages.push(Page {
                    url,
                    site,
                    html: String::new(),
                    kind: Kind::Copy(t),
                    holds,
                    paragraphs,
                    title,
                    lede,
                    published,
                    canonical,
                    furniture,
                });
            }
        }
        // Same-event pairs: two reporters, their own narration (stories nobody copies), the
        // same quoted sentences from a third story, and one standard line.
        let narration: Vec<usize> = (n_orig..web.stories.len()).collect();
        for chunk in narration.chunks(3) {
            let [a, b, q] = chunk else { break };
            let quotes: Vec<String> = web.stories[*q]
                .paragraphs
                .iter()
                .flat_map(|p| sentences(p))
                .filter(|s| s.split_whitespace().count() >= 8)
                .take(1 + rng.below(5))
                .collect();
            let event_time = BASE_TIME + rng.below(1000) as i64 * HOUR;
            let mut pair = Vec::new();
            for (k, &own) in [a, b].iter().enumerate() {
                let st = web.stories[*own].clone();
                let mut paragraphs: Vec<String> = st.paragraphs.iter().take(12).cloned().collect();
                for (i, quote) in quotes.iter().enumerate() {
                    let at = (1 + 2 * i).min(paragraphs.len());
                    let said = if k == 0 {
                        "a spokesperson said"
                    } else {
                        "the spokesperson told reporters"
                    };
                    paragraphs.insert(at, format!("\u{201c}{quote}\u{201d} {said}."));
                }
                paragraphs.push("This story has been updated with additional reporting.".into());
                let site = next_site();
                let url = format!("http://{site}.test/event/{a}");
                pair.push(web.pages.len());
                web.pages.push(Page {
                    url: url.clone(),
                    site,
                    html: String::new(),
                    kind: Kind::SameEvent,
                    holds: Vec::new(),
                    paragraphs,
                    title: st.title.clone(),
                    lede: Vec::new(),
                    published: Some(event_time + k as i64 * 3 * HOUR),
                    canonical: Some(url),
                    furniture: rng.below(web.templates.len()),
                });
            }
            web.same_event.push((pair[0], pair[1]));
        }
        for i in 0..web.pages.len() {
            let r = related(&mut rng);
            web.render_page(i, &r);
        }
        web
    }

    fn render_page(&mut self, i: usize, related: &[String]) {
        let p = &self.pages[i];
        let html = render(
            &self.templates[p.furniture],
            &p.title,
            &p.paragraphs,
            &meta(p.published, p.canonical.as_deref()),
            related,
        );
        self.pages[i].html = html;
    }

    /// Phase 2: edits and deletions of originals, alterations of copies.
    pub fn phase2(&self, seed: u64) -> Phase2 {
        let mut rng = Rng::new(seed ^ 0x5048_4153_4532);
        let mut web = Web {
            stories: self.stories.clone(),
            pages: self.pages.clone(),
            original_of: self.original_of.clone(),
            same_event: self.same_event.clone(),
            templates: self.templates.clone(),
        };
        let mut edited = BTreeMap::new();
        let mut deleted = BTreeSet::new();
        let mut altered = BTreeMap::new();
        for (&s, &page) in &self.original_of {
            let roll = rng.below(10);
            if roll < 2 {
                deleted.insert(page);
            } else if roll < 8 {
                let n = web.pages[page].paragraphs.len();
                let p = rng.below(n);
                web.pages[page].paragraphs[p] =
                    edit_words(&web.pages[page].paragraphs[p], &mut rng);
                edited.insert(page, (s, p));
            }
        }
        for i in 0..web.pages.len() {
            let Kind::Copy(t) = web.pages[i].kind else {
                continue;
            };
            if !rng.chance(0.2) {
                continue;
            }
            let page = &mut web.pages[i];
            if t == Transform::LocalLede && rng.chance(0.5) {
                page.paragraphs[0] = edit_words(&page.paragraphs[0], &mut rng);
                altered.insert(i, false);
            } else {
                let candidates: Vec<usize> = (0..page.paragraphs.len())
                    .filter(|k| !page.lede.contains(k))
                    .collect();
                let k = candidates[rng.below(candidates.len())];
                page.paragraphs[k] = edit_words(&page.paragraphs[k], &mut rng);
                altered.insert(i, true);
            }
        }
        for i in edited
            .keys()
            .chain(altered.keys())
            .copied()
            .collect::<Vec<_>>()
        {
            let r = vec!["Watch: the week in pictures".to_string()];
            web.render_page(i, &r);
        }
        Phase2 {
            web,
            edited,
            deleted,
            altered,
        }
    }
}

/// A substantive edit of a paragraph: a word replaced in its middle and one inserted.
fn edit_words(p: &str, rng: &mut Rng) -> String {
    let mut words: Vec<String> = p.split_whitespace().map(str::to_string).collect();
    let mid = words.len() / 2;
    words[mid] = format!(
        "{}{}",
        ["seven", "ninety", "several", "no"][rng.below(4)],
        ""
    );
    words.insert(mid, "reportedly".into());
    words.join(" ")
}

pub struct Phase2 {
    pub web: Web,
    /// Edited original pages: their story and the paragraph edited.
    pub edited: BTreeMap<usize, (usize, usize)>,
    pub deleted: BTreeSet<usize>,
    /// Altered copy pages: whether the alteration touched words the copy holds.
    pub altered: BTreeMap<usize, bool>,
}

/// What the real pipeline read from a page.
pub struct Read {
    pub text: String,
    pub shingled: Shingled,
    pub evidence: Evidence,
}

pub fn read(page: &Page) -> Read {
    let article = stet::pure::extract::extract(&page.html, &page.url);
    let text = stet::pure::fingerprint::Fingerprint::of(&article).canonical_text;
    let published = article.published.as_deref().and_then(|p| {
        chrono::DateTime::parse_from_rfc3339(p)
            .ok()
            .map(|t| t.timestamp())
    });
    Read {
        shingled: Shingled::of(&text),
        evidence: Evidence {
            url: page.url.clone(),
            first_seen: Some(BASE_TIME + 400 * 24 * HOUR),
            published,
            canonical: article.canonical_url.clone(),
            credit: copies::credit_line(&text),
        },
        text,
    }
}

/// A pair the index proposed, with what verification measured.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub a: usize,
    pub b: usize,
    pub overlap: copies::Overlap,
    pub shorter: usize,
}

/// Phase 1 through the index: every page read, looked up, verified permissively, indexed.
pub fn index_all(web: &Web) -> (Vec<Read>, Vec<Candidate>) {
    let reads: Vec<Read> = web.pages.iter().map(read).collect();
    let mut index = copies::CopyIndex::new();
    let mut found = Vec::new();
    let any = Thresholds {
        containment: 0.0,
        min_shingles: 1,
        min_shared: 1,
    };
    for (i, r) in reads.iter().enumerate() {
        let sketch: Sketch = r.shingled.sketch();
        for c in index.candidates(&sketch) {
            let j: usize = c.id;
            if let Some(overlap) = copies::verify(&r.shingled, &reads[j].shingled, &any) {
                found.push(Candidate {
                    a: i,
                    b: j,
                    overlap,
                    shorter: r.shingled.len().min(reads[j].shingled.len()),
                });
            }
        }
        index.insert(i, &sketch);
    }
    (reads, found)
}

fn passes(c: &Candidate, t: &Thresholds) -> bool {
    c.shorter >= t.min_shingles
        && c.overlap.shared >= t.min_shared
        && c.overlap.containment >= t.containment
}

/// Whether two pages truly share an original's text.
fn related(web: &Web, a: usize, b: usize) -> bool {
    let (pa, pb) = (&web.pages[a], &web.pages[b]);
    pa.holds
        .iter()
        .any(|(s, _)| pb.holds.iter().any(|(t, _)| s == t))
}

#[derive(Debug, Default, Clone)]
pub struct Score {
    pub expected: usize,
    pub found: usize,
    pub links: usize,
    pub true_links: usize,
}

impl Score {
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.expected)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.true_links, self.links)
    }
}

pub fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[derive(Debug, Default)]
pub struct Report {
    pub per_transform: BTreeMap<Transform, Score>,
    pub all: Score,
    pub same_event_pairs: usize,
    pub same_event_links: usize,
    pub unrelated_links: usize,
    pub copy_copy_links: usize,
    pub originals: usize,
    pub original_right: usize,
    pub original_unknown: usize,
    pub original_wrong: usize,
    pub copies_called_copy: usize,
    pub copies_called_original: usize,
    pub copies_total: usize,
    pub stale_edit: Score,
    pub stale_edit_false_outside: usize,
    pub deleted: Score,
    pub altered: Score,
}

/// Scores phase 1 links and roles at `t`.
pub fn score(
    web: &Web,
    reads: &[Read],
    found: &[Candidate],
    t: &Thresholds,
) -> (Report, Vec<Link>) {
    let mut r = Report::default();
    let links: Vec<Link> = found
        .iter()
        .filter(|c| passes(c, t))
        .map(|c| Link {
            a: c.a,
            b: c.b,
            overlap: c.overlap,
        })
        .collect();
    let linked: BTreeSet<(usize, usize)> =
        links.iter().map(|l| (l.a.min(l.b), l.a.max(l.b))).collect();
    for (i, p) in web.pages.iter().enumerate() {
        if let Kind::Copy(tr) = p.kind {
            let sc = r.per_transform.entry(tr).or_default();
            for (s, _) in &p.holds {
                let o = web.original_of[s];
                sc.expected += 1;
                if linked.contains(&(o.min(i), o.max(i))) {
                    sc.found += 1;
                }
            }
        }
    }
    for &(a, b) in &linked {
        let truth = related(web, a, b);
        for x in [a, b] {
            if let Kind::Copy(tr) = web.pages[x].kind {
                let sc = r.per_transform.get_mut(&tr).expect("scored");
                sc.links += 1;
                sc.true_links += usize::from(truth);
            }
        }
        if !truth {
            let se = web
                .same_event
                .iter()
                .any(|&(x, y)| (x.min(y), x.max(y)) == (a, b));
            if se {
                r.same_event_links += 1;
            } else {
                r.unrelated_links += 1;
            }
        } else if web.pages[a].kind != Kind::Original && web.pages[b].kind != Kind::Original {
            r.copy_copy_links += 1;
        }
    }
    r.same_event_pairs = web.same_event.len();
    for sc in r.per_transform.values() {
        r.all.expected += sc.expected;
        r.all.found += sc.found;
    }
    r.all.links = linked.len();
    r.all.true_links = linked.iter().filter(|&&(a, b)| related(web, a, b)).count();
    // Roles.
    let evidence: Vec<Evidence> = reads.iter().map(|r| r.evidence.clone()).collect();
    let clusters = copies::clusters(&evidence, &links);
    for (&_, &o) in &web.original_of {
        let mine: Vec<&copies::Cluster> = clusters
            .iter()
            .filter(|c| c.members.iter().any(|m| m.index == o))
            .collect();
        if mine.is_empty() {
            continue;
        }
        r.originals += 1;
        let right = mine.iter().any(|c| {
            c.members
                .iter()
                .any(|m| m.index == o && m.role == Role::Original)
        });
        let wrong = mine.iter().any(|c| {
            c.members
                .iter()
                .any(|m| m.role == Role::Original && web.pages[m.index].kind != Kind::Original)
        });
        if wrong {
            r.original_wrong += 1;
        } else if right {
            r.original_right += 1;
        } else {
            r.original_unknown += 1;
        }
    }
    for c in &clusters {
        for m in &c.members {
            if matches!(web.pages[m.index].kind, Kind::Copy(_)) {
                r.copies_total += 1;
                match m.role {
                    Role::Copy => r.copies_called_copy += 1,
                    Role::Original => r.copies_called_original += 1,
                    Role::Unknown => {}
                }
            }
        }
    }
    (r, links)
}

/// Scores the stale-copy events of phase 2 over the links phase 1 found.
pub fn score_phase2(
    web: &Web,
    reads: &[Read],
    links: &[Link],
    p2: &Phase2,
    t: &Thresholds,
    r: &mut Report,
) {
    let new_text = |i: usize| read(&p2.web.pages[i]).text;
    let mut partners: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for l in links {
        partners.entry(l.a).or_default().push(l.b);
        partners.entry(l.b).or_default().push(l.a);
    }
    for (&o, &(s, p)) in &p2.edited {
        let now = new_text(o);
        for (i, page) in web.pages.iter().enumerate() {
            if let Some((_, held)) = page.holds.iter().find(|(x, _)| *x == s)
                && i != o
                && held.contains(&p)
            {
                r.stale_edit.expected += 1;
            }
        }
        for &y in partners.get(&o).into_iter().flatten() {
            let truth = web.pages[y]
                .holds
                .iter()
                .any(|(x, held)| *x == s && held.contains(&p));
            if copies::edited_after_copy(&reads[o].text, &now, &reads[y].text).is_some() {
                r.stale_edit.links += 1;
                if truth {
                    r.stale_edit.true_links += 1;
                    r.stale_edit.found += 1;
                } else if web.pages[y].holds.iter().any(|(x, _)| *x == s) {
                    r.stale_edit_false_outside += 1;
                }
            }
        }
    }
    for &o in &p2.deleted {
        let s = web
            .original_of
            .iter()
            .find(|e| *e.1 == o)
            .map(|e| *e.0)
            .expect("original");
        let copies_of: Vec<usize> = (0..web.pages.len())
            .filter(|&i| i != o && web.pages[i].holds.iter().any(|(x, _)| *x == s))
            .collect();
        r.deleted.expected += copies_of.len();
        for &y in partners.get(&o).into_iter().flatten() {
            if copies::survives_deletion(&reads[o].text, &reads[y].text, t).is_some() {
                r.deleted.links += 1;
                if copies_of.contains(&y) {
                    r.deleted.true_links += 1;
                    r.deleted.found += 1;
                }
            }
        }
    }
    for (&y, &inside) in &p2.altered {
        let now = new_text(y);
        if inside {
            r.altered.expected += 1;
        }
        let originals: Vec<usize> = partners
            .get(&y)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&x| web.pages[x].kind == Kind::Original)
            .collect();
        let mut fired = false;
        for x in originals {
            fired |= copies::copy_altered(&reads[x].text, &reads[y].text, &now).is_some();
        }
        if fired {
            r.altered.links += 1;
            if inside {
                r.altered.true_links += 1;
                r.altered.found += 1;
            }
        }
    }
}

/// Prints the false links, the missed pairs and the undecided clusters (for tuning).
pub fn explain(web: &Web, reads: &[Read], links: &[Link]) {
    for l in links {
        if !related(web, l.a, l.b) {
            println!(
                "FALSE {} ~ {} c={:.2} shared={} spans {:?} {:?}",
                web.pages[l.a].url,
                web.pages[l.b].url,
                l.overlap.containment,
                l.overlap.shared,
                l.overlap.span_a,
                l.overlap.span_b
            );
            let words: Vec<&str> = reads[l.a].text.split_whitespace().collect();
            let (s, e) = l.overlap.span_a;
            println!(
                "   a: {}",
                words[s as usize..(e as usize).min(words.len())]
                    .iter()
                    .take(60)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    let linked: BTreeSet<(usize, usize)> =
        links.iter().map(|l| (l.a.min(l.b), l.a.max(l.b))).collect();
    for (i, p) in web.pages.iter().enumerate() {
        for (s, _) in &p.holds {
            let o = web.original_of[s];
            if i != o && !linked.contains(&(o.min(i), o.max(i))) {
                println!(
                    "MISSED {} of {}: {} vs {} shingles; text: {}",
                    p.url,
                    web.pages[o].url,
                    reads[i].shingled.len(),
                    reads[o].shingled.len(),
                    reads[i].text.chars().take(300).collect::<String>()
                );
            }
        }
    }
    let evidence: Vec<Evidence> = reads.iter().map(|r| r.evidence.clone()).collect();
    for c in copies::clusters(&evidence, links).iter().take(15) {
        println!("CLUSTER");
        for m in &c.members {
            println!(
                "  {} {:?} published={:?} {:?}",
                web.pages[m.index].url, m.role, evidence[m.index].published, m.reasons
            );
        }
    }
}
