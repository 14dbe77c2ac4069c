//! Channel signatures: the simple HTML a mail admin writes once per channel
//! and every reply from the channel ends with.
//!
//! A signature is text, links and images in a small set of tags, with two
//! tokens filled in per sender: `{{sender.full_name}}` and
//! `{{sender.first_name}}`. [`check`] refuses anything else with the line and
//! column of the first problem, so the admin can fix the file; [`render`]
//! fills the tokens in and produces the HTML and the plain-text forms the
//! reply composer puts into the message.
//!
//! The HTML is read with html5gum, a WHATWG-compliant tokenizer (the same
//! tokenization a browser or a mail client does, character references
//! included), so `java&#115;cript:` is seen as `javascript:`. [`render`] does
//! not trust its input to have been checked: it writes the HTML out again
//! from the tokens, keeping only allowed tags and attributes, every
//! attribute quoted and every text and value escaped.
//!
//! Allowed tags (and their attributes): `a` (href: https, http, mailto or
//! tel; title), `img` (src: https or http; alt, width, height, border,
//! title), `p` and `div` (align), `span`, `br`, `hr`, `b`, `strong`, `i`,
//! `em`, `u`, `s`, `small`, `font` (color, face, size), `table` (border,
//! cellpadding, cellspacing, width, align), `tbody`, `tr`, `td` (width,
//! align, valign, colspan, rowspan), `ul`, `ol`, `li`. No `style` (tag or
//! attribute), no scripts, event handlers, forms, frames or comments.

mod check;
mod render;
#[cfg(test)]
mod tests;

pub use check::check;
pub use render::{escape_text, render};

/// The tokens a signature may use, as written between `{{` and `}}`.
pub const TOKENS: [&str; 2] = ["sender.full_name", "sender.first_name"];

/// The largest signature accepted, in bytes.
pub const MAX_LEN: usize = 64 * 1024;

/// The first problem of a signature: where it is (line and column, both
/// from 1; the column counts characters) and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SignatureError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// An allowed tag: its name, its attributes, and whether it is void (has
/// no end tag) or a block for the plain-text form.
struct TagRule {
    name: &'static str,
    attributes: &'static [&'static str],
    void: bool,
    block: bool,
}

const fn tag(name: &'static str, attributes: &'static [&'static str]) -> TagRule {
    TagRule {
        name,
        attributes,
        void: false,
        block: false,
    }
}

const fn block(name: &'static str, attributes: &'static [&'static str]) -> TagRule {
    TagRule {
        name,
        attributes,
        void: false,
        block: true,
    }
}

const fn void(name: &'static str, attributes: &'static [&'static str]) -> TagRule {
    TagRule {
        name,
        attributes,
        void: true,
        block: false,
    }
}

const TAGS: &[TagRule] = &[
    tag("a", &["href", "title"]),
    tag("b", &[]),
    block("div", &["align"]),
    tag("em", &[]),
    tag("font", &["color", "face", "size"]),
    tag("i", &[]),
    void("br", &[]),
    void("hr", &[]),
    void("img", &["alt", "border", "height", "src", "title", "width"]),
    block("li", &[]),
    block("ol", &[]),
    block("p", &["align"]),
    tag("s", &[]),
    tag("small", &[]),
    tag("span", &[]),
    tag("strong", &[]),
    block(
        "table",
        &["align", "border", "cellpadding", "cellspacing", "width"],
    ),
    block("tbody", &[]),
    tag("td", &["align", "colspan", "rowspan", "valign", "width"]),
    block("tr", &[]),
    tag("u", &[]),
    block("ul", &[]),
];

/// Tags that run code, load other content or take input: refused with a
/// plain "remove it".
const ACTIVE_TAGS: &[&str] = &[
    "applet", "audio", "base", "button", "embed", "form", "frame", "frameset", "iframe", "input",
    "link", "meta", "noscript", "object", "script", "select", "svg", "math", "template",
    "textarea", "video",
];

const LINK_SCHEMES: &[&str] = &["https", "http", "mailto", "tel"];
const IMAGE_SCHEMES: &[&str] = &["https", "http"];

fn rule(name: &str) -> Option<&'static TagRule> {
    TAGS.iter().find(|t| t.name == name)
}

fn allowed_tags() -> String {
    let mut names: Vec<&str> = TAGS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    names.join(", ")
}

fn tokens_list() -> String {
    format!("{{{{{}}}}} and {{{{{}}}}}", TOKENS[0], TOKENS[1])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A URL as a browser reads an attribute value: without surrounding blanks
/// and control characters, and without tabs and line breaks inside.
fn clean_url(value: &str) -> String {
    value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The scheme of an absolute URL, lower case.
fn scheme(url: &str) -> Option<String> {
    let end = url.find(':')?;
    let scheme = &url[..end];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .then(|| scheme.to_ascii_lowercase())
}

/// Why an attribute is refused, if it is.
fn refused_attribute(rule: &TagRule, attribute: &str, value: &str) -> Option<String> {
    let tag = rule.name;
    let shown = teaminbox_store::address::printable(attribute);
    if attribute.starts_with("on") {
        return Some(format!(
            "the event handler attribute {shown} on <{tag}> runs code and is not allowed; remove it"
        ));
    }
    if attribute == "style" {
        return Some(format!(
            "the style attribute on <{tag}> is not allowed; use <b>, <i>, <u> or \
             <font color=\"...\" face=\"...\" size=\"...\"> instead"
        ));
    }
    if !rule.attributes.contains(&attribute) {
        return Some(if rule.attributes.is_empty() {
            format!("the attribute {shown} on <{tag}> is not allowed; <{tag}> takes no attributes")
        } else {
            format!(
                "the attribute {shown} on <{tag}> is not allowed; <{tag}> may have {}",
                rule.attributes.join(", ")
            )
        });
    }
    let schemes = match attribute {
        "href" => LINK_SCHEMES,
        "src" => IMAGE_SCHEMES,
        _ => return None,
    };
    let url = clean_url(value);
    let what = if attribute == "href" {
        "the link"
    } else {
        "the image address"
    };
    let expected = if attribute == "href" {
        "write an https:, http:, mailto: or tel: address"
    } else {
        "use an https: (or http:) address of the image; mail clients do not show data:, cid: or relative images"
    };
    if url.contains("{{") {
        return Some(format!(
            "{what} on <{tag}> contains a token; a {{{{...}}}} token cannot be part of a link or image address"
        ));
    }
    match scheme(&url) {
        Some(scheme) if schemes.contains(&scheme.as_str()) => None,
        Some(scheme) if matches!(scheme.as_str(), "javascript" | "vbscript" | "data") => {
            Some(format!(
                "{what} {}: on <{tag}> can run code and is not allowed; {expected}",
                teaminbox_store::address::printable(&scheme)
            ))
        }
        Some(scheme) => Some(format!(
            "{what} {}: on <{tag}> is not allowed; {expected}",
            teaminbox_store::address::printable(&scheme)
        )),
        None => Some(format!(
            "{what} `{}` on <{tag}> is not an absolute address; {expected}",
            teaminbox_store::address::printable(&url)
        )),
    }
}
