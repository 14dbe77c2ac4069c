//! The checker and the renderer, on the signatures admins write and the ones attackers do.

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
