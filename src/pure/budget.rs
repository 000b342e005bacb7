//! The extraction budget: what one page may cost before it is refused as `too_complex`.
//!
//! Owns a linear scan of the raw markup that measures a page's shape (nesting depth, element
//! count, attribute sizes) before any parser sees it, and [`extract_within`], which applies the
//! budget and then calls [`crate::pure::extract::extract`]. The HTML parser and the readability pass
//! cost more than linear time on deep trees (a page of 8,000 nested `<div>` took 43 s), and their
//! recursive walks can overflow the stack, so the shape is judged before parsing, in time
//! proportional to the page's bytes. Pure: never does I/O, never parses a tree, and never changes
//! what the extractor finds on a page within budget.

use std::time::Duration;

use crate::pure::extract::{self, Article};

/// The most wall-clock time a pass waits for one page's extraction, for shapes the scan does not
/// foresee. Pages within the shape budget take milliseconds.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Limits on a page's shape. A page over any of them is not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The deepest nesting of elements. Browsers stop nesting at 512 (Blink's parser limit);
    /// real article pages stay well under 100.
    pub max_depth: usize,
    /// Elements in the whole page. Large real pages have a few tens of thousands.
    pub max_elements: usize,
    /// The longest attribute value (an inline image as a data URL can be a megabyte; the
    /// extractor reads class, id and a few metadata attributes).
    pub max_attribute_bytes: usize,
    /// Text bytes weighted by their depth: the work of computing every element's text, which the
    /// extractor does for each element. Bounds pages that are both deep and large.
    pub max_text_work: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_depth: 512,
            max_elements: 200_000,
            max_attribute_bytes: 4 * 1024 * 1024,
            max_text_work: 400_000_000,
        }
    }
}

/// What the scan measured of a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    pub max_depth: usize,
    pub elements: usize,
    pub longest_attribute: usize,
    pub text_work: u64,
}

/// Why a page was not parsed. The message becomes the check's detail after `too_complex: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooComplex {
    #[error("elements nest {depth} deep, over the limit of {limit}")]
    Depth { depth: usize, limit: usize },
    #[error("the page has {count} elements, over the limit of {limit}")]
    Elements { count: usize, limit: usize },
    #[error("an attribute value is {bytes} bytes, over the limit of {limit}")]
    Attribute { bytes: usize, limit: usize },
    #[error("deep text would cost {work} units of work, over the limit of {limit}")]
    TextWork { work: u64, limit: u64 },
}

impl Budget {
    /// Whether a page of this shape may be parsed.
    pub fn admit(&self, shape: &Shape) -> Result<(), TooComplex> {
        if shape.max_depth > self.max_depth {
            return Err(TooComplex::Depth {
                depth: shape.max_depth,
                limit: self.max_depth,
            });
        }
        if shape.elements > self.max_elements {
            return Err(TooComplex::Elements {
                count: shape.elements,
                limit: self.max_elements,
            });
        }
        if shape.longest_attribute > self.max_attribute_bytes {
            return Err(TooComplex::Attribute {
                bytes: shape.longest_attribute,
                limit: self.max_attribute_bytes,
            });
        }
        if shape.text_work > self.max_text_work {
            return Err(TooComplex::TextWork {
                work: shape.text_work,
                limit: self.max_text_work,
            });
        }
        Ok(())
    }
}

/// Extracts the article, with a watch's own `rules`, when the page is within `budget`;
/// otherwise says why not, without parsing it.
pub fn extract_within(
    html: &str,
    url: &str,
    rules: &extract::Options,
    budget: &Budget,
) -> Result<Article, TooComplex> {
    budget.admit(&measure(html))?;
    Ok(extract::extract_with(html, url, rules))
}

/// As [`extract_within`], with what [`extract::explain`] tells of the blocks it removed.
pub fn explain_within(
    html: &str,
    url: &str,
    rules: &extract::Options,
    budget: &Budget,
) -> Result<extract::Explanation, TooComplex> {
    budget.admit(&measure(html))?;
    Ok(extract::explain(html, url, rules))
}

/// Elements that never have content or an end tag.
fn is_void(name: &[u8]) -> bool {
    matches!(
        name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"source"
            | b"track"
            | b"wbr"
            | b"param"
            | b"keygen"
            | b"frame"
            | b"basefont"
            | b"bgsound"
            | b"image"
    )
}

/// Elements whose content is raw text up to their own end tag. Not `noscript`: the parser runs
/// without scripting, so its content is markup.
fn is_raw_text(name: &[u8]) -> bool {
    matches!(
        name,
        b"script"
            | b"style"
            | b"textarea"
            | b"title"
            | b"xmp"
            | b"iframe"
            | b"noembed"
            | b"noframes"
            | b"plaintext"
    )
}

/// Elements that a new one of the same kind closes (`<p>` after `<p>`, `<li>` after `<li>`).
fn closes_its_like(name: &[u8]) -> bool {
    matches!(
        name,
        b"p" | b"li"
            | b"dt"
            | b"dd"
            | b"option"
            | b"optgroup"
            | b"tr"
            | b"td"
            | b"th"
            | b"thead"
            | b"tbody"
            | b"tfoot"
            | b"rb"
            | b"rt"
            | b"rp"
            | b"a"
            | b"nobr"
            | b"button"
    )
}

/// Elements the parser re-creates ("reconstructs") after closing them implicitly.
fn is_formatting(name: &[u8]) -> bool {
    matches!(
        name,
        b"a" | b"b"
            | b"big"
            | b"code"
            | b"em"
            | b"font"
            | b"i"
            | b"nobr"
            | b"s"
            | b"small"
            | b"strike"
            | b"strong"
            | b"tt"
            | b"u"
    )
}

/// Elements behind which formatting elements are not reconstructed (the parser's markers).
fn is_marker(name: &[u8]) -> bool {
    matches!(
        name,
        b"td" | b"th" | b"caption" | b"object" | b"applet" | b"marquee" | b"template"
    )
}

/// The scan's model of the parser's stack of open elements.
#[derive(Default)]
struct Model {
    /// Open elements, as indexes into `kinds`.
    stack: Vec<usize>,
    ids: std::collections::HashMap<Vec<u8>, usize>,
    /// Per name: how many are open, and whether it is a formatting element or a marker.
    open: Vec<usize>,
    kinds: Vec<(bool, bool)>,
    /// Formatting elements closed implicitly but not by their end tag: the parser re-creates
    /// them inside the next element that gets content, so they count towards its depth.
    reconstructable: usize,
    /// `reconstructable` outside each open marker.
    saved: Vec<usize>,
}

impl Model {
    fn id(&mut self, name: &[u8]) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.ids.insert(name.to_vec(), self.open.len());
        self.open.push(0);
        self.kinds.push((is_formatting(name), is_marker(name)));
        self.open.len() - 1
    }

    fn depth(&self) -> usize {
        self.stack.len() + self.reconstructable
    }

    fn push(&mut self, id: usize) {
        if self.kinds[id].1 {
            self.saved.push(self.reconstructable);
            self.reconstructable = 0;
        }
        self.stack.push(id);
        self.open[id] += 1;
    }

    /// Pops up to and including the innermost open `id`.
    fn pop_until(&mut self, id: usize) {
        while let Some(top) = self.stack.pop() {
            self.open[top] -= 1;
            let (formatting, marker) = self.kinds[top];
            if marker {
                self.reconstructable = self.saved.pop().unwrap_or(0);
            }
            if top == id {
                break;
            }
            if formatting {
                self.reconstructable += 1;
            }
        }
    }

    fn end_tag(&mut self, id: usize) {
        if self.open[id] > 0 {
            self.pop_until(id);
        } else if self.kinds[id].0 {
            self.reconstructable = self.reconstructable.saturating_sub(1);
        }
    }

    fn in_foreign_content(&self) -> bool {
        let open = |name: &[u8]| self.ids.get(name).is_some_and(|&id| self.open[id] > 0);
        open(b"svg") || open(b"math")
    }
}

/// Measures a page's shape in one pass over its bytes, modelling the parser's stack of open
/// elements closely enough to bound the depth of the tree it would build (within four times
/// the scanned depth and a few: the parser adds html, head, body and a tbody per table unasked,
/// and clones formatting elements; the property test `the_scan_bounds_the_parsed_depth` holds
/// it to that): start tags push, end
/// tags pop to their match (if one is open), void elements never nest, elements like `<p>` and
/// `<li>` close an open one of their kind, and formatting elements closed implicitly still count
/// (the parser re-creates them). Comments, doctypes and raw-text elements (script, style) hold no
/// elements. Linear in the length of `html`.
pub fn measure(html: &str) -> Shape {
    let bytes = html.as_bytes();
    let n = bytes.len();
    let mut shape = Shape::default();
    let mut model = Model::default();
    let mut i = 0;
    let mut text_run = 0u64;
    let flush_text = |run: &mut u64, depth: usize, shape: &mut Shape| {
        shape.text_work = shape
            .text_work
            .saturating_add(run.saturating_mul(depth as u64));
        *run = 0;
    };
    while i < n {
        if bytes[i] != b'<' {
            // Text: everything up to the next '<'.
            let next = memchr(b'<', &bytes[i..]).map_or(n, |o| i + o);
            text_run += (next - i) as u64;
            i = next;
            continue;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i = comment_end(bytes, i + 4);
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = memchr(b'>', &bytes[i..]).map_or(n, |o| i + o + 1);
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = i + if closing { 2 } else { 1 };
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            // A '<' that starts no tag is text.
            text_run += 1;
            i += 1;
            continue;
        }
        let mut j = name_start;
        while j < n && !matches!(bytes[j], b'>' | b'/') && !bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        flush_text(&mut text_run, model.depth(), &mut shape);
        // Lower-cased into a buffer: no allocation per tag (names past 32 bytes are cut).
        let mut buf = [0u8; 32];
        let len = (j - name_start).min(buf.len());
        buf[..len].copy_from_slice(&bytes[name_start..name_start + len]);
        buf[..len].make_ascii_lowercase();
        let name = &buf[..len];
        let (end, longest) = attributes_end(bytes, j);
        shape.longest_attribute = shape.longest_attribute.max(longest);
        i = end;
        let id = model.id(name);
        if closing {
            model.end_tag(id);
            continue;
        }
        shape.elements += 1;
        if is_void(name) {
            continue;
        }
        if closes_its_like(name) && model.open[id] > 0 {
            model.pop_until(id);
        }
        model.push(id);
        shape.max_depth = shape.max_depth.max(model.depth());
        if is_raw_text(name) && !model.in_foreign_content() {
            // Skip to the matching end tag; its content is text, never elements.
            let mut end_tag = b"</".to_vec();
            end_tag.extend_from_slice(name);
            i = find_ignore_case(&bytes[i..], &end_tag).map_or(n, |o| i + o);
        }
    }
    flush_text(&mut text_run, model.depth(), &mut shape);
    shape
}

/// Where a comment whose text starts at `from` ends: after `-->` or `--!>`; `<!-->` and
/// `<!--->` are whole comments, as the parser reads them.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let n = bytes.len();
    let rest = &bytes[from.min(n)..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut k = from;
    while let Some(o) = find(&bytes[k.min(n)..], b"--") {
        let at = k + o + 2;
        if bytes.get(at) == Some(&b'>') {
            return at + 1;
        }
        if bytes[at.min(n)..].starts_with(b"!>") {
            return at + 2;
        }
        k = at - 1;
    }
    n
}

/// Scans a tag's attributes from `from` to just past its `>`; returns that position and the
/// longest attribute name or value. A quote opens a value only after `=`, as in the parser.
fn attributes_end(bytes: &[u8], from: usize) -> (usize, usize) {
    let n = bytes.len();
    let mut k = from;
    let mut longest = 0;
    let mut expect_value = false;
    let mut after_name = false;
    while k < n && bytes[k] != b'>' {
        let b = bytes[k];
        if b.is_ascii_whitespace() {
            k += 1;
            continue;
        }
        let start = k;
        if expect_value {
            expect_value = false;
            after_name = false;
            if b == b'"' || b == b'\'' {
                let end = memchr(b, &bytes[k + 1..]).map_or(n, |o| k + 1 + o);
                longest = longest.max(end - k - 1);
                k = (end + 1).min(n);
                continue;
            }
            while k < n && bytes[k] != b'>' && !bytes[k].is_ascii_whitespace() {
                k += 1;
            }
        } else if b == b'=' && after_name {
            expect_value = true;
            k += 1;
            continue;
        } else {
            k += 1; // a name's first character may be anything, even '='
            while k < n && !matches!(bytes[k], b'>' | b'=') && !bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            after_name = true;
        }
        longest = longest.max(k - start);
    }
    ((k + 1).min(n), longest)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!(
            "<html><body>{}<p>deep text</p>{}</body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        )
    }

    #[test]
    fn depth_counts_open_elements() {
        let s = measure(&nested(10));
        assert_eq!(s.max_depth, 13); // html, body, 10 divs, p
        assert_eq!(s.elements, 13);
    }

    #[test]
    fn unclosed_paragraphs_and_items_do_not_nest() {
        let page = format!(
            "<body><ul>{}</ul>{}",
            "<li>x".repeat(1000),
            "<p>y".repeat(1000)
        );
        let s = measure(&page);
        assert!(s.max_depth <= 4, "{s:?}");
        assert_eq!(s.elements, 2002);
    }

    #[test]
    fn void_elements_comments_and_scripts_hold_nothing() {
        let page = "<body><br><img src=x><!-- <div><div> --><script>if (a<b) { '<div>' }</script>\
                    <style>p>a{}</style><p>t</p></body>";
        let s = measure(page);
        assert_eq!(s.max_depth, 2, "{s:?}");
        assert_eq!(s.elements, 6);
    }

    #[test]
    fn an_end_tag_without_a_match_is_ignored() {
        let s = measure("<div></span></span><div></div></div>");
        assert_eq!(s.max_depth, 2);
    }

    #[test]
    fn attribute_values_are_measured() {
        let page = format!(
            "<img src=\"data:image/png;base64,{}\"><p class=x>t",
            "A".repeat(5000)
        );
        assert!(measure(&page).longest_attribute >= 5000);
    }

    #[test]
    fn text_work_is_text_times_depth() {
        let s = measure("<div><div>abcd</div></div>");
        assert_eq!(s.text_work, 8);
    }

    #[test]
    fn deep_pages_are_refused_and_normal_ones_admitted() {
        let budget = Budget::default();
        assert!(matches!(
            budget.admit(&measure(&nested(2000))),
            Err(TooComplex::Depth {
                depth: 2003,
                limit: 512
            })
        ));
        assert!(budget.admit(&measure(&nested(100))).is_ok());
        let err = extract_within(
            &nested(200_000),
            "https://x.example/a",
            &extract::Options::default(),
            &budget,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "elements nest 200003 deep, over the limit of 512"
        );
    }

    #[test]
    fn a_tag_cut_off_at_the_end_is_harmless() {
        for page in [
            "<div",
            "<div class=\"",
            "<!--",
            "<script>",
            "</",
            "<",
            "<a b='",
        ] {
            let _ = measure(page);
        }
    }
}
