//! `teaminbox-admin doctor`: reads the running Postfix's configuration and
//! the daemon's own, and checks what the README asks for. Each finding is
//! printed as ok or wrong, a wrong one with its fix in one line; any wrong
//! finding makes the exit code 1.

mod dns;
mod postconf;
mod postfix;
mod socket;

use crate::{cli::DoctorArgs, output, AdminError, AdminResult};
use serde::Serialize;
use teaminbox_store::config::Config;
use teaminbox_store::Store;

/// One thing checked and what was found.
#[derive(Debug, Serialize)]
pub struct Finding {
    /// What was checked, e.g. `milter_default_action` or `dkim acme.example`.
    pub check: String,
    pub status: Status,
    /// What was found, in words.
    pub detail: String,
    /// For a wrong finding: how to put it right, in one line.
    pub fix: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Wrong,
}

impl Finding {
    pub fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn wrong(
        check: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.into(),
            status: Status::Wrong,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

pub fn run(args: DoctorArgs, store: &Store, config: &Config) -> AdminResult {
    let commands = postconf::Commands::new(&args);
    let mut findings = postfix::check(&commands, config);
    findings.extend(database_and_dns(store, config));
    if args.json.json {
        output::json(&findings);
    } else {
        print(&findings);
    }
    let wrong = findings
        .iter()
        .filter(|f| f.status == Status::Wrong)
        .count();
    if wrong == 0 {
        Ok(())
    } else {
        Err(AdminError::Refused(format!(
            "{wrong} of {} checks found something wrong; apply the fixes printed above",
            findings.len()
        )))
    }
}

/// The database first: the sending domains whose DNS records are checked
/// are stored there.
fn database_and_dns(store: &Store, config: &Config) -> Vec<Finding> {
    match store.migrate() {
        Ok(_) => {
            let mut findings = vec![Finding::ok(
                "database",
                format!(
                    "{} answers; the schema is up to date",
                    teaminbox_store::config::masked_url(&config.database.url)
                ),
            )];
            findings.extend(dns::check(store, config));
            findings
        }
        Err(e) => vec![Finding::wrong(
            "database",
            format!("cannot open the database: {e}"),
            "check [database] url in the configuration and that the database is up",
        )],
    }
}

fn print(findings: &[Finding]) {
    for f in findings {
        let mark = match f.status {
            Status::Ok => "ok   ",
            Status::Wrong => "WRONG",
        };
        // Values come from Postfix's files and from DNS: escaped.
        println!(
            "{mark}  {}: {}",
            output::line(&f.check),
            output::line(&f.detail)
        );
        if let Some(fix) = &f.fix {
            println!("       fix: {}", output::line(fix));
        }
    }
}
