//! Tickets, as filing made them and agents changed them.

use super::*;

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

pub(super) type TicketRow = (
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

pub(super) fn load_tickets(conn: &mut DbConnection, only: Option<i64>) -> StoreResult<Vec<Ticket>> {
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
