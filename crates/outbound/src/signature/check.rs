//! The checker: the first problem of a signature, with its line and column.

use super::*;
use html5gum::{Error as ParseError, Span, Token};
use teaminbox_store::html_text::tokenizer;

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
    let shown = teaminbox_store::address::printable(name);
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
                    teaminbox_store::address::printable(&after[..close]),
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
