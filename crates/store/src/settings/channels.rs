//! Channels: the `Channel` record, its assign mode, and creating, listing and enabling channels.

use super::channel_setup::ChannelReplies;
use super::routing::{assignee_names, RoutingUpdate};
use super::sources::{source_lists, Source};
use super::Settings;
use crate::address::ForwardingAddress;
use crate::model::{AssignMode, FromNameMode};
use crate::{
    schema::channels,
    views::{self, serialize_optional_utc},
    DbConnection, StoreError, StoreResult,
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
    /// [`teaminbox_outbound::signature`]).
    pub signature_html: Option<String>,
    /// When the admin connected and finished (status `connected`); the
    /// forwarding address is fixed from then on.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub finished_at: Option<NaiveDateTime>,
    /// The addresses whose list rewrites (X-Original-From and friends) the
    /// channel believes when they arrive authenticated, sorted.
    pub sources: Vec<Source>,
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

/// What the admin gives to create a channel.
#[derive(Clone, Debug)]
pub struct NewChannel<'a> {
    pub name: &'a str,
    pub company: &'a str,
    pub forwarding_address: &'a ForwardingAddress,
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

pub(super) fn find_channel(conn: &mut DbConnection, id: i64) -> StoreResult<Channel> {
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
