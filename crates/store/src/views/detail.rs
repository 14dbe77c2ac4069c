//! A conversation with its messages: bodies, attachments, deliveries,
//! the verdicts at SMTP time and the decisions behind each.

use super::*;

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

pub(super) type MessageRow = (
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

pub(super) fn find_conversation(
    conn: &mut DbConnection,
    id: i64,
) -> StoreResult<ConversationDetail> {
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
pub(super) fn smtp_verdicts(
    conn: &mut DbConnection,
    ids: impl Iterator<Item = i64>,
) -> StoreResult<HashMap<i64, SmtpVerdicts>> {
    use crate::schema::inbound_messages;
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

pub(super) struct SmtpVerdicts {
    /// `None` for a message stored without verdicts.
    authentication: Option<AuthVerdicts>,
    spam_check: Option<SpamCheckView>,
}

/// The decisions column: a JSON array of sentences. Anything else (never
/// written by the processor) is shown as it is rather than hidden.
pub(super) fn decision_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|_| vec![text.to_owned()])
}
