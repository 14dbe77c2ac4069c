//! Through a real Postfix and a real Sendmail: one message to a hosted and an outside address is
//! stored for the hosted one and relayed (to smtp-sink) for the other,
//! without the hosted address.

mod common;

use common::{message, Milter, HOSTED};
use std::time::Duration;
use teaminbox_e2e::send_message;

each_mta! {
    fn hosted_recipient_is_stored_and_the_other_delivered(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let hosted = format!("support@{HOSTED}");
        let t = send_message(mta.smtp_addr(), "alice@example.org", &["bob@example.net", &hosted], &message("mixed"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);

        let stored = milter.stored();
        assert_eq!(stored.len(), 1);
        let recipients = milter.store.inbound().recipients(stored[0].id).unwrap();
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients[0].address, hosted);

        let captured = mta.wait_captured_full(1, Duration::from_secs(30));
        assert_eq!(captured.len(), 1);
        assert_eq!(captured[0].recipients(), ["bob@example.net"]);
        assert_eq!(captured[0].sender(), "alice@example.org");
        assert!(captured[0].text().contains("Subject: mixed"), "{}", captured[0].text());
        assert!(mta.wait_queue_empty(Duration::from_secs(10)), "{}", mta.queue());
    }
}
