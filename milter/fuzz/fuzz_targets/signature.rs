//! The team signature checker: whatever an admin (or a web form) sends, a
//! clear answer; what it accepts renders without active content, as a
//! browser's tokenizer reads it.
#![no_main]

use html5gum::{Token, Tokenizer};
use libfuzzer_sys::fuzz_target;
use teaminbox_outbound::signature;

/// Elements that run code, load pages or style the reader's view.
const ACTIVE: &[&str] = &["script", "style", "iframe", "object", "embed", "form", "base", "meta", "link"];

fuzz_target!(|html: &str| {
    if signature::check(html).is_err() {
        return;
    }
    let (rendered, _text) = signature::render(html, "Jane <b>Doe</b>", "Jane\r\n");
    for token in Tokenizer::new(&rendered) {
        let Ok(Token::StartTag(tag)) = token else { continue };
        let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
        assert!(!ACTIVE.contains(&name.as_str()), "<{name}> in {rendered:?}");
        for (attribute, value) in &tag.attributes {
            let attribute = String::from_utf8_lossy(attribute).to_ascii_lowercase();
            assert!(!attribute.starts_with("on"), "{attribute} in {rendered:?}");
            assert_ne!(attribute, "style", "{rendered:?}");
            // Browsers drop blanks and controls from a URL's start.
            let url: String = String::from_utf8_lossy(value)
                .chars()
                .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
                .collect::<String>()
                .to_ascii_lowercase();
            for scheme in ["javascript:", "vbscript:", "data:"] {
                assert!(!url.starts_with(scheme), "{attribute}={url} in {rendered:?}");
            }
        }
    }
});
