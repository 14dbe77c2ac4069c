//! A channel's sources: the addresses whose list rewrites it trusts.

use super::channel_setup::ChannelUpdate;
use crate::{schema::channel_sources, DbConnection, StoreError, StoreResult};
use diesel::prelude::*;
use serde::Serialize;

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
        crate::inbox::add_source(conn, id, address, "admin", crate::now())?;
    }
    Ok(())
}
