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

use crate::html_text::{tokenizer, PlainText, SKIPPED_WITH_CONTENT};
use html5gum::{Error as ParseError, Span, Token};
use std::fmt::Write as _;

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

/// Checks a signature. `Ok` means [`render`] keeps it as written (tokens
/// aside); otherwise the error names the first problem with its line and
/// column and says what to do.
pub fn check(html: &str) -> Result<(), SignatureError> {
    let mut problems = Problems::default();
    if html.len() > MAX_LEN {
        problems.add(
            0,
            format!(
                "the signature is {} bytes; the limit is {MAX_LEN} bytes",
                html.len()
            ),
        );
    }
    if let Some((at, c)) = html
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        problems.add(
            at,
            format!(
                "the control character U+{:04X} is not allowed in a signature; remove it",
                u32::from(c)
            ),
        );
    }
    for token in tokenizer(html) {
        let Ok(token) = token;
        match token {
            Token::StartTag(start) => {
                let name = text(&start.name);
                let at = start.span.start;
                let Some(rule) = rule(&name) else {
                    problems.add(at, refused_tag(&name));
                    continue;
                };
                for (attribute, value) in &start.attributes {
                    let attribute = text(attribute);
                    let value_text = text(&value.value);
                    let at = value.span.start;
                    if let Some(message) = refused_attribute(rule, &attribute, &value_text) {
                        problems.add(at, message);
                    } else {
                        check_tokens(html, value.span, &value_text, &mut problems);
                    }
                }
            }
            Token::EndTag(end) => {
                let name = text(&end.name);
                if rule(&name).is_none() {
                    problems.add(end.span.start, refused_tag(&name));
                }
            }
            Token::String(string) => {
                check_tokens(html, string.span, &text(&string.value), &mut problems);
            }
            Token::Comment(comment) => problems.add(
                comment.span.start,
                "HTML comments are not allowed in a signature (Outlook acts on conditional \
                 comments); remove the <!-- ... -->"
                    .into(),
            ),
            Token::Doctype(doctype) => problems.add(
                doctype.span.start,
                "<!DOCTYPE> is not allowed: write only the signature, not a whole HTML document"
                    .into(),
            ),
            Token::Error(error) => problems.add(error.span.start, parse_error(error.value)),
        }
    }
    match problems.first {
        None => Ok(()),
        Some((at, message)) => {
            let (line, column) = line_column(html, at);
            Err(SignatureError {
                line,
                column,
                message,
            })
        }
    }
}

/// The problem found earliest in the source.
#[derive(Default)]
struct Problems {
    first: Option<(usize, String)>,
}

impl Problems {
    fn add(&mut self, at: usize, message: String) {
        if self.first.as_ref().is_none_or(|(first, _)| at < *first) {
            self.first = Some((at, message));
        }
    }
}

fn refused_tag(name: &str) -> String {
    let shown = crate::address::printable(name);
    if name == "style" {
        "<style> is not allowed in a signature (mail clients drop or misapply style sheets); \
         remove it and use <b>, <i>, <u> or <font color=\"...\"> instead"
            .to_owned()
    } else if ACTIVE_TAGS.contains(&name) {
        format!(
            "<{shown}> is not allowed in a signature: it can run code, load content or take input; remove it"
        )
    } else if matches!(name, "html" | "body") {
        format!(
            "<{shown}> is not allowed: write only the signature, not a whole HTML document; remove it"
        )
    } else {
        format!(
            "<{shown}> is not allowed in a signature; use only {}",
            allowed_tags()
        )
    }
}

/// Why an attribute is refused, if it is.
fn refused_attribute(rule: &TagRule, attribute: &str, value: &str) -> Option<String> {
    let tag = rule.name;
    let shown = crate::address::printable(attribute);
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
                crate::address::printable(&scheme)
            ))
        }
        Some(scheme) => Some(format!(
            "{what} {}: on <{tag}> is not allowed; {expected}",
            crate::address::printable(&scheme)
        )),
        None => Some(format!(
            "{what} `{}` on <{tag}> is not an absolute address; {expected}",
            crate::address::printable(&url)
        )),
    }
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

fn parse_error(error: ParseError) -> String {
    match error {
        ParseError::MissingSemicolonAfterCharacterReference => {
            "a character reference lacks its `;`: write for example &copy; or &amp; (a lone & as &amp;)"
                .into()
        }
        ParseError::EofInTag => "a tag is not closed with `>` before the end of the file".into(),
        ParseError::DuplicateAttribute => {
            "an attribute appears twice in one tag; keep one of them".into()
        }
        ParseError::EofInComment => "an HTML comment is never closed; remove it".into(),
        other => format!("the HTML is malformed here ({other}); fix the markup"),
    }
}

/// Checks the tokens in one piece of text (a text node or an attribute
/// value, character references already decoded) that spans `span` of the
/// source.
fn check_tokens(html: &str, span: Span<usize>, decoded: &str, problems: &mut Problems) {
    let raw = html.get(span.start..span.end).unwrap_or("");
    let mut rest = decoded;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        let start = offset + open;
        // Where the token is in the source: exact when the text holds no
        // character references, otherwise the first `{{` of the raw text or
        // the start of the text.
        let at = if raw == decoded {
            span.start + start
        } else {
            span.start + raw.find("{{").unwrap_or(0)
        };
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            problems.add(
                at,
                format!(
                    "`{{{{` starts a token that is never closed with `}}}}`; the tokens are {}",
                    tokens_list()
                ),
            );
            return;
        };
        let name = after[..close].trim();
        if !TOKENS.contains(&name) {
            problems.add(
                at,
                format!(
                    "unknown token {{{{{}}}}}; the tokens are {}",
                    crate::address::printable(&after[..close]),
                    tokens_list()
                ),
            );
        }
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
}

/// Line and column (both from 1, the column in characters) of a byte
/// offset.
fn line_column(html: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(html.len());
    while !html.is_char_boundary(at) {
        at -= 1;
    }
    let before = &html[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

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
                    "a" => link = href.map(|h| (h, plain.len())),
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

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "<p>Best regards,<br>\n<b>{{sender.full_name}}</b> | Acme</p>\n\
        <p><a href=\"https://acme.example\">acme.example</a> &middot; \
        <a href=\"mailto:help@acme.example\">help@acme.example</a></p>\n\
        <img src=\"https://acme.example/logo.png\" alt=\"Acme\" width=\"120\" height=\"40\">";

    fn refused(html: &str) -> SignatureError {
        check(html).expect_err(html)
    }

    #[test]
    fn a_simple_signature_passes_and_renders() {
        check(SAMPLE).unwrap();
        let (html, text) = render(SAMPLE, "Jane Doe", "Jane");
        assert_eq!(
            html,
            "<p>Best regards,<br>\n<b>Jane Doe</b> | Acme</p>\n\
             <p><a href=\"https://acme.example\">acme.example</a> \u{b7} \
             <a href=\"mailto:help@acme.example\">help@acme.example</a></p>\n\
             <img alt=\"Acme\" height=\"40\" src=\"https://acme.example/logo.png\" width=\"120\">"
        );
        assert_eq!(
            text,
            "Best regards,\nJane Doe | Acme\nacme.example <https://acme.example> \u{b7} help@acme.example\nAcme"
        );
        // Rendering checked HTML again changes nothing.
        check(&html).unwrap();
        assert_eq!(render(&html, "Jane Doe", "Jane").0, html);
    }

    #[test]
    fn tokens_are_filled_in_and_escaped() {
        let html = "<p>Hi, I am {{sender.first_name}} ({{sender.full_name}}) \
                    <a href=\"https://x.example\" title=\"{{ sender.first_name }}\">me</a></p>";
        check(html).unwrap();
        let (out, text) = render(html, "<script>alert(1)</script> & \"Co\"", "Eve\r\nBcc: x");
        assert_eq!(
            out,
            "<p>Hi, I am Eve Bcc: x (&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"Co\") \
             <a href=\"https://x.example\" title=\"Eve Bcc: x\">me</a></p>"
        );
        assert_eq!(
            text,
            "Hi, I am Eve Bcc: x (<script>alert(1)</script> & \"Co\") me <https://x.example>"
        );
        let (out, _) = render(
            "<img alt=\"{{sender.full_name}}\" src=\"https://x.example/a.png\">",
            "\" onerror=\"alert(1)",
            "",
        );
        assert_eq!(
            out,
            "<img alt=\"&quot; onerror=&quot;alert(1)\" src=\"https://x.example/a.png\">"
        );
    }

    #[test]
    fn unsafe_html_is_refused_with_its_position() {
        let e = refused("<p>Jane</p>\n  <script>alert(1)</script>");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(e.message.starts_with("<script> is not allowed"), "{e}");
        assert!(e.message.contains("remove it"), "{e}");

        let e = refused("<p>\n<a href=\"https://x.example\" onclick=\"steal()\">x</a></p>");
        assert_eq!((e.line, e.column), (2, 29));
        assert!(
            e.message.contains("event handler attribute onclick on <a>"),
            "{e}"
        );

        let e = refused("<a href=\"javascript:alert(1)\">x</a>");
        assert_eq!((e.line, e.column), (1, 4));
        assert!(
            e.message
                .contains("the link javascript: on <a> can run code"),
            "{e}"
        );
        // Encoded or padded, it is still javascript:.
        for sneaky in [
            "<a href=\"java&#115;cript:alert(1)\">x</a>",
            "<a href=\" JaVa\tScRiPt:alert(1)\">x</a>",
            "<a href='&#x6A;avascript:alert(1)'>x</a>",
        ] {
            assert!(refused(sneaky).message.contains("javascript:"), "{sneaky}");
        }
        let e = refused("<img src=\"data:image/png;base64,AAAA\">");
        assert!(e.message.contains("data:"), "{e}");
        let e = refused("<p>a</p><style>p{}</style>");
        assert_eq!((e.line, e.column), (1, 9));
        assert!(e.message.contains("<font color"), "{e}");
        let e = refused("<p style=\"color:red\">a</p>");
        assert!(e.message.starts_with("the style attribute on <p>"), "{e}");
        for active in [
            "<iframe src=x>",
            "<object>",
            "<form>",
            "<svg onload=x>",
            "<SCRIPT>",
        ] {
            assert!(refused(active).message.contains("not allowed"), "{active}");
        }
        let e = refused("<h1>Jane</h1>");
        assert!(e.message.contains("use only a, b, br"), "{e}");
        let e = refused("<p>a<!--[if mso]>x<![endif]--></p>");
        assert_eq!((e.line, e.column), (1, 5));
        assert!(e.message.contains("comments"), "{e}");
        let e = refused("<a href=\"/relative\">x</a>");
        assert!(e.message.contains("not an absolute address"), "{e}");
        let e = refused("<a href=\"https://x.example/{{sender.first_name}}\">x</a>");
        assert!(e.message.contains("cannot be part of a link"), "{e}");
        let e = refused("\u{1b}[2J<p>x</p>");
        assert!(e.message.contains("U+001B"), "{e}");
    }

    #[test]
    fn unknown_and_broken_tokens_are_refused() {
        let e = refused("<p>Jane</p>\n<p>Write to {{sender.email}}</p>");
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(
            e.message,
            "unknown token {{sender.email}}; the tokens are {{sender.full_name}} and {{sender.first_name}}"
        );
        assert_eq!(e.to_string(), format!("line 2, column 13: {}", e.message));
        let e = refused("Hi {{sender.first_name");
        assert_eq!((e.line, e.column), (1, 4));
        assert!(e.message.contains("never closed"), "{e}");
        // Column counts characters, not bytes.
        let e = refused("Grüße {{x}}");
        assert_eq!((e.line, e.column), (1, 7));
        let e = refused("<img alt=\"{{sender.phone}}\" src=\"https://x.example/a.png\">");
        assert!(e.message.contains("{{sender.phone}}"), "{e}");
    }

    #[test]
    fn malformed_html_is_refused() {
        let e = refused("&copy 2026 Acme");
        assert!(e.message.contains("&copy;"), "{e}");
        let e = refused("<p>Jane</p><a href=\"https://x.example\"");
        assert!(e.message.contains("not closed"), "{e}");
        let e = refused("<a href=\"https://a.example\" href=\"javascript:x\">x</a>");
        assert!(e.message.contains("twice"), "{e}");
        assert!(check(&"x".repeat(MAX_LEN + 1))
            .unwrap_err()
            .message
            .contains("limit"));
    }

    #[test]
    fn render_cleans_what_check_would_refuse() {
        let (html, text) = render(
            "<div onclick=\"x()\" style=\"a\">A<script>var a = '<b>';</script>\
             <a href=\"javascript:x\">B</a><iframe src=x>C</iframe><!-- D --><table><tr><td>E<td>F</table></div></p></div>",
            "Jane Doe",
            "Jane",
        );
        assert_eq!(
            html,
            "<div>A<a>B</a><table><tr><td>E</td><td>F</td></tr></table></div>"
        );
        assert_eq!(text, "AB\nE F");
        // Unclosed elements are closed; stray end tags dropped.
        assert_eq!(render("</b><p><b>x", "", "").0, "<p><b>x</b></p>");
        // A new item, cell or paragraph ends the open one.
        assert_eq!(
            render("<ul><li>a<li>b</ul><p>c<p>d", "", "").0,
            "<ul><li>a</li><li>b</li></ul><p>c</p><p>d</p>"
        );
    }

    #[test]
    fn plain_text_follows_blocks_lists_and_links() {
        let (_, text) = render(
            "<div>Jane   Doe</div><div>Support</div><ul><li>One</li><li>Two</li></ul>\
             <p><a href=\"tel:+15550100\">+15550100</a> <a href=\"https://a.example\"><img src=\"https://a.example/l.png\" alt=\"Logo\"></a></p><hr><p>x</p>",
            "",
            "",
        );
        assert_eq!(
            text,
            "Jane Doe\nSupport\n- One\n- Two\n+15550100 Logo <https://a.example>\nx"
        );
    }
}
