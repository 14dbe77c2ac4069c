//! One conversation: its messages (text, sanitized HTML in a sandboxed
//! frame, attachments, verdicts, why it is here), its actions, and the
//! reply form showing the From line and signature the contact will see.

use super::{person, shown_time, PageError, PageResult};
use crate::html_body::{sanitize, Images};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse};
use serde::Deserialize;
use teaminbox_outbound::reply::prepare;
use teaminbox_store::model::{Channel, ConversationKind, ConversationStatus, User};
use teaminbox_store::views::{
    AttachmentInfo, AuthVerdicts, ConversationDetail, MessageView, Ticket,
};

/// One message, as shown.
struct MessageShown {
    id: i64,
    direction: String,
    from: String,
    forwarded_by: Option<String>,
    date: String,
    subject: String,
    text: String,
    has_html: bool,
    attachments: Vec<AttachmentInfo>,
    decisions: Vec<String>,
    delivery: Option<String>,
    /// "SPF pass · DKIM pass · DMARC pass", for a received message.
    authentication: Option<String>,
    /// rspamd's verdict, when it checked the message.
    spam_check: Option<String>,
}

/// A provider's forwarding confirmation, shown large.
struct Confirmation {
    code: Option<String>,
    /// Only an http(s) link is made clickable.
    link: Option<String>,
}

/// The ticket: its summary line and its fields for the edit form.
struct TicketShown {
    line: String,
    name: String,
    pipeline: String,
    stage: String,
    priority: String,
    /// The channel's custom properties, as the ticket was made with them.
    custom: Vec<(String, String)>,
}

/// The reply form as the agent left it.
#[derive(Default)]
pub(super) struct Draft {
    pub body: String,
    /// Something happened in the conversation while the agent wrote.
    pub notice: Option<String>,
    /// Why the reply was not sent.
    pub problem: Option<String>,
}

/// The reply form: what the contact will see, and the agent's draft.
struct ReplyShown {
    from: String,
    to: String,
    /// The channel's signature, sanitized, with the agent's names.
    signature_html: String,
    /// The newest message the agent has seen: a newer one when the form
    /// comes back is a collision.
    seen: i64,
    draft: Draft,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    nav: Nav,
    id: i64,
    subject: String,
    contact: String,
    channel: String,
    status: String,
    is_spam: bool,
    ticket: Option<TicketShown>,
    assignee: String,
    /// The users it can be assigned to: (email, label, current).
    assignees: Vec<(String, String, bool)>,
    confirmation: Option<Confirmation>,
    messages: Vec<MessageShown>,
    reply: ReplyShown,
}

pub(super) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    let html = render(&state, &signed_in, id, Draft::default()).await?;
    Ok(Html(html).into_response())
}

/// Everything the page shows, read in one go.
struct Loaded {
    detail: ConversationDetail,
    with_html: Vec<i64>,
    channel: Channel,
    users: Vec<User>,
    reply: ReplyShown,
}

/// The conversation page with `draft` in its reply form.
pub(super) async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    draft: Draft,
) -> Result<String, PageError> {
    let settings = state.reply.clone();
    let user = signed_in.session.user.clone();
    let loaded = blocking(state, move |store| {
        let detail = store.views().conversation(id)?;
        let (context, look) = prepare(store, &settings, id, &user)?;
        let reply = ReplyShown {
            from: look.from.display(),
            to: person(&context.contact_address, context.contact_name.as_deref()),
            signature_html: sanitize(&look.signature_html, Images::None),
            seen: newest_message(&detail),
            draft,
        };
        Ok(Loaded {
            with_html: store.views().messages_with_html(id)?,
            channel: store.settings().channel(detail.channel_id)?,
            users: store.settings().users()?,
            detail,
            reply,
        })
    })
    .await?;
    Ok(conversation_page(signed_in.nav(), loaded).render()?)
}

fn conversation_page(nav: Nav, loaded: Loaded) -> ConversationPage {
    let Loaded {
        detail,
        with_html,
        channel,
        users,
        reply,
    } = loaded;
    let assignee = detail.assignee.as_ref().map(|a| a.email.clone());
    let is_confirmation = detail.kind == ConversationKind::Verification.as_str();
    ConversationPage {
        nav,
        id: detail.id,
        subject: detail.subject,
        contact: person(&detail.contact.address, detail.contact.name.as_deref()),
        channel: detail.channel_name,
        is_spam: detail.status == ConversationStatus::Spam.as_str(),
        status: detail.status,
        ticket: detail.ticket.map(|t| TicketShown {
            custom: t.custom_properties(),
            line: ticket_line(&t),
            name: t.name,
            pipeline: t.pipeline.unwrap_or_default(),
            stage: t.stage.unwrap_or_default(),
            priority: t.priority.unwrap_or_default(),
        }),
        assignees: users
            .into_iter()
            .map(|u| {
                let current = assignee.as_deref() == Some(u.email.as_str());
                (
                    u.email.clone(),
                    person(&u.email, Some(&full_name(&u))),
                    current,
                )
            })
            .collect(),
        assignee: assignee.unwrap_or_else(|| "unassigned".into()),
        confirmation: is_confirmation.then(|| confirmation(&channel)),
        messages: detail
            .messages
            .into_iter()
            .map(|m| message_shown(m, &with_html))
            .collect(),
        reply,
    }
}

/// The id of the conversation's newest message (0 when it has none).
fn newest_message(detail: &ConversationDetail) -> i64 {
    detail.messages.iter().map(|m| m.id).max().unwrap_or(0)
}

/// "Ticket 12: name · pipeline · stage · priority", what is set of it.
fn ticket_line(ticket: &Ticket) -> String {
    let mut parts = vec![ticket.name.clone()];
    parts.extend(
        [&ticket.pipeline, &ticket.stage, &ticket.priority]
            .into_iter()
            .flatten()
            .cloned(),
    );
    format!("Ticket {}: {}", ticket.id, parts.join(" · "))
}

fn full_name(user: &User) -> String {
    format!("{} {}", user.first_name, user.last_name)
        .trim()
        .to_owned()
}

fn confirmation(channel: &Channel) -> Confirmation {
    let link = channel
        .verification_link
        .clone()
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"));
    Confirmation {
        code: channel.verification_code.clone(),
        link,
    }
}

fn message_shown(m: MessageView, with_html: &[i64]) -> MessageShown {
    MessageShown {
        id: m.id,
        has_html: with_html.contains(&m.id),
        from: person(&m.from, m.from_name.as_deref()),
        forwarded_by: m.forwarded_by,
        date: shown_time(m.sent_at.unwrap_or(m.created_at)),
        subject: m.subject,
        text: m.text,
        attachments: m.attachments,
        decisions: m.decisions,
        delivery: m.delivery.map(|d| match d.last_error {
            Some(error) => format!("{} ({error})", d.state),
            None => d.state,
        }),
        authentication: m.authentication.as_ref().map(verdicts),
        spam_check: m
            .spam_check
            .map(|s| format!("rspamd: {}, score {:.1}", s.action, s.score)),
        direction: m.direction,
    }
}

fn verdicts(auth: &AuthVerdicts) -> String {
    [
        ("SPF", &auth.spf),
        ("DKIM", &auth.dkim),
        ("ARC", &auth.arc),
        ("DMARC", &auth.dmarc),
    ]
    .iter()
    .filter_map(|(name, verdict)| verdict.as_ref().map(|v| format!("{name} {v}")))
    .collect::<Vec<_>>()
    .join(" · ")
}

#[derive(Deserialize)]
pub(super) struct FrameQuery {
    /// `remote`: the agent asked for the message's remote images.
    #[serde(default)]
    images: String,
}

/// A message's HTML, sanitized, for the sandboxed frame of its
/// conversation's page: its own policy, framed only by our pages.
pub(super) async fn message_html(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Path(id): Path<i64>,
    Query(query): Query<FrameQuery>,
) -> PageResult {
    let html = blocking(&state, move |store| store.views().message_html(id))
        .await?
        .ok_or_else(|| PageError::NotFound(format!("message {id} has no HTML body")))?;
    let images = match query.images.as_str() {
        "remote" => Images::Remote { message_id: id },
        _ => Images::Inline { message_id: id },
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}</body></html>",
        sanitize(&html, images)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, images.policy()),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        body,
    )
        .into_response())
}

/// An image the message's HTML shows (`cid:`), for its frame: only an
/// attachment of that message, of an image type.
pub(super) async fn inline_image(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Path((id, content_id)): Path<(i64, String)>,
) -> PageResult {
    let image = blocking(&state, move |store| {
        store.views().inline_image(id, &content_id)
    })
    .await?
    .ok_or_else(|| PageError::NotFound(format!("message {id} has no such image")))?;
    let content_type = HeaderValue::from_str(&image.content_type)
        .ok()
        .filter(|_| is_mime_type(&image.content_type))
        .ok_or_else(|| PageError::NotFound(format!("message {id} has no such image")))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        image.content,
    )
        .into_response())
}

/// An attachment, always as a download: the browser never renders what
/// a sender chose (`Content-Disposition: attachment`, a sandboxing policy,
/// and a content type we checked the shape of).
pub(super) async fn attachment(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    let file = blocking(&state, move |store| store.views().attachment(id)).await?;
    let content_type = HeaderValue::from_str(&file.content_type)
        .ok()
        .filter(|_| is_mime_type(&file.content_type))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&file.filename))
        .map_err(|e| PageError::Internal(format!("attachment {id}: {e}")))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        file.content,
    )
        .into_response())
}

/// `type/subtype` of token characters, nothing else.
fn is_mime_type(text: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(kind, sub)| token(kind) && token(sub))
}

/// `attachment` with the file's name: an ASCII stand-in for old browsers
/// and the exact name encoded per RFC 6266/8187. Nothing from the name
/// can end the header or add a parameter.
pub(crate) fn content_disposition(filename: &str) -> String {
    let name = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let name = if name.trim().is_empty() {
        "attachment"
    } else {
        name
    };
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != ';' => c,
            _ => '_',
        })
        .collect();
    let encoded: String =
        name.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|'
                | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
