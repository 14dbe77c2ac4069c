//! teaminbox-admin: how a mail admin sets up and runs the hosted inbox.

mod channel;
mod cli;
mod contact;
mod conversation;
mod doctor;
mod domain;
mod filter;
mod input;
mod output;
mod queue;
mod rejection;
mod reply;
mod spam;
mod team;
mod ticket;
mod user;

use clap::Parser;
use std::process::ExitCode;
use teaminbox_store::config::Config;
use teaminbox_store::StoreError;

/// A command that could not be carried out: exit code 1 for a refusal or
/// something not found, 2 for usage and configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Usage(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Refused(e.to_string())
    }
}

pub type AdminResult = Result<(), AdminError>;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("teaminbox-admin: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(cli.command, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Errors may quote what the admin typed or what a message held.
            eprintln!("teaminbox-admin: {}", output::line(&e.to_string()));
            ExitCode::from(match e {
                AdminError::Refused(_) => 1,
                AdminError::Usage(_) => 2,
            })
        }
    }
}

fn run(command: cli::Command, config: &Config) -> AdminResult {
    let store = teaminbox_store::Store::from_config(config);
    match command {
        cli::Command::Migrate => {
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("The database schema is up to date.");
            }
            for name in applied {
                println!("applied {name}");
            }
            Ok(())
        }
        // The doctor reports a database it cannot open as a finding.
        cli::Command::Doctor(args) => doctor::run(args, &store, config),
        command => {
            // Every other command works on an up-to-date schema, so a fresh
            // install needs no separate step.
            store.migrate()?;
            match command {
                cli::Command::Channel(c) => channel::run(c, &store, config),
                cli::Command::Queue(c) => queue::run(c, &store),
                cli::Command::Filter(c) => filter::run(c, &store),
                cli::Command::Rejection(c) => rejection::run(c, &store),
                cli::Command::User(c) => user::run(c, &store, config),
                cli::Command::Team(c) => team::run(c, &store),
                cli::Command::Contact(c) => contact::run(c, &store),
                cli::Command::Conversation(c) => conversation::run(c, &store, config),
                cli::Command::Domain(c) => domain::run(c, &store, config),
                cli::Command::Ticket(c) => ticket::run(c, &store),
                cli::Command::Spam(c) => spam::run(c, &store, config),
                cli::Command::Migrate | cli::Command::Doctor(_) => unreachable!("handled above"),
            }
        }
    }
}
