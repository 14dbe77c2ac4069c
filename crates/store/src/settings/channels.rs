//! Channels: reading the `Channel` record (see `model`), and creating,
//! listing and enabling channels.

use super::channel_setup::ChannelReplies;
use super::routing::{assignee_names, RoutingUpdate};
use super::sources::source_lists;
use super::Settings;
use crate::address::ForwardingAddress;
use crate::model::{Channel, Source};
use crate::{schema::channels, DbConnection, StoreError, StoreResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

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
                .map_err(|e| crate::rows::bad_row("channels", id, e))?,
            assign_any_availability: self.assign_any_availability,
            assign_users,
            assign_teams,
            tickets_enabled: self.tickets_enabled,
            ticket_properties: crate::rows::json_object("channels", id, &self.ticket_properties)?,
            verification_code: self.verification_code,
            verification_link: self.verification_link,
            verification_requested_by: self.verification_requested_by,
            verification_received_at: self.verification_received_at,
            from_name_mode: self
                .from_name_mode
                .parse()
                .map_err(|e| crate::rows::bad_row("channels", id, e))?,
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
