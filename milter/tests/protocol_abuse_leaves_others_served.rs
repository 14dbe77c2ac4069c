//! Hostile input at the milter socket (issue 13): commands out of order,
//! oversized macros, thousands of RCPTs, a connection that stalls in the
//! middle of a body, malformed packets. None of it crashes or blocks the
//! daemon: after each, a well-formed session on a new connection still has
//! its message stored and answered.
//!
//! indymilter-test sends commands in any order we ask; only the malformed
//! packets are written by hand (see [`wire`]).

mod common;

use common::{reply, Milter};
use indymilter_test::{MacroStage, ProtoOpts, Status, TestConnection};
use std::{
    rc::Rc,
    time::{Duration, Instant},
};
use teaminbox_filter::refusal_log::LOGGED_PER_WINDOW;
use teaminbox_testkit::both_databases;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::UnixStream,
};

const SUPPORT: &str = "support@inbox.example.com";

/// DATA, one header, end of headers, `body`: a message the filter keeps.
async fn send_content(conn: &mut TestConnection, subject: &str, body: &str) {
    assert_eq!(conn.data().await.unwrap(), Status::Continue);
    assert_eq!(
        conn.header("Subject", subject).await.unwrap(),
        Status::Noreply
    );
    let from = conn.header("From", "Alice <alice@example.org>").await;
    assert_eq!(from.unwrap(), Status::Noreply);
    assert_eq!(conn.eoh().await.unwrap(), Status::Noreply);
    assert_eq!(
        conn.body(body.as_bytes().to_vec()).await.unwrap(),
        Status::Noreply
    );
}

/// A whole, well-formed session on a new connection: stored and answered.
async fn deliver_normally(milter: &Milter, subject: &str) {
    let mut conn = milter.connect().await;
    conn.mail(["<alice@example.org>"]).await.unwrap();
    let status = conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
    assert_eq!(status, Status::Continue);
    send_content(&mut conn, subject, "Hello.\r\n").await;
    assert_eq!(conn.eom().await.unwrap().1, Status::Discard, "{subject}");
    conn.close().await.unwrap();
    let (raw, recipients) = stored(milter, subject).unwrap_or_else(|| panic!("{subject} stored"));
    assert!(raw.ends_with(b"\r\nHello.\r\n"));
    assert_eq!(recipients, [SUPPORT]);
}

/// The stored message with `subject`, and its hosted recipients.
fn stored(milter: &Milter, subject: &str) -> Option<(Vec<u8>, Vec<String>)> {
    let inbound = milter.store.inbound();
    let line = format!("Subject: {subject}\r\n");
    inbound.list(10_000).unwrap().into_iter().find_map(|m| {
        let raw = inbound.raw_message(m.id).unwrap().unwrap();
        // At the top, or after a line of its own.
        let mut lines = raw.split_inclusive(|&b| b == b'\n');
        lines.any(|l| l == line.as_bytes()).then(|| {
            let rcpts = inbound.recipients(m.id).unwrap();
            (raw, rcpts.into_iter().map(|r| r.address).collect())
        })
    })
}

fn stored_count(milter: &Milter) -> usize {
    milter.store.inbound().list(10_000).unwrap().len()
}

/// The milter wire format, for what indymilter-test will not send or
/// read: a 4-byte big-endian length (of what follows), one command byte,
/// the payload. Replies have the same form.
mod wire {
    use super::*;

    pub fn packet(command: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
        p.push(command);
        p.extend_from_slice(payload);
        p
    }

    pub async fn send(stream: &mut UnixStream, command: u8, payload: &[u8]) {
        stream.write_all(&packet(command, payload)).await.unwrap();
    }

    /// The next reply: its command byte and payload.
    pub async fn reply(stream: &mut UnixStream) -> (u8, Vec<u8>) {
        let read = async {
            let mut len = [0; 4];
            stream.read_exact(&mut len).await.unwrap();
            let mut reply = vec![0; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut reply).await.unwrap();
            let payload = reply.split_off(1);
            (reply[0], payload)
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("a reply")
    }

    /// A connection past option negotiation (`O`: protocol version 6, all
    /// actions, every protocol option but the "no reply" ones: every stage
    /// is answered).
    pub async fn negotiated(milter: &Milter) -> UnixStream {
        let mut stream = UnixStream::connect(&milter.socket).await.unwrap();
        let noreply = ProtoOpts::all()
            .iter_names()
            .filter(|(name, _)| name.starts_with("NOREPLY"));
        let opts = noreply.fold(ProtoOpts::all(), |opts, (_, flag)| opts - flag);
        let offer = [6u32, 0x1FF, opts.bits()].map(u32::to_be_bytes).concat();
        send(&mut stream, b'O', &offer).await;
        assert_eq!(reply(&mut stream).await.0, b'O', "negotiated");
        stream
    }

    /// Whether the daemon closes `stream` (end of file or reset) within
    /// a few seconds, having sent nothing more.
    pub async fn is_dropped(mut stream: UnixStream) -> bool {
        let mut buf = [0; 64];
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) => n == 0,
            Ok(Err(_)) => true,
            Err(_) => false,
        }
    }
}

both_databases! {
    async fn commands_out_of_order_are_survived(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel(SUPPORT);
        // Before MAIL, RCPT, DATA and end of message cannot be reached:
        // they are ignored without an answer (as libmilter does), and the
        // session goes on.
        let mut raw = wire::negotiated(&milter).await;
        wire::send(&mut raw, b'C', b"client.example.org\x004\x00\x19192.0.2.7\x00").await;
        assert_eq!(wire::reply(&mut raw).await.0, b'c');
        wire::send(&mut raw, b'H', b"mail.example.org\x00").await;
        assert_eq!(wire::reply(&mut raw).await.0, b'c');
        wire::send(&mut raw, b'R', b"<support@inbox.example.com>\x00").await;
        wire::send(&mut raw, b'T', b"").await;
        wire::send(&mut raw, b'E', b"").await;
        wire::send(&mut raw, b'M', b"<alice@example.org>\x00").await;
        assert_eq!(wire::reply(&mut raw).await.0, b'c', "MAIL");
        wire::send(&mut raw, b'R', b"<nobody@inbox.example.com>\x00").await;
        let (code, text) = wire::reply(&mut raw).await;
        assert_eq!(code, b'y', "the unknown recipient's own answer");
        assert!(text.starts_with(b"550 5.1.1 "), "{}", String::from_utf8_lossy(&text));
        drop(raw);

        let mut conn = milter.connect().await;
        // A body straight after RCPT, without DATA or headers: a message
        // without a From, refused for it.
        conn.mail(["<alice@example.org>"]).await.unwrap();
        conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
        assert_eq!(conn.body(&b"stray body\r\n"[..]).await.unwrap(), Status::Noreply);
        let status = conn.eom().await.unwrap().1;
        assert!(reply(&status).starts_with("550 5.7.1 "), "{status:?}");
        // A second MAIL in the middle of a transaction starts over: the
        // first one's recipient is not the second's.
        conn.mail(["<first@example.org>"]).await.unwrap();
        conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
        conn.mail(["<second@example.org>"]).await.unwrap();
        conn.rcpt(["<bob@example.net>"]).await.unwrap();
        assert_eq!(conn.data().await.unwrap(), Status::Accept, "no hosted recipient after the new MAIL");
        // Abort in the middle of a body, then a new transaction on the same
        // connection: only the second message is stored.
        conn.mail(["<alice@example.org>"]).await.unwrap();
        conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
        send_content(&mut conn, "aborted", "first half").await;
        conn.abort().await.unwrap();
        conn.mail(["<alice@example.org>"]).await.unwrap();
        assert_eq!(conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap(), Status::Continue);
        send_content(&mut conn, "after abort", "second\r\n").await;
        assert_eq!(conn.eom().await.unwrap().1, Status::Discard);
        conn.close().await.unwrap();
        let (raw, recipients) = stored(&milter, "after abort").expect("stored after the abort");
        assert!(raw.ends_with(b"\r\n\r\nsecond\r\n"), "{}", String::from_utf8_lossy(&raw));
        assert_eq!(recipients, [SUPPORT]);
        assert_eq!(stored_count(&milter), 1, "nothing else");

        deliver_normally(&milter, "after disorder").await;
        milter.stop().await;
    }
}

both_databases! {
    async fn oversized_macros_are_survived(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel(SUPPORT);
        // Just under the protocol's packet limit (1 MiB), so the filter
        // sees them: a huge login, and a huge queue id.
        let huge = "x".repeat(1024 * 1024 - 64);
        let mut conn = milter.connect().await;
        conn.macros(MacroStage::Mail, [("{auth_authen}", huge.as_str())]).await.unwrap();
        conn.mail(["<alice@example.org>"]).await.unwrap();
        conn.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
        conn.macros(MacroStage::Data, [("i", huge.as_str())]).await.unwrap();
        send_content(&mut conn, "huge macros", "Hello.\r\n").await;
        // Thousands of macro pairs in one packet.
        let many: Vec<_> = (0..20_000).map(|i| (format!("{{m{i}}}"), "v".to_owned())).collect();
        conn.macros(MacroStage::Eom, many).await.unwrap();
        let status = conn.eom().await.unwrap().1;
        assert_eq!(status, Status::Discard);
        conn.close().await.unwrap();
        // Taken as an authenticated submission; the queue id, not being
        // one, left out rather than stored.
        let (raw, recipients) = stored(&milter, "huge macros").expect("stored");
        assert!(raw.starts_with(b"Subject: huge macros\r\n"), "no checks, so no results header");
        assert_eq!(recipients, [SUPPORT]);
        let m = &milter.store.inbound().list(1).unwrap()[0];
        assert_eq!(m.queue_id, None);

        // One more byte than a packet may carry: the connection is dropped.
        let mut stream = wire::negotiated(&milter).await;
        let over = vec![b'x'; 1024 * 1024];
        // The daemon may close before reading it all.
        stream.write_all(&wire::packet(b'D', &over)).await.ok();
        assert!(wire::is_dropped(stream).await);

        deliver_normally(&milter, "after huge macros").await;
        milter.stop().await;
    }
}

both_databases! {
    async fn thousands_of_recipients_are_each_answered(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let hosted = ["support@inbox.example.com", "sales@inbox.example.com", "billing@inbox.example.com"];
        for address in hosted {
            milter.channel(address);
        }
        let mut conn = milter.connect().await;
        conn.mail(["<spammer@example.org>"]).await.unwrap();
        for i in 0..5_000 {
            if i % 2 == 0 {
                // The same few hosted addresses, in changing case.
                let address = hosted[i / 2 % 3];
                let address = if i % 4 == 0 { address.to_ascii_uppercase() } else { address.to_owned() };
                let status = conn.rcpt([format!("<{address}>").as_str()]).await.unwrap();
                assert_eq!(status, Status::Continue, "{i}");
            } else {
                let status = conn.rcpt([format!("<guess{i}@inbox.example.com>").as_str()]).await.unwrap();
                assert!(reply(&status).starts_with("550 5.1.1 "), "{i}: {status:?}");
            }
        }
        send_content(&mut conn, "many recipients", "Hello.\r\n").await;
        assert_eq!(conn.eom().await.unwrap().1, Status::Discard);
        conn.close().await.unwrap();
        let (_, mut recipients) = stored(&milter, "many recipients").expect("stored");
        recipients.sort();
        let mut expected = hosted.to_vec();
        expected.sort();
        assert_eq!(recipients, expected, "each hosted recipient once");
        // The log is not amplified: 2,500 refusals, a handful of rows.
        let logged = milter.store.rejections().list(None, 10_000).unwrap();
        assert_eq!(logged.len(), LOGGED_PER_WINDOW as usize);

        deliver_normally(&milter, "after many recipients").await;
        milter.stop().await;
    }
}

both_databases! {
    async fn a_stalled_body_does_not_hold_up_other_sessions(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel(SUPPORT);
        let mut stalled = milter.connect().await;
        stalled.mail(["<slow@example.org>"]).await.unwrap();
        stalled.rcpt([format!("<{SUPPORT}>").as_str()]).await.unwrap();
        send_content(&mut stalled, "stalled", "the first part of a bo").await;
        // ... and nothing more, the connection held open.
        let started = Instant::now();
        // Side by side on this thread (the test's Milter is not Sync).
        let milter = Rc::new(milter);
        let local = tokio::task::LocalSet::new();
        let sessions: Vec<_> = (0..20)
            .map(|i| {
                let milter = milter.clone();
                local.spawn_local(async move { deliver_normally(&milter, &format!("prompt {i}")).await })
            })
            .collect();
        local
            .run_until(async {
                for session in sessions {
                    session.await.unwrap();
                }
            })
            .await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "20 sessions took {took:?}");
        assert_eq!(stored_count(&milter), 20);
        assert!(stored(&milter, "stalled").is_none());
        drop(stalled);
        Rc::into_inner(milter).unwrap().stop().await;
    }
}

both_databases! {
    async fn malformed_packets_drop_only_their_connection(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel(SUPPORT);
        // A length larger than the data: the rest never comes.
        let mut stream = wire::negotiated(&milter).await;
        let mut short = wire::packet(b'H', b"mail.example.org\0");
        short[..4].copy_from_slice(&200u32.to_be_bytes());
        stream.write_all(&short).await.unwrap();
        stream.shutdown().await.unwrap();
        assert!(wire::is_dropped(stream).await);
        // An absurd length.
        let mut stream = wire::negotiated(&milter).await;
        let mut absurd = 0xFFFF_FFF0u32.to_be_bytes().to_vec();
        absurd.extend_from_slice(b"Hmail.example.org\0");
        stream.write_all(&absurd).await.unwrap();
        assert!(wire::is_dropped(stream).await);
        // A length of zero, too short for its command byte (indymilter
        // reads the byte anyway): a HELO without its name.
        let mut stream = wire::negotiated(&milter).await;
        stream.write_all(b"\0\0\0\0H").await.unwrap();
        assert!(wire::is_dropped(stream).await);

        deliver_normally(&milter, "after malformed packets").await;
        milter.stop().await;
    }
}
