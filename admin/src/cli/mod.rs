//! The command line, as clap reads it.

mod channel;
mod inbox;
mod people;

pub use channel::*;
pub use inbox::*;
pub use people::*;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use teaminbox_store::config::CONFIG_ENV;

#[derive(Parser)]
#[command(
    // Named here: packaging/ builds the man pages from this file in
    // another crate.
    name = "teaminbox-admin",
    version,
    about = "Set up and run the teaminbox hosted team inbox",
    after_help = "Example:\n  teaminbox-admin channel create --name Support --company Acme\n  teaminbox-admin channel list"
)]
pub struct Cli {
    /// Configuration file (TOML), the same one the daemon reads.
    #[arg(long, global = true, env = CONFIG_ENV, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create or update the database schema.
    #[command(
        after_help = "Example:\n  teaminbox-admin --config /etc/teaminbox/teaminbox.toml migrate"
    )]
    Migrate,
    /// Channels: a team inbox behind one hosted forwarding address.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// The queue of received messages waiting for the processor.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Allow and deny lists: sender addresses, sender domains and client IP
    /// addresses or networks.
    #[command(subcommand)]
    Filter(FilterCommand),
    /// The messages the milter refused, and why.
    #[command(subcommand)]
    Rejection(RejectionCommand),
    /// Users: the team members conversations are assigned to.
    #[command(subcommand)]
    User(UserCommand),
    /// Teams of users, which a channel can assign to.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Contacts: the people who write to the channels, and their owners.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Conversations in the inbox: list, read, assign, close, reopen, mark
    /// as spam or not spam.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// Sending domains: DKIM keys for the mail teaminbox sends.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Tickets the channels made for new conversations.
    #[command(subcommand)]
    Ticket(TicketCommand),
    /// Content spam filtering by rspamd: training and the lessons queued
    /// by `conversation spam` and `conversation not-spam`.
    #[command(subcommand)]
    Spam(SpamCommand),
    /// Check the running Postfix's configuration and this daemon's against
    /// what the README asks for: the milter socket and its permissions,
    /// milter_default_action, message_size_limit, the hosted domains relayed
    /// and deferred, in_flow_delay, non_smtpd_milters, the DNS resolver, and
    /// each sending domain's DKIM, SPF and DMARC records. Prints each
    /// finding, a wrong one with its fix; exit 1 if any is wrong.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin --config /etc/teaminbox/teaminbox.toml doctor\n  \
        teaminbox-admin doctor -c /etc/postfix-out --json\n  \
        teaminbox-admin doctor --postconf \"docker exec mx postconf\" --postmap \"docker exec mx postmap\"")]
    Doctor(DoctorArgs),
}

#[derive(Subcommand)]
pub enum SpamCommand {
    /// Teach rspamd every file in DIR (one message per file) as spam or
    /// as ham, directly, for an initial training of its Bayes classifier.
    #[command(
        after_help = "Examples:\n  teaminbox-admin spam learn --spam /srv/corpus/spam\n  teaminbox-admin spam learn --ham /srv/corpus/easy_ham"
    )]
    Learn(SpamLearn),
    /// The lessons queued for rspamd and their delivery state.
    #[command(after_help = "Example:\n  teaminbox-admin spam lessons --json")]
    Lessons(JsonFlag),
}

#[derive(Args)]
pub struct SpamLearn {
    /// A folder of spam messages.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "ham",
        conflicts_with = "ham"
    )]
    pub spam: Option<PathBuf>,
    /// A folder of good messages (ham).
    #[arg(long, value_name = "DIR")]
    pub ham: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct DoctorArgs {
    /// How to run Postfix's postconf: a command line, split at spaces.
    #[arg(long, default_value = "postconf", value_name = "COMMAND")]
    pub postconf: String,
    /// How to run Postfix's postmap (to look the hosted domains up in
    /// relay_domains and transport_maps tables): a command line, split at
    /// spaces.
    #[arg(long, default_value = "postmap", value_name = "COMMAND")]
    pub postmap: String,
    /// Postfix's configuration directory, for an instance other than the
    /// default (given to postconf and postmap as -c DIR).
    #[arg(short = 'c', long, value_name = "DIR")]
    pub postfix_config: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON (stable, snake_case field names) instead of a table.
    #[arg(long)]
    pub json: bool,
}
