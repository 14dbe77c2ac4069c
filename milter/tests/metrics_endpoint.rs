//! `[metrics] listen`: the daemon serves Prometheus text at `/metrics`; a
//! stored message, a refused recipient and the queue depths show there.

mod common;

use common::http::{free_port, get};
use common::{send_raw, Milter};
use indymilter_test::{MacroStage, Status};
use std::time::Duration;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::dns::TestDns;

/// The counters belong to the process: the SQLite and PostgreSQL runs take
/// turns, so that each sees only its own message counted.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: support@inbox.example.com\r\n\
    Subject: Printer on fire\r\nMessage-ID: <fire-1@example.org>\r\n\r\nHelp!\r\n";

/// The value of the sample `series` (name and labels as printed), 0 when
/// it is not there yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

both_databases! {
    async fn a_stored_message_and_a_refusal_are_counted(db: TestDatabase) {
        let _turn = ONE_AT_A_TIME.lock().await;
        let port = free_port();
        let extra = format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
        let milter = Milter::start_with(db, TestDns::builder().start(), &extra).await;
        milter.channel("support@inbox.example.com");

        let (status, headers, before) = get(port, "/metrics").await;
        assert_eq!(status, "HTTP/1.1 200 OK", "{headers}\n{before}");
        assert!(
            headers.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"),
            "{headers}"
        );
        const STORED: &str = "teaminbox_messages_stored_total";
        const UNKNOWN: &str = "teaminbox_recipients_refused_total{reason=\"unknown_address\",code=\"550\",enhanced_code=\"5.1.1\"}";
        const PENDING: &str = "teaminbox_queue_messages{queue=\"inbound\",state=\"pending\"}";
        assert_eq!(sample(&before, PENDING), 0.0, "{before}");
        assert_eq!(sample(&before, "teaminbox_database_up"), 1.0, "{before}");

        let mut conn = milter.connect().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let refused = conn.rcpt(["<nobody@inbox.example.com>"]).await.unwrap();
        assert!(matches!(refused, Status::Reject { .. }), "{refused:?}");
        assert_eq!(conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(), Status::Continue);
        conn.macros(MacroStage::Data, [("i", "4MetricsQ1")]).await.unwrap();
        let (_, status) = send_raw(&mut conn, MESSAGE).await;
        assert_eq!(status, Status::Discard);
        conn.close().await.unwrap();

        let (_, _, after) = get(port, "/metrics").await;
        assert_eq!(sample(&after, STORED) - sample(&before, STORED), 1.0, "{after}");
        assert_eq!(sample(&after, UNKNOWN) - sample(&before, UNKNOWN), 1.0, "{after}");
        assert_eq!(sample(&after, PENDING), 1.0, "{after}");
        assert_eq!(
            sample(&after, "teaminbox_queue_messages{queue=\"outbound\",state=\"pending\"}"),
            0.0,
            "{after}"
        );
        // The checks ran and the commit was timed.
        for histogram in ["teaminbox_check_duration_seconds_count", "teaminbox_commit_duration_seconds_count"] {
            assert!(sample(&after, histogram) > sample(&before, histogram), "{histogram}: {after}");
        }
        // The checks looked DNS records up through their cache.
        assert!(after.contains("teaminbox_dns_cache_lookups_total{record=\"txt\",result=\"miss\"}"), "{after}");

        let (status, _, _) = get(port, "/other").await;
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        milter.stop().await;
    }
}

both_databases! {
    async fn a_delivery_the_mta_did_not_take_is_counted_as_a_temporary_failure(db: TestDatabase) {
        let _turn = ONE_AT_A_TIME.lock().await;
        let port = free_port();
        // Nothing listens there: the connection is refused, a 4xx in effect.
        let closed = free_port();
        let extra = format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\n[outbound]\nsmtp_url = \"smtp://127.0.0.1:{closed}\"\n"
        );
        let milter = Milter::start_with(db, TestDns::builder().start(), &extra).await;
        let (_, _, before) = get(port, "/metrics").await;
        milter.db.execute(
            "INSERT INTO outbound_messages (kind, to_address, subject, body, created_at) \
             VALUES ('notification', 'owner@acme.example', 'New', 'Hello', '2026-11-30 00:00:00')",
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while milter.db.rows("SELECT last_error AS a, state AS b, NULL AS c FROM outbound_messages")[0].0.is_none() {
            assert!(std::time::Instant::now() < deadline, "no delivery attempt within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, _, after) = get(port, "/metrics").await;
        const TEMPORARY: &str = "teaminbox_delivery_failures_total{kind=\"temporary\"}";
        assert_eq!(sample(&after, TEMPORARY) - sample(&before, TEMPORARY), 1.0, "{after}");
        const DELIVERED: &str = "teaminbox_messages_delivered_total";
        assert_eq!(sample(&after, DELIVERED), sample(&before, DELIVERED), "{after}");
        const ATTEMPTS: &str = "teaminbox_delivery_duration_seconds_count";
        assert_eq!(sample(&after, ATTEMPTS) - sample(&before, ATTEMPTS), 1.0, "{after}");
        assert_eq!(
            sample(&after, "teaminbox_queue_messages{queue=\"outbound\",state=\"pending\"}"),
            1.0,
            "retried later: {after}"
        );
        milter.stop().await;
    }
}
