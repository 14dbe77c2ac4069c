//! A harness container by name: what the Postfix and Sendmail harnesses
//! do alike with theirs (logs, exec, waiting, removal).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::postfix::{docker, run, LABEL};
use crate::Captured;

/// The image named by `var`, exported by `tests/run`; panics saying how to
/// get one (`build`: the script that builds it) when it is unset.
pub(crate) fn image_from_env(var: &str, what: &str, build: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{var} is not set: run the tests through tests/run, which builds the \
                 {what} image, starts Docker and exports it (or export it yourself: \
                 {var}=$({build}))"
            )
        })
}

/// A name no other container of this test process has, e.g.
/// `teaminbox-e2e-postfix-1234-0`.
pub(crate) fn unique_name(mta: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "teaminbox-e2e-{mta}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// What both images' entrypoints take (see their headers).
pub(crate) struct MtaEnv<'a> {
    pub smtp_port: u16,
    pub relay_port: u16,
    pub hosted_domains: &'a [String],
    pub message_size_limit: u64,
    pub milter: Option<&'a str>,
    /// Bind-mounted at the same path (the milter socket's directory).
    pub socket_dir: Option<&'a Path>,
}

/// `docker run -d` of an MTA container named `name` on the host network,
/// labelled for clean-up (`LABEL`), with `env`; add more, then the image.
pub(crate) fn docker_run(name: &str, env: &MtaEnv) -> Command {
    let mut cmd = docker();
    cmd.args(["run", "-d", "--name", name, "--network", "host"])
        .args(["--label", LABEL])
        .args(["--label", &format!("{LABEL}.pid={}", std::process::id())])
        .args(["-e", &format!("SMTP_PORT={}", env.smtp_port)])
        .args(["-e", &format!("RELAY_PORT={}", env.relay_port)])
        .args([
            "-e",
            &format!("HOSTED_DOMAINS={}", env.hosted_domains.join(" ")),
        ])
        .args([
            "-e",
            &format!("MESSAGE_SIZE_LIMIT={}", env.message_size_limit),
        ])
        .args(["-e", &format!("MILTER={}", env.milter.unwrap_or(""))]);
    if let Some(dir) = env.socket_dir {
        let dir = dir.to_str().expect("socket_dir must be UTF-8");
        cmd.args(["-v", &format!("{dir}:{dir}")]);
    }
    cmd
}

/// The container's log so far (`docker logs`, stdout and stderr).
pub(crate) fn logs(name: &str) -> String {
    let out = run(docker().args(["logs", name]));
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// Waits until the log of `what` (the MTA's name, for the message) contains
/// `needle`; returns the log.  Panics with the log after `timeout`.
pub(crate) fn wait_for_log(name: &str, what: &str, needle: &str, timeout: Duration) -> String {
    let mut log = String::new();
    if poll_until(timeout, Duration::from_millis(100), || {
        log = logs(name);
        log.contains(needle)
    }) {
        return log;
    }
    panic!("{needle:?} not in the {what} log within {timeout:?}:\n{log}");
}

/// Runs a command in the container (as root) and returns its output.
pub(crate) fn exec(name: &str, args: &[&str]) -> Output {
    run(docker().args(["exec", name]).args(args))
}

pub(crate) fn is_running(name: &str) -> bool {
    let out = run(docker().args(["inspect", "-f", "{{.State.Running}}", name]));
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// Removes the container; if the test is panicking, prints the log of
/// `what` first.
pub(crate) fn remove(name: &str, what: &str) {
    if std::thread::panicking() {
        eprintln!("---- log of {what} container {name} ----\n{}", logs(name));
    }
    let _ = docker()
        .args(["rm", "-f", "-v", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until `captured` lists at least `n` messages; panics after
/// `timeout`, with `what_happened()` (the MTA's queue and log).
pub(crate) fn wait_captured(
    n: usize,
    timeout: Duration,
    captured: impl Fn() -> Vec<Captured>,
    what_happened: impl FnOnce() -> String,
) -> Vec<Captured> {
    let mut got = Vec::new();
    if poll_until(timeout, Duration::from_millis(100), || {
        got = captured();
        got.len() >= n
    }) {
        return got;
    }
    panic!(
        "expected {n} captured message(s) within {timeout:?}, got {}.\n{}",
        got.len(),
        what_happened()
    );
}

/// Asks `done` every `every` until it says yes (true) or `timeout` passed
/// (false).
pub(crate) fn poll_until(
    timeout: Duration,
    every: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}
