//! Content spam filtering at end of message (after the authentication
//! checks): rspamd's verdict as the milter's answer. The client and the
//! lessons are `teaminbox-spam`'s.

use crate::refusal::Refusal;
use std::sync::atomic::{AtomicU64, Ordering};
use teaminbox_spam::rspamd::{Envelope, Rspamd, RspamdError, Scan};
use teaminbox_store::config::{OnSpamError, SpamConfig};
use teaminbox_store::inbound::SpamCheck;
use teaminbox_store::model::SpamAction as Action;
use tracing::{info, warn};

/// The milter's side: asks rspamd about each accepted message.
#[derive(Debug)]
pub struct SpamFilter {
    rspamd: Rspamd,
    on_error: OnSpamError,
    /// Checks that failed since the daemon started, for the log.
    failures: AtomicU64,
}

/// What rspamd's answer makes of a message.
#[derive(Debug, PartialEq)]
pub enum SpamJudgement {
    /// Stored; with rspamd's verdict when it gave one.
    Accept(Option<SpamCheck>),
    /// `note` (score and symbols) goes to the rejection log, never to the
    /// client.
    Refuse { refusal: Refusal, note: String },
}

impl SpamFilter {
    /// `None` while `rspamd_url` is empty (filtering off).
    pub fn from_config(config: &SpamConfig) -> Option<Self> {
        config.enabled().then(|| Self {
            rspamd: teaminbox_spam::checker(config),
            on_error: config.on_error,
            failures: AtomicU64::new(0),
        })
    }

    /// Asks rspamd on a blocking thread; hands the message back.
    pub async fn judge(&self, envelope: Envelope, raw: Vec<u8>) -> (SpamJudgement, Vec<u8>) {
        let rspamd = self.rspamd.clone();
        let queue_id = envelope
            .session
            .queue_id
            .clone()
            .unwrap_or_else(|| "-".into());
        let asked = tokio::task::spawn_blocking(move || {
            let scan = rspamd.check(&envelope, &raw);
            (scan, raw)
        })
        .await;
        let (scan, raw) = match asked {
            Ok(asked) => asked,
            // The thread panicked with the message: nothing to store.
            Err(e) => {
                warn!(queue_id, "spam check stopped: {e}");
                return (
                    SpamJudgement::Refuse {
                        refusal: Refusal::store_failed(),
                        note: format!("spam check stopped: {e}"),
                    },
                    Vec::new(),
                );
            }
        };
        match &scan {
            Ok(scan) => info!(queue_id, verdict = %scan.summary(), "spam check"),
            Err(e) => {
                let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
                warn!(queue_id, on_error = ?self.on_error, failures_since_start = failures, "spam check failed: {e}")
            }
        }
        (judgement(scan, self.on_error), raw)
    }
}

/// rspamd's verdict (or failure) as the milter's answer.
fn judgement(scan: Result<Scan, RspamdError>, on_error: OnSpamError) -> SpamJudgement {
    let scan = match scan {
        Ok(scan) => scan,
        Err(e) => {
            return match on_error {
                OnSpamError::Accept => SpamJudgement::Accept(None),
                OnSpamError::Tempfail => SpamJudgement::Refuse {
                    refusal: Refusal::spam_check_failed(),
                    note: e.to_string(),
                },
            }
        }
    };
    let refusal = match scan.action {
        Action::Reject => Refusal::spam(),
        Action::SoftReject | Action::Greylist => Refusal::spam_deferred(),
        Action::NoAction | Action::AddHeader | Action::RewriteSubject => {
            return SpamJudgement::Accept(Some(SpamCheck {
                action: scan.action.as_str().to_owned(),
                score: scan.score,
                files_as_spam: scan.action.files_as_spam(),
            }))
        }
    };
    SpamJudgement::Refuse {
        refusal,
        note: scan.summary(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(action: Action) -> Result<Scan, RspamdError> {
        Ok(Scan {
            action,
            score: 16.5,
            required_score: 15.0,
            symbols: vec!["GTUBE".into()],
        })
    }

    #[test]
    fn each_action_has_its_answer() {
        let refused = |action| match judgement(scan(action), OnSpamError::Accept) {
            SpamJudgement::Refuse { refusal, note } => {
                assert!(!refusal.text.contains("GTUBE"), "{}", refusal.text);
                assert!(note.contains("GTUBE"), "{note}");
                Some((refusal.code, refusal.enhanced))
            }
            SpamJudgement::Accept(_) => None,
        };
        assert_eq!(refused(Action::Reject), Some(("550", "5.7.1")));
        assert_eq!(refused(Action::SoftReject), Some(("451", "4.7.1")));
        assert_eq!(refused(Action::Greylist), Some(("451", "4.7.1")));
        let filed = |action| match judgement(scan(action), OnSpamError::Accept) {
            SpamJudgement::Accept(Some(check)) => check.files_as_spam,
            other => panic!("{other:?}"),
        };
        assert!(filed(Action::AddHeader));
        assert!(filed(Action::RewriteSubject));
        assert!(!filed(Action::NoAction));
    }

    #[test]
    fn an_unreachable_rspamd_is_answered_per_on_error() {
        let down = || Err(RspamdError::Unreachable("connection refused".into()));
        assert_eq!(
            judgement(down(), OnSpamError::Accept),
            SpamJudgement::Accept(None)
        );
        match judgement(down(), OnSpamError::Tempfail) {
            SpamJudgement::Refuse { refusal, .. } => {
                assert_eq!((refusal.code, refusal.enhanced), ("451", "4.7.1"))
            }
            other => panic!("{other:?}"),
        }
    }
}
