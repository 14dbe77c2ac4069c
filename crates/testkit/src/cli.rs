//! The real binaries, run as a mail admin runs them, and the shape every
//! run must have. Exit codes are part of the interface (0 done, 1 refused
//! or not found, 2 usage or configuration error); an error is one line on
//! stderr that names the program; nothing ever panics.

use std::process::{Command, Output};

/// What one run of a binary did.
#[derive(Debug)]
pub struct Run {
    /// The program's name, which starts its error lines.
    pub program: &'static str,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Removes every `TEAMINBOX_` variable the test itself runs with (the
/// harness's `TEAMINBOX_TEST_POSTGRES_URL` would be read as a configuration
/// key) and the Rust variables that change what a panic prints: without
/// `RUST_BACKTRACE` a panic says "run with `RUST_BACKTRACE=1`", which
/// [`Run::from_output`] catches. Sets `TEAMINBOX_WEB__LISTEN` (below).
pub fn scrub_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TEAMINBOX_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_BACKTRACE").env_remove("RUST_LOG");
    // The web inbox listens on 127.0.0.1:8025 by default: daemons of tests
    // running at once would fight over it, so each gets a port of its own.
    cmd.env("TEAMINBOX_WEB__LISTEN", "127.0.0.1:0");
}

impl Run {
    /// The run of `program` that ended with `output`; panics if the program
    /// panicked or was killed.
    pub fn from_output(program: &'static str, output: Output) -> Self {
        let run = Run {
            program,
            code: output
                .status
                .code()
                .expect("exited, not killed by a signal"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        };
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"),
            "{program} panicked: {run:#?}"
        );
        run
    }

    /// Asserts exit code 0 and a quiet stderr; returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "success prints nothing on stderr");
        &self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }

    /// Asserts `code`, nothing on stdout and exactly one line on stderr
    /// that names the program, and returns that line.
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit code {code}: {self:#?}");
        assert_eq!(self.stdout, "", "a failure prints nothing on stdout");
        let line = self
            .stderr
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("stderr does not end a line: {:?}", self.stderr));
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "stderr must be one line: {:?}",
            self.stderr
        );
        assert!(
            line.starts_with(&format!("{}: ", self.program)),
            "stderr names the program: {line}"
        );
        line
    }

    /// Asserts a clap usage error (exit 2, nothing on stdout) and returns
    /// stderr, which clap writes over several lines.
    pub fn usage_error(&self) -> &str {
        assert_eq!(self.code, 2, "expected a usage error: {self:#?}");
        assert_eq!(self.stdout, "", "a failure prints nothing on stdout");
        &self.stderr
    }
}
