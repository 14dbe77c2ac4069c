//! The processor's part of the store: contacts, conversations, messages,
//! attachments, tickets, round-robin state and notifications.
//!
//! The processor decides; this module only reads and writes. Everything
//! for one stored message happens through one [`InboxTx`], inside one
//! transaction that also marks the queue row done.

use super::{
    model::{AssignMode, ConversationKind, ConversationStatus},
    queue,
    rows::bad_row,
    rows::on_backend,
    schema::{
        attachments, channel_assignees, channel_assignment_state, channel_sources, channels,
        contacts, conversations, messages, outbound_messages, team_members, tickets, users,
    },
    DbConnection, Store, StoreResult,
};
use chrono::NaiveDateTime;

/// The first key of the advisory lock of a channel's round robin (the
/// second is the channel's id); the migrations' lock is 7357001.
const ROUND_ROBIN_LOCK: i32 = 7357002;
use diesel::prelude::*;

pub struct Inbox<'s> {
    pub(super) store: &'s Store,
}

impl Inbox<'_> {
    /// Runs `work` in one transaction; `inbound_id` is marked done with it.
    /// The commit is relaxed: if a power loss takes it back, the message is
    /// pending again and is processed again.
    pub fn apply<T>(
        &self,
        inbound_id: i64,
        work: impl FnOnce(&mut InboxTx<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.apply_all(&[inbound_id], work)
    }

    /// [`Inbox::apply`] for a batch of claimed messages: `work` files them
    /// all, and they are done together, or none is.
    pub fn apply_all<T>(
        &self,
        inbound_ids: &[i64],
        work: impl FnOnce(&mut InboxTx<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.store.write_relaxed(|conn| {
            let value = work(&mut InboxTx { conn })?;
            for id in inbound_ids {
                queue::mark_done(conn, *id)?;
            }
            Ok(value)
        })
    }

    /// Every team member's address, lower case: a message from one of them
    /// may be a manual forward.
    pub fn team_addresses(&self) -> StoreResult<Vec<String>> {
        self.store
            .read(|conn| Ok(users::table.select(users::email).load(conn)?))
    }
}

/// How a channel routes and tickets new conversations.
#[derive(Clone, Debug)]
pub struct ChannelRouting {
    pub assign_mode: AssignMode,
    pub any_availability: bool,
    pub tickets_enabled: bool,
    /// JSON object: name, pipeline, stage, priority and custom keys.
    pub ticket_properties: String,
}

/// What an authenticated provider confirmation did to the channel's
/// sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifiedSource {
    Added,
    AlreadyThere,
    /// The channel is connected: its sources change only by the admin.
    ChannelFinished,
}

#[derive(Clone, Copy, Debug)]
pub struct ContactRef {
    pub id: i64,
    pub owner_user_id: Option<i64>,
}

/// The conversation a message threads into.
#[derive(Clone, Debug)]
pub struct Thread {
    pub conversation_id: i64,
    pub status: ConversationStatus,
    /// The Message-ID that matched.
    pub matched: String,
    /// The address of the conversation's contact.
    pub contact_address: String,
}

/// A conversation a user replied in that a message refers to.
#[derive(Clone, Debug)]
pub struct Answered {
    pub conversation_id: i64,
    pub channel_id: i64,
    /// The Message-ID that matched.
    pub matched: String,
}

/// A user who could be assigned.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub user_id: i64,
    pub email: String,
    pub first_name: String,
    pub available: bool,
    /// When the user last got a conversation from this channel.
    pub last_assigned_at: Option<NaiveDateTime>,
}

pub struct NewConversation<'a> {
    pub channel_id: i64,
    pub contact_id: i64,
    pub subject: &'a str,
    pub status: ConversationStatus,
    pub kind: ConversationKind,
    pub assignee_user_id: Option<i64>,
    pub at: NaiveDateTime,
}

pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub inbound_message_id: Option<i64>,
    pub direction: &'a str,
    pub dedupe_key: &'a str,
    pub message_id_header: Option<&'a str>,
    pub from_address: &'a str,
    pub from_name: Option<&'a str>,
    pub forwarded_by: Option<&'a str>,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: Option<&'a str>,
    pub sent_at: Option<NaiveDateTime>,
    pub automated: bool,
    /// JSON array of sentences.
    pub decisions: &'a str,
    /// The user who wrote a sent message.
    pub user_id: Option<i64>,
    /// The subaddress detail of the recipient it was filed by.
    pub detail: Option<&'a str>,
}

pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub content_id: Option<&'a str>,
    pub inline: bool,
    pub content: &'a [u8],
}

pub struct NewTicket<'a> {
    pub conversation_id: i64,
    pub name: &'a str,
    pub pipeline: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub properties: &'a str,
    pub owner_user_id: Option<i64>,
}

/// The inbox inside one transaction.
pub struct InboxTx<'c> {
    pub(super) conn: &'c mut DbConnection,
}

impl InboxTx<'_> {
    pub fn channel_routing(&mut self, channel_id: i64) -> StoreResult<ChannelRouting> {
        let (assign_mode, any_availability, tickets_enabled, ticket_properties) = channels::table
            .find(channel_id)
            .select((
                channels::assign_mode,
                channels::assign_any_availability,
                channels::tickets_enabled,
                channels::ticket_properties,
            ))
            .first::<(String, bool, bool, String)>(self.conn)?;
        Ok(ChannelRouting {
            assign_mode: assign_mode
                .parse()
                .map_err(|e| bad_row("channels", channel_id, e))?,
            any_availability,
            tickets_enabled,
            ticket_properties,
        })
    }

    /// The message of this channel that already has this dedupe key.
    pub fn duplicate_of(&mut self, channel_id: i64, dedupe_key: &str) -> StoreResult<Option<i64>> {
        Ok(messages::table
            .filter(messages::channel_id.eq(channel_id))
            .filter(messages::dedupe_key.eq(dedupe_key))
            .select(messages::id)
            .first(self.conn)
            .optional()?)
    }

    /// Finds the contact by address (lower case) or creates it; a name is
    /// filled in when the contact had none. True when this call created it.
    pub fn contact(
        &mut self,
        address: &str,
        name: Option<&str>,
        at: NaiveDateTime,
    ) -> StoreResult<(ContactRef, bool)> {
        let (found, created) =
            crate::contacts::find_or_create_contact(self.conn, address, name, at)?;
        if found.name.is_none() && name.is_some() {
            diesel::update(contacts::table.find(found.id))
                .set(contacts::name.eq(name))
                .execute(self.conn)?;
        }
        Ok((
            ContactRef {
                id: found.id,
                owner_user_id: found.owner_user_id,
            },
            created,
        ))
    }

    /// The conversation of this channel holding one of `message_ids`
    /// (ours or theirs), the newest match first.
    pub fn thread(
        &mut self,
        channel_id: i64,
        message_ids: &[String],
    ) -> StoreResult<Option<Thread>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        // The messages named, in every channel (a Message-ID names one
        // message, so a few rows), and the channel picked here: with the
        // channel in the query, SQLite (no statistics) and PostgreSQL's
        // generic plans took the (channel_id, dedupe_key) index instead and
        // read every message of the channel (tests/bench/analysis.md).
        let named = messages::table
            .inner_join(conversations::table)
            .filter(messages::message_id_header.eq_any(message_ids))
            .order(messages::id.desc())
            .inner_join(contacts::table.on(contacts::id.eq(conversations::contact_id)))
            .select((
                messages::channel_id,
                conversations::id,
                conversations::status,
                messages::message_id_header,
                contacts::address,
            ))
            .load::<(i64, i64, String, Option<String>, String)>(self.conn)?;
        let found = named
            .into_iter()
            .find(|(channel, ..)| *channel == channel_id)
            .map(|(_, conversation, status, matched, contact)| {
                (conversation, status, matched, contact)
            });
        found
            .map(|(conversation_id, status, matched, contact_address)| {
                Ok(Thread {
                    conversation_id,
                    status: status
                        .parse()
                        .map_err(|e| bad_row("conversations", conversation_id, e))?,
                    matched: matched.unwrap_or_default(),
                    contact_address,
                })
            })
            .transpose()
    }

    /// The channel's sources (lower case): addresses whose list rewrites
    /// it trusts, and which take part in all its conversations.
    pub fn channel_sources(&mut self, channel_id: i64) -> StoreResult<Vec<String>> {
        Ok(channel_sources::table
            .filter(channel_sources::channel_id.eq(channel_id))
            .select(channel_sources::address)
            .order(channel_sources::address)
            .load(self.conn)?)
    }

    /// Makes `address` (lower case) a source of the channel because it
    /// asked for a forwarding confirmation that arrived authenticated, but
    /// only while the channel is a draft: once connect and finish locked
    /// it, anyone who knows the forwarding address could ask a provider
    /// for a confirmation and so make himself a trusted source.
    pub fn add_verified_source(
        &mut self,
        channel_id: i64,
        address: &str,
        at: NaiveDateTime,
    ) -> StoreResult<VerifiedSource> {
        let finished: Option<NaiveDateTime> = channels::table
            .find(channel_id)
            .select(channels::finished_at)
            .first(self.conn)?;
        if finished.is_some() {
            return Ok(VerifiedSource::ChannelFinished);
        }
        Ok(
            if crate::settings::add_source(self.conn, channel_id, address, "verification", at)? {
                VerifiedSource::Added
            } else {
                VerifiedSource::AlreadyThere
            },
        )
    }

    /// The newest message named by `message_ids` in a conversation that
    /// `user_id` replied in: what an answer to that user's reply address
    /// answers.
    pub fn answered(
        &mut self,
        user_id: i64,
        message_ids: &[String],
    ) -> StoreResult<Option<Answered>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        // The messages named (a few, at most a handful per reference),
        // newest first; then the first whose conversation has a reply of
        // the user.
        let named = messages::table
            .filter(messages::message_id_header.eq_any(message_ids))
            .order(messages::id.desc())
            .select((
                messages::conversation_id,
                messages::channel_id,
                messages::message_id_header,
            ))
            .load::<(i64, i64, Option<String>)>(self.conn)?;
        for (conversation_id, channel_id, matched) in named {
            let replied = messages::table
                .filter(messages::conversation_id.eq(conversation_id))
                .filter(messages::user_id.eq(user_id))
                .filter(messages::direction.eq("out"))
                .select(messages::id)
                .first::<i64>(self.conn)
                .optional()?;
            if replied.is_some() {
                return Ok(Some(Answered {
                    conversation_id,
                    channel_id,
                    matched: matched.unwrap_or_default(),
                }));
            }
        }
        Ok(None)
    }

    /// The channel of `user_id`'s latest reply; with `contact`, of their
    /// latest reply in a conversation with that contact.
    pub fn last_reply_channel(
        &mut self,
        user_id: i64,
        contact: Option<&str>,
    ) -> StoreResult<Option<i64>> {
        let mut query = messages::table
            .inner_join(conversations::table.inner_join(contacts::table))
            .filter(messages::user_id.eq(user_id))
            .filter(messages::direction.eq("out"))
            .order(messages::id.desc())
            .select(messages::channel_id)
            .into_boxed();
        if let Some(address) = contact {
            query = query.filter(contacts::address.eq(address));
        }
        Ok(query.first(self.conn).optional()?)
    }

    /// A user's email, for the decision trail.
    pub fn user_email(&mut self, user_id: i64) -> StoreResult<String> {
        Ok(users::table
            .find(user_id)
            .select(users::email)
            .first(self.conn)?)
    }

    pub fn create_conversation(&mut self, c: &NewConversation<'_>) -> StoreResult<i64> {
        Ok(diesel::insert_into(conversations::table)
            .values((
                conversations::channel_id.eq(c.channel_id),
                conversations::contact_id.eq(c.contact_id),
                conversations::subject.eq(c.subject),
                conversations::status.eq(c.status.as_str()),
                conversations::kind.eq(c.kind.as_str()),
                conversations::assignee_user_id.eq(c.assignee_user_id),
                conversations::created_at.eq(c.at),
                conversations::last_message_at.eq(c.at),
            ))
            .returning(conversations::id)
            .get_result(self.conn)?)
    }

    /// A new message in an existing conversation: it moves up, and a closed
    /// one opens again when `reopen`.
    pub fn touch_conversation(
        &mut self,
        id: i64,
        at: NaiveDateTime,
        reopen: bool,
    ) -> StoreResult<()> {
        diesel::update(conversations::table.find(id))
            .set(conversations::last_message_at.eq(at))
            .execute(self.conn)?;
        if reopen {
            diesel::update(
                conversations::table
                    .find(id)
                    .filter(conversations::status.eq(ConversationStatus::Closed.as_str())),
            )
            .set(conversations::status.eq(ConversationStatus::Open.as_str()))
            .execute(self.conn)?;
        }
        Ok(())
    }

    pub fn insert_message(
        &mut self,
        m: &NewMessage<'_>,
        files: &[NewAttachment<'_>],
    ) -> StoreResult<i64> {
        insert_message(self.conn, m, files)
    }

    /// The conversation's ticket: created, or the one it already has (a
    /// conversation has one ticket).
    /// The ticket filing gives conversation `conversation_id`: its fields
    /// from the channel's ticket `properties` (see [`ticket_fields`]).
    /// Returns its id and name.
    ///
    /// [`ticket_fields`]: crate::tickets::ticket_fields
    pub fn create_filed_ticket(
        &mut self,
        conversation_id: i64,
        properties: &str,
        subject: &str,
        owner_user_id: Option<i64>,
    ) -> StoreResult<(i64, String)> {
        let fields = crate::tickets::ticket_fields(properties, subject);
        let id = self.create_ticket(&NewTicket {
            conversation_id,
            name: &fields.name,
            pipeline: fields.pipeline.as_deref(),
            stage: fields.stage.as_deref(),
            priority: fields.priority.as_deref(),
            properties: &fields.custom,
            owner_user_id,
        })?;
        Ok((id, fields.name))
    }

    pub fn create_ticket(&mut self, t: &NewTicket<'_>) -> StoreResult<i64> {
        on_backend!(&mut *self.conn, |c| diesel::insert_into(tickets::table)
            .values((
                tickets::conversation_id.eq(t.conversation_id),
                tickets::name.eq(t.name),
                tickets::pipeline.eq(t.pipeline),
                tickets::stage.eq(t.stage),
                tickets::priority.eq(t.priority),
                tickets::properties.eq(t.properties),
                tickets::owner_user_id.eq(t.owner_user_id),
                tickets::created_at.eq(crate::now()),
            ))
            .on_conflict(tickets::conversation_id)
            .do_nothing()
            .execute(c))?;
        Ok(tickets::table
            .filter(tickets::conversation_id.eq(t.conversation_id))
            .select(tickets::id)
            .first(self.conn)?)
    }

    /// The users a users-and-teams channel assigns to: the chosen users and
    /// the members of the chosen teams, each once, by id.
    ///
    /// On PostgreSQL this first takes the channel's round-robin lock until
    /// the transaction ends, so that workers (of this host or another)
    /// choosing for the same channel at once take turns: each sees the
    /// assignment the one before recorded. Without it, concurrent workers
    /// chose the same least recently assigned user, and 300 conversations
    /// over three users went 118/95/87. (SQLite's write lock already
    /// serialises filing.)
    pub fn round_robin_candidates(&mut self, channel_id: i64) -> StoreResult<Vec<Candidate>> {
        if let DbConnection::Postgres(c) = &mut *self.conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)::text")
                .bind::<diesel::sql_types::Integer, _>(ROUND_ROBIN_LOCK)
                .bind::<diesel::sql_types::Integer, _>((channel_id % i64::from(i32::MAX)) as i32)
                .execute(c)?;
        }
        let chosen = channel_assignees::table
            .filter(channel_assignees::channel_id.eq(channel_id))
            .select((channel_assignees::user_id, channel_assignees::team_id))
            .load::<(Option<i64>, Option<i64>)>(self.conn)?;
        let mut ids: Vec<i64> = chosen.iter().filter_map(|(user, _)| *user).collect();
        let teams: Vec<i64> = chosen.iter().filter_map(|(_, team)| *team).collect();
        if !teams.is_empty() {
            ids.extend(
                team_members::table
                    .filter(team_members::team_id.eq_any(&teams))
                    .select(team_members::user_id)
                    .load::<i64>(self.conn)?,
            );
        }
        ids.sort_unstable();
        ids.dedup();
        let mut candidates = Vec::with_capacity(ids.len());
        for user_id in ids {
            if let Some(c) = self.candidate(channel_id, user_id)? {
                candidates.push(c);
            }
        }
        Ok(candidates)
    }

    /// One user as an assignment candidate for a channel.
    pub fn candidate(&mut self, channel_id: i64, user_id: i64) -> StoreResult<Option<Candidate>> {
        let Some((email, first_name, available)) = users::table
            .find(user_id)
            .select((users::email, users::first_name, users::available))
            .first::<(String, String, bool)>(self.conn)
            .optional()?
        else {
            return Ok(None);
        };
        let last_assigned_at = channel_assignment_state::table
            .find((channel_id, user_id))
            .select(channel_assignment_state::last_assigned_at)
            .first(self.conn)
            .optional()?;
        Ok(Some(Candidate {
            user_id,
            email,
            first_name,
            available,
            last_assigned_at,
        }))
    }

    /// Remembers that `user_id` just got a conversation from `channel_id`
    /// at `at` (taken after [`InboxTx::round_robin_candidates`], so that
    /// turns taken one after the other are recorded in that order).
    pub fn record_assignment(
        &mut self,
        channel_id: i64,
        user_id: i64,
        at: NaiveDateTime,
    ) -> StoreResult<()> {
        // One statement: two workers assigning at once must not both
        // find no row and both insert one.
        on_backend!(&mut *self.conn, |c| diesel::insert_into(
            channel_assignment_state::table
        )
        .values((
            channel_assignment_state::channel_id.eq(channel_id),
            channel_assignment_state::user_id.eq(user_id),
            channel_assignment_state::last_assigned_at.eq(at),
        ))
        .on_conflict((
            channel_assignment_state::channel_id,
            channel_assignment_state::user_id,
        ))
        .do_update()
        .set(channel_assignment_state::last_assigned_at.eq(at))
        .execute(c))?;
        Ok(())
    }

    /// Records a provider's forwarding confirmation on the channel.
    pub fn set_verification(
        &mut self,
        channel_id: i64,
        code: &str,
        link: Option<&str>,
        requested_by: &str,
        at: NaiveDateTime,
    ) -> StoreResult<()> {
        diesel::update(channels::table.find(channel_id))
            .set((
                channels::verification_code.eq(code),
                channels::verification_link.eq(link),
                channels::verification_requested_by.eq(requested_by),
                channels::verification_received_at.eq(at),
            ))
            .execute(self.conn)?;
        Ok(())
    }

    /// Queues a notification for the outbound stage.
    pub fn enqueue_notification(
        &mut self,
        conversation_id: i64,
        to_address: &str,
        subject: &str,
        body: &str,
    ) -> StoreResult<i64> {
        Ok(diesel::insert_into(outbound_messages::table)
            .values((
                outbound_messages::conversation_id.eq(conversation_id),
                outbound_messages::kind.eq("notification"),
                outbound_messages::to_address.eq(to_address),
                outbound_messages::subject.eq(subject),
                outbound_messages::body.eq(body),
                outbound_messages::created_at.eq(crate::now()),
            ))
            .returning(outbound_messages::id)
            .get_result(self.conn)?)
    }
}

/// Files a message (and its attachments) in a conversation; shared with
/// the outbound store, which files sent replies.
pub(super) fn insert_message(
    conn: &mut DbConnection,
    m: &NewMessage<'_>,
    files: &[NewAttachment<'_>],
) -> StoreResult<i64> {
    let id = diesel::insert_into(messages::table)
        .values((
            messages::conversation_id.eq(m.conversation_id),
            messages::channel_id.eq(m.channel_id),
            messages::inbound_message_id.eq(m.inbound_message_id),
            messages::direction.eq(m.direction),
            messages::dedupe_key.eq(m.dedupe_key),
            messages::message_id_header.eq(m.message_id_header),
            messages::from_address.eq(m.from_address),
            messages::from_name.eq(m.from_name),
            messages::forwarded_by.eq(m.forwarded_by),
            messages::subject.eq(m.subject),
            messages::text_body.eq(m.text_body),
            messages::html_body.eq(m.html_body),
            messages::sent_at.eq(m.sent_at),
            messages::automated.eq(m.automated),
            messages::decisions.eq(m.decisions),
            messages::created_at.eq(crate::now()),
            messages::user_id.eq(m.user_id),
            messages::detail.eq(m.detail),
        ))
        .returning(messages::id)
        .get_result(conn)?;
    for f in files {
        diesel::insert_into(attachments::table)
            .values((
                attachments::message_id.eq(id),
                attachments::filename.eq(f.filename),
                attachments::content_type.eq(f.content_type),
                attachments::size.eq(f.content.len() as i64),
                attachments::content_id.eq(f.content_id),
                attachments::inline.eq(f.inline),
                attachments::content.eq(f.content),
            ))
            .execute(conn)?;
    }
    Ok(id)
}
