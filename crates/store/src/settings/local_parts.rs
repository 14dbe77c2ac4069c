//! Reserved local parts (`hosted_local_parts`): users' reply addresses and channels' forwarding addresses.

use super::attempt;
use crate::identity::local_part;
use crate::{
    rows::is_unique_violation,
    schema::{channels, hosted_local_parts, users},
    DbConnection, StoreError, StoreResult,
};
use diesel::prelude::*;

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
pub(crate) fn insert_local_part(
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
pub(super) fn reserve_reply_address(
    conn: &mut DbConnection,
    user_id: i64,
    username: &str,
) -> StoreResult<()> {
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
pub(super) fn reserve_for_channels(
    conn: &mut DbConnection,
    address: &str,
) -> StoreResult<Option<String>> {
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
pub(super) fn release_for_channels(conn: &mut DbConnection, address: &str) -> StoreResult<()> {
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
