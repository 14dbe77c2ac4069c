//! `teaminbox-gen-docs OUT_DIR`: writes the man pages and the bash and zsh
//! completions of both binaries, generated from their clap definitions:
//!
//! - `OUT_DIR/man/teaminbox-milter.8`
//! - `OUT_DIR/man/teaminbox-admin.1` and one page per subcommand
//!   (`teaminbox-admin-channel-create.1`, ...)
//! - `OUT_DIR/completions/teaminbox-milter.bash`, `_teaminbox-milter`,
//!   `teaminbox-admin.bash`, `_teaminbox-admin`
//!
//! `teaminbox.toml(5)` is written by hand (`packaging/teaminbox.toml.5`).

// The admin's command line, from its own file: teaminbox-admin is a binary
// only, and this is the one definition of it.
#[allow(dead_code)]
#[path = "../../admin/src/cli/mod.rs"]
mod admin_cli;

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: teaminbox-gen-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(&PathBuf::from(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teaminbox-gen-docs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;

    // The daemon is a system program: section 8.
    let daemon = teaminbox_milter::cli::Cli::command();
    page(&daemon, "8", DAEMON_EXTRA, &man)?;
    // The admin tool and each of its subcommands: section 1; then its main
    // page again, with what clap does not know.
    let admin = admin_cli::Cli::command();
    clap_mangen::generate_to(admin.clone(), &man)?;
    page(&admin, "1", ADMIN_EXTRA, &man)?;

    for mut cmd in [daemon, admin] {
        let name = cmd.get_name().to_owned();
        clap_complete::generate_to(Shell::Zsh, &mut cmd, &name, &completions)?;
        let mut bash = Vec::new();
        clap_complete::generate(Shell::Bash, &mut cmd, &name, &mut bash);
        let bash = hyphenated_bin_name_fixed(&String::from_utf8_lossy(&bash), &name);
        std::fs::write(completions.join(format!("{name}.bash")), bash)?;
    }
    Ok(())
}

/// clap_complete's bash script for a binary with a hyphen in its name
/// never completes a subcommand's options (clap-rs/clap#6421, open): its
/// loop names the state `teaminbox__admin__subcmd__doctor`, its case arms
/// `teaminbox__subcmd__admin__subcmd__doctor`. The arms are renamed to
/// the loop's spelling.
fn hyphenated_bin_name_fixed(script: &str, bin: &str) -> String {
    script.replace(&bin.replace('-', "__subcmd__"), &bin.replace('-', "__"))
}

/// Sections after clap's on the daemon's page.
const DAEMON_EXTRA: &str = r#".SH SIGNALS
.TP
.B SIGTERM\fR, \fBSIGINT
Stop taking connections, let the sessions in flight finish, then exit.
.TP
.B SIGHUP
Reload, as \fBsystemctl reload teaminbox\fR does (see the README).
.SH FILES
.TP
.B /etc/teaminbox/teaminbox.toml
The configuration the packaged service reads; see \fBteaminbox.toml\fR(5).
.TP
.B /var/lib/teaminbox/teaminbox.db
The SQLite database of the packaged configuration.
.TP
.B /run/teaminbox/milter.sock
The socket Postfix or Sendmail connects to.
.SH "SEE ALSO"
\fBteaminbox-admin\fR(1), \fBteaminbox.toml\fR(5), \fBpostconf\fR(5)
"#;

/// Sections after clap's on the admin tool's main page.
const ADMIN_EXTRA: &str = r#".SH "EXIT STATUS"
0 done, 1 refused or not found (one line on stderr saying what and why),
2 usage or configuration error.
.SH "SEE ALSO"
\fBteaminbox-milter\fR(8), \fBteaminbox.toml\fR(5), and \fBteaminbox-admin-\fICOMMAND\fR(1) for each command
"#;

/// Writes `cmd`'s page in `section`, with the roff `extra` at its end.
fn page(cmd: &clap::Command, section: &str, extra: &str, dir: &Path) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).section(section);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    roff.extend_from_slice(extra.as_bytes());
    std::fs::write(dir.join(man.get_filename()), roff)
}
