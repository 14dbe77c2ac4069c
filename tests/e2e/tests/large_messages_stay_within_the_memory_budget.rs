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

use common::{
    daemon::DaemonProcess,
    daemon_toml_with,
    delivery::{load, padded_message, reconcile_stored, Patience},
    HOSTED,
};
use std::borrow::Cow;
use std::time::{Duration, Instant};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, dns::TestDns};

/// Each message, as the client sends it (Postfix adds its Received:).
const MESSAGE_BYTES: usize = 30 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;
/// Room for one such message at a time on either database (a message
/// counts once per copy the database write makes: 2 on SQLite, 3 on
/// PostgreSQL), so that the others wait and some are tempfailed.
const MAX_MEMORY_MIB: u64 = 96;
/// What the daemon holds besides the messages at end of message: code,
/// runtime, pools, and what the database libraries hold beyond the copies
/// counted.
const FIXED_OVERHEAD_MIB: u64 = 64;
/// And per session: its spool keeps up to `memory_spool_limit` (256 KiB
/// by default) in memory before it moves to a temporary file.
const SPOOL_IN_MEMORY_KIB: u64 = 256;
/// How long a client keeps retrying one message (per message sent at
/// once: they are stored one at a time), and how long it pauses.
const CLIENT_PATIENCE_PER_MESSAGE: Duration = Duration::from_secs(10);
const RETRY_PAUSE: Duration = Duration::from_millis(500);

fn concurrent_messages() -> usize {
    std::env::var("TEAMINBOX_TEST_LARGE_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12)
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
        let message = padded_message("large", MESSAGE_BYTES);
        let started = Instant::now();
        let count = concurrent_messages();
        let patience = Patience {
            total: CLIENT_PATIENCE_PER_MESSAGE * count as u32,
            pause: RETRY_PAUSE,
        };
        let deliveries = load(
            &[postfix.smtp_addr()],
            (count, 1),
            patience,
            |n, _| format!("load-{n}@example.org"),
            |_| Cow::Borrowed(&message),
            |_| (),
        );
        let took = started.elapsed();
        let peak = daemon.peak_rss();

        let tempfails: Vec<&String> = deliveries.iter().flat_map(|d| &d.tempfails).collect();
        eprintln!(
            "{} messages of {} MiB at once in {took:.1?}: peak RSS {} MiB (budget {MAX_MEMORY_MIB} MiB), \
             {} temporary refusals",
            deliveries.len(),
            MESSAGE_BYTES as u64 / MIB,
            peak / MIB,
            tempfails.len()
        );
        // Each accepted message stored exactly once, whole; nothing else.
        for (sender, size) in reconcile_stored(&db, &deliveries) {
            assert!(size > MESSAGE_BYTES as u64, "{sender}: {size} bytes stored");
        }
        // Every temporary refusal is the budget's. How many there are
        // depends on the machine's speed (a session waits 2 s; a fast disk
        // stores 12 messages in less); the peak below is what shows the
        // budget at work: with one too large to matter it is 366 MiB.
        let other: Vec<_> = tempfails
            .iter()
            .filter(|t| !t.contains("451 4.3.2 Too many large messages"))
            .collect();
        assert!(other.is_empty(), "other tempfails: {other:?}");
        let overhead = FIXED_OVERHEAD_MIB * MIB + count as u64 * SPOOL_IN_MEMORY_KIB * 1024;
        assert!(
            peak <= MAX_MEMORY_MIB * MIB + overhead,
            "peak RSS {} MiB over the budget {MAX_MEMORY_MIB} MiB + {} MiB",
            peak / MIB,
            overhead / MIB
        );
    }
}
