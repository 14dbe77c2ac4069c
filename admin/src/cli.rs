//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use teaminbox_milter::config::CONFIG_ENV;

#[derive(Parser)]
#[command(
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
}

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Create a channel (status draft). It receives mail at once.
    #[command(
        after_help = "Example:\n  teaminbox-admin channel create --name Support --company Acme\n  teaminbox-admin channel create --name Sales --company Acme --forwarding-address sales@inbox.example.com"
    )]
    Create(ChannelCreate),
    /// List channels.
    #[command(after_help = "Example:\n  teaminbox-admin channel list --json")]
    List(JsonFlag),
    /// Show one channel.
    #[command(after_help = "Example:\n  teaminbox-admin channel show 1")]
    Show(ChannelId),
    /// Refuse mail to the channel's address (550 5.2.1) until enabled again.
    #[command(after_help = "Example:\n  teaminbox-admin channel disable 1")]
    Disable(ChannelId),
    /// Take mail to the channel's address again.
    #[command(after_help = "Example:\n  teaminbox-admin channel enable 1")]
    Enable(ChannelId),
}

#[derive(Args)]
pub struct ChannelCreate {
    /// The channel's name, as the team knows it ("Support").
    #[arg(long)]
    pub name: String,
    /// The company the channel answers for ("Acme").
    #[arg(long)]
    pub company: String,
    /// LOCAL@HOSTED-DOMAIN; without it a readable unique address is made
    /// from the name in the first hosted domain.
    #[arg(long, value_name = "ADDRESS")]
    pub forwarding_address: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct ChannelId {
    /// The channel's id, as `channel list` shows it.
    pub id: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON (stable, snake_case field names) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Count queued messages by state.
    #[command(after_help = "Example:\n  teaminbox-admin queue status --json")]
    Status(JsonFlag),
    /// List the most recently received messages.
    #[command(after_help = "Example:\n  teaminbox-admin queue list --limit 20")]
    List(QueueList),
}

#[derive(Args)]
pub struct QueueList {
    /// How many messages to show, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum FilterCommand {
    /// Put a sender address, a sender domain (with its subdomains) or a
    /// client IP address or network on the allow or deny list. The deny list
    /// wins; the milter sees a change within a few seconds.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin filter add deny spammer@example.com\n  \
        teaminbox-admin filter add deny example.net          # and every subdomain\n  \
        teaminbox-admin filter add deny 192.0.2.0/24\n  \
        teaminbox-admin filter add allow 2001:db8::25")]
    Add(FilterEntry),
    /// Take an entry off the allow or deny list.
    #[command(after_help = "Example:\n  teaminbox-admin filter remove deny 192.0.2.0/24")]
    Remove(FilterEntry),
    /// List the entries of both lists, or of one.
    #[command(
        after_help = "Examples:\n  teaminbox-admin filter list\n  teaminbox-admin filter list deny --json"
    )]
    List(FilterListArgs),
}

/// The allow or the deny list.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ListName {
    Allow,
    Deny,
}

#[derive(Args)]
pub struct FilterEntry {
    /// Which list.
    #[arg(value_enum)]
    pub list: ListName,
    /// An address (user@example.com), a domain (example.com), an IP address
    /// (192.0.2.7, 2001:db8::7) or a network (192.0.2.0/24, 2001:db8::/32).
    pub value: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct FilterListArgs {
    /// Only this list.
    #[arg(value_enum)]
    pub list: Option<ListName>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum RejectionCommand {
    /// List refused messages, newest first, with the reason for each.
    #[command(
        after_help = "Examples:\n  teaminbox-admin rejection list --since 1h\n  teaminbox-admin rejection list --since 7d --limit 0 --json"
    )]
    List(RejectionList),
}

#[derive(Args)]
pub struct RejectionList {
    /// Only refusals in this past time, like 30m, 1h, 7d or "1h 30m".
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// How many refusals to show, newest first; 0 for all.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}
