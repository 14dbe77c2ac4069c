//! The admin's part of the store: channels and their routing, the allow and
//! deny lists, users, teams and contact owners, and the admin's operations
//! on conversations (assign, close, reopen).

mod channel_setup;
mod channels;
mod filters;
mod inbox_operations;
pub mod list_entry;
mod local_parts;
mod people;
mod routing;
mod sending_domains;
mod sources;

pub use channel_setup::{ChannelReplies, ChannelUpdate};
pub use channels::NewChannel;
pub use filters::ListEntry;
pub(super) use filters::{ListEntryRow, LIST_ENTRY_COLUMNS};
pub(crate) use inbox_operations::set_status;
pub(super) use local_parts::insert_local_part;
pub(crate) use sources::add_source;

pub use people::{NewUser, TeamWithMembers};
pub use routing::RoutingUpdate;
pub use sending_domains::not_verified;

use super::{DbConnection, Store};
use diesel::prelude::*;

pub struct Settings<'s> {
    pub(super) store: &'s Store,
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
