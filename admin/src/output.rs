//! Printing results: a readable table by default, JSON with `--json`.

use serde::Serialize;

pub fn json(value: &impl Serialize) {
    // Serializing our own plain structs cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable value")
    );
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
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
        println!("{}", format!("{label:<width$}  {value}").trim_end());
    }
}

/// A stored time as the tables show it: `2026-11-27 10:02:11`, UTC.
pub fn time(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A text from outside (a message body) for the terminal: its lines kept,
/// every other control character escaped, so that mail cannot move the
/// cursor or clear the screen.
pub fn text_block(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split('\n')
        .map(|line| {
            line.chars()
                .map(|c| match c {
                    '\t' => "\t".to_owned(),
                    c if c.is_control() => c.escape_default().collect(),
                    c => c.to_string(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
