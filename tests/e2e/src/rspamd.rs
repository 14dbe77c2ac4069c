//! A real rspamd (Debian's package) with a Redis of its own for Bayes,
//! both on 127.0.0.1 on free ports, configured from scratch in a
//! directory of the test's own (a `local.d` overlay on Debian's
//! configuration): no network lookups (its resolver points at a closed
//! port, so every lookup fails at once), no greylisting, Bayes on after
//! one lesson of each class (and `add header` from a score of 4, which
//! Bayes alone reaches), and rspamd's test patterns on, so that a
//! message can ask for `add header` as GTUBE asks for `reject`.

use crate::free_port;
use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The password of the test rspamd's controller.
pub const RSPAMD_PASSWORD: &str = "teaminbox-test";

/// The text that makes rspamd answer `reject` (GTUBE).
pub const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// The test pattern that makes rspamd answer `add header` (score 6).
pub const GTUBE_ADD_HEADER: &str =
    "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// rspamd and its Redis, stopped when dropped.
pub struct Rspamd {
    dir: PathBuf,
    port: u16,
    rspamd: Option<Child>,
    redis: Child,
}

impl Rspamd {
    /// rspamd as the tests want it (see the module's documentation).
    pub fn start() -> Self {
        Self::start_configured(Tuning::Tests)
    }

    /// rspamd with Debian's actions and Bayes settings (`add header` from
    /// 6, `reject` from 15, Bayes after 200 lessons of each class), still
    /// without network lookups or greylisting: for measuring how well it
    /// filters.
    pub fn start_stock() -> Self {
        Self::start_configured(Tuning::Stock)
    }

    /// Starts Redis and rspamd and waits (up to 120 s: a busy machine) until rspamd's
    /// controller answers.
    fn start_configured(tuning: Tuning) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "teaminbox-rspamd-{}-{}",
            std::process::id(),
            free_port()
        ));
        for sub in ["local.d", "override.d", "db", "run", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create the rspamd directory");
        }
        let (redis_port, port) = (free_port(), free_port());
        let redis = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &redis_port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.join("db"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (Debian package redis-server; tests/run installs it)");
        write_config(&dir, port, redis_port, tuning);
        let mut rspamd = Self {
            dir,
            port,
            rspamd: None,
            redis,
        };
        rspamd.resume();
        rspamd
    }

    /// The URL to configure as `[spam] rspamd_url` (the controller, which
    /// checks and learns).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops rspamd (Redis keeps what it learned).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.rspamd.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
        // Its workers go with the main process; wait until the port is free.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts rspamd (again) on the same port and waits until it answers.
    pub fn resume(&mut self) {
        assert!(self.rspamd.is_none(), "rspamd already running");
        let mut command = Command::new("rspamd");
        command.args(["-f", "-c", "/etc/rspamd/rspamd.conf"]);
        // rspamd refuses to run as root unless told whom to run as.
        if is_root() {
            command.args(["-u", "root", "-g", "root"]);
        }
        for (var, sub) in [
            ("LOCAL_CONFDIR", ""),
            ("DBDIR", "db"),
            ("RUNDIR", "run"),
            ("LOGDIR", "log"),
        ] {
            command
                .arg("--var")
                .arg(format!("{var}={}", self.dir.join(sub).display()));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rspamd (Debian package rspamd; tests/run installs it)");
        self.rspamd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "rspamd did not answer within 120 s; see {}",
                self.dir.join("log/rspamd.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = "GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("pong")
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        self.stop();
        let _ = self.redis.kill();
        let _ = self.redis.wait();
        // A failing test keeps rspamd's log.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// How far the test rspamd departs from Debian's settings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tuning {
    /// Test patterns, Bayes after one lesson, `add header` from 4.
    Tests,
    /// Debian's actions and Bayes settings.
    Stock,
}

/// The `local.d` / `override.d` overlay on Debian's configuration.
fn write_config(dir: &std::path::Path, port: u16, redis_port: u16, tuning: Tuning) {
    let redis = format!("127.0.0.1:{redis_port}");
    let mut files = vec![
        (
            "override.d/worker-controller.inc",
            format!(
                "bind_socket = \"127.0.0.1:{port}\";\ncount = 1;\n\
                 password = \"{RSPAMD_PASSWORD}\";\nenable_password = \"{RSPAMD_PASSWORD}\";\n"
            ),
        ),
        // The normal worker and the proxy are not used: the controller
        // checks and learns. Free ports, so no two tests collide.
        (
            "override.d/worker-normal.inc",
            format!("bind_socket = \"127.0.0.1:{}\";\ncount = 1;\n", free_port()),
        ),
        (
            "override.d/worker-proxy.inc",
            format!("bind_socket = \"127.0.0.1:{}\";\ncount = 1;\n", free_port()),
        ),
        (
            "local.d/logging.inc",
            format!(
                "type = \"file\";\nfilename = \"{}\";\nlevel = \"info\";\n",
                dir.join("log/rspamd.log").display()
            ),
        ),
        ("local.d/redis.conf", format!("servers = \"{redis}\";\n")),
        ("local.d/greylist.conf", "enabled = false;\n".to_owned()),
    ];
    let (bayes, actions) = match tuning {
        Tuning::Stock => ("", "greylist = null;\n"),
        // Bayes sure of spam (BAYES_SPAM, 5.1) is enough to file as spam:
        // on our loopback without DNS, little else adds to a score.
        Tuning::Tests => (
            "min_learns = 1;\nmin_token_hits = 1;\n",
            "greylist = null;\nadd_header = 4;\n",
        ),
    };
    files.push((
        "local.d/classifier-bayes.conf",
        format!("backend = \"redis\";\nservers = \"{redis}\";\nautolearn = false;\n{bayes}"),
    ));
    files.push(("local.d/actions.conf", actions.to_owned()));
    let patterns = if tuning == Tuning::Tests {
        "enable_test_patterns = true;\n"
    } else {
        ""
    };
    files.push((
        "local.d/options.inc",
        format!(
            "dns {{ nameserver = [\"127.0.0.1:1\"]; timeout = 0.1s; retransmits = 0; }}\n{patterns}"
        ),
    ));
    for (path, text) in files {
        std::fs::write(dir.join(path), text).expect("write the rspamd configuration");
    }
}
