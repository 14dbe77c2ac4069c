//! The processor's side of the inbound queue: claiming stored messages,
//! giving up on them, and putting failed ones back.
//!
//! A claim is its own short transaction (`pending` → `processing`, with the
//! worker's name and the time). The work on a claimed message is a second
//! transaction that ends by marking it `done` ([`mark_done`]), so a worker
//! that dies leaves a `processing` row, never a half-applied one. The claim
//! is renewed while the work goes on ([`Queue::renew`]); a claim that is
//! not renewed for the lease is taken again by any worker, and a daemon
//! that starts gives back the claims of its host's dead processes at once
//! ([`Queue::release_dead`]).

use super::{
    claiming::{dead_claims, died_while_processing, first_unclaimed},
    inbound::HostedRecipient,
    schema::inbound_messages,
    DbConnection, Store, StoreResult,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::time::Duration;

/// Claims of a message before it is parked as `failed`.
pub const MAX_ATTEMPTS: i32 = 5;

/// A message a worker has claimed.
#[derive(Clone, Debug)]
pub struct ClaimedMessage {
    pub id: i64,
    /// The MTA's queue id, when it gave one.
    pub queue_id: Option<String>,
    pub raw_message: Vec<u8>,
    pub mail_from: String,
    pub recipients: Vec<HostedRecipient>,
    pub dmarc: Option<String>,
    pub arc_trusted: bool,
    pub spam: bool,
    /// rspamd's action and score, when it was asked.
    pub spam_action: Option<String>,
    pub spam_score: Option<f64>,
    /// Including this claim.
    pub attempts: i32,
}

/// How much one claim takes at most: fresh messages are claimed and filed
/// together, so that a worker pays one claim and one filing transaction
/// for several of them.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    pub messages: usize,
    /// The raw messages' sizes together; the first message is claimed
    /// whatever its size.
    pub bytes: i64,
}

impl Batch {
    /// One message at a time.
    pub const ONE: Batch = Batch {
        messages: 1,
        bytes: 0,
    };
}

pub struct Queue<'s> {
    pub(super) store: &'s Store,
}

impl Queue<'_> {
    /// Claims a message whose claim is older than `lease` (its worker
    /// died or stopped renewing it), else the oldest pending one. Every
    /// claim counts an attempt; a message whose workers died on it
    /// `max_attempts` times is parked as `failed` instead, so one that
    /// kills its worker is not retried forever. On PostgreSQL, workers on
    /// several hosts skip each other's locked rows; on SQLite the write
    /// lock serialises.
    pub fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> StoreResult<Option<ClaimedMessage>> {
        let claimed = self.claim_batch(worker, lease, max_attempts, Batch::ONE)?;
        Ok(claimed.into_iter().next())
    }

    /// Claims as [`Queue::claim`] does, and with a fresh message (never
    /// tried before) the next fresh ones too, up to `batch`, in one
    /// transaction. A message tried before is claimed alone: should it be
    /// the one that kills its worker, it takes no other message's
    /// attempts with it.
    pub fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
        batch: Batch,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        let now = crate::now();
        let expired = now - chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let ids = self.store.write_relaxed(|conn| {
            let first = loop {
                let Some(id) = next_claimable(conn, expired)? else {
                    return Ok(Vec::new());
                };
                if let Some(taken) = take(conn, id, worker, now, max_attempts)? {
                    break taken;
                }
            };
            let mut ids = vec![first.id];
            let mut bytes = first.size;
            while first.fresh && ids.len() < batch.messages && bytes < batch.bytes {
                let Some(id) = next_pending(conn)? else { break };
                let Some(size) = take_fresh(conn, id, worker, now)? else {
                    break;
                };
                ids.push(id);
                bytes += size;
            }
            Ok(ids)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.store
            .read(|conn| ids.iter().map(|id| load(conn, *id)).collect())
    }
}

/// A claimed message's row and its recipients.
fn load(conn: &mut DbConnection, id: i64) -> StoreResult<ClaimedMessage> {
    let (
        (queue_id, raw_message, mail_from, dmarc, arc_trusted, spam),
        (attempts, spam_action, spam_score),
    ) = inbound_messages::table
        .find(id)
        .select((
            (
                inbound_messages::queue_id,
                inbound_messages::raw_message,
                inbound_messages::mail_from,
                inbound_messages::dmarc,
                inbound_messages::arc_trusted,
                inbound_messages::spam,
            ),
            (
                inbound_messages::attempts,
                inbound_messages::spam_action,
                inbound_messages::spam_score,
            ),
        ))
        .first::<(
            (Option<String>, Vec<u8>, String, Option<String>, bool, bool),
            (i32, Option<String>, Option<f64>),
        )>(conn)?;
    let recipients = super::inbound::load_recipients(conn, id)?;
    Ok(ClaimedMessage {
        spam_action,
        spam_score,
        id,
        queue_id,
        raw_message,
        mail_from,
        recipients,
        dmarc,
        arc_trusted,
        spam,
        attempts,
    })
}

impl Queue<'_> {
    /// Keeps `worker`'s claim on message `id` for another lease; false when
    /// the worker no longer holds it (its lease ran out and another worker
    /// took it, or it was given back).
    pub fn renew(&self, id: i64, worker: &str) -> StoreResult<bool> {
        Ok(self.renew_all(&[id], worker)? == 1)
    }

    /// [`Queue::renew`] for every message of a batch; how many are still
    /// held.
    pub fn renew_all(&self, ids: &[i64], worker: &str) -> StoreResult<usize> {
        self.store.write_relaxed(|conn| {
            let mut held = 0;
            for id in ids {
                held += diesel::update(held_by(*id, worker))
                    .set(inbound_messages::claimed_at.eq(crate::now()))
                    .execute(conn)?;
            }
            Ok(held)
        })
    }

    /// Gives back message `id` after `error`, as [`Queue::release_failed`]
    /// does, if `worker` still holds it; the rest of its batch stays
    /// claimed.
    pub fn release_claim(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        max_attempts: i32,
    ) -> StoreResult<()> {
        self.store
            .write_relaxed(|conn| release(conn, id, worker, error, max_attempts))
    }

    /// Gives back what `worker` holds after an error: `pending` again, or
    /// `failed` (parked, with the error) after `max_attempts`. A worker
    /// holds one claim at a time, and after an error it may hold messages it
    /// does not know of (the answer to its claim was lost), so everything
    /// under its name goes back. Nothing it no longer holds is touched, so
    /// a release retried later cannot undo another worker's claim.
    pub fn release_failed(&self, worker: &str, error: &str, max_attempts: i32) -> StoreResult<()> {
        self.store.write_relaxed(|conn| {
            let held = inbound_messages::table
                .filter(inbound_messages::state.eq("processing"))
                .filter(inbound_messages::claimed_by.eq(worker))
                .select(inbound_messages::id)
                .load::<i64>(conn)?;
            for id in held {
                release(conn, id, worker, error, max_attempts)?;
            }
            Ok(())
        })
    }

    /// Gives back every claim whose holder is `gone` (see
    /// `claims::holder_is_gone`), as after an error; returns how many.
    pub fn release_dead(
        &self,
        gone: &dyn Fn(&str, NaiveDateTime) -> bool,
        max_attempts: i32,
    ) -> StoreResult<usize> {
        self.store.write_relaxed(|conn| {
            let claims = inbound_messages::table
                .filter(inbound_messages::state.eq("processing"))
                .select((
                    inbound_messages::id,
                    inbound_messages::claimed_by,
                    inbound_messages::claimed_at,
                ))
                .load(conn)?;
            let dead = dead_claims(claims, gone);
            for (id, holder) in &dead {
                release(
                    conn,
                    *id,
                    holder,
                    &died_while_processing(holder),
                    max_attempts,
                )?;
            }
            Ok(dead.len())
        })
    }

    /// Puts every parked (`failed`) message back in the queue; returns how many.
    pub fn retry_failed(&self) -> StoreResult<usize> {
        self.store.write(|conn| {
            Ok(
                diesel::update(
                    inbound_messages::table.filter(inbound_messages::state.eq("failed")),
                )
                .set((
                    inbound_messages::state.eq("pending"),
                    inbound_messages::attempts.eq(0),
                ))
                .execute(conn)?,
            )
        })
    }
}

/// The message whose worker died (claim older than `expired`), else the
/// oldest pending one. Two lookups, each answered in order by the
/// `(state, id)` index: one query with `OR` made SQLite sort every pending
/// id on each claim, inside the write lock, and the processor slowed as the
/// queue grew.
fn next_claimable(conn: &mut DbConnection, expired: NaiveDateTime) -> StoreResult<Option<i64>> {
    let abandoned = inbound_messages::table
        .filter(state_is("processing"))
        .filter(inbound_messages::claimed_at.lt(expired))
        .order(inbound_messages::id)
        .select(inbound_messages::id)
        .limit(1);
    if let Some(id) = first_unclaimed!(conn, abandoned)? {
        return Ok(Some(id));
    }
    next_pending(conn)
}

/// `state = 'STATE'` written into the statement rather than bound: on
/// PostgreSQL a prepared claim may get a generic plan, and one that does
/// not know the state walked the primary key through every done row
/// (1.2 ms a claim after 12,000 messages; tests/bench/analysis.md). With
/// the state in its text the plan uses the `(state, id)` index.
fn state_is(state: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    debug_assert!(state.chars().all(|c| c.is_ascii_lowercase()));
    diesel::dsl::sql(&format!("inbound_messages.state = '{state}'"))
}

/// The oldest pending message.
fn next_pending(conn: &mut DbConnection) -> StoreResult<Option<i64>> {
    let pending = inbound_messages::table
        .filter(state_is("pending"))
        .order(inbound_messages::id)
        .select(inbound_messages::id)
        .limit(1);
    Ok(first_unclaimed!(conn, pending)?)
}

/// A message just claimed.
struct Taken {
    id: i64,
    /// Pending and never tried before.
    fresh: bool,
    size: i64,
}

/// Claims message `id` for `worker` and counts the attempt; `None` when
/// it was parked instead. A message taken from a dead worker keeps why in
/// `last_error`, and is parked as `failed` instead once it has had its
/// `max_attempts`.
fn take(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    now: NaiveDateTime,
    max_attempts: i32,
) -> StoreResult<Option<Taken>> {
    let (state, holder, attempts, size) = inbound_messages::table
        .find(id)
        .select((
            inbound_messages::state,
            inbound_messages::claimed_by,
            inbound_messages::attempts,
            inbound_messages::message_size,
        ))
        .first::<(String, Option<String>, i32, i64)>(conn)?;
    if state == "processing" {
        let error = died_while_processing(holder.as_deref().unwrap_or("unknown"));
        if attempts >= max_attempts {
            give_back(conn, id, "failed", &error)?;
            return Ok(None);
        }
        diesel::update(inbound_messages::table.find(id))
            .set(inbound_messages::last_error.eq(error))
            .execute(conn)?;
    }
    mark_claimed(conn, id, worker, now)?;
    Ok(Some(Taken {
        id,
        fresh: state == "pending" && attempts == 0,
        size,
    }))
}

/// Claims pending message `id` for `worker` if it was never tried before;
/// its size when claimed.
fn take_fresh(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let (attempts, size) = inbound_messages::table
        .find(id)
        .select((inbound_messages::attempts, inbound_messages::message_size))
        .first::<(i32, i64)>(conn)?;
    if attempts > 0 {
        return Ok(None);
    }
    mark_claimed(conn, id, worker, now)?;
    Ok(Some(size))
}

/// `processing` by `worker` since `now`, one more attempt.
fn mark_claimed(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(inbound_messages::table.find(id))
        .set((
            inbound_messages::state.eq("processing"),
            inbound_messages::claimed_by.eq(worker),
            inbound_messages::claimed_at.eq(now),
            inbound_messages::attempts.eq(inbound_messages::attempts + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// The row of message `id` while `worker` holds its claim.
type HeldBy<'w> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<inbound_messages::table, i64>,
        diesel::dsl::Eq<inbound_messages::state, &'static str>,
    >,
    diesel::dsl::Eq<inbound_messages::claimed_by, &'w str>,
>;

/// See [`HeldBy`].
fn held_by(id: i64, worker: &str) -> HeldBy<'_> {
    inbound_messages::table
        .find(id)
        .filter(inbound_messages::state.eq("processing"))
        .filter(inbound_messages::claimed_by.eq(worker))
}

/// `pending` again, or `failed` after `max_attempts`, if `worker` holds it.
fn release(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    error: &str,
    max_attempts: i32,
) -> StoreResult<()> {
    let Some(attempts) = held_by(id, worker)
        .select(inbound_messages::attempts)
        .first::<i32>(conn)
        .optional()?
    else {
        return Ok(());
    };
    let state = if attempts >= max_attempts {
        "failed"
    } else {
        "pending"
    };
    give_back(conn, id, state, error)
}

/// Ends the claim on message `id`: `state` (`pending` or `failed`), with
/// `error`.
fn give_back(conn: &mut DbConnection, id: i64, state: &str, error: &str) -> StoreResult<()> {
    diesel::update(inbound_messages::table.find(id))
        .set((
            inbound_messages::state.eq(state),
            inbound_messages::claimed_by.eq(None::<String>),
            inbound_messages::claimed_at.eq(None::<NaiveDateTime>),
            inbound_messages::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a claimed message done, inside the transaction that applied it.
pub(super) fn mark_done(conn: &mut DbConnection, id: i64) -> StoreResult<()> {
    diesel::update(inbound_messages::table.find(id))
        .set((
            inbound_messages::state.eq("done"),
            inbound_messages::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}
