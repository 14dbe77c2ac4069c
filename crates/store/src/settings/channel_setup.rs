//! Channel set-up: reply settings, forwarding-address changes, connect and finish.

use super::channels::{find_channel, NewChannel};
use super::local_parts::{release_for_channels, reserve_for_channels};
use super::routing::{apply_routing, RoutingUpdate};
use super::sending_domains::require_verified_from;
use super::sources::apply_sources;
use super::{attempt, Settings};
use crate::address::ForwardingAddress;
use crate::identity::{company_from_name, company_from_name_key};
use crate::model::Channel;
use crate::model::FromNameMode;
use crate::{rows::is_unique_violation, schema::channels, DbConnection, StoreError, StoreResult};
use diesel::prelude::*;

/// A new channel's reply settings; the default is the agent-and-company
/// From name, the default From address and no signature.
#[derive(Clone, Debug, Default)]
pub struct ChannelReplies {
    pub from_name_mode: FromNameMode,
    /// Lower case, in a verified sending domain.
    pub from_address: Option<String>,
    /// Checked with [`teaminbox_outbound::signature::check`].
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
        super::sources::add_source(conn, id, address, "admin", crate::now())?;
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
