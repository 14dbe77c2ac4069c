//! Lessons for rspamd: the team marks a conversation as spam or not spam
//! (one transaction: the status and a lesson per received message), and
//! the daemon's lesson worker delivers them (`spam::lessons`) with retries,
//! so a down rspamd loses none. A message is taught each class at most
//! once (unique per stored message and class).

use super::{
    claiming::{dead_claims, died_while_processing, first_unclaimed},
    schema::{conversations, inbound_messages, messages, spam_lessons},
    views::{self, ConversationSummary},
    DbConnection, Store, StoreResult,
};
use crate::model::{ConversationStatus, SpamClass};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use std::time::Duration;

pub struct SpamLessons<'s> {
    pub(super) store: &'s Store,
}

/// A conversation marked as spam or not spam, and what it taught.
#[derive(Clone, Debug, Serialize)]
pub struct Marked {
    pub conversation: ConversationSummary,
    /// Its status changed (it was not already `spam`, or `open`).
    pub changed: bool,
    /// The ticket a spam conversation marked not spam got, as filing would
    /// have given it (its channel creates tickets, and it had none).
    pub ticket_created: Option<i64>,
    pub lessons: LessonCounts,
}

/// What marking a conversation queued for rspamd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LessonCounts {
    /// New lessons, one per received message.
    pub queued: usize,
    /// Messages already taught this class (or queued to be).
    pub already: usize,
    /// Messages whose raw copy retention has dropped: nothing to teach.
    pub without_raw_message: usize,
}

/// A lesson due for delivery.
#[derive(Clone, Debug)]
pub struct Lesson {
    pub id: i64,
    pub class: SpamClass,
    pub raw_message: Vec<u8>,
    /// Including this one.
    pub attempts: i32,
}

/// A lesson as listed (without the message).
#[derive(Clone, Debug, Serialize, Queryable)]
pub struct LessonRow {
    pub id: i64,
    pub inbound_message_id: i64,
    pub class: String,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl SpamLessons<'_> {
    /// Sets the status of conversation `id` (`spam` for spam, `open` for
    /// ham) and queues a lesson of `class` for each of its received
    /// messages, in one transaction.
    pub fn mark_conversation(&self, id: i64, class: SpamClass) -> StoreResult<Marked> {
        let status = match class {
            SpamClass::Spam => ConversationStatus::Spam,
            SpamClass::Ham => ConversationStatus::Open,
        };
        self.store.write(|conn| {
            let before = crate::settings::set_status(conn, id, status)?;
            let ticket_created =
                if before == ConversationStatus::Spam.as_str() && class == SpamClass::Ham {
                    ticket_as_filed(conn, id)?
                } else {
                    None
                };
            let lessons = queue_lessons(conn, id, class)?;
            Ok(Marked {
                conversation: views::find_summary(conn, id)?,
                changed: before != status.as_str(),
                ticket_created,
                lessons,
            })
        })
    }

    /// Every lesson, oldest first.
    pub fn list(&self) -> StoreResult<Vec<LessonRow>> {
        self.store.read(|conn| {
            Ok(spam_lessons::table
                .order(spam_lessons::id)
                .select((
                    spam_lessons::id,
                    spam_lessons::inbound_message_id,
                    spam_lessons::class,
                    spam_lessons::state,
                    spam_lessons::attempts,
                    spam_lessons::last_error,
                ))
                .load(conn)?)
        })
    }

    /// Claims for `worker` a lesson whose claim expired, else the oldest
    /// one due now.
    pub fn claim_due(&self, worker: &str, lease: Duration) -> StoreResult<Option<Lesson>> {
        let now = crate::now();
        let expired = now - chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        self.store.write(|conn| {
            let Some(id) = next_due(conn, now, expired)? else {
                return Ok(None);
            };
            diesel::update(spam_lessons::table.find(id))
                .set((
                    spam_lessons::state.eq("processing"),
                    spam_lessons::claimed_by.eq(worker),
                    spam_lessons::claimed_at.eq(now),
                    spam_lessons::attempts.eq(spam_lessons::attempts + 1),
                ))
                .execute(conn)?;
            let (class, raw_message, attempts) = spam_lessons::table
                .find(id)
                .select((
                    spam_lessons::class,
                    spam_lessons::raw_message,
                    spam_lessons::attempts,
                ))
                .first::<(String, Vec<u8>, i32)>(conn)?;
            let class = class
                .parse::<SpamClass>()
                .map_err(|e| crate::rows::bad_row("spam_lessons", id, e))?;
            Ok(Some(Lesson {
                id,
                class,
                raw_message,
                attempts,
            }))
        })
    }

    /// Keeps `worker`'s claim on lesson `id` for another lease.
    pub fn renew(&self, id: i64, worker: &str) -> StoreResult<bool> {
        self.store.write_relaxed(|conn| {
            let renewed = diesel::update(
                spam_lessons::table
                    .find(id)
                    .filter(spam_lessons::state.eq("processing"))
                    .filter(spam_lessons::claimed_by.eq(worker)),
            )
            .set(spam_lessons::claimed_at.eq(crate::now()))
            .execute(conn)?;
            Ok(renewed == 1)
        })
    }

    /// Gives back every claim whose holder is `gone`: due again now.
    pub fn release_dead(&self, gone: &dyn Fn(&str, NaiveDateTime) -> bool) -> StoreResult<usize> {
        self.store.write(|conn| {
            let claims = spam_lessons::table
                .filter(spam_lessons::state.eq("processing"))
                .select((
                    spam_lessons::id,
                    spam_lessons::claimed_by,
                    spam_lessons::claimed_at,
                ))
                .load(conn)?;
            let dead = dead_claims(claims, gone);
            for (id, holder) in &dead {
                let error = died_while_processing(holder);
                set_state(conn, *id, "pending", Some(&error), crate::now())?;
            }
            Ok(dead.len())
        })
    }

    pub fn mark_learned(&self, id: i64) -> StoreResult<()> {
        self.store
            .write(|conn| set_state(conn, id, "learned", None, crate::now()))
    }

    /// rspamd was down or failing: tried again at `next`.
    pub fn mark_retry(&self, id: i64, error: &str, next: NaiveDateTime) -> StoreResult<()> {
        self.store
            .write(|conn| set_state(conn, id, "pending", Some(error), next))
    }

    /// rspamd refused the lesson itself (a 4xx): kept with its reason.
    pub fn mark_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        self.store
            .write(|conn| set_state(conn, id, "failed", Some(error), crate::now()))
    }
}

/// The ticket filing gives a new conversation, for conversation `id` that
/// was filed as spam and has none: when its channel creates tickets, with
/// the channel's ticket fields and its assignee as owner. (No assignee is
/// chosen after the fact: `conversation assign` does that.)
fn ticket_as_filed(conn: &mut DbConnection, id: i64) -> StoreResult<Option<i64>> {
    use super::{inbox::InboxTx, schema::tickets};
    let has_ticket = tickets::table
        .filter(tickets::conversation_id.eq(id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    let (channel_id, subject, assignee) = conversations::table
        .find(id)
        .select((
            conversations::channel_id,
            conversations::subject,
            conversations::assignee_user_id,
        ))
        .first::<(i64, String, Option<i64>)>(conn)?;
    let mut inbox = InboxTx { conn };
    let routing = inbox.channel_routing(channel_id)?;
    if has_ticket || !routing.tickets_enabled {
        return Ok(None);
    }
    let (ticket, _) =
        inbox.create_filed_ticket(id, &routing.ticket_properties, &subject, assignee)?;
    Ok(Some(ticket))
}

/// A lesson of `class` for each received message of conversation `id`
/// that has none yet.
fn queue_lessons(conn: &mut DbConnection, id: i64, class: SpamClass) -> StoreResult<LessonCounts> {
    let received = messages::table
        .filter(messages::conversation_id.eq(id))
        .filter(messages::direction.eq("in"))
        .filter(messages::inbound_message_id.is_not_null())
        .order(messages::id)
        .select(messages::inbound_message_id.assume_not_null())
        .load::<i64>(conn)?;
    let mut counts = LessonCounts::default();
    let now = crate::now();
    for inbound_id in received {
        let taught = spam_lessons::table
            .filter(spam_lessons::inbound_message_id.eq(inbound_id))
            .filter(spam_lessons::class.eq(class.as_str()))
            .count()
            .get_result::<i64>(conn)?;
        if taught > 0 {
            counts.already += 1;
            continue;
        }
        let raw = inbound_messages::table
            .find(inbound_id)
            .select(inbound_messages::raw_message)
            .first::<Vec<u8>>(conn)
            .optional()?
            .filter(|raw| !raw.is_empty());
        let Some(raw) = raw else {
            counts.without_raw_message += 1;
            continue;
        };
        diesel::insert_into(spam_lessons::table)
            .values((
                spam_lessons::inbound_message_id.eq(inbound_id),
                spam_lessons::class.eq(class.as_str()),
                spam_lessons::raw_message.eq(&raw),
                spam_lessons::next_attempt_at.eq(now),
                spam_lessons::created_at.eq(now),
            ))
            .execute(conn)?;
        counts.queued += 1;
    }
    Ok(counts)
}

/// A lesson whose claim is older than `expired`, else the oldest due.
fn next_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    expired: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let abandoned = spam_lessons::table
        .filter(spam_lessons::state.eq("processing"))
        .filter(spam_lessons::claimed_at.lt(expired))
        .order(spam_lessons::id)
        .select(spam_lessons::id)
        .limit(1);
    if let Some(id) = first_unclaimed!(conn, abandoned)? {
        return Ok(Some(id));
    }
    let due = spam_lessons::table
        .filter(spam_lessons::state.eq("pending"))
        .filter(spam_lessons::next_attempt_at.le(now))
        .order(spam_lessons::id)
        .select(spam_lessons::id)
        .limit(1);
    Ok(first_unclaimed!(conn, due)?)
}

/// Ends a claim: the new state, error and next attempt.
fn set_state(
    conn: &mut DbConnection,
    id: i64,
    state: &str,
    error: Option<&str>,
    next: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(spam_lessons::table.find(id))
        .set((
            spam_lessons::state.eq(state),
            spam_lessons::last_error.eq(error),
            spam_lessons::next_attempt_at.eq(next),
            spam_lessons::claimed_by.eq(None::<String>),
            spam_lessons::claimed_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}
