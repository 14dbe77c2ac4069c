//! RCPT: hosted addresses are recognised, unknown and disabled ones refused,
//! everything else left alone.

mod common;

use common::{reply, Milter};
use indymilter_test::Status;
use teaminbox_testkit::both_databases;

both_databases! {
    async fn unknown_hosted_address_is_refused_with_5_1_1(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let status = conn.rcpt(["<nobody@inbox.example.com>"]).await.unwrap();
        let text = reply(&status);
        assert!(matches!(status, Status::Reject { .. }), "{status:?}");
        assert!(text.starts_with("550 5.1.1 "), "{text}");
        assert!(text.contains("<nobody@inbox.example.com>"), "{text}");
        milter.stop().await;
    }
}

both_databases! {
    async fn disabled_channel_is_refused_with_5_2_1(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let id = milter.channel("support@inbox.example.com");
        milter.store.settings().set_enabled(id, false).unwrap();
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let status = conn.rcpt(["<Support@Inbox.Example.com>"]).await.unwrap();
        assert!(reply(&status).starts_with("550 5.2.1 "), "{status:?}");
        milter.store.settings().set_enabled(id, true).unwrap();
        let status = conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        assert_eq!(status, Status::Continue);
        milter.stop().await;
    }
}

both_databases! {
    async fn hosted_lookup_ignores_case(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let status = conn.rcpt(["<SUPPORT@INBOX.EXAMPLE.COM>"]).await.unwrap();
        assert_eq!(status, Status::Continue);
        milter.stop().await;
    }
}

both_databases! {
    async fn mail_without_hosted_recipients_passes_untouched_and_unstored(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>", "SIZE=999999999999"]).await.unwrap();
        // Outside the hosted domains: not ours, even when oversized.
        assert_eq!(conn.rcpt(["<bob@example.net>"]).await.unwrap(), Status::Continue);
        assert_eq!(conn.rcpt(["<x@sub.inbox.example.com>"]).await.unwrap(), Status::Continue);
        // Accept at DATA: the MTA carries on without sending us the content.
        assert_eq!(conn.data().await.unwrap(), Status::Accept);
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().counts().unwrap().pending, 0);
        milter.stop().await;
    }
}
