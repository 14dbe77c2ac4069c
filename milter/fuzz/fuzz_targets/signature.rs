//! The team signature checker: whatever an admin (or a web form) sends, a
//! clear answer; what it accepts renders without active content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teaminbox_milter::signature;

fuzz_target!(|html: &str| {
    if signature::check(html).is_ok() {
        let (rendered, text) = signature::render(html, "Jane <b>Doe</b>", "Jane\r\n");
        let lower = rendered.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{rendered}");
        assert!(!lower.contains("javascript:"), "{rendered}");
        let _ = text;
    }
});
