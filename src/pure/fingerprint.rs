//! Canonical text and hashes: what "the same article" means.
//!
//! Owns the canonical form of an article (Unicode NFC, whitespace folded, invisible characters
//! dropped; the title on the first line, then one paragraph per line), its SHA-256 content hash,
//! the looser form that tells a minor edit from a substantive one, and the raw-body hash.
//! Pure: never does I/O. Changing anything here changes every stored hash: the format is
//! documented in `docs/ARCHITECTURE.md` so an independent program can recompute it.

use unicode_normalization::UnicodeNormalization;

use crate::pure::extract::Article;
use crate::pure::model::{ContentHash, Sha256Hash};

/// An article reduced to what is compared and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Title line, then one paragraph per line, joined by `\n`.
    pub canonical_text: String,
    /// SHA-256 of `canonical_text` as UTF-8.
    pub content_hash: ContentHash,
    /// SHA-256 of the loose form: equal loose hashes with different content hashes mean only
    /// whitespace, punctuation or typography changed.
    pub loose_hash: Sha256Hash,
}

impl Fingerprint {
    pub fn of(article: &Article) -> Self {
        Self::of_canonical(canonical_text(&title_line(article), &article.paragraphs))
    }

    /// Hashes text that is already canonical (for example, read back from the archive).
    pub fn of_canonical(canonical_text: String) -> Self {
        let content_hash = Sha256Hash::of(canonical_text.as_bytes());
        let loose_hash = Sha256Hash::of(loose_form(&canonical_text).as_bytes());
        Self {
            canonical_text,
            content_hash,
            loose_hash,
        }
    }
}

/// The headline line: the headline a reader sees, then each other headline the page declares
/// where it differs, separated by ` | `.
pub fn title_line(article: &Article) -> String {
    let mut line = article.title.clone();
    for h in &article.headlines {
        line.push_str(" | ");
        line.push_str(h);
    }
    line
}

/// The canonical text of an article: the canonical title on the first line (possibly empty),
/// then each non-empty canonical paragraph on a line of its own.
pub fn canonical_text(title: &str, paragraphs: &[String]) -> String {
    let mut out = canonical_line(title);
    for p in paragraphs {
        let line = canonical_line(p);
        if !line.is_empty() {
            out.push('\n');
            out.push_str(&line);
        }
    }
    out
}

/// NFC, invisible characters dropped, every run of white space (including no-break spaces and
/// line breaks) folded to one space, trimmed.
pub fn canonical_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfc() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Characters that render as nothing: zero-width spaces and joiners, soft hyphens, directional
/// marks, byte-order marks and other format controls. They vary between renderings of the same text.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}')
        || (c.is_control() && c != '\n' && c != '\t')
}

/// The loose form: canonical text with typography folded (curly quotes, dashes, ellipses,
/// ligatures via NFKC) and every punctuation mark and space removed. Case and words are kept:
/// "US" and "us" differ in meaning.
pub fn loose_form(canonical: &str) -> String {
    canonical.nfkc().filter(|c| c.is_alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(title: &str, paragraphs: &[&str]) -> Fingerprint {
        let paragraphs: Vec<String> = paragraphs.iter().map(|s| s.to_string()).collect();
        Fingerprint::of_canonical(canonical_text(title, &paragraphs))
    }

    #[test]
    fn canonical_text_is_title_then_one_paragraph_per_line() {
        let text = canonical_text(
            "  Title\u{a0} here ",
            &["a  b".into(), "   ".into(), "c\n d".into()],
        );
        assert_eq!(text, "Title here\na b\nc d");
    }

    #[test]
    fn whitespace_and_invisible_characters_do_not_change_the_hash() {
        let a = fp("Title", &["The troops left on Sunday."]);
        let b = fp(
            "Title ",
            &["The  troops\u{200b} left\non\u{a0}Sunday.\u{feff}"],
        );
        assert_eq!(a.content_hash, b.content_hash);
    }

    #[test]
    fn nfc_and_nfd_hash_alike() {
        let composed = fp("Café", &[]);
        let decomposed = fp("Cafe\u{301}", &[]);
        assert_eq!(composed.content_hash, decomposed.content_hash);
    }

    #[test]
    fn a_changed_word_changes_both_hashes() {
        let a = fp("T", &["The troops left on Sunday."]);
        let b = fp("T", &["The troops left on Monday."]);
        assert_ne!(a.content_hash, b.content_hash);
        assert_ne!(a.loose_hash, b.loose_hash);
    }

    #[test]
    fn typography_changes_only_the_strict_hash() {
        let a = fp("T", &["\"It's over,\" he said - finally..."]);
        let b = fp(
            "T",
            &["\u{201c}It\u{2019}s over\u{201d} he said \u{2014} finally\u{2026}"],
        );
        assert_ne!(a.content_hash, b.content_hash);
        assert_eq!(a.loose_hash, b.loose_hash);
    }

    #[test]
    fn paragraph_split_is_a_change_but_not_a_substantive_one() {
        let a = fp("T", &["One. Two."]);
        let b = fp("T", &["One.", "Two."]);
        assert_ne!(a.content_hash, b.content_hash);
        assert_eq!(a.loose_hash, b.loose_hash);
    }

    #[test]
    fn case_change_is_substantive() {
        assert_ne!(
            fp("T", &["US troops"]).loose_hash,
            fp("T", &["us troops"]).loose_hash
        );
    }
}
