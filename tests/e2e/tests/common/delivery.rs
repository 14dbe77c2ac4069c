//! Clients that deliver as an MTA does (trying again after a 4xx), and
//! the reconciliation of what they were told with what was stored.

use super::HOSTED;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use teaminbox_e2e::send_message;
use teaminbox_milter::testing::TestDatabase;

/// What the client of one message saw.
pub struct Delivery {
    /// The envelope sender, one per message, by which it is found stored.
    pub sender: String,
    pub accepted: bool,
    /// Every temporary refusal, in order.
    pub tempfails: Vec<String>,
    pub last: String,
}

/// Sends `message` from `sender` to the hosted channel until it is
/// accepted, after a 4xx again `pause` later (calling `on_tempfail` each
/// time), for at most `patience`; a 5xx is final.
pub fn deliver(
    smtp: SocketAddr,
    sender: String,
    message: &[u8],
    patience: Duration,
    pause: Duration,
    on_tempfail: impl Fn(),
) -> Delivery {
    let to = format!("support@{HOSTED}");
    let give_up = Instant::now() + patience;
    let mut tempfails = Vec::new();
    loop {
        let t = send_message(smtp, &sender, &[&to], message);
        let outcome = t.outcome();
        if outcome.is_transient() && Instant::now() < give_up {
            tempfails.push(outcome.to_string());
            on_tempfail();
            std::thread::sleep(pause);
            continue;
        }
        return Delivery {
            sender,
            accepted: t.accepted(),
            tempfails,
            last: t.to_string(),
        };
    }
}

/// A message of about `bytes` bytes (78-character lines after the header).
pub fn padded_message(subject: &str, bytes: usize) -> Vec<u8> {
    let mut message = format!(
        "From: Load <load@example.org>\r\nTo: support@{HOSTED}\r\nSubject: {subject}\r\n\
         Date: Mon, 30 Nov 2026 03:00:00 +0000\r\n\r\n"
    )
    .into_bytes();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123\r\n";
    while message.len() + line.len() <= bytes {
        message.extend_from_slice(line);
    }
    message
}

/// Every client got its 250 in the end, and the queue holds each message
/// exactly once (by envelope sender) and nothing else. Returns each
/// sender's stored size.
pub fn reconcile_stored(db: &TestDatabase, deliveries: &[Delivery]) -> BTreeMap<String, u64> {
    if let Some(lost) = deliveries.iter().find(|d| !d.accepted) {
        panic!(
            "{} not accepted after {} tempfails:\n{}",
            lost.sender,
            lost.tempfails.len(),
            lost.last
        );
    }
    let stored: Vec<(String, String, String)> = db
        .rows(
            "SELECT mail_from AS a, CAST(COUNT(*) AS TEXT) AS b, CAST(MIN(message_size) AS TEXT) AS c \
             FROM inbound_messages GROUP BY mail_from",
        )
        .into_iter()
        .map(|(from, n, size)| (from.unwrap(), n.unwrap(), size.unwrap()))
        .collect();
    let twice: Vec<_> = stored.iter().filter(|(_, n, _)| n != "1").collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let sizes: BTreeMap<String, u64> = stored
        .into_iter()
        .map(|(from, _, size)| (from, size.parse().unwrap()))
        .collect();
    let mut senders: Vec<&String> = deliveries.iter().map(|d| &d.sender).collect();
    senders.sort();
    assert_eq!(sizes.keys().collect::<Vec<_>>(), senders, "stored vs. sent");
    sizes
}
