//! Faults in the middle of a load through a real Postfix: the daemon (the
//! real binary, a process of its own) killed with SIGKILL and started
//! again; PostgreSQL stopped for seconds under the running daemon and
//! started again. The clients retry on 4xx, as an MTA does. Afterwards
//! every message is filed exactly once, nothing else is, and the queue is
//! empty within 10 s of the load's end: the claims of the killed process
//! are given back when the daemon starts, and those a worker could not give
//! back during the outage are given back when the database returns (the
//! lease alone would hold them for 30 s).
//!
//! The daemon is the binary beside this test's (`cargo build --workspace`,
//! as `tests/run` does, builds it fresh); PostgreSQL for the outage is a
//! cluster of the test's own, made with Debian's initdb as root.

mod common;

use common::{
    daemon::DaemonProcess,
    daemon_toml,
    delivery::{assert_all_accepted, load, Delivery, Patience},
    HOSTED,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use teaminbox_e2e::{Postfix, PostgresCluster};
use teaminbox_store::{inbound::QueueCounts, Store};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{channel, dns::TestDns, TestDatabase};

const SESSIONS: usize = 10;
const PER_SESSION: usize = 30;
/// Messages accepted before the fault strikes.
const FAULT_AFTER: usize = 100;
/// How long a client keeps retrying one message, and its pause.
const PATIENCE: Patience = Patience {
    total: Duration::from_secs(40),
    pause: Duration::from_millis(200),
};
/// How soon after the load the queue must be empty.
const DRAIN: Duration = Duration::from_secs(10);
const PROCESSOR_WORKERS: usize = 2;

fn message(message_id: &str) -> Vec<u8> {
    format!(
        "From: Load <load@example.org>\r\nTo: support@{HOSTED}\r\nSubject: {message_id}\r\n\
         Message-ID: <{message_id}>\r\nDate: Mon, 30 Nov 2026 03:00:00 +0000\r\n\r\nA small message.\r\n"
    )
    .into_bytes()
}

/// The load (SESSIONS clients, PER_SESSION messages each, one after the
/// other; the clients spread over the MTAs `smtps`; each message's
/// envelope sender is also its Message-ID) with `fault` run beside it once
/// FAULT_AFTER messages are accepted and a processor holds a claim.
/// Returns what the clients saw.
fn load_with_fault(
    smtps: &[SocketAddr],
    tag: &str,
    store: &Store,
    fault: impl FnOnce() + Send,
) -> Vec<Delivery> {
    load(
        smtps,
        (SESSIONS, PER_SESSION),
        PATIENCE,
        |n, i| format!("{tag}-{n}-{i}@example.org"),
        |message_id| Cow::Owned(message(message_id)),
        |tally| {
            tally.wait_until("the load reached the fault", |t| {
                t.accepted() >= FAULT_AFTER
            });
            wait_for_a_claim(store);
            fault();
        },
    )
}

/// Waits (up to 10 s) until the processor holds a claim.
fn wait_for_a_claim(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.inbound().counts().is_ok_and(|c| c.processing == 0) {
        assert!(
            Instant::now() < deadline,
            "the processor never held a claim during the load"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every client got its 250 in the end; within DRAIN the queue holds
/// nothing pending or in process; each message is filed exactly once, and
/// nothing else is.
fn reconcile(db: &TestDatabase, store: &Store, deliveries: &[Delivery]) {
    let load_end = Instant::now();
    assert_all_accepted(deliveries);
    let retried = deliveries.iter().filter(|d| d.attempts() > 1).count();
    assert!(
        retried > 0,
        "the fault struck after the load: no client had to retry"
    );
    eprintln!(
        "{} messages, {retried} accepted only after a retry",
        deliveries.len()
    );

    let counts = wait_for_empty_queue(store, load_end + DRAIN);
    assert_eq!(counts.failed, 0, "{counts:?}");
    let filed: BTreeMap<String, String> = db
        .rows("SELECT message_id_header AS a, CAST(COUNT(*) AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM messages GROUP BY message_id_header")
        .into_iter()
        .map(|(id, n, _)| (id.unwrap_or_default().trim_matches(['<', '>']).to_owned(), n.unwrap()))
        .collect();
    let expected: BTreeMap<String, String> = deliveries
        .iter()
        .map(|d| (d.sender.clone(), "1".to_owned()))
        .collect();
    if filed != expected {
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(id, n)| filed.get(*id) != Some(n))
            .take(5)
            .collect();
        let extra: Vec<_> = filed
            .keys()
            .filter(|id| !expected.contains_key(*id))
            .take(5)
            .collect();
        panic!(
            "filed {} rows for {} messages; wrong: {wrong:?} (filed: {:?}); not sent: {extra:?}",
            filed.len(),
            expected.len(),
            wrong
                .iter()
                .map(|(id, _)| filed.get(*id))
                .collect::<Vec<_>>()
        );
    }
}

fn wait_for_empty_queue(store: &Store, deadline: Instant) -> QueueCounts {
    loop {
        let counts = store.inbound().counts().unwrap();
        if counts.pending == 0 && counts.processing == 0 {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "the queue did not drain within {DRAIN:?} of the load's end: {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The daemon on `db` with a Postfix in front, and a channel for the load.
fn daemon_on(db: &TestDatabase, dns: &TestDns) -> (Store, DaemonProcess, Postfix) {
    let store = db.store();
    channel(&store, &format!("support@{HOSTED}"));
    let daemon =
        DaemonProcess::start(|socket| daemon_toml(socket, &db.url, dns, PROCESSOR_WORKERS));
    let postfix = daemon.postfix();
    (store, daemon, postfix)
}

both_databases! {
    fn a_daemon_killed_mid_load_loses_nothing_and_drains_on_restart(db: TestDatabase) {
        let dns = TestDns::builder().start();
        let (store, mut daemon, postfix) = daemon_on(&db, &dns);
        let mut stranded = 0;
        let deliveries = load_with_fault(&[postfix.smtp_addr()], "kill", &store, || {
            // The claim seen may be finished before the kill lands: kill
            // again until one is left behind, which is the case to prove.
            for _ in 0..5 {
                daemon.kill();
                // Once a commit the killed process had sent is through.
                std::thread::sleep(Duration::from_millis(300));
                stranded = store.inbound().counts().unwrap().processing;
                daemon.resume();
                if stranded > 0 {
                    break;
                }
                wait_for_a_claim(&store);
            }
        });
        assert!(stranded > 0, "no kill left a claim behind");
        reconcile(&db, &store, &deliveries);
    }
}

#[test]
fn postgres_stopped_mid_load_loses_nothing_and_drains_when_back() {
    let cluster = PostgresCluster::start();
    let db = TestDatabase::existing(&cluster.url());
    let dns = TestDns::builder().start();
    let (store, _daemon, postfix) = daemon_on(&db, &dns);
    let deliveries = load_with_fault(&[postfix.smtp_addr()], "outage", &store, || {
        cluster.stop();
        std::thread::sleep(Duration::from_secs(4));
        cluster.resume();
    });
    reconcile(&db, &store, &deliveries);
}

/// Round robin over `users` new users on `channel`.
fn round_robin(db: &TestDatabase, channel: i64, users: i64) {
    for id in 1..=users {
        db.execute(&format!(
            "INSERT INTO users (id, email, first_name, last_name, username, available, created_at) \
             VALUES ({id}, 'agent{id}@acme.example', 'Agent', 'Acme', 'agent{id}', TRUE, CURRENT_TIMESTAMP)"
        ));
        db.execute(&format!(
            "INSERT INTO channel_assignees (channel_id, user_id) VALUES ({channel}, {id})"
        ));
    }
    db.execute("UPDATE channels SET assign_mode = 'users-and-teams'");
}

/// Two hosts sharing one PostgreSQL, each its own daemon (milter and
/// processor) and Postfix; one daemon is killed mid-load and started again.
#[test]
fn two_daemons_sharing_postgres_one_killed_mid_load_file_everything_once_and_fairly() {
    let db = TestDatabase::postgres();
    let dns = TestDns::builder().start();
    let store = db.store();
    let channel_id = channel(&store, &format!("support@{HOSTED}"));
    let agents = 3;
    round_robin(&db, channel_id, agents);
    let config = |socket: &std::path::Path| daemon_toml(socket, &db.url, &dns, PROCESSOR_WORKERS);
    let first = DaemonProcess::start(config);
    let mut second = DaemonProcess::start(config);
    let (first_mta, second_mta) = (first.postfix(), second.postfix());
    let smtps = [first_mta.smtp_addr(), second_mta.smtp_addr()];
    let deliveries = load_with_fault(&smtps, "pair", &store, || {
        second.kill();
        std::thread::sleep(Duration::from_secs(1));
        second.resume();
    });
    reconcile(&db, &store, &deliveries);
    // Both hosts took mail and filed it.
    for (host, daemon) in [("first", &first), ("second", &second)] {
        let log = daemon.log_text();
        let stored = log.matches("message stored").count();
        let filed = log
            .lines()
            .filter(|l| {
                l.contains(" INFO ") && l.contains("processor") && l.contains("inbound_id=")
            })
            .count();
        eprintln!("{host} daemon: {stored} stored, {filed} filed");
        assert!(
            stored > 0 && filed > 0,
            "the {host} daemon stored {stored}, filed {filed}"
        );
    }

    // One conversation per message (each its own thread), none twice.
    let conversations = db.rows(
        "SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(COUNT(DISTINCT conversation_id) AS TEXT) AS b, \
         CAST(NULL AS TEXT) AS c FROM messages",
    );
    let total = deliveries.len().to_string();
    assert_eq!(conversations, [(Some(total.clone()), Some(total), None)]);
    // Round robin stays fair across both hosts' workers and the kill.
    let per_agent: Vec<i64> = db
        .rows(
            "SELECT CAST(assignee_user_id AS TEXT) AS a, CAST(COUNT(*) AS TEXT) AS b, \
             CAST(NULL AS TEXT) AS c FROM conversations GROUP BY assignee_user_id ORDER BY 1",
        )
        .into_iter()
        .map(|(agent, n, _)| {
            assert!(agent.is_some(), "unassigned conversations");
            n.unwrap().parse().unwrap()
        })
        .collect();
    eprintln!("conversations per agent: {per_agent:?}");
    assert_eq!(per_agent.len(), agents as usize, "{per_agent:?}");
    let (min, max) = (
        per_agent.iter().min().unwrap(),
        per_agent.iter().max().unwrap(),
    );
    assert!(max - min <= 1, "round robin unfair: {per_agent:?}");
}
