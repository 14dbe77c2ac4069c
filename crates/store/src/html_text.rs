//! HTML as plain text: a message's HTML body for the inbox and for reading
//! forwarded headers out of it, and a signature's plain-text form.
//!
//! The HTML is read with html5gum, a WHATWG-compliant tokenizer, so
//! character references, comments (Outlook's conditional ones included) and
//! the raw text of `script` and `style` are read as a browser reads them.
//! Blocks (`div`, `p`, table rows, list items, headings...) and `<br>` end
//! a line, as they do on screen: an Outlook forward's
//! `<b>Subject:</b> Delivery damaged</font><div>The parcel...` is two lines,
//! not one.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Elements whose content a browser does not read as markup (or that are
/// dropped with their content): their content is skipped up to their end
/// tag.
pub const SKIPPED_WITH_CONTENT: &[&str] = &[
    "head", "iframe", "math", "noembed", "noframes", "noscript", "object", "script", "style",
    "svg", "template", "textarea", "title", "xmp",
];

/// Elements that a browser shows on lines of their own.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "legend",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "tr",
    "ul",
];

/// The tokenizer as a browser would run it: script, style, title and the
/// like hold text, not markup. Tokens carry their byte offsets (for the
/// signature checker's line and column).
pub fn tokenizer(html: &str) -> Tokenizer<html5gum::StringReader<'_>, DefaultEmitter<usize>> {
    let mut emitter = DefaultEmitter::<usize>::new_with_span();
    emitter.naively_switch_states(true);
    Tokenizer::new_with_emitter(html, emitter)
}

/// A message's HTML as text: blocks and `<br>` start new lines, table cells
/// are separated by spaces, at most one empty line in a row (an Outlook
/// paragraph of `&nbsp;` is one), blanks collapse as in HTML except in
/// `<pre>`, where the lines are kept. Never fails, whatever the input.
pub fn html_to_text(html: &str) -> String {
    let mut plain = PlainText::default();
    let mut skipping: Option<String> = None;
    let mut pre = 0usize;
    for token in tokenizer(html) {
        let Ok(token) = token;
        match token {
            Token::StartTag(start) => {
                let name = String::from_utf8_lossy(&start.name).into_owned();
                if let Some(until) = &skipping {
                    // A head left open ends where the body starts.
                    if until == "head" && name == "body" {
                        skipping = None;
                    }
                    continue;
                }
                match name.as_str() {
                    "br" => plain.line_break(),
                    "td" | "th" => plain.cell(),
                    "pre" => {
                        plain.block();
                        pre += usize::from(!start.self_closing);
                    }
                    name if BLOCKS.contains(&name) => plain.block(),
                    name if SKIPPED_WITH_CONTENT.contains(&name) && !start.self_closing => {
                        skipping = Some(name.to_owned());
                    }
                    _ => {}
                }
            }
            Token::EndTag(end) => {
                let name = String::from_utf8_lossy(&end.name);
                if let Some(until) = &skipping {
                    if *until == name {
                        skipping = None;
                    }
                    continue;
                }
                if name == "pre" {
                    pre = pre.saturating_sub(1);
                }
                if BLOCKS.contains(&&*name) {
                    plain.block();
                }
            }
            Token::String(string) if skipping.is_none() => {
                let text = String::from_utf8_lossy(&string.value);
                if pre > 0 {
                    for (i, line) in text.split('\n').enumerate() {
                        if i > 0 {
                            plain.line_break();
                        }
                        plain.text(line);
                    }
                } else {
                    plain.text(&text);
                }
            }
            _ => {}
        }
    }
    plain.finish()
}

/// The plain-text form being written: blanks collapse as in HTML, blocks
/// and `<br>` start new lines, table cells are separated by spaces. A
/// no-break space is kept (it is content: a paragraph of one is an empty
/// line) and becomes a plain space at the end.
#[derive(Default)]
pub struct PlainText {
    out: String,
}

impl PlainText {
    /// Where the text written so far ends (a byte offset for [`since`]).
    ///
    /// [`since`]: PlainText::since
    pub fn position(&self) -> usize {
        self.out.len()
    }

    /// What was written after `from`, a [`position`](PlainText::position).
    pub fn since(&self, from: usize) -> &str {
        self.out.get(from..).unwrap_or("")
    }

    pub fn text(&mut self, text: &str) {
        for c in text.chars() {
            if c == '\u{a0}' {
                self.out.push(c);
            } else if c.is_whitespace() {
                if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
                    self.out.push(' ');
                }
            } else if !c.is_control() {
                self.out.push(c);
            }
        }
    }

    pub fn line_break(&mut self) {
        self.trim_blank();
        self.out.push('\n');
    }

    pub fn block(&mut self) {
        self.trim_blank();
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    pub fn cell(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
            self.out.push(' ');
        }
    }

    fn trim_blank(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
    }

    pub fn finish(self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for line in self.out.lines().map(str::trim) {
            // At most one empty line in a row.
            if line.is_empty() && lines.last().is_none_or(String::is_empty) {
                continue;
            }
            lines.push(line.replace('\u{a0}', " "));
        }
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_lines_where_the_screen_does() {
        assert_eq!(
            html_to_text(
                "<div id=\"divRplyFwdMsg\"><font><b>Subject:</b> Delivery damaged</font>\
                 <div>&nbsp;</div></div><div>The parcel arrived crushed.</div>"
            ),
            "Subject: Delivery damaged\n\nThe parcel arrived crushed."
        );
        assert_eq!(
            html_to_text("<p class=MsoNormal>One<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p>Two</p>"),
            "One\n\nTwo"
        );
        assert_eq!(
            html_to_text("<div>a<br></div><div><br></div><div>b&nbsp;&nbsp;c</div>"),
            "a\n\nb  c"
        );
        assert_eq!(
            html_to_text(
                "<table><tr><td>Name</td><td>Qty</td></tr><tr><td>Mug</td><td>3</td></tr></table>"
            ),
            "Name Qty\nMug 3"
        );
        assert_eq!(html_to_text("<pre>a  b\nc</pre>d"), "a b\nc\nd");
    }

    #[test]
    fn what_a_browser_does_not_show_is_left_out() {
        assert_eq!(
            html_to_text(
                "<html><head><title>T</title><style>p{color:red}</style></head>\
                 <body><!--[if gte mso 9]><xml><o:OfficeDocumentSettings/></xml><![endif]-->\
                 <script>alert('<p>x</p>')</script><p>Hello &amp; caf&eacute;</p></body></html>"
            ),
            "Hello & café"
        );
        // A head left open ends at the body.
        assert_eq!(html_to_text("<head><meta charset=utf-8><body>Hi"), "Hi");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("a\u{1}b <"), "ab <");
    }
}
