//! People: `user`, `team`, `contact`.

use super::JsonFlag;
use clap::{Args, Subcommand};

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
