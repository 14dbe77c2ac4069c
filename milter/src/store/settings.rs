//! The admin's part of the store: channels.

use super::{is_unique_violation, schema::channels, DbConnection, Store, StoreError, StoreResult};
use crate::address::ForwardingAddress;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// A channel: a team inbox behind one hosted forwarding address.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = channels)]
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
    /// Creates a channel in status `draft`. A forwarding address already
    /// taken is refused by the database's unique index, so two admins at
    /// once cannot both get it.
    pub fn create_channel(&self, channel: &NewChannel<'_>) -> StoreResult<Channel> {
        let address = channel.forwarding_address.to_string();
        self.store.write(|conn| {
            diesel::insert_into(channels::table)
                .values((
                    channels::name.eq(channel.name),
                    channels::company.eq(channel.company),
                    channels::forwarding_address.eq(&address),
                    channels::created_at.eq(crate::now()),
                ))
                .returning(channels::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "the forwarding address {address} is already used by another channel"
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| find_channel(conn, id))
        })
    }

    pub fn channels(&self) -> StoreResult<Vec<Channel>> {
        self.store.read(|conn| {
            Ok(channels::table
                .select(Channel::as_select())
                .order(channels::id)
                .load(conn)?)
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
    channels::table
        .find(id)
        .select(Channel::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no channel {id}")))
}
