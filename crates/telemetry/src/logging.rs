//! The daemon's log: to stderr, as text lines or JSON objects (`[log]
//! format`), filtered by `RUST_LOG` (default `info`). Every line about a
//! message is inside one of the spans made here, so it carries the MTA's
//! queue id and our id of the message in the same fields wherever it comes
//! from (filter, processor, outbound).

use teaminbox_store::config::LogFormat;
use tracing::{field, info_span, Span};
use tracing_subscriber::EnvFilter;

/// Installs the daemon's log for the whole process.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // The event's own fields at the top level, the message's ids under
        // "span" (the innermost span, which is the only one).
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// The span of the lines about one inbound message: the MTA's queue id
/// (`queue_id`, "-" when it gave none) and its row in `inbound_messages`
/// (`inbound_id`, recorded once it is stored).
pub fn message_span(queue_id: Option<&str>, inbound_id: Option<i64>) -> Span {
    let span = info_span!(
        "message",
        queue_id = queue_id.unwrap_or("-"),
        inbound_id = field::Empty
    );
    if let Some(id) = inbound_id {
        span.record("inbound_id", id);
    }
    span
}

/// The span of the lines about one delivery to the MTA: its row in
/// `outbound_messages` (`outbound_id`) and, once the MTA took it, the
/// MTA's queue id (`queue_id`).
pub fn delivery_span(outbound_id: i64) -> Span {
    info_span!("delivery", outbound_id, queue_id = field::Empty)
}

/// The queue id in an MTA's answer to DATA: Postfix's `2.0.0 Ok: queued as
/// 4dK2xY0l3z`, Sendmail's `2.0.0 5AUABC12345 Message accepted for
/// delivery`.
pub fn queue_id_in_reply(reply: &str) -> Option<&str> {
    let id = match reply.split_once("queued as ") {
        Some((_, rest)) => rest.split_whitespace().next(),
        None => reply
            .strip_suffix("Message accepted for delivery")?
            .split_whitespace()
            .last(),
    }?;
    (id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_read_from_postfix_and_sendmail_replies() {
        assert_eq!(
            queue_id_in_reply("2.0.0 Ok: queued as 4dK2xY0l3z"),
            Some("4dK2xY0l3z")
        );
        assert_eq!(
            queue_id_in_reply("2.0.0 5AUABC12345 Message accepted for delivery"),
            Some("5AUABC12345")
        );
        assert_eq!(queue_id_in_reply("2.0.0 Ok"), None);
        assert_eq!(queue_id_in_reply("2.0.0 Ok: queued as \u{1b}[2J"), None);
    }
}
