//! Through a real Postfix and a real Sendmail: both send the macros the
//! milter asks for at negotiation, so the queue id is recorded and the
//! daemon never has to log a missing macro.

mod common;

use common::{message, Milter, HOSTED};
use teaminbox_e2e::send_message;
use teaminbox_testkit::log::captured_log;

each_mta! {
    fn no_macro_is_missing(db: TestDatabase, kind: MtaKind) {
        captured_log();
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&format!("support@{HOSTED}")], &message("macros"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let queue_id = milter.stored()[0].queue_id.clone().expect("queue id");
        assert!(t.outcome().text.contains(&queue_id), "{}", t.outcome().text);
        // The log is this binary's (all four runs): none of them missed one.
        let log = captured_log();
        assert!(log.contains(&format!("queue_id=\"{queue_id}\"")), "the log is captured: {log}");
        assert!(!log.contains("missing milter macro"), "{log}");
    }
}
