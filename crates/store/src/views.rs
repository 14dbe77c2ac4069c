//! The inbox as the admin shows it: conversations, their messages and the
//! decisions behind them, contacts and tickets. Read-only; every type
//! serializes to the stable, snake_case JSON that `--json` prints, with
//! times in UTC as RFC 3339 (`2026-11-27T10:02:11Z`).
//!
//! The admin's writes to the inbox (assign, close, reopen) are in
//! [`settings`](super::settings), with the other things an admin changes.

use super::{
    rows::user_id,
    schema::{
        attachments, channels, contacts, conversations, messages, outbound_messages, tickets, users,
    },
    DbConnection, Store, StoreError, StoreResult,
};
use crate::model::ConversationStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub struct Views<'s> {
    pub(super) store: &'s Store,
}

/// Which conversations [`Views::conversations`] lists. The default lists
/// them all.
#[derive(Clone, Debug, Default)]
pub struct ConversationQuery {
    pub channel: Option<i64>,
    pub status: Option<ConversationStatus>,
    /// Only those assigned to this user (lower-case email).
    pub assignee_email: Option<String>,
    /// Only those assigned to nobody.
    pub unassigned: bool,
    /// At most this many, newest first; `None` for all.
    pub limit: Option<i64>,
    /// Only those whose contact's address or name, or subject, contains
    /// this text (any case).
    pub search: Option<String>,
    /// Only those listed after this one (its `last_message_at` and id): the
    /// next page, found by key rather than by offset.
    pub after: Option<(NaiveDateTime, i64)>,
}

/// How many conversations each of the web inbox's filters holds, each
/// counted up to [`COUNT_CAP`].
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ConversationCounts {
    pub open: CappedCount,
    pub closed: CappedCount,
    pub spam: CappedCount,
    /// Open and assigned to the user asking.
    pub mine: CappedCount,
    /// Open and assigned to nobody.
    pub unassigned: CappedCount,
}

/// Where the filters' counts stop. An exact count reads every matching
/// index entry, and with a million conversations (most of them closed)
/// that alone takes longer than a page may (BENCHMARKS.md, section 6);
/// up to the cap it is a short index range.
pub const COUNT_CAP: i64 = 1000;

/// A count that stops at [`COUNT_CAP`]: shown as `1000+` beyond it.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CappedCount {
    /// Exact up to the cap; the cap when there are more.
    pub count: i64,
    /// Whether there are more than `count`.
    pub more: bool,
}

impl CappedCount {
    /// The count of `found` things, at most `cap + 1` of them looked at.
    fn of(found: usize, cap: i64) -> Self {
        let found = found as i64;
        Self {
            count: found.min(cap),
            more: found > cap,
        }
    }
}

impl std::fmt::Display for CappedCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.count, if self.more { "+" } else { "" })
    }
}

diesel::define_sql_function!(fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// One line of the conversation list.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    /// `open`, `closed` or `spam`.
    pub status: String,
    /// `normal`, or `verification` for a provider's forwarding confirmation.
    pub kind: String,
    pub subject: String,
    pub contact_address: String,
    pub contact_name: Option<String>,
    pub assignee_email: Option<String>,
    pub ticket_id: Option<i64>,
    pub message_count: i64,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
    /// When the newest message was filed: the list's order.
    #[serde(serialize_with = "crate::serialize_utc")]
    pub last_message_at: NaiveDateTime,
}

/// A conversation with everything in it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConversationDetail {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub status: String,
    pub kind: String,
    pub subject: String,
    pub contact: ContactBrief,
    pub assignee: Option<UserBrief>,
    pub ticket: Option<Ticket>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub last_message_at: NaiveDateTime,
    /// Oldest first.
    pub messages: Vec<MessageView>,
}

/// The contact of a conversation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ContactBrief {
    pub id: i64,
    pub address: String,
    pub name: Option<String>,
    pub owner_email: Option<String>,
}

/// A user as a conversation shows its assignee.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UserBrief {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub available: bool,
}

/// One message of a conversation. The HTML body and the attachments'
/// contents are stored but not shown.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MessageView {
    pub id: i64,
    /// `in` (received) or `out` (sent by the team).
    pub direction: String,
    /// The author's address: the original sender of a forwarded message.
    pub from: String,
    pub from_name: Option<String>,
    /// The team member who forwarded the message by hand, if one did.
    pub forwarded_by: Option<String>,
    pub subject: String,
    pub text: String,
    /// Its Message-ID header, without angle brackets.
    pub message_id: Option<String>,
    /// The queue row it was filed from (`queue list`), for a received one.
    pub inbound_message_id: Option<i64>,
    /// The subaddress detail of the address it came to (`billing` of
    /// `support+billing@`).
    pub detail: Option<String>,
    /// The Date header, in UTC.
    #[serde(serialize_with = "crate::serialize_optional_utc")]
    pub sent_at: Option<NaiveDateTime>,
    /// When the processor filed it.
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
    /// An auto-reply, bounce or list mail: no ticket, assignment or
    /// notification came from it.
    pub automated: bool,
    /// Why the processor filed it as it did (contact, thread, ticket,
    /// assignee), one sentence each, in order.
    pub decisions: Vec<String>,
    pub attachments: Vec<AttachmentInfo>,
    /// For a sent message: its delivery (`pending`, `processing`, `sent`,
    /// `failed`) and the last error the receiving server gave.
    pub delivery: Option<Delivery>,
    /// For a received message that rspamd checked: its action and score.
    pub spam_check: Option<SpamCheckView>,
    /// For a received message: SPF, DKIM, ARC and DMARC as checked at SMTP
    /// time.
    pub authentication: Option<AuthVerdicts>,
}

/// The authentication verdicts the milter recorded for a received
/// message (`pass`, `fail`, `none`, ...; absent when not checked).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Queryable)]
pub struct AuthVerdicts {
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub arc: Option<String>,
    pub dmarc: Option<String>,
}

/// rspamd's verdict on a received message at SMTP time.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SpamCheckView {
    /// `no action`, `add header` or `rewrite subject` (the others refuse).
    pub action: String,
    pub score: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Delivery {
    pub state: String,
    pub last_error: Option<String>,
}

/// An attachment, without its content.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    /// The Content-ID an inline image is referred to by, without brackets.
    pub content_id: Option<String>,
    pub inline: bool,
}

/// An attachment's name, type and content.
#[derive(Clone, Debug, Queryable)]
pub struct AttachmentFile {
    /// As the message named it: never a path here.
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A contact: someone who wrote to a channel, or whose owner the admin set.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    /// Lower case.
    pub address: String,
    pub name: Option<String>,
    /// The user a `contact-owner` channel assigns this contact's
    /// conversations to.
    pub owner_email: Option<String>,
    /// Oldest first.
    pub conversation_ids: Vec<i64>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// How the admin names a contact: by id or by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactKey {
    Id(i64),
    /// Lower case.
    Address(String),
}

impl ContactKey {
    /// A number is an id; anything else an address, taken as given.
    pub fn parse(text: &str) -> Self {
        match text.parse() {
            Ok(id) if text.bytes().all(|b| b.is_ascii_digit()) => Self::Id(id),
            _ => Self::Address(text.to_owned()),
        }
    }
}

impl std::fmt::Display for ContactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Address(address) => f.write_str(address),
        }
    }
}

/// A ticket: made by the processor for a new conversation on a channel
/// with tickets on.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub conversation_id: i64,
    pub channel_id: i64,
    /// The status of its conversation: `open`, `closed` or `spam`.
    pub conversation_status: String,
    pub name: String,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub priority: Option<String>,
    /// The channel's custom ticket properties, as they were when the ticket
    /// was made.
    pub properties: Map<String, Value>,
    /// The conversation's assignee.
    pub owner_email: Option<String>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

impl Ticket {
    /// The custom properties as text: a string as it is, anything else as
    /// JSON.
    pub fn custom_properties(&self) -> Vec<(String, String)> {
        self.properties
            .iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key.clone(), text.clone()),
                other => (key.clone(), other.to_string()),
            })
            .collect()
    }
}

impl Views<'_> {
    /// Conversations, newest message first (then highest id). A channel or
    /// assignee that does not exist is [`StoreError::NotFound`], so that a
    /// typo is not mistaken for an empty inbox.
    pub fn conversations(
        &self,
        filter: &ConversationQuery,
    ) -> StoreResult<Vec<ConversationSummary>> {
        self.store.read(|conn| load_summaries(conn, filter, None))
    }

    /// The counts behind the web inbox's filters, for the user `user_id`.
    pub fn conversation_counts(
        &self,
        user_id: i64,
        channel: Option<i64>,
    ) -> StoreResult<ConversationCounts> {
        self.store
            .read(|conn| conversation_counts(conn, user_id, channel, COUNT_CAP))
    }

    /// The messages of a conversation that have an HTML body.
    pub fn messages_with_html(&self, conversation_id: i64) -> StoreResult<Vec<i64>> {
        self.store.read(|conn| {
            Ok(messages::table
                .filter(messages::conversation_id.eq(conversation_id))
                .filter(messages::html_body.is_not_null())
                .select(messages::id)
                .load(conn)?)
        })
    }

    /// A message's HTML body as received (not sanitized), if it had one.
    pub fn message_html(&self, id: i64) -> StoreResult<Option<String>> {
        self.store.read(|conn| {
            messages::table
                .find(id)
                .select(messages::html_body)
                .first::<Option<String>>(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no message {id}")))
        })
    }

    /// The image a message's HTML shows as `cid:content_id`, if it has
    /// one of that Content-ID whose type is an image.
    pub fn inline_image(
        &self,
        message_id: i64,
        content_id: &str,
    ) -> StoreResult<Option<AttachmentFile>> {
        use super::schema::attachments;
        self.store.read(|conn| {
            Ok(attachments::table
                .filter(attachments::message_id.eq(message_id))
                .filter(attachments::content_id.eq(content_id))
                .filter(attachments::content_type.like("image/%"))
                .select((
                    attachments::filename,
                    attachments::content_type,
                    attachments::content,
                ))
                .first::<AttachmentFile>(conn)
                .optional()?)
        })
    }

    /// An attachment with its content, as received.
    pub fn attachment(&self, id: i64) -> StoreResult<AttachmentFile> {
        use super::schema::attachments;
        self.store.read(|conn| {
            attachments::table
                .find(id)
                .select((
                    attachments::filename,
                    attachments::content_type,
                    attachments::content,
                ))
                .first::<AttachmentFile>(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no attachment {id}")))
        })
    }

    pub fn conversation(&self, id: i64) -> StoreResult<ConversationDetail> {
        self.store.read(|conn| find_conversation(conn, id))
    }

    /// Every contact, in the order first seen.
    pub fn contacts(&self) -> StoreResult<Vec<Contact>> {
        self.store.read(|conn| load_contacts(conn, None))
    }

    pub fn contact(&self, key: &ContactKey) -> StoreResult<Contact> {
        self.store.read(|conn| find_contact(conn, key))
    }

    /// Every ticket, newest first.
    pub fn tickets(&self) -> StoreResult<Vec<Ticket>> {
        self.store.read(|conn| load_tickets(conn, None))
    }

    pub fn ticket(&self, id: i64) -> StoreResult<Ticket> {
        self.store.read(|conn| find_ticket(conn, id))
    }
}

/// Each filter's conversations, up to `cap` (then "more"): ids only, from
/// the list's indexes (migration 2026-11-30-000050).
fn conversation_counts(
    conn: &mut DbConnection,
    user_id: i64,
    channel: Option<i64>,
    cap: i64,
) -> StoreResult<ConversationCounts> {
    let with_status = |status: ConversationStatus| {
        let query = conversations::table
            .filter(conversations::status.eq(status.as_str()))
            .select(conversations::id)
            .into_boxed::<super::MultiBackend>();
        match channel {
            Some(channel) => query.filter(conversations::channel_id.eq(channel)),
            None => query,
        }
    };
    let mut count = |query: conversations::BoxedQuery<'_, super::MultiBackend, _>| {
        let found = query.limit(cap + 1).load::<i64>(conn)?;
        StoreResult::Ok(CappedCount::of(found.len(), cap))
    };
    Ok(ConversationCounts {
        open: count(with_status(ConversationStatus::Open))?,
        closed: count(with_status(ConversationStatus::Closed))?,
        spam: count(with_status(ConversationStatus::Spam))?,
        mine: count(
            with_status(ConversationStatus::Open)
                .filter(conversations::assignee_user_id.eq(user_id)),
        )?,
        unassigned: count(
            with_status(ConversationStatus::Open).filter(conversations::assignee_user_id.is_null()),
        )?,
    })
}

type SummaryRow = (
    (i64, i64, String, String, String, String),
    (NaiveDateTime, NaiveDateTime),
    (String, Option<String>),
    Option<String>,
    Option<i64>,
);

fn load_summaries(
    conn: &mut DbConnection,
    filter: &ConversationQuery,
    only: Option<i64>,
) -> StoreResult<Vec<ConversationSummary>> {
    let mut query = conversations::table
        .inner_join(contacts::table)
        .inner_join(channels::table)
        .left_join(users::table.on(users::id.nullable().eq(conversations::assignee_user_id)))
        .left_join(tickets::table)
        .select((
            (
                conversations::id,
                conversations::channel_id,
                channels::name,
                conversations::status,
                conversations::kind,
                conversations::subject,
            ),
            (conversations::created_at, conversations::last_message_at),
            (contacts::address, contacts::name),
            users::email.nullable(),
            tickets::id.nullable(),
        ))
        .order((
            conversations::last_message_at.desc(),
            conversations::id.desc(),
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(conversations::id.eq(id));
    }
    if let Some(channel) = filter.channel {
        let exists = channels::table
            .find(channel)
            .count()
            .get_result::<i64>(conn)?;
        if exists == 0 {
            return Err(StoreError::NotFound(format!(
                "there is no channel {channel}"
            )));
        }
        query = query.filter(conversations::channel_id.eq(channel));
    }
    if let Some(status) = &filter.status {
        query = query.filter(conversations::status.eq(status.as_str()));
    }
    if let Some(email) = &filter.assignee_email {
        let user = user_id(conn, email)?;
        query = query.filter(conversations::assignee_user_id.eq(user));
    }
    if filter.unassigned {
        query = query.filter(conversations::assignee_user_id.is_null());
    }
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", like_escaped(&text.to_lowercase()));
        query = query.filter(
            lower(contacts::address)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(contacts::name.assume_not_null())
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(conversations::subject).like(pattern).escape('\\')),
        );
    }
    if let Some((at, id)) = filter.after {
        // `at` bounds the range first, on its own: the list's index then
        // reads on from the key in order. Written as one OR (earlier, or
        // the same time and a lower id), the planner unioned two index
        // searches and sorted half the table (BENCHMARKS.md, section 6).
        query = query.filter(conversations::last_message_at.le(at)).filter(
            conversations::last_message_at
                .lt(at)
                .or(conversations::id.lt(id)),
        );
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    let rows = query.load::<SummaryRow>(conn)?;
    let ids: Vec<i64> = rows.iter().map(|row| row.0 .0).collect();
    let counts = message_counts(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                (id, channel_id, channel_name, status, kind, subject),
                (created_at, last_message_at),
                (contact_address, contact_name),
                assignee_email,
                ticket_id,
            )| ConversationSummary {
                id,
                channel_id,
                channel_name,
                status,
                kind,
                subject,
                contact_address,
                contact_name,
                assignee_email,
                ticket_id,
                message_count: counts.get(&id).copied().unwrap_or(0),
                created_at,
                last_message_at,
            },
        )
        .collect())
}

/// `text` with LIKE's wildcards (and the escape character) escaped by `\`.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many messages each of `ids` holds, a bounded number of ids per query
/// (SQLite limits the parameters of one statement).
fn message_counts(conn: &mut DbConnection, ids: &[i64]) -> StoreResult<HashMap<i64, i64>> {
    let mut counts = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        counts.extend(
            messages::table
                .filter(messages::conversation_id.eq_any(chunk))
                .group_by(messages::conversation_id)
                .select((messages::conversation_id, diesel::dsl::count_star()))
                .load::<(i64, i64)>(conn)?,
        );
    }
    Ok(counts)
}

/// One conversation's summary, for the admin's operations.
pub(super) fn find_summary(conn: &mut DbConnection, id: i64) -> StoreResult<ConversationSummary> {
    load_summaries(conn, &ConversationQuery::default(), Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no conversation {id}")))
}

type MessageRow = (
    (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
    ),
    (
        Option<String>,
        Option<i64>,
        Option<NaiveDateTime>,
        NaiveDateTime,
        bool,
        String,
        Option<String>,
    ),
);

fn find_conversation(conn: &mut DbConnection, id: i64) -> StoreResult<ConversationDetail> {
    let summary = find_summary(conn, id)?;
    let (contact_id, owner_email) = conversations::table
        .inner_join(contacts::table)
        .left_join(users::table.on(users::id.nullable().eq(contacts::owner_user_id)))
        .filter(conversations::id.eq(id))
        .select((contacts::id, users::email.nullable()))
        .first::<(i64, Option<String>)>(conn)?;
    let assignee = conversations::table
        .inner_join(users::table.on(users::id.nullable().eq(conversations::assignee_user_id)))
        .filter(conversations::id.eq(id))
        .select((
            users::email,
            users::first_name,
            users::last_name,
            users::available,
        ))
        .first::<(String, String, String, bool)>(conn)
        .optional()?
        .map(|(email, first_name, last_name, available)| UserBrief {
            email,
            first_name,
            last_name,
            available,
        });
    let ticket = match summary.ticket_id {
        Some(ticket) => load_tickets(conn, Some(ticket))?.pop(),
        None => None,
    };
    let rows = messages::table
        .filter(messages::conversation_id.eq(id))
        .order(messages::id)
        .select((
            (
                messages::id,
                messages::direction,
                messages::from_address,
                messages::from_name,
                messages::forwarded_by,
                messages::subject,
                messages::text_body,
            ),
            (
                messages::message_id_header,
                messages::inbound_message_id,
                messages::sent_at,
                messages::created_at,
                messages::automated,
                messages::decisions,
                messages::detail,
            ),
        ))
        .load::<MessageRow>(conn)?;
    let mut files = HashMap::<i64, Vec<AttachmentInfo>>::new();
    for (message_id, info) in attachments::table
        .inner_join(messages::table)
        .filter(messages::conversation_id.eq(id))
        .order(attachments::id)
        .select((
            attachments::message_id,
            (
                attachments::id,
                attachments::filename,
                attachments::content_type,
                attachments::size,
                attachments::content_id,
                attachments::inline,
            ),
        ))
        .load::<(i64, (i64, String, String, i64, Option<String>, bool))>(conn)?
    {
        let (id, filename, content_type, size, content_id, inline) = info;
        files.entry(message_id).or_default().push(AttachmentInfo {
            id,
            filename,
            content_type,
            size,
            content_id,
            inline,
        });
    }
    let mut deliveries: HashMap<String, Delivery> = outbound_messages::table
        .filter(outbound_messages::conversation_id.eq(id))
        .filter(outbound_messages::message_id_header.is_not_null())
        .select((
            outbound_messages::message_id_header,
            outbound_messages::state,
            outbound_messages::last_error,
        ))
        .load::<(Option<String>, String, Option<String>)>(conn)?
        .into_iter()
        .filter_map(|(mid, state, last_error)| Some((mid?, Delivery { state, last_error })))
        .collect();
    let mut verdicts = smtp_verdicts(conn, rows.iter().filter_map(|r| r.1 .1))?;
    let messages = rows
        .into_iter()
        .map(
            |(
                (id, direction, from, from_name, forwarded_by, subject, text),
                (message_id, inbound_message_id, sent_at, created_at, automated, decisions, detail),
            )| {
                let checked = inbound_message_id.and_then(|i| verdicts.remove(&i));
                MessageView {
                    delivery: (direction == "out")
                        .then(|| message_id.as_ref().and_then(|m| deliveries.remove(m)))
                        .flatten(),
                    spam_check: checked.as_ref().and_then(|c| c.spam_check.clone()),
                    authentication: checked.and_then(|c| c.authentication),
                    id,
                    direction,
                    from,
                    from_name,
                    forwarded_by,
                    subject,
                    text,
                    message_id,
                    inbound_message_id,
                    detail,
                    sent_at,
                    created_at,
                    automated,
                    decisions: decision_list(&decisions),
                    attachments: files.remove(&id).unwrap_or_default(),
                }
            },
        )
        .collect();
    Ok(ConversationDetail {
        id,
        channel_id: summary.channel_id,
        channel_name: summary.channel_name,
        status: summary.status,
        kind: summary.kind,
        subject: summary.subject,
        contact: ContactBrief {
            id: contact_id,
            address: summary.contact_address,
            name: summary.contact_name,
            owner_email,
        },
        assignee,
        ticket,
        created_at: summary.created_at,
        last_message_at: summary.last_message_at,
        messages,
    })
}

/// What was checked at SMTP time for the queue rows `ids`, by row.
fn smtp_verdicts(
    conn: &mut DbConnection,
    ids: impl Iterator<Item = i64>,
) -> StoreResult<HashMap<i64, SmtpVerdicts>> {
    use super::schema::inbound_messages;
    Ok(inbound_messages::table
        .filter(inbound_messages::id.eq_any(ids.collect::<Vec<_>>()))
        .select((
            inbound_messages::id,
            (
                inbound_messages::spf,
                inbound_messages::dkim,
                inbound_messages::arc,
                inbound_messages::dmarc,
            ),
            (inbound_messages::spam_action, inbound_messages::spam_score),
        ))
        .load::<(i64, AuthVerdicts, (Option<String>, Option<f64>))>(conn)?
        .into_iter()
        .map(|(id, authentication, (action, score))| {
            let spam_check = action.map(|action| SpamCheckView {
                action,
                score: score.unwrap_or_default(),
            });
            let checked = [
                &authentication.spf,
                &authentication.dkim,
                &authentication.arc,
                &authentication.dmarc,
            ]
            .iter()
            .any(|v| v.is_some());
            let authentication = checked.then_some(authentication);
            (
                id,
                SmtpVerdicts {
                    authentication,
                    spam_check,
                },
            )
        })
        .collect())
}

struct SmtpVerdicts {
    /// `None` for a message stored without verdicts.
    authentication: Option<AuthVerdicts>,
    spam_check: Option<SpamCheckView>,
}

/// The decisions column: a JSON array of sentences. Anything else (never
/// written by the processor) is shown as it is rather than hidden.
fn decision_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|_| vec![text.to_owned()])
}

type ContactRow = (i64, String, Option<String>, Option<String>, NaiveDateTime);

fn load_contacts(conn: &mut DbConnection, key: Option<&ContactKey>) -> StoreResult<Vec<Contact>> {
    let mut query = contacts::table
        .left_join(users::table.on(users::id.nullable().eq(contacts::owner_user_id)))
        .select((
            contacts::id,
            contacts::address,
            contacts::name,
            users::email.nullable(),
            contacts::created_at,
        ))
        .order(contacts::id)
        .into_boxed();
    match key {
        Some(ContactKey::Id(id)) => query = query.filter(contacts::id.eq(*id)),
        Some(ContactKey::Address(address)) => {
            query = query.filter(contacts::address.eq(address.clone()))
        }
        None => {}
    }
    let rows = query.load::<ContactRow>(conn)?;
    let mut conversation_ids = HashMap::<i64, Vec<i64>>::new();
    let mut of_contacts = conversations::table
        .select((conversations::contact_id, conversations::id))
        .order(conversations::id)
        .into_boxed();
    if let [(id, ..)] = rows.as_slice() {
        of_contacts = of_contacts.filter(conversations::contact_id.eq(*id));
    }
    for (contact, conversation) in of_contacts.load::<(i64, i64)>(conn)? {
        conversation_ids
            .entry(contact)
            .or_default()
            .push(conversation);
    }
    Ok(rows
        .into_iter()
        .map(|(id, address, name, owner_email, created_at)| Contact {
            id,
            address,
            name,
            owner_email,
            conversation_ids: conversation_ids.remove(&id).unwrap_or_default(),
            created_at,
        })
        .collect())
}

pub(super) fn find_contact(conn: &mut DbConnection, key: &ContactKey) -> StoreResult<Contact> {
    load_contacts(conn, Some(key))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no contact {key}")))
}

type TicketRow = (
    (i64, i64, i64, String, String),
    (Option<String>, Option<String>, Option<String>, String),
    Option<String>,
    NaiveDateTime,
);

pub(crate) fn find_ticket(conn: &mut DbConnection, id: i64) -> StoreResult<Ticket> {
    load_tickets(conn, Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no ticket {id}")))
}

fn load_tickets(conn: &mut DbConnection, only: Option<i64>) -> StoreResult<Vec<Ticket>> {
    let mut query = tickets::table
        .inner_join(conversations::table)
        .left_join(users::table.on(users::id.nullable().eq(tickets::owner_user_id)))
        .select((
            (
                tickets::id,
                tickets::conversation_id,
                conversations::channel_id,
                conversations::status,
                tickets::name,
            ),
            (
                tickets::pipeline,
                tickets::stage,
                tickets::priority,
                tickets::properties,
            ),
            users::email.nullable(),
            tickets::created_at,
        ))
        .order(tickets::id.desc())
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(tickets::id.eq(id));
    }
    query
        .load::<TicketRow>(conn)?
        .into_iter()
        .map(
            |(
                (id, conversation_id, channel_id, conversation_status, name),
                (pipeline, stage, priority, properties),
                owner_email,
                created_at,
            )| {
                Ok(Ticket {
                    id,
                    conversation_id,
                    channel_id,
                    conversation_status,
                    name,
                    pipeline,
                    stage,
                    priority,
                    properties: crate::rows::json_object("tickets", id, &properties)?,
                    owner_email,
                    created_at,
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod web_list_tests {
    use super::*;
    use crate::both_databases;
    use crate::testing::{channel, conversation};
    use chrono::Duration;

    both_databases! {
        fn conversations_are_searched_paged_by_key_and_counted(db: TestDatabase) {
            let store = db.store();
            let support = channel(&store, "support@inbox.example.com");
            let start = crate::now() - Duration::hours(1);
            let ids: Vec<i64> = (0..5)
                .map(|n| {
                    conversation(
                        &store,
                        support,
                        &format!("customer{n}@example.org"),
                        &format!("Question {n}"),
                        None,
                        // Two share a time: the id breaks the tie.
                        start + Duration::minutes(n.min(3)),
                    )
                })
                .collect();
            let listed = |filter: &ConversationQuery| -> Vec<i64> {
                store.views().conversations(filter).unwrap().iter().map(|c| c.id).collect()
            };
            let first = ConversationQuery { limit: Some(2), ..Default::default() };
            assert_eq!(listed(&first), [ids[4], ids[3]]);
            let page = store.views().conversations(&first).unwrap();
            let last = page.last().unwrap();
            let next = ConversationQuery {
                after: Some((last.last_message_at, last.id)),
                ..first.clone()
            };
            assert_eq!(listed(&next), [ids[2], ids[1]]);

            let search = |text: &str| {
                listed(&ConversationQuery { search: Some(text.into()), ..Default::default() })
            };
            assert_eq!(search("CUSTOMER2@"), [ids[2]]);
            assert_eq!(search("question 1"), [ids[1]]);
            assert_eq!(search("%"), Vec::<i64>::new());
            assert_eq!(search("_uestion 1"), Vec::<i64>::new());

            let alice = store
                .settings()
                .add_user(&crate::settings::NewUser {
                    email: "alice@example.com",
                    first_name: "Alice",
                    last_name: "Smith",
                    username: "alice",
                })
                .unwrap();
            store.settings().assign_conversation(ids[0], "alice@example.com").unwrap();
            store.settings().close_conversation(ids[1]).unwrap();
            let exactly = |count| CappedCount { count, more: false };
            assert_eq!(
                store.views().conversation_counts(alice.id, None).unwrap(),
                ConversationCounts {
                    open: exactly(4),
                    closed: exactly(1),
                    spam: exactly(0),
                    mine: exactly(1),
                    unassigned: exactly(3),
                }
            );
            // Beyond the cap: the cap and "more", shown as such.
            let capped = store
                .read(|conn| conversation_counts(conn, alice.id, None, 3))
                .unwrap();
            assert_eq!(capped.open, CappedCount { count: 3, more: true });
            assert_eq!(capped.unassigned, exactly(3));
            assert_eq!((capped.open.to_string(), capped.unassigned.to_string()), ("3+".into(), "3".into()));
            assert_eq!(store.views().message_html(1).unwrap(), None);
            assert_eq!(store.views().messages_with_html(ids[0]).unwrap(), Vec::<i64>::new());
            assert!(matches!(store.views().message_html(99), Err(StoreError::NotFound(_))));
        }
    }
}
