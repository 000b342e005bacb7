//! A copy against its original, word by word, and the rules of a stale copy.
//!
//! Owns [`compare`] (what the copy cut, added and changed, with the copied span of each text
//! marked), and the stale-copy rules: [`edited_after_copy`] (the original changed inside the
//! words a copy holds, naming the sentences that now exist only in the copies; an edit of words
//! the copy never held is not this event), [`copy_altered`] (a copy changed words it holds of the
//! original) and [`survives_deletion`] (a copy still carries a deleted original's text). Pure;
//! takes canonical texts and returns data, never prints or reads the archive.

use serde::Serialize;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::index::{Shingled, Thresholds, verify};

/// A replaced run of at most this many words on each side is a change; longer ones are a cut
/// and an addition.
const CHANGE_WORDS: usize = 12;
/// The least run of equal words that starts or ends the copied span: shorter runs between
/// unrelated texts ("of the") are chance.
const SPAN_RUN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// In both texts, word for word.
    Copied,
    /// In the original only.
    Cut,
    /// In the copy only.
    Added,
    /// A short run that the copy reworded (in the original: the old words; in the copy: the new).
    Changed,
}

/// A run of words of one paragraph with one mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub mark: Mark,
    /// Inside the copied span of its text (between the first and last copied run).
    pub in_span: bool,
    pub text: String,
}

/// One paragraph of one side (paragraph 0 is the title line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paragraph {
    pub segments: Vec<Segment>,
}

/// One difference, in the order of the texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Cut { text: String, in_span: bool },
    Added { text: String, in_span: bool },
    Changed { from: String, to: String },
}

/// What a copy did with its original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyDiff {
    pub original: Vec<Paragraph>,
    pub copy: Vec<Paragraph>,
    pub changes: Vec<Change>,
    pub copied_words: usize,
    pub cut_words: usize,
    pub added_words: usize,
    pub changed_words: usize,
    /// Words of the original in the copied span, `[start, end)`.
    pub original_span: (usize, usize),
    pub copy_span: (usize, usize),
}

struct Words<'a> {
    words: Vec<&'a str>,
    paragraph: Vec<usize>,
}

fn split(text: &str) -> Words<'_> {
    let mut words = Vec::new();
    let mut paragraph = Vec::new();
    for (p, line) in text.lines().enumerate() {
        for w in line.split_whitespace() {
            words.push(w);
            paragraph.push(p);
        }
    }
    Words { words, paragraph }
}

/// A mark per word of each side.
struct Alignment {
    old: Vec<Mark>,
    new: Vec<Mark>,
    ops: Vec<DiffOp>,
}

fn align(old: &Words, new: &Words) -> Alignment {
    let ops = capture_diff_slices(Algorithm::Patience, &old.words, &new.words);
    let mut a = vec![Mark::Cut; old.words.len()];
    let mut b = vec![Mark::Added; new.words.len()];
    for op in &ops {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                a[old_index..old_index + len].fill(Mark::Copied);
                b[new_index..new_index + len].fill(Mark::Copied);
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } if old_len <= CHANGE_WORDS && new_len <= CHANGE_WORDS => {
                a[old_index..old_index + old_len].fill(Mark::Changed);
                b[new_index..new_index + new_len].fill(Mark::Changed);
            }
            _ => {}
        }
    }
    // A change must sit between copied words; at the edges it is a cut and an addition.
    demote_edges(&mut a, Mark::Cut);
    demote_edges(&mut b, Mark::Added);
    Alignment {
        old: a,
        new: b,
        ops,
    }
}

fn demote_edges(marks: &mut [Mark], to: Mark) {
    for m in marks.iter_mut() {
        if *m == Mark::Copied {
            break;
        }
        *m = to;
    }
    for m in marks.iter_mut().rev() {
        if *m == Mark::Copied {
            break;
        }
        *m = to;
    }
}

/// The copied span: from the first to the end of the last run of [`SPAN_RUN`] copied words.
fn span(marks: &[Mark]) -> (usize, usize) {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < marks.len() {
        if marks[i] == Mark::Copied {
            let j = i + marks[i..]
                .iter()
                .take_while(|&&m| m == Mark::Copied)
                .count();
            if j - i >= SPAN_RUN.min(marks.len()) {
                runs.push((i, j));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    match (runs.first(), runs.last()) {
        (Some(f), Some(l)) => (f.0, l.1),
        _ => (0, 0),
    }
}

fn paragraphs(w: &Words, marks: &[Mark], span: (usize, usize)) -> Vec<Paragraph> {
    let mut out: Vec<Paragraph> = Vec::new();
    let mut last_paragraph = usize::MAX;
    for (i, word) in w.words.iter().enumerate() {
        let in_span = i >= span.0 && i < span.1;
        if w.paragraph[i] != last_paragraph {
            last_paragraph = w.paragraph[i];
            out.push(Paragraph {
                segments: Vec::new(),
            });
        }
        let segments = &mut out.last_mut().expect("pushed").segments;
        match segments.last_mut() {
            Some(s) if s.mark == marks[i] && s.in_span == in_span => {
                s.text.push(' ');
                s.text.push_str(word);
            }
            _ => segments.push(Segment {
                mark: marks[i],
                in_span,
                text: (*word).to_string(),
            }),
        }
    }
    out
}

/// Compares a copy with its original, word by word.
pub fn compare(original: &str, copy: &str) -> CopyDiff {
    let (o, c) = (split(original), split(copy));
    let al = align(&o, &c);
    let (original_span, copy_span) = (span(&al.old), span(&al.new));
    let count = |marks: &[Mark], m: Mark| marks.iter().filter(|&&x| x == m).count();
    let mut changes = Vec::new();
    let join = |w: &[&str]| w.join(" ");
    for op in &al.ops {
        let (oi, ol, ni, nl) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        if ol > 0 && nl > 0 && al.old[oi] == Mark::Changed {
            changes.push(Change::Changed {
                from: join(&o.words[oi..oi + ol]),
                to: join(&c.words[ni..ni + nl]),
            });
            continue;
        }
        if ol > 0 {
            changes.push(Change::Cut {
                text: join(&o.words[oi..oi + ol]),
                in_span: oi >= original_span.0 && oi < original_span.1,
            });
        }
        if nl > 0 {
            changes.push(Change::Added {
                text: join(&c.words[ni..ni + nl]),
                in_span: ni >= copy_span.0 && ni < copy_span.1,
            });
        }
    }
    CopyDiff {
        original: paragraphs(&o, &al.old, original_span),
        copy: paragraphs(&c, &al.new, copy_span),
        changes,
        copied_words: count(&al.old, Mark::Copied),
        cut_words: count(&al.old, Mark::Cut),
        added_words: count(&al.new, Mark::Added),
        changed_words: count(&al.new, Mark::Changed),
        original_span,
        copy_span,
    }
}

/// The original changed words that a copy holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleEdit {
    /// Sentences of the copy, touched by the edit, that the original no longer has.
    pub only_in_copies: Vec<String>,
    /// Words the original now has inside the copied text that the copy does not.
    pub new_in_original: Vec<String>,
}

/// Whether the original's edit from `old` to `new` changed words that `copy` (made from `old`)
/// holds. An edit of words the copy cut, before, after or between the words it holds, is not.
pub fn edited_after_copy(old: &str, new: &str, copy: &str) -> Option<StaleEdit> {
    let (o, n, c) = (split(old), split(new), split(copy));
    let held = align(&o, &c);
    let holds = |i: usize| matches!(held.old.get(i), Some(Mark::Copied | Mark::Changed));
    let edit = capture_diff_slices(Algorithm::Patience, &o.words, &n.words);
    let mut touched_old: Vec<usize> = Vec::new();
    let mut new_in_original = Vec::new();
    for op in &edit {
        let (oi, ol, ni, nl) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index, old_len, ..
            } => (old_index, old_len, 0, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        let inside: Vec<usize> = (oi..oi + ol).filter(|&i| holds(i)).collect();
        let insertion_inside = ol == 0 && oi > 0 && holds(oi - 1) && holds(oi);
        if inside.is_empty() && !insertion_inside {
            continue;
        }
        if inside.is_empty() {
            touched_old.push(oi - 1);
        }
        touched_old.extend(inside);
        if nl > 0 {
            new_in_original.push(n.words[ni..ni + nl].join(" "));
        }
    }
    if touched_old.is_empty() {
        return None;
    }
    // Old words of the original to words of the copy, through the alignment.
    let mut to_copy = vec![None; o.words.len()];
    for op in &held.ops {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => (0..len).for_each(|k| to_copy[old_index + k] = Some(new_index + k)),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                ..
            } => (0..old_len).for_each(|k| to_copy[old_index + k] = Some(new_index)),
            _ => {}
        }
    }
    let sentences = sentences(&c);
    let new_text = n.words.join(" ");
    let mut only_in_copies: Vec<String> = Vec::new();
    for i in touched_old {
        let Some(ci) = to_copy[i] else { continue };
        let Some(s) = sentences.iter().find(|s| s.0 <= ci && ci < s.1) else {
            continue;
        };
        let text = c.words[s.0..s.1].join(" ");
        if !new_text.contains(&text) && !only_in_copies.contains(&text) {
            only_in_copies.push(text);
        }
    }
    Some(StaleEdit {
        only_in_copies,
        new_in_original,
    })
}

/// A copy's change of words it holds from the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Altered {
    /// The copy's sentences as they were, where it changed them.
    pub before: Vec<String>,
    /// What the copy says now in their place.
    pub after: Vec<String>,
}

/// Whether a copy's change from `old_copy` to `new_copy` altered words the original still says.
pub fn copy_altered(original: &str, old_copy: &str, new_copy: &str) -> Option<Altered> {
    let (o, a, b) = (split(original), split(old_copy), split(new_copy));
    let held = align(&o, &a);
    let holds = |i: usize| held.new.get(i) == Some(&Mark::Copied);
    let sa = sentences(&a);
    let sb = sentences(&b);
    let mut before = Vec::new();
    let mut after = Vec::new();
    let sentence_at = |s: &[(usize, usize)], w: &Words, i: usize| {
        s.iter()
            .find(|s| s.0 <= i && i < s.1)
            .map(|s| w.words[s.0..s.1].join(" "))
    };
    for op in capture_diff_slices(Algorithm::Patience, &a.words, &b.words) {
        let (ai, al, bi) = match op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index),
            DiffOp::Insert {
                old_index,
                new_index,
                ..
            } => (old_index, 0, new_index),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                ..
            } => (old_index, old_len, new_index),
        };
        let touches = (ai..ai + al).any(holds) || (al == 0 && ai > 0 && holds(ai - 1) && holds(ai));
        if !touches {
            continue;
        }
        let at = if al > 0 { ai } else { ai - 1 };
        if let Some(s) = sentence_at(&sa, &a, at)
            && !before.contains(&s)
        {
            before.push(s);
        }
        if let Some(s) = sentence_at(&sb, &b, bi.min(b.words.len().saturating_sub(1)))
            && !after.contains(&s)
        {
            after.push(s);
        }
    }
    (!before.is_empty()).then_some(Altered { before, after })
}

/// Whether `copy` still carries the text of a deleted original (its last version): its
/// containment, when the two still link.
pub fn survives_deletion(original_last: &str, copy: &str, t: &Thresholds) -> Option<f64> {
    verify(&Shingled::of(original_last), &Shingled::of(copy), t).map(|o| o.containment)
}

/// Sentences as word ranges `[start, end)`: a sentence ends at a word ending in `.`, `!` or
/// `?` (before closing quotes or brackets), or at the end of its paragraph.
fn sentences(w: &Words) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..w.words.len() {
        let word = w.words[i].trim_end_matches(['"', '\'', '”', '’', ')', ']']);
        let end_of_paragraph = i + 1 == w.words.len() || w.paragraph[i + 1] != w.paragraph[i];
        if end_of_paragraph || word.ends_with(['.', '!', '?']) {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "Council approves bridge\n\
        The city council approved the new bridge on Tuesday by seven votes to two. \
        Construction is due to start in March.\n\
        The bridge will cost 40 million euros, the mayor said. \"It will change the city,\" she added.\n\
        Critics said the money should go to schools instead.\n\
        The vote followed three years of debate.";

    fn words_of(d: &CopyDiff, side: &[Paragraph], mark: Mark) -> Vec<String> {
        let _ = d;
        side.iter()
            .flat_map(|p| &p.segments)
            .filter(|s| s.mark == mark)
            .map(|s| s.text.clone())
            .collect()
    }

    #[test]
    fn a_full_copy_has_nothing_cut_added_or_changed() {
        let d = compare(ORIGINAL, ORIGINAL);
        assert_eq!((d.cut_words, d.added_words, d.changed_words), (0, 0, 0));
        assert!(d.changes.is_empty());
        assert_eq!(d.original_span, (0, d.copied_words));
    }

    #[test]
    fn a_lede_a_headline_and_a_cut_paragraph_are_told_apart() {
        let copy = "Bridge vote: what it means for you\n\
            Readers in the east of the city asked us about the bridge.\n\
            The city council approved the new bridge on Tuesday by seven votes to two. \
            Construction is due to start in March.\n\
            The bridge will cost 40 million euros, the mayor said. \"It will change the city,\" she added.\n\
            The vote followed three years of debate.";
        let d = compare(ORIGINAL, copy);
        assert_eq!(
            words_of(&d, &d.original, Mark::Cut),
            [
                "Council approves bridge",
                "Critics said the money should go to schools instead."
            ]
        );
        assert_eq!(
            words_of(&d, &d.copy, Mark::Added),
            [
                "Bridge vote: what it means for you",
                "Readers in the east of the city asked us about the bridge."
            ]
        );
        // The cut paragraph sits between copied ones: inside the span of the original.
        assert!(d.changes.contains(&Change::Cut {
            text: "Critics said the money should go to schools instead.".into(),
            in_span: true
        }));
        // The headline was before the span.
        assert!(d.changes.iter().any(|c| matches!(c, Change::Cut { text, in_span: false } if text == "Council approves bridge")));
        assert_eq!(d.copy_span.0, 19);
    }

    #[test]
    fn a_changed_number_is_a_change() {
        let copy = ORIGINAL.replace("40 million", "45 million");
        let d = compare(ORIGINAL, &copy);
        assert_eq!(
            d.changes,
            [Change::Changed {
                from: "40".into(),
                to: "45".into()
            }]
        );
        assert_eq!(d.changed_words, 1);
    }

    #[test]
    fn an_edit_of_words_the_copy_holds_names_the_sentences_only_the_copy_keeps() {
        let copy = ORIGINAL.replace("Critics said the money should go to schools instead.\n", "");
        let new = ORIGINAL.replace("40 million", "55 million");
        let stale = edited_after_copy(ORIGINAL, &new, &copy).expect("inside the copied span");
        assert_eq!(
            stale.only_in_copies,
            ["The bridge will cost 40 million euros, the mayor said."]
        );
        assert_eq!(stale.new_in_original, ["55"]);
    }

    #[test]
    fn an_edit_of_a_paragraph_the_copy_cut_is_not_stale() {
        let copy = ORIGINAL.replace("Critics said the money should go to schools instead.\n", "");
        let new = ORIGINAL.replace("go to schools", "go to hospitals");
        assert_eq!(edited_after_copy(ORIGINAL, &new, &copy), None);
        // Nor is a paragraph added at the end, after what the copy holds.
        let new = format!("{ORIGINAL}\nThe council meets again in May.");
        assert_eq!(edited_after_copy(ORIGINAL, &new, &copy), None);
        // Nor is an edit of the headline the copy replaced.
        let copy = copy.replace("Council approves bridge", "A new bridge");
        let new = ORIGINAL.replace("Council approves bridge", "Council backs bridge");
        assert_eq!(edited_after_copy(ORIGINAL, &new, &copy), None);
    }

    #[test]
    fn words_inserted_inside_the_copied_text_are_stale() {
        let new = ORIGINAL.replace("the mayor said.", "the mayor said, up from 30 million.");
        let stale = edited_after_copy(ORIGINAL, &new, ORIGINAL).expect("inside");
        assert_eq!(
            stale.only_in_copies,
            ["The bridge will cost 40 million euros, the mayor said."]
        );
    }

    #[test]
    fn a_copy_that_changes_a_quote_is_altered_and_one_that_changes_its_lede_is_not() {
        let copy = format!("{ORIGINAL}\nRead more local news on our site.");
        let altered = copy.replace("change the city", "ruin the city");
        let a = copy_altered(ORIGINAL, &copy, &altered).expect("the quote changed");
        assert_eq!(a.before, ["\"It will change the city,\" she added."]);
        assert_eq!(a.after, ["\"It will ruin the city,\" she added."]);
        let lede = copy.replace("Read more local news", "Read more regional news");
        assert_eq!(copy_altered(ORIGINAL, &copy, &lede), None);
    }

    #[test]
    fn a_copy_of_a_deleted_original_survives_while_it_links() {
        let long: String = (0..80)
            .map(|i| format!("Sentence number {i} of the long report says something new."))
            .collect::<Vec<_>>()
            .join(" ");
        let text = format!("Title\n{long}");
        let t = Thresholds::default();
        assert!(survives_deletion(&text, &text, &t).is_some());
        assert_eq!(survives_deletion(&text, ORIGINAL, &t), None);
    }
}
