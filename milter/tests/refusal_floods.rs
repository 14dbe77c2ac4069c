//! A flood of refused RCPTs (a dictionary attack) is answered as before,
//! but logged only up to a limit per client, with one row that counts the
//! rest; what was refused is in the log once the daemon has stopped.

mod common;

use common::{reply, Milter};
use indymilter_test::Status;
use teaminbox_filter::refusal_log::LOGGED_PER_WINDOW;
use teaminbox_testkit::both_databases;

both_databases! {
    async fn a_dictionary_attack_is_refused_every_time_and_logged_in_summary(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<spammer@example.org>"]).await.unwrap();
        for i in 0..500 {
            let address = format!("<guess{i}@inbox.example.com>");
            let status = conn.rcpt([address.as_str()]).await.unwrap();
            let text = reply(&status);
            assert!(matches!(status, Status::Reject { .. }), "{i}: {status:?}");
            assert!(text.starts_with("550 5.1.1 "), "{i}: {text}");
            assert!(text.contains(&address), "{i}: {text}");
        }
        // Logged one by one up to the limit, readable once answered.
        let logged = milter.store.rejections().list(None, 1000).unwrap();
        assert_eq!(logged.len(), LOGGED_PER_WINDOW as usize);
        // Another client has its own count.
        let mut other = milter.connect_from([192, 0, 2, 8], "other.example.org").await;
        other.mail(["<bob@example.org>"]).await.unwrap();
        let status = other.rcpt(["<guess0@inbox.example.com>"]).await.unwrap();
        assert!(reply(&status).starts_with("550 5.1.1 "), "{status:?}");

        let (_db, store) = milter.stop_keeping_database().await;
        let logged = store.rejections().list(None, 1000).unwrap();
        assert_eq!(logged.len(), LOGGED_PER_WINDOW as usize + 2, "{logged:#?}");
        let summary = logged
            .iter()
            .find(|r| r.reason.starts_with("and "))
            .expect("a summary row");
        assert!(
            summary.reason.starts_with(&format!(
                "and {} more like this from 192.0.2.7 within 60 s",
                500 - LOGGED_PER_WINDOW
            )),
            "{}",
            summary.reason
        );
        assert!(summary.reason.ends_with("no team inbox has this hosted forwarding address"), "{}", summary.reason);
        assert_eq!((summary.smtp_code.as_str(), summary.enhanced_code.as_str()), ("550", "5.1.1"));
        assert_eq!(summary.client_address.as_deref(), Some("192.0.2.7"));
        assert!(!summary.recipients.is_empty());
        let from_other = logged
            .iter()
            .filter(|r| r.client_address.as_deref() == Some("192.0.2.8"))
            .count();
        assert_eq!(from_other, 1);
    }
}
