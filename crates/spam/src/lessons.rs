//! The lesson worker: delivers the queued spam and not-spam lessons to
//! rspamd (`/learnspam`, `/learnham`). rspamd down or failing (connection
//! refused, a timeout, a 5xx) means trying again later, waiting twice as
//! long each time (from 30 s, at most an hour), never giving up: no
//! lesson is lost. A 4xx is rspamd refusing the lesson itself (a message
//! it cannot learn from), recorded as failed with its answer.

use super::rspamd::Rspamd;
use std::{sync::Arc, time::Duration};
use teaminbox_store::model::SpamClass;
use teaminbox_store::{claims, spam_lessons::Lesson, Store};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

const IDLE_POLL: Duration = Duration::from_secs(1);
const RETRY_BASE: Duration = Duration::from_secs(30);
const RETRY_MAX: Duration = Duration::from_secs(3600);

pub struct LessonWorker {
    store: Store,
    rspamd: Rspamd,
    worker: String,
    retry_base: Duration,
    pub wake: Arc<Notify>,
}

impl LessonWorker {
    pub fn new(store: Store, rspamd: Rspamd) -> Self {
        Self {
            store,
            rspamd,
            worker: format!("{}:lessons", claims::claimant()),
            retry_base: RETRY_BASE,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The first wait after a failure (tests: none).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// Delivers until `stop` turns true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let this = Arc::clone(&self);
        let step = Arc::new(move || this.teach_next());
        teaminbox_store::worker::keep_working(
            "spam lesson worker",
            step,
            &self.wake,
            IDLE_POLL,
            stop,
        )
        .await;
    }

    /// Delivers one due lesson; false when none was due.
    pub fn teach_next(&self) -> bool {
        let lessons = self.store.spam_lessons();
        let lesson = match lessons.claim_due(&self.worker, claims::LEASE) {
            Ok(Some(lesson)) => lesson,
            Ok(None) => return false,
            Err(e) => {
                warn!("cannot read the spam lesson queue: {e}");
                return false;
            }
        };
        let id = lesson.id;
        let (store, holder) = (self.store.clone(), self.worker.clone());
        let renew = move || match store.spam_lessons().renew(id, &holder) {
            Ok(false) => debug!(lesson_id = id, "{holder} no longer holds its claim"),
            Ok(true) => {}
            Err(e) => warn!(lesson_id = id, "cannot renew the lesson's claim: {e}"),
        };
        let taught = claims::renewing(renew, || {
            teaminbox_store::worker::catch_panic(|| {
                self.rspamd.learn(lesson.class, &lesson.raw_message)
            })
        });
        let recorded = match taught {
            Ok(Ok(())) => {
                info!(
                    lesson_id = id,
                    class = lesson.class.as_str(),
                    "rspamd learned"
                );
                lessons.mark_learned(id)
            }
            Ok(Err(e)) if !e.is_temporary() => {
                warn!(lesson_id = id, "rspamd refused the lesson: {e}");
                lessons.mark_failed(id, &e.to_string())
            }
            Ok(Err(e)) => self.retry(&lesson, &e.to_string()),
            Err(panic) => self.retry(&lesson, &panic),
        };
        if let Err(e) = recorded {
            // The claim runs out and the lesson is given again: rspamd
            // takes a lesson it already has without harm.
            warn!(lesson_id = id, "cannot record the lesson's outcome: {e}");
        }
        true
    }

    fn retry(&self, lesson: &Lesson, error: &str) -> teaminbox_store::StoreResult<()> {
        let wait = retry_wait(self.retry_base, lesson.attempts);
        warn!(
            lesson_id = lesson.id,
            "lesson for rspamd deferred, retry in {wait:?}: {error}"
        );
        let next = teaminbox_store::now()
            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
        self.store.spam_lessons().mark_retry(lesson.id, error, next)
    }
}

/// The wait after the `attempts`-th failed try.
fn retry_wait(base: Duration, attempts: i32) -> Duration {
    let doublings = (attempts - 1).clamp(0, 16) as u32;
    (base * 2u32.pow(doublings)).min(RETRY_MAX)
}

/// `teaminbox-admin spam learn`: teaches every file in `files` as `class`,
/// directly (no queue: the admin sees each answer). Returns the counts.
pub fn learn_files(rspamd: &Rspamd, class: SpamClass, files: &[std::path::PathBuf]) -> LearnCounts {
    let mut counts = LearnCounts::default();
    for path in files {
        let outcome = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|raw| rspamd.learn(class, &raw).map_err(|e| e.to_string()));
        match outcome {
            Ok(()) => counts.learned += 1,
            Err(e) => counts.failed.push((path.clone(), e)),
        }
    }
    counts
}

/// What `spam learn` did.
#[derive(Debug, Default)]
pub struct LearnCounts {
    pub learned: usize,
    /// Each file that was not learned, with why.
    pub failed: Vec<(std::path::PathBuf, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_wait(RETRY_BASE, 1), Duration::from_secs(30));
        assert_eq!(retry_wait(RETRY_BASE, 2), Duration::from_secs(60));
        assert_eq!(retry_wait(RETRY_BASE, 100), RETRY_MAX);
    }
}
