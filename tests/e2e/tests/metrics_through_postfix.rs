//! Through a real Postfix, as a mail admin checks it: `curl` of the
//! metrics endpoint shows the message a customer sent counted as stored
//! and filed, and the agent's reply as delivered; the delivery's log line
//! names the queue id Postfix gave the reply.

mod common;

use common::{
    admin,
    replies::{customer_writes, outbound_state, setup, wait_until},
};
use std::sync::{Mutex, PoisonError};
use teaminbox_e2e::free_port;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::log::captured_log;

/// The counters and the captured log belong to the process: the SQLite
/// and PostgreSQL runs take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn curl_metrics(port: u16) -> String {
    let output = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// The value of the sample `series`, 0 when it is not there yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

both_databases! {
    fn curl_sees_mail_stored_filed_and_delivered(db: TestDatabase) {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        // This run's lines only: the other database's run logged before.
        let logged_before = captured_log().len();
        let (mut milter, postfix, config) = setup(db);
        let port = free_port();
        milter.serve_metrics(port);
        let before = curl_metrics(port);

        let conversation = customer_writes(&milter, &postfix, "carol@example.org", "metrics");
        let (code, out, err) = admin(&config, &["conversation", "reply", &conversation, "--as", "jane@acme.example", "--body", "On it."]);
        assert_eq!(code, 0, "{out}{err}");
        wait_until("the reply is marked sent", || outbound_state(&milter).iter().any(|r| r.1.as_deref() == Some("sent")));

        let after = curl_metrics(port);
        for counter in [
            "teaminbox_messages_stored_total",
            "teaminbox_messages_processed_total",
            "teaminbox_messages_delivered_total",
        ] {
            assert_eq!(sample(&after, counter) - sample(&before, counter), 1.0, "{counter}: {after}");
        }
        assert_eq!(sample(&after, "teaminbox_queue_messages{queue=\"inbound\",state=\"done\"}"), 1.0, "{after}");
        assert_eq!(sample(&after, "teaminbox_queue_messages{queue=\"outbound\",state=\"sent\"}"), 1.0, "{after}");

        let log = captured_log().split_off(logged_before);
        let delivered = log
            .lines()
            .find(|l| l.contains("delivered to the MTA") && l.contains("to=carol@example.org"))
            .unwrap_or_else(|| panic!("no delivery line: {log}"));
        let queue_id = delivered
            .split("queue_id=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no queue id: {delivered}"));
        assert!(delivered.contains("delivery{outbound_id="), "{delivered}");
        assert!(postfix.logs().contains(&format!("{queue_id}: ")), "{queue_id} in {}", postfix.logs());
    }
}
