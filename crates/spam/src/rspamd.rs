//! rspamd's HTTP protocol (`/checkv2`, `/learnspam`, `/learnham`) over
//! plain HTTP with ureq: rspamd listens on a local address, so no TLS.

use serde::Deserialize;
use std::{fmt, time::Duration};
use teaminbox_store::model::{SmtpSession, SpamAction as Action, SpamClass};

/// rspamd's verdict on one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    pub action: Action,
    pub score: f64,
    pub required_score: f64,
    /// The names of the symbols that matched, sorted.
    pub symbols: Vec<String>,
}

impl Scan {
    /// "7.20/15.00 (add header; BAYES_SPAM, GTUBE)": for logs and the
    /// rejection log, never for the SMTP reply.
    pub fn summary(&self) -> String {
        format!(
            "rspamd {:.2}/{:.2} ({}; {})",
            self.score,
            self.required_score,
            self.action,
            self.symbols.join(", ")
        )
    }
}

/// The SMTP session around a message, for rspamd's request headers.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    pub session: SmtpSession,
    pub recipients: Vec<String>,
    /// The SASL login of an authenticated submission.
    pub user: Option<String>,
}

/// Why rspamd gave no verdict or took no lesson.
#[derive(Debug, thiserror::Error)]
pub enum RspamdError {
    /// Unreachable, timed out, or the connection broke.
    #[error("cannot reach rspamd: {0}")]
    Unreachable(String),
    /// rspamd answered with an error status: 5xx is its own trouble,
    /// 4xx is about the request (a lesson it will never take).
    #[error("rspamd answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("cannot read rspamd's answer: {0}")]
    Answer(String),
}

impl RspamdError {
    /// Worth asking again later (rspamd down, busy or failing).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500,
            Self::Unreachable(_) | Self::Answer(_) => true,
        }
    }
}

/// The endpoint that teaches rspamd a class.
fn endpoint(class: SpamClass) -> &'static str {
    match class {
        SpamClass::Spam => "/learnspam",
        SpamClass::Ham => "/learnham",
    }
}

/// A client of one rspamd (its controller serves checks and lessons).
#[derive(Clone)]
pub struct Rspamd {
    base_url: String,
    password: Option<String>,
    agent: ureq::Agent,
}

impl fmt::Debug for Rspamd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rspamd")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// rspamd's answers are small; more is not an answer of rspamd's.
const MAX_ANSWER: u64 = 1024 * 1024;

impl Rspamd {
    /// `timeout` bounds each request as a whole, connecting included.
    pub fn new(base_url: &str, password: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            password: Some(password.to_owned()).filter(|p| !p.is_empty()),
            agent,
        }
    }

    /// Asks for a verdict on `message` (blocking: call it off the async
    /// thread).
    pub fn check(&self, envelope: &Envelope, message: &[u8]) -> Result<Scan, RspamdError> {
        let mut request = self.agent.post(format!("{}/checkv2", self.base_url));
        for (name, value) in envelope_headers(envelope) {
            request = request.header(name, value);
        }
        if let Some(password) = &self.password {
            request = request.header("Password", password);
        }
        let body = answer(request.send(message))?;
        parse_scan(&body)
    }

    /// Teaches rspamd that `message` is spam or ham (blocking).
    pub fn learn(&self, class: SpamClass, message: &[u8]) -> Result<(), RspamdError> {
        let mut request = self
            .agent
            .post(format!("{}{}", self.base_url, endpoint(class)));
        if let Some(password) = &self.password {
            request = request.header("Password", password);
        }
        answer(request.send(message)).map(|_| ())
    }
}

/// The body of a 2xx answer; anything else is an error.
fn answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<String, RspamdError> {
    let mut response = response.map_err(|e| RspamdError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_string()
        .map_err(|e| RspamdError::Answer(e.to_string()))?;
    if !(200..300).contains(&status) {
        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(RspamdError::Status {
            status,
            body: teaminbox_store::address::printable(&body)
                .chars()
                .take(300)
                .collect(),
        });
    }
    Ok(body)
}

/// rspamd's request headers for the session: what the MTA and our checks
/// know, so that rspamd judges the client, not our loopback connection.
/// A value that could not be a header value (controls, non-ASCII) is left
/// out rather than sent.
fn envelope_headers(envelope: &Envelope) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Queue-Id", envelope.session.queue_id.clone()),
        ("IP", envelope.session.client_address.clone()),
        ("Hostname", Some(envelope.session.client_name.clone())),
        ("Helo", Some(envelope.session.helo.clone())),
        ("From", Some(envelope.session.mail_from.clone())),
        ("User", envelope.user.clone()),
    ];
    headers.extend(
        envelope
            .recipients
            .iter()
            .map(|r| ("Rcpt", Some(r.clone()))),
    );
    headers
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .filter(|(_, value)| !value.is_empty() && value.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .collect()
}

#[derive(Deserialize)]
struct CheckAnswer {
    action: String,
    score: f64,
    required_score: f64,
    #[serde(default)]
    symbols: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

fn parse_scan(body: &str) -> Result<Scan, RspamdError> {
    let answer: CheckAnswer =
        serde_json::from_str(body).map_err(|e| RspamdError::Answer(e.to_string()))?;
    let action = answer.action.parse::<Action>().map_err(|_| {
        RspamdError::Answer(format!(
            "unknown action `{}`",
            teaminbox_store::address::printable(&answer.action)
        ))
    })?;
    Ok(Scan {
        action,
        score: answer.score,
        required_score: answer.required_score,
        symbols: answer.symbols.into_keys().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_answer_gives_action_score_and_symbol_names() {
        let scan = parse_scan(
            r#"{"is_skipped":false,"score":7.5,"required_score":15.0,"action":"add header",
               "symbols":{"GTUBE":{"name":"GTUBE","score":0.0},"BAYES_SPAM":{"score":5.1}},
               "messages":{"smtp_message":"Gtube pattern"}}"#,
        )
        .unwrap();
        assert_eq!(scan.action, Action::AddHeader);
        assert_eq!(scan.score, 7.5);
        assert_eq!(scan.symbols, ["BAYES_SPAM", "GTUBE"]);
        assert_eq!(
            scan.summary(),
            "rspamd 7.50/15.00 (add header; BAYES_SPAM, GTUBE)"
        );
        assert!(parse_scan(r#"{"action":"drop it","score":1,"required_score":2}"#).is_err());
        assert!(parse_scan("<html>").is_err());
    }

    #[test]
    fn header_values_that_could_break_a_header_are_left_out() {
        let envelope = Envelope {
            session: SmtpSession {
                helo: "evil\r\nX-Injected: 1".into(),
                mail_from: "alice@example.org".into(),
                ..Default::default()
            },
            recipients: vec!["a@inbox.example".into(), "b@inbox.example".into()],
            ..Default::default()
        };
        let headers = envelope_headers(&envelope);
        assert!(!headers.iter().any(|(name, _)| *name == "Helo"));
        assert_eq!(
            headers.iter().filter(|(name, _)| *name == "Rcpt").count(),
            2
        );
        assert!(headers.contains(&("From", "alice@example.org".into())));
    }
}
