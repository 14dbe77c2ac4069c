//! A name server that never answers, through a real Postfix: the checks
//! stop at `[security] check_timeout` and the client gets its answer then,
//! per `on_dns_error`: a 451 it will retry, or 250 with the message stored
//! with every result `temperror`. Never a session held for minutes.

mod common;

use common::{daemon::DaemonProcess, daemon_toml_with, message, HOSTED};
use std::time::{Duration, Instant};
use teaminbox_e2e::{send_message, Transcript};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, dns::SilentDns, TestDatabase};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// How much later than the deadline the client may hear.
const SLACK: Duration = Duration::from_secs(2);

/// Sends one message through Postfix to a daemon whose name server is
/// silent; what the client saw and how long it took.
fn send_with_silent_dns(db: &TestDatabase, on_dns_error: &str) -> (Transcript, Duration) {
    let silent = SilentDns::start();
    channel(&db.store(), &format!("support@{HOSTED}"));
    let security = format!(
        "check_timeout = \"{}s\"\non_dns_error = \"{on_dns_error}\"",
        CHECK_TIMEOUT.as_secs()
    );
    let daemon = DaemonProcess::start(|socket| {
        daemon_toml_with(socket, &db.url, &silent.nameserver(), 0, "", &security)
    });
    let postfix = daemon.postfix();
    let started = Instant::now();
    let t = send_message(
        postfix.smtp_addr(),
        "alice@example.org",
        &[&format!("support@{HOSTED}")],
        &message("silent"),
    );
    (t, started.elapsed())
}

fn assert_at_the_deadline(took: Duration) {
    assert!(
        took >= CHECK_TIMEOUT && took < CHECK_TIMEOUT + SLACK,
        "answered after {took:?}"
    );
}

both_databases! {
    fn with_tempfail_the_client_hears_451_at_the_deadline(db: TestDatabase) {
        let (t, took) = send_with_silent_dns(&db, "tempfail");
        let reply = t.outcome();
        assert_eq!((reply.code, reply.enhanced_code()), (451, Some("4.7.24")), "{t}");
        assert!(reply.to_string().contains("did not finish within 3s"), "{t}");
        assert_at_the_deadline(took);
        assert!(db.store().inbound().list(10).unwrap().is_empty());
    }
}

both_databases! {
    fn with_accept_the_message_is_stored_at_the_deadline(db: TestDatabase) {
        let (t, took) = send_with_silent_dns(&db, "accept");
        assert!(t.accepted(), "{t}");
        assert_at_the_deadline(took);
        let stored = db.store().inbound().list(10).unwrap();
        assert_eq!(stored.len(), 1);
        let m = &stored[0];
        assert_eq!(
            (m.spf.as_deref(), m.dkim.as_deref(), m.dmarc.as_deref()),
            (Some("temperror"), Some("temperror"), Some("temperror"))
        );
    }
}
