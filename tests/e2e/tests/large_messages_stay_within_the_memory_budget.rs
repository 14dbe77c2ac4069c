//! Many large messages at once through a real Postfix keep the daemon's
//! memory within `[milter] max_memory` plus a fixed overhead, and lose
//! nothing: sessions that find the budget taken are answered 451 4.3.2,
//! their clients retry, and in the end every message is stored exactly
//! once and nothing else is.
//!
//! The daemon is the real binary, a process of its own, so that its peak
//! resident set (`VmHWM`) is its own. Its processor is off: the budget
//! covers the milter (the processor holds one message per worker).
//! `TEAMINBOX_TEST_LARGE_MESSAGES` sets how many clients send at once
//! (default 12; BENCHMARKS.md has the figure for 100).

mod common;

use common::{daemon::DaemonProcess, daemon_toml_with, HOSTED};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use teaminbox_e2e::send_message;
use teaminbox_milter::{
    both_databases,
    testing::{channel, dns::TestDns},
};

/// Each message, as the client sends it (Postfix adds its Received:).
const MESSAGE_BYTES: usize = 30 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;
/// Room for one such message at a time on either database (a message
/// counts once per copy the database write makes: 2 on SQLite, 3 on
/// PostgreSQL), so that the others wait and some are tempfailed.
const MAX_MEMORY_MIB: u64 = 96;
/// What the daemon holds besides the messages at end of message: code,
/// runtime, pools, the sessions' spools (256 KiB each in memory, the rest
/// in temporary files), and what the database libraries hold beyond the
/// copies counted.
const OVERHEAD_MIB: u64 = 64;
/// How long a client keeps retrying one message.
const CLIENT_PATIENCE: Duration = Duration::from_secs(240);

fn concurrent_messages() -> usize {
    std::env::var("TEAMINBOX_TEST_LARGE_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12)
}

/// A 30 MiB message of 78-character lines.
fn large_message() -> Vec<u8> {
    let mut message = format!(
        "From: Load <load@example.org>\r\nTo: support@{HOSTED}\r\nSubject: large\r\n\
         Date: Mon, 30 Nov 2026 03:00:00 +0000\r\n\r\n"
    )
    .into_bytes();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123\r\n";
    while message.len() + line.len() <= MESSAGE_BYTES {
        message.extend_from_slice(line);
    }
    message
}

/// What the client of one message saw.
struct Delivery {
    sender: String,
    accepted: bool,
    /// Every temporary refusal, in order.
    tempfails: Vec<String>,
    last: String,
}

/// Sends the message from `sender` until it is accepted, trying again
/// after a 4xx as an MTA would.
fn deliver(smtp: SocketAddr, sender: String, message: &[u8]) -> Delivery {
    let to = format!("support@{HOSTED}");
    let patience = Instant::now() + CLIENT_PATIENCE;
    let mut tempfails = Vec::new();
    loop {
        let t = send_message(smtp, &sender, &[&to], message);
        let outcome = t.outcome();
        if outcome.is_transient() && Instant::now() < patience {
            tempfails.push(outcome.to_string());
            std::thread::sleep(Duration::from_millis(500));
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

both_databases! {
    fn concurrent_30_mib_messages_stay_within_the_memory_budget(db: TestDatabase) {
        let dns = TestDns::builder().start();
        let store = db.store();
        channel(&store, &format!("support@{HOSTED}"));
        let milter_keys = format!("max_message_size = \"32MiB\"\nmax_memory = \"{MAX_MEMORY_MIB}MiB\"");
        let daemon = DaemonProcess::start(|socket| {
            daemon_toml_with(socket, &db.url, &dns.nameserver(), 0, &milter_keys, "")
        });
        let postfix = daemon.postfix();
        let smtp = postfix.smtp_addr();
        let message = large_message();
        let started = Instant::now();
        let deliveries: Vec<Delivery> = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..concurrent_messages())
                .map(|n| {
                    let message = &message;
                    scope.spawn(move || deliver(smtp, format!("load-{n}@example.org"), message))
                })
                .collect();
            clients.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let took = started.elapsed();
        let peak = daemon.peak_rss();

        let tempfails: Vec<&String> = deliveries.iter().flat_map(|d| &d.tempfails).collect();
        eprintln!(
            "{} messages of {} MiB in {took:.1?}: peak RSS {} MiB (budget {MAX_MEMORY_MIB} MiB), \
             {} temporary refusals",
            deliveries.len(),
            MESSAGE_BYTES as u64 / MIB,
            peak / MIB,
            tempfails.len()
        );
        if let Some(lost) = deliveries.iter().find(|d| !d.accepted) {
            panic!(
                "{} not accepted after {} tempfails:\n{}",
                lost.sender,
                lost.tempfails.len(),
                lost.last
            );
        }
        // Every temporary refusal is the budget's, and the budget was met.
        let budget_refusals = tempfails.iter().filter(|t| t.contains("451 4.3.2 Too many large messages")).count();
        assert_eq!(budget_refusals, tempfails.len(), "other tempfails: {tempfails:?}");
        assert!(budget_refusals > 0, "the budget was never exhausted");
        assert!(
            peak <= (MAX_MEMORY_MIB + OVERHEAD_MIB) * MIB,
            "peak RSS {} MiB over the budget {MAX_MEMORY_MIB} MiB + {OVERHEAD_MIB} MiB",
            peak / MIB
        );

        // Each accepted message stored exactly once, whole; nothing else.
        let stored: BTreeMap<String, (String, String)> = db
            .rows("SELECT mail_from AS a, CAST(COUNT(*) AS TEXT) AS b, CAST(MIN(message_size) AS TEXT) AS c \
                   FROM inbound_messages GROUP BY mail_from")
            .into_iter()
            .map(|(from, n, size)| (from.unwrap(), (n.unwrap(), size.unwrap())))
            .collect();
        assert_eq!(
            stored.keys().collect::<Vec<_>>(),
            deliveries.iter().map(|d| &d.sender).collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>()
        );
        for (sender, (count, size)) in &stored {
            assert_eq!(count, "1", "{sender} stored {count} times");
            let size: usize = size.parse().unwrap();
            assert!(size > MESSAGE_BYTES, "{sender}: {size} bytes stored");
        }
    }
}
