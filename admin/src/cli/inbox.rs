//! The inbox and the mail around it: `queue`, `filter`, `rejection`,
//! `conversation`, `domain`, `ticket`.

use super::JsonFlag;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Count queued messages by state.
    #[command(after_help = "Example:\n  teaminbox-admin queue status --json")]
    Status(JsonFlag),
    /// List the most recently received messages.
    #[command(after_help = "Example:\n  teaminbox-admin queue list --limit 20")]
    List(QueueList),
    /// Put every message the processor gave up on (failed) back in the
    /// queue, with its attempts reset.
    #[command(after_help = "Example:\n  teaminbox-admin queue retry")]
    Retry(JsonFlag),
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

#[derive(Subcommand)]
pub enum ConversationCommand {
    /// List conversations, the most recent message first.
    #[command(
        after_help = "Examples:\n  teaminbox-admin conversation list\n  teaminbox-admin conversation list --channel 1 --status open --unassigned\n  teaminbox-admin conversation list --assignee alice@example.com --limit 0 --json"
    )]
    List(ConversationList),
    /// Show a conversation: contact, assignee, ticket, and every message with
    /// its attachments and the reasons it was filed as it was.
    #[command(after_help = "Example:\n  teaminbox-admin conversation show 12")]
    Show(ConversationId),
    /// Assign a conversation (and its ticket) to a user.
    #[command(after_help = "Example:\n  teaminbox-admin conversation assign 12 alice@example.com")]
    Assign(ConversationAssign),
    /// Close a conversation. A new message from the contact opens it again.
    #[command(after_help = "Example:\n  teaminbox-admin conversation close 12")]
    Close(ConversationId),
    /// Open a closed (or spam) conversation again.
    #[command(after_help = "Example:\n  teaminbox-admin conversation reopen 12")]
    Reopen(ConversationId),
    /// Mark a conversation as spam (status spam) and teach rspamd each of
    /// its received messages as spam (once per message, queued: a down
    /// rspamd loses no lesson).
    #[command(after_help = "Example:\n  teaminbox-admin conversation spam 12")]
    Spam(ConversationId),
    /// Mark a conversation as not spam (status open) and teach rspamd
    /// each of its received messages as ham.
    #[command(after_help = "Example:\n  teaminbox-admin conversation not-spam 12")]
    NotSpam(ConversationId),
    /// Answer a conversation as a team member: the reply goes to the
    /// contact with the channel's From name, address and signature, threads
    /// in the contact's mail client, and is DKIM-signed where a key exists.
    #[command(
        after_help = "Examples:\n  teaminbox-admin conversation reply 12 --as jane@acme.example --body 'We are on it.'\n  teaminbox-admin conversation reply 12 --as jane@acme.example --body-file answer.html --html"
    )]
    Reply(ConversationReply),
}

#[derive(Args)]
pub struct ConversationReply {
    /// The conversation's id, as `conversation list` shows it.
    pub id: i64,
    /// The team member who answers (a user's email).
    #[arg(long = "as", value_name = "USER_EMAIL")]
    pub as_user: String,
    /// The answer as text (or HTML with --html).
    #[arg(
        long,
        conflicts_with = "body_file",
        required_unless_present = "body_file"
    )]
    pub body: Option<String>,
    /// Read the answer from a file.
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<std::path::PathBuf>,
    /// The body is HTML (a plain-text alternative is made from it).
    #[arg(long)]
    pub html: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Make DOMAIN a sending domain: generates its DKIM key (RSA 2048) and
    /// prints the DNS records to publish.
    #[command(
        after_help = "Example:\n  teaminbox-admin domain add example.com --selector teaminbox"
    )]
    Add {
        domain: String,
        /// The DKIM selector: the key is published at SELECTOR._domainkey.DOMAIN.
        #[arg(long, default_value = "teaminbox")]
        selector: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check the published DKIM record through the configured resolver and
    /// mark the domain verified when it holds our key.
    #[command(after_help = "Example:\n  teaminbox-admin domain verify example.com")]
    Verify {
        domain: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List sending domains and whether they are verified.
    #[command(after_help = "Example:\n  teaminbox-admin domain list --json")]
    List(JsonFlag),
}

/// A conversation's status.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ConversationStatus {
    Open,
    Closed,
    Spam,
}

#[derive(Args)]
pub struct ConversationList {
    /// Only this channel's.
    #[arg(long, value_name = "ID")]
    pub channel: Option<i64>,
    /// Only conversations in this status.
    #[arg(long, value_enum)]
    pub status: Option<ConversationStatus>,
    /// Only those assigned to this user.
    #[arg(long, value_name = "EMAIL", conflicts_with = "unassigned")]
    pub assignee: Option<String>,
    /// Only those assigned to nobody.
    #[arg(long)]
    pub unassigned: bool,
    /// How many conversations to show; 0 for all.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct ConversationId {
    /// The conversation's id, as `conversation list` shows it.
    pub id: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct ConversationAssign {
    /// The conversation's id, as `conversation list` shows it.
    pub id: i64,
    /// The user's email address.
    #[arg(value_name = "USER_EMAIL")]
    pub user: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum TicketCommand {
    /// List tickets, newest first.
    #[command(after_help = "Example:\n  teaminbox-admin ticket list --json")]
    List(JsonFlag),
    /// Show one ticket.
    #[command(after_help = "Example:\n  teaminbox-admin ticket show 4")]
    Show(TicketId),
    /// Change a ticket's name, pipeline, stage or priority.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin ticket update 4 --stage \"Waiting on contact\" --priority high\n  \
        teaminbox-admin ticket update 4 --priority \"\"      # clears the priority")]
    Update(TicketUpdateArgs),
}

#[derive(Args)]
pub struct TicketUpdateArgs {
    /// The ticket's id, as `ticket list` shows it.
    pub id: i64,
    #[arg(long)]
    pub name: Option<String>,
    /// "" clears it.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// "" clears it.
    #[arg(long)]
    pub stage: Option<String>,
    /// "" clears it.
    #[arg(long)]
    pub priority: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct TicketId {
    /// The ticket's id, as `ticket list` shows it.
    pub id: i64,
    #[command(flatten)]
    pub json: JsonFlag,
}
