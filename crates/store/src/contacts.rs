//! Contacts, found or created: by the processor for a message's author,
//! by the admin for a contact's owner.

use crate::{rows::on_backend, schema::contacts, DbConnection, StoreError, StoreResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A contact as found by address.
pub(crate) struct FoundContact {
    pub id: i64,
    pub owner_user_id: Option<i64>,
    pub name: Option<String>,
}

/// The contact with this address, created (with `name`) if there is none;
/// true when this call created it. Two workers (or a worker and the admin)
/// creating the same new contact at once both get the one row: the insert
/// does nothing on a conflict, and on PostgreSQL waits for the other
/// transaction, whose row the second lookup then sees.
pub(crate) fn find_or_create_contact(
    conn: &mut DbConnection,
    address: &str,
    name: Option<&str>,
    at: NaiveDateTime,
) -> StoreResult<(FoundContact, bool)> {
    if let Some(found) = find_contact(conn, address)? {
        return Ok((found, false));
    }
    let inserted = on_backend!(&mut *conn, |c| diesel::insert_into(contacts::table)
        .values((
            contacts::address.eq(address),
            contacts::name.eq(name),
            contacts::created_at.eq(at),
        ))
        .on_conflict(contacts::address)
        .do_nothing()
        .execute(c))?;
    let found = find_contact(conn, address)?.ok_or_else(|| {
        StoreError::NotFound(format!("the contact {address} vanished as it was created"))
    })?;
    Ok((found, inserted == 1))
}

fn find_contact(conn: &mut DbConnection, address: &str) -> StoreResult<Option<FoundContact>> {
    Ok(contacts::table
        .filter(contacts::address.eq(address))
        .select((contacts::id, contacts::owner_user_id, contacts::name))
        .first::<(i64, Option<i64>, Option<String>)>(conn)
        .optional()?
        .map(|(id, owner_user_id, name)| FoundContact {
            id,
            owner_user_id,
            name,
        }))
}
