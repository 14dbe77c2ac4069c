//! The processor's reading of a stored message: any bytes, never a panic,
//! and the limits it promises hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teaminbox_processor::reading::{self, Context, MAX_HTML, MAX_TEXT};

fuzz_target!(|raw: &[u8]| {
    let recipients = ["support@inbox.example.com".to_owned()];
    let team = ["agent@example.com".to_owned()];
    for authenticated in [false, true] {
        let context = Context {
            mail_from: "sender@example.org",
            recipients: &recipients,
            authenticated,
            team_addresses: &team,
            loop_marker: "teaminbox@inbox.example.com",
        };
        let reading = reading::read(raw, &context);
        assert!(reading.text.len() <= MAX_TEXT);
        assert!(reading.html.as_ref().is_none_or(|h| h.len() <= MAX_HTML));
        for attachment in &reading.attachments {
            // A file name from mail never becomes a path.
            assert!(!attachment.filename.contains(['/', '\\', '\0']));
            assert!(attachment.filename != "." && attachment.filename != "..");
        }
    }
});
