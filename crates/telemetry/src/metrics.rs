//! The daemon's metrics for Prometheus (`[metrics] listen`): counted where
//! things happen (prometheus-client), the queue depths read from the store
//! at each scrape, served in the Prometheus text format at `/metrics`
//! (hyper, HTTP/1.1).
//!
//! The counters belong to the process, as Prometheus client libraries
//! keep them: one daemon runs per process (tests that start several in one
//! process see their sums).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn, Method, Request, Response, StatusCode};
use prometheus_client::{
    encoding::{prometheus_text, EncodeLabelSet},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
    },
    registry::{Registry, Unit},
};
use std::{
    convert::Infallible,
    sync::LazyLock,
    time::{Duration, Instant},
};
use teaminbox_store::Store;
use tokio::{net::TcpListener, sync::watch};
use tracing::{debug, warn};

/// Every metric of the daemon, registered under the `teaminbox_` prefix.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    messages_stored: Counter,
    messages_refused: Family<RefusalLabels, Counter>,
    recipients_refused: Family<RefusalLabels, Counter>,
    check_duration: Histogram,
    commit_duration: Histogram,
    messages_processed: Counter,
    processing_failures: Counter,
    processing_duration: Histogram,
    messages_delivered: Counter,
    delivery_failures: Family<DeliveryFailureLabels, Counter>,
    delivery_duration: Histogram,
    dns_cache_lookups: Family<DnsCacheLabels, Counter>,
    queue_messages: Family<QueueLabels, Gauge>,
    database_up: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
    code: &'static str,
    enhanced_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryFailureLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DnsCacheLabels {
    record: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
    state: String,
}

/// What a refusal refused: one recipient (at RCPT) or the whole message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Recipient,
    Message,
}

/// How a delivery to the MTA went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Retried later (a 4xx, no connection, a panic).
    Temporary,
    /// Recorded as failed (a 5xx, or the attempts used up).
    Permanent,
}

/// The queues whose depth is read at each scrape, and their states (each
/// reported, 0 when empty, so that a rate or an alert has a series).
const INBOUND_STATES: [&str; 4] = ["pending", "processing", "done", "failed"];
const OUTBOUND_STATES: [&str; 4] = ["pending", "processing", "sent", "failed"];

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let seconds = |start, count| Histogram::new(exponential_buckets(start, 2.0, count));
        let metrics = Self {
            registry: Registry::with_prefix("teaminbox"),
            messages_stored: Counter::default(),
            messages_refused: Family::default(),
            recipients_refused: Family::default(),
            // 5 ms to 20 s: the checks' deadline is at most 300 s, 20 s by
            // default.
            check_duration: seconds(0.005, 13),
            // 0.5 ms to 4 s.
            commit_duration: seconds(0.0005, 14),
            messages_processed: Counter::default(),
            processing_failures: Counter::default(),
            processing_duration: seconds(0.001, 14),
            messages_delivered: Counter::default(),
            delivery_failures: Family::default(),
            // 10 ms to 40 s (lettre's timeout is 30 s).
            delivery_duration: seconds(0.01, 13),
            dns_cache_lookups: Family::default(),
            queue_messages: Family::default(),
            database_up: Gauge::default(),
        };
        metrics.registered()
    }

    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "messages_stored",
            "Messages committed to the inbound queue (the MTA was told 250 after the commit)",
            self.messages_stored.clone(),
        );
        r.register(
            "messages_refused",
            "Messages refused or tempfailed at end of message, by reason and SMTP code",
            self.messages_refused.clone(),
        );
        r.register(
            "recipients_refused",
            "Recipients refused or tempfailed at RCPT, by reason and SMTP code",
            self.recipients_refused.clone(),
        );
        r.register_with_unit(
            "check_duration",
            "Time the SPF, DKIM, ARC and DMARC checks of one message took together",
            Unit::Seconds,
            self.check_duration.clone(),
        );
        r.register_with_unit(
            "commit_duration",
            "Time from handing a message to the store until its commit was on disk",
            Unit::Seconds,
            self.commit_duration.clone(),
        );
        r.register(
            "messages_processed",
            "Inbound messages the processor filed into the inbox",
            self.messages_processed.clone(),
        );
        r.register(
            "processing_failures",
            "Attempts to file an inbound message that failed (the message went back to the queue, or was parked as failed)",
            self.processing_failures.clone(),
        );
        r.register_with_unit(
            "processing_duration",
            "Time the processor took for one message, filed or failed",
            Unit::Seconds,
            self.processing_duration.clone(),
        );
        r.register(
            "messages_delivered",
            "Outbound messages the MTA accepted",
            self.messages_delivered.clone(),
        );
        r.register(
            "delivery_failures",
            "Outbound delivery attempts that failed: temporary (retried) or permanent (recorded as failed)",
            self.delivery_failures.clone(),
        );
        r.register_with_unit(
            "delivery_duration",
            "Time one outbound delivery attempt took, delivered or failed",
            Unit::Seconds,
            self.delivery_duration.clone(),
        );
        r.register(
            "dns_cache_lookups",
            "Lookups in the checks' cache of DNS records, by record type and hit or miss",
            self.dns_cache_lookups.clone(),
        );
        r.register(
            "queue_messages",
            "Messages in the inbound and outbound queues by state, read from the database at scrape time",
            self.queue_messages.clone(),
        );
        r.register(
            "database_up",
            "1 when the queue depths could be read from the database at this scrape, else 0",
            self.database_up.clone(),
        );
        self
    }

    pub fn message_stored(&self) {
        self.messages_stored.inc();
    }

    /// A refusal: its one-word `reason` and its SMTP codes.
    pub fn refused(
        &self,
        what: Refused,
        reason: &'static str,
        code: &'static str,
        enhanced_code: &'static str,
    ) {
        let labels = RefusalLabels {
            reason,
            code,
            enhanced_code,
        };
        let family = match what {
            Refused::Recipient => &self.recipients_refused,
            Refused::Message => &self.messages_refused,
        };
        family.get_or_create(&labels).inc();
    }

    pub fn checks_took(&self, time: Duration) {
        self.check_duration.observe(time.as_secs_f64());
    }

    pub fn commit_took(&self, time: Duration) {
        self.commit_duration.observe(time.as_secs_f64());
    }

    /// One message through the processor since `started`.
    pub fn processed(&self, started: Instant, filed: bool) {
        self.processing_duration
            .observe(started.elapsed().as_secs_f64());
        if filed {
            self.messages_processed.inc();
        } else {
            self.processing_failures.inc();
        }
    }

    /// One delivery attempt since `started`; `failure` is `None` when the
    /// MTA took the message.
    pub fn delivery(&self, started: Instant, failure: Option<DeliveryFailure>) {
        self.delivery_duration
            .observe(started.elapsed().as_secs_f64());
        let kind = match failure {
            None => {
                self.messages_delivered.inc();
                return;
            }
            Some(DeliveryFailure::Temporary) => "temporary",
            Some(DeliveryFailure::Permanent) => "permanent",
        };
        self.delivery_failures
            .get_or_create(&DeliveryFailureLabels { kind })
            .inc();
    }

    /// A lookup in the DNS record cache of `record` type.
    pub fn dns_cache_lookup(&self, record: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.dns_cache_lookups
            .get_or_create(&DnsCacheLabels { record, result })
            .inc();
    }

    /// Reads the queue depths from `store` and returns every metric as
    /// Prometheus text.
    pub async fn scrape(&self, store: &Store) -> String {
        let store = store.clone();
        let depths = tokio::task::spawn_blocking(move || queue_depths(&store))
            .await
            .map_err(|e| e.to_string())
            .and_then(|depths| depths);
        self.queue_messages.clear();
        match depths {
            Ok(depths) => {
                self.database_up.set(1);
                for (queue, state, count) in depths {
                    self.queue_messages
                        .get_or_create(&QueueLabels { queue, state })
                        .set(count);
                }
            }
            Err(e) => {
                warn!("metrics: cannot read the queue depths: {e}");
                self.database_up.set(0);
            }
        }
        self.encode()
    }

    fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// (queue, state, messages) for every state of both queues.
fn queue_depths(store: &Store) -> Result<Vec<(&'static str, String, i64)>, String> {
    let inbound = store.inbound().counts().map_err(|e| e.to_string())?;
    let inbound_counts = [
        inbound.pending,
        inbound.processing,
        inbound.done,
        inbound.failed,
    ];
    let outbound = store
        .outbound()
        .counts_by_state()
        .map_err(|e| e.to_string())?;
    let mut depths: Vec<_> = INBOUND_STATES
        .iter()
        .zip(inbound_counts)
        .map(|(state, n)| ("inbound", state.to_string(), n))
        .collect();
    for state in OUTBOUND_STATES {
        let n = outbound.iter().find(|(s, _)| s == state).map_or(0, |c| c.1);
        depths.push(("outbound", state.to_string(), n));
    }
    Ok(depths)
}

/// Serves `/metrics` on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, store: Store, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!("metrics: cannot accept a connection: {e}");
                    // Out of file descriptors, most likely: let some close.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let store = store.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let store = store.clone();
                async move { Ok::<_, Infallible>(respond(&request, &store).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                debug!("metrics: connection ended: {e}");
            }
        });
    }
}

async fn respond(request: &Request<Incoming>, store: &Store) -> Response<Full<Bytes>> {
    let reply = |status, content_type, body: String| {
        Response::builder()
            .status(status)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    if request.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: the metrics are at /metrics\n".into(),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET\n".into(),
        );
    }
    let text = metrics().scrape(store).await;
    reply(StatusCode::OK, prometheus_text::CONTENT_TYPE, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        let m = Metrics::new();
        m.message_stored();
        m.refused(Refused::Recipient, "unknown_address", "550", "5.1.1");
        m.checks_took(Duration::from_millis(30));
        m.dns_cache_lookup("txt", true);
        let text = m.encode();
        for line in [
            "# TYPE teaminbox_messages_stored_total counter",
            "teaminbox_recipients_refused_total{reason=\"unknown_address\",code=\"550\",enhanced_code=\"5.1.1\"} 1",
            "# TYPE teaminbox_check_duration_seconds histogram",
            "teaminbox_check_duration_seconds_bucket{le=\"0.04\"} 1",
            "teaminbox_dns_cache_lookups_total{record=\"txt\",result=\"hit\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
