//! Outbound: delivers queued replies and notifications to the MTA over
//! SMTP (lettre), signing them with DKIM where we hold the key.
//!
//! A message is claimed, sent, and marked sent. A 4xx or a connection
//! failure is retried with exponential backoff; a 5xx, or running out of
//! attempts, is recorded as failed with the server's words. A crash after
//! the MTA's 250 and before the mark sends the message again on restart,
//! with the same bytes and Message-ID, which receivers recognise; nothing is
//! ever lost. The claim is renewed while the delivery goes on (see
//! `claims`).

pub mod compose;
pub mod dkim;
pub mod reply;
pub mod sending_domain;
pub mod signature;

use lettre::{address::Envelope, SmtpTransport, Transport};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use teaminbox_store::claims;
use teaminbox_store::config::Config;
use teaminbox_store::{outbound::OutboundJob, Store};
use teaminbox_telemetry::{
    logging,
    metrics::{metrics, DeliveryFailure},
};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

const IDLE_POLL: Duration = Duration::from_secs(1);

/// The delivery worker: claims due mail, sends it to the MTA, records the
/// outcome.
pub struct DeliveryWorker {
    store: Store,
    transport: SmtpTransport,
    default_from_domain: String,
    loop_marker: String,
    retry_base: Duration,
    max_attempts: i32,
    /// The name of the (one) delivery worker in its claims.
    worker: String,
    /// An outcome the database was not there to record.
    unrecorded: std::sync::Mutex<Option<(i64, Outcome)>>,
    pub wake: Arc<Notify>,
}

impl DeliveryWorker {
    pub fn new(config: &Config, store: Store) -> Self {
        let (host, port) = smtp_host_port(&config.outbound.smtp_url);
        let transport = SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Self {
            store,
            transport,
            default_from_domain: config.outbound.default_from_domain.clone(),
            loop_marker: teaminbox_store::config::loop_marker(config),
            retry_base: Duration::from_secs(config.outbound.retry_base_secs),
            max_attempts: config.outbound.max_attempts,
            worker: format!("{}:0", claims::claimant()),
            unrecorded: Default::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Delivers until `stop` turns true.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let this = Arc::clone(&self);
        let step = Arc::new(move || this.deliver_next());
        teaminbox_store::worker::keep_working("outbound worker", step, &self.wake, IDLE_POLL, stop)
            .await;
    }

    /// Delivers one due message; false when none was due, or an earlier
    /// outcome still cannot be recorded.
    pub fn deliver_next(&self) -> bool {
        // Taken out first: `record` locks it again when it fails.
        let unrecorded = self.unrecorded_outcome().take();
        if let Some((id, outcome)) = unrecorded {
            if !self.record(id, outcome) {
                return false;
            }
        }
        let job =
            match self
                .store
                .outbound()
                .claim_due(&self.worker, claims::LEASE, self.max_attempts)
            {
                Ok(Some(job)) => job,
                Ok(None) => return false,
                Err(e) => {
                    warn!("cannot read the outbound queue: {e}");
                    return false;
                }
            };
        let id = job.id;
        let span = logging::delivery_span(id);
        let _in_span = span.clone().entered();
        let (store, holder) = (self.store.clone(), self.worker.clone());
        // On the renewer thread, in the delivery's span all the same.
        let renew = move || {
            span.in_scope(|| match store.outbound().renew(id, &holder) {
                Ok(false) => debug!("{holder} no longer holds its claim"),
                Ok(true) => {}
                Err(e) => warn!("cannot renew the delivery's claim: {e}"),
            })
        };
        // A panic is retried like a temporary failure, up to the attempts.
        let started = Instant::now();
        let outcome = claims::renewing(renew, || {
            teaminbox_store::worker::catch_panic(|| self.deliver(&job))
                .unwrap_or_else(|panic| Err(Failure::Temporary(panic)))
        });
        let outcome = match outcome {
            Ok(()) => {
                info!(to = %job.to_address, "delivered to the MTA");
                Outcome::Sent
            }
            Err(Failure::Permanent(e)) => {
                warn!("delivery failed for good: {e}");
                Outcome::Failed(e)
            }
            Err(Failure::Temporary(e)) if job.attempts >= self.max_attempts => {
                warn!("giving up after {} attempts: {e}", job.attempts);
                Outcome::Failed(format!(
                    "gave up after {} attempts; last: {e}",
                    job.attempts
                ))
            }
            Err(Failure::Temporary(e)) => {
                let wait = self.retry_base
                    * 2u32
                        .saturating_pow((job.attempts - 1).max(0) as u32)
                        .min(64);
                warn!("delivery deferred, retry in {wait:?}: {e}");
                let next = teaminbox_store::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                Outcome::Retry(e, next)
            }
        };
        metrics().delivery(started, outcome.failure());
        self.record(id, outcome);
        true
    }

    /// Records a delivery's outcome, or keeps it to record before the next
    /// claim (the database was away): a message the MTA took must not be
    /// sent again when its claim runs out.
    fn record(&self, id: i64, outcome: Outcome) -> bool {
        let outbound = self.store.outbound();
        let recorded = match &outcome {
            Outcome::Sent => outbound.mark_sent(id),
            Outcome::Failed(e) => outbound.mark_failed(id, e),
            Outcome::Retry(e, next) => outbound.mark_retry(id, e, *next),
        };
        if let Err(e) = recorded {
            warn!(
                outbound_id = id,
                "cannot record the delivery outcome, will try again: {e}"
            );
            *self.unrecorded_outcome() = Some((id, outcome));
            return false;
        }
        true
    }

    fn unrecorded_outcome(&self) -> std::sync::MutexGuard<'_, Option<(i64, Outcome)>> {
        self.unrecorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn deliver(&self, job: &OutboundJob) -> Result<(), Failure> {
        let (from, raw) = match (&job.from_address, &job.raw_message) {
            (Some(from), Some(raw)) => (from.clone(), raw.clone()),
            _ => self.compose_notification(job)?,
        };
        let envelope = Envelope::new(
            Some(
                from.parse()
                    .map_err(|e| Failure::Permanent(format!("bad sender {from}: {e}")))?,
            ),
            vec![job.to_address.parse().map_err(|e| {
                Failure::Permanent(format!("bad recipient {}: {e}", job.to_address))
            })?],
        )
        .map_err(|e| Failure::Permanent(e.to_string()))?;
        self.transport
            .send_raw(&envelope, &raw)
            .map(|answer| {
                let answer = answer.message().collect::<Vec<_>>().join(" ");
                if let Some(queue_id) = logging::queue_id_in_reply(&answer) {
                    tracing::Span::current().record("queue_id", queue_id);
                }
            })
            .map_err(|e| {
                if e.is_permanent() {
                    Failure::Permanent(one_line(&e.to_string()))
                } else {
                    Failure::Temporary(one_line(&e.to_string()))
                }
            })
    }

    /// Notifications are composed (and signed) at their first delivery and
    /// kept, so that retries send the same message.
    fn compose_notification(&self, job: &OutboundJob) -> Result<(String, Vec<u8>), Failure> {
        let from = format!("teaminbox@{}", self.default_from_domain);
        let composed = compose::compose_notification(&compose::NotificationDraft {
            from_address: &from,
            to_address: &job.to_address,
            subject: &job.subject,
            text: &job.body,
            loop_marker: &self.loop_marker,
        })
        .map_err(|e| Failure::Permanent(e.to_string()))?;
        let raw = sign_if_possible(&self.store, &self.default_from_domain, &from, composed.raw)
            .map_err(Failure::Temporary)?;
        self.store
            .outbound()
            .set_composed(job.id, &from, &composed.message_id, &raw)
            .map_err(|e| Failure::Temporary(e.to_string()))?;
        Ok((from, raw))
    }
}

/// What to record of a delivery.
#[derive(Debug)]
enum Outcome {
    Sent,
    Failed(String),
    Retry(String, chrono::NaiveDateTime),
}

impl Outcome {
    /// What the attempt counts as in the metrics.
    fn failure(&self) -> Option<DeliveryFailure> {
        match self {
            Outcome::Sent => None,
            Outcome::Retry(..) => Some(DeliveryFailure::Temporary),
            Outcome::Failed(_) => Some(DeliveryFailure::Permanent),
        }
    }
}

#[derive(Debug)]
enum Failure {
    Temporary(String),
    Permanent(String),
}

/// Signs with the From domain's key when that domain is a verified sending
/// domain, or the default From domain with a key. Unsigned otherwise.
pub fn sign_if_possible(
    store: &Store,
    default_from_domain: &str,
    from: &str,
    raw: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let domain = from
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_ascii_lowercase();
    let Some(key) = store
        .outbound()
        .sending_domain(&domain)
        .map_err(|e| e.to_string())?
    else {
        return Ok(raw);
    };
    if key.verified_at.is_none() && domain != default_from_domain {
        return Ok(raw);
    }
    dkim::sign(&raw, &key.domain, &key.selector, &key.private_key_pem)
}

fn smtp_host_port(url: &str) -> (String, u16) {
    let rest = url.strip_prefix("smtp://").unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(25)),
        None => (rest.to_owned(), 25),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
