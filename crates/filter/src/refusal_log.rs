//! The rejection log's writer: one task takes the refusals of every
//! session, leaves out floods of identical ones, and writes what has queued
//! up in one transaction.
//!
//! Why: a dictionary attack is thousands of refused RCPTs a minute; one
//! synchronous insert each made the log a write amplifier and held the
//! sessions on the disk. The log is a record, not mail: its batches are
//! committed without waiting for the disk (`Rejections::record_batch`), so
//! a crash can lose the last fraction of a second of log rows, never mail.
//! A session still waits until its row is committed (a shared commit, not
//! its own), so the log is readable once the client has its answer. The
//! daemon's clean stop writes what is queued (`RefusalLogWriter::finish`).

use super::RefusalRecord;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use teaminbox_store::{rejections::NewRejection, Store};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Identical refusals of one client logged one by one within a window;
/// beyond, they are counted and summarised in one row when it closes.
pub const LOGGED_PER_WINDOW: u32 = 10;
/// How long a window of identical refusals lasts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Most windows kept in memory; the oldest is closed to make room.
const MAX_WINDOWS: usize = 10_000;
/// Recipients a summary row lists (it counts them all).
const SUMMARY_RECIPIENTS: usize = 20;
/// Refusals waiting for the writer before sessions wait to hand theirs over.
const QUEUE: usize = 1024;
/// Most refusals written in one transaction.
const MAX_BATCH: usize = 500;

/// The sessions' side: hands a refusal to the writer.
#[derive(Debug, Clone)]
pub struct RefusalLog {
    sender: mpsc::Sender<Queued>,
}

/// The daemon's side: stops the writer once the sessions are done.
pub struct RefusalLogWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Queued {
    record: RefusalRecord,
    written: oneshot::Sender<()>,
}

/// Starts the writer on `store`.
pub fn start(store: Store) -> (RefusalLog, RefusalLogWriter) {
    let (sender, queue) = mpsc::channel(QUEUE);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(write_until_stopped(store, queue, stopped));
    (RefusalLog { sender }, RefusalLogWriter { stop, task })
}

impl RefusalLog {
    /// Logs `record` and returns once it is committed, or counted as one of
    /// a flood. A failure is only reported: logging never changes an answer.
    pub(super) async fn record(&self, record: RefusalRecord) {
        let (written, committed) = oneshot::channel();
        if self.sender.send(Queued { record, written }).await.is_err() {
            warn!("cannot record rejection: the rejection log writer has stopped");
            return;
        }
        let _ = committed.await;
    }
}

impl RefusalLogWriter {
    /// Writes every refusal queued so far and the summaries of open
    /// windows, then ends the writer.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            warn!("the rejection log writer failed: {e}");
        }
    }
}

/// Refusals to write in one transaction, and the sessions waiting for them.
#[derive(Default)]
struct Batch {
    rows: Vec<RefusalRecord>,
    waiting: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, queued: Queued, floods: &mut Floods) {
        floods.admit(queued.record, Instant::now(), &mut self.rows);
        self.waiting.push(queued.written);
    }
}

async fn write_until_stopped(
    store: Store,
    mut queue: mpsc::Receiver<Queued>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut floods = Floods::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut batch = Batch::default();
        tokio::select! {
            Some(queued) = queue.recv() => {
                batch.add(queued, &mut floods);
                while batch.waiting.len() < MAX_BATCH {
                    let Ok(queued) = queue.try_recv() else { break };
                    batch.add(queued, &mut floods);
                }
            }
            _ = tick.tick() => floods.close_expired(Instant::now(), &mut batch.rows),
            _ = &mut stopped => {
                queue.close();
                while let Some(queued) = queue.recv().await {
                    batch.add(queued, &mut floods);
                }
                floods.close_all(&mut batch.rows);
                write(&store, batch).await;
                return;
            }
        }
        write(&store, batch).await;
    }
}

/// Commits `batch` and lets its sessions go on.
async fn write(store: &Store, batch: Batch) {
    if !batch.rows.is_empty() {
        let store = store.clone();
        let rows = batch.rows;
        let result = tokio::task::spawn_blocking(move || {
            let new: Vec<NewRejection<'_>> = rows.iter().map(RefusalRecord::as_new).collect();
            store.rejections().record_batch(&new)
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!("cannot record rejections: {e}"),
            Err(e) => warn!("cannot record rejections: {e}"),
        }
    }
    for waiting in batch.waiting {
        let _ = waiting.send(());
    }
}

/// What makes refusals identical: the client, the codes and the reason
/// with its addresses left out (a dictionary attack's refusals differ only
/// in the address).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FloodKey {
    client_address: Option<String>,
    smtp_code: &'static str,
    enhanced_code: &'static str,
    reason: String,
}

impl FloodKey {
    fn of(record: &RefusalRecord) -> Self {
        Self {
            client_address: record.session.client_address.clone(),
            smtp_code: record.refusal.code,
            enhanced_code: record.refusal.enhanced,
            reason: without_addresses(&record.refusal.text),
        }
    }
}

/// `text` with every `<...>` (how refusals quote addresses) emptied.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..=open]);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// One window of identical refusals.
#[derive(Debug)]
struct Window {
    opened: Instant,
    logged: u32,
    /// The refusals left out so far: how many, the last of them, and the
    /// first few recipients.
    suppressed: u64,
    last: Option<RefusalRecord>,
    recipients: Vec<String>,
}

impl Window {
    fn new(opened: Instant) -> Self {
        Self {
            opened,
            logged: 0,
            suppressed: 0,
            last: None,
            recipients: Vec::new(),
        }
    }

    /// The row that says how many were left out, if any were.
    fn summary(self) -> Option<RefusalRecord> {
        let mut row = self.last?;
        // The client's name comes from the MTA: outside input.
        let client = row
            .session
            .client_address
            .clone()
            .unwrap_or_else(|| teaminbox_store::address::printable(&row.session.client_name));
        row.refusal.text = format!(
            "and {} more like this from {client} within {} s, not logged one by one ({} recipients listed): {}",
            self.suppressed,
            WINDOW.as_secs(),
            self.recipients.len(),
            row.refusal.text
        );
        row.recipients = self.recipients;
        Some(row)
    }
}

/// Identical refusals per client, bounded in entries.
#[derive(Debug, Default)]
struct Floods {
    windows: HashMap<FloodKey, Window>,
}

impl Floods {
    /// Puts `record` in `rows` if it is to be logged; counts it otherwise.
    /// Windows closed to make room add their summaries.
    fn admit(&mut self, record: RefusalRecord, now: Instant, rows: &mut Vec<RefusalRecord>) {
        let key = FloodKey::of(&record);
        if self
            .windows
            .get(&key)
            .is_some_and(|w| now.duration_since(w.opened) >= WINDOW)
        {
            rows.extend(self.windows.remove(&key).and_then(Window::summary));
        }
        if !self.windows.contains_key(&key) && self.windows.len() >= MAX_WINDOWS {
            self.close_expired(now, rows);
            if self.windows.len() >= MAX_WINDOWS {
                self.close_oldest(rows);
            }
        }
        let window = self.windows.entry(key).or_insert_with(|| Window::new(now));
        if window.logged < LOGGED_PER_WINDOW {
            window.logged += 1;
            rows.push(record);
            return;
        }
        window.suppressed += 1;
        for recipient in &record.recipients {
            if window.recipients.len() < SUMMARY_RECIPIENTS {
                window.recipients.push(recipient.clone());
            }
        }
        window.last = Some(record);
    }

    /// Closes the windows older than [`WINDOW`], adding their summaries.
    fn close_expired(&mut self, now: Instant, rows: &mut Vec<RefusalRecord>) {
        let expired: Vec<FloodKey> = self
            .windows
            .iter()
            .filter(|(_, w)| now.duration_since(w.opened) >= WINDOW)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            rows.extend(self.windows.remove(&key).and_then(Window::summary));
        }
    }

    fn close_oldest(&mut self, rows: &mut Vec<RefusalRecord>) {
        let oldest = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.opened)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest {
            rows.extend(self.windows.remove(&key).and_then(Window::summary));
        }
    }

    fn close_all(&mut self, rows: &mut Vec<RefusalRecord>) {
        rows.extend(self.windows.drain().filter_map(|(_, w)| w.summary()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::Refusal;

    fn refused(client: &str, recipient: &str) -> RefusalRecord {
        RefusalRecord {
            session: teaminbox_store::model::SmtpSession {
                queue_id: None,
                client_address: Some(client.into()),
                client_name: "client.example.org".into(),
                helo: "mail.example.org".into(),
                mail_from: "alice@example.org".into(),
            },
            header_from: None,
            recipients: vec![recipient.into()],
            refusal: Refusal::unknown_address(recipient),
            logged_reason: None,
        }
    }

    #[test]
    fn a_flood_is_logged_up_to_the_limit_then_summarised() {
        let mut floods = Floods::default();
        let mut rows = Vec::new();
        let start = Instant::now();
        for i in 0..500 {
            floods.admit(
                refused("192.0.2.7", &format!("u{i}@inbox.example.com")),
                start,
                &mut rows,
            );
        }
        // Another client is counted on its own.
        let later = start + Duration::from_secs(1);
        floods.admit(
            refused("192.0.2.8", "x@inbox.example.com"),
            later,
            &mut rows,
        );
        assert_eq!(rows.len(), LOGGED_PER_WINDOW as usize + 1);
        floods.close_expired(start + WINDOW, &mut rows);
        let summary = rows.last().unwrap();
        assert!(
            summary
                .refusal
                .text
                .starts_with("and 490 more like this from 192.0.2.7 within 60 s"),
            "{}",
            summary.refusal.text
        );
        assert_eq!(summary.recipients.len(), SUMMARY_RECIPIENTS);
        assert_eq!(summary.refusal.code, "550");
        assert_eq!(rows.len(), LOGGED_PER_WINDOW as usize + 2);
        assert_eq!(floods.windows.len(), 1, "the quiet client's window is open");
        floods.close_all(&mut rows);
        assert_eq!(
            rows.len(),
            LOGGED_PER_WINDOW as usize + 2,
            "nothing was left out there"
        );
    }

    #[test]
    fn windows_are_bounded() {
        let mut floods = Floods::default();
        let mut rows = Vec::new();
        let now = Instant::now();
        for i in 0..MAX_WINDOWS + 5 {
            floods.admit(
                refused(&format!("10.0.{}.{}", i / 256, i % 256), "a@b"),
                now,
                &mut rows,
            );
        }
        assert_eq!(floods.windows.len(), MAX_WINDOWS);
    }

    #[test]
    fn addresses_do_not_make_refusals_different() {
        assert_eq!(
            without_addresses("<a@b>: no team inbox, <c@d>"),
            "<>: no team inbox, <>"
        );
        assert_eq!(without_addresses("no <quote"), "no <");
    }
}
