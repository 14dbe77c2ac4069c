//! End-to-end test harness for teaminbox.
//!
//! * [`Postfix`]: a real Postfix 3.7 (Debian bookworm) in a Docker container
//!   on the host network, listening on 127.0.0.1 only, with the milter of
//!   your choice, and optionally an `smtp-sink` relay that captures the mail
//!   Postfix passes on to outside recipients.
//! * [`Sendmail`]: a real Sendmail 8.17 (Debian bookworm) in a container, set
//!   up the same way, relaying other domains to a capturing `smtp-sink`.
//! * [`Mta`] / [`MtaKind`]: what a test needs of either, so one test body
//!   checks a behaviour through both.
//! * [`SmtpSession`] / [`send_message`]: a small blocking SMTP client that
//!   records every reply, so tests can assert exact codes.
//! * [`swaks`]: Debian's swaks, as a second, third-party client.
//! * [`free_port`]: a free TCP port on 127.0.0.1.
//! * [`PostgresCluster`]: a PostgreSQL cluster of a test's own, which it
//!   may stop and start.
//! * [`Rspamd`]: a real rspamd with a Redis of its own for Bayes, which a
//!   test may stop and start.
//!
//! The image and the Docker daemon come from `tests/run`, which exports
//! `TEAMINBOX_TEST_POSTFIX_IMAGE` and `TEAMINBOX_TEST_SENDMAIL_IMAGE` (and `DOCKER_HOST` when it started its own
//! daemon).  Everything stays on 127.0.0.1.

mod container;
mod mta;
mod postfix;
mod postgres;
mod rspamd;
mod sendmail;
mod smtp;

pub use mta::{Mta, MtaKind};
pub use postfix::{open_socket_permissions, Captured, Postfix, PostfixOptions, IMAGE_ENV};
pub use postgres::PostgresCluster;
pub use rspamd::{Rspamd, GTUBE, GTUBE_ADD_HEADER, RSPAMD_PASSWORD};
pub use sendmail::{Sendmail, SendmailOptions, SENDMAIL_IMAGE_ENV};
pub use smtp::{send_message, swaks, Reply, SmtpSession, Transcript};

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is found by binding 127.0.0.1:0 and closing the listener again,
/// so another process could still take it; within this process no port is
/// handed out twice, so parallel tests (threads) never collide.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("cannot bind a TCP socket on 127.0.0.1");
        let port = listener.local_addr().expect("local_addr").port();
        if given.insert(port) {
            return port;
        }
    }
}
