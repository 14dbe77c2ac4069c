//! A real Postfix in a Docker container, for end-to-end tests.
//!
//! The image is built by `postfix/image/build` (run by `tests/run`), whose
//! entrypoint (`postfix/image/entrypoint`) configures Postfix from
//! environment variables.  Containers run with `--network host` and bind
//! 127.0.0.1 only, so the milter socket, the SMTP port and the capture relay
//! are all reachable at the same addresses from the test and from Postfix.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::{container, free_port};

/// Environment variable with the image name, exported by `tests/run`.
pub const IMAGE_ENV: &str = "TEAMINBOX_TEST_POSTFIX_IMAGE";
/// Optional: the docker client to use (default `docker` from PATH).
const DOCKER_ENV: &str = "TEAMINBOX_TEST_DOCKER";
/// Where the entrypoint records smtp-sink's pid inside the container.
const SINK_PID_FILE: &str = "/run/teaminbox-smtp-sink.pid";
/// Label on every container the harness starts, so a crashed test run's
/// leftovers can be found (`docker ps -a --filter label=teaminbox-e2e`).
pub(crate) const LABEL: &str = "teaminbox-e2e";

/// How to start Postfix.  Use `..Default::default()` for the rest.
#[derive(Clone, Debug)]
pub struct PostfixOptions {
    /// `smtpd_milters` value, e.g. `unix:/tmp/x/milter.sock`; `None`: no milter.
    pub milter: Option<String>,
    /// Host directory bind-mounted at the same path in the container (the
    /// milter socket's directory).  Its mode is opened to 0755 and sockets in
    /// it to 0666, see [`open_socket_permissions`].
    pub socket_dir: Option<PathBuf>,
    /// Domains Postfix accepts mail for (and leaves to the milter); mail for
    /// them that the milter lets through is deferred, never delivered.
    pub hosted_domains: Vec<String>,
    /// Postfix `message_size_limit` in bytes.
    pub message_size_limit: u64,
    /// Run smtp-sink as the relay for other domains and capture what it
    /// receives ([`Postfix::captured`]).  Without it, outside mail is
    /// deferred (the relay port has no listener).
    pub capture: bool,
    /// Extra main.cf lines, e.g. `"milter_command_timeout = 5s"`.
    pub extra_main_cf: Vec<String>,
}

impl Default for PostfixOptions {
    fn default() -> Self {
        PostfixOptions {
            milter: None,
            socket_dir: None,
            hosted_domains: vec!["inbox.example.com".into()],
            // 40 MiB: above the milter's 30 MiB limit, so that the milter and
            // not Postfix decides about a 30 MiB message (Postfix counts the
            // envelope and its own Received: header too).
            message_size_limit: 40 * 1024 * 1024,
            capture: true,
            extra_main_cf: Vec::new(),
        }
    }
}

/// A message captured by the smtp-sink relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The capture file (host path).
    pub path: PathBuf,
    /// Argument of the relaying client's MAIL command, e.g. `<a@b.example>`
    /// possibly followed by ESMTP parameters.
    pub mail_args: String,
    /// Arguments of each RCPT command, e.g. `<x@y.example> ORCPT=rfc822;x@y.example`.
    pub rcpt_args: Vec<String>,
    /// The message (headers and body) as Postfix relayed it, dot-unstuffed.
    /// Note: smtp-sink stores lines with LF endings (it drops every CR).
    pub message: Vec<u8>,
}

impl Captured {
    /// The envelope sender, without angle brackets and parameters.
    pub fn sender(&self) -> String {
        strip_addr(&self.mail_args)
    }

    /// The envelope recipients, without angle brackets and parameters.
    pub fn recipients(&self) -> Vec<String> {
        self.rcpt_args.iter().map(|a| strip_addr(a)).collect()
    }

    /// The message as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.message).into_owned()
    }
}

fn strip_addr(args: &str) -> String {
    let first = args.split_whitespace().next().unwrap_or("");
    first
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// A running Postfix container; removed on drop (its log is printed to
/// stderr first if the test is panicking).
pub struct Postfix {
    name: String,
    smtp_port: u16,
    relay_port: u16,
    sink_dir: Option<PathBuf>,
}

impl Postfix {
    /// Starts a container and waits until Postfix listens (and, without a
    /// milter, until it answers with a 220 banner: with a milter every probe
    /// connection would also reach the milter, so only the listening socket
    /// is checked).  Panics with Postfix's log if it does not come up within
    /// 30 s, and with instructions if `TEAMINBOX_TEST_POSTFIX_IMAGE` is unset.
    pub fn start(opts: PostfixOptions) -> Postfix {
        let image = container::image_from_env(IMAGE_ENV, "Postfix", "postfix/image/build");
        if let Some(dir) = &opts.socket_dir {
            open_socket_permissions(dir);
        }
        // A port taken between free_port() and Postfix's bind makes the
        // container exit; try again with other ports.
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match Self::try_start(&image, &opts) {
                Ok(postfix) => return postfix,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("Postfix did not start:\n{last_failure}");
    }

    fn try_start(image: &str, opts: &PostfixOptions) -> Result<Postfix, String> {
        let name = container::unique_name("postfix");
        let smtp_port = free_port();
        let relay_port = free_port();
        let sink_dir = opts
            .capture
            .then(|| std::env::temp_dir().join(format!("{name}-sink")));

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
        if !opts.extra_main_cf.is_empty() {
            cmd.args([
                "-e",
                &format!("POSTFIX_EXTRA={}", opts.extra_main_cf.join("\n")),
            ]);
        }
        if let Some(dir) = &sink_dir {
            let _ = fs::remove_dir_all(dir);
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            let dir = dir.to_str().expect("temp dir must be UTF-8");
            cmd.args(["-v", &format!("{dir}:{dir}")])
                .args(["-e", &format!("SINK_DIR={dir}")]);
        }
        cmd.arg(image);
        let out = run(&mut cmd);
        if !out.status.success() {
            let _ = run(docker().args(["rm", "-f", &name]));
            if let Some(dir) = &sink_dir {
                let _ = fs::remove_dir_all(dir);
            }
            panic!(
                "docker run failed (is the daemon running? use tests/run): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // From here on, Drop cleans up.
        let postfix = Postfix {
            name,
            smtp_port,
            relay_port,
            sink_dir,
        };
        postfix.wait_ready(opts.milter.is_none())?;
        Ok(postfix)
    }

    fn wait_ready(&self, probe_banner: bool) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut next_state_check = Instant::now();
        loop {
            let smtp_up = is_listening(self.smtp_port);
            let sink_up = self.sink_dir.is_none() || is_listening(self.relay_port);
            if smtp_up && sink_up {
                break;
            }
            if Instant::now() >= next_state_check {
                // A container that exited (bad config, port taken) never
                // comes up; say so at once instead of after 30 s.
                if !self.is_running() {
                    return Err(format!(
                        "container {} exited; its log:\n{}",
                        self.name,
                        self.logs()
                    ));
                }
                next_state_check = Instant::now() + Duration::from_millis(500);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no listener on 127.0.0.1:{} within 30 s; log of {}:\n{}",
                    self.smtp_port,
                    self.name,
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if probe_banner {
            let banner = read_banner(self.smtp_addr());
            if !banner.starts_with("220 ") {
                return Err(format!(
                    "unexpected banner {banner:?}; log:\n{}",
                    self.logs()
                ));
            }
        }
        Ok(())
    }

    /// The container's name (for `docker exec` by hand).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where Postfix's smtpd listens: 127.0.0.1 and a free port.
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.smtp_port))
    }

    /// Port of the relay for outside recipients (smtp-sink with `capture`).
    pub fn relay_port(&self) -> u16 {
        self.relay_port
    }

    /// Messages the smtp-sink relay has completely received so far, oldest
    /// first (headers and body, LF line endings).  Panics without `capture`.
    pub fn captured(&self) -> Vec<Vec<u8>> {
        self.captured_full()
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    /// Like [`Postfix::captured`], with the envelope smtp-sink saw.
    pub fn captured_full(&self) -> Vec<Captured> {
        let dir = self
            .sink_dir
            .as_ref()
            .expect("Postfix was started without capture: true");
        // smtp-sink creates the file at MAIL FROM and closes it after the
        // final dot, before it answers 250.  Files it still holds open are
        // transactions in progress (or aborted ones about to be deleted).
        let open = self.sink_open_files();
        let mut files: Vec<(SystemTime, PathBuf)> = Vec::new();
        for entry in walk(dir) {
            if open.iter().any(|o| Path::new(o) == entry) {
                continue;
            }
            let mtime = fs::metadata(&entry)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            files.push((mtime, entry));
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| match fs::read(&path) {
                Ok(bytes) => Some(parse_capture(path, &bytes)),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => panic!("read {}: {e}", path.display()),
            })
            .collect()
    }

    /// Waits until at least `n` messages were captured; panics (with the
    /// Postfix log and queue) after `timeout`.
    pub fn wait_captured(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        self.wait_captured_full(n, timeout)
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    /// Like [`Postfix::wait_captured`], with the envelope.
    pub fn wait_captured_full(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        container::wait_captured(
            n,
            timeout,
            || self.captured_full(),
            || format!("queue:\n{}\nlog:\n{}", self.queue(), self.logs()),
        )
    }

    fn sink_open_files(&self) -> Vec<String> {
        // The container's root can read /proc/<pid>/fd of smtp-sink because
        // smtp-sink runs as root too (-u root in the entrypoint). A
        // descriptor closed between the listing and its readlink is simply
        // no longer open (readlink then fails without a word).
        let script = format!(
            "cd /proc/$(cat {SINK_PID_FILE})/fd && for f in *; do readlink \"$f\" || :; done"
        );
        let out = self.exec(&["sh", "-c", &script]);
        if !out.status.success() {
            panic!(
                "cannot list smtp-sink's open files: {}\nlog:\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The Postfix log so far (`docker logs`, stdout and stderr).
    pub fn logs(&self) -> String {
        container::logs(&self.name)
    }

    /// Waits until the log contains `needle`; returns the log.  Panics with
    /// the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        container::wait_for_log(&self.name, "Postfix", needle, timeout)
    }

    /// Runs a command in the container (as root) and returns its output.
    pub fn exec(&self, args: &[&str]) -> Output {
        container::exec(&self.name, args)
    }

    /// `postqueue -f`: retry every queued message now.
    pub fn flush_queue(&self) {
        let out = self.exec(&["postqueue", "-f"]);
        assert!(
            out.status.success(),
            "postqueue -f failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `postqueue -p` output.
    pub fn queue(&self) -> String {
        String::from_utf8_lossy(&self.exec(&["postqueue", "-p"]).stdout).into_owned()
    }

    /// No message is queued (active, deferred, hold, ...).
    pub fn queue_is_empty(&self) -> bool {
        self.queue().contains("Mail queue is empty")
    }

    /// Waits up to `timeout` for the queue to be empty; returns whether it is.
    pub fn wait_queue_empty(&self, timeout: Duration) -> bool {
        container::poll_until(timeout, Duration::from_millis(200), || {
            self.queue_is_empty()
        })
    }

    fn is_running(&self) -> bool {
        container::is_running(&self.name)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        container::remove(&self.name, "Postfix");
        if let Some(dir) = &self.sink_dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Makes a milter socket directory usable by Postfix in the container:
/// smtpd runs as the `postfix` user there (uid 100), which needs search
/// permission on the directory and write permission on the socket.  Sets
/// the directory to 0755 and every socket already in it to 0666.  Call it
/// again after (re)creating a socket once Postfix is running, or give the
/// milter `socket_mode = "0666"`.
pub fn open_socket_permissions(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod 0755 {}: {e}", dir.display()));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_socket()) {
                let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o666));
            }
        }
    }
}

pub(crate) fn docker() -> Command {
    Command::new(std::env::var_os(DOCKER_ENV).unwrap_or_else(|| "docker".into()))
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?}: {e} (tests/run installs Docker)",
            cmd.get_program()
        )
    })
}

/// Whether something listens on 127.0.0.1:port (or 0.0.0.0:port), from
/// /proc/net/tcp, so that checking does not open a connection (which Postfix
/// would pass on to the milter).  The container shares the host's network
/// namespace.
pub(crate) fn is_listening(port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        // No procfs: fall back to connecting.
        return TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_millis(200),
        )
        .is_ok();
    };
    let want = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1).unwrap_or("");
        let state = fields.nth(1).unwrap_or("");
        // 0A = LISTEN; 0100007F = 127.0.0.1 in /proc's byte order.
        state == "0A"
            && local.ends_with(&want)
            && (local.starts_with("0100007F:") || local.starts_with("00000000:"))
    })
}

fn read_banner(addr: SocketAddr) -> String {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = String::new();
    let mut reader = BufReader::new(&stream);
    let _ = reader.read_line(&mut line);
    use std::io::Write;
    let _ = (&stream).write_all(b"QUIT\r\n");
    let mut bye = String::new();
    let _ = reader.read_line(&mut bye);
    line.trim_end().to_string()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}

/// Splits an smtp-sink capture file (see smtp-sink(1), DUMP FILE FORMAT):
/// X-Client-Addr/X-Client-Proto/X-Helo-Args/X-Mail-Args/X-Rcpt-Args lines,
/// smtp-sink's own three-line Received: header, the message, one empty line.
fn parse_capture(path: PathBuf, bytes: &[u8]) -> Captured {
    let mut mail_args = String::new();
    let mut rcpt_args = Vec::new();
    let mut rest = bytes;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = String::from_utf8_lossy(&rest[..end]);
        let line = line.trim_end_matches('\n');
        if let Some(v) = line.strip_prefix("X-Mail-Args: ") {
            mail_args = v.to_string();
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args: ") {
            rcpt_args.push(v.to_string());
        } else if line.starts_with("X-Client-Addr: ")
            || line.starts_with("X-Client-Proto: ")
            || line.starts_with("X-Helo-Args: ")
        {
        } else if line.starts_with("Received: ") {
            // smtp-sink's header: this line plus two continuation lines.
            rest = &rest[end..];
            for _ in 0..2 {
                if rest.first() == Some(&b'\t') {
                    let end = rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(rest.len(), |i| i + 1);
                    rest = &rest[end..];
                }
            }
            break;
        } else {
            break;
        }
        rest = &rest[end..];
        if rest.is_empty() {
            break;
        }
    }
    // smtp-sink writes the LF of the terminating "." line: one extra "\n".
    let message = rest.strip_suffix(b"\n").unwrap_or(rest).to_vec();
    Captured {
        path,
        mail_args,
        rcpt_args,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_smtp_sink_capture() {
        let file = b"X-Client-Addr: 127.0.0.1\n\
X-Client-Proto: ESMTP\n\
X-Helo-Args: postfix.teaminbox.test\n\
X-Mail-Args: <x@example.net> SIZE=12\n\
X-Rcpt-Args: <a@outside.example.net> ORCPT=rfc822;a@outside.example.net\n\
X-Rcpt-Args: <b@outside.example.net>\n\
Received: from postfix.teaminbox.test ([127.0.0.1])\n\
\tby sink.teaminbox.test (smtp-sink) with ESMTP id 7d2ff496;\n\
\tFri, 27 Nov 2026 03:00:10 +0000 (UTC)\n\
Received: from vm (unknown [127.0.0.1])\n\
\tby postfix.teaminbox.test (Postfix) with ESMTP id CB1E9E4048\n\
Subject: hi\n\
\n\
.dot\n\
body\n\
\n";
        let c = parse_capture(PathBuf::from("/x"), file);
        assert_eq!(c.sender(), "x@example.net");
        assert_eq!(
            c.recipients(),
            vec!["a@outside.example.net", "b@outside.example.net"]
        );
        assert_eq!(
            c.text(),
            "Received: from vm (unknown [127.0.0.1])\n\tby postfix.teaminbox.test (Postfix) with ESMTP id CB1E9E4048\nSubject: hi\n\n.dot\nbody\n"
        );
    }
}
