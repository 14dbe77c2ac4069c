//! Retention: deleting what the daemon no longer needs, in small batches
//! (each its own short transaction, so the milter's commits never wait
//! long behind a purge). Each batch is a relaxed write: one lost in a crash
//! is simply done again at the next purge.

use super::{
    schema::{inbound_messages, inbound_recipients, messages, rejections},
    Store, StoreResult,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Rows handled per transaction.
pub const PURGE_BATCH: i64 = 500;

pub struct Retention<'s> {
    pub(super) store: &'s Store,
}

impl Retention<'_> {
    /// Deletes up to [`PURGE_BATCH`] rejection log rows logged before
    /// `before`; returns how many.
    pub fn delete_rejections(&self, before: NaiveDateTime) -> StoreResult<usize> {
        self.store.write_relaxed(|conn| {
            let ids: Vec<i64> = rejections::table
                .select(rejections::id)
                .filter(rejections::rejected_at.lt(before))
                .limit(PURGE_BATCH)
                .load(conn)?;
            Ok(
                diesel::delete(rejections::table.filter(rejections::id.eq_any(&ids)))
                    .execute(conn)?,
            )
        })
    }

    /// Empties the raw message of up to [`PURGE_BATCH`] filed (`done`)
    /// queue rows received before `before`; returns how many. The filed
    /// conversation keeps its own copy of what the inbox shows.
    pub fn drop_processed_raw_messages(&self, before: NaiveDateTime) -> StoreResult<usize> {
        self.store.write_relaxed(|conn| {
            let ids: Vec<i64> = done_before(before)
                .filter(inbound_messages::raw_message.ne(Vec::<u8>::new()))
                .load(conn)?;
            Ok(
                diesel::update(inbound_messages::table.filter(inbound_messages::id.eq_any(&ids)))
                    .set(inbound_messages::raw_message.eq(Vec::<u8>::new()))
                    .execute(conn)?,
            )
        })
    }

    /// Deletes up to [`PURGE_BATCH`] filed (`done`) queue rows received
    /// before `before`, with their recipients; returns how many. Messages
    /// filed from them keep everything the inbox shows (bodies, decisions,
    /// attachments) and lose only their reference to the row, which would
    /// point at nothing.
    pub fn delete_done_queue_rows(&self, before: NaiveDateTime) -> StoreResult<usize> {
        self.store.write_relaxed(|conn| {
            let ids: Vec<i64> = done_before(before).load(conn)?;
            diesel::update(messages::table.filter(messages::inbound_message_id.eq_any(&ids)))
                .set(messages::inbound_message_id.eq(None::<i64>))
                .execute(conn)?;
            // Explicitly: SQLite enforces the cascade only with its
            // foreign_keys pragma on.
            diesel::delete(
                inbound_recipients::table
                    .filter(inbound_recipients::inbound_message_id.eq_any(&ids)),
            )
            .execute(conn)?;
            Ok(
                diesel::delete(inbound_messages::table.filter(inbound_messages::id.eq_any(&ids)))
                    .execute(conn)?,
            )
        })
    }
}

/// The ids of up to [`PURGE_BATCH`] filed (`done`) queue rows received
/// before `before`.
fn done_before(
    before: NaiveDateTime,
) -> inbound_messages::BoxedQuery<'static, super::MultiBackend, diesel::sql_types::BigInt> {
    inbound_messages::table
        .select(inbound_messages::id)
        .filter(inbound_messages::state.eq("done"))
        .filter(inbound_messages::received_at.lt(before))
        .limit(PURGE_BATCH)
        .into_boxed()
}

/// Runs `batch` until it finds less than a full batch to do, or until
/// `go_on` says stop; returns the total.
pub fn in_batches(
    mut batch: impl FnMut() -> StoreResult<usize>,
    go_on: impl Fn() -> bool,
) -> StoreResult<usize> {
    let mut total = 0;
    loop {
        let done = batch()?;
        total += done;
        if (done as i64) < PURGE_BATCH || !go_on() {
            return Ok(total);
        }
    }
}
