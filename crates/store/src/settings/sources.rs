//! A channel's sources: the addresses whose list rewrites it trusts.

use super::channel_setup::ChannelUpdate;
use crate::model::Source;
use crate::{schema::channel_sources, DbConnection, StoreError, StoreResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Each channel's (or one channel's) sources, sorted by address.
pub(super) fn source_lists(
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

/// Removes, then adds, the sources an update names.
pub(super) fn apply_sources(
    conn: &mut DbConnection,
    id: i64,
    update: &ChannelUpdate,
) -> StoreResult<()> {
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
        super::sources::add_source(conn, id, address, "admin", crate::now())?;
    }
    Ok(())
}

/// Adds a source unless the channel has it already (then its origin stays);
/// true when added.
pub(crate) fn add_source(
    conn: &mut DbConnection,
    channel_id: i64,
    address: &str,
    origin: &str,
    at: NaiveDateTime,
) -> StoreResult<bool> {
    let known = channel_sources::table
        .filter(channel_sources::channel_id.eq(channel_id))
        .filter(channel_sources::address.eq(address))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !known {
        diesel::insert_into(channel_sources::table)
            .values((
                channel_sources::channel_id.eq(channel_id),
                channel_sources::address.eq(address),
                channel_sources::origin.eq(origin),
                channel_sources::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(!known)
}
