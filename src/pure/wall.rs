//! Walls: pages that show the reader less than the article (a paywall, a registration wall, a
//! cookie-consent overlay).
//!
//! Owns the reading of a page's wall signs ([`scan`]: schema.org paywall markup, the class and
//! id vocabularies of paywall, registration and consent providers, the prompts of a wall's box)
//! and the judgement ([`judge`]) of whether the text read from that page is the article or only
//! what a wall let through, mostly by comparing it with the last version's text. Signs come from
//! the page itself, never from a site's name. A page that shows the whole article is never
//! walled, whatever banner or newsletter box it carries. Pure: never does I/O, never decides
//! what a wall means for the archive (that is `classify`).

use std::fmt;

use dom_query::Document;

/// What kind of wall stands between the reader and the article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WallKind {
    /// Subscribe (or pay) to read on: a metered or hard paywall.
    Paywall,
    /// Register or log in (for free) to read on.
    Registration,
    /// Accept cookies or tracking first: a consent overlay in place of the page.
    Consent,
}

impl WallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paywall => "paywall",
            Self::Registration => "registration",
            Self::Consent => "consent",
        }
    }
}

impl fmt::Display for WallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the page's markup says about a wall, before its text is compared with anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signs {
    /// schema.org `isAccessibleForFree: false` (JSON-LD or microdata).
    pub not_free: bool,
    /// The `hasPart` `cssSelector` of that markup names elements the page does not hold, or
    /// holds nearly empty: the paid part is not on the page. `None`: no selector, or it is
    /// not one the parser reads.
    pub part_missing: Option<bool>,
    /// The classes and ids of known wall providers or generic wall words, and the tokens.
    pub providers: Vec<(WallKind, String)>,
    /// Wall prompts in the page's text ("subscribe to continue reading"), and the phrases.
    pub prompts: Vec<(WallKind, String)>,
}

impl Signs {
    /// Whether anything on the page looks like a wall at all.
    pub fn any(&self) -> bool {
        self.not_free || !self.providers.is_empty() || !self.prompts.is_empty()
    }

    /// The signs that `before` (the page of the latest version, which showed the article) did
    /// not carry: a site's template holds its provider's classes, its schema.org markup and a
    /// "log in" link on every page, walled or not, so only what is new can tell of a wall.
    pub fn since(&self, before: &Signs) -> Signs {
        Signs {
            not_free: self.not_free && !before.not_free,
            part_missing: self.part_missing.filter(|_| !before.not_free),
            providers: self
                .providers
                .iter()
                .filter(|p| !before.providers.contains(p))
                .cloned()
                .collect(),
            prompts: self
                .prompts
                .iter()
                .filter(|p| !before.prompts.contains(p))
                .cloned()
                .collect(),
        }
    }

    fn prompt(&self) -> Option<&(WallKind, String)> {
        self.prompts.first()
    }

    fn provider(&self) -> Option<&(WallKind, String)> {
        self.providers.first()
    }

    /// The kind the signs name, strongest first: the prompt a reader sees, then the schema.org
    /// markup (which is only ever about payment), then a provider's class.
    fn kind(&self) -> WallKind {
        if let Some((k, _)) = self.prompt() {
            return *k;
        }
        if self.not_free {
            return WallKind::Paywall;
        }
        self.provider()
            .map(|(k, _)| *k)
            .unwrap_or(WallKind::Paywall)
    }

    fn evidence(&self) -> String {
        let mut out = Vec::new();
        if self.not_free {
            out.push("schema.org isAccessibleForFree false".to_string());
        }
        if let Some((_, p)) = self.prompt() {
            out.push(format!("\u{201c}{p}\u{201d}"));
        }
        if let Some((_, t)) = self.provider() {
            out.push(format!("class {t}"));
        }
        out.join(", ")
    }
}

/// Class and id tokens (split on `-`, `_` and spaces, lower-cased) of wall providers and the
/// generic words for walls. A token must equal one of these, or start with one that ends in
/// `*`.
const PROVIDERS: &[(&str, WallKind)] = &[
    ("paywall", WallKind::Paywall),
    ("paywalled", WallKind::Paywall),
    ("metered", WallKind::Paywall),
    ("meter", WallKind::Paywall),
    ("piano", WallKind::Paywall),
    ("tp", WallKind::Paywall), // piano's tp-modal, tp-backdrop, tp-container
    ("poool", WallKind::Paywall),
    ("pelcro", WallKind::Paywall),
    ("laterpay", WallKind::Paywall),
    ("tinypass", WallKind::Paywall),
    ("subscriber*", WallKind::Paywall),
    ("premium", WallKind::Paywall),
    ("regwall", WallKind::Registration),
    ("registration", WallKind::Registration),
    ("loginwall", WallKind::Registration),
    ("onetrust", WallKind::Consent),
    ("didomi", WallKind::Consent),
    ("qc", WallKind::Consent), // quantcast qc-cmp2-container
    ("cmp*", WallKind::Consent),
    ("sp", WallKind::Consent), // sourcepoint sp_message_container
    ("truste", WallKind::Consent),
    ("trustarc", WallKind::Consent),
    ("cookiebot", WallKind::Consent),
    ("usercentrics", WallKind::Consent),
    ("consent", WallKind::Consent),
    ("gdpr", WallKind::Consent),
];

/// Tokens that must go with the one before them to mean a wall ("tp" alone is too short).
fn provider_token(tokens: &[String]) -> Option<(WallKind, String)> {
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(String::as_str).unwrap_or("");
        let hit = match t.as_str() {
            "tp" => matches!(next, "modal" | "backdrop" | "container" | "iframe"),
            "qc" => next == "cmp2" || next == "cmp",
            "sp" => next == "message",
            "cookie" => matches!(next, "consent" | "wall" | "banner"),
            _ => PROVIDERS.iter().any(|(w, _)| match w.strip_suffix('*') {
                Some(prefix) => t.starts_with(prefix) && t.len() <= prefix.len() + 8,
                None => t == w,
            }),
        };
        if hit {
            let kind = match t.as_str() {
                "cookie" => WallKind::Consent,
                other => PROVIDERS
                    .iter()
                    .find(|(w, _)| match w.strip_suffix('*') {
                        Some(prefix) => other.starts_with(prefix),
                        None => other == *w,
                    })
                    .map(|(_, k)| *k)
                    .unwrap_or(WallKind::Paywall),
            };
            let token = if next.is_empty() || !matches!(t.as_str(), "tp" | "qc" | "sp" | "cookie") {
                t.clone()
            } else {
                format!("{t}-{next}")
            };
            return Some((kind, token));
        }
    }
    None
}

/// The prompts of a wall's box, lower-case, each with the kind it names. Phrases of a
/// newsletter box ("subscribe to our newsletter") or a cookie notice that still shows the page
/// ("we use cookies") are deliberately absent.
const PROMPTS: &[(&str, WallKind)] = &[
    ("subscribe to continue", WallKind::Paywall),
    ("subscribe to read", WallKind::Paywall),
    ("subscribe to keep reading", WallKind::Paywall),
    ("subscribe now to continue", WallKind::Paywall),
    ("subscribe to unlock", WallKind::Paywall),
    ("already a subscriber", WallKind::Paywall),
    ("already subscribed", WallKind::Paywall),
    ("this article is for subscribers", WallKind::Paywall),
    ("this content is for subscribers", WallKind::Paywall),
    ("for subscribers only", WallKind::Paywall),
    ("subscribers only", WallKind::Paywall),
    ("exclusive to subscribers", WallKind::Paywall),
    ("reached your limit of free", WallKind::Paywall),
    (
        "you have reached your free article limit",
        WallKind::Paywall,
    ),
    ("you've reached your free article limit", WallKind::Paywall),
    ("free articles this month", WallKind::Paywall),
    ("become a subscriber to", WallKind::Paywall),
    ("start your subscription", WallKind::Paywall),
    ("register to continue", WallKind::Registration),
    ("register to read", WallKind::Registration),
    ("register for free to", WallKind::Registration),
    ("create a free account to", WallKind::Registration),
    ("create an account to continue", WallKind::Registration),
    ("sign up for free to continue", WallKind::Registration),
    ("log in to continue reading", WallKind::Registration),
    ("log in to read", WallKind::Registration),
    ("sign in to continue reading", WallKind::Registration),
    ("sign in to read", WallKind::Registration),
    ("please log in to", WallKind::Registration),
    ("please sign in to", WallKind::Registration),
    ("accept cookies to continue", WallKind::Consent),
    ("accept all cookies to", WallKind::Consent),
    ("before you continue", WallKind::Consent),
    ("consent to continue", WallKind::Consent),
    ("we value your privacy", WallKind::Consent),
    ("your privacy choices", WallKind::Consent),
    ("manage your consent", WallKind::Consent),
    ("accept and continue", WallKind::Consent),
];

/// Reads the wall signs of a page. Scripts and styles are not read for prompts (they hold the
/// strings of every state of a site's templates), only for schema.org markup in JSON-LD.
pub fn scan(html: &str) -> Signs {
    let doc = Document::from(html);
    let mut signs = Signs::default();
    let mut selectors = Vec::new();
    for script in doc.select("script[type='application/ld+json']").nodes() {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&script.text()) {
            read_schema(&value, &mut signs.not_free, &mut selectors);
        }
    }
    for node in doc.select("[itemprop='isAccessibleForFree']").nodes() {
        let value = node
            .attr("content")
            .map(|v| v.to_string())
            .unwrap_or_else(|| node.text().to_string());
        if is_false(value.trim()) {
            signs.not_free = true;
        }
    }
    if signs.not_free && !selectors.is_empty() {
        let mut missing = None;
        for sel in &selectors {
            if dom_query::Matcher::new(sel).is_err() {
                continue;
            }
            let found = doc.select(sel);
            let words = found.text().split_whitespace().count();
            missing = Some(missing.unwrap_or(true) && words < 40);
        }
        signs.part_missing = missing;
    }
    for node in doc.select("body [class], body [id]").nodes() {
        let mut tokens = Vec::new();
        for attr in ["class", "id"] {
            if let Some(v) = node.attr(attr) {
                tokens.extend(
                    v.split(|c: char| c == '-' || c == '_' || c.is_whitespace())
                        .filter(|t| !t.is_empty())
                        .map(str::to_lowercase),
                );
            }
        }
        if let Some(hit) = provider_token(&tokens)
            && !signs.providers.contains(&hit)
        {
            signs.providers.push(hit);
        }
    }
    doc.select("script, style, noscript, template").remove();
    let text = doc
        .select("body")
        .text()
        .to_lowercase()
        .replace('\u{2019}', "'");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    signs.prompts = PROMPTS
        .iter()
        .filter(|(p, _)| text.contains(p))
        .map(|(p, k)| (*k, p.to_string()))
        .collect();
    signs
}

fn is_false(v: &str) -> bool {
    v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("https://schema.org/False")
}

/// Finds `isAccessibleForFree: false` anywhere in a JSON-LD value (top level, `@graph`,
/// `hasPart`), and the `cssSelector` of the parts it marks.
fn read_schema(value: &serde_json::Value, not_free: &mut bool, selectors: &mut Vec<String>) {
    match value {
        serde_json::Value::Array(items) => {
            for v in items {
                read_schema(v, not_free, selectors);
            }
        }
        serde_json::Value::Object(map) => {
            let free = map.get("isAccessibleForFree");
            let this_not_free = match free {
                Some(serde_json::Value::Bool(b)) => !b,
                Some(serde_json::Value::String(s)) => is_false(s.trim()),
                _ => false,
            };
            if this_not_free {
                *not_free = true;
                if let Some(serde_json::Value::String(sel)) = map.get("cssSelector") {
                    selectors.push(sel.clone());
                }
            }
            for v in map.values() {
                if v.is_array() || v.is_object() {
                    read_schema(v, not_free, selectors);
                }
            }
        }
        _ => {}
    }
}

/// How the text a walled page shows relates to the last version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Nothing to compare with: the watch has no version yet.
    First,
    /// Part of the last version, unchanged (or nothing of it: an overlay in its place).
    Part,
    /// Part of the last version with these sentences changed or added above the wall.
    Changed(Vec<String>),
}

/// A wall found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wall {
    pub kind: WallKind,
    /// What gave it away, for the check's detail.
    pub evidence: String,
    pub shown: Shown,
}

impl Wall {
    /// The check's detail: the kind, then the evidence.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.kind, self.evidence)
    }
}

/// A teaser of a version holds at most this share of its words.
const TEASER_SHARE: f64 = 0.7;
/// A teaser that is the last version's text cut off (its first paragraphs, or a run of them,
/// unchanged, the last maybe cut short) holds at most this share: a box after a cut of the
/// very text is the strongest sign there is, so only a few paragraphs need be missing.
const CUT_SHARE: f64 = 0.95;
/// With no version to compare with, a page is walled only when its text is this short.
const FIRST_TEASER_WORDS: usize = 250;

/// Whether the text read from a page (`paragraphs`, the article's, without its title) is only
/// what a wall let through, given the page's signs and the last version's paragraphs (if any).
///
/// With a last version (pass the signs its page did not carry, [`Signs::since`]), the page is
/// walled when it carries a sign, the article text it shows (paragraphs found in the last
/// version, the last one maybe cut short, or rewordings of them) holds at most 70% of the last
/// version's words (95% when it is the last version's text cut off: a run of its paragraphs
/// unchanged, the last maybe cut short, with more after it), and it shows some of it or none
/// at all. Text of its own (the wall's box,
/// captions, furniture) is not counted. Rewordings are the sentences changed above the wall
/// ([`Shown::Changed`]). A short text with no wall sign is never walled: a real cut is an edit.
/// With no version yet, it takes the markup's word: the schema.org part missing, or a wall's
/// prompt on a page of at most 250 words, or a provider's class on one of at most 80.
pub fn judge(signs: &Signs, paragraphs: &[String], last: Option<&[String]>) -> Option<Wall> {
    if !signs.any() {
        return None;
    }
    // A page whose schema.org paid part is on the page in full shows the whole article.
    if signs.part_missing == Some(false) && signs.prompts.is_empty() {
        return None;
    }
    let shown: Vec<&String> = paragraphs.iter().filter(|p| !is_prompt(p)).collect();
    let words = |ps: &[&String]| {
        ps.iter()
            .map(|p| p.split_whitespace().count())
            .sum::<usize>()
    };
    let shown_words = words(&shown);
    let wall = |shown| Wall {
        kind: signs.kind(),
        evidence: signs.evidence(),
        shown,
    };
    let Some(last) = last else {
        let walled = signs.part_missing == Some(true)
            || (!signs.prompts.is_empty() && shown_words <= FIRST_TEASER_WORDS)
            || (!signs.providers.is_empty() && shown_words <= 80);
        return walled.then(|| wall(Shown::First));
    };
    let last_refs: Vec<&String> = last.iter().collect();
    let last_words = words(&last_refs).max(1);
    let folded: Vec<String> = last.iter().map(|p| fold(p)).collect();
    // Each shown paragraph: found in the last version (the last one may be cut short), a
    // rewording of one of its paragraphs, or text of its own (the wall's box, a caption, the
    // page's furniture that extraction took in with a shorter article).
    let mut found = 0usize;
    let mut article = Vec::new();
    let mut changed = Vec::new();
    for (i, p) in shown.iter().enumerate() {
        let f = fold(p);
        let is_last = i + 1 == shown.len();
        if folded
            .iter()
            .any(|l| *l == f || (is_last && l.starts_with(&f)))
        {
            found += 1;
            article.push(*p);
        } else if folded.iter().any(|l| similar(l, &f)) {
            article.push(*p);
            changed.extend(new_sentences(p, &folded));
        }
    }
    let share = if changed.is_empty() && is_run_of(&article, &folded) {
        CUT_SHARE
    } else {
        TEASER_SHARE
    };
    if words(&article) as f64 > share * last_words as f64 {
        return None;
    }
    if found == 0 && changed.is_empty() {
        // Nothing of the article: an overlay in its place, when the page says it is a wall
        // (a provider's class alone is not enough).
        return (!signs.prompts.is_empty() || signs.not_free).then(|| wall(Shown::Part));
    }
    if changed.is_empty() {
        return Some(wall(Shown::Part));
    }
    // Most of what it shows must be the last version's for the rest to be called changed.
    (found * 2 >= article.len()).then(|| wall(Shown::Changed(changed)))
}

/// Whether `article` is a strict part of `last` (folded): its paragraphs follow one another
/// there in the same order, the last one maybe cut short, and `last` holds more.
fn is_run_of(article: &[&String], last: &[String]) -> bool {
    let Some(first) = article.first().map(|p| fold(p)) else {
        return false;
    };
    let n = article.len();
    last.iter()
        .enumerate()
        .filter(|(_, l)| **l == first || (n == 1 && l.starts_with(&first)))
        .any(|(at, _)| {
            at + n <= last.len()
                && article.iter().enumerate().all(|(i, p)| {
                    let (f, l) = (fold(p), &last[at + i]);
                    *l == f || (i + 1 == n && l.starts_with(&f))
                })
                && (at + n < last.len() || at > 0 || last[at + n - 1] != fold(article[n - 1]))
        })
}

/// Whether two paragraphs share at least half of their distinct words: one is a rewording of
/// the other.
fn similar(a: &str, b: &str) -> bool {
    let words = |s: &str| {
        s.split_whitespace()
            .map(str::to_lowercase)
            .collect::<std::collections::HashSet<_>>()
    };
    let (a, b) = (words(a), words(b));
    let common = a.intersection(&b).count();
    let union = a.union(&b).count().max(1);
    common * 2 >= union
}

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a paragraph is a wall's own prompt that extraction kept as text.
fn is_prompt(p: &str) -> bool {
    let l = p.to_lowercase().replace('\u{2019}', "'");
    p.len() < 300 && PROMPTS.iter().any(|(phrase, _)| l.contains(phrase))
}

/// The sentences of `p` that no paragraph of the last version holds.
fn new_sentences(p: &str, last: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = p.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let end_of_sentence = matches!(c, '.' | '!' | '?')
            && chars.get(i + 1).is_none_or(|&(_, n)| n.is_whitespace());
        if end_of_sentence || i + 1 == chars.len() {
            let end = at + c.len_utf8();
            let sentence = fold(&p[start..end]);
            if !sentence.is_empty() && !last.iter().any(|l| l.contains(&sentence)) {
                out.push(sentence);
            }
            start = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paras(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "Paragraph {i} of the story says something with enough words in it to \
                     count as prose, the way a reporter writes. It goes on for a while."
                )
            })
            .collect()
    }

    fn page(head: &str, body: &str) -> String {
        format!("<html><head>{head}</head><body>{body}</body></html>")
    }

    const SCHEMA: &str = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","isAccessibleForFree":false,"hasPart":{"@type":"WebPageElement","isAccessibleForFree":false,"cssSelector":".paid"}}</script>"#;

    /// Scans `html`, judges `shown` against `last`, compares the kind (or `None`).
    fn check(html: &str, shown: &[String], last: Option<&[String]>, expected: Option<WallKind>) {
        let signs = scan(html);
        let got = judge(&signs, shown, last);
        assert_eq!(
            got.as_ref().map(|w| w.kind),
            expected,
            "signs {signs:?}\nwall {got:?}"
        );
    }

    #[test]
    fn schema_markup_is_read_from_json_ld_and_microdata() {
        let s = scan(&page(SCHEMA, "<p>text</p>"));
        assert!(s.not_free);
        assert_eq!(s.part_missing, Some(true));
        let s = scan(&page(
            "",
            r#"<div itemscope><meta itemprop="isAccessibleForFree" content="False"><p>x</p></div>"#,
        ));
        assert!(s.not_free);
        let graph = r#"<script type="application/ld+json">{"@graph":[{"@type":"WebPage"},{"@type":"NewsArticle","isAccessibleForFree":"false"}]}</script>"#;
        assert!(scan(&page(graph, "")).not_free);
        assert!(!scan(&page("", "<p>free</p>")).not_free);
    }

    #[test]
    fn providers_are_read_from_class_and_id() {
        let cases = [
            (r#"<div class="tp-modal"></div>"#, Some(WallKind::Paywall)),
            (
                r#"<div id="onetrust-consent-sdk"></div>"#,
                Some(WallKind::Consent),
            ),
            (r#"<div id="didomi-host"></div>"#, Some(WallKind::Consent)),
            (
                r#"<div class="qc-cmp2-container"></div>"#,
                Some(WallKind::Consent),
            ),
            (
                r#"<div id="sp_message_container_123"></div>"#,
                Some(WallKind::Consent),
            ),
            (
                r#"<div class="article-paywall"></div>"#,
                Some(WallKind::Paywall),
            ),
            (
                r#"<div class="regwall"></div>"#,
                Some(WallKind::Registration),
            ),
            (r#"<div class="header"></div>"#, None),
            (r#"<div class="newsletter-signup"></div>"#, None),
            (r#"<div class="top"></div>"#, None),
        ];
        for (body, kind) in cases {
            assert_eq!(
                scan(&page("", body)).providers.first().map(|p| p.0),
                kind,
                "{body}"
            );
        }
    }

    #[test]
    fn a_teaser_with_a_prompt_is_a_paywall() {
        let full = paras(10);
        let html = page(
            "",
            "<p>..</p><div class=\"box\">Subscribe to continue reading</div>",
        );
        check(&html, &full[..3], Some(&full), Some(WallKind::Paywall));
    }

    #[test]
    fn a_teaser_with_schema_markup_alone_is_a_paywall() {
        let full = paras(10);
        check(
            &page(SCHEMA, "<p>..</p>"),
            &full[..2],
            Some(&full),
            Some(WallKind::Paywall),
        );
    }

    #[test]
    fn the_last_shown_paragraph_may_be_cut_short() {
        let full = paras(10);
        let mut shown = full[..2].to_vec();
        shown.push(full[2][..40].to_string());
        let html = page(
            "",
            "<div class=\"paywall\">Already a subscriber? Log in</div>",
        );
        let signs = scan(&html);
        let wall = judge(&signs, &shown, Some(&full)).expect("walled");
        assert_eq!(wall.shown, Shown::Part);
    }

    #[test]
    fn registration_and_consent_are_told_apart() {
        let full = paras(10);
        let reg = page("", "<div>Create a free account to keep reading.</div>");
        check(&reg, &full[..2], Some(&full), Some(WallKind::Registration));
        let consent = page(
            "",
            "<div id=\"didomi-host\">We value your privacy. Accept and continue.</div>",
        );
        let overlay = vec!["We value your privacy and use cookies.".to_string()];
        check(&consent, &overlay, Some(&full), Some(WallKind::Consent));
        check(&consent, &[], None, Some(WallKind::Consent));
    }

    #[test]
    fn the_last_version_cut_off_under_a_box_is_walled_even_when_most_is_shown() {
        let full = paras(20);
        let html = page(
            "",
            "<p>..</p><div class=\"box\">Subscribe to continue reading</div>",
        );
        // Its first 18 paragraphs, or 18 from the second on: 90% of the words, yet a cut.
        check(&html, &full[..18], Some(&full), Some(WallKind::Paywall));
        check(&html, &full[1..19], Some(&full), Some(WallKind::Paywall));
        // The whole of it is no cut, whatever the box says.
        check(&html, &full, Some(&full), None);
        // A paragraph missing in the middle is not the text cut off: the 70% rule holds.
        let mut gap = full[..19].to_vec();
        gap.remove(5);
        check(&html, &gap, Some(&full), None);
        // And the same cut with no sign is an edit.
        check(&page("", "<p>story</p>"), &full[..18], Some(&full), None);
    }

    #[test]
    fn a_real_cut_without_a_wall_is_not_walled() {
        let full = paras(10);
        check(&page("", "<p>story</p>"), &full[..4], Some(&full), None);
    }

    #[test]
    fn a_full_article_with_a_banner_or_newsletter_box_is_not_walled() {
        let full = paras(10);
        let banner = page(
            "",
            "<div id=\"onetrust-banner-sdk\">We use cookies. Accept all</div>\
             <div class=\"newsletter\">Subscribe to our newsletter</div>",
        );
        check(&banner, &full, Some(&full), None);
        check(&banner, &full, None, None);
        // The paid part is on the page: the subscriber's view, or a site that marks every page.
        let open = page(
            SCHEMA,
            &format!("<div class=\"paid\">{}</div>", full.join(" ")),
        );
        check(&open, &full[..3], Some(&full), None);
        check(&open, &full, None, None);
    }

    #[test]
    fn a_changed_sentence_above_the_wall_is_named() {
        let full = paras(10);
        let mut shown = full[..3].to_vec();
        shown[1] = shown[1].replace("It goes on for a while.", "It stops right here.");
        let html = page(
            "",
            "<div class=\"paywall\">Subscribe to continue reading</div>",
        );
        let wall = judge(&scan(&html), &shown, Some(&full)).expect("walled");
        assert_eq!(
            wall.shown,
            Shown::Changed(vec!["It stops right here.".into()])
        );
    }

    #[test]
    fn a_box_of_its_own_after_the_teaser_is_not_a_change() {
        let full = paras(10);
        let mut shown = full[..3].to_vec();
        shown.push("Get unlimited digital access for one dollar a week. Cancel anytime.".into());
        let html = page(
            "",
            "<div class=\"paywall\">Subscribe to continue reading</div>",
        );
        let wall = judge(&scan(&html), &shown, Some(&full)).expect("walled");
        assert_eq!(wall.shown, Shown::Part);
    }

    #[test]
    fn a_sign_the_full_page_carried_too_is_not_a_wall() {
        let full = paras(10);
        let template = page(
            SCHEMA,
            "<div class=\"meter\"></div><a>Already a subscriber?</a>",
        );
        let before = scan(&template);
        // A real cut on a site whose every page carries these signs.
        let signs = scan(&template).since(&before);
        assert!(!signs.any(), "{signs:?}");
        assert_eq!(judge(&signs, &full[..3], Some(&full)), None);
        // The same site's wall: a new prompt.
        let walled = page(
            SCHEMA,
            "<div class=\"meter\"></div><a>Already a subscriber?</a>\
             <div>Subscribe to continue reading</div>",
        );
        let signs = scan(&walled).since(&before);
        assert_eq!(
            judge(&signs, &full[..3], Some(&full)).map(|w| w.kind),
            Some(WallKind::Paywall)
        );
    }

    #[test]
    fn a_first_check_takes_the_markup_s_word() {
        let short = paras(3);
        let prompt = page("", "<div>Subscribe to continue reading</div>");
        check(&prompt, &short, None, Some(WallKind::Paywall));
        check(&prompt, &paras(30), None, None);
        check(&page(SCHEMA, ""), &paras(30), None, Some(WallKind::Paywall));
        check(
            &page("", "<div class=\"tp-modal\"></div>"),
            &short,
            None,
            None,
        );
    }

    #[test]
    fn the_wall_s_prompt_kept_as_text_is_not_counted() {
        let full = paras(10);
        let mut shown = full[..2].to_vec();
        shown.push("Subscribe to continue reading. Already a subscriber? Log in.".into());
        let html = page("", "<div>Subscribe to continue reading</div>");
        let wall = judge(&scan(&html), &shown, Some(&full)).expect("walled");
        assert_eq!(wall.shown, Shown::Part);
    }
}
