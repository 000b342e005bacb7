//! Terminal output: tables, colors and JSON, chosen once per command.
//!
//! Colors go through `anstream`, which strips them when stdout is not a terminal and honours
//! `NO_COLOR` and `CLICOLOR_FORCE`. Every write to stdout goes through here: when the reader
//! has gone away (`stet watch list | head -1`), the process ends at once and quietly with
//! status 141, as a program killed by SIGPIPE does, instead of printing an error.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Effects, Style};
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::pure::model::CheckKind;

pub const BOLD: Style = Style::new().effects(Effects::BOLD);
pub const DIM: Style = Style::new().effects(Effects::DIMMED);
pub const RED: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
pub const GREEN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
pub const YELLOW: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
pub const MAGENTA: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Magenta)));
pub const CYAN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
pub const RED_EMPH: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .effects(Effects::BOLD.insert(Effects::UNDERLINE));
pub const GREEN_EMPH: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .effects(Effects::BOLD.insert(Effects::UNDERLINE));

/// Whether stdout is a terminal a person reads.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// `text` in `style` (stripped later by anstream where colors do not belong).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// The style that tells a kind of check at a glance.
pub fn kind_style(kind: CheckKind) -> Style {
    match kind {
        CheckKind::Captured => CYAN,
        CheckKind::Unchanged => DIM,
        CheckKind::Edited => YELLOW.effects(Effects::BOLD),
        CheckKind::Deleted => RED.effects(Effects::BOLD),
        CheckKind::Restored => GREEN.effects(Effects::BOLD),
        CheckKind::Missing => RED,
        CheckKind::Error => RED.effects(Effects::DIMMED),
        CheckKind::Deferred => YELLOW.effects(Effects::DIMMED),
        CheckKind::Blocked => MAGENTA,
    }
}

/// A table cell showing a kind of check in its style. The table measures the text alone and
/// styles it only on a terminal, so color codes never count as width (an escape sequence
/// inside a cell's text would: the column would misalign on a terminal and stay too wide
/// without one).
pub fn kind_cell(kind: CheckKind) -> Cell {
    let cell = Cell::new(kind.as_str());
    match kind {
        CheckKind::Captured => cell.fg(Color::Cyan),
        CheckKind::Unchanged => cell.add_attribute(Attribute::Dim),
        CheckKind::Edited => cell.fg(Color::Yellow).add_attribute(Attribute::Bold),
        CheckKind::Deleted => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        CheckKind::Restored => cell.fg(Color::Green).add_attribute(Attribute::Bold),
        CheckKind::Missing => cell.fg(Color::Red),
        CheckKind::Error => cell.fg(Color::Red).add_attribute(Attribute::Dim),
        CheckKind::Deferred => cell.fg(Color::Blue).add_attribute(Attribute::Dim),
        CheckKind::Blocked => cell.fg(Color::Magenta),
    }
}

/// A table with a header row, sized to the terminal when there is one. Cells hold plain text:
/// style them with [`Cell`] attributes (as [`kind_cell`] does), never with [`paint`].
pub fn table<C: Into<Cell>>(header: &[&str], rows: Vec<Vec<C>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(|h| h.to_string()));
    for row in rows {
        t.add_row(row);
    }
    t.to_string()
}

/// One diff line as a person reads it on a terminal: the sign, the paragraph, and its changed
/// words emphasised (red for removed, green for added, dim for context).
pub fn diff_line(line: &crate::pure::diff::Line) -> String {
    use crate::pure::diff::LineTag;
    let (sign, base, emph) = match line.tag {
        LineTag::Equal => (" ", DIM, DIM),
        LineTag::Delete => ("-", RED, RED_EMPH),
        LineTag::Insert => ("+", GREEN, GREEN_EMPH),
    };
    let body: String = line
        .segments
        .iter()
        .map(|s| paint(if s.changed { emph } else { base }, &s.text))
        .collect();
    format!("{}{body}", paint(base, sign))
}

/// Prints `value` as one line of JSON.
pub fn json_line(value: &impl Serialize) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    raw(&line)
}

/// Prints `value` as indented JSON.
pub fn json_pretty(value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    raw(&text)
}

/// Prints bytes as they are (a page, a script, a manual page).
pub fn raw(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(bytes).and_then(|()| out.flush());
    written.map_err(|e| {
        exit_if_closed(&e);
        e.into()
    })
}

/// Prints text that may carry styles, through anstream, in one write (see
/// [`say!`](crate::say) for a line).
pub fn styled(text: &str) {
    let mut out = anstream::stdout();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    if let Err(e) = written {
        exit_if_closed(&e);
    }
}

/// Ends the process quietly, with [`exit::CLOSED_STDOUT`], when `err` says the reader of stdout
/// went away; returns otherwise.
///
/// [`exit::CLOSED_STDOUT`]: super::exit::CLOSED_STDOUT
pub fn exit_if_closed(err: &std::io::Error) {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(super::exit::CLOSED_STDOUT));
    }
}

/// Whether an error comes from writing to a closed pipe (anywhere in its chain).
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes a line to stdout through anstream (colors stripped where they do not belong). A
/// closed stdout ends the process quietly (see the module doc); other write errors are ignored.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(anstream::stdout(), $($arg)*) {
            $crate::cli::output::exit_if_closed(&e);
        }
    }};
}
