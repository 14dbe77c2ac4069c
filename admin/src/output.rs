//! Printing results: a readable table by default, JSON with `--json`.
//!
//! Everything printed for the terminal goes through [`line`] or
//! [`text_block`] (tables and fields do it for every cell), so text from
//! mail or from the admin's own input is shown as written, in any
//! language, while nothing in it can steer the terminal or disguise what
//! is shown.

use serde::Serialize;
use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_width::UnicodeWidthStr;

pub fn json(value: &impl Serialize) {
    // Serializing our own plain structs cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable value")
    );
}

/// Prints rows under a header, each column as wide as its widest cell on
/// the terminal (a CJK character takes two columns, a combining mark none).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| line(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let print = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.width()))))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    print(header.to_vec());
    for row in &rows {
        print(row.iter().map(String::as_str).collect());
    }
}

/// Prints `label: value` lines with the values lined up.
pub fn fields(rows: &[(&str, String)]) {
    let width = rows
        .iter()
        .map(|(label, _)| label.chars().count() + 1)
        .max()
        .unwrap_or(0);
    for (label, value) in rows {
        let label = format!("{label}:");
        println!("{}", format!("{label:<width$}  {}", line(value)).trim_end());
    }
}

/// An optional value, or `-`.
pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// A stored time as the tables show it: `2026-11-27 10:02:11`, UTC.
pub fn time(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A value for one line of the terminal: see [`escape`]; line breaks and
/// tabs are escaped too.
pub fn line(text: &str) -> String {
    escape(text, false)
}

/// Prints one line of text that quotes outside values, through [`line`].
pub fn say(text: &str) {
    println!("{}", line(text));
}

/// A text of several lines (a message body) for the terminal: its lines
/// and tabs kept, everything else as [`line`] does it.
pub fn text_block(text: &str) -> String {
    escape(&text.replace("\r\n", "\n"), true)
}

/// Prints what can be printed as it is, in any script; escapes (as
/// `\u{202e}`, `\u{1b}`, `\r`) what could harm a terminal or disguise
/// text: control characters (C0, DEL, C1: ANSI escape sequences start with
/// one), line and paragraph separators, and the invisible formatting
/// characters (Unicode category Cf: bidirectional overrides and isolates,
/// zero-width spaces and joiners, the byte-order mark, soft hyphens, tag
/// characters...), which can reorder or hide what a line says.
fn escape(text: &str, keep_lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let harmful = matches!(
            get_general_category(c),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        );
        if harmful && !(keep_lines && matches!(c, '\n' | '\t')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_any_language_is_printed_as_it_is() {
        for text in [
            "Zamówienie nr 42 ąćęłńóśżź",
            "Łukasz Żółć",
            "Größe: ß Ä Ö Ü",
            "注文番号 42 について",
            "C:\\temp 'quoted' \"double\"",
            "❤\u{fe0f} e\u{301}",
        ] {
            assert_eq!(line(text), text);
        }
    }

    #[test]
    fn what_could_steer_the_terminal_or_disguise_text_is_escaped() {
        assert_eq!(line("a\r\nb\tc"), "a\\r\\nb\\tc");
        assert_eq!(
            line("\u{1b}[2J\u{7}\u{7f}\u{9b}"),
            "\\u{1b}[2J\\u{7}\\u{7f}\\u{9b}"
        );
        assert_eq!(line("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        for c in [
            '\u{202a}',
            '\u{202d}',
            '\u{2066}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{61c}',
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{ad}',
            '\u{2028}',
            '\u{2029}',
            '\u{e0041}',
        ] {
            assert_eq!(
                line(&c.to_string()),
                c.escape_unicode().to_string(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn a_text_block_keeps_its_lines_and_tabs() {
        assert_eq!(
            text_block("one\r\n\ttwo\rthree\u{202e}\n"),
            "one\n\ttwo\\rthree\\u{202e}\n"
        );
    }
}
