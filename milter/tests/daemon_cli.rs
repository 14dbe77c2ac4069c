//! The real `teaminbox-milter` binary: configuration from file and
//! environment as `--check-config` shows it, configuration errors (exit 2,
//! one line naming the key), and a daemon run that migrates the database,
//! listens on its UNIX socket and stops cleanly on SIGTERM.

use assert_cmd::Command;
use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};
use teaminbox_store::Store;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::{
    cli::{scrub_env, Run},
    TestDatabase,
};

const BIN: &str = env!("CARGO_BIN_EXE_teaminbox-milter");

/// A configuration error: exit 2 and one line saying so.
fn config_error(run: &Run) -> &str {
    let line = run.fails(2);
    assert!(
        line.starts_with("teaminbox-milter: configuration error: "),
        "{line}"
    );
    line
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "teaminbox-milter panicked: {stderr}"
    );
}

/// Runs `teaminbox-milter args...` in `cwd` with `env` and waits for it.
fn milter(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut std_cmd = std::process::Command::new(BIN);
    scrub_env(&mut std_cmd);
    std_cmd
        .envs(env.iter().copied())
        .current_dir(cwd)
        .args(args);
    let output = Command::from_std(std_cmd)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run teaminbox-milter");
    Run::from_output("teaminbox-milter", output)
}

/// `--check-config` output, parsed.
fn effective_config(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> toml::Table {
    let mut all = vec!["--check-config"];
    all.extend_from_slice(args);
    let run = milter(cwd, &all, env);
    run.ok().parse().expect("--check-config prints TOML")
}

fn get<'a>(table: &'a toml::Table, key: &str) -> &'a toml::Value {
    let (section, name) = key.split_once('.').unwrap();
    &table[section][name]
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_config_without_a_file_prints_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = effective_config(dir.path(), &[], &[]);
    assert_eq!(
        get(&config, "milter.hosted_domains"),
        &toml::Value::Array(vec!["inbox.localhost".into()])
    );
    assert_eq!(
        get(&config, "milter.listen").as_str(),
        Some("unix:teaminbox-milter.sock")
    );
    assert_eq!(
        get(&config, "database.url").as_str(),
        Some("sqlite://teaminbox.db")
    );
    assert_eq!(
        get(&config, "milter.max_message_size").as_str(),
        Some("30.0 MiB")
    );
    for section in ["milter", "database", "dns", "outbound", "processor"] {
        assert!(config.contains_key(section), "{section} missing: {config}");
    }
    // Checking the configuration creates nothing: no database, no socket.
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "{created:?}");
}

#[test]
fn check_config_output_is_itself_a_valid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = milter(dir.path(), &["--check-config"], &[]);
    let file = write(dir.path(), "effective.toml", defaults.ok());
    let again = milter(
        dir.path(),
        &["--check-config", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(again.ok(), defaults.stdout);
}

#[test]
fn environment_variables_override_nested_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = effective_config(
        dir.path(),
        &[],
        &[
            (
                "TEAMINBOX_MILTER__HOSTED_DOMAINS",
                r#"["A.example", "b.example."]"#,
            ),
            ("TEAMINBOX_MILTER__MAX_MESSAGE_SIZE", "1000"),
            (
                "TEAMINBOX_DATABASE__URL",
                "postgres://teaminbox@db/teaminbox",
            ),
            ("TEAMINBOX_PROCESSOR__WORKERS", "7"),
        ],
    );
    // Domains are checked and normalized like those from the file.
    assert_eq!(
        get(&config, "milter.hosted_domains"),
        &toml::Value::Array(vec!["a.example".into(), "b.example".into()])
    );
    assert_eq!(
        get(&config, "milter.max_message_size").as_str(),
        Some("1000 B")
    );
    assert_eq!(
        get(&config, "database.url").as_str(),
        Some("postgres://teaminbox@db/teaminbox")
    );
    assert_eq!(get(&config, "processor.workers").as_integer(), Some(7));
}

#[test]
fn teaminbox_config_names_the_file_and_the_environment_wins_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "teaminbox.toml",
        "[milter]\nhosted_domains = [\"file.example\"]\nmax_connections = 5\n\
         [database]\nurl = \"sqlite:///var/lib/teaminbox/teaminbox.db\"\n",
    );
    let path = file.to_str().unwrap();
    let config = effective_config(dir.path(), &[], &[("TEAMINBOX_CONFIG", path)]);
    assert_eq!(
        get(&config, "milter.hosted_domains"),
        &toml::Value::Array(vec!["file.example".into()])
    );
    assert_eq!(get(&config, "milter.max_connections").as_integer(), Some(5));
    assert_eq!(
        get(&config, "database.url").as_str(),
        Some("sqlite:///var/lib/teaminbox/teaminbox.db")
    );

    // A variable for one key beats the file for that key only.
    let config = effective_config(
        dir.path(),
        &[],
        &[
            ("TEAMINBOX_CONFIG", path),
            ("TEAMINBOX_MILTER__MAX_CONNECTIONS", "9"),
        ],
    );
    assert_eq!(get(&config, "milter.max_connections").as_integer(), Some(9));
    assert_eq!(
        get(&config, "milter.hosted_domains"),
        &toml::Value::Array(vec!["file.example".into()])
    );

    // --config beats TEAMINBOX_CONFIG.
    let other = write(
        dir.path(),
        "other.toml",
        "[milter]\nhosted_domains = [\"other.example\"]\n",
    );
    let config = effective_config(
        dir.path(),
        &["--config", other.to_str().unwrap()],
        &[("TEAMINBOX_CONFIG", path)],
    );
    assert_eq!(
        get(&config, "milter.hosted_domains"),
        &toml::Value::Array(vec!["other.example".into()])
    );
}

#[test]
fn bad_values_in_the_file_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[milter]\nlisten = \"tcp:x\"\n", "milter.listen"),
        ("[milter]\nlisten = \"inet:127.0.0.1\"\n", "milter.listen"),
        ("[milter]\nsocket_mode = \"rw\"\n", "milter.socket_mode"),
        (
            "[milter]\nmax_message_size = \"lots\"\n",
            "milter.max_message_size",
        ),
        (
            "[milter]\nmax_message_size = 0\n",
            "milter.max_message_size",
        ),
        ("[milter]\nmax_connections = 0\n", "milter.max_connections"),
        (
            "[milter]\nhosted_domains = [\"bad domain\"]\n",
            "milter.hosted_domains",
        ),
        ("[milter]\nhosted_domains = []\n", "milter.hosted_domains"),
        ("[database]\nurl = \"mysql://db/x\"\n", "database.url"),
        ("[database]\npool_size = 0\n", "database.pool_size"),
        ("[dns]\nnameservers = [\"localhost\"]\n", "dns.nameservers"),
        ("[outbound]\nsmtp_url = \"http://x\"\n", "outbound.smtp_url"),
        ("[processor]\nworkers = -1\n", "processor.workers"),
        (
            "[retention]\nrejections = \"soon\"\n",
            "retention.rejections",
        ),
        (
            "[retention]\nprocessed_raw_messages = \"0s\"\n",
            "retention.processed_raw_messages",
        ),
        (
            "[milter]\nrecipient_delimiter = \"@\"\n",
            "milter.recipient_delimiter",
        ),
        // Replies nobody could answer.
        (
            "[milter]\nhosted_domains = [\"inbox.example.com\"]\n\
             [outbound]\ndefault_from_domain = \"mail.example.com\"\n",
            "outbound.default_from_domain",
        ),
    ];
    for (text, key) in cases {
        let file = write(dir.path(), "teaminbox.toml", text);
        // Refused both when checking and when starting.
        for check in [true, false] {
            let mut args = vec!["--config", file.to_str().unwrap()];
            if check {
                args.push("--check-config");
            }
            let line = config_error(&milter(dir.path(), &args, &[])).to_owned();
            assert!(line.contains(key), "{text}: `{line}` should name {key}");
        }
    }
    // Starting with a bad file created nothing.
    assert!(!dir.path().join("teaminbox.db").exists());
    assert!(!dir.path().join("teaminbox-milter.sock").exists());
}

#[test]
fn bad_values_in_the_environment_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "TEAMINBOX_MILTER__MAX_MESSAGE_SIZE",
            "lots",
            "milter.max_message_size",
        ),
        (
            "TEAMINBOX_MILTER__MAX_MESSAGE_SIZE",
            "0",
            "milter.max_message_size",
        ),
        ("TEAMINBOX_MILTER__LISTEN", "tcp:x", "milter.listen"),
        (
            "TEAMINBOX_MILTER__HOSTED_DOMAINS",
            r#"["bad domain"]"#,
            "milter.hosted_domains",
        ),
        ("TEAMINBOX_DATABASE__URL", "mysql://db/x", "database.url"),
    ];
    for (var, value, key) in cases {
        let run = milter(dir.path(), &["--check-config"], &[(var, value)]);
        let line = config_error(&run);
        // Figment names keys from the environment in upper case.
        assert!(
            line.to_ascii_lowercase().contains(key),
            "{var}={value}: `{line}` should name {key}"
        );
    }
}

#[test]
fn unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("[milter]\nlisten_on = \"unix:x\"\n", "listen_on"),
        ("[mailer]\nhosted_domains = [\"x.example\"]\n", "mailer"),
        ("hosted_domains = [\"x.example\"]\n", "hosted_domains"),
    ] {
        let file = write(dir.path(), "teaminbox.toml", text);
        let run = milter(
            dir.path(),
            &["--check-config", "--config", file.to_str().unwrap()],
            &[],
        );
        let line = config_error(&run);
        assert!(line.contains("unknown field"), "{line}");
        assert!(line.contains(key), "{line}");
    }
    let run = milter(
        dir.path(),
        &["--check-config"],
        &[("TEAMINBOX_MILTER__LISTEN_ON", "unix:x")],
    );
    let line = config_error(&run);
    assert!(line.contains("unknown field"), "{line}");
    assert!(line.to_ascii_lowercase().contains("listen_on"), "{line}");
}

#[test]
fn a_missing_or_unparsable_config_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let run = milter(
        dir.path(),
        &["--check-config", "--config", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        config_error(&run),
        format!(
            "teaminbox-milter: configuration error: cannot read configuration file {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    // Without --check-config too, and through TEAMINBOX_CONFIG.
    let run = milter(
        dir.path(),
        &[],
        &[("TEAMINBOX_CONFIG", missing.to_str().unwrap())],
    );
    assert!(config_error(&run).contains("cannot read configuration file"));

    let broken = write(dir.path(), "broken.toml", "[milter\nlisten = 1\n");
    let run = milter(
        dir.path(),
        &["--check-config", "--config", broken.to_str().unwrap()],
        &[],
    );
    let line = config_error(&run);
    assert!(line.contains("TOML parse error"), "{line}");
    assert!(line.contains("broken.toml"), "{line}");
    assert!(!dir.path().join("teaminbox.db").exists());
}

#[test]
fn help_shows_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let run = milter(dir.path(), &["--help"], &[]);
    let out = run.ok();
    assert!(out.contains("--check-config"), "{out}");
    assert!(out.contains("--config <PATH>"), "{out}");
    assert!(out.contains("TEAMINBOX_CONFIG"), "{out}");
    assert!(
        out.contains("Example:\n  teaminbox-milter --config "),
        "{out}"
    );
}

/// A daemon started in the background; killed if the test fails midway.
struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Daemon {
    /// Starts the daemon on `database_url` with a socket in a temporary
    /// directory, and returns once the socket exists.
    fn start(database_url: &str) -> Self {
        let mut daemon = Self::spawn(database_url);
        daemon.wait_for_socket(Duration::from_millis(20));
        daemon
    }

    /// Looks for the socket every `poll` (with 0, as fast as it can).
    fn wait_for_socket(&mut self, poll: Duration) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.socket.exists() {
            if let Some(status) = self.child_mut().try_wait().unwrap() {
                self.child = None;
                panic!(
                    "the daemon exited before listening ({status}): {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no socket after 60 s: {}",
                self.stderr()
            );
            if poll.is_zero() {
                std::thread::yield_now();
            } else {
                std::thread::sleep(poll);
            }
        }
    }

    fn spawn(database_url: &str) -> Self {
        Self::spawn_with(database_url, "", &[])
    }

    /// [`Daemon::spawn`] with more configuration (`extra`, TOML sections
    /// after `[milter]` and `[database]`) and environment.
    fn spawn_with(database_url: &str, extra: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("m.sock");
        let config = write(
            dir.path(),
            "teaminbox.toml",
            &format!(
                "[milter]\nlisten = \"unix:{}\"\nhosted_domains = [\"inbox.example.com\"]\n\
                 [database]\nurl = \"{database_url}\"\n{extra}",
                socket.display()
            ),
        );
        let mut cmd = std::process::Command::new(BIN);
        scrub_env(&mut cmd);
        let child = cmd
            .envs(env.iter().copied())
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("start teaminbox-milter");
        Self {
            child: Some(child),
            socket,
            dir,
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("daemon still running")
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Sends SIGTERM to the daemon (its own pid, nothing else).
    fn terminate(&mut self) {
        let pid = self.child_mut().id().to_string();
        let status = std::process::Command::new("sh")
            .args(["-c", "kill -TERM \"$0\"", &pid])
            .status()
            .expect("run sh");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits up to `limit` for the daemon to exit and returns its status.
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child_mut().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {limit:?} of SIGTERM; stdout: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Speaks the first step of the milter protocol (option negotiation) and
    /// returns the command byte of the answer: proof that the daemon's
    /// accept loop, and with it its signal handling, is running.
    fn negotiate(&self) -> u8 {
        let mut stream = UnixStream::connect(&self.socket).unwrap_or_else(|e| {
            panic!(
                "connect to the milter socket: {e}; stdout: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            )
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // SMFIC_OPTNEG: length, 'O', version 6, every action and protocol
        // option a version 6 MTA offers (as Postfix does).
        let mut packet = Vec::new();
        packet.extend_from_slice(&13u32.to_be_bytes());
        packet.push(b'O');
        packet.extend_from_slice(&6u32.to_be_bytes());
        packet.extend_from_slice(&0x1ffu32.to_be_bytes());
        packet.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        stream.write_all(&packet).unwrap();
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).expect("a reply to OPTNEG");
        let length = u32::from_be_bytes(length) as usize;
        assert!((1..=1024).contains(&length), "reply length {length}");
        let mut reply = vec![0u8; length];
        stream.read_exact(&mut reply).unwrap();
        reply[0]
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

both_databases! {
    fn the_daemon_migrates_listens_and_stops_cleanly_on_sigterm(db: TestDatabase) {
        let mut daemon = Daemon::start(&db.url);
        // The schema is there without a separate migrate step: the queue
        // can be read through a store that does not migrate by itself.
        let counts = Store::from_url(&db.url).unwrap().inbound().counts().unwrap();
        assert_eq!(
            (counts.pending, counts.processing, counts.done, counts.failed),
            (0, 0, 0, 0)
        );
        assert_eq!(daemon.negotiate(), b'O', "an OPTNEG reply");

        daemon.terminate();
        let status = daemon.wait(Duration::from_secs(10));
        assert_eq!(
            status.code(),
            Some(0),
            "exit status {status}; stderr: {}",
            daemon.stderr()
        );
        assert!(!daemon.socket.exists(), "the socket file is removed on stop");
        // Logs may go to stdout or stderr; an error line never.
        let log = daemon.stdout() + &daemon.stderr();
        assert_no_panic(&log);
        assert!(!log.contains("teaminbox-milter: "), "{log}");
        assert!(!log.contains("ERROR"), "{log}");
        assert!(log.contains("applied database migration"), "{log}");
        assert!(log.contains("listening on unix:"), "{log}");
        assert!(log.contains("teaminbox-milter stopped"), "{log}");

        // A second start on the same database finds nothing to migrate.
        let mut again = Daemon::start(&db.url);
        assert_eq!(again.negotiate(), b'O');
        again.terminate();
        assert_eq!(again.wait(Duration::from_secs(10)).code(), Some(0));
        let log = again.stdout() + &again.stderr();
        assert!(!log.contains("applied database migration"), "{log}");
    }
}

#[test]
fn check_config_masks_a_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "postgres://teaminbox:s3cret-pw@db/teaminbox?sslmode=require";
    let run = milter(
        dir.path(),
        &["--check-config"],
        &[("TEAMINBOX_DATABASE__URL", secret)],
    );
    let out = run.ok();
    assert!(!out.contains("s3cret-pw"), "{out}");
    let config: toml::Table = out.parse().unwrap();
    assert_eq!(
        get(&config, "database.url").as_str(),
        Some("postgres://teaminbox:****@db/teaminbox?sslmode=require")
    );
    // Nor does an error naming the URL show it.
    let run = milter(
        dir.path(),
        &["--check-config"],
        &[("TEAMINBOX_DATABASE__URL", "mysql://root:s3cret-pw@db/x")],
    );
    assert!(
        config_error(&run).contains("mysql://root:****@db/x"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret-pw"), "{run:#?}");
}

#[test]
fn the_sqlite_database_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDatabase::sqlite();
    let mut daemon = Daemon::start(&db.url);
    let path = PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    // The daemon holds the database open, so its WAL and shared memory
    // files exist.
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}: {mode:o}", file.display());
    }
    daemon.terminate();
    assert_eq!(daemon.wait(Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn a_stale_socket_is_replaced_but_another_file_is_not() {
    let db = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("m.sock");
    let config = write(
        dir.path(),
        "teaminbox.toml",
        &format!(
            "[milter]\nlisten = \"unix:{}\"\n[database]\nurl = \"{}\"\n",
            socket.display(),
            db.url
        ),
    );
    // A regular file where the socket should be: refused, left alone.
    std::fs::write(&socket, "precious").unwrap();
    let run = milter(dir.path(), &["--config", config.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    // The log (on stderr) may come first; the error is the last line.
    assert_eq!(
        run.stderr.lines().last().unwrap_or_default(),
        format!(
            "teaminbox-milter: cannot listen on unix:{}: the path exists and is not a socket; remove it or choose another milter.listen",
            socket.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "precious");
    std::fs::remove_file(&socket).unwrap();

    // A socket left by a killed daemon is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(stale);
    assert!(socket.exists());
    let mut std_cmd = std::process::Command::new(BIN);
    scrub_env(&mut std_cmd);
    let mut daemon = Daemon {
        child: Some(
            std_cmd
                .arg("--config")
                .arg(&config)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
                .spawn()
                .unwrap(),
        ),
        socket: socket.clone(),
        dir,
    };
    // The stale socket exists from the start, so wait for a live answer.
    let deadline = Instant::now() + Duration::from_secs(60);
    while UnixStream::connect(&socket).is_err() {
        assert!(
            daemon.child_mut().try_wait().unwrap().is_none(),
            "{}",
            daemon.stderr()
        );
        assert!(Instant::now() < deadline, "the daemon never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(daemon.negotiate(), b'O');
    // Made under a temporary name, then renamed into place listening.
    let staging = socket.with_file_name("m.sock.new");
    assert!(!staging.exists(), "nothing left of the staging name");
    daemon.terminate();
    assert_eq!(daemon.wait(Duration::from_secs(10)).code(), Some(0));
    assert!(!socket.exists());
}

/// SIGTERM as soon as the socket exists, as a service manager may send it
/// when stopping a daemon that has just started. The signal handlers must be
/// installed before the socket is bound: when they were installed on the
/// first poll of the shutdown future, such a SIGTERM killed the daemon by
/// the default action (exit status 143, socket left behind) or, rarely, was
/// lost and the daemon ran on. A shell does the watching and the kill, as
/// fast as a shell builtin can; from Rust, spawning `kill` takes long enough
/// to hide the window.
#[test]
fn sigterm_right_after_the_socket_appears_is_a_clean_stop() {
    let db = TestDatabase::sqlite();
    db.store();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("m.sock");
    let config = write(
        dir.path(),
        "teaminbox.toml",
        &format!(
            "[milter]\nlisten = \"unix:{}\"\n[database]\nurl = \"{}\"\n",
            socket.display(),
            db.url
        ),
    );
    let script = r#"
        for attempt in $(seq 1 20); do
            "$0" --config "$1" >/dev/null 2>&1 &
            pid=$!
            while [ ! -S "$2" ]; do :; done
            kill -TERM "$pid"
            # `timeout` is not everywhere; a lost signal shows as a hang
            # that the second, later SIGTERM ends.
            ( sleep 10; kill -TERM "$pid" ) >/dev/null 2>&1 &
            watchdog=$!
            wait "$pid"
            status=$?
            kill "$watchdog" 2>/dev/null
            if [ -e "$2" ]; then left=" socket left behind"; rm -f "$2"; else left=""; fi
            echo "attempt $attempt: exit $status$left"
        done
    "#;
    let mut cmd = std::process::Command::new("sh");
    scrub_env(&mut cmd);
    let output = cmd
        .arg("-c")
        .arg(script)
        .arg(BIN)
        .arg(&config)
        .arg(&socket)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let report = String::from_utf8_lossy(&output.stdout);
    let bad: Vec<&str> = report
        .lines()
        .filter(|line| !line.ends_with(": exit 0"))
        .collect();
    assert_eq!(report.lines().count(), 20, "{report}");
    assert!(bad.is_empty(), "not a clean stop:\n{}", bad.join("\n"));
}

/// The daemon with the checks off (no name server here) and the given
/// extra configuration, with a channel support@inbox.example.com.
fn daemon_with_channel(db: &TestDatabase, extra: &str, env: &[(&str, &str)]) -> Daemon {
    teaminbox_testkit::channel(&db.store(), "support@inbox.example.com");
    let mut daemon = Daemon::spawn_with(
        &db.url,
        &format!("[security]\nenabled = false\n{extra}"),
        env,
    );
    daemon.wait_for_socket(Duration::from_millis(20));
    daemon
}

/// Sends a message to support@inbox.example.com over the milter protocol
/// as Postfix would, with the MTA queue id `queue_id`; `midway` runs after
/// the headers, before the body. Returns the answer to end of message, or
/// the error that ended the session.
fn send_message(
    socket: &Path,
    queue_id: &str,
    midway: impl FnOnce(),
) -> Result<indymilter_test::Status, String> {
    use indymilter_test::{MacroStage, ProtoOpts, Status, TestConnection};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let e = |e: indymilter_test::TestError| e.to_string();
        let mut conn = TestConnection::configure()
            .available_opts(ProtoOpts::all())
            .read_timeout(Duration::from_secs(20))
            .open_unix(socket)
            .await
            .map_err(e)?;
        conn.connect("client.example.org", [192, 0, 2, 7])
            .await
            .map_err(e)?;
        conn.helo("mail.example.org").await.map_err(e)?;
        conn.mail(["<alice@example.org>"]).await.map_err(e)?;
        let rcpt = conn
            .rcpt(["<support@inbox.example.com>"])
            .await
            .map_err(e)?;
        assert_eq!(rcpt, Status::Continue);
        conn.macros(MacroStage::Data, [("i", queue_id)])
            .await
            .map_err(e)?;
        conn.data().await.map_err(e)?;
        conn.header("From", "Alice <alice@example.org>")
            .await
            .map_err(e)?;
        conn.header("Subject", "Printer on fire").await.map_err(e)?;
        conn.eoh().await.map_err(e)?;
        midway();
        conn.body(&b"Help!\r\n"[..]).await.map_err(e)?;
        conn.macros(MacroStage::Eom, [("i", queue_id)])
            .await
            .map_err(e)?;
        let (_, status) = conn.eom().await.map_err(e)?;
        let _ = conn.close().await;
        Ok(status)
    })
}

/// Waits up to 20 s for `done` queue rows to be filed.
fn wait_until_filed(store: &Store, done: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.inbound().counts().unwrap().done < done {
        assert!(Instant::now() < deadline, "not filed within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

both_databases! {
    fn json_log_lines_carry_the_queue_id_and_our_message_id(db: TestDatabase) {
        let mut daemon = daemon_with_channel(&db, "[log]\nformat = \"json\"\n", &[]);
        let status = send_message(&daemon.socket, "4JsonQ1d", || {});
        assert_eq!(status, Ok(indymilter_test::Status::Discard));
        let store = db.store();
        wait_until_filed(&store, 1);
        let id = store.inbound().list(1).unwrap()[0].id;
        daemon.terminate();
        assert_eq!(daemon.wait(Duration::from_secs(20)).code(), Some(0));

        let log = daemon.stderr();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert!(lines.iter().any(|l| l["message"] == "teaminbox-milter stopped"), "{log}");
        // The milter's line and the processor's, each in the message's span.
        let about_the_message: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["span"]["queue_id"] == "4JsonQ1d" && l["span"]["inbound_id"] == id)
            .collect();
        let said = |what: &str| {
            about_the_message
                .iter()
                .any(|l| l["message"].as_str().is_some_and(|m| m.contains(what)))
        };
        assert!(said("message stored"), "{log}");
        assert!(said("channel"), "the processor's line: {log}");
        for line in &about_the_message {
            assert_eq!(line["span"]["name"], "message", "{line}");
        }
    }
}

/// A socket standing in for systemd's notify socket: what the daemon sends
/// to `NOTIFY_SOCKET`, one datagram at a time.
struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifySocket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Self {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The next datagram's lines.
    fn next(&self) -> Vec<String> {
        let mut buffer = [0u8; 4096];
        let n = self.socket.recv(&mut buffer).expect("a notification");
        String::from_utf8_lossy(&buffer[..n])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Sends `signal` (a name `kill` knows) to the daemon.
fn signal(daemon: &mut Daemon, signal: &str) {
    let pid = daemon.child_mut().id().to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

both_databases! {
    fn systemd_hears_ready_reloading_and_stopping_and_sighup_reloads_the_lists(db: TestDatabase) {
        use teaminbox_store::settings::list_entry::FilterValue;
        use teaminbox_store::model::FilterList;
        let notify = NotifySocket::new();
        let path = notify.path.to_str().unwrap().to_owned();
        let mut daemon = daemon_with_channel(&db, "", &[("NOTIFY_SOCKET", &path)]);
        // READY=1 once the socket listens (it exists: `daemon_with_channel`
        // waited for it).
        assert_eq!(notify.next(), ["READY=1"]);

        // The lists are read for this message and kept for 2 seconds.
        let first = send_message(&daemon.socket, "4HupQ1", || {});
        assert_eq!(first, Ok(indymilter_test::Status::Discard));
        let deny = FilterValue::parse("192.0.2.7").unwrap();
        db.store()
            .settings()
            .add_filter(FilterList::Deny, deny.kind(), &deny.to_string())
            .unwrap();
        signal(&mut daemon, "HUP");
        let reloading = notify.next();
        assert_eq!(reloading[0], "RELOADING=1", "{reloading:?}");
        assert!(reloading[1].starts_with("MONOTONIC_USEC="), "{reloading:?}");
        assert_eq!(notify.next(), ["READY=1"]);
        // Still serving, and with the new deny entry at once.
        let second = send_message(&daemon.socket, "4HupQ2", || {});
        assert!(matches!(second, Ok(indymilter_test::Status::Reject { .. })), "{second:?}");
        assert!(daemon.stderr().contains("reload (SIGHUP)"), "{}", daemon.stderr());

        daemon.terminate();
        assert_eq!(notify.next(), ["STOPPING=1"]);
        assert_eq!(daemon.wait(Duration::from_secs(20)).code(), Some(0));
        assert_no_panic(&daemon.stderr());
    }
}

both_databases! {
    fn a_message_mid_data_at_sigterm_still_gets_its_answer_and_is_stored(db: TestDatabase) {
        let mut daemon = daemon_with_channel(&db, "", &[]);
        let socket = daemon.socket.clone();
        let status = send_message(&socket, "4TermQ1", || {
            daemon.terminate();
            // The stop has begun: the socket is gone, so the MTA's next
            // connection fails at once (and it tempfails by itself).
            let deadline = Instant::now() + Duration::from_secs(10);
            while socket.exists() {
                assert!(Instant::now() < deadline, "the socket is still there");
                std::thread::sleep(Duration::from_millis(10));
            }
            assert!(UnixStream::connect(&socket).is_err());
        });
        assert_eq!(status, Ok(indymilter_test::Status::Discard));
        assert_eq!(daemon.wait(Duration::from_secs(20)).code(), Some(0));
        let stored = db.store().inbound().list(10).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].queue_id.as_deref(), Some("4TermQ1"));
        let log = daemon.stderr();
        assert!(log.contains("letting 1 message(s) in flight finish"), "{log}");
        assert!(log.contains("teaminbox-milter stopped"), "{log}");
    }
}

#[test]
fn a_metrics_address_in_use_stops_the_daemon_at_start_naming_the_key() {
    let db = TestDatabase::sqlite();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let mut daemon = Daemon::spawn_with(
        &db.url,
        &format!("[metrics]\nlisten = \"{address}\"\n"),
        &[],
    );
    assert_eq!(daemon.wait(Duration::from_secs(30)).code(), Some(1));
    let stderr = daemon.stderr();
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with(&format!(
                "teaminbox-milter: cannot listen on {address} (metrics.listen): "
            )),
        "{stderr}"
    );
    assert!(!daemon.socket.exists(), "the milter socket was never made");
}
