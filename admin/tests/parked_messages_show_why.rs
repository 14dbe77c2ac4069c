//! `queue list` shows why a message was parked: the panic that stopped its
//! processing each time.

mod common;

use common::Setup;
use teaminbox_processor::Processor;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message};

const SUPPORT: &str = "support@inbox.example.com";

both_databases! {
    fn queue_list_shows_the_panic_a_parked_message_caused(db: TestDatabase) {
        let setup = Setup::new(db);
        let channel = channel(&setup.store, SUPPORT);
        let raw = format!("From: someone@example.org\r\nTo: {SUPPORT}\r\nSubject: poison\r\n\r\nHello.\r\n");
        setup.store.inbound().enqueue(inbound_message(SUPPORT, channel, raw)).unwrap();
        let mut processor = Processor::new(setup.store.clone(), "teaminbox@inbox.example.com".into());
        processor.panic_on = Some(b"Subject: poison".to_vec());
        while processor.process_next("w") {}

        let run = setup.run(&["queue", "list"]);
        let listed = run.ok();
        let (header, row) = listed.split_once('\n').unwrap();
        assert!(header.ends_with("STATE   ERROR"), "{listed}");
        assert!(row.trim_end().ends_with("failed  panicked: told to panic on message 1"), "{listed}");
    }
}
