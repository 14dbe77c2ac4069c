//! Through a real Postfix and a real Sendmail: when the milter or the database is unavailable
//! the client gets a 4xx, and after recovery its retry is stored once.

mod common;

use common::{message, Milter, HOSTED};
use teaminbox_e2e::send_message;
use teaminbox_e2e::MtaKind;
use teaminbox_testkit::postgres_admin_execute;
use teaminbox_testkit::TestDatabase;

each_mta! {
    fn milter_down_is_a_tempfail_and_the_retry_is_stored_once(db: TestDatabase, kind: MtaKind) {
        let mut milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        let to = format!("support@{HOSTED}");

        milter.stop();
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&to], &message("retry"));
        assert!(t.outcome().is_transient(), "{:?}", t.all);
        assert!(!t.accepted());
        // Both refuse MAIL FROM: Postfix (milter_default_action = tempfail)
        // with 451 4.7.1, Sendmail (F=T) with 451 4.3.2.
        let mail = t.mail.as_ref().unwrap();
        let expected = match kind {
            MtaKind::Postfix => "4.7.1",
            MtaKind::Sendmail => "4.3.2",
        };
        assert_eq!((mail.code, mail.enhanced_code()), (451, Some(expected)), "{:?}", t.all);
        assert!(milter.stored().is_empty());

        milter.resume();
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&to], &message("retry"));
        assert_eq!(t.outcome().code, 250, "{:?}", t.all);
        assert_eq!(milter.stored().len(), 1);
    }
}

each_mta! {
    fn a_broken_store_is_451_4_3_0(db: TestDatabase, kind: MtaKind) {
        let milter = Milter::start(db);
        milter.channel(&format!("support@{HOSTED}"));
        let mta = milter.mta(kind);
        milter.db.execute("DROP TABLE inbound_recipients");
        let t = send_message(mta.smtp_addr(), "alice@example.org", &[&format!("support@{HOSTED}")], &message("broken"));
        let outcome = t.outcome();
        assert_eq!((outcome.code, outcome.enhanced_code()), (451, Some("4.3.0")), "{:?}", t.all);
        assert!(milter.stored().is_empty());
    }
}

#[test]
fn postgres_down_is_451_4_3_0_and_recovers_through_postfix() {
    postgres_down_is_451_4_3_0_and_recovers(MtaKind::Postfix);
}

#[test]
fn postgres_down_is_451_4_3_0_and_recovers_through_sendmail() {
    postgres_down_is_451_4_3_0_and_recovers(MtaKind::Sendmail);
}

fn postgres_down_is_451_4_3_0_and_recovers(kind: MtaKind) {
    let milter = Milter::start(TestDatabase::postgres());
    milter.channel(&format!("support@{HOSTED}"));
    let mta = milter.mta(kind);
    let name = milter.db.postgres_name().unwrap().to_owned();
    postgres_admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    postgres_admin_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let to = format!("support@{HOSTED}");
    let t = send_message(
        mta.smtp_addr(),
        "alice@example.org",
        &[&to],
        &message("pg down"),
    );
    let rcpt = &t.rcpts[0];
    assert_eq!(
        (rcpt.code, rcpt.enhanced_code()),
        (451, Some("4.3.0")),
        "{:?}",
        t.all
    );

    postgres_admin_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let t = send_message(
        mta.smtp_addr(),
        "alice@example.org",
        &[&to],
        &message("pg back"),
    );
    assert_eq!(t.outcome().code, 250, "{:?}", t.all);
    assert_eq!(milter.stored().len(), 1);
}
