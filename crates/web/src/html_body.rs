//! A message's HTML body made inert (ammonia): no script, no event
//! handlers, no forms, no `javascript:` links, no images. It is then
//! served with its own Content-Security-Policy into a sandboxed frame, so
//! that whatever the sanitizer missed still cannot run or load anything.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The policy of a message's HTML: its inline styles, images only as
/// `data:`; nothing else, and framed only by our own page.
pub const BODY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(|element, attribute, value| {
            // Remote images are trackers: none is loaded. (Images the
            // message carries, cid: and data:, are not shown yet either.)
            if element == "img" && (attribute == "src" || attribute == "srcset") {
                None
            } else {
                Some(value.into())
            }
        });
    builder
});

/// `html` with everything active removed.
pub fn sanitize(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}
