//! A message's HTML body made inert (ammonia): no script, no event
//! handlers, no forms, no `javascript:` links. Images the message carries
//! (`cid:`) are shown from our own address; remote images, which are
//! trackers, only when the agent asks for them. The result is then served
//! with its own Content-Security-Policy into a sandboxed frame, so that
//! whatever the sanitizer missed still cannot run or load anything.

use std::collections::HashSet;

/// Which images a sanitized body keeps.
#[derive(Clone, Copy, Debug)]
pub enum Images {
    /// None (a signature preview).
    None,
    /// The message's own (`cid:`), from `/messages/{id}/inline/`.
    Inline { message_id: i64 },
    /// Its own, and remote ones (http, https): the agent asked.
    Remote { message_id: i64 },
}

impl Images {
    /// The policy of a message's HTML: its inline styles, images as
    /// allowed; nothing else, and framed only by our own page.
    pub fn policy(self) -> &'static str {
        match self {
            Self::None | Self::Inline { .. } => {
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
            }
            Self::Remote { .. } => {
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https: http:; frame-ancestors 'self'"
            }
        }
    }

    /// What an image's `src` becomes: `None` drops it.
    fn source(self, src: &str) -> Option<String> {
        let remote = src.starts_with("https://") || src.starts_with("http://");
        match (self, src.strip_prefix("cid:")) {
            (Self::Inline { message_id } | Self::Remote { message_id }, Some(cid)) => {
                let cid: String = form_urlencoded::byte_serialize(cid.as_bytes()).collect();
                Some(format!("/messages/{message_id}/inline/{cid}"))
            }
            (Self::Remote { .. }, None) if remote => Some(src.to_owned()),
            _ => None,
        }
    }
}

/// `html` with everything active removed, and images as `images` says.
pub fn sanitize(html: &str, images: Images) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        // cid: passes the scheme check only to be rewritten (or dropped)
        // by the filter below.
        .url_schemes(HashSet::from(["http", "https", "mailto", "cid"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(move |element, attribute, value| {
            match (element, attribute) {
                ("img", "src") => images.source(value).map(Into::into),
                // A srcset would pick its own, unchecked, sources.
                ("img", "srcset") => None,
                _ if value.trim_start().starts_with("cid:") => None,
                _ => Some(value.into()),
            }
        });
    builder.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "<p>Hi<img src=\"cid:logo@x\"><img src=\"https://t.example/p.gif\">\
        <img src=\"javascript:alert(1)\"><a href=\"cid:logo@x\">l</a></p>";

    #[test]
    fn inline_images_come_from_here_and_remote_ones_when_asked() {
        let inline = sanitize(BODY, Images::Inline { message_id: 7 });
        assert_eq!(
            inline,
            "<p>Hi<img src=\"/messages/7/inline/logo%40x\"><img><img><a rel=\"noopener noreferrer nofollow\">l</a></p>"
        );
        let remote = sanitize(BODY, Images::Remote { message_id: 7 });
        assert!(
            remote.contains("<img src=\"https://t.example/p.gif\">"),
            "{remote}"
        );
        assert!(!remote.contains("javascript"), "{remote}");
        let none = sanitize(BODY, Images::None);
        assert!(!none.contains("src="), "{none}");
    }
}
