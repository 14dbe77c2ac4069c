//! The admin's part of the store: channels and their routing, the allow and
//! deny lists, users, teams and contact owners, and the admin's operations
//! on conversations (assign, close, reopen).

use super::{
    is_unique_violation,
    schema::{
        channel_assignees, channel_sources, channels, contacts, conversations, filters,
        hosted_local_parts, sending_domains, team_members, teams, tickets, users,
    },
    views::{self, serialize_optional_utc, Contact, ConversationSummary},
    DbConnection, Store, StoreError, StoreResult,
};
use crate::{
    address::ForwardingAddress,
    identity::{company_from_name, company_from_name_key, local_part, FromNameMode},
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

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
    #[serde(serialize_with = "serialize_optional_utc")]
    pub verification_received_at: Option<NaiveDateTime>,
    /// The From name of replies: `agent-and-company` ("Jane Doe at Acme")
    /// or `company` ("Acme").
    pub from_name_mode: FromNameMode,
    /// The custom From address of replies, in a verified sending domain;
    /// `None`: the replying user's USERNAME@`[outbound] default_from_domain`.
    pub from_address: Option<String>,
    /// The signature of replies: checked, simple HTML with tokens (see
    /// [`crate::signature`]).
    pub signature_html: Option<String>,
    /// When the admin connected and finished (status `connected`); the
    /// forwarding address is fixed from then on.
    #[serde(serialize_with = "serialize_optional_utc")]
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

/// The columns of `channels`, as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = channels)]
struct ChannelRow {
    id: i64,
    name: String,
    company: String,
    forwarding_address: String,
    status: String,
    enabled: bool,
    created_at: NaiveDateTime,
    assign_mode: String,
    assign_any_availability: bool,
    tickets_enabled: bool,
    ticket_properties: String,
    verification_code: Option<String>,
    verification_link: Option<String>,
    verification_requested_by: Option<String>,
    verification_received_at: Option<NaiveDateTime>,
    from_name_mode: String,
    from_address: Option<String>,
    signature_html: Option<String>,
    finished_at: Option<NaiveDateTime>,
}

impl ChannelRow {
    fn into_channel(
        self,
        assign_users: Vec<String>,
        assign_teams: Vec<String>,
        sources: Vec<Source>,
    ) -> StoreResult<Channel> {
        let id = self.id;
        Ok(Channel {
            id,
            name: self.name,
            company: self.company,
            forwarding_address: self.forwarding_address,
            status: self.status,
            enabled: self.enabled,
            created_at: self.created_at,
            assign_mode: self
                .assign_mode
                .parse()
                .map_err(|e| views::bad_row("channels", id, e))?,
            assign_any_availability: self.assign_any_availability,
            assign_users,
            assign_teams,
            tickets_enabled: self.tickets_enabled,
            ticket_properties: views::json_object("channels", id, &self.ticket_properties)?,
            verification_code: self.verification_code,
            verification_link: self.verification_link,
            verification_requested_by: self.verification_requested_by,
            verification_received_at: self.verification_received_at,
            from_name_mode: self
                .from_name_mode
                .parse()
                .map_err(|e| views::bad_row("channels", id, e))?,
            from_address: self.from_address,
            signature_html: self.signature_html,
            finished_at: self.finished_at,
            sources,
        })
    }
}

/// How a channel chooses the assignee of a new conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum AssignMode {
    /// Nobody: conversations stay unassigned.
    #[serde(rename = "off")]
    Off,
    /// Round robin over the channel's users and the members of its teams.
    #[serde(rename = "users-and-teams")]
    UsersAndTeams,
    /// The contact's owner.
    #[serde(rename = "contact-owner")]
    ContactOwner,
}

impl AssignMode {
    /// The name as stored and shown: `off`, `users-and-teams` or
    /// `contact-owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::UsersAndTeams => "users-and-teams",
            Self::ContactOwner => "contact-owner",
        }
    }
}

impl std::fmt::Display for AssignMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AssignMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Self::Off),
            "users-and-teams" => Ok(Self::UsersAndTeams),
            "contact-owner" => Ok(Self::ContactOwner),
            _ => Err(format!(
                "`{}` is not an assignment mode; the modes are off, users-and-teams and contact-owner",
                crate::address::printable(s)
            )),
        }
    }
}

/// What the admin gives to create a channel.
#[derive(Clone, Debug)]
pub struct NewChannel<'a> {
    pub name: &'a str,
    pub company: &'a str,
    pub forwarding_address: &'a ForwardingAddress,
}

pub struct Settings<'s> {
    pub(super) store: &'s Store,
}

impl Settings<'_> {
    /// Creates a channel in status `draft`, with the default reply settings.
    /// A forwarding address already taken, or a company whose From name
    /// another channel uses, is refused by the database's unique indexes
    /// ([`StoreError::Conflict`]), so two admins at once cannot both get it.
    pub fn create_channel(&self, channel: &NewChannel<'_>) -> StoreResult<Channel> {
        self.create_channel_with(
            channel,
            &ChannelReplies::default(),
            &RoutingUpdate::default(),
            &[],
        )
    }

    pub fn channels(&self) -> StoreResult<Vec<Channel>> {
        self.store.read(|conn| {
            let rows = channels::table
                .select(ChannelRow::as_select())
                .order(channels::id)
                .load(conn)?;
            let mut assignees = assignee_names(conn, None)?;
            let mut sources = source_lists(conn, None)?;
            rows.into_iter()
                .map(|row| {
                    let (users, teams) = assignees.remove(&row.id).unwrap_or_default();
                    let sources = sources.remove(&row.id).unwrap_or_default();
                    row.into_channel(users, teams, sources)
                })
                .collect()
        })
    }

    pub fn channel(&self, id: i64) -> StoreResult<Channel> {
        self.store.read(|conn| find_channel(conn, id))
    }

    /// Turns a channel's mail on or off.
    pub fn set_enabled(&self, id: i64, enabled: bool) -> StoreResult<Channel> {
        self.store.write(|conn| {
            diesel::update(channels::table.find(id))
                .set(channels::enabled.eq(enabled))
                .execute(conn)?;
            find_channel(conn, id)
        })
    }
}

fn find_channel(conn: &mut DbConnection, id: i64) -> StoreResult<Channel> {
    let row = channels::table
        .find(id)
        .select(ChannelRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no channel {id}")))?;
    let (users, teams) = assignee_names(conn, Some(id))?
        .remove(&id)
        .unwrap_or_default();
    let sources = source_lists(conn, Some(id))?
        .remove(&id)
        .unwrap_or_default();
    row.into_channel(users, teams, sources)
}

/// Each channel's (or one channel's) sources, sorted by address.
fn source_lists(
    conn: &mut DbConnection,
    channel: Option<i64>,
) -> StoreResult<std::collections::HashMap<i64, Vec<Source>>> {
    let mut query = channel_sources::table
        .select((
            channel_sources::channel_id,
            channel_sources::address,
            channel_sources::origin,
        ))
        .order((channel_sources::channel_id, channel_sources::address))
        .into_boxed();
    if let Some(id) = channel {
        query = query.filter(channel_sources::channel_id.eq(id));
    }
    let mut by_channel = std::collections::HashMap::<i64, Vec<Source>>::new();
    for (channel_id, address, origin) in query.load::<(i64, String, String)>(conn)? {
        by_channel
            .entry(channel_id)
            .or_default()
            .push(Source { address, origin });
    }
    Ok(by_channel)
}

/// Per channel id: the user emails and the team names it assigns to.
type AssigneeNames = std::collections::HashMap<i64, (Vec<String>, Vec<String>)>;

/// The user emails and team names each channel (or one) assigns to, sorted.
fn assignee_names(conn: &mut DbConnection, channel: Option<i64>) -> StoreResult<AssigneeNames> {
    let mut query = channel_assignees::table
        .left_join(users::table.on(users::id.nullable().eq(channel_assignees::user_id)))
        .left_join(teams::table.on(teams::id.nullable().eq(channel_assignees::team_id)))
        .select((
            channel_assignees::channel_id,
            users::email.nullable(),
            teams::name.nullable(),
        ))
        .into_boxed();
    if let Some(id) = channel {
        query = query.filter(channel_assignees::channel_id.eq(id));
    }
    let mut by_channel = AssigneeNames::new();
    for (channel_id, user, team) in query.load::<(i64, Option<String>, Option<String>)>(conn)? {
        let entry = by_channel.entry(channel_id).or_default();
        entry.0.extend(user);
        entry.1.extend(team);
    }
    for (users, teams) in by_channel.values_mut() {
        users.sort();
        teams.sort();
    }
    Ok(by_channel)
}

/// Which list a filter entry is on. The deny list wins over the allow list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterList {
    Allow,
    Deny,
}

impl FilterList {
    /// The name as stored and shown: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl std::fmt::Display for FilterList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FilterList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(format!(
                "`{}` is not a list; the lists are allow and deny",
                crate::address::printable(s)
            )),
        }
    }
}

/// What a filter entry's value is: a sender address, a sender domain (and
/// its subdomains), or a client IP address or network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    Address,
    Domain,
    Ip,
}

impl FilterKind {
    /// The name as stored and shown: `address`, `domain` or `ip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Domain => "domain",
            Self::Ip => "ip",
        }
    }
}

impl std::fmt::Display for FilterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FilterKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "address" => Ok(Self::Address),
            "domain" => Ok(Self::Domain),
            "ip" => Ok(Self::Ip),
            _ => Err(format!(
                "`{}` is not a filter kind; the kinds are address, domain and ip",
                crate::address::printable(s)
            )),
        }
    }
}

/// An entry on the allow or deny list. `value` is canonical, as
/// [`FilterValue`](crate::filter::lists::FilterValue) prints it: a lower-case
/// address or domain, or an IP network such as `192.0.2.0/24` (a single
/// address is `/32` or `/128`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub id: i64,
    pub list: FilterList,
    pub kind: FilterKind,
    pub value: String,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// The columns of `filters`, in the order [`Filter::from_row`] takes them.
pub(super) type FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(super) const FILTER_COLUMNS: FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(super) type FilterRow = (i64, String, String, String, NaiveDateTime);

impl Filter {
    /// A stored row. The table's CHECK constraints keep `list` and `kind` to
    /// the known names; anything else is reported rather than guessed.
    pub(super) fn from_row((id, list, kind, value, created_at): FilterRow) -> StoreResult<Self> {
        let bad = |e: String| {
            StoreError::Query(diesel::result::Error::DeserializationError(
                format!("filters row {id}: {e}").into(),
            ))
        };
        Ok(Self {
            id,
            list: list.parse().map_err(bad)?,
            kind: kind.parse().map_err(bad)?,
            value,
            created_at,
        })
    }
}

impl Settings<'_> {
    /// Puts `value` (canonical, as [`FilterValue`] prints it) on `list`. An
    /// entry already there is refused with [`StoreError::Conflict`].
    ///
    /// [`FilterValue`]: crate::filter::lists::FilterValue
    pub fn add_filter(
        &self,
        list: FilterList,
        kind: FilterKind,
        value: &str,
    ) -> StoreResult<Filter> {
        self.store.write(|conn| {
            diesel::insert_into(filters::table)
                .values((
                    filters::list.eq(list.as_str()),
                    filters::kind.eq(kind.as_str()),
                    filters::value.eq(value),
                    filters::created_at.eq(crate::now()),
                ))
                .returning(filters::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "{kind} {value} is already on the {list} list"
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| {
                    let row = filters::table
                        .find(id)
                        .select(FILTER_COLUMNS)
                        .first::<FilterRow>(conn)?;
                    Filter::from_row(row)
                })
        })
    }

    /// Takes `value` (canonical) off `list`; [`StoreError::NotFound`] if it
    /// is not there.
    pub fn remove_filter(
        &self,
        list: FilterList,
        kind: FilterKind,
        value: &str,
    ) -> StoreResult<()> {
        self.store.write(|conn| {
            let removed = diesel::delete(
                filters::table
                    .filter(filters::list.eq(list.as_str()))
                    .filter(filters::kind.eq(kind.as_str()))
                    .filter(filters::value.eq(value)),
            )
            .execute(conn)?;
            if removed == 0 {
                return Err(StoreError::NotFound(format!(
                    "{kind} {value} is not on the {list} list"
                )));
            }
            Ok(())
        })
    }

    /// The entries of one list, or of both (allow first), each in the
    /// order they were added.
    pub fn filters(&self, list: Option<FilterList>) -> StoreResult<Vec<Filter>> {
        self.store.read(|conn| {
            let mut query = filters::table
                .select(FILTER_COLUMNS)
                .order((filters::list, filters::id))
                .into_boxed();
            if let Some(list) = list {
                query = query.filter(filters::list.eq(list.as_str()));
            }
            query
                .load::<FilterRow>(conn)?
                .into_iter()
                .map(Filter::from_row)
                .collect()
        })
    }
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
}

/// What the admin gives to add a user; `email` in canonical (lower-case)
/// form.
#[derive(Clone, Copy, Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub username: &'a str,
}

/// A team and its members' emails, sorted.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TeamWithMembers {
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// A change to a channel's routing and tickets; `None` leaves a setting as
/// it is.
#[derive(Clone, Debug, Default)]
pub struct RoutingUpdate {
    pub assign_mode: Option<AssignMode>,
    pub any_availability: Option<bool>,
    /// Replaces the users (by email) the channel assigns to; the teams are
    /// left alone unless `assign_teams` is given too.
    pub assign_users: Option<Vec<String>>,
    /// Replaces the teams (by name) the channel assigns to.
    pub assign_teams: Option<Vec<String>>,
    pub tickets_enabled: Option<bool>,
    /// Merged into the channel's ticket properties: a key with an empty
    /// value is removed, any other value set.
    pub ticket_properties: Option<Vec<(String, String)>>,
}

impl Settings<'_> {
    /// Adds a user, available, and reserves their username as the local
    /// part of their reply address. An email already taken, or a username
    /// whose local part a forwarding address or another user has, is
    /// refused with [`StoreError::Conflict`].
    pub fn add_user(&self, user: &NewUser<'_>) -> StoreResult<User> {
        self.store.write(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::email.eq(user.email),
                    users::first_name.eq(user.first_name),
                    users::last_name.eq(user.last_name),
                    users::username.eq(user.username),
                    users::created_at.eq(crate::now()),
                ))
                .returning(users::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "a user with email {} already exists",
                            user.email
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| {
                    reserve_reply_address(conn, id, user.username)?;
                    Ok(users::table
                        .find(id)
                        .select(User::as_select())
                        .first(conn)?)
                })
        })
    }

    /// Every user, in the order added.
    /// One user by email (any case).
    pub fn user(&self, email: &str) -> StoreResult<User> {
        let email = email.to_ascii_lowercase();
        self.store.read(|conn| {
            users::table
                .filter(users::email.eq(&email))
                .select(User::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no user {email}")))
        })
    }

    pub fn users(&self) -> StoreResult<Vec<User>> {
        self.store.read(|conn| {
            Ok(users::table
                .select(User::as_select())
                .order(users::id)
                .load(conn)?)
        })
    }

    /// Marks a user available or away.
    pub fn set_availability(&self, email: &str, available: bool) -> StoreResult<User> {
        self.store.write(|conn| {
            let id = user_id(conn, email)?;
            diesel::update(users::table.find(id))
                .set(users::available.eq(available))
                .execute(conn)?;
            Ok(users::table
                .find(id)
                .select(User::as_select())
                .first(conn)?)
        })
    }

    /// Adds a team with no members. A name already taken is refused with
    /// [`StoreError::Conflict`].
    pub fn add_team(&self, name: &str) -> StoreResult<TeamWithMembers> {
        self.store.write(|conn| {
            let id = diesel::insert_into(teams::table)
                .values((teams::name.eq(name), teams::created_at.eq(crate::now())))
                .returning(teams::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("a team named {name} already exists"))
                    } else {
                        StoreError::from(e)
                    }
                })?;
            find_team(conn, id)
        })
    }

    /// Adds a user (by email) to a team (by name). Either missing is
    /// [`StoreError::NotFound`]; a member already is a
    /// [`StoreError::Conflict`].
    pub fn add_team_member(&self, team: &str, email: &str) -> StoreResult<TeamWithMembers> {
        self.store.write(|conn| {
            let team_id = team_id(conn, team)?;
            let user_id = user_id(conn, email)?;
            let already = team_members::table
                .find((team_id, user_id))
                .count()
                .get_result::<i64>(conn)?;
            if already > 0 {
                return Err(StoreError::Conflict(format!(
                    "{email} is already a member of team {team}"
                )));
            }
            diesel::insert_into(team_members::table)
                .values((
                    team_members::team_id.eq(team_id),
                    team_members::user_id.eq(user_id),
                ))
                .execute(conn)?;
            find_team(conn, team_id)
        })
    }

    /// Every team with its members, in the order added.
    pub fn teams(&self) -> StoreResult<Vec<TeamWithMembers>> {
        self.store.read(|conn| {
            let rows = teams::table
                .select((teams::id, teams::name, teams::created_at))
                .order(teams::id)
                .load::<(i64, String, NaiveDateTime)>(conn)?;
            let mut members = std::collections::HashMap::<i64, Vec<String>>::new();
            for (team, email) in team_members::table
                .inner_join(users::table.on(users::id.eq(team_members::user_id)))
                .select((team_members::team_id, users::email))
                .order(users::email)
                .load::<(i64, String)>(conn)?
            {
                members.entry(team).or_default().push(email);
            }
            Ok(rows
                .into_iter()
                .map(|(id, name, created_at)| TeamWithMembers {
                    id,
                    name,
                    members: members.remove(&id).unwrap_or_default(),
                    created_at,
                })
                .collect())
        })
    }

    /// Makes a user (by email) the owner of a contact (by address, lower
    /// case). A contact not seen yet is created, so that an owner can be
    /// set before the contact's first message.
    pub fn set_contact_owner(&self, contact: &str, owner: &str) -> StoreResult<Contact> {
        self.store.write(|conn| {
            let owner_id = user_id(conn, owner)?;
            let (found, _) =
                super::inbox::find_or_create_contact(conn, contact, None, crate::now())?;
            let id = found.id;
            diesel::update(contacts::table.find(id))
                .set(contacts::owner_user_id.eq(owner_id))
                .execute(conn)?;
            views::find_contact(conn, &views::ContactKey::Id(id))
        })
    }

    /// Changes how a channel routes and tickets new conversations. Users
    /// and teams are checked first: one that does not exist is
    /// [`StoreError::NotFound`] naming it, and nothing changes.
    pub fn set_channel_routing(&self, id: i64, update: &RoutingUpdate) -> StoreResult<Channel> {
        self.store.write(|conn| {
            apply_routing(conn, id, update)?;
            find_channel(conn, id)
        })
    }
}

/// The work of [`Settings::set_channel_routing`], inside the caller's
/// transaction.
fn apply_routing(conn: &mut DbConnection, id: i64, update: &RoutingUpdate) -> StoreResult<()> {
    let properties = channels::table
        .find(id)
        .select(channels::ticket_properties)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no channel {id}")))?;
    let mut user_ids = Vec::new();
    for email in update.assign_users.iter().flatten() {
        user_ids.push(user_id(conn, email)?);
    }
    let mut team_ids = Vec::new();
    for name in update.assign_teams.iter().flatten() {
        team_ids.push(team_id(conn, name)?);
    }
    user_ids.sort_unstable();
    user_ids.dedup();
    team_ids.sort_unstable();
    team_ids.dedup();
    if let Some(mode) = update.assign_mode {
        diesel::update(channels::table.find(id))
            .set(channels::assign_mode.eq(mode.as_str()))
            .execute(conn)?;
    }
    if let Some(any) = update.any_availability {
        diesel::update(channels::table.find(id))
            .set(channels::assign_any_availability.eq(any))
            .execute(conn)?;
    }
    if let Some(enabled) = update.tickets_enabled {
        diesel::update(channels::table.find(id))
            .set(channels::tickets_enabled.eq(enabled))
            .execute(conn)?;
    }
    if let Some(changes) = &update.ticket_properties {
        let mut merged = views::json_object("channels", id, &properties)?;
        for (key, value) in changes {
            if value.is_empty() {
                merged.remove(key);
            } else {
                merged.insert(key.clone(), Value::String(value.clone()));
            }
        }
        diesel::update(channels::table.find(id))
            .set(channels::ticket_properties.eq(Value::Object(merged).to_string()))
            .execute(conn)?;
    }
    if update.assign_users.is_some() {
        diesel::delete(
            channel_assignees::table
                .filter(channel_assignees::channel_id.eq(id))
                .filter(channel_assignees::user_id.is_not_null()),
        )
        .execute(conn)?;
        for user in &user_ids {
            diesel::insert_into(channel_assignees::table)
                .values((
                    channel_assignees::channel_id.eq(id),
                    channel_assignees::user_id.eq(user),
                ))
                .execute(conn)?;
        }
    }
    if update.assign_teams.is_some() {
        diesel::delete(
            channel_assignees::table
                .filter(channel_assignees::channel_id.eq(id))
                .filter(channel_assignees::team_id.is_not_null()),
        )
        .execute(conn)?;
        for team in &team_ids {
            diesel::insert_into(channel_assignees::table)
                .values((
                    channel_assignees::channel_id.eq(id),
                    channel_assignees::team_id.eq(team),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The admin's operations on conversations. Each is one transaction and
/// returns the conversation as it is afterwards.
impl Settings<'_> {
    /// Assigns a conversation to a user (by email), whatever its status and
    /// the user's availability; its ticket, if any, gets the same owner.
    /// Round-robin state is not touched: a manual assignment does not take
    /// the user's turn.
    pub fn assign_conversation(&self, id: i64, email: &str) -> StoreResult<ConversationSummary> {
        self.store.write(|conn| {
            conversation_exists(conn, id)?;
            let user = user_id(conn, email)?;
            diesel::update(conversations::table.find(id))
                .set(conversations::assignee_user_id.eq(user))
                .execute(conn)?;
            diesel::update(tickets::table.filter(tickets::conversation_id.eq(id)))
                .set(tickets::owner_user_id.eq(user))
                .execute(conn)?;
            views::find_summary(conn, id)
        })
    }

    /// Closes a conversation (open or spam). Returns it and whether its
    /// status changed: closing a closed one is harmless.
    pub fn close_conversation(&self, id: i64) -> StoreResult<(ConversationSummary, bool)> {
        self.set_conversation_status(id, "closed")
    }

    /// Opens a closed (or spam) conversation again. Returns it and whether
    /// its status changed: reopening an open one is harmless.
    pub fn reopen_conversation(&self, id: i64) -> StoreResult<(ConversationSummary, bool)> {
        self.set_conversation_status(id, "open")
    }

    fn set_conversation_status(
        &self,
        id: i64,
        status: &str,
    ) -> StoreResult<(ConversationSummary, bool)> {
        self.store.write(|conn| {
            let before = conversation_exists(conn, id)?;
            if before != status {
                diesel::update(conversations::table.find(id))
                    .set(conversations::status.eq(status))
                    .execute(conn)?;
            }
            Ok((views::find_summary(conn, id)?, before != status))
        })
    }
}

/// The status of conversation `id`, or [`StoreError::NotFound`].
fn conversation_exists(conn: &mut DbConnection, id: i64) -> StoreResult<String> {
    conversations::table
        .find(id)
        .select(conversations::status)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no conversation {id}")))
}

/// The id of the user with `email` (lower case), or [`StoreError::NotFound`].
pub(super) fn user_id(conn: &mut DbConnection, email: &str) -> StoreResult<i64> {
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no user {email}")))
}

fn team_id(conn: &mut DbConnection, name: &str) -> StoreResult<i64> {
    teams::table
        .filter(teams::name.eq(name))
        .select(teams::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no team {name}")))
}

fn find_team(conn: &mut DbConnection, id: i64) -> StoreResult<TeamWithMembers> {
    let (name, created_at) = teams::table
        .find(id)
        .select((teams::name, teams::created_at))
        .first::<(String, NaiveDateTime)>(conn)?;
    let members = team_members::table
        .inner_join(users::table.on(users::id.eq(team_members::user_id)))
        .filter(team_members::team_id.eq(id))
        .select(users::email)
        .order(users::email)
        .load::<String>(conn)?;
    Ok(TeamWithMembers {
        id,
        name,
        members,
        created_at,
    })
}

/// A new channel's reply settings; the default is the agent-and-company
/// From name, the default From address and no signature.
#[derive(Clone, Debug, Default)]
pub struct ChannelReplies {
    pub from_name_mode: FromNameMode,
    /// Lower case, in a verified sending domain.
    pub from_address: Option<String>,
    /// Checked with [`crate::signature::check`].
    pub signature_html: Option<String>,
}

/// A change to a channel's names, reply settings and forwarding address;
/// `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct ChannelUpdate {
    pub name: Option<String>,
    /// Also changes the company From name, which must stay unique.
    pub company: Option<String>,
    pub from_name_mode: Option<FromNameMode>,
    /// `Some(None)`: back to the default From address.
    pub from_address: Option<Option<String>>,
    /// `Some(None)`: no signature.
    pub signature_html: Option<Option<String>>,
    /// Only while the channel is a draft.
    pub forwarding_address: Option<ForwardingAddress>,
    /// Addresses (lower case) to trust as sources; one the channel has
    /// already stays as it is.
    pub add_sources: Vec<String>,
    /// Sources (lower case) to remove; one the channel does not have is
    /// refused ([`StoreError::NotFound`]).
    pub remove_sources: Vec<String>,
}

/// Which unique index refused a channel.
enum Taken {
    Address(String),
    FromName(String),
}

/// Channel set-up: reply settings, connect and finish, sending domains.
impl Settings<'_> {
    /// Creates a channel in status `draft` with the given reply settings,
    /// routing, tickets and sources (lower case addresses), in one
    /// transaction: everything or nothing.
    /// Refused with [`StoreError::Conflict`]: a forwarding address already
    /// taken, a company From name another channel uses (both by the
    /// database's unique indexes), a From address outside the verified
    /// sending domains; with [`StoreError::NotFound`]: a user or team to
    /// assign to that does not exist.
    pub fn create_channel_with(
        &self,
        channel: &NewChannel<'_>,
        replies: &ChannelReplies,
        routing: &RoutingUpdate,
        sources: &[String],
    ) -> StoreResult<Channel> {
        self.store
            .write(|conn| match insert_channel(conn, channel, replies)? {
                Ok(id) => routed_channel(conn, id, routing, sources),
                Err(Taken::Address(message) | Taken::FromName(message)) => {
                    Err(StoreError::Conflict(message))
                }
            })
    }

    /// Like [`Settings::create_channel_with`], with a forwarding address made
    /// from the name in `domain` ([`ForwardingAddress::generate`]); one that
    /// collides with a taken address is made again (up to 5 times).
    pub fn create_channel_generated(
        &self,
        name: &str,
        company: &str,
        domain: &str,
        replies: &ChannelReplies,
        routing: &RoutingUpdate,
        sources: &[String],
    ) -> StoreResult<Channel> {
        self.store.write(|conn| {
            let mut last = String::new();
            for _ in 0..5 {
                let address = ForwardingAddress::generate(name, domain);
                let channel = NewChannel {
                    name,
                    company,
                    forwarding_address: &address,
                };
                match insert_channel(conn, &channel, replies)? {
                    Ok(id) => return routed_channel(conn, id, routing, sources),
                    Err(Taken::Address(message)) => last = message,
                    Err(Taken::FromName(message)) => return Err(StoreError::Conflict(message)),
                }
            }
            Err(StoreError::Conflict(last))
        })
    }

    /// Changes a channel's names, reply settings and, while it is a draft,
    /// its forwarding address, in one transaction: everything or nothing.
    pub fn update_channel(&self, id: i64, update: &ChannelUpdate) -> StoreResult<Channel> {
        self.store.write(|conn| {
            apply_channel_update(conn, id, update)?;
            find_channel(conn, id)
        })
    }

    /// [`Settings::update_channel`] and [`Settings::set_channel_routing`] in
    /// one transaction.
    pub fn update_channel_with_routing(
        &self,
        id: i64,
        update: &ChannelUpdate,
        routing: &RoutingUpdate,
    ) -> StoreResult<Channel> {
        self.store.write(|conn| {
            apply_channel_update(conn, id, update)?;
            apply_routing(conn, id, routing)?;
            find_channel(conn, id)
        })
    }

    /// Connect and finish: the channel becomes `connected` and its
    /// forwarding address fixed. Returns the channel and whether it changed:
    /// finishing a connected channel again is harmless.
    pub fn finish_channel(&self, id: i64) -> StoreResult<(Channel, bool)> {
        self.store.write(|conn| {
            let changed = diesel::update(
                channels::table
                    .filter(channels::id.eq(id))
                    .filter(channels::status.eq("draft")),
            )
            .set((
                channels::status.eq("connected"),
                channels::finished_at.eq(crate::now()),
            ))
            .execute(conn)?;
            Ok((find_channel(conn, id)?, changed > 0))
        })
    }

    /// Whether `domain` (lower case) is a sending domain whose DNS records
    /// were verified.
    pub fn sending_domain_verified(&self, domain: &str) -> StoreResult<bool> {
        self.store.read(|conn| domain_verified(conn, domain))
    }
}

fn domain_verified(conn: &mut DbConnection, domain: &str) -> StoreResult<bool> {
    Ok(sending_domains::table
        .filter(sending_domains::domain.eq(domain))
        .filter(sending_domains::verified_at.is_not_null())
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A custom From address must be in a verified sending domain; checked in
/// the writing transaction too.
fn require_verified_from(conn: &mut DbConnection, address: &str) -> StoreResult<()> {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    if domain_verified(conn, domain)? {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the domain {domain} of the From address {address} is not a verified sending domain"
        )))
    }
}

/// Runs one statement that a unique index may refuse, so that the
/// transaction goes on after a refusal: PostgreSQL aborts the whole
/// transaction on an error, so the statement gets a savepoint there;
/// SQLite undoes only the failed statement.
fn attempt<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    match conn {
        DbConnection::Postgres(_) => conn.transaction(f),
        DbConnection::Sqlite(_) => f(conn),
    }
}

/// A channel just inserted, with its routing applied.
fn routed_channel(
    conn: &mut DbConnection,
    id: i64,
    routing: &RoutingUpdate,
    sources: &[String],
) -> StoreResult<Channel> {
    apply_routing(conn, id, routing)?;
    for address in sources {
        super::inbox::add_source(conn, id, address, "admin", crate::now())?;
    }
    find_channel(conn, id)
}

/// Inserts a channel; a unique index that refuses it is told apart.
fn insert_channel(
    conn: &mut DbConnection,
    channel: &NewChannel<'_>,
    replies: &ChannelReplies,
) -> StoreResult<Result<i64, Taken>> {
    if let Some(address) = &replies.from_address {
        require_verified_from(conn, address)?;
    }
    let address = channel.forwarding_address.to_string();
    if let Some(message) = reserve_for_channels(conn, &address)? {
        return Ok(Err(Taken::Address(message)));
    }
    let inserted = attempt(conn, |conn| {
        diesel::insert_into(channels::table)
            .values((
                channels::name.eq(channel.name),
                channels::company.eq(channel.company),
                channels::company_from_name.eq(company_from_name_key(channel.company)),
                channels::forwarding_address.eq(&address),
                channels::from_name_mode.eq(replies.from_name_mode.as_str()),
                channels::from_address.eq(&replies.from_address),
                channels::signature_html.eq(&replies.signature_html),
                channels::created_at.eq(crate::now()),
            ))
            .returning(channels::id)
            .get_result::<i64>(conn)
    });
    match inserted {
        Ok(id) => Ok(Ok(id)),
        Err(e) if is_unique_violation(&e) => {
            if address_owner(conn, &address)?.is_some() {
                Ok(Err(Taken::Address(address_taken(&address))))
            } else if let Some(message) = from_name_taken(conn, channel.company, None)? {
                Ok(Err(Taken::FromName(message)))
            } else {
                Err(e.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn address_owner(conn: &mut DbConnection, address: &str) -> StoreResult<Option<i64>> {
    Ok(channels::table
        .filter(channels::forwarding_address.eq(address))
        .select(channels::id)
        .first::<i64>(conn)
        .optional()?)
}

fn address_taken(address: &str) -> String {
    format!("the forwarding address {address} is already used by another channel")
}

/// The refusal for a company whose From name a channel other than `except`
/// uses, if one does.
fn from_name_taken(
    conn: &mut DbConnection,
    company: &str,
    except: Option<i64>,
) -> StoreResult<Option<String>> {
    let mut query = channels::table
        .filter(channels::company_from_name.eq(company_from_name_key(company)))
        .select((channels::id, channels::forwarding_address))
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(channels::id.ne(id));
    }
    Ok(query
        .first::<(i64, String)>(conn)
        .optional()?
        .map(|(id, address)| {
            format!(
                "the From name \"{}\" is already used by channel {id} ({address}); \
                 a From name may belong to one hosted address only",
                company_from_name(company)
            )
        }))
}

/// The work of [`Settings::update_channel`], inside the caller's
/// transaction.
fn apply_channel_update(
    conn: &mut DbConnection,
    id: i64,
    update: &ChannelUpdate,
) -> StoreResult<()> {
    let (status, current_address) = channels::table
        .find(id)
        .select((channels::status, channels::forwarding_address))
        .first::<(String, String)>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no channel {id}")))?;
    if let Some(Some(address)) = &update.from_address {
        require_verified_from(conn, address)?;
    }
    if let Some(address) = &update.forwarding_address {
        let address = address.to_string();
        if status == "draft" || address != current_address {
            if let Some(message) = reserve_for_channels(conn, &address)? {
                return Err(StoreError::Conflict(message));
            }
            // The status is part of the statement, so a channel finished by
            // someone else in the meantime is not changed.
            let changed = attempt(conn, |conn| {
                diesel::update(
                    channels::table
                        .filter(channels::id.eq(id))
                        .filter(channels::status.eq("draft")),
                )
                .set(channels::forwarding_address.eq(&address))
                .execute(conn)
            })
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(address_taken(&address))
                } else {
                    e.into()
                }
            })?;
            if changed == 0 {
                return Err(StoreError::Conflict(format!(
                    "the forwarding address of channel {id} cannot change after finishing \
                     (connect and finish locked it)"
                )));
            }
            release_for_channels(conn, &current_address)?;
        }
    }
    if let Some(company) = &update.company {
        let updated = attempt(conn, |conn| {
            diesel::update(channels::table.find(id))
                .set((
                    channels::company.eq(company),
                    channels::company_from_name.eq(company_from_name_key(company)),
                ))
                .execute(conn)
        });
        match updated {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(match from_name_taken(conn, company, Some(id))? {
                    Some(message) => StoreError::Conflict(message),
                    None => e.into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(name) = &update.name {
        diesel::update(channels::table.find(id))
            .set(channels::name.eq(name))
            .execute(conn)?;
    }
    if let Some(mode) = update.from_name_mode {
        diesel::update(channels::table.find(id))
            .set(channels::from_name_mode.eq(mode.as_str()))
            .execute(conn)?;
    }
    if let Some(address) = &update.from_address {
        diesel::update(channels::table.find(id))
            .set(channels::from_address.eq(address))
            .execute(conn)?;
    }
    if let Some(signature) = &update.signature_html {
        diesel::update(channels::table.find(id))
            .set(channels::signature_html.eq(signature))
            .execute(conn)?;
    }
    apply_sources(conn, id, update)
}

/// Removes, then adds, the sources an update names.
fn apply_sources(conn: &mut DbConnection, id: i64, update: &ChannelUpdate) -> StoreResult<()> {
    for address in &update.remove_sources {
        let removed = diesel::delete(
            channel_sources::table
                .filter(channel_sources::channel_id.eq(id))
                .filter(channel_sources::address.eq(address)),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(StoreError::NotFound(format!(
                "channel {id} has no source {address}"
            )));
        }
    }
    for address in &update.add_sources {
        super::inbox::add_source(conn, id, address, "admin", crate::now())?;
    }
    Ok(())
}

/// The local part of an address (the whole of a string without `@`).
fn local_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(local, _)| local)
}

/// Who has a local part: `Some(None)` for channels' forwarding addresses,
/// `Some(Some(user))` for a user's reply address.
fn local_part_owner(conn: &mut DbConnection, local: &str) -> StoreResult<Option<Option<i64>>> {
    Ok(hosted_local_parts::table
        .find(local)
        .select(hosted_local_parts::user_id)
        .first::<Option<i64>>(conn)
        .optional()?)
}

/// Inserts a local part for `user_id` (or for channels: `None`); whether
/// the primary key refused it. Through [`attempt`], so the transaction
/// goes on to say who has it.
pub(super) fn insert_local_part(
    conn: &mut DbConnection,
    local: &str,
    user_id: Option<i64>,
) -> StoreResult<bool> {
    let inserted = attempt(conn, |conn| {
        diesel::insert_into(hosted_local_parts::table)
            .values((
                hosted_local_parts::local_part.eq(local),
                hosted_local_parts::user_id.eq(user_id),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reserves the local part of `username` as `user_id`'s reply address.
fn reserve_reply_address(conn: &mut DbConnection, user_id: i64, username: &str) -> StoreResult<()> {
    let local = local_part(username);
    if insert_local_part(conn, &local, Some(user_id))? {
        return Ok(());
    }
    let holder = match local_part_owner(conn, &local)?.flatten() {
        Some(other) => {
            let email = users::table
                .find(other)
                .select(users::email)
                .first::<String>(conn)?;
            format!("user {email} has the reply address {local}@")
        }
        None => {
            let channels = channels_with_local_part(conn, &local)?;
            format!(
                "{local}@ is the forwarding address of {}",
                channels.join(", ")
            )
        }
    };
    Err(StoreError::Conflict(format!(
        "the username {} would make {local}@ (in every hosted domain) this user's reply address, but {holder}; choose another --username",
        crate::address::printable(username)
    )))
}

/// Reserves the local part of a forwarding address for channels; the
/// refusal when it is a user's reply address.
fn reserve_for_channels(conn: &mut DbConnection, address: &str) -> StoreResult<Option<String>> {
    let local = local_of(address);
    let owner = match local_part_owner(conn, local)? {
        Some(owner) => owner,
        // Another admin may insert it meanwhile: then it is read again.
        None if insert_local_part(conn, local, None)? => None,
        None => local_part_owner(conn, local)?.flatten(),
    };
    let Some(user) = owner else {
        return Ok(None);
    };
    let (email, username) = users::table
        .find(user)
        .select((users::email, users::username))
        .first::<(String, String)>(conn)?;
    Ok(Some(format!(
        "the forwarding address {address} collides with the reply address {local}@ of user {email} (username {}); choose another address",
        crate::address::printable(&username)
    )))
}

/// Frees the local part of a forwarding address no channel uses any more.
fn release_for_channels(conn: &mut DbConnection, address: &str) -> StoreResult<()> {
    let local = local_of(address);
    if channels_with_local_part(conn, local)?.is_empty() {
        diesel::delete(
            hosted_local_parts::table
                .find(local)
                .filter(hosted_local_parts::user_id.is_null()),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// "channel 3 (support@inbox.example.com)" for each channel whose
/// forwarding address has this local part.
fn channels_with_local_part(conn: &mut DbConnection, local: &str) -> StoreResult<Vec<String>> {
    Ok(channels::table
        .select((channels::id, channels::forwarding_address))
        .order(channels::id)
        .load::<(i64, String)>(conn)?
        .into_iter()
        .filter(|(_, address)| local_of(address) == local)
        .map(|(id, address)| format!("channel {id} ({address})"))
        .collect())
}
