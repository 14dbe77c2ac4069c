//! `channel`: setting channels up.

use super::JsonFlag;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ChannelCommand {
    /// Create a channel (status draft). It receives mail at once; set up
    /// how replies look and how it routes (the options of `channel update`),
    /// copy the forwarding address into the mail provider (`channel
    /// instructions`), then `channel finish`.
    #[command(after_help = "Example:\n  \
        teaminbox-admin channel create --name Support --company Acme\n  \
        teaminbox-admin channel create --name Sales --company \"Acme Sales\" --forwarding-address sales@inbox.example.com\n  \
        teaminbox-admin channel create --name Support --company Acme --from-name company --signature-file signature.html\n  \
        teaminbox-admin channel create --name Support --company Acme --assign users-and-teams --assign-team Support --tickets on --ticket-property pipeline=Support")]
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
    /// Change a channel: its names, how its replies look, its forwarding
    /// address (while a draft), and how it assigns and tickets new
    /// conversations. Settings not given stay as they are.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin channel update 1 --from-name company --signature-file signature.html\n  \
        teaminbox-admin channel update 1 --from-address support@acme.example   # a verified sending domain\n  \
        teaminbox-admin channel update 1 --default-from-address --no-signature\n  \
        teaminbox-admin channel update 1 --name \"Support EU\" --forwarding-address support-eu@inbox.example.com\n  \
        teaminbox-admin channel update 1 --assign users-and-teams --assign-user alice@example.com --assign-team Support\n  \
        teaminbox-admin channel update 1 --assign contact-owner --any-availability\n  \
        teaminbox-admin channel update 1 --tickets on --ticket-property pipeline=Support --ticket-property priority=high\n  \
        teaminbox-admin channel update 1 --ticket-property priority=    # removes the key\n  \
        teaminbox-admin channel update 1 --clear-assignees --assign off\n  \
        teaminbox-admin channel update 1 --source support@groups.example.com   # trust the group's rewrites")]
    Update(ChannelUpdate),
    /// Show exactly what a contact sees of a reply from the channel: the
    /// From header and the signature with its tokens filled in, as text or
    /// HTML. Without --as, for a sample agent, Jane Doe.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin channel preview 1\n  \
        teaminbox-admin channel preview 1 --as alice@example.com --html")]
    Preview(ChannelPreview),
    /// How to forward a mail provider's mail to the channel, step by step,
    /// with the channel's forwarding address filled in.
    #[command(after_help = "Examples:\n  \
        teaminbox-admin channel instructions 1 --provider gmail\n  \
        teaminbox-admin channel instructions 1 --provider microsoft-365")]
    Instructions(ChannelInstructions),
    /// Connect and finish: the channel becomes connected and its forwarding
    /// address can no longer change. Do it once mail arrives.
    #[command(after_help = "Example:\n  teaminbox-admin channel finish 1")]
    Finish(ChannelId),
}

/// The form of a reply's From name.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FromNameArg {
    /// "Jane Doe at Acme": the replying user's name and the company.
    AgentAndCompany,
    /// "Acme": the company only (one channel per company).
    Company,
}

/// How replies from a channel look.
#[derive(Args)]
pub struct ReplyArgs {
    /// The From name of replies.
    #[arg(long, value_enum, value_name = "agent-and-company|company")]
    pub from_name: Option<FromNameArg>,
    /// Send replies from this address (its domain must be a verified sending
    /// domain: `teaminbox-admin domain add`, then `domain verify`). Default:
    /// the replying user's USERNAME@[outbound] default_from_domain.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "default_from_address")]
    pub from_address: Option<String>,
    /// Send replies from the replying user's default address again.
    #[arg(long)]
    pub default_from_address: bool,
    /// The signature of replies: simple HTML (p, br, div, span, a, img, b,
    /// strong, i, em, u, s, small, font, table, ul, ol, li) with the tokens
    /// {{sender.full_name}} and {{sender.first_name}}.
    #[arg(long, value_name = "FILE", conflicts_with = "no_signature")]
    pub signature_file: Option<std::path::PathBuf>,
    /// Replies have no signature.
    #[arg(long)]
    pub no_signature: bool,
}

#[derive(Args)]
pub struct ChannelPreview {
    /// The channel's id, as `channel list` shows it.
    pub id: i64,
    /// The user whose reply to show (their name and username); default: a
    /// sample agent, Jane Doe (jane).
    #[arg(long = "as", value_name = "USER_EMAIL")]
    pub as_user: Option<String>,
    /// Show the signature as HTML instead of text.
    #[arg(long)]
    pub html: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// A mail provider whose mail is forwarded to a channel.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Provider {
    /// A Gmail or Google Workspace mailbox.
    Gmail,
    /// A Google Group (a group address).
    GoogleGroups,
    /// A Microsoft 365 (Exchange Online) mailbox or shared mailbox.
    #[value(name = "microsoft-365")]
    Microsoft365,
    /// An Outlook.com mailbox.
    Outlook,
    /// Any other server: an alias or a forward.
    Other,
}

#[derive(Args)]
pub struct ChannelInstructions {
    /// The channel's id, as `channel list` shows it.
    pub id: i64,
    /// Where the mail comes from.
    #[arg(long, value_enum)]
    pub provider: Provider,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// How a channel assigns new conversations.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AssignArg {
    /// Nobody: conversations stay unassigned.
    Off,
    /// Round robin over the channel's users and its teams' members.
    UsersAndTeams,
    /// The contact's owner.
    ContactOwner,
}

/// A switch.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Args)]
pub struct ChannelUpdate {
    /// The channel's id, as `channel list` shows it.
    pub id: i64,
    /// The channel's name, as the team knows it.
    #[arg(long)]
    pub name: Option<String>,
    /// The company the channel answers for; its From name must not be
    /// another channel's.
    #[arg(long)]
    pub company: Option<String>,
    /// A new forwarding address (LOCAL@HOSTED-DOMAIN); only while the
    /// channel is a draft.
    #[arg(long, value_name = "ADDRESS")]
    pub forwarding_address: Option<String>,
    #[command(flatten)]
    pub options: ChannelOptions,
    /// Stop trusting a source. Repeat for several.
    #[arg(long = "remove-source", value_name = "ADDRESS")]
    pub remove_sources: Vec<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// What `channel create` and `channel update` both set: how replies look,
/// and how new conversations are assigned and ticketed.
#[derive(Args)]
pub struct ChannelOptions {
    #[command(flatten)]
    pub replies: ReplyArgs,
    /// Who gets a new conversation.
    #[arg(long, value_enum, value_name = "MODE")]
    pub assign: Option<AssignArg>,
    /// A user the channel assigns to (users-and-teams); repeat for several.
    /// Replaces the channel's users.
    #[arg(long = "assign-user", value_name = "EMAIL")]
    pub assign_users: Vec<String>,
    /// A team whose members the channel assigns to (users-and-teams);
    /// repeat for several. Replaces the channel's teams.
    #[arg(long = "assign-team", value_name = "NAME")]
    pub assign_teams: Vec<String>,
    /// Remove every user and team the channel assigns to (before adding
    /// those given with --assign-user and --assign-team).
    #[arg(long)]
    pub clear_assignees: bool,
    /// Assign to users who are away too.
    #[arg(long, conflicts_with = "only_available")]
    pub any_availability: bool,
    /// Assign to available users only (the default for a new channel).
    #[arg(long)]
    pub only_available: bool,
    /// Whether a new conversation gets a ticket.
    #[arg(long, value_enum, value_name = "on|off")]
    pub tickets: Option<OnOff>,
    /// A property new tickets get: name, pipeline, stage, priority or a
    /// custom key; an empty value removes the key. Repeat for several.
    #[arg(long = "ticket-property", value_name = "KEY=VALUE")]
    pub ticket_properties: Vec<String>,
    /// An address whose list rewrites the channel trusts, like a Google
    /// Group's address: its authenticated mail is filed under the original
    /// author it names (X-Original-From). Repeat for several.
    #[arg(long = "source", value_name = "ADDRESS")]
    pub sources: Vec<String>,
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
    pub options: ChannelOptions,
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
