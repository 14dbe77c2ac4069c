//! What the admin command tests share: running the real binary the way a
//! mail admin does (a configuration file in a temporary directory), and
//! checking its exit code and output. Exit codes are part of the interface:
//! 0 done, 1 refused or not found, 2 usage or configuration error. Errors
//! are one line on stderr and never a panic.

#![allow(dead_code)] // each test file uses its own part

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use teaminbox_store::Store;
use teaminbox_testkit::{cli::scrub_env, TestDatabase};

pub use teaminbox_testkit::cli::Run;

/// Runs the binary with `args` in the directory `cwd`, with no `TEAMINBOX_`
/// variable inherited from the test's environment (the harness's own
/// `TEAMINBOX_TEST_POSTGRES_URL` would be read as a configuration key).
pub fn admin<I, S>(cwd: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    admin_with_env(cwd, args, &[])
}

/// [`admin`] with the variables `env` set (after the inherited `TEAMINBOX_`
/// ones are removed, so `TEAMINBOX_CONFIG` can be given here).
pub fn admin_with_env<I, S>(cwd: &Path, args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("teaminbox-admin"));
    scrub_env(&mut cmd);
    cmd.envs(env.iter().copied()).current_dir(cwd).args(args);
    let output = Command::from_std(cmd)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run teaminbox-admin");
    Run::from_output("teaminbox-admin", output)
}

/// Writes `text` as `teaminbox.toml` in `dir` and returns its path.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("teaminbox.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A configuration file for `db` in a temporary directory, hosted domain
/// `inbox.example.com` unless written otherwise ([`Setup::with_config`]).
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: TestDatabase,
    /// The database; migrated by [`Setup::new`] only.
    pub store: Store,
}

impl Setup {
    /// The default configuration, on a migrated database (for tests that
    /// seed it through `store` before running the binary).
    pub fn new(db: TestDatabase) -> Self {
        let setup = Self::unmigrated(db);
        setup.store.migrate().expect("migrate test database");
        setup
    }

    /// The default configuration, on a database the binary has to migrate
    /// itself, as on a fresh install.
    pub fn unmigrated(db: TestDatabase) -> Self {
        let text = format!(
            "[milter]\nhosted_domains = [\"inbox.example.com\"]\n\
             [database]\nurl = \"{}\"\n",
            db.url
        );
        Self::with_config(db, &text)
    }

    /// `text` as the whole configuration (it should name `db.url`), on a
    /// database the binary has to migrate itself.
    pub fn with_config(db: TestDatabase, text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), text);
        let store = Store::from_url(&db.url).expect("valid database URL");
        Self {
            dir,
            config,
            db,
            store,
        }
    }

    /// Runs `teaminbox-admin --config FILE args...`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        admin(self.dir.path(), all)
    }

    /// Runs `args` with `--json` added and parses the output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.run(&all).json()
    }
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `2026-11-27T02:57:51Z`: RFC 3339, UTC, whole seconds, every field of
/// its fixed width, and a real time.
pub fn assert_rfc3339_utc(value: &Value) {
    let text = value.as_str().expect("a time is a string");
    let bytes = text.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    assert!(
        bytes.len() == 20
            && digits.iter().all(|&i| bytes[i].is_ascii_digit())
            && &text[4..5] == "-"
            && &text[7..8] == "-"
            && &text[10..11] == "T"
            && &text[13..14] == ":"
            && &text[16..17] == ":"
            && text.ends_with('Z')
            && chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "not RFC 3339 UTC with Z: {text}"
    );
}
