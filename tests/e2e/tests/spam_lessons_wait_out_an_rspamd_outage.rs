//! The lessons the team's spam and not-spam decisions give rspamd are
//! queued in the database: with rspamd down a lesson waits (its error
//! recorded) and is given once rspamd is back; each message is taught a
//! class once. On both databases, against a real rspamd.

use std::time::Duration;
use teaminbox_e2e::{Rspamd, RSPAMD_PASSWORD};
use teaminbox_processor::Processor;
use teaminbox_spam::{lessons::LessonWorker, rspamd};
use teaminbox_store::model::SpamClass;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, inbound_message};

const SUPPORT: &str = "support@inbox.example.com";

both_databases! {
    fn a_lesson_waits_out_an_rspamd_outage(db: TestDatabase) {
        let store = db.store();
        let channel_id = channel(&store, SUPPORT);
        let raw = "From: alice@example.org\r\nTo: support@inbox.example.com\r\nSubject: Offer\r\n\
                   Message-ID: <offer@example.org>\r\n\r\nCheap watches, click here to claim your bonus.\r\n";
        store.inbound().enqueue(inbound_message(SUPPORT, channel_id, raw)).unwrap();
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        assert!(processor.process_next("test:0:1"));
        let id = store.views().conversations(&Default::default()).unwrap()[0].id;

        let marked = store.spam_lessons().mark_conversation(id, SpamClass::Spam).unwrap();
        assert_eq!((marked.conversation.status.as_str(), marked.changed), ("spam", true));
        assert_eq!(marked.lessons.queued, 1);
        let again = store.spam_lessons().mark_conversation(id, SpamClass::Spam).unwrap();
        assert_eq!((again.changed, again.lessons.queued, again.lessons.already), (false, 0, 1));

        let mut rspamd = Rspamd::start();
        rspamd.stop();
        let client = rspamd::Rspamd::new(&rspamd.url(), RSPAMD_PASSWORD, Duration::from_secs(5));
        let worker = LessonWorker::new(store.clone(), client).with_retry_base(Duration::ZERO);
        assert!(worker.teach_next());
        let lessons = store.spam_lessons().list().unwrap();
        assert_eq!((lessons[0].state.as_str(), lessons[0].attempts), ("pending", 1));
        let error = lessons[0].last_error.as_deref().unwrap_or_default();
        assert!(error.contains("cannot reach rspamd"), "{error}");

        rspamd.resume();
        assert!(worker.teach_next());
        let lessons = store.spam_lessons().list().unwrap();
        assert_eq!((lessons[0].state.as_str(), lessons[0].attempts), ("learned", 2), "{lessons:?}");
        assert!(!worker.teach_next(), "nothing else is due");

        // Not spam after all: open again, and a ham lesson of its own.
        let marked = store.spam_lessons().mark_conversation(id, SpamClass::Ham).unwrap();
        assert_eq!((marked.conversation.status.as_str(), marked.lessons.queued), ("open", 1));
        // It was filed open, with its ticket: none is added.
        assert_eq!(marked.ticket_created, None);
        assert!(worker.teach_next());
        let classes: Vec<_> = store
            .spam_lessons()
            .list()
            .unwrap()
            .into_iter()
            .map(|l| (l.class, l.state))
            .collect();
        assert_eq!(
            classes,
            [("spam".to_owned(), "learned".to_owned()), ("ham".to_owned(), "learned".to_owned())]
        );
    }
}
