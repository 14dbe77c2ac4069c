//! Reading `Authentication-Results` (RFC 8601) and
//! `ARC-Authentication-Results` (RFC 8617) values: who wrote them (the
//! authserv-id) and what each method's result was.
//!
//! mail-auth writes these headers but does not read them, so this is a
//! small reader of its own. It follows the grammar where it matters for a
//! decision: comments `( ... )` (nested, with quoted pairs) and folding
//! anywhere between tokens, quoted strings for the authserv-id and for
//! property values, any case for keywords, an optional version after the
//! authserv-id and after a method (`dkim/1`). What it cannot read (a
//! result without `=`, junk between results) is skipped up to the next
//! `;`, never guessed at.

/// One result: `dkim=pass header.d=example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower case, without a version (`dkim`, `spf`, `dmarc`).
    pub method: String,
    /// Lower case (`pass`, `fail`, ...).
    pub result: String,
    /// `(ptype.property, value)`: the name lower case, the value as
    /// written (unquoted).
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    /// The value of the property `name` (`header.from`), if given.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A header value, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthResults {
    /// As written (unquoted); compare ignoring case.
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

impl AuthResults {
    /// The results recorded for `method` (lower case).
    pub fn of<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a MethodResult> {
        self.results.iter().filter(move |r| r.method == method)
    }
}

/// Reads an `Authentication-Results` value. `None` if it has no
/// authserv-id at all.
pub fn parse(value: &[u8]) -> Option<AuthResults> {
    let text = String::from_utf8_lossy(value);
    let mut cursor = Cursor::new(&text);
    payload(&mut cursor)
}

/// Reads an `ARC-Authentication-Results` value: `i=N;` then the same
/// payload as `Authentication-Results`.
pub fn parse_arc(value: &[u8]) -> Option<AuthResults> {
    let text = String::from_utf8_lossy(value);
    let mut cursor = Cursor::new(&text);
    cursor.skip_cfws();
    if !cursor.word().eq_ignore_ascii_case("i") {
        return None;
    }
    cursor.skip_cfws();
    if !cursor.eat('=') {
        return None;
    }
    cursor.skip_cfws();
    cursor.value();
    cursor.skip_cfws();
    if !cursor.eat(';') {
        return None;
    }
    payload(&mut cursor)
}

/// `authserv-id [version] *(";" resinfo)`.
fn payload(cursor: &mut Cursor<'_>) -> Option<AuthResults> {
    cursor.skip_cfws();
    let authserv_id = cursor.value();
    if authserv_id.is_empty() {
        return None;
    }
    let mut results = Vec::new();
    loop {
        cursor.skip_to_semicolon();
        if !cursor.eat(';') {
            break;
        }
        if let Some(result) = resinfo(cursor) {
            results.push(result);
        }
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// `method[/version] = result *(ptype.property = pvalue)`; `None` for
/// `none` or anything unreadable.
fn resinfo(cursor: &mut Cursor<'_>) -> Option<MethodResult> {
    cursor.skip_cfws();
    let method = cursor.word().to_ascii_lowercase();
    let method = method.split('/').next().unwrap_or("").trim().to_owned();
    cursor.skip_cfws();
    if method.is_empty() || !cursor.eat('=') {
        return None;
    }
    cursor.skip_cfws();
    let result = cursor.word().to_ascii_lowercase();
    let mut properties = Vec::new();
    loop {
        cursor.skip_cfws();
        let name = cursor.word().to_ascii_lowercase();
        cursor.skip_cfws();
        if name.is_empty() || !cursor.eat('=') {
            break;
        }
        cursor.skip_cfws();
        properties.push((name, cursor.value()));
    }
    Some(MethodResult {
        method,
        result,
        properties,
    })
}

struct Cursor<'a> {
    rest: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            rest: text.chars().peekable(),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.rest.next_if_eq(&c).is_some()
    }

    /// Folding white space and comments, which may nest.
    fn skip_cfws(&mut self) {
        while let Some(&c) = self.rest.peek() {
            if c.is_whitespace() {
                self.rest.next();
            } else if c == '(' {
                self.skip_comment();
            } else {
                break;
            }
        }
    }

    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.rest.next() {
            match c {
                '\\' => {
                    self.rest.next();
                }
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Skips whatever is left of the current result.
    fn skip_to_semicolon(&mut self) {
        loop {
            self.skip_cfws();
            match self.rest.peek() {
                None | Some(';') => return,
                Some('"') => {
                    self.quoted();
                }
                Some(_) => {
                    self.rest.next();
                }
            }
        }
    }

    /// A keyword or a `ptype.property` name: up to a separator.
    fn word(&mut self) -> String {
        self.run(|c| c.is_whitespace() || "=;()\"".contains(c))
    }

    /// A value: a quoted string, or up to white space, a comment or `;`
    /// (so a base64 `header.b=` value keeps its `=` padding).
    fn value(&mut self) -> String {
        if self.rest.peek() == Some(&'"') {
            return self.quoted();
        }
        self.run(|c| c.is_whitespace() || ";(".contains(c))
    }

    fn run(&mut self, ends: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.rest.next_if(|&c| !ends(c)) {
            out.push(c);
        }
        out
    }

    /// A quoted string, without its quotes and with quoted pairs undone.
    fn quoted(&mut self) -> String {
        self.rest.next();
        let mut out = String::new();
        while let Some(c) = self.rest.next() {
            match c {
                '"' => break,
                '\\' => out.extend(self.rest.next()),
                c => out.push(c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(value: &str) -> Option<String> {
        parse(value.as_bytes()).map(|r| r.authserv_id)
    }

    #[test]
    fn the_authserv_id_is_found_behind_comments_quotes_and_versions() {
        for (value, id) in [
            ("mx.example.com; spf=pass", "mx.example.com"),
            (" mx.example.com 1; none", "mx.example.com"),
            (
                "(forged by a friend) MX.Example.COM; dkim=pass",
                "MX.Example.COM",
            ),
            (
                "\r\n\t(a (nested) comment)\r\n mx.example.com;",
                "mx.example.com",
            ),
            ("\"mx.example.com\" 1; dmarc=pass", "mx.example.com"),
            (
                "mx.example.com(comment right after);spf=pass",
                "mx.example.com",
            ),
            ("mx.example.com", "mx.example.com"),
        ] {
            assert_eq!(ids(value).as_deref(), Some(id), "{value:?}");
        }
        assert_eq!(ids("  (only a comment)"), None);
        assert_eq!(ids(""), None);
    }

    #[test]
    fn results_are_read_with_their_properties() {
        let r = parse(
            b"mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 header.b=ab+/cd==;\r\n       \
              spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=a@example.com;\r\n       \
              dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com",
        )
        .unwrap();
        let methods: Vec<(&str, &str)> = r
            .results
            .iter()
            .map(|m| (m.method.as_str(), m.result.as_str()))
            .collect();
        assert_eq!(
            methods,
            [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
        );
        assert_eq!(r.results[0].property("header.b"), Some("ab+/cd=="));
        assert_eq!(r.results[0].property("header.i"), Some("@example.com"));
        assert_eq!(
            r.results[1].property("smtp.mailfrom"),
            Some("a@example.com")
        );
        assert_eq!(r.results[2].property("header.from"), Some("example.com"));
    }

    #[test]
    fn case_quoting_spacing_and_versions_do_not_matter() {
        let r = parse(
            b"mx.example.net; DKIM/1 = PASS (good) Header.D = \"Example.com\" ; none ; garbage here; Spf=Fail smtp.mailfrom=\"a b\"@x",
        )
        .unwrap();
        assert_eq!(r.results.len(), 2, "{r:?}");
        assert_eq!(r.results[0].method, "dkim");
        assert_eq!(r.results[0].result, "pass");
        assert_eq!(r.results[0].property("header.d"), Some("Example.com"));
        assert_eq!(r.results[1].method, "spf");
        assert_eq!(r.results[1].result, "fail");
    }

    #[test]
    fn a_semicolon_inside_a_comment_or_quotes_ends_nothing() {
        let r = parse(b"mx.example.net; dkim=fail (reason; with a semicolon) header.d=\"a;b\"; dmarc=pass header.from=example.com").unwrap();
        assert_eq!(r.results.len(), 2, "{r:?}");
        assert_eq!(r.results[0].property("header.d"), Some("a;b"));
        assert_eq!(r.results[1].method, "dmarc");
    }

    #[test]
    fn arc_results_start_with_the_instance() {
        let r =
            parse_arc(b"i=2; (sealed) mx.google.com; dmarc=fail header.from=example.com").unwrap();
        assert_eq!(r.authserv_id, "mx.google.com");
        assert_eq!(r.results[0].result, "fail");
        assert_eq!(parse_arc(b"mx.google.com; dmarc=pass"), None);
    }
}
