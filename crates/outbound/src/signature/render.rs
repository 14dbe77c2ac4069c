//! Rendering: the tokens filled in, the HTML written out again from allowed
//! tags only, and the plain-text form.

use super::*;
use html5gum::Token;
use std::fmt::Write as _;
use teaminbox_store::html_text::{tokenizer, PlainText, SKIPPED_WITH_CONTENT};

/// Fills in the tokens and returns the signature as HTML and as plain text.
///
/// The HTML is written out again from the tokens: only allowed tags and
/// attributes (links and images with allowed schemes), every attribute
/// quoted and escaped, every text escaped, elements closed in order, no
/// comments. The inserted names are escaped like any text, with control
/// characters turned into spaces. An unknown token is left as written (a
/// checked signature has none).
pub fn render(html: &str, full_name: &str, first_name: &str) -> (String, String) {
    let values = [one_line(full_name), one_line(first_name)];
    let mut out = String::new();
    let mut plain = PlainText::default();
    let mut open: Vec<&'static TagRule> = Vec::new();
    let mut skipping: Option<String> = None;
    // The target of the link being written, for the plain text.
    let mut link: Option<(String, usize)> = None;
    for token in tokenizer(html) {
        let Ok(token) = token;
        if let Some(until) = &skipping {
            match &token {
                Token::EndTag(end) if text(&end.name) == *until => skipping = None,
                _ => {}
            }
            continue;
        }
        match token {
            Token::StartTag(start) => {
                let name = text(&start.name);
                let Some(rule) = rule(&name) else {
                    if SKIPPED_WITH_CONTENT.contains(&name.as_str()) || name == "plaintext" {
                        skipping = Some(name);
                    }
                    continue;
                };
                // A new cell, row, item or paragraph ends the open one, as
                // in a browser.
                if let Some(depth) = implied_end(&open, rule.name) {
                    for rule in open.drain(depth..).rev() {
                        let _ = write!(out, "</{}>", rule.name);
                        close_plain(rule, &mut plain, &mut link);
                    }
                }
                out.push('<');
                out.push_str(rule.name);
                let mut href = None;
                let mut alt = None;
                for (attribute, value) in &start.attributes {
                    let attribute = text(attribute);
                    let value = text(&value.value);
                    if refused_attribute(rule, &attribute, &value).is_some() {
                        continue;
                    }
                    let value = match attribute.as_str() {
                        "href" | "src" => clean_url(&value),
                        _ => fill(&value, &values),
                    };
                    match attribute.as_str() {
                        "href" => href = Some(value.clone()),
                        "alt" => alt = Some(value.clone()),
                        _ => {}
                    }
                    let _ = write!(out, " {attribute}=\"{}\"", escape(&value, true));
                }
                out.push('>');
                match rule.name {
                    "br" => plain.line_break(),
                    "hr" => plain.block(),
                    "img" => plain.text(alt.as_deref().unwrap_or("")),
                    "li" => {
                        plain.block();
                        plain.text("- ");
                    }
                    "td" => plain.cell(),
                    "a" => link = href.map(|h| (h, plain.position())),
                    _ if rule.block => plain.block(),
                    _ => {}
                }
                if !rule.void {
                    open.push(rule);
                }
            }
            Token::EndTag(end) => {
                let name = text(&end.name);
                // Close it and what was left open inside it; an end tag
                // with nothing to close is dropped.
                let Some(depth) = open.iter().rposition(|r| r.name == name) else {
                    continue;
                };
                for rule in open.drain(depth..).rev() {
                    let _ = write!(out, "</{}>", rule.name);
                    close_plain(rule, &mut plain, &mut link);
                }
            }
            Token::String(string) => {
                let filled = fill(&text(&string.value), &values);
                out.push_str(&escape(&filled, false));
                plain.text(&filled);
            }
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }
    for rule in open.drain(..).rev() {
        let _ = write!(out, "</{}>", rule.name);
        close_plain(rule, &mut plain, &mut link);
    }
    (out, plain.finish())
}

/// Where the element that opening `name` ends is on the stack of open
/// elements, if there is one: an open `td`, `tr`, `li` or `p` not inside
/// another table, list or block since.
fn implied_end(open: &[&TagRule], name: &str) -> Option<usize> {
    let boundaries: &[&str] = match name {
        "td" => &["tr", "table"],
        "tr" => &["table", "tbody"],
        "li" => &["ul", "ol"],
        "p" => &["div", "td", "li", "table", "ul", "ol"],
        _ => return None,
    };
    for (depth, rule) in open.iter().enumerate().rev() {
        if rule.name == name {
            return Some(depth);
        }
        if boundaries.contains(&rule.name) {
            return None;
        }
    }
    None
}

fn close_plain(rule: &TagRule, plain: &mut PlainText, link: &mut Option<(String, usize)>) {
    match rule.name {
        "a" => {
            if let Some((href, from)) = link.take() {
                let label = plain.since(from).trim().to_owned();
                let target = href.strip_prefix("mailto:").unwrap_or(&href);
                let target = target.strip_prefix("tel:").unwrap_or(target);
                if !target.is_empty() && label != target {
                    plain.text(&format!(" <{target}>"));
                }
            }
        }
        _ if rule.block => plain.block(),
        _ => {}
    }
}

/// A name for the text: control characters (line breaks included) become
/// spaces, runs of blanks one space.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` with every known token replaced by its value.
fn fill(text: &str, values: &[String; 2]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        match TOKENS.iter().position(|t| *t == after[..close].trim()) {
            Some(i) => out.push_str(&values[i]),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Text made safe to put in HTML (the reply composer uses it for plain
/// bodies).
pub fn escape_text(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
