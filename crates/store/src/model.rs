//! The domain's types: channels and users as every stage sees them, and
//! the small types (modes, lists, kinds, statuses), each with the one name
//! it is stored under and shown as. The store, the processor and the admin
//! all use these; none of them matches on the names.

use crate::schema::users;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// Defines an enum whose variants each have one name, as stored in the
/// database, printed by the admin and given in its arguments, and writes
/// `as_str`, `Display`, `FromStr` (whose error lists the names) and
/// `Serialize` (as the name) for it.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal, $plural:literal) {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The name as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| unknown_name(s, $what, $plural, Self::ALL))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// "`x` is not a list; the lists are allow and deny".
fn unknown_name<T: fmt::Display>(given: &str, what: &str, plural: &str, all: &[T]) -> String {
    let names: Vec<String> = all.iter().map(T::to_string).collect();
    let listed = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    };
    format!(
        "`{}` is not {what}; {plural} are {listed}",
        crate::address::printable(given)
    )
}

/// Who handed the MTA a message: the SMTP client and the envelope sender,
/// gathered from connect to DATA and carried whole to the stored message
/// or to the rejection log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpSession {
    /// The MTA's queue id (Postfix macro `i`), once it is known.
    pub queue_id: Option<String>,
    /// `None` when the MTA did not say (a client on a UNIX socket).
    pub client_address: Option<String>,
    pub client_name: String,
    pub helo: String,
    /// The envelope sender without angle brackets; empty for `<>`.
    pub mail_from: String,
}

named_enum! {
    /// How the From name of a reply is made.
    #[derive(Default)]
    pub enum FromNameMode ("a From name form", "the forms") {
        /// "Jane Doe at Acme": the sender's name and the company.
        #[default]
        AgentAndCompany = "agent-and-company",
        /// "Acme": the company only (one hosted address only may use it).
        Company = "company",
    }
}

named_enum! {
    /// How a channel chooses the assignee of a new conversation.
    pub enum AssignMode ("an assignment mode", "the modes") {
        /// Nobody: conversations stay unassigned.
        Off = "off",
        /// Round robin over the channel's users and the members of its teams.
        UsersAndTeams = "users-and-teams",
        /// The contact's owner.
        ContactOwner = "contact-owner",
    }
}

named_enum! {
    /// Which list a filter entry is on. The deny list wins over the allow
    /// list.
    pub enum FilterList ("a list", "the lists") {
        Allow = "allow",
        Deny = "deny",
    }
}

named_enum! {
    /// What a filter entry's value is: a sender address, a sender domain
    /// (and its subdomains), or a client IP address or network.
    pub enum FilterKind ("a filter kind", "the kinds") {
        Address = "address",
        Domain = "domain",
        Ip = "ip",
    }
}

named_enum! {
    /// Where a conversation stands.
    pub enum ConversationStatus ("a conversation status", "the statuses") {
        /// Waiting for the team.
        Open = "open",
        /// Done; an answer from a participant reopens it.
        Closed = "closed",
        /// Kept out of the team's open conversations: no ticket, no
        /// assignment.
        Spam = "spam",
    }
}

named_enum! {
    /// What a conversation is about.
    pub enum ConversationKind ("a conversation kind", "the kinds") {
        /// Mail from a contact.
        Normal = "normal",
        /// A provider's forwarding confirmation (Gmail, Microsoft 365...):
        /// shown with its code, never routed.
        Verification = "verification",
    }
}

/// A channel: a team inbox behind one hosted forwarding address, with how
/// it routes and tickets new conversations and the latest forwarding
/// confirmation it received.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub forwarding_address: String,
    /// `draft` until the admin connects and finishes, then `connected`.
    pub status: String,
    /// A disabled channel refuses mail at RCPT with 550 5.2.1.
    pub enabled: bool,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
    /// Who gets a new conversation: `off` (nobody), `users-and-teams`
    /// (round robin over `assign_users` and the members of `assign_teams`)
    /// or `contact-owner`.
    pub assign_mode: AssignMode,
    /// Assign to users who are away too (`false`: available users only).
    pub assign_any_availability: bool,
    /// The users (by email) a `users-and-teams` channel assigns to, sorted.
    pub assign_users: Vec<String>,
    /// The teams (by name) whose members a `users-and-teams` channel
    /// assigns to, sorted.
    pub assign_teams: Vec<String>,
    /// Whether a new conversation gets a ticket.
    pub tickets_enabled: bool,
    /// What a new ticket gets: `name` (default: the subject), `pipeline`,
    /// `stage`, `priority` and custom keys, all strings.
    pub ticket_properties: Map<String, Value>,
    /// The latest provider forwarding confirmation (Gmail, Google Groups,
    /// Microsoft 365): its code, its link, who asked for it, when it came.
    pub verification_code: Option<String>,
    pub verification_link: Option<String>,
    pub verification_requested_by: Option<String>,
    #[serde(serialize_with = "crate::serialize_optional_utc")]
    pub verification_received_at: Option<NaiveDateTime>,
    /// The From name of replies: `agent-and-company` ("Jane Doe at Acme")
    /// or `company` ("Acme").
    pub from_name_mode: FromNameMode,
    /// The custom From address of replies, in a verified sending domain;
    /// `None`: the replying user's USERNAME@`[outbound] default_from_domain`.
    pub from_address: Option<String>,
    /// The signature of replies: checked, simple HTML with tokens (see
    /// [`teaminbox_outbound::signature`]).
    pub signature_html: Option<String>,
    /// When the admin connected and finished (status `connected`); the
    /// forwarding address is fixed from then on.
    #[serde(serialize_with = "crate::serialize_optional_utc")]
    pub finished_at: Option<NaiveDateTime>,
    /// The addresses whose list rewrites (X-Original-From and friends) the
    /// channel believes when they arrive authenticated, sorted.
    pub sources: Vec<Source>,
}

/// An address whose list rewrites a channel trusts.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Source {
    /// Lower case.
    pub address: String,
    /// `admin` (added with `channel update --source`) or `verification`
    /// (it asked for a provider's forwarding confirmation that arrived
    /// authenticated).
    pub origin: String,
}

/// A team member who can be assigned conversations. `email` is lower case
/// and unique.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub username: String,
    /// `false` while the user is away: round robin skips them (unless the
    /// channel assigns regardless of availability), and as a contact owner
    /// they get a notification instead of the conversation.
    pub available: bool,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
    /// `agent` or `admin` ([`UserRole`]): what the user may do in the web
    /// inbox.
    pub role: String,
}

named_enum! {
    /// What a user may do in the web inbox.
    pub enum UserRole ("a role", "the roles") {
        /// Works conversations.
        Agent = "agent",
        /// Works conversations and may reach the admin's pages.
        Admin = "admin",
    }
}

named_enum! {
    /// Which lesson a message teaches the spam filter.
    pub enum SpamClass ("a spam class", "the classes") {
        Spam = "spam",
        Ham = "ham",
    }
}

named_enum! {
    /// What rspamd advises doing with a message (its `action`, in its own
    /// words).
    pub enum SpamAction ("an rspamd action", "the actions") {
        NoAction = "no action",
        Greylist = "greylist",
        AddHeader = "add header",
        RewriteSubject = "rewrite subject",
        SoftReject = "soft reject",
        Reject = "reject",
    }
}

impl SpamAction {
    /// Accepted, but kept out of the open conversations.
    pub fn files_as_spam(self) -> bool {
        matches!(self, Self::AddHeader | Self::RewriteSubject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_both_ways_and_unknown_ones_list_the_choices() {
        for mode in AssignMode::ALL {
            assert_eq!(mode.as_str().parse::<AssignMode>(), Ok(*mode));
        }
        assert_eq!(
            "nobody".parse::<AssignMode>(),
            Err(
                "`nobody` is not an assignment mode; the modes are off, users-and-teams and \
                 contact-owner"
                    .into()
            )
        );
        assert_eq!(
            "x".parse::<FilterList>(),
            Err("`x` is not a list; the lists are allow and deny".into())
        );
        assert_eq!(
            serde_json::to_string(&FromNameMode::AgentAndCompany).unwrap(),
            "\"agent-and-company\""
        );
    }
}
