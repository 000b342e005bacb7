//! What an alert says: the event payload (the webhook schema), the compact excerpt of what
//! changed, e-mail subjects and bodies, chat texts. Pure: built from stored data, no I/O.

use serde::Serialize;

use crate::pure::diff::{self, LineTag, Segment};
use crate::pure::model::{CheckKind, Significance, VersionSeq};

/// The `schema` of a single alert payload.
pub const ALERT_SCHEMA: &str = "stet.alert.v1";
/// The `schema` of a digest payload (several alerts in one message).
pub const DIGEST_SCHEMA: &str = "stet.digest.v1";

/// Changed paragraphs shown at most in an excerpt.
const MAX_EXCERPT_LINES: usize = 6;
/// Characters of one excerpt line at most (the changed sentences are kept first).
const MAX_LINE_CHARS: usize = 320;

/// One alert: the webhook body, the command's stdin, and the source of every other message.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alert {
    pub schema: &'static str,
    /// Also sent as the Idempotency-Key header: the same for every attempt of this alert.
    pub idempotency_key: String,
    /// The name of the `[[alert]]` sink this was queued for.
    pub sink: String,
    /// edited, deleted, restored or captured.
    pub event: CheckKind,
    pub url: String,
    pub title: String,
    pub versions: Versions,
    pub significance: Option<Significance>,
    /// An edit that brought back the text of this earlier version.
    pub reverted_to: Option<VersionSeq>,
    /// Why the article counts as gone (deleted events), or what changed in the byline or
    /// published date (edits of significance `metadata`, and edits that also changed them).
    pub detail: Option<String>,
    /// When the change was detected (RFC 3339, UTC).
    pub detected_at: String,
    pub excerpt: Option<Excerpt>,
    /// The command that shows the whole change, or the whole history.
    pub command: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Versions {
    /// The version before the change (null for a capture or a deletion).
    pub from: Option<VersionSeq>,
    /// The version after the change (the last stored one for a deletion).
    pub to: Option<VersionSeq>,
    /// When each was captured (RFC 3339, UTC).
    pub from_captured_at: Option<String>,
    pub to_captured_at: Option<String>,
}

/// The changed sentences, with the changed words marked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Excerpt {
    pub words_added: usize,
    pub words_removed: usize,
    pub lines: Vec<ExcerptLine>,
    /// More changed paragraphs than shown: see `command`.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExcerptLine {
    /// delete or insert.
    pub tag: LineTag,
    /// The text with removed words as `[-word-]` and inserted ones as `{+word+}`.
    pub marked: String,
    /// The same text in pieces, `changed` on the words that changed.
    pub segments: Vec<Segment>,
}

/// What the notifier read from the archive about one queued alert.
#[derive(Debug, Clone)]
pub struct AlertSource<'a> {
    pub idempotency_key: &'a str,
    pub sink: &'a str,
    pub event: CheckKind,
    pub url: &'a str,
    pub title: &'a str,
    pub from: Option<VersionSeq>,
    pub to: Option<VersionSeq>,
    /// When `from` and `to` were captured.
    pub captured_at: (Option<&'a str>, Option<&'a str>),
    pub significance: Option<Significance>,
    pub reverted_to: Option<VersionSeq>,
    pub detail: Option<&'a str>,
    pub detected_at: &'a str,
    /// The texts of `from` and `to`, when both exist.
    pub texts: Option<(&'a str, &'a str)>,
}

impl Alert {
    pub fn build(src: &AlertSource<'_>) -> Self {
        // Null when the texts are the same (an edit of the byline or date alone).
        let excerpt = src
            .texts
            .map(|(old, new)| excerpt(old, new))
            .filter(|e| !e.lines.is_empty());
        let command = match (src.from, src.to) {
            (Some(from), Some(to)) => format!("stet diff {} --from {from} --to {to}", src.url),
            _ => format!("stet history {}", src.url),
        };
        Self {
            schema: ALERT_SCHEMA,
            idempotency_key: src.idempotency_key.to_string(),
            sink: src.sink.to_string(),
            event: src.event,
            url: src.url.to_string(),
            title: src.title.to_string(),
            versions: Versions {
                from: src.from,
                to: src.to,
                from_captured_at: src.captured_at.0.map(str::to_string),
                to_captured_at: src.captured_at.1.map(str::to_string),
            },
            significance: src.significance,
            reverted_to: src.reverted_to,
            detail: src.detail.map(str::to_string),
            detected_at: src.detected_at.to_string(),
            excerpt,
            command,
        }
    }

    /// "the title" in quotes, or the URL when the article has no title.
    fn name(&self) -> String {
        if self.title.trim().is_empty() {
            self.url.clone()
        } else {
            format!("\u{201c}{}\u{201d}", self.title.trim())
        }
    }

    /// What happened, in a few words: "Edited (substantive), v1 → v2".
    pub fn what(&self) -> String {
        let verb = match self.event {
            CheckKind::Edited => "Edited",
            CheckKind::Deleted => "Deleted",
            CheckKind::Restored => "Restored",
            CheckKind::Captured => "Captured",
            other => return other.to_string(),
        };
        let mut s = verb.to_string();
        if let Some(sig) = self.significance {
            s.push_str(&format!(" ({})", sig.as_str()));
        }
        match (self.versions.from, self.versions.to) {
            (Some(from), Some(to)) => s.push_str(&format!(", v{from} \u{2192} v{to}")),
            (None, Some(to)) if self.event == CheckKind::Deleted => {
                s.push_str(&format!(", last version v{to}"))
            }
            (None, Some(to)) => s.push_str(&format!(", v{to}")),
            _ => {}
        }
        if let Some(back) = self.reverted_to {
            s.push_str(&format!(", back to the text of v{back}"));
        }
        s
    }

    /// The e-mail subject: the article and what happened.
    pub fn subject(&self) -> String {
        format!("[stet] {}: {}", self.what(), self.name())
    }

    /// What `detail` is: why a page is gone, or what else changed in an edit.
    fn detail_label(&self) -> &'static str {
        match self.event {
            CheckKind::Edited | CheckKind::Restored => "Changed",
            _ => "Reason",
        }
    }

    /// The plain-text message: e-mail body, ntfy body, command logs.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{}: {}\n{}\nDetected {}\n",
            self.what(),
            self.name(),
            self.url,
            self.detected_at
        );
        if let Some(detail) = &self.detail {
            out.push_str(&format!("{}: {detail}\n", self.detail_label()));
        }
        if let Some(ex) = &self.excerpt {
            out.push_str(&format!(
                "\nWhat changed ({} word(s) added, {} removed; [-removed-] {{+added+}}):\n",
                ex.words_added, ex.words_removed
            ));
            for line in &ex.lines {
                out.push_str(&format!("{} {}\n", sign(line.tag), line.marked));
            }
            if ex.truncated {
                out.push_str("(more changes below the excerpt)\n");
            }
        }
        out.push_str(&format!("\nThe whole of it: {}\n", self.command));
        out
    }

    /// The HTML alternative of the e-mail: the same content with `<del>` and `<ins>`.
    pub fn html(&self) -> String {
        let mut out = format!(
            "<p><strong>{}</strong>: <a href=\"{}\">{}</a><br>Detected {}</p>\n",
            esc(&self.what()),
            esc(&self.url),
            esc(&self.name()),
            esc(&self.detected_at)
        );
        if let Some(detail) = &self.detail {
            out.push_str(&format!(
                "<p>{}: {}</p>\n",
                self.detail_label(),
                esc(detail)
            ));
        }
        if let Some(ex) = &self.excerpt {
            out.push_str(&format!(
                "<p>{} word(s) added, {} removed:</p>\n",
                ex.words_added, ex.words_removed
            ));
            for line in &ex.lines {
                let (tag, color) = match line.tag {
                    LineTag::Delete => ("del", "#b00"),
                    _ => ("ins", "#070"),
                };
                let body: String = line
                    .segments
                    .iter()
                    .map(|s| {
                        if s.changed {
                            format!("<{tag}>{}</{tag}>", esc(&s.text))
                        } else {
                            esc(&s.text)
                        }
                    })
                    .collect();
                out.push_str(&format!(
                    "<p style=\"border-left:3px solid {color};padding-left:8px\">{} {body}</p>\n",
                    sign(line.tag)
                ));
            }
            if ex.truncated {
                out.push_str("<p>(more changes below the excerpt)</p>\n");
            }
        }
        out.push_str(&format!(
            "<p>The whole of it: <code>{}</code></p>\n",
            esc(&self.command)
        ));
        out
    }

    /// A chat message in the Markdown dialect of Slack/Mattermost (`slack`) or Discord.
    pub fn chat(&self, slack_links: bool) -> String {
        let link = if slack_links {
            format!("<{}|{}>", self.url, self.name())
        } else {
            format!("[{}]({})", self.name(), self.url)
        };
        let bold = if slack_links { "*" } else { "**" };
        let mut out = format!("{bold}{}{bold}: {link}", self.what());
        if let Some(detail) = &self.detail {
            out.push_str(&format!("\n{detail}"));
        }
        if let Some(ex) = &self.excerpt {
            out.push_str("\n```\n");
            for line in &ex.lines {
                out.push_str(&format!("{} {}\n", sign(line.tag), line.marked));
            }
            out.push_str("```");
        }
        out.push_str(&format!("\n`{}`", self.command));
        out
    }
}

/// Several alerts of one sink in one message.
#[derive(Debug, Clone, Serialize)]
pub struct Digest<'a> {
    pub schema: &'static str,
    pub idempotency_key: String,
    pub sink: &'a str,
    pub alerts: &'a [Alert],
}

impl<'a> Digest<'a> {
    pub fn new(sink: &'a str, alerts: &'a [Alert]) -> Self {
        let keys: Vec<&str> = alerts.iter().map(|a| a.idempotency_key.as_str()).collect();
        let key =
            crate::pure::model::Sha256Hash::of(keys.join("\n").as_bytes()).to_hex()[..32].into();
        Self {
            schema: DIGEST_SCHEMA,
            idempotency_key: key,
            sink,
            alerts,
        }
    }

    pub fn subject(&self) -> String {
        match self.alerts {
            [one] => one.subject(),
            many => format!("[stet] {} changes to watched articles", many.len()),
        }
    }

    pub fn text(&self) -> String {
        self.alerts
            .iter()
            .map(Alert::text)
            .collect::<Vec<_>>()
            .join("\n----\n\n")
    }

    pub fn html(&self) -> String {
        self.alerts
            .iter()
            .map(Alert::html)
            .collect::<Vec<_>>()
            .join("<hr>\n")
    }

    pub fn chat(&self, slack_links: bool) -> String {
        self.alerts
            .iter()
            .map(|a| a.chat(slack_links))
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

fn sign(tag: LineTag) -> &'static str {
    match tag {
        LineTag::Delete => "-",
        LineTag::Insert => "+",
        LineTag::Equal => " ",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The changed paragraphs of `old` → `new`, each cut down to its changed sentences.
pub fn excerpt(old: &str, new: &str) -> Excerpt {
    let report = diff::diff(old, new, 0);
    let changed: Vec<&diff::Line> = report
        .hunks
        .iter()
        .flat_map(|h| h.lines.iter())
        .filter(|l| l.tag != LineTag::Equal)
        .collect();
    let lines = changed
        .iter()
        .take(MAX_EXCERPT_LINES)
        .map(|line| {
            let segments = trim_to_changes(&line.segments);
            ExcerptLine {
                tag: line.tag,
                marked: marked(line.tag, &segments),
                segments,
            }
        })
        .collect();
    Excerpt {
        words_added: report.words_added,
        words_removed: report.words_removed,
        lines,
        truncated: changed.len() > MAX_EXCERPT_LINES,
    }
}

fn marked(tag: LineTag, segments: &[Segment]) -> String {
    let (open, close) = match tag {
        LineTag::Delete => ("[-", "-]"),
        _ => ("{+", "+}"),
    };
    segments
        .iter()
        .map(|s| {
            if s.changed {
                format!("{open}{}{close}", s.text)
            } else {
                s.text.clone()
            }
        })
        .collect()
}

/// Keeps the sentences of a paragraph that hold a changed word (all of a paragraph that was
/// added or removed whole), joined by "…", and at most [`MAX_LINE_CHARS`] characters.
fn trim_to_changes(segments: &[Segment]) -> Vec<Segment> {
    let text: String = segments.iter().map(|s| s.text.as_str()).collect();
    let mut changed_ranges = Vec::new();
    let mut pos = 0;
    for s in segments {
        if s.changed {
            changed_ranges.push((pos, pos + s.text.len()));
        }
        pos += s.text.len();
    }
    let sentences = sentence_ranges(&text);
    let keep: Vec<(usize, usize)> = if changed_ranges.is_empty() {
        sentences
    } else {
        sentences
            .into_iter()
            .filter(|(a, b)| changed_ranges.iter().any(|(c, d)| c < b && d > a))
            .collect()
    };
    // Rebuild segments restricted to the kept sentence ranges.
    let mut out: Vec<Segment> = Vec::new();
    let mut budget = MAX_LINE_CHARS;
    let mut last_end = 0;
    for (a, b) in keep {
        if budget == 0 {
            break;
        }
        if a > last_end {
            push(&mut out, false, "\u{2026} ");
        }
        let mut pos = 0;
        for s in segments {
            let (sa, sb) = (pos, pos + s.text.len());
            pos = sb;
            let (lo, hi) = (sa.max(a), sb.min(b));
            if lo >= hi || budget == 0 {
                continue;
            }
            let piece = &s.text[lo - sa..hi - sa];
            let take: String = piece.chars().take(budget).collect();
            budget = budget.saturating_sub(take.chars().count());
            push(&mut out, s.changed, &take);
        }
        last_end = b;
    }
    if last_end < text.len() || budget == 0 {
        push(&mut out, false, " \u{2026}");
    }
    // Trailing spaces before an ellipsis read badly.
    for s in &mut out {
        s.text = s.text.replace("  \u{2026}", " \u{2026}");
    }
    out
}

fn push(out: &mut Vec<Segment>, changed: bool, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.changed == changed => last.text.push_str(text),
        _ => out.push(Segment {
            changed,
            text: text.to_string(),
        }),
    }
}

/// Byte ranges of the sentences of `text`: a sentence ends after `.`, `!` or `?` (and any
/// closing quotes or brackets) followed by a space.
fn sentence_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?' | '\u{2026}') {
            while chars
                .next_if(|&(_, q)| matches!(q, '"' | '\'' | ')' | ']' | '\u{201d}' | '\u{2019}'))
                .is_some()
            {}
            if let Some(&(j, ' ')) = chars.peek() {
                ranges.push((start, j + 1));
                start = j + 1;
            }
        }
    }
    if start < text.len() {
        ranges.push((start, text.len()));
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "Bridge to close\n\
        The council voted on Tuesday. The bridge will close for six weeks. Buses will be diverted.\n\
        Traders were given four days of notice.";

    fn source<'a>(event: CheckKind, texts: Option<(&'a str, &'a str)>) -> AlertSource<'a> {
        AlertSource {
            idempotency_key: "k1",
            sink: "newsroom",
            event,
            url: "https://news.example/2026/bridge",
            title: "Bridge to close",
            from: Some(VersionSeq(1)),
            to: Some(VersionSeq(2)),
            captured_at: (
                Some("2026-11-26T09:00:00.000Z"),
                Some("2026-11-27T10:00:00.000Z"),
            ),
            significance: Some(Significance::Substantive),
            reverted_to: None,
            detail: None,
            detected_at: "2026-11-27T10:00:00.000Z",
            texts,
        }
    }

    #[test]
    fn a_metadata_edit_says_what_changed_without_an_empty_excerpt() {
        let mut src = source(CheckKind::Edited, Some((OLD, OLD)));
        src.significance = Some(Significance::Metadata);
        src.detail = Some("byline \u{201c}Jane Roe\u{201d} \u{2192} \u{201c}John Doe\u{201d}");
        let alert = Alert::build(&src);
        assert_eq!(alert.excerpt, None);
        assert!(
            alert.what().starts_with("Edited (metadata), v1"),
            "{}",
            alert.what()
        );
        let text = alert.text();
        assert!(
            text.contains("Changed: byline \u{201c}Jane Roe\u{201d}"),
            "{text}"
        );
        assert!(!text.contains("What changed"), "{text}");
    }

    #[test]
    fn excerpt_keeps_the_changed_sentence_and_marks_words() {
        let new = OLD.replace("six weeks", "ten weeks");
        let ex = excerpt(OLD, &new);
        let marked: Vec<&str> = ex.lines.iter().map(|l| l.marked.as_str()).collect();
        assert_eq!(
            marked,
            vec![
                "\u{2026} The bridge will close for [-six-] weeks. \u{2026}",
                "\u{2026} The bridge will close for {+ten+} weeks. \u{2026}",
            ]
        );
        assert_eq!((ex.words_added, ex.words_removed), (1, 1));
        assert!(!ex.truncated);
    }

    #[test]
    fn a_removed_paragraph_is_shown_whole() {
        let new = OLD.replace("\nTraders were given four days of notice.", "");
        let ex = excerpt(OLD, &new);
        assert_eq!(ex.lines.len(), 1);
        assert_eq!(ex.lines[0].tag, LineTag::Delete);
        assert_eq!(
            ex.lines[0].marked,
            "Traders were given four days of notice."
        );
    }

    #[test]
    fn long_paragraphs_are_capped() {
        let long = format!("Title\n{}", "word ".repeat(400).trim_end());
        let ex = excerpt("Title", &long);
        assert!(ex.lines[0].marked.chars().count() <= MAX_LINE_CHARS + 2);
        assert!(ex.lines[0].marked.ends_with('\u{2026}'));
    }

    #[test]
    fn many_changes_are_truncated() {
        let old: String = (0..10).map(|i| format!("Para {i} says a.\n")).collect();
        let new: String = (0..10).map(|i| format!("Para {i} says b.\n")).collect();
        let ex = excerpt(&old, &new);
        assert_eq!(ex.lines.len(), MAX_EXCERPT_LINES);
        assert!(ex.truncated);
    }

    #[test]
    fn an_edit_alert_names_the_article_the_change_and_the_diff_command() {
        let new = OLD.replace("six weeks", "ten weeks");
        let alert = Alert::build(&source(CheckKind::Edited, Some((OLD, &new))));
        assert_eq!(
            alert.subject(),
            "[stet] Edited (substantive), v1 \u{2192} v2: \u{201c}Bridge to close\u{201d}"
        );
        let text = alert.text();
        assert!(text.contains("https://news.example/2026/bridge"), "{text}");
        assert!(
            text.contains("- \u{2026} The bridge will close for [-six-] weeks."),
            "{text}"
        );
        assert!(
            text.contains("+ \u{2026} The bridge will close for {+ten+} weeks."),
            "{text}"
        );
        assert!(
            text.contains("stet diff https://news.example/2026/bridge --from 1 --to 2"),
            "{text}"
        );
        let html = alert.html();
        assert!(
            html.contains("<del>six</del>") && html.contains("<ins>ten</ins>"),
            "{html}"
        );
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["schema"], "stet.alert.v1");
        assert_eq!(json["event"], "edited");
        assert_eq!(json["versions"]["from"], 1);
        assert_eq!(json["versions"]["to"], 2);
        assert_eq!(
            json["versions"]["from_captured_at"],
            "2026-11-26T09:00:00.000Z"
        );
        assert_eq!(json["significance"], "substantive");
        assert_eq!(json["excerpt"]["lines"][1]["tag"], "insert");
    }

    #[test]
    fn a_deletion_alert_has_its_reason_and_no_excerpt() {
        let mut src = source(CheckKind::Deleted, None);
        src.from = None;
        src.to = Some(VersionSeq(3));
        src.significance = None;
        src.detail = Some("http 404");
        let alert = Alert::build(&src);
        assert_eq!(
            alert.subject(),
            "[stet] Deleted, last version v3: \u{201c}Bridge to close\u{201d}"
        );
        assert!(alert.text().contains("Reason: http 404"));
        assert_eq!(
            alert.command,
            "stet history https://news.example/2026/bridge"
        );
        assert!(alert.excerpt.is_none());
    }

    #[test]
    fn html_is_escaped() {
        let mut src = source(CheckKind::Deleted, None);
        src.title = "<script>x</script> & co";
        let html = Alert::build(&src).html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;x&lt;/script&gt; &amp; co"),
            "{html}"
        );
    }

    #[test]
    fn chat_texts_link_the_article() {
        let alert = Alert::build(&source(CheckKind::Restored, None));
        assert!(alert.chat(true).starts_with(
            "*Restored (substantive), v1 \u{2192} v2*: <https://news.example/2026/bridge|"
        ));
        assert!(
            alert
                .chat(false)
                .contains("](https://news.example/2026/bridge)")
        );
    }

    #[test]
    fn a_digest_has_one_key_for_its_alerts() {
        let a = Alert::build(&source(CheckKind::Restored, None));
        let mut b = a.clone();
        b.idempotency_key = "k2".into();
        let alerts = [a, b];
        let d = Digest::new("newsroom", &alerts);
        assert_eq!(d.subject(), "[stet] 2 changes to watched articles");
        assert_ne!(
            d.idempotency_key,
            Digest::new("newsroom", &alerts[..1]).idempotency_key
        );
        assert_eq!(
            serde_json::to_value(&d).unwrap()["alerts"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
