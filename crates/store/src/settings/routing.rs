//! Routing: how a channel assigns and tickets new conversations.

use super::channels::find_channel;
use super::people::team_id;
use super::Settings;
use crate::model::AssignMode;
use crate::model::Channel;
use crate::rows::user_id;
use crate::{
    schema::{channel_assignees, channels, teams, users},
    DbConnection, StoreError, StoreResult,
};
use diesel::prelude::*;
use serde_json::Value;

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
pub(super) fn apply_routing(
    conn: &mut DbConnection,
    id: i64,
    update: &RoutingUpdate,
) -> StoreResult<()> {
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
        let mut merged = crate::rows::json_object("channels", id, &properties)?;
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

/// Per channel id: the user emails and the team names it assigns to.
type AssigneeNames = std::collections::HashMap<i64, (Vec<String>, Vec<String>)>;

/// The user emails and team names each channel (or one) assigns to, sorted.
pub(super) fn assignee_names(
    conn: &mut DbConnection,
    channel: Option<i64>,
) -> StoreResult<AssigneeNames> {
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
