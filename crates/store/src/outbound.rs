//! Outbound mail: replies the admin queues, notifications the processor
//! queues, and their delivery state, owned by the outbound stage; and the
//! sending domains with their DKIM keys (written by the admin, read by
//! outbound).

use super::{
    claiming::{dead_claims, died_while_processing, first_unclaimed},
    inbox::NewMessage,
    rows::is_unique_violation,
    schema::{conversations, messages, outbound_messages, sending_domains},
    DbConnection, Store, StoreError, StoreResult,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use std::time::Duration;

pub struct Outbound<'s> {
    pub(super) store: &'s Store,
}

/// What a reply needs to know about its conversation.
#[derive(Clone, Debug)]
pub struct ReplyContext {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub contact_address: String,
    pub contact_name: Option<String>,
    pub subject: String,
    /// The conversation's Message-IDs, oldest first.
    pub references: Vec<String>,
}

/// A composed reply to queue.
pub struct NewReply<'a> {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    pub message_id: &'a str,
    pub raw_message: &'a [u8],
    pub user_email: &'a str,
    /// The replying user: from their first reply on, their reply address
    /// is live.
    pub user_id: i64,
}

/// A message due for delivery.
#[derive(Clone, Debug)]
pub struct OutboundJob {
    pub id: i64,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub from_address: Option<String>,
    pub raw_message: Option<Vec<u8>>,
    /// Including this one.
    pub attempts: i32,
}

/// The private key is never serialized, and `Debug` (logs) masks it.
#[derive(Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = sending_domains)]
pub struct SendingDomain {
    pub domain: String,
    pub selector: String,
    pub dns_txt: String,
    #[serde(skip)]
    pub private_key_pem: String,
    #[serde(serialize_with = "crate::serialize_optional_utc")]
    pub verified_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

impl std::fmt::Debug for SendingDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendingDomain")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("dns_txt", &self.dns_txt)
            .field("private_key_pem", &"****")
            .field("verified_at", &self.verified_at)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Outbound<'_> {
    pub fn reply_context(&self, conversation_id: i64) -> StoreResult<ReplyContext> {
        self.store.read(|conn| {
            use super::schema::contacts;
            let (channel_id, subject, contact_address, contact_name) = conversations::table
                .inner_join(contacts::table)
                .filter(conversations::id.eq(conversation_id))
                .select((
                    conversations::channel_id,
                    conversations::subject,
                    contacts::address,
                    contacts::name,
                ))
                .first::<(i64, String, String, Option<String>)>(conn)
                .optional()?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("there is no conversation {conversation_id}"))
                })?;
            let references = messages::table
                .filter(messages::conversation_id.eq(conversation_id))
                .filter(messages::message_id_header.is_not_null())
                .order(messages::id)
                .select(messages::message_id_header)
                .load::<Option<String>>(conn)?
                .into_iter()
                .flatten()
                .collect();
            Ok(ReplyContext {
                conversation_id,
                channel_id,
                contact_address,
                contact_name,
                subject,
                references,
            })
        })
    }

    /// Queues a reply and files it in its conversation, in one
    /// transaction: the customer's answer to it threads by its Message-ID.
    pub fn enqueue_reply(&self, reply: &NewReply<'_>) -> StoreResult<i64> {
        self.store.write(|conn| {
            let now = crate::now();
            let id = diesel::insert_into(outbound_messages::table)
                .values((
                    outbound_messages::conversation_id.eq(reply.conversation_id),
                    outbound_messages::kind.eq("reply"),
                    outbound_messages::to_address.eq(reply.to_address),
                    outbound_messages::subject.eq(reply.subject),
                    outbound_messages::body.eq(reply.text),
                    outbound_messages::from_address.eq(reply.from_address),
                    outbound_messages::message_id_header.eq(reply.message_id),
                    outbound_messages::raw_message.eq(reply.raw_message),
                    outbound_messages::next_attempt_at.eq(now),
                    outbound_messages::created_at.eq(now),
                ))
                .returning(outbound_messages::id)
                .get_result::<i64>(conn)?;
            let decisions = serde_json::to_string(&[format!(
                "Reply by {} queued for delivery as outbound message {id}.",
                reply.user_email
            )])
            .unwrap_or_else(|_| "[]".into());
            super::inbox::insert_message(
                conn,
                &NewMessage {
                    conversation_id: reply.conversation_id,
                    channel_id: reply.channel_id,
                    inbound_message_id: None,
                    direction: "out",
                    dedupe_key: &format!("mid:{}", reply.message_id),
                    message_id_header: Some(reply.message_id),
                    from_address: reply.from_address,
                    from_name: Some(reply.from_name),
                    forwarded_by: None,
                    subject: reply.subject,
                    text_body: reply.text,
                    html_body: reply.html,
                    sent_at: Some(now),
                    automated: false,
                    decisions: &decisions,
                    user_id: Some(reply.user_id),
                    detail: None,
                },
                &[],
            )?;
            diesel::update(conversations::table.find(reply.conversation_id))
                .set(conversations::last_message_at.eq(now))
                .execute(conn)?;
            keep_reply_address(conn, reply.user_id)?;
            Ok(id)
        })
    }

    /// Claims for `worker` a message whose claim expired, else the oldest
    /// one due now. Every claim counts an attempt; a message whose workers
    /// died on it until it had `max_attempts` is parked as `failed`
    /// instead, so one that kills its worker is not retried forever.
    pub fn claim_due(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> StoreResult<Option<OutboundJob>> {
        let now = crate::now();
        let expired = now - chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        self.store.write(|conn| loop {
            let Some(id) = next_due(conn, now, expired)? else {
                return Ok(None);
            };
            if park_if_spent(conn, id, max_attempts)? {
                continue;
            }
            diesel::update(outbound_messages::table.find(id))
                .set((
                    outbound_messages::state.eq("processing"),
                    outbound_messages::claimed_by.eq(worker),
                    outbound_messages::claimed_at.eq(now),
                    outbound_messages::attempts.eq(outbound_messages::attempts + 1),
                ))
                .execute(conn)?;
            return load_job(conn, id).map(Some);
        })
    }

    /// Keeps `worker`'s claim on message `id` for another lease; false when
    /// the worker no longer holds it.
    pub fn renew(&self, id: i64, worker: &str) -> StoreResult<bool> {
        self.store.write(|conn| {
            let renewed = diesel::update(
                outbound_messages::table
                    .find(id)
                    .filter(outbound_messages::state.eq("processing"))
                    .filter(outbound_messages::claimed_by.eq(worker)),
            )
            .set(outbound_messages::claimed_at.eq(crate::now()))
            .execute(conn)?;
            Ok(renewed == 1)
        })
    }

    /// Gives back every claim whose holder is `gone` (see
    /// `claims::holder_is_gone`): due again now. The attempt it counted
    /// stays counted. Returns how many.
    pub fn release_dead(&self, gone: &dyn Fn(&str, NaiveDateTime) -> bool) -> StoreResult<usize> {
        self.store.write(|conn| {
            let claims = outbound_messages::table
                .filter(outbound_messages::state.eq("processing"))
                .select((
                    outbound_messages::id,
                    outbound_messages::claimed_by,
                    outbound_messages::claimed_at,
                ))
                .load(conn)?;
            let dead = dead_claims(claims, gone);
            for (id, holder) in &dead {
                let error = died_while_processing(holder);
                set_state(conn, *id, "pending", Some(&error), Some(crate::now()))?;
            }
            Ok(dead.len())
        })
    }

    /// Keeps the composed bytes of a message composed at delivery time, so
    /// a retry sends the same message.
    pub fn set_composed(
        &self,
        id: i64,
        from_address: &str,
        message_id: &str,
        raw: &[u8],
    ) -> StoreResult<()> {
        self.store.write(|conn| {
            diesel::update(outbound_messages::table.find(id))
                .set((
                    outbound_messages::from_address.eq(from_address),
                    outbound_messages::message_id_header.eq(message_id),
                    outbound_messages::raw_message.eq(raw),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    pub fn mark_sent(&self, id: i64) -> StoreResult<()> {
        self.finish(id, "sent", None, None)
    }

    /// A temporary failure: tried again at `next_attempt_at`.
    pub fn mark_retry(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: NaiveDateTime,
    ) -> StoreResult<()> {
        self.finish(id, "pending", Some(error), Some(next_attempt_at))
    }

    /// A permanent failure, kept with its reason.
    pub fn mark_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        self.finish(id, "failed", Some(error), None)
    }

    fn finish(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
        next: Option<NaiveDateTime>,
    ) -> StoreResult<()> {
        self.store
            .write(|conn| set_state(conn, id, state, error, next))
    }

    /// How many outbound messages are in each state (those with none are
    /// left out).
    pub fn counts_by_state(&self) -> StoreResult<Vec<(String, i64)>> {
        self.store.read(|conn| {
            Ok(outbound_messages::table
                .group_by(outbound_messages::state)
                .select((outbound_messages::state, diesel::dsl::count_star()))
                .load(conn)?)
        })
    }

    /// Delivery state of a conversation's outbound mail: (id, state,
    /// last_error), oldest first.
    pub fn delivery_of(
        &self,
        conversation_id: i64,
    ) -> StoreResult<Vec<(i64, String, Option<String>)>> {
        self.store.read(|conn| {
            Ok(outbound_messages::table
                .filter(outbound_messages::conversation_id.eq(conversation_id))
                .order(outbound_messages::id)
                .select((
                    outbound_messages::id,
                    outbound_messages::state,
                    outbound_messages::last_error,
                ))
                .load(conn)?)
        })
    }

    pub fn add_sending_domain(
        &self,
        domain: &str,
        selector: &str,
        private_key_pem: &str,
        dns_txt: &str,
    ) -> StoreResult<SendingDomain> {
        self.store.write(|conn| {
            diesel::insert_into(sending_domains::table)
                .values((
                    sending_domains::domain.eq(domain),
                    sending_domains::selector.eq(selector),
                    sending_domains::private_key_pem.eq(private_key_pem),
                    sending_domains::dns_txt.eq(dns_txt),
                    sending_domains::created_at.eq(crate::now()),
                ))
                .execute(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("{domain} is already a sending domain; see `teaminbox-admin domain list`"))
                    } else {
                        e.into()
                    }
                })?;
            find_domain(conn, domain)?.ok_or_else(|| StoreError::NotFound(domain.to_owned()))
        })
    }

    pub fn sending_domain(&self, domain: &str) -> StoreResult<Option<SendingDomain>> {
        self.store.read(|conn| find_domain(conn, domain))
    }

    pub fn sending_domains(&self) -> StoreResult<Vec<SendingDomain>> {
        self.store.read(|conn| {
            Ok(sending_domains::table
                .order(sending_domains::domain)
                .select(SendingDomain::as_select())
                .load(conn)?)
        })
    }

    pub fn mark_domain_verified(&self, domain: &str) -> StoreResult<SendingDomain> {
        self.store.write(|conn| {
            diesel::update(sending_domains::table.filter(sending_domains::domain.eq(domain)))
                .set(sending_domains::verified_at.eq(crate::now()))
                .execute(conn)?;
            find_domain(conn, domain)?
                .ok_or_else(|| StoreError::NotFound(format!("{domain} is not a sending domain")))
        })
    }
}

/// A user who replies has a reply address: the one reserved when they were
/// added, or, for a user from before reply addresses whose username was no
/// plain local part, one reserved now if its local part is free.
fn keep_reply_address(conn: &mut DbConnection, user_id: i64) -> StoreResult<()> {
    use super::schema::{hosted_local_parts, users};
    let reserved = hosted_local_parts::table
        .filter(hosted_local_parts::user_id.eq(user_id))
        .count()
        .get_result::<i64>(conn)?;
    if reserved == 0 {
        let username = users::table
            .find(user_id)
            .select(users::username)
            .first::<String>(conn)?;
        let local = crate::identity::local_part(&username);
        super::settings::insert_local_part(conn, &local, Some(user_id))?;
    }
    Ok(())
}

/// Parks message `id` as `failed` if it has had its `max_attempts`
/// already: only a worker that died on it leaves it due so (a delivery
/// that fails records the outcome itself). True when parked.
fn park_if_spent(conn: &mut DbConnection, id: i64, max_attempts: i32) -> StoreResult<bool> {
    let (state, holder, attempts, last_error) = outbound_messages::table
        .find(id)
        .select((
            outbound_messages::state,
            outbound_messages::claimed_by,
            outbound_messages::attempts,
            outbound_messages::last_error,
        ))
        .first::<(String, Option<String>, i32, Option<String>)>(conn)?;
    if attempts < max_attempts {
        return Ok(false);
    }
    let error = match (state.as_str(), holder) {
        ("processing", Some(holder)) => died_while_processing(&holder),
        _ => last_error.unwrap_or_else(|| format!("gave up after {attempts} attempts")),
    };
    set_state(conn, id, "failed", Some(&error), None)?;
    Ok(true)
}

/// The job of message `id`.
fn load_job(conn: &mut DbConnection, id: i64) -> StoreResult<OutboundJob> {
    let (kind, to_address, subject, body, from_address, raw_message, attempts) =
        outbound_messages::table
            .find(id)
            .select((
                outbound_messages::kind,
                outbound_messages::to_address,
                outbound_messages::subject,
                outbound_messages::body,
                outbound_messages::from_address,
                outbound_messages::raw_message,
                outbound_messages::attempts,
            ))
            .first::<(
                String,
                String,
                String,
                String,
                Option<String>,
                Option<Vec<u8>>,
                i32,
            )>(conn)?;
    Ok(OutboundJob {
        id,
        kind,
        to_address,
        subject,
        body,
        from_address,
        raw_message,
        attempts,
    })
}

/// Ends a claim: the new state, error and next attempt.
fn set_state(
    conn: &mut DbConnection,
    id: i64,
    state: &str,
    error: Option<&str>,
    next: Option<NaiveDateTime>,
) -> StoreResult<()> {
    let sent_at = (state == "sent").then(crate::now);
    diesel::update(outbound_messages::table.find(id))
        .set((
            outbound_messages::state.eq(state),
            outbound_messages::last_error.eq(error),
            outbound_messages::next_attempt_at.eq(next),
            outbound_messages::claimed_by.eq(None::<String>),
            outbound_messages::claimed_at.eq(None::<NaiveDateTime>),
            outbound_messages::sent_at.eq(sent_at),
        ))
        .execute(conn)?;
    Ok(())
}

fn find_domain(conn: &mut DbConnection, domain: &str) -> StoreResult<Option<SendingDomain>> {
    Ok(sending_domains::table
        .filter(sending_domains::domain.eq(domain))
        .select(SendingDomain::as_select())
        .first(conn)
        .optional()?)
}

/// A message whose claim is older than `expired` (its worker died), else
/// the oldest one due by `now`; two lookups, as the inbound queue does.
fn next_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    expired: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let abandoned = outbound_messages::table
        .filter(outbound_messages::state.eq("processing"))
        .filter(outbound_messages::claimed_at.lt(expired))
        .order(outbound_messages::id)
        .select(outbound_messages::id)
        .limit(1);
    if let Some(id) = first_unclaimed!(conn, abandoned)? {
        return Ok(Some(id));
    }
    let due = outbound_messages::table
        .filter(outbound_messages::state.eq("pending"))
        .filter(
            outbound_messages::next_attempt_at
                .is_null()
                .or(outbound_messages::next_attempt_at.le(now)),
        )
        .order(outbound_messages::id)
        .select(outbound_messages::id)
        .limit(1);
    Ok(first_unclaimed!(conn, due)?)
}
