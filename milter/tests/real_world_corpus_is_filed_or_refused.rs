//! The public SpamAssassin corpus (6,046 real messages of 2002, ham and
//! spam, fetched by tests/run: tests/lib/corpus.sh) goes through the milter
//! protocol while two processor workers file what is stored: every message is
//! either accepted, stored once and filed into a conversation, or refused
//! with a reason in the rejection log; nothing crashes and no queue row fails
//! or stays behind.  The package keeps each message as JSON text, so bytes
//! that were not UTF-8 in 2002 arrive already decoded.

mod common;

use common::{c, reply, Milter};
use indymilter_test::{Status, TestConnection};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};
use teaminbox_processor::Processor;
use teaminbox_store::Store;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{dns::TestDns, TestDatabase};

const SUPPORT: &str = "<support@inbox.example.com>";
/// The milter protocol carries at most this much body per packet.
const BODY_CHUNK: usize = 65535;

/// One corpus message: where it came from, its envelope sender (from the
/// mbox `From ` line) and its text without that line.
struct CorpusMessage {
    path: PathBuf,
    mail_from: String,
    text: String,
}

fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("TEAMINBOX_TEST_SPAM_CORPUS")
        .expect("set TEAMINBOX_TEST_SPAM_CORPUS (tests/run does)");
    PathBuf::from(dir)
}

/// Every message of the corpus, in a stable order.
fn corpus() -> Vec<CorpusMessage> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("TEAMINBOX_TEST_SPAM_CORPUS is a directory")
        .map(|group| group.unwrap().path())
        .filter(|group| group.is_dir())
        .flat_map(|group| std::fs::read_dir(group).unwrap().map(|f| f.unwrap().path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() > 6000,
        "the corpus has {} messages",
        paths.len()
    );
    paths.into_iter().map(|path| read_message(&path)).collect()
}

fn read_message(path: &Path) -> CorpusMessage {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let text = json["text"]
        .as_str()
        .expect("a text field")
        .replace("\r\n", "\n");
    let (mail_from, text) = match text.strip_prefix("From ") {
        Some(rest) => {
            let (line, rest) = rest.split_once('\n').unwrap_or((rest, ""));
            let sender = line.split_whitespace().next().unwrap_or("");
            (format!("<{sender}>"), rest.to_owned())
        }
        None => ("<>".to_owned(), text),
    };
    CorpusMessage {
        path: path.to_owned(),
        mail_from,
        text,
    }
}

/// A header field line as Postfix sees one: a name of printable
/// characters (spaces allowed before the colon) and a colon.
fn field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end_matches([' ', '\t']);
    let printable = !name.is_empty() && name.bytes().all(|b| (33..127).contains(&b));
    printable.then(|| (name, value.strip_prefix(' ').unwrap_or(value)))
}

/// Splits a message as Postfix does for the milter: header fields (folded
/// lines joined with LF) up to the first line that is not one, then the
/// body with CRLF line ends.
fn split(text: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.peek() {
        let line = line.trim_end_matches('\n');
        if line.starts_with([' ', '\t']) && !fields.is_empty() {
            let last = &mut fields.last_mut().unwrap().1;
            last.push('\n');
            last.push_str(line);
        } else if let Some((name, value)) = field(line) {
            fields.push((name.to_owned(), value.to_owned()));
        } else {
            if line.is_empty() {
                lines.next();
            }
            break;
        }
        lines.next();
    }
    let body: String = lines.collect();
    (fields, body.replace('\n', "\r\n").into_bytes())
}

/// The milter's final answer to one message (an early answer ends it).
async fn deliver(conn: &mut TestConnection, message: &CorpusMessage) -> Status {
    let going_on = |s: &Status| matches!(s, Status::Continue | Status::Noreply);
    let status = conn.mail([message.mail_from.as_str()]).await.unwrap();
    if !going_on(&status) {
        return status;
    }
    let status = conn.rcpt([SUPPORT]).await.unwrap();
    if !going_on(&status) {
        return status;
    }
    let status = conn.data().await.unwrap();
    if !going_on(&status) {
        return status;
    }
    let (fields, body) = split(&message.text);
    for (name, value) in fields {
        let status = conn.header(c(&name), c(&value)).await.unwrap();
        if !going_on(&status) {
            return status;
        }
    }
    let status = conn.eoh().await.unwrap();
    if !going_on(&status) {
        return status;
    }
    for chunk in body.chunks(BODY_CHUNK) {
        let status = conn.body(chunk.to_vec()).await.unwrap();
        if !going_on(&status) {
            return status;
        }
    }
    conn.eom().await.unwrap().1
}

/// A client address of its own for each message, so that no two refusals
/// are a "flood" logged in summary (198.18.0.0/15 is for benchmarks).
fn client_ip(index: usize) -> [u8; 4] {
    [
        198,
        18 + (index >> 16) as u8,
        (index >> 8) as u8,
        index as u8,
    ]
}

/// A processor worker on its own thread, working until the queue is empty
/// once `sending` is over.
fn work_the_queue(store: &Store, name: String, sending: &Arc<AtomicBool>) -> JoinHandle<()> {
    let processor = Processor::new(store.clone(), "teaminbox@inbox.example.com".into());
    let sending = Arc::clone(sending);
    std::thread::spawn(move || loop {
        let still_sending = sending.load(Ordering::SeqCst);
        if !processor.process_next(&name) {
            if !still_sending {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn count(db: &TestDatabase, sql: &str) -> usize {
    let rows = db.rows(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c FROM {sql}"
    ));
    rows[0].0.as_deref().unwrap().parse().unwrap()
}

both_databases! {
    async fn every_corpus_message_is_filed_or_refused_with_a_reason(db: TestDatabase) {
        let started = Instant::now();
        let messages = corpus();
        // The name server knows no name: SPF, DKIM and DMARC come out
        // none, fail or temperror, honestly.  on_dns_error = "accept" so
        // that messages are judged by what they are, not by the test's DNS.
        let milter =
            Milter::start_with(db, TestDns::builder().start(), "on_dns_error = \"accept\"").await;
        milter.channel("support@inbox.example.com");
        // Two processor workers file messages while the milter stores more.
        let sending = Arc::new(AtomicBool::new(true));
        let workers: Vec<_> = (0..2)
            .map(|n| work_the_queue(&milter.store, format!("corpus-worker-{n}"), &sending))
            .collect();

        let mut accepted = 0;
        let mut refused: BTreeMap<String, usize> = BTreeMap::new();
        let mut refused_clients = BTreeSet::new();
        for (index, message) in messages.iter().enumerate() {
            let ip = client_ip(index);
            let mut conn = milter.connect_from(ip, "mail.corpus.example").await;
            let status = deliver(&mut conn, message).await;
            conn.close().await.unwrap();
            match &status {
                Status::Discard => accepted += 1,
                Status::Reject { message: Some(_) } => {
                    let text = reply(&status);
                    let code = text.split(' ').take(2).collect::<Vec<_>>().join(" ");
                    *refused.entry(code).or_default() += 1;
                    refused_clients.insert(format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]));
                }
                other => panic!("{}: answered {other:?}", message.path.display()),
            }
        }
        // Still answering after all of them.
        let mut conn = milter.connect().await;
        assert_eq!(conn.mail(["<alice@example.com>"]).await.unwrap(), Status::Noreply);
        conn.close().await.unwrap();
        let sent_secs = started.elapsed().as_secs_f64();

        sending.store(false, Ordering::SeqCst);
        for worker in workers {
            tokio::task::spawn_blocking(move || worker.join().unwrap()).await.unwrap();
        }
        let (db, _store) = milter.stop_keeping_database().await;

        let stored = count(&db, "inbound_messages");
        let done = count(&db, "inbound_messages WHERE state = 'done'");
        let filed = count(
            &db,
            "inbound_messages i WHERE EXISTS (SELECT 1 FROM messages m WHERE m.inbound_message_id = i.id)",
        );
        let rejections =
            db.rows("SELECT client_address AS a, reason AS b, CAST(NULL AS TEXT) AS c FROM rejections");
        let mut reasons = BTreeMap::new();
        for (_, reason, _) in &rejections {
            let reason = reason.as_deref().unwrap_or_default();
            assert!(!reason.is_empty(), "a refusal without a reason");
            *reasons.entry(reason.chars().take(60).collect::<String>()).or_insert(0) += 1;
        }
        println!("refused because: {reasons:#?}");
        let logged: BTreeSet<String> =
            rejections.into_iter().map(|(client, _, _)| client.unwrap_or_default()).collect();
        let refused_total: usize = refused.values().sum();
        println!(
            "corpus: {} messages, {accepted} stored, {refused_total} refused {refused:?}, \
             {filed} filed, {done} done; sent in {sent_secs:.1}s, all in {:.1}s",
            messages.len(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(accepted + refused_total, messages.len());
        assert_eq!(stored, accepted, "one inbound row per accepted message");
        assert_eq!(done, stored, "no failed or stuck row");
        assert_eq!(filed, stored, "every stored message filed into a conversation");
        assert_eq!(logged, refused_clients, "every refusal in the rejection log");
    }
}
