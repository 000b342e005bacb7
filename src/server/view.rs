//! What the diff page shows, computed from two versions: the headline, byline and date changes
//! apart from the body, the body as blocks of changed and unchanged paragraphs (the long
//! unchanged runs collapsible), each line as escaped HTML with its changed words in `<del>` or
//! `<ins>`. Pure: takes texts, returns data; the templates lay it out.

use crate::pure::diff::{Line, LineTag, diff};

/// Unchanged paragraphs kept visible on each side of a change; longer runs fold.
const CONTEXT: usize = 1;

/// A field shown apart from the body (headline, byline, publication date).
#[derive(Debug, Clone)]
pub struct FieldChange {
    pub name: &'static str,
    pub changed: bool,
    /// Escaped HTML, changed words marked.
    pub old_html: String,
    pub new_html: String,
}

/// One row of the side-by-side view: a paragraph of the old version, of the new, or both.
#[derive(Debug, Clone)]
pub struct Row {
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    pub old_html: Option<String>,
    pub new_html: Option<String>,
}

/// One paragraph of the inline view.
#[derive(Debug, Clone)]
pub struct InlineLine {
    /// `equal`, `delete` or `insert`.
    pub tag: &'static str,
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    pub html: String,
}

#[derive(Debug, Clone)]
pub struct Block {
    /// Unchanged paragraphs folded into a `<details>` element.
    pub folded: bool,
    pub changed: bool,
    pub rows: Vec<Row>,
    pub inline: Vec<InlineLine>,
}

#[derive(Debug, Clone)]
pub struct DiffView {
    pub fields: Vec<FieldChange>,
    pub blocks: Vec<Block>,
    pub words_added: usize,
    pub words_removed: usize,
    /// Changed paragraphs: a removed paragraph beside the one that replaced it counts once.
    pub changes: usize,
}

/// The parts of a version the diff page compares.
pub struct Side<'a> {
    pub text: &'a str,
    pub title: &'a str,
    pub byline: Option<&'a str>,
    pub published: Option<&'a str>,
}

/// Builds the view of the change from `old` to `new`.
pub fn diff_view(old: &Side<'_>, new: &Side<'_>) -> DiffView {
    let fields = vec![
        field("Headline", old.title, new.title),
        field("Byline", old.byline.unwrap_or(""), new.byline.unwrap_or("")),
        field(
            "Published",
            old.published.unwrap_or(""),
            new.published.unwrap_or(""),
        ),
    ];
    let old_body = body(old.text);
    let new_body = body(new.text);
    let report = diff(old_body, new_body, 1_000_000);
    let mut lines: Vec<Line> = report.hunks.into_iter().flat_map(|h| h.lines).collect();
    if lines.is_empty() {
        // Identical bodies: every paragraph is context.
        lines = old_body
            .split('\n')
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| Line {
                tag: LineTag::Equal,
                old_line: Some(i + 1),
                new_line: Some(i + 1),
                segments: vec![crate::pure::diff::Segment {
                    changed: false,
                    text: l.to_string(),
                }],
            })
            .collect();
    }
    let mut blocks = Vec::new();
    let mut changes = 0;
    let mut i = 0;
    while i < lines.len() {
        let equal = lines[i].tag == LineTag::Equal;
        let start = i;
        while i < lines.len() && (lines[i].tag == LineTag::Equal) == equal {
            i += 1;
        }
        let run = &lines[start..i];
        if equal {
            let first = start == 0;
            let last = i == lines.len();
            let keep_before = if first { 0 } else { CONTEXT };
            let keep_after = if last { 0 } else { CONTEXT };
            if run.len() > keep_before + keep_after + 1 {
                if keep_before > 0 {
                    blocks.push(equal_block(&run[..keep_before], false));
                }
                blocks.push(equal_block(&run[keep_before..run.len() - keep_after], true));
                if keep_after > 0 {
                    blocks.push(equal_block(&run[run.len() - keep_after..], false));
                }
            } else {
                blocks.push(equal_block(run, false));
            }
        } else {
            let block = changed_block(run);
            changes += block.rows.len();
            blocks.push(block);
        }
    }
    DiffView {
        fields,
        blocks,
        words_added: report.words_added,
        words_removed: report.words_removed,
        changes,
    }
}

/// The canonical text without its first line, the title.
fn body(text: &str) -> &str {
    text.split_once('\n').map_or("", |(_, rest)| rest)
}

fn field(name: &'static str, old: &str, new: &str) -> FieldChange {
    if old == new {
        let html = escape(old);
        return FieldChange {
            name,
            changed: false,
            old_html: html.clone(),
            new_html: html,
        };
    }
    let report = diff(old, new, 0);
    let mut old_html = String::new();
    let mut new_html = String::new();
    for line in report.hunks.iter().flat_map(|h| &h.lines) {
        match line.tag {
            LineTag::Delete => old_html.push_str(&line_html(line)),
            LineTag::Insert => new_html.push_str(&line_html(line)),
            LineTag::Equal => {}
        }
    }
    FieldChange {
        name,
        changed: true,
        old_html,
        new_html,
    }
}

fn equal_block(run: &[Line], folded: bool) -> Block {
    Block {
        folded,
        changed: false,
        rows: run
            .iter()
            .map(|l| {
                let html = line_html(l);
                Row {
                    old_line: l.old_line,
                    new_line: l.new_line,
                    old_html: Some(html.clone()),
                    new_html: Some(html),
                }
            })
            .collect(),
        inline: run.iter().map(inline_line).collect(),
    }
}

/// Removed paragraphs beside the added ones that replaced them, in order.
fn changed_block(run: &[Line]) -> Block {
    let deleted: Vec<&Line> = run.iter().filter(|l| l.tag == LineTag::Delete).collect();
    let inserted: Vec<&Line> = run.iter().filter(|l| l.tag == LineTag::Insert).collect();
    let rows = (0..deleted.len().max(inserted.len()))
        .map(|k| Row {
            old_line: deleted.get(k).and_then(|l| l.old_line),
            new_line: inserted.get(k).and_then(|l| l.new_line),
            old_html: deleted.get(k).map(|l| line_html(l)),
            new_html: inserted.get(k).map(|l| line_html(l)),
        })
        .collect();
    let mut inline: Vec<InlineLine> = deleted.iter().map(|l| inline_line(l)).collect();
    inline.extend(inserted.iter().map(|l| inline_line(l)));
    Block {
        folded: false,
        changed: true,
        rows,
        inline,
    }
}

fn inline_line(l: &Line) -> InlineLine {
    InlineLine {
        tag: match l.tag {
            LineTag::Equal => "equal",
            LineTag::Delete => "delete",
            LineTag::Insert => "insert",
        },
        old_line: l.old_line,
        new_line: l.new_line,
        html: line_html(l),
    }
}

/// A paragraph as escaped HTML: changed words in `<del>` (removed) or `<ins>` (added); a
/// paragraph removed or added whole is marked whole.
pub fn line_html(line: &Line) -> String {
    let tag = match line.tag {
        LineTag::Equal => None,
        LineTag::Delete => Some("del"),
        LineTag::Insert => Some("ins"),
    };
    let whole = !line.segments.iter().any(|s| s.changed);
    let mut out = String::new();
    match tag {
        Some(t) if whole => {
            out.push_str(&format!("<{t}>"));
            out.push_str(&escape(&line.text()));
            out.push_str(&format!("</{t}>"));
        }
        _ => {
            for s in &line.segments {
                match tag {
                    Some(t) if s.changed => {
                        out.push_str(&format!("<{t}>{}</{t}>", escape(&s.text)));
                    }
                    _ => out.push_str(&escape(&s.text)),
                }
            }
        }
    }
    out
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side<'a>(text: &'a str, title: &'a str) -> Side<'a> {
        Side {
            text,
            title,
            byline: None,
            published: None,
        }
    }

    #[test]
    fn a_changed_word_is_marked_removed_and_added_side_by_side() {
        let old = "Bridge\nThe bridge closes on Sunday.\nIt was calm.";
        let new = "Bridge\nThe bridge closes on Monday.\nIt was calm.";
        let view = diff_view(&side(old, "Bridge"), &side(new, "Bridge"));
        let changed: Vec<&Block> = view.blocks.iter().filter(|b| b.changed).collect();
        assert_eq!(changed.len(), 1);
        let row = &changed[0].rows[0];
        assert_eq!(
            row.old_html.as_deref(),
            Some("The bridge closes on <del>Sunday</del>.")
        );
        assert_eq!(
            row.new_html.as_deref(),
            Some("The bridge closes on <ins>Monday</ins>.")
        );
        assert!(view.fields.iter().all(|f| !f.changed));
    }

    #[test]
    fn headline_changes_are_shown_apart_from_the_body() {
        let view = diff_view(
            &side("Bridge to close\nSame.", "Bridge to close"),
            &side("Bridge to stay open\nSame.", "Bridge to stay open"),
        );
        let headline = &view.fields[0];
        assert!(headline.changed);
        assert!(headline.old_html.contains("<del>"), "{}", headline.old_html);
        assert!(headline.new_html.contains("<ins>"), "{}", headline.new_html);
        assert_eq!(view.changes, 0, "the body did not change");
    }

    #[test]
    fn long_unchanged_runs_fold_keeping_context_beside_the_change() {
        let paras: Vec<String> = (1..=10).map(|i| format!("Paragraph {i}.")).collect();
        let old = format!("T\n{}", paras.join("\n"));
        let new = old.replace("Paragraph 6.", "Paragraph six.");
        let view = diff_view(&side(&old, "T"), &side(&new, "T"));
        let shape: Vec<(bool, bool, usize)> = view
            .blocks
            .iter()
            .map(|b| (b.folded, b.changed, b.rows.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (true, false, 4),
                (false, false, 1),
                (false, true, 1),
                (false, false, 1),
                (true, false, 3)
            ]
        );
    }

    #[test]
    fn markup_in_the_text_is_escaped() {
        let view = diff_view(
            &side("T\n<script>x</script> a", "T"),
            &side("T\n<script>x</script> b", "T"),
        );
        let html = view.blocks[0].rows[0].old_html.clone().unwrap();
        assert!(html.starts_with("&lt;script&gt;"), "{html}");
    }
}
