//! Clients that deliver as an MTA does (trying again after a 4xx), and
//! the reconciliation of what they were told with what was stored.

use super::HOSTED;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use teaminbox_e2e::send_message;
use teaminbox_testkit::TestDatabase;

/// What the client of one message saw.
pub struct Delivery {
    /// The envelope sender, one per message, by which it is found stored.
    pub sender: String,
    pub accepted: bool,
    /// Every temporary refusal or lost connection, in order.
    pub tempfails: Vec<String>,
    pub last: String,
}

impl Delivery {
    pub fn attempts(&self) -> usize {
        self.tempfails.len() + 1
    }
}

/// What all clients of a load saw so far, for a test to act on mid-load.
#[derive(Default)]
pub struct Tally {
    pub accepted: AtomicUsize,
    pub tempfails: AtomicUsize,
}

impl Tally {
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn tempfails(&self) -> usize {
        self.tempfails.load(Ordering::Relaxed)
    }
}

impl Tally {
    /// Waits (up to 30 s) until `reached` says the load got far enough;
    /// fails the test, saying `what` it waited for, if it did not.
    pub fn wait_until(&self, what: &str, reached: impl Fn(&Tally) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reached(self) {
            assert!(Instant::now() < deadline, "never happened: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How a client tries again.
#[derive(Clone, Copy)]
pub struct Patience {
    /// How long it keeps trying one message.
    pub total: Duration,
    /// The pause after a 4xx or a lost connection.
    pub pause: Duration,
}

/// Sends `message` from `sender` to the hosted channel until it is
/// accepted, trying again after a 4xx or a lost connection as an MTA
/// would, within `patience`; a 5xx is final. Counts into `tally`.
pub fn deliver(
    smtp: SocketAddr,
    sender: String,
    message: &[u8],
    patience: Patience,
    tally: &Tally,
) -> Delivery {
    let to = format!("support@{HOSTED}");
    let give_up = Instant::now() + patience.total;
    let mut tempfails = Vec::new();
    loop {
        let t = send_message(smtp, &sender, &[&to], message);
        let outcome = t.outcome();
        if !t.accepted() && outcome.code < 500 && Instant::now() < give_up {
            tempfails.push(outcome.to_string());
            tally.tempfails.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(patience.pause);
            continue;
        }
        if t.accepted() {
            tally.accepted.fetch_add(1, Ordering::Relaxed);
        }
        return Delivery {
            sender,
            accepted: t.accepted(),
            tempfails,
            last: t.to_string(),
        };
    }
}

/// A load: `sessions` clients, each sending `per_session` messages one
/// after the other (client `n` through `smtps[n % smtps.len()]`), message
/// `i` of client `n` from `sender(n, i)` with the content `message` makes
/// for that sender; `beside` runs alongside with the running tally.
/// Returns what every client saw.
pub fn load<'m>(
    smtps: &[SocketAddr],
    (sessions, per_session): (usize, usize),
    patience: Patience,
    sender: impl Fn(usize, usize) -> String + Sync,
    message: impl Fn(&str) -> Cow<'m, [u8]> + Sync,
    beside: impl FnOnce(&Tally) + Send,
) -> Vec<Delivery> {
    let tally = Tally::default();
    std::thread::scope(|scope| {
        let (tally, sender, message) = (&tally, &sender, &message);
        let clients: Vec<_> = (0..sessions)
            .map(|n| {
                let smtp = smtps[n % smtps.len()];
                scope.spawn(move || {
                    (0..per_session)
                        .map(|i| {
                            let from = sender(n, i);
                            let content = message(&from);
                            deliver(smtp, from, &content, patience, tally)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        scope.spawn(move || beside(tally));
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    })
}

/// Fails the test, showing one, if a message was never accepted.
pub fn assert_all_accepted(deliveries: &[Delivery]) {
    let lost: Vec<&Delivery> = deliveries.iter().filter(|d| !d.accepted).collect();
    if let Some(first) = lost.first() {
        panic!(
            "{} messages never accepted, e.g. {} after {} attempts:\n{}",
            lost.len(),
            first.sender,
            first.attempts(),
            first.last
        );
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
    assert_all_accepted(deliveries);
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
