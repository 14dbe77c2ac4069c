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
