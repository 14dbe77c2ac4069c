//! Criterion micro-benchmarks of one message's work:
//!
//! * `read/*`: `processor::reading::read` (the processor's MIME walk and
//!   who-wrote-it analysis) on single messages;
//! * `auth/*`: what the milter does at end of message to decide: parse the
//!   message for mail-auth and `Authenticator::check` (SPF, DKIM, ARC,
//!   DMARC and the policy) against the test DNS, cache warm;
//! * `processor/*`: `Processor::process_next` on one queued message
//!   (claim, read, file into the inbox, mark done), SQLite on disk (with
//!   the daemon's `synchronous = FULL`) and on tmpfs (the same work
//!   without the cost of fsync).
//!
//! `cargo bench -p teaminbox-bench --bench micro` (tests/bench/run runs it
//! and puts the medians in BENCHMARKS.md). Needs Debian's openssl and
//! python3-dkim (for the signed message), like the tests.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::{hint::black_box, net::Ipv4Addr, time::Duration};
use teaminbox_bench::{
    corpus::{self, Kind},
    HELO, HOSTED, RECIPIENT, SELECTOR, SENDER, SENDER_DOMAIN,
};
use teaminbox_filter::auth::{Authenticator, Envelope};
use teaminbox_processor::{
    reading::{self, Context},
    Processor,
};
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::config::Config;
use teaminbox_store::{
    inbound::{HostedRecipient, NewInboundMessage, Owner, Verdicts},
    settings::NewChannel,
    Store,
};
use teaminbox_testkit::{
    dkim::{dkim_sign, DkimKey},
    dns::TestDns,
};

fn read_one(c: &mut Criterion, name: &str, raw: &[u8]) {
    let recipients = vec![RECIPIENT.to_string()];
    let team = vec!["ana@acme.example".to_string()];
    let context = Context {
        mail_from: SENDER,
        recipients: &recipients,
        authenticated: true,
        team_addresses: &team,
        loop_marker: "teaminbox@inbox.example.com",
    };
    c.bench_function(name, |b| {
        b.iter(|| black_box(reading::read(black_box(raw), &context)))
    });
}

fn reading(c: &mut Criterion) {
    read_one(c, "read/plain 10 KB", &corpus::smtp_message(10_240));
    let sample = corpus::processor_corpus(400, 1, 1000);
    for (kind, label) in [
        (Kind::NewHtml, "read/text and HTML"),
        (Kind::GmailForward, "read/Gmail forward"),
        (Kind::ManualForward, "read/manual Fwd: from a team member"),
    ] {
        let q = sample
            .iter()
            .find(|q| q.kind == kind)
            .expect("kind in sample");
        read_one(c, &format!("{label} ({} B)", q.raw.len()), &q.raw);
    }
    read_one(
        c,
        "read/100 KB attachment",
        &corpus::large_message(100_000, "micro"),
    );
}

fn auth(c: &mut Criterion) {
    let key = DkimKey::generate(SENDER_DOMAIN, SELECTOR);
    let dns = TestDns::builder()
        .txt(SENDER_DOMAIN, "v=spf1 ip4:127.0.0.1 -all")
        .txt(&format!("_dmarc.{SENDER_DOMAIN}"), "v=DMARC1; p=reject")
        .txt(&key.record_name(), &key.dns_txt)
        .start();
    let signed = dkim_sign(&corpus::smtp_message(10_240), &key);
    let config = Config::from_toml(&format!(
        "[security]\nauthserv_id = \"mx.{HOSTED}\"\n[dns]\nnameservers = [\"{}\"]\n",
        dns.nameserver()
    ))
    .expect("config");
    let authenticator =
        Authenticator::new(&config.security, &config.nameservers()).expect("authenticator");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let envelope = Envelope {
        client_ip: Some(Ipv4Addr::LOCALHOST.into()),
        helo: HELO,
        mail_from: SENDER,
    };
    let check = || {
        runtime.block_on(async {
            let message = mail_auth::AuthenticatedMessage::parse(&signed).expect("parse");
            let checked = authenticator.check(&envelope, &message).await;
            authenticator.decide(checked, None)
        })
    };
    // Warm the caches, and make sure the check passes.
    let verdict = check();
    assert_eq!(
        (
            verdict.spf.as_str(),
            verdict.dkim.as_str(),
            verdict.dmarc.as_str()
        ),
        ("pass", "pass", "pass"),
        "{verdict:?}"
    );
    c.bench_function(
        &format!("auth/parse + check, signed {} B, warm cache", signed.len()),
        |b| b.iter(|| black_box(check())),
    );
    drop(dns);
}

fn processing(c: &mut Criterion) {
    let sample = corpus::processor_corpus(2000, 3, 1000);
    for (label, dir) in [
        ("processor/one message, SQLite on disk", None),
        ("processor/one message, SQLite on tmpfs", Some("/dev/shm")),
    ] {
        let dir = match dir {
            Some(parent) => tempfile::Builder::new().tempdir_in(parent),
            None => tempfile::tempdir(),
        }
        .expect("directory");
        let store = Store::from_url(&format!(
            "sqlite://{}",
            dir.path().join("teaminbox.db").display()
        ))
        .expect("store");
        store.migrate().expect("migrate");
        let address = ForwardingAddress::parse(RECIPIENT).expect("address");
        let channel = store
            .settings()
            .create_channel(&NewChannel {
                name: "Support",
                company: "Acme",
                forwarding_address: &address,
            })
            .expect("channel")
            .id;
        let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
        let recipients = [HostedRecipient {
            address: RECIPIENT.into(),
            owner: Owner::Channel(channel),
            detail: None,
        }];
        let mut next = 0usize;
        let mut group = c.benchmark_group("processor");
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(8));
        group.bench_function(label.trim_start_matches("processor/"), |b| {
            b.iter_batched(
                || {
                    // The mix in turn; each message once (a repeat would be
                    // a duplicate, which is cheaper).
                    let q = &sample[next % sample.len()];
                    let mut raw = q.raw.clone();
                    raw.extend_from_slice(format!("X-Bench-Copy: {next}\r\n").as_bytes());
                    let raw = if next >= sample.len() {
                        let text = String::from_utf8_lossy(&raw)
                            .replace("Message-ID: <", &format!("Message-ID: <r{next}."));
                        text.into_bytes()
                    } else {
                        raw
                    };
                    next += 1;
                    store
                        .inbound()
                        .enqueue(NewInboundMessage {
                            session: teaminbox_store::model::SmtpSession {
                                queue_id: None,
                                client_address: Some("192.0.2.25".into()),
                                client_name: "mail.example.com".into(),
                                helo: "mail.example.com".into(),
                                mail_from: String::from(&q.mail_from),
                            },
                            spam_check: None,
                            received_at: teaminbox_store::now(),
                            recipients: recipients.to_vec(),
                            raw_message: raw.clone(),
                            verdicts: Some(Verdicts {
                                spf: "pass".into(),
                                dkim: "pass".into(),
                                arc: "none".into(),
                                dmarc: "pass".into(),
                                spam: false,
                                header_from: Some(String::from(&q.header_from)),
                                arc_trusted: false,
                            }),
                        })
                        .expect("enqueue")
                },
                |_| assert!(processor.process_next("micro")),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(4));
    targets = reading, auth, processing
}
criterion_main!(benches);
