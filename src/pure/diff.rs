//! Differences between two versions' canonical texts.
//!
//! Owns the paragraph-level diff with word-level emphasis inside changed paragraphs (for
//! terminals, JSON and alert excerpts) and the plain unified form. Pure: takes two texts and
//! returns data; printing is the CLI's job.

use serde::Serialize;
use similar::{Algorithm, ChangeTag, TextDiff};

/// A diff grouped into hunks of changed paragraphs with some unchanged context.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TextDiffReport {
    pub hunks: Vec<Hunk>,
    /// Words inserted and removed, over all hunks.
    pub words_added: usize,
    pub words_removed: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hunk {
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LineTag {
    Equal,
    Delete,
    Insert,
}

/// One paragraph (line 1 is the title) with its changed words marked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Line {
    pub tag: LineTag,
    /// 1-based line number in the old text.
    pub old_line: Option<usize>,
    /// 1-based line number in the new text.
    pub new_line: Option<usize>,
    pub segments: Vec<Segment>,
}

impl Line {
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Segment {
    /// Part of the words that changed within the paragraph.
    pub changed: bool,
    pub text: String,
}

/// Diffs two canonical texts paragraph by paragraph, emphasising changed words, with
/// `context` unchanged paragraphs around each change.
pub fn diff(old: &str, new: &str, context: usize) -> TextDiffReport {
    let old = with_newline(old);
    let new = with_newline(new);
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old.as_str(), new.as_str());
    let mut report = TextDiffReport {
        hunks: Vec::new(),
        words_added: 0,
        words_removed: 0,
    };
    for group in diff.grouped_ops(context) {
        let mut lines = Vec::new();
        for op in &group {
            for change in diff.iter_inline_changes(op) {
                let tag = match change.tag() {
                    ChangeTag::Equal => LineTag::Equal,
                    ChangeTag::Delete => LineTag::Delete,
                    ChangeTag::Insert => LineTag::Insert,
                };
                let segments: Vec<Segment> = change
                    .iter_strings_lossy()
                    .map(|(emph, text)| Segment {
                        changed: emph && tag != LineTag::Equal,
                        text: text.trim_end_matches('\n').to_string(),
                    })
                    .filter(|s| !s.text.is_empty())
                    .collect();
                // With no word emphasised, the whole paragraph was inserted or deleted.
                let whole_line = !segments.iter().any(|s| s.changed);
                let changed_words: usize = segments
                    .iter()
                    .filter(|s| s.changed || (whole_line && tag != LineTag::Equal))
                    .map(|s| s.text.split_whitespace().count())
                    .sum();
                match tag {
                    LineTag::Insert => report.words_added += changed_words,
                    LineTag::Delete => report.words_removed += changed_words,
                    LineTag::Equal => {}
                }
                lines.push(Line {
                    tag,
                    old_line: change.old_index().map(|i| i + 1),
                    new_line: change.new_index().map(|i| i + 1),
                    segments,
                });
            }
        }
        report.hunks.push(Hunk { lines });
    }
    report
}

/// The plain unified diff of two canonical texts, one paragraph per line.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str, context: usize) -> String {
    let old = with_newline(old);
    let new = with_newline(new);
    TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old.as_str(), new.as_str())
        .unified_diff()
        .context_radius(context)
        .header(old_label, new_label)
        .to_string()
}

fn with_newline(s: &str) -> String {
    let mut s = s.to_string();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "Troops leave\nThe troops left on Sunday.\nIt was calm.\nThe end.";

    #[test]
    fn a_changed_word_is_emphasised_within_its_paragraph() {
        let new = OLD.replace("Sunday", "Monday");
        let report = diff(OLD, &new, 1);
        assert_eq!(report.hunks.len(), 1);
        let changed: Vec<(LineTag, Vec<&str>)> = report.hunks[0]
            .lines
            .iter()
            .filter(|l| l.tag != LineTag::Equal)
            .map(|l| {
                let words = l
                    .segments
                    .iter()
                    .filter(|s| s.changed)
                    .map(|s| s.text.as_str())
                    .collect();
                (l.tag, words)
            })
            .collect();
        assert_eq!(
            changed,
            vec![
                (LineTag::Delete, vec!["Sunday"]),
                (LineTag::Insert, vec!["Monday"])
            ]
        );
        assert_eq!((report.words_added, report.words_removed), (1, 1));
    }

    #[test]
    fn a_removed_paragraph_is_one_deleted_line() {
        let new = "Troops leave\nThe troops left on Sunday.\nThe end.";
        let report = diff(OLD, new, 0);
        let lines = &report.hunks[0].lines;
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].tag, LineTag::Delete);
        assert_eq!(lines[0].text(), "It was calm.");
        assert_eq!(lines[0].old_line, Some(3));
        assert_eq!(report.words_removed, 3);
    }

    #[test]
    fn identical_texts_have_no_hunks() {
        assert!(diff(OLD, OLD, 3).hunks.is_empty());
    }

    #[test]
    fn unified_output_has_headers_and_marks() {
        let out = unified(OLD, &OLD.replace("calm", "tense"), "v1", "v2", 0);
        assert!(out.starts_with("--- v1\n+++ v2\n"), "{out}");
        assert!(out.contains("-It was calm.\n+It was tense.\n"), "{out}");
    }
}
