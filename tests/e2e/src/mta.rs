//! What the end-to-end tests need of an MTA, so that one test body checks a
//! behaviour through Postfix and through Sendmail alike.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::{Captured, Postfix, PostfixOptions, Sendmail, SendmailOptions};

/// The MTAs the milter is tested behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtaKind {
    Postfix,
    Sendmail,
}

/// A running MTA in a container, with a capturing relay for other domains.
pub trait Mta {
    fn kind(&self) -> MtaKind;
    /// Where it takes SMTP.
    fn smtp_addr(&self) -> SocketAddr;
    /// Waits until at least `n` messages were relayed to other domains;
    /// panics with the MTA's log and queue after `timeout`.
    fn wait_captured_full(&self, n: usize, timeout: Duration) -> Vec<Captured>;
    /// Waits up to `timeout` until nothing is queued; returns whether so.
    fn wait_queue_empty(&self, timeout: Duration) -> bool;
    /// The queue listing, for messages.
    fn queue(&self) -> String;
    /// The mail log so far.
    fn logs(&self) -> String;
    /// Whether the log says the MTA discarded message `queue_id` on the
    /// milter's word (delivered nowhere, kept nowhere).
    fn discarded(&self, queue_id: &str) -> bool;
}

impl MtaKind {
    pub const ALL: [MtaKind; 2] = [MtaKind::Postfix, MtaKind::Sendmail];

    /// Starts this MTA with the milter at the UNIX socket `socket` (its
    /// directory is shared with the container) for `hosted_domains`; mail
    /// for other domains is captured.
    pub fn start_with_milter(self, socket: &Path, hosted_domains: &[&str]) -> Box<dyn Mta> {
        let milter = Some(format!("unix:{}", socket.display()));
        let socket_dir = Some(socket.parent().expect("socket in a directory").to_owned());
        let hosted_domains = hosted_domains.iter().map(|d| d.to_string()).collect();
        match self {
            MtaKind::Postfix => Box::new(Postfix::start(PostfixOptions {
                milter,
                socket_dir,
                hosted_domains,
                ..Default::default()
            })),
            MtaKind::Sendmail => Box::new(Sendmail::start(SendmailOptions {
                milter,
                socket_dir,
                hosted_domains,
                ..Default::default()
            })),
        }
    }
}

impl Mta for Postfix {
    fn kind(&self) -> MtaKind {
        MtaKind::Postfix
    }
    fn smtp_addr(&self) -> SocketAddr {
        Postfix::smtp_addr(self)
    }
    fn wait_captured_full(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        Postfix::wait_captured_full(self, n, timeout)
    }
    fn wait_queue_empty(&self, timeout: Duration) -> bool {
        Postfix::wait_queue_empty(self, timeout)
    }
    fn queue(&self) -> String {
        Postfix::queue(self)
    }
    fn logs(&self) -> String {
        Postfix::logs(self)
    }
    fn discarded(&self, queue_id: &str) -> bool {
        // cleanup: "<id>: milter-discard: END-OF-MESSAGE from ...: milter triggers DISCARD action"
        Postfix::logs(self)
            .lines()
            .any(|l| l.contains(&format!("{queue_id}: milter-discard:")))
    }
}

impl Mta for Sendmail {
    fn kind(&self) -> MtaKind {
        MtaKind::Sendmail
    }
    fn smtp_addr(&self) -> SocketAddr {
        Sendmail::smtp_addr(self)
    }
    fn wait_captured_full(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        Sendmail::wait_captured_full(self, n, timeout)
    }
    fn wait_queue_empty(&self, timeout: Duration) -> bool {
        Sendmail::wait_queue_empty(self, timeout)
    }
    fn queue(&self) -> String {
        Sendmail::queue(self)
    }
    fn logs(&self) -> String {
        Sendmail::logs(self)
    }
    fn discarded(&self, queue_id: &str) -> bool {
        // "<id>: Milter: data, discard"
        Sendmail::logs(self)
            .lines()
            .any(|l| l.contains(&format!("{queue_id}: Milter")) && l.contains("discard"))
    }
}
