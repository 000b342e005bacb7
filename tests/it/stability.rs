//! Stability of the content hash on real pages: markup-only changes (class and id renaming,
//! attribute order, whitespace and indentation, wrapper `<div>`s around blocks, inline scripts
//! and styles changed, ad and promo blocks swapped) never change it, and a one-word edit in any
//! article sentence always does. Every fixture page gets every transformation once; a property
//! test then draws random combinations and random edits.

use std::sync::LazyLock;

use dom_query::{Document, NodeRef};
use proptest::prelude::*;
use regex::Regex;
use stet::pure::extract::extract;
use stet::pure::fingerprint::Fingerprint;

use crate::support::{fixture, fixture_names};

/// A small deterministic generator, so a failing case names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Which markup-only transformations to apply.
#[derive(Debug, Clone, Copy)]
struct Transform {
    classes: bool,
    attribute_order: bool,
    whitespace: bool,
    wrappers: bool,
    scripts: bool,
    seed: u64,
}

impl Transform {
    fn all(seed: u64) -> Self {
        Self {
            classes: true,
            attribute_order: true,
            whitespace: true,
            wrappers: true,
            scripts: true,
            seed,
        }
    }
}

/// Generated-looking class suffixes: letters and digits that spell no word a content heuristic
/// looks for.
fn token(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"qzxjvk0123456789";
    (0..6)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
        .collect()
}

const ADS: [[&str; 2]; 3] = [
    [
        "<div class=\"ad-slot\"><p>Advertisement</p><p>Win a weekend in Lisbon with our summer sweepstakes, enter today and save!</p></div>",
        "<div class=\"ad-slot\"><p>Advertisement</p><p>Switch your energy supplier now and save up to 300 euros a year on your bills!</p></div>",
    ],
    [
        "<aside class=\"promo\"><h4>Subscribe</h4><p>Get unlimited access to all our journalism for just one euro a week.</p></aside>",
        "<div class=\"promo-box\"><h4>Our newsletter</h4><p>The morning briefing, the stories you need to know, in your inbox at seven.</p></div>",
    ],
    [
        "<div id=\"taboola-below-article\"><ul><li><a href=\"/x\">Doctors stunned by this one weird trick</a></li><li><a href=\"/y\">The 10 best beaches</a></li></ul></div>",
        "<div class=\"related-links\"><ul><li><a href=\"/z\">You will not believe what this actor looks like now</a></li></ul></div>",
    ],
];

/// Puts ad and promo blocks after some paragraphs and blocks of the body: `variant` 0 or 1 of
/// each, at the same places for the same seed.
fn insert_ads(doc: &Document, seed: u64, variant: usize) {
    let mut rng = Rng(seed ^ 0xad5);
    let blocks = doc.select("body p, body div, body section");
    let nodes = blocks.nodes();
    if nodes.is_empty() {
        return;
    }
    let count = 3 + rng.below(3);
    let mut at: Vec<usize> = (0..count).map(|_| rng.below(nodes.len())).collect();
    at.sort();
    at.dedup();
    for (k, i) in at.into_iter().enumerate() {
        nodes[i].after_html(ADS[k % ADS.len()][variant]);
    }
}

fn transform(doc: &Document, t: Transform) {
    let mut rng = Rng(t.seed);
    if t.classes {
        // Generated class names change on every deploy; ids gain build suffixes.
        let suffix = token(&mut rng);
        for node in doc.select("[class], [id]").nodes() {
            if let Some(class) = node.attr("class") {
                let renamed: Vec<String> = class
                    .split_whitespace()
                    .map(|c| {
                        if c.starts_with("css-") || c.starts_with("sc-") {
                            format!("css-{}", token(&mut rng))
                        } else {
                            c.to_string()
                        }
                    })
                    .chain(std::iter::once(format!("sc-{suffix}")))
                    .collect();
                node.set_attr("class", &renamed.join(" "));
            }
            if let Some(id) = node.attr("id")
                && !id.is_empty()
                && rng.chance(2)
            {
                // Fragment links point at some ids; a rename keeps the original as a prefix.
                node.set_attr("id", &format!("{id}-{suffix}"));
            }
        }
    }
    if t.attribute_order {
        for node in doc.select("body *").nodes() {
            let attrs = node.attrs();
            if attrs.len() < 2 {
                continue;
            }
            node.remove_all_attrs();
            for a in attrs.iter().rev() {
                node.set_attr(&a.name.local, &a.value);
            }
        }
    }
    if t.scripts {
        for node in doc
            .select("script:not([type='application/ld+json']), style")
            .nodes()
        {
            if node.has_attr("src") {
                node.set_attr("src", &format!("/assets/app.{}.js", token(&mut rng)));
                continue;
            }
            let what = if node.node_name().as_deref() == Some("style") {
                format!(
                    ".x-{} {{ color: #{:06x} }}",
                    token(&mut rng),
                    rng.next() & 0xffffff
                )
            } else {
                format!(
                    "window.__STATE__ = {{\"build\": \"{}\", \"ts\": {}}};",
                    token(&mut rng),
                    rng.next() % 2_000_000_000
                )
            };
            node.set_text(what);
        }
        let body_blocks = doc.select("body p").nodes().to_vec();
        for _ in 0..3 {
            if body_blocks.is_empty() {
                break;
            }
            let at = &body_blocks[rng.below(body_blocks.len())];
            at.after_html(format!(
                "<script>dataLayer.push({{\"slot\": \"{}\"}});</script><style>.s{} {{}}</style>",
                token(&mut rng),
                token(&mut rng)
            ));
        }
    }
    if t.wrappers {
        // Wrap some blocks, one at a time or a run of siblings, in a plain <div>.
        let blocks: Vec<NodeRef> = doc
            .select("body p, body ul, body ol, body h2, body h3, body blockquote, body figure, body table")
            .nodes()
            .to_vec();
        for node in &blocks {
            if !rng.chance(3) {
                continue;
            }
            if rng.chance(2) {
                node.wrap_html(format!("<div class=\"w-{}\"></div>", token(&mut rng)));
            } else if let Some(next) = node.next_element_sibling()
                && next.node_name() == node.node_name()
            {
                node.wrap_html("<div></div>");
                if let Some(wrapper) = node.parent() {
                    wrapper.append_child(&next);
                }
            }
        }
    }
}

static BETWEEN_TAGS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r">([ \t\r\n]+)<").unwrap());

/// Re-indents the serialized page: whitespace between tags becomes other whitespace (never
/// added where there was none, never inside `<pre>` or `<textarea>`).
fn reindent(html: &str, seed: u64) -> String {
    let mut rng = Rng(seed ^ 0x5bace);
    let mut out = String::with_capacity(html.len() * 2);
    let mut rest = html;
    loop {
        let pre = ["<pre", "<textarea"]
            .iter()
            .filter_map(|t| rest.find(t))
            .min();
        let (plain, protected) = match pre {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        out.push_str(&BETWEEN_TAGS.replace_all(plain, |_: &regex::Captures| {
            [">\n<", ">\n    <", ">\n\t\t<", ">  \n  <", "> <"][rng.below(5)]
        }));
        if protected.is_empty() {
            break;
        }
        let end = ["</pre>", "</textarea>"]
            .iter()
            .filter_map(|t| protected.find(t).map(|i| i + t.len()))
            .min()
            .unwrap_or(protected.len());
        out.push_str(&protected[..end]);
        rest = &protected[end..];
    }
    out
}

/// The page with ads of `variant` and the transformations of `t`, serialized.
fn render(source: &str, ads_seed: u64, variant: usize, t: Option<Transform>) -> String {
    let doc = Document::from(source);
    insert_ads(&doc, ads_seed, variant);
    if let Some(t) = t {
        transform(&doc, t);
        let html = doc.html().to_string();
        if t.whitespace {
            return reindent(&html, t.seed);
        }
        return html;
    }
    doc.html().to_string()
}

fn hash_of(html: &str) -> (String, String) {
    let fp = Fingerprint::of(&extract(html, "https://news.example.org/story"));
    (fp.content_hash.to_hex(), fp.canonical_text)
}

/// The first line where two canonical texts differ, for failure messages.
fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i).copied(), bl.get(i).copied());
        if x != y {
            let cut = |s: Option<&str>| s.map(|s| s.chars().take(120).collect::<String>());
            return format!("line {i}: {:?} became {:?}", cut(x), cut(y));
        }
    }
    "no line differs".into()
}

/// A word to edit: five letters or more (a run of CJK characters counts as one word).
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\p{L}{5,}\b|\p{Han}{2,}").unwrap());

/// The page with one word of one article sentence replaced, or `None` when no word could be
/// placed (the text is split across elements everywhere).
fn edit_one_word(html: &str, paragraphs: &[String], seed: u64) -> Option<String> {
    let mut rng = Rng(seed ^ 0xed17);
    let candidates: Vec<&String> = paragraphs.iter().filter(|p| p.len() >= 60).collect();
    for _ in 0..20 {
        let paragraph = candidates.get(rng.below(candidates.len()))?;
        let words: Vec<&str> = WORD.find_iter(paragraph).map(|m| m.as_str()).collect();
        let Some(word) = words.get(rng.below(words.len())) else {
            continue;
        };
        let doc = Document::from(html);
        let body = doc.select("body");
        let body = body.nodes().first()?;
        let whole = if word.chars().all(|c| c.is_ascii_alphabetic()) {
            Regex::new(&format!(r"\b{word}\b")).unwrap()
        } else {
            Regex::new(&regex::escape(word)).unwrap()
        };
        let target = body.descendants_it().find(|n| {
            if !n.is_text() {
                return false;
            }
            let text = n.text();
            let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
            folded.len() >= 20
                && paragraph.contains(&folded)
                && whole.is_match(&text)
                && !n
                    .ancestors_it(None)
                    .any(|a| matches!(a.node_name().as_deref(), Some("script" | "style")))
        });
        let Some(target) = target else {
            continue;
        };
        let edited = whole.replace(&target.text(), "Zqxwvj").into_owned();
        let escaped = edited
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        target.replace_with_html(escaped);
        return Some(doc.html().to_string());
    }
    None
}

/// The fixture pages that hold an article: at least three paragraphs of real text.
fn article_pages() -> Vec<(String, String)> {
    fixture_names()
        .into_iter()
        .filter_map(|name| {
            let source = fixture(&name, "source.html");
            let article = extract(&source, "https://news.example.org/story");
            let long = article.paragraphs.iter().filter(|p| p.len() >= 60).count();
            (long >= 3).then_some((name, source))
        })
        .collect()
}

static PAGES: LazyLock<Vec<(String, String)>> = LazyLock::new(article_pages);

/// Checks one page under one transformation and one edit; `Err` says what went wrong.
fn check_page(name: &str, source: &str, t: Transform) -> Result<(), String> {
    let baseline = render(source, t.seed, 0, None);
    let (base_hash, base_text) = hash_of(&baseline);
    let transformed = render(source, t.seed, 1, Some(t));
    let (hash, text) = hash_of(&transformed);
    if hash != base_hash {
        // Which transformation alone does it, to say what to look at.
        let none = Transform {
            classes: false,
            attribute_order: false,
            whitespace: false,
            wrappers: false,
            scripts: false,
            seed: t.seed,
        };
        let singles = [
            ("ads swapped", none),
            (
                "classes",
                Transform {
                    classes: true,
                    ..none
                },
            ),
            (
                "attribute order",
                Transform {
                    attribute_order: true,
                    ..none
                },
            ),
            (
                "whitespace",
                Transform {
                    whitespace: true,
                    ..none
                },
            ),
            (
                "wrappers",
                Transform {
                    wrappers: true,
                    ..none
                },
            ),
            (
                "scripts",
                Transform {
                    scripts: true,
                    ..none
                },
            ),
        ];
        let culprits: Vec<&str> = singles
            .iter()
            .filter(|(_, single)| hash_of(&render(source, t.seed, 1, Some(*single))).0 != base_hash)
            .map(|(what, _)| *what)
            .collect();
        return Err(format!(
            "{name} seed {}: a markup-only change ({}) changed the hash: {}",
            t.seed,
            if culprits.is_empty() {
                "only together".to_string()
            } else {
                culprits.join(", ")
            },
            first_difference(&base_text, &text)
        ));
    }
    let paragraphs: Vec<String> = base_text.lines().skip(1).map(str::to_string).collect();
    let Some(edited) = edit_one_word(&transformed, &paragraphs, t.seed) else {
        return Err(format!("{name}: no word of the article could be edited"));
    };
    let (edited_hash, _) = hash_of(&edited);
    if edited_hash == hash {
        return Err(format!(
            "{name} seed {}: a one-word edit left the hash unchanged",
            t.seed
        ));
    }
    Ok(())
}

#[test]
fn every_page_survives_every_markup_change_and_notices_an_edit() {
    let pages = &*PAGES;
    assert!(pages.len() >= 80, "only {} article pages", pages.len());
    let mut failures = Vec::new();
    for (i, (name, source)) in pages.iter().enumerate() {
        if let Err(e) = check_page(name, source, Transform::all(0x9e37_79b9 + i as u64)) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} pages failed:\n{}",
        failures.len(),
        pages.len(),
        failures.join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_markup_changes_keep_the_hash_and_edits_change_it(
        page in 0usize..1000,
        seed in any::<u64>(),
        classes in any::<bool>(),
        attribute_order in any::<bool>(),
        whitespace in any::<bool>(),
        wrappers in any::<bool>(),
        scripts in any::<bool>(),
    ) {
        let pages = &*PAGES;
        let (name, source) = &pages[page % pages.len()];
        let t = Transform { classes, attribute_order, whitespace, wrappers, scripts, seed: seed | 1 };
        if let Err(e) = check_page(name, source, t) {
            prop_assert!(false, "{}", e);
        }
    }
}
