//! The 30 MiB limit: refused at RCPT when declared; when not, at the end of
//! the message (the MTA waits for no answer to its content), or at once by
//! an MTA that does wait; a message right at the limit is stored intact
//! (spooled through a temporary file, not memory).

mod common;

use common::{reply, Milter};
use indymilter_test::{Status, TestConnection};
use teaminbox_testkit::both_databases;

const LIMIT: usize = 31_457_280;
const CHUNK: usize = 65_535;

async fn hosted_transaction(
    milter: &Milter,
    size_arg: Option<usize>,
) -> indymilter_test::TestConnection {
    milter.channel("support@inbox.example.com");
    let mut conn = milter.connect().await;
    let mut args = vec!["<alice@example.org>".to_owned()];
    args.extend(size_arg.map(|s| format!("SIZE={s}")));
    conn.mail(args).await.unwrap();
    conn
}

both_databases! {
    async fn declared_size_over_the_limit_is_refused_at_rcpt(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let mut conn = hosted_transaction(&milter, Some(LIMIT + 1)).await;
        let status = conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
        let text = reply(&status);
        assert!(text.starts_with("552 5.3.4 "), "{text}");
        assert!(text.contains("31457280 bytes"), "{text}");
        // Outside recipients of the same transaction are not ours to refuse.
        assert_eq!(conn.rcpt(["<bob@example.net>"]).await.unwrap(), Status::Continue);
        milter.stop().await;
    }
}

/// Sends body chunks until the message passes the limit or a chunk is
/// answered with anything but `unanswered`; returns that answer (or
/// `unanswered`) and the bytes sent.
async fn oversized_body(conn: &mut TestConnection, unanswered: Status) -> (Status, usize) {
    conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
    conn.data().await.unwrap();
    conn.header("Subject", "big").await.unwrap();
    conn.eoh().await.unwrap();
    let chunk = vec![b'x'; CHUNK];
    let mut sent = 0;
    while sent <= LIMIT {
        let status = conn.body(chunk.clone()).await.unwrap();
        sent += CHUNK;
        if status != unanswered {
            return (status, sent);
        }
    }
    (unanswered, sent)
}

both_databases! {
    async fn undeclared_size_past_the_limit_is_refused_at_the_end(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let mut conn = hosted_transaction(&milter, None).await;
        let (last, sent) = oversized_body(&mut conn, Status::Noreply).await;
        assert_eq!(last, Status::Noreply, "body chunks are not answered");
        assert!(sent > LIMIT);
        let (_, status) = conn.eom().await.unwrap();
        assert!(reply(&status).starts_with("552 5.3.4 "), "{status:?}");
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().list(1).unwrap().len(), 0);
        assert_eq!(milter.store.rejections().list(None, 10).unwrap().len(), 1);
        milter.stop().await;
    }
}

both_databases! {
    async fn undeclared_size_is_refused_at_once_by_an_mta_that_waits(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect_answering_every_stage().await;
        conn.mail(["<alice@example.org>"]).await.unwrap();
        let (refusal, sent) = oversized_body(&mut conn, Status::Continue).await;
        assert!(reply(&refusal).starts_with("552 5.3.4 "), "{refusal:?}");
        assert!(sent > LIMIT && sent <= LIMIT + CHUNK, "refused by the chunk that passed");
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().list(1).unwrap().len(), 0);
        milter.stop().await;
    }
}

both_databases! {
    async fn a_message_at_the_limit_is_stored_intact(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let mut conn = hosted_transaction(&milter, Some(LIMIT)).await;
        assert_eq!(conn.rcpt(["<support@inbox.example.com>"]).await.unwrap(), Status::Continue);
        conn.data().await.unwrap();
        // One author, as the checks require.
        conn.header("From", "alice@example.org").await.unwrap();
        conn.header("Subject", "exactly at the limit").await.unwrap();
        conn.eoh().await.unwrap();
        let head = b"From: alice@example.org\r\nSubject: exactly at the limit\r\n\r\n".len();
        let body: Vec<u8> = (0..LIMIT - head).map(|i| b'a' + (i % 26) as u8).collect();
        for chunk in body.chunks(CHUNK) {
            assert_eq!(conn.body(chunk.to_vec()).await.unwrap(), Status::Noreply);
        }
        assert_eq!(conn.eom().await.unwrap().1, Status::Discard);
        conn.close().await.unwrap();
        let stored = milter.store.inbound().list(1).unwrap();
        let raw = milter.store.inbound().raw_message(stored[0].id).unwrap().unwrap();
        assert_eq!(stored[0].message_size, raw.len() as i64);
        // Exactly the LIMIT bytes that came, under our Authentication-Results.
        let ours = raw.len() - LIMIT;
        assert!(raw.starts_with(b"Authentication-Results: "));
        assert_eq!(&raw[ours..ours + head], b"From: alice@example.org\r\nSubject: exactly at the limit\r\n\r\n");
        assert_eq!(&raw[ours + head..], &body[..]);
        milter.stop().await;
    }
}

/// Sends headers of `HEADER` bytes until they pass the limit; returns the
/// status of each.
async fn oversized_headers(conn: &mut TestConnection) -> Vec<Status> {
    const HEADER: usize = 60_000;
    conn.rcpt(["<support@inbox.example.com>"]).await.unwrap();
    conn.data().await.unwrap();
    let value = "x".repeat(HEADER);
    let mut statuses = Vec::new();
    while statuses.len() * HEADER <= LIMIT {
        statuses.push(conn.header("X-Padding", value.as_str()).await.unwrap());
        if statuses.last() != Some(&Status::Noreply) && statuses.last() != Some(&Status::Continue) {
            break;
        }
    }
    statuses
}

both_databases! {
    async fn headers_past_the_limit_are_refused_at_the_end_when_headers_get_no_answer(db: TestDatabase) {
        let milter = Milter::start(db).await;
        let mut conn = hosted_transaction(&milter, None).await;
        let statuses = oversized_headers(&mut conn).await;
        assert!(statuses.iter().all(|s| *s == Status::Noreply), "headers are not answered");
        assert_eq!(conn.eoh().await.unwrap(), Status::Noreply);
        let (_, status) = conn.eom().await.unwrap();
        assert!(reply(&status).starts_with("552 5.3.4 "), "{status:?}");
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().list(1).unwrap().len(), 0);
        let logged = milter.store.rejections().list(None, 10).unwrap();
        assert_eq!(logged.len(), 1, "one refusal, logged once");
        assert_eq!(logged[0].smtp_code, "552");
        assert_eq!(logged[0].recipients, ["support@inbox.example.com"]);
        milter.stop().await;
    }
}

both_databases! {
    async fn headers_past_the_limit_are_refused_at_once_by_an_mta_that_waits(db: TestDatabase) {
        let milter = Milter::start(db).await;
        milter.channel("support@inbox.example.com");
        let mut conn = milter.connect_answering_every_stage().await;
        assert_eq!(conn.mail(["<alice@example.org>"]).await.unwrap(), Status::Continue);
        let statuses = oversized_headers(&mut conn).await;
        let (last, before) = statuses.split_last().unwrap();
        assert!(before.iter().all(|s| *s == Status::Continue));
        assert!(reply(last).starts_with("552 5.3.4 "), "{last:?}");
        assert_eq!(statuses.len(), LIMIT / 60_000 + 1, "refused by the header that passed the limit");
        conn.close().await.unwrap();
        assert_eq!(milter.store.inbound().list(1).unwrap().len(), 0);
        milter.stop().await;
    }
}
