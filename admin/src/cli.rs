//! The command line, as clap reads it.

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
pub enum UserCommand {
    /// Add a user, available. The email is how every other command names
    /// them.
    #[command(
        after_help = "Example:\n  teaminbox-admin user add alice@example.com --first-name Alice --last-name Smith\n  teaminbox-admin user add bob@example.com --first-name Bob --last-name Jones --username bjones"
    )]
    Add(UserAdd),
    /// List users.
    #[command(after_help = "Example:\n  teaminbox-admin user list --json")]
    List(JsonFlag),
    /// Mark a user available or away. Round robin skips users who are away
    /// (unless the channel assigns regardless); an away contact owner gets
    /// a notification instead of the conversation.
    #[command(
        after_help = "Examples:\n  teaminbox-admin user availability alice@example.com away\n  teaminbox-admin user availability alice@example.com available"
    )]
    Availability(UserAvailability),
    /// Set the password a user signs in to the web inbox with. Read from
    /// the terminal without echo (twice), or as one line from standard
    /// input when it is not a terminal; never from an argument, which other
    /// users could see. Ends the user's web sessions.
    #[command(
        after_help = "Examples:\n  teaminbox-admin user set-password alice@example.com\n  printf '%s\\n' \"$PASSWORD\" | teaminbox-admin user set-password alice@example.com"
    )]
    SetPassword(UserEmail),
    /// Print a one-time sign-in link for the web inbox (valid 24 hours,
    /// used once): for a first sign-in, or to reset a forgotten password.
    #[command(after_help = "Example:\n  teaminbox-admin user sign-in-link alice@example.com")]
    SignInLink(UserEmail),
    /// Set what a user may do in the web inbox: agent (the default) or
    /// admin.
    #[command(after_help = "Example:\n  teaminbox-admin user role alice@example.com admin")]
    Role(UserRoleArgs),
}

#[derive(Args)]
pub struct UserEmail {
    /// The user's email address.
    pub email: String,
}

#[derive(Args)]
pub struct UserRoleArgs {
    /// The user's email address.
    pub email: String,
    #[arg(value_enum)]
    pub role: Role,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct UserAdd {
    /// The user's email address.
    pub email: String,
    #[arg(long)]
    pub first_name: String,
    #[arg(long)]
    pub last_name: String,
    /// The local part of the user's reply address (USERNAME@ a hosted
    /// domain); no forwarding address or other user may have it. Default:
    /// the part of the email before the @.
    #[arg(long)]
    pub username: Option<String>,
    /// Make the user an admin of the web inbox (default: agent).
    #[arg(long)]
    pub admin: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// What a user may do in the web inbox.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Role {
    /// Works conversations.
    Agent,
    /// Works conversations and may reach the admin's pages.
    Admin,
}

/// Whether a user takes conversations now.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Availability {
    Available,
    Away,
}

#[derive(Args)]
pub struct UserAvailability {
    /// The user's email address.
    pub email: String,
    #[arg(value_enum)]
    pub availability: Availability,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Add a team, with no members yet.
    #[command(after_help = "Example:\n  teaminbox-admin team add Support")]
    Add(TeamAdd),
    /// Add a user to a team.
    #[command(
        after_help = "Example:\n  teaminbox-admin team add-member Support alice@example.com"
    )]
    AddMember(TeamAddMember),
    /// List teams and their members.
    #[command(after_help = "Example:\n  teaminbox-admin team list --json")]
    List(JsonFlag),
}

#[derive(Args)]
pub struct TeamAdd {
    /// The team's name, unique.
    pub name: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct TeamAddMember {
    /// The team's name.
    pub team: String,
    /// The user's email address.
    pub email: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Subcommand)]
pub enum ContactCommand {
    /// List contacts, in the order first seen.
    #[command(after_help = "Example:\n  teaminbox-admin contact list --json")]
    List(JsonFlag),
    /// Show one contact, by email address or id, with its owner and
    /// conversations.
    #[command(
        after_help = "Examples:\n  teaminbox-admin contact show customer@example.org\n  teaminbox-admin contact show 3 --json"
    )]
    Show(ContactShow),
    /// Make a user the owner of a contact; a contact-owner channel assigns
    /// the contact's new conversations to them. A contact not seen yet is
    /// created.
    #[command(
        after_help = "Example:\n  teaminbox-admin contact set-owner customer@example.org alice@example.com"
    )]
    SetOwner(ContactSetOwner),
}

#[derive(Args)]
pub struct ContactShow {
    /// The contact's email address, or its id.
    #[arg(value_name = "EMAIL|ID")]
    pub contact: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Args)]
pub struct ContactSetOwner {
    /// The contact's email address.
    #[arg(value_name = "CONTACT_EMAIL")]
    pub contact: String,
    /// The owner's (a user's) email address.
    #[arg(value_name = "USER_EMAIL")]
    pub user: String,
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
