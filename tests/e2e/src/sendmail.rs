//! A real Sendmail in a Docker container, for end-to-end tests.
//!
//! The image is built by `sendmail/image/build` (run by `tests/run`), whose
//! entrypoint (`sendmail/image/entrypoint`) builds `sendmail.cf` from
//! environment variables.  Like [`Postfix`], the container runs with
//! `--network host` and binds 127.0.0.1 only.  Mail for other domains is
//! relayed to the `smtp-sink` of a milter-less [`Postfix`] container, which
//! captures it (Sendmail's image has no sink of its own).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::container;
use crate::postfix::{docker, is_listening, run};
use crate::{free_port, open_socket_permissions, Captured, Postfix, PostfixOptions};

/// Environment variable with the image name, exported by `tests/run`.
pub const SENDMAIL_IMAGE_ENV: &str = "TEAMINBOX_TEST_SENDMAIL_IMAGE";

/// How to start Sendmail.  Use `..Default::default()` for the rest.
#[derive(Clone, Debug)]
pub struct SendmailOptions {
    /// The milter's socket as `INPUT_MAIL_FILTER`'s `S=` takes it, e.g.
    /// `unix:/tmp/x/milter.sock`; `None`: no milter.
    pub milter: Option<String>,
    /// Host directory bind-mounted at the same path in the container (the
    /// milter socket's directory).
    pub socket_dir: Option<PathBuf>,
    /// Domains relayed to the milter; what it lets through is deferred.
    pub hosted_domains: Vec<String>,
    /// `MaxMessageSize` in bytes.
    pub message_size_limit: u64,
    /// Relay other domains to a capturing smtp-sink ([`Sendmail::captured_full`]).
    /// Without it, their mail is deferred.
    pub capture: bool,
    /// Extra `sendmail.mc` lines.
    pub extra_mc: Vec<String>,
}

impl Default for SendmailOptions {
    fn default() -> Self {
        SendmailOptions {
            milter: None,
            socket_dir: None,
            hosted_domains: vec!["inbox.example.com".into()],
            // As for Postfix: above the milter's 30 MiB, so that the milter
            // decides about a message of that size.
            message_size_limit: 40 * 1024 * 1024,
            capture: true,
            extra_mc: Vec::new(),
        }
    }
}

/// A running Sendmail container; removed on drop (its log is printed to
/// stderr first if the test is panicking).
pub struct Sendmail {
    name: String,
    smtp_port: u16,
    /// The capturing relay: a Postfix container without a milter.
    sink: Option<Postfix>,
}

impl Sendmail {
    /// Starts a container and waits until Sendmail listens.  Panics with its
    /// log if it does not come up within 30 s, and with instructions if
    /// `TEAMINBOX_TEST_SENDMAIL_IMAGE` is unset.
    pub fn start(opts: SendmailOptions) -> Sendmail {
        let image =
            container::image_from_env(SENDMAIL_IMAGE_ENV, "Sendmail", "sendmail/image/build");
        if let Some(dir) = &opts.socket_dir {
            open_socket_permissions(dir);
        }
        // The relay for other domains: smtp-sink in a Postfix container.
        let mut sink = opts.capture.then(|| {
            Postfix::start(PostfixOptions {
                hosted_domains: Vec::new(),
                ..Default::default()
            })
        });
        let relay_port = sink.as_ref().map_or(1, Postfix::relay_port);
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match Self::try_start(&image, &opts, relay_port) {
                Ok(mut sendmail) => {
                    sendmail.sink = sink.take();
                    return sendmail;
                }
                Err(failure) => last_failure = failure,
            }
        }
        panic!("Sendmail did not start:\n{last_failure}");
    }

    fn try_start(image: &str, opts: &SendmailOptions, relay_port: u16) -> Result<Sendmail, String> {
        let name = container::unique_name("sendmail");
        let smtp_port = free_port();
        let mut cmd = container::docker_run(
            &name,
            &container::MtaEnv {
                smtp_port,
                relay_port,
                hosted_domains: &opts.hosted_domains,
                message_size_limit: opts.message_size_limit,
                milter: opts.milter.as_deref(),
                socket_dir: opts.socket_dir.as_deref(),
            },
        );
        if !opts.extra_mc.is_empty() {
            cmd.args([
                "-e",
                &format!("SENDMAIL_EXTRA={}", opts.extra_mc.join("\n")),
            ]);
        }
        cmd.arg(image);
        let out = run(&mut cmd);
        if !out.status.success() {
            let _ = run(docker().args(["rm", "-f", &name]));
            panic!(
                "docker run failed (is the daemon running? use tests/run): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let sendmail = Sendmail {
            name,
            smtp_port,
            sink: None,
        };
        sendmail.wait_ready()?;
        Ok(sendmail)
    }

    /// Until the daemon logs that it started: it listens from then on.  Not
    /// by connecting, which would reach the milter.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if is_listening(self.smtp_port) && self.logs().contains("starting daemon") {
                return Ok(());
            }
            if !container::is_running(&self.name) {
                return Err(format!(
                    "container {} exited; its log:\n{}",
                    self.name,
                    self.logs()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no listener on 127.0.0.1:{} within 30 s; log of {}:\n{}",
                    self.smtp_port,
                    self.name,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The container's name (for `docker exec` by hand).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where Sendmail listens: 127.0.0.1 and a free port.
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtp_port))
    }

    /// Messages relayed to the capturing sink so far, oldest first.  Panics
    /// without `capture`.
    pub fn captured_full(&self) -> Vec<Captured> {
        self.sink().captured_full()
    }

    /// Waits until at least `n` messages were relayed; panics (with the
    /// Sendmail log and queue) after `timeout`.
    pub fn wait_captured_full(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        container::wait_captured(
            n,
            timeout,
            || self.captured_full(),
            || format!("queue:\n{}\nlog:\n{}", self.queue(), self.logs()),
        )
    }

    fn sink(&self) -> &Postfix {
        self.sink
            .as_ref()
            .expect("Sendmail was started without capture: true")
    }

    /// The mail log so far (`docker logs`: the entrypoint prints syslog).
    pub fn logs(&self) -> String {
        container::logs(&self.name)
    }

    /// Waits until the log contains `needle`; returns the log.  Panics with
    /// the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        container::wait_for_log(&self.name, "Sendmail", needle, timeout)
    }

    /// Runs a command in the container (as root) and returns its output.
    pub fn exec(&self, args: &[&str]) -> Output {
        container::exec(&self.name, args)
    }

    /// `mailq` output.
    pub fn queue(&self) -> String {
        String::from_utf8_lossy(&self.exec(&["mailq"]).stdout).into_owned()
    }

    /// No message waits in Sendmail's queue.
    pub fn queue_is_empty(&self) -> bool {
        let out = self.exec(&["sh", "-c", "ls /var/spool/mqueue | grep -c '^qf' || true"]);
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    }

    /// Waits up to `timeout` for the queue to be empty; returns whether it is.
    pub fn wait_queue_empty(&self, timeout: Duration) -> bool {
        container::poll_until(timeout, Duration::from_millis(200), || {
            self.queue_is_empty()
        })
    }
}

impl Drop for Sendmail {
    fn drop(&mut self) {
        container::remove(&self.name, "Sendmail");
    }
}
