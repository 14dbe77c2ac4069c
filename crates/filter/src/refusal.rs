//! The SMTP replies the milter refuses with. Each names what was wrong and,
//! where the sender can do something, what to do.

use bytesize::ByteSize;
use indymilter::{SetErrorReply, Status};
use teaminbox_store::address::printable;
use teaminbox_telemetry::metrics::{metrics, Refused};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What was wrong, as one word for metrics (`unknown_address`).
    pub reason: &'static str,
    pub code: &'static str,
    pub enhanced: &'static str,
    pub text: String,
}

impl Refusal {
    /// Counts this refusal in the metrics, as refusing `what`.
    pub fn count(&self, what: Refused) {
        metrics().refused(what, self.reason, self.code, self.enhanced);
    }

    pub fn unknown_address(address: &str) -> Self {
        Self {
            reason: "unknown_address",
            code: "550",
            enhanced: "5.1.1",
            text: format!(
                "<{}>: no team inbox has this hosted forwarding address",
                printable(address)
            ),
        }
    }

    pub fn disabled_address(address: &str) -> Self {
        Self {
            reason: "disabled_address",
            code: "550",
            enhanced: "5.2.1",
            text: format!(
                "<{}>: this team inbox is disabled and does not take mail",
                printable(address)
            ),
        }
    }

    pub fn too_big(limit: u64) -> Self {
        Self {
            reason: "too_big",
            code: "552",
            enhanced: "5.3.4",
            text: format!(
                "Message too big: hosted inboxes take at most {limit} bytes ({})",
                ByteSize::b(limit).display().iec()
            ),
        }
    }

    pub fn lookup_failed(address: &str) -> Self {
        Self {
            reason: "lookup_failed",
            code: "451",
            enhanced: "4.3.0",
            text: format!(
                "<{}>: temporary failure looking up this address; try again later",
                printable(address)
            ),
        }
    }

    /// `why` names domains from the message and the envelope; it is
    /// escaped here, as a whole, like `domain`.
    pub fn dmarc_reject(domain: &str, why: &str) -> Self {
        Self {
            reason: "dmarc_reject",
            code: "550",
            enhanced: "5.7.1",
            text: format!(
                "DMARC policy of {} rejects this message: {}",
                printable(domain),
                printable(why)
            ),
        }
    }

    pub fn spf_reject(spf_domain: &str, from_domain: &str) -> Self {
        Self {
            reason: "spf_reject",
            code: "550",
            enhanced: "5.7.23",
            text: format!(
                "SPF of {} does not allow this server to send its mail, and no DKIM signature of {} vouches for it",
                printable(spf_domain),
                printable(from_domain)
            ),
        }
    }

    /// A DNS lookup that would decide the outcome failed: never a guess.
    pub fn dns_failure(what: &str, domain: &str) -> Self {
        Self {
            reason: "dns_failure",
            code: "451",
            enhanced: "4.7.24",
            text: format!(
                "Temporary DNS failure checking {what} for {}; try again later",
                printable(domain)
            ),
        }
    }

    /// The checks did not finish within `[security] check_timeout`
    /// (`deadline`, as "20s"): a silent name server, most likely.
    pub fn checks_timed_out(deadline: &str) -> Self {
        Self {
            reason: "checks_timed_out",
            code: "451",
            enhanced: "4.7.24",
            text: format!(
                "SPF, DKIM, ARC and DMARC checks did not finish within {deadline}; try again later"
            ),
        }
    }

    /// DMARC evaluates a message against the one domain of its author:
    /// a message with no From address, several From fields, or several
    /// addresses in its From cannot be evaluated, so it is refused, as
    /// large receivers do (RFC 7489 section 6.6.1 leaves it to the
    /// receiver).
    /// `fields`: its From header fields; `addresses`: the addresses in all
    /// of them.
    pub fn not_one_author(fields: usize, addresses: usize) -> Self {
        let problem = match (fields, addresses) {
            (0, _) => "message has no From header field".to_owned(),
            (f, _) if f > 1 => format!("message has {f} From header fields"),
            (_, 0) => "message has no address in its From".to_owned(),
            (_, n) => format!("message has {n} From addresses"),
        };
        Self {
            reason: "not_one_author",
            code: "550",
            enhanced: "5.7.1",
            text: format!("{problem}; DMARC needs exactly one author"),
        }
    }

    pub fn denied(matched: &str) -> Self {
        Self {
            reason: "denied",
            code: "550",
            enhanced: "5.7.1",
            text: format!(
                "Refused by this server's deny list ({})",
                printable(matched)
            ),
        }
    }

    /// rspamd's `reject`. A fixed text: rspamd's symbols name its rules,
    /// which are no business of the sender (they go to the rejection log).
    pub fn spam() -> Self {
        Self {
            reason: "spam",
            code: "550",
            enhanced: "5.7.1",
            text: "Message refused as spam by this server's content filter".into(),
        }
    }

    /// rspamd's `soft reject` or `greylist`.
    pub fn spam_deferred() -> Self {
        Self {
            reason: "spam_deferred",
            code: "451",
            enhanced: "4.7.1",
            text: "Message deferred by this server's content filter; try again later".into(),
        }
    }

    /// rspamd could not be asked, with `[spam] on_error = "tempfail"`.
    pub fn spam_check_failed() -> Self {
        Self {
            reason: "spam_check_failed",
            code: "451",
            enhanced: "4.7.1",
            text: "Temporary failure checking the message for spam; try again later".into(),
        }
    }

    pub fn store_failed() -> Self {
        Self {
            reason: "store_failed",
            code: "451",
            enhanced: "4.3.0",
            text: "Temporary failure storing the message; try again later".into(),
        }
    }

    /// The memory for messages at end of message (`[milter] max_memory`)
    /// stayed taken by other sessions.
    pub fn memory_exhausted() -> Self {
        Self {
            reason: "memory_exhausted",
            code: "451",
            enhanced: "4.3.2",
            text: "Too many large messages being received at once; try again later".into(),
        }
    }

    /// Sets this reply on the MTA context and returns the matching status.
    pub fn apply(&self, reply: &mut impl SetErrorReply) -> Status {
        // The text is ours and printable; this cannot fail, but if it did
        // the MTA's default reply for the status is still a refusal.
        let _ = reply.set_error_reply(self.code, Some(self.enhanced), [self.wire_text()]);
        if self.code.starts_with('4') {
            Status::Tempfail
        } else {
            Status::Reject
        }
    }
}

impl Refusal {
    /// The text as the milter protocol carries it: Postfix and Sendmail
    /// read `%` as an escape (`%%` is one `%`, and a lone one vanishes), so
    /// an address like `50%off@...` would otherwise reach the client
    /// changed. `text` itself, as logged, stays as it is.
    fn wire_text(&self) -> String {
        self.text.replace('%', "%%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_refusal_states_the_limit() {
        let r = Refusal::too_big(31_457_280);
        assert_eq!((r.code, r.enhanced), ("552", "5.3.4"));
        assert!(r.text.contains("31457280 bytes (30.0 MiB)"), "{}", r.text);
    }

    #[test]
    fn addresses_from_outside_cannot_break_the_reply() {
        let r = Refusal::unknown_address("a\r\n250 ok@inbox.example.com");
        assert!(!r.text.contains('\r') && !r.text.contains('\n'));
    }

    #[test]
    fn domains_from_outside_are_escaped() {
        let evil = "ex\u{1b}[2Jample.com\r\n250 ok";
        for r in [
            Refusal::dmarc_reject(evil, &format!("SPF fail for {evil}")),
            Refusal::spf_reject(evil, evil),
            Refusal::dns_failure("DMARC", evil),
        ] {
            assert!(!r.text.chars().any(|c| c.is_control()), "{}", r.text);
            assert!(
                r.text.contains("ex\\u{1b}[2Jample.com\\r\\n250 ok"),
                "{}",
                r.text
            );
        }
    }

    #[test]
    fn a_message_without_exactly_one_author_is_told_why() {
        let text = |fields, addresses| Refusal::not_one_author(fields, addresses).text;
        assert_eq!(
            text(1, 2),
            "message has 2 From addresses; DMARC needs exactly one author"
        );
        assert_eq!(
            text(2, 2),
            "message has 2 From header fields; DMARC needs exactly one author"
        );
        assert_eq!(
            text(0, 0),
            "message has no From header field; DMARC needs exactly one author"
        );
        assert_eq!(
            text(1, 0),
            "message has no address in its From; DMARC needs exactly one author"
        );
        let r = Refusal::not_one_author(1, 3);
        assert_eq!((r.code, r.enhanced), ("550", "5.7.1"));
    }

    #[test]
    fn percent_signs_are_escaped_on_the_wire_only() {
        let r = Refusal::unknown_address("50%off@inbox.example.com");
        assert!(r.text.contains("<50%off@inbox.example.com>"), "{}", r.text);
        assert!(r.wire_text().contains("<50%%off@inbox.example.com>"));
    }
}
