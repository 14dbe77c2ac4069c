//! Content spam filtering through a real Postfix, the whole daemon and a
//! real rspamd (with Redis for Bayes): GTUBE is refused and logged, a
//! spam-scored message is filed as spam, ham as usual, a down rspamd is
//! answered per `on_error`, and what the team marks teaches rspamd.

mod common;

use common::{admin, Milter, HOSTED};
use std::time::{Duration, Instant};
use teaminbox_e2e::{send_message, Postfix, Rspamd, GTUBE, GTUBE_ADD_HEADER};
use teaminbox_store::views::ConversationSummary;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{dns::TestDns, log::captured_log};

/// The daemon with two processor workers, asking `rspamd`.
fn milter_asking(db: teaminbox_testkit::TestDatabase, rspamd: &Rspamd, on_error: &str) -> Milter {
    let spam = format!(
        "[spam]\nrspamd_url = \"{}\"\ntimeout = \"5s\"\non_error = \"{on_error}\"\npassword = \"{}\"\n",
        rspamd.url(),
        teaminbox_e2e::RSPAMD_PASSWORD
    );
    Milter::start_configured(db, TestDns::builder().start(), 2, &spam)
}

fn support() -> String {
    format!("support@{HOSTED}")
}

/// A message from Alice with `body`; long enough for Bayes (which wants
/// words to count).
fn mail(id: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: {}\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@example.org>\r\nDate: Mon, 30 Nov 2026 05:00:00 +0000\r\n\r\n{body}\r\n",
        support()
    )
    .into_bytes()
}

const SPAMMY: &str = "Cheap replica watches and discount pharmacy pills, order now from our \
    online store with free shipping worldwide, limited offer for loyal customers, click here \
    to claim your bonus voucher today and save money on luxury brands";
const HAMMY: &str = "Hello team, the printer on the third floor is out of toner again and the \
    quarterly report needs printing before the board meeting on Thursday afternoon, could \
    someone order a cartridge and let facilities know about the paper jam";

fn send(postfix: &Postfix, message: &[u8]) -> teaminbox_e2e::Transcript {
    send_message(
        postfix.smtp_addr(),
        "alice@example.org",
        &[&support()],
        message,
    )
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_filed(milter: &Milter, n: i64) {
    wait_until(&format!("{n} messages are filed"), || {
        milter.store.inbound().counts().unwrap().done >= n
    });
}

/// The conversation of the message with `subject`.
fn conversation(milter: &Milter, subject: &str) -> ConversationSummary {
    milter
        .store
        .views()
        .conversations(&Default::default())
        .unwrap()
        .into_iter()
        .find(|c| c.subject == subject)
        .unwrap_or_else(|| panic!("no conversation {subject}"))
}

both_databases! {
    fn gtube_is_refused_550_and_logged_with_its_score(db: TestDatabase) {
        let rspamd = Rspamd::start();
        let milter = milter_asking(db, &rspamd, "accept");
        milter.channel(&support());
        let postfix = milter.postfix();

        let t = send(&postfix, &mail("gtube", "Test", &format!("Hello {GTUBE}")));
        let outcome = t.outcome();
        assert_eq!((outcome.code, outcome.enhanced_code()), (550, Some("5.7.1")), "{:?}", t.all);
        // The client hears a fixed reason, never rspamd's rules.
        assert!(outcome.text.contains("refused as spam"), "{}", outcome.text);
        assert!(!outcome.text.contains("GTUBE"), "{}", outcome.text);
        assert!(milter.stored().is_empty());
        let logged = milter.store.rejections().list(None, 10).unwrap();
        assert_eq!(logged.len(), 1, "{logged:?}");
        let row = &logged[0];
        assert_eq!((row.smtp_code.as_str(), row.enhanced_code.as_str()), ("550", "5.7.1"));
        assert!(row.reason.contains("rspamd 15.00/15.00 (reject; GTUBE)"), "{}", row.reason);
        assert_eq!(row.recipients, [support()]);
    }
}

both_databases! {
    fn spam_scored_mail_is_filed_as_spam_and_ham_as_usual(db: TestDatabase) {
        let rspamd = Rspamd::start();
        let milter = milter_asking(db, &rspamd, "accept");
        milter.channel(&support());
        let postfix = milter.postfix();

        let t = send(&postfix, &mail("spam", "Offer", &format!("Hello {GTUBE_ADD_HEADER}")));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        let t = send(&postfix, &mail("ham", "Printer", HAMMY));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        wait_filed(&milter, 2);

        let spam = conversation(&milter, "Offer");
        assert_eq!(spam.status, "spam");
        assert_eq!((spam.ticket_id, spam.assignee_email.as_deref()), (None, None));
        let ham = conversation(&milter, "Printer");
        assert_eq!(ham.status, "open");
        assert!(ham.ticket_id.is_some(), "{ham:?}");

        let shown = milter.store.views().conversation(spam.id).unwrap();
        let check = shown.messages[0].spam_check.clone().expect("a spam check");
        assert_eq!(check.action, "add header");
        // The test pattern scores exactly the add header threshold (4 here).
        assert!(check.score >= 4.0, "{check:?}");
        let decisions = &shown.messages[0].decisions;
        assert!(decisions.iter().any(|d| d.starts_with("Content filter: rspamd scored 4.00 (add header)")), "{decisions:?}");
        assert!(decisions.iter().any(|d| d.starts_with("Spam: rspamd's verdict")), "{decisions:?}");
        let ham_shown = milter.store.views().conversation(ham.id).unwrap();
        assert_eq!(ham_shown.messages[0].spam_check.as_ref().map(|c| c.action.as_str()), Some("no action"));
        let (code, out, err) = admin(&milter.admin_config(), &["conversation", "show", &spam.id.to_string()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("Spam check") && out.contains("rspamd add header"), "{out}");
    }
}

/// rspamd stopped: `on_error` decides.
fn rspamd_down(
    db: teaminbox_testkit::TestDatabase,
    on_error: &str,
) -> (Milter, teaminbox_e2e::Transcript) {
    captured_log();
    let mut rspamd = Rspamd::start();
    let milter = milter_asking(db, &rspamd, on_error);
    milter.channel(&support());
    let postfix = milter.postfix();
    rspamd.stop();
    let t = send(&postfix, &mail("down", "While down", HAMMY));
    (milter, t)
}

both_databases! {
    fn rspamd_down_with_on_error_accept_takes_the_mail_unscanned(db: TestDatabase) {
        let (milter, t) = rspamd_down(db, "accept");
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        wait_filed(&milter, 1);
        let stored = milter.stored();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].spam_action, None);
        assert_eq!(conversation(&milter, "While down").status, "open");
        // Logged and counted.
        let log = captured_log();
        let line = log
            .lines()
            .find(|l| l.contains("spam check failed: cannot reach rspamd"))
            .unwrap_or_else(|| panic!("no warning in the log:\n{log}"));
        assert!(line.contains("on_error=Accept") && line.contains("failures_since_start="), "{line}");
    }
}

both_databases! {
    fn rspamd_down_with_on_error_tempfail_is_451(db: TestDatabase) {
        let (milter, t) = rspamd_down(db, "tempfail");
        let outcome = t.outcome();
        assert_eq!((outcome.code, outcome.enhanced_code()), (451, Some("4.7.1")), "{:?}", t.all);
        assert!(milter.stored().is_empty());
    }
}

both_databases! {
    fn what_the_team_marks_teaches_rspamd_once(db: TestDatabase) {
        let rspamd = Rspamd::start();
        let milter = milter_asking(db, &rspamd, "accept");
        milter.channel(&support());
        let postfix = milter.postfix();
        let config = milter.admin_config();

        // Bayes needs a lesson of each class: the ham from a folder.
        let hams = tempfile::tempdir().unwrap();
        std::fs::write(hams.path().join("1.eml"), mail("ham1", "Printer", HAMMY)).unwrap();
        let (code, out, err) = admin(&config, &["spam", "learn", "--ham", &hams.path().display().to_string()]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("Learned 1 message as ham; 0 failed."), "{out}");

        // Unknown to rspamd, the offer is ordinary mail.
        assert_eq!(send(&postfix, &mail("offer1", "Offer", SPAMMY)).outcome().code, 250);
        wait_filed(&milter, 1);
        let first = conversation(&milter, "Offer");
        assert_eq!(first.status, "open");

        let id = first.id.to_string();
        let (code, out, err) = admin(&config, &["conversation", "spam", &id]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("Conversation {id} is now spam.")), "{out}");
        assert!(out.contains("Queued 1 lesson for rspamd as spam"), "{out}");
        // At most once per message.
        let (_, out, _) = admin(&config, &["conversation", "spam", &id]);
        assert!(out.contains("Queued 0 lessons for rspamd as spam (1 message already taught)"), "{out}");
        wait_until("rspamd learned the lesson", || {
            let lessons = milter.store.spam_lessons().list().unwrap();
            lessons.len() == 1 && lessons[0].state == "learned"
        });

        // The same offer again is now spam by Bayes.
        assert_eq!(send(&postfix, &mail("offer2", "Offer again", SPAMMY)).outcome().code, 250);
        wait_filed(&milter, 2);
        let second = conversation(&milter, "Offer again");
        assert_eq!(second.status, "spam");
        let shown = milter.store.views().conversation(second.id).unwrap();
        assert_eq!(shown.messages[0].spam_check.as_ref().map(|c| c.action.as_str()), Some("add header"));

        // A mistake corrected: open again, and taught as ham.
        let (code, out, err) = admin(&config, &["conversation", "not-spam", &second.id.to_string()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("is now open") && out.contains("Queued 1 lesson for rspamd as ham"), "{out}");
        let corrected = conversation(&milter, "Offer again");
        assert_eq!(corrected.status, "open");
        // What filing would have given it: the channel creates tickets.
        let ticket = corrected.ticket_id.expect("a ticket");
        assert!(out.contains(&format!("Ticket {ticket} created")), "{out}");
    }
}
