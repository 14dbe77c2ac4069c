//! Stage 3, the processor: messages per second from a pre-filled queue of a
//! realistic mix (see `teaminbox_bench::corpus`), on SQLite, with an empty
//! inbox and with a large one already stored.
//!
//! The queue is written once through the milter's own
//! `store.inbound().enqueue(...)` into a template database on tmpfs, then
//! copied with SQL into each variant's database (on disk unless the variant
//! says tmpfs), after the variant's background data, so that the queued
//! rows come after the old, done ones as in a real inbox. Then `workers`
//! threads call `Processor::process_next` until the queue is empty.

use diesel::{connection::SimpleConnection, Connection, RunQueryDsl};
use std::{path::Path, sync::Arc, time::Instant};
use teaminbox_bench::corpus::{self, Kind, CHANNELS, TEAM};
use teaminbox_processor::Processor;
use teaminbox_store::{
    inbound::{HostedRecipient, NewInboundMessage, Owner, Verdicts},
    model::AssignMode,
    settings::{NewUser, RoutingUpdate},
    Store,
};

pub struct Variant {
    pub name: String,
    pub background: u64,
    pub tmpfs: bool,
    pub build_seconds: f64,
    pub seconds: f64,
    pub rate: f64,
    pub filed: String,
    pub db_bytes: u64,
    /// Messages per second over each 5,000 messages, in order.
    pub windows: Vec<f64>,
    /// CPU milliseconds per filed message: this process (the workers and
    /// SQLite, which runs in them), nothing else runs in it meanwhile.
    pub cpu_ms: f64,
}

pub struct Results {
    pub messages: usize,
    pub workers: usize,
    pub mix: Vec<(Kind, usize)>,
    pub corpus_bytes: usize,
    pub enqueue_seconds: f64,
    pub variants: Vec<Variant>,
    pub seconds: f64,
}

pub fn run(
    work: &Path,
    messages: usize,
    background: u64,
    workers: usize,
    with_tmpfs: bool,
) -> Results {
    let started = Instant::now();
    eprintln!("bench: processor corpus of {messages} messages");
    let corpus = corpus::processor_corpus(messages, 42, background.max(3));
    let mut mix: Vec<(Kind, usize)> = Kind::MIX
        .iter()
        .map(|(k, _)| (*k, corpus.iter().filter(|q| q.kind == *k).count()))
        .collect();
    mix.retain(|(_, n)| *n > 0);
    let corpus_bytes = corpus.iter().map(|q| q.raw.len()).sum();

    let shm = tempfile::Builder::new()
        .prefix("teaminbox-bench-")
        .tempdir_in("/dev/shm")
        .expect("tmpfs directory");
    let template = shm.path().join("queue.db");
    let t = Instant::now();
    {
        let store = fresh_store(&template);
        let channels: Vec<i64> = (1..=CHANNELS.len() as i64).collect();
        for (i, q) in corpus.iter().enumerate() {
            let recipient = [HostedRecipient {
                address: CHANNELS[q.channel].to_string(),
                owner: Owner::Channel(channels[q.channel]),
                detail: None,
            }];
            let queue_id = format!("Q{i:08}");
            store
                .inbound()
                .enqueue(NewInboundMessage {
                    session: teaminbox_store::model::SmtpSession {
                        queue_id: Some(queue_id),
                        client_address: Some("192.0.2.25".into()),
                        client_name: "mail.example.com".into(),
                        helo: "mail.example.com".into(),
                        mail_from: String::from(&q.mail_from),
                    },
                    spam_check: None,
                    received_at: teaminbox_store::now(),
                    recipients: recipient.to_vec(),
                    raw_message: q.raw.clone(),
                    verdicts: Some(Verdicts {
                        spf: "pass".into(),
                        dkim: "pass".into(),
                        arc: "none".into(),
                        dmarc: String::from(q.dmarc),
                        spam: q.spam,
                        header_from: Some(String::from(&q.header_from)),
                        arc_trusted: false,
                    }),
                })
                .expect("enqueue");
        }
    }
    let enqueue_seconds = t.elapsed().as_secs_f64();
    checkpoint(&template);
    eprintln!("bench: enqueued {messages} messages in {enqueue_seconds:.1} s (tmpfs)");

    let mut plan = vec![("empty inbox, disk", 0u64, false)];
    if background > 0 {
        plan.push(("large inbox, disk", background, false));
    }
    if with_tmpfs {
        plan.push(("empty inbox, tmpfs (no fsync cost)", 0, true));
    }
    let mut variants = Vec::new();
    for (name, bg, tmpfs) in plan {
        let dir = if tmpfs {
            tempfile::Builder::new()
                .prefix("teaminbox-bench-")
                .tempdir_in("/dev/shm")
        } else {
            tempfile::Builder::new()
                .prefix("processor-")
                .tempdir_in(work)
        }
        .expect("variant directory");
        let db = dir.path().join("teaminbox.db");
        let t = Instant::now();
        drop(fresh_store(&db));
        fill(&db, &template, bg);
        let build_seconds = t.elapsed().as_secs_f64();
        let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());
        eprintln!(
            "bench: processor variant \"{name}\": built in {build_seconds:.1} s ({} MB); processing",
            db_bytes / 1_000_000
        );
        let before = counts(&db);
        let store = Store::from_url(&format!("sqlite://{}", db.display())).expect("store");
        let processor = Arc::new(Processor::new(
            store.clone(),
            "teaminbox@inbox.example.com".into(),
        ));
        let t = Instant::now();
        let cpu_before = teaminbox_bench::system::process_cpu_ticks(std::process::id());
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let window = Arc::new(std::sync::Mutex::new((Instant::now(), Vec::<f64>::new())));
        let threads: Vec<_> = (0..workers)
            .map(|n| {
                let processor = processor.clone();
                let (done, window) = (done.clone(), window.clone());
                std::thread::spawn(move || {
                    let name = format!("bench:{n}");
                    loop {
                        let taken = processor.process_batch(&name);
                        if taken == 0 {
                            break;
                        }
                        let d = done.fetch_add(taken, std::sync::atomic::Ordering::Relaxed) + taken;
                        if d / 5000 > (d - taken) / 5000 {
                            let mut w = window.lock().expect("window");
                            let rate = 5000.0 / w.0.elapsed().as_secs_f64();
                            eprintln!(
                                "bench: processor: {d} done, the last 5000 at {rate:.0} msg/s"
                            );
                            w.0 = Instant::now();
                            w.1.push(rate);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("worker");
        }
        let seconds = t.elapsed().as_secs_f64();
        let cpu_ticks = teaminbox_bench::system::process_cpu_ticks(std::process::id()) - cpu_before;
        let cpu_ms =
            cpu_ticks as f64 / teaminbox_bench::system::TICKS_PER_SECOND * 1000.0 / messages as f64;
        let queue = store.inbound().counts().expect("counts");
        assert_eq!(
            (queue.pending, queue.processing, queue.failed),
            (0, 0, 0),
            "processor variant {name}: queue not fully processed: {queue:?}"
        );
        let after = counts(&db);
        let filed = format!(
            "{} messages filed, {} new conversations, {} tickets, {} attachments, {} contacts created",
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2,
            after.3 - before.3,
            after.4 - before.4
        );
        let rate = messages as f64 / seconds;
        eprintln!(
            "bench: processor \"{name}\": {rate:.0} msg/s, {cpu_ms:.3} CPU ms per message ({filed})"
        );
        let windows = std::mem::take(&mut window.lock().expect("window").1);
        variants.push(Variant {
            windows,
            cpu_ms,
            name: name.into(),
            background: bg,
            tmpfs,
            build_seconds,
            seconds,
            rate,
            filed,
            db_bytes,
        });
    }
    Results {
        messages,
        workers,
        mix,
        corpus_bytes,
        enqueue_seconds,
        variants,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// A new database with the schema, three channels (round robin over the
/// team; contact owner; no assignment) and five users in one team.
fn fresh_store(path: &Path) -> Store {
    let store = Store::from_url(&format!("sqlite://{}", path.display())).expect("store");
    store.migrate().expect("migrate");
    let settings = store.settings();
    for (email, first, last) in TEAM {
        settings
            .add_user(&NewUser {
                email,
                first_name: first,
                last_name: last,
                username: first,
            })
            .expect("add user");
    }
    settings.add_team("Support").expect("team");
    for (email, _, _) in TEAM {
        settings.add_team_member("Support", email).expect("member");
    }
    for (i, address) in CHANNELS.iter().enumerate() {
        let id = crate::common::ensure_channel(&store, address, &format!("Acme {i}"));
        assert_eq!(id, i as i64 + 1, "channel ids in order");
        let mode = [
            AssignMode::UsersAndTeams,
            AssignMode::ContactOwner,
            AssignMode::Off,
        ][i];
        settings
            .set_channel_routing(
                id,
                &RoutingUpdate {
                    assign_mode: Some(mode),
                    assign_teams: (i == 0).then(|| vec!["Support".to_string()]),
                    ..Default::default()
                },
            )
            .expect("routing");
    }
    store
}

fn raw(path: &Path) -> diesel::sqlite::SqliteConnection {
    diesel::sqlite::SqliteConnection::establish(&path.to_string_lossy()).expect("open SQLite")
}

fn checkpoint(path: &Path) {
    raw(path)
        .batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
}

/// Background data (an inbox of `bg` old conversations, each with its
/// done queue row, its message and its ticket, over bg/5 contacts up to
/// 200,000), then the queue of the template after it. One transaction,
/// durability off while building (it is set-up, not measured).
fn fill(db: &Path, template: &Path, bg: u64) {
    let mut conn = raw(db);
    let mut sql = String::from(
        "PRAGMA foreign_keys = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN;",
    );
    if bg > 0 {
        let contacts = corpus::background_contacts(bg);
        let n = |limit: u64| {
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {limit})"
            )
        };
        let ts = "'2025-01-01 00:00:00'";
        sql.push_str(&format!(
            "{} INSERT INTO contacts (address, name, created_at)
               SELECT 'customer' || (i - 1) || '@example.com', 'Customer ' || (i - 1), {ts} FROM n;
             {} INSERT INTO conversations (channel_id, contact_id, subject, status, kind, created_at, last_message_at)
               SELECT 1 + i % 3, 1 + i % {contacts}, 'Background conversation ' || i,
                      CASE WHEN i % 5 = 0 THEN 'open' ELSE 'closed' END, 'normal', {ts}, {ts} FROM n;
             {} INSERT INTO inbound_messages (queue_id, received_at, client_address, client_name, helo, mail_from,
                      message_size, raw_message, state, attempts, spf, dkim, arc, dmarc, spam, header_from, arc_trusted)
               SELECT 'BG' || i, {ts}, '192.0.2.25', 'mail.example.com', 'mail.example.com',
                      'customer' || (i % {contacts}) || '@example.com', 100,
                      CAST('From: customer' || (i % {contacts}) || '@example.com' || char(13, 10) ||
                           'Subject: Background conversation ' || i || char(13, 10) || char(13, 10) || 'Hello' AS BLOB),
                      'done', 1, 'pass', 'pass', 'none', 'pass', 0, 'customer' || (i % {contacts}) || '@example.com', 0 FROM n;
             {} INSERT INTO messages (conversation_id, channel_id, inbound_message_id, direction, dedupe_key,
                      message_id_header, from_address, from_name, subject, text_body, sent_at, automated, decisions, created_at)
               SELECT i, 1 + i % 3, i, 'in', 'mid:bg-' || i || '@example.net', 'bg-' || i || '@example.net',
                      'customer' || (i % {contacts}) || '@example.com', 'Customer ' || (i % {contacts}),
                      'Background conversation ' || i, 'Hello, this is message ' || i || ' of the old inbox.',
                      {ts}, 0, '[]', {ts} FROM n;
             {} INSERT INTO tickets (conversation_id, name, properties, created_at)
               SELECT i, 'Background conversation ' || i, '{{}}', {ts} FROM n;",
            n(contacts),
            n(bg),
            n(bg),
            n(bg),
            n(bg),
        ));
    }
    sql.push_str(&format!(
        "ATTACH DATABASE '{}' AS q;
         CREATE TEMP TABLE offset_ AS SELECT COALESCE(MAX(id), 0) AS k FROM main.inbound_messages;
         INSERT INTO main.inbound_messages (id, queue_id, received_at, client_address, client_name, helo, mail_from,
                message_size, raw_message, state, attempts, spf, dkim, arc, dmarc, spam, header_from, arc_trusted)
           SELECT id + (SELECT k FROM temp.offset_), queue_id, received_at, client_address, client_name, helo, mail_from,
                message_size, raw_message, state, attempts, spf, dkim, arc, dmarc, spam, header_from, arc_trusted
           FROM q.inbound_messages ORDER BY id;
         INSERT INTO main.inbound_recipients (inbound_message_id, address, channel_id)
           SELECT inbound_message_id + (SELECT k FROM temp.offset_), address, channel_id FROM q.inbound_recipients;
         COMMIT; DETACH DATABASE q; PRAGMA wal_checkpoint(TRUNCATE);",
        template.display()
    ));
    conn.batch_execute(&sql)
        .expect("fill the benchmark database");
}

/// (messages, conversations, tickets, attachments, contacts).
fn counts(db: &Path) -> (i64, i64, i64, i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        a: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        b: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        c: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        d: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        e: i64,
    }
    let row: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM messages) AS a, (SELECT count(*) FROM conversations) AS b,
                (SELECT count(*) FROM tickets) AS c, (SELECT count(*) FROM attachments) AS d,
                (SELECT count(*) FROM contacts) AS e",
    )
    .get_result(&mut raw(db))
    .expect("counts");
    (row.a, row.b, row.c, row.d, row.e)
}
