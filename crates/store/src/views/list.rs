//! The conversation list: summaries, filters, search, keyset pages and
//! the filters' counts.

use super::*;

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

/// Each filter's conversations, up to `cap` (then "more"): ids only, from
/// the list's indexes (migration 2026-11-30-000050).
pub(super) fn conversation_counts(
    conn: &mut DbConnection,
    user_id: i64,
    channel: Option<i64>,
    cap: i64,
) -> StoreResult<ConversationCounts> {
    let with_status = |status: ConversationStatus| {
        let query = conversations::table
            .filter(conversations::status.eq(status.as_str()))
            .select(conversations::id)
            .into_boxed::<crate::MultiBackend>();
        match channel {
            Some(channel) => query.filter(conversations::channel_id.eq(channel)),
            None => query,
        }
    };
    let mut count = |query: conversations::BoxedQuery<'_, crate::MultiBackend, _>| {
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

pub(super) type SummaryRow = (
    (i64, i64, String, String, String, String),
    (NaiveDateTime, NaiveDateTime),
    (String, Option<String>),
    Option<String>,
    Option<i64>,
);

pub(super) fn load_summaries(
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
pub(super) fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many messages each of `ids` holds, a bounded number of ids per query
/// (SQLite limits the parameters of one statement).
pub(super) fn message_counts(
    conn: &mut DbConnection,
    ids: &[i64],
) -> StoreResult<HashMap<i64, i64>> {
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
pub(crate) fn find_summary(conn: &mut DbConnection, id: i64) -> StoreResult<ConversationSummary> {
    load_summaries(conn, &ConversationQuery::default(), Some(id))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no conversation {id}")))
}
