//! An agent's answer to a conversation, composed, signed and queued the
//! same way whoever writes it: `teaminbox-admin conversation reply` and the
//! web inbox both come here, so the From line and the signature a contact
//! sees are decided once.

use crate::compose::{compose_reply, reply_subject, ReplyDraft};
use crate::{sign_if_possible, signature};
use teaminbox_store::config::{loop_marker, Config};
use teaminbox_store::identity::{from_header, FromHeader, Sender};
use teaminbox_store::model::{Channel, User};
use teaminbox_store::outbound::{NewReply, ReplyContext};
use teaminbox_store::{Store, StoreError};

/// What a reply needs from the configuration.
#[derive(Clone, Debug)]
pub struct ReplySettings {
    pub default_from_domain: String,
    pub loop_marker: String,
}

impl ReplySettings {
    pub fn new(config: &Config) -> Self {
        Self {
            default_from_domain: config.outbound.default_from_domain.clone(),
            loop_marker: loop_marker(config),
        }
    }
}

/// How a user's reply on a conversation's channel looks to the contact.
#[derive(Clone, Debug)]
pub struct ReplyLook {
    pub from: FromHeader,
    /// The signature with the user's names filled in, as HTML and as text;
    /// both empty when the channel has none.
    pub signature_html: String,
    pub signature_text: String,
}

impl ReplyLook {
    pub fn new(channel: &Channel, user: &User, settings: &ReplySettings) -> Self {
        let sender = Sender::from(user);
        let (signature_html, signature_text) = match &channel.signature_html {
            Some(html) => signature::render(html, &sender.full_name(), &sender.first_name()),
            None => (String::new(), String::new()),
        };
        Self {
            from: from_header(channel, &sender, &settings.default_from_domain),
            signature_html,
            signature_text,
        }
    }

    /// The text and HTML bodies of `body` with the signature under each.
    pub fn bodies(&self, body: &ReplyBody<'_>) -> (String, String) {
        let (text, html) = match *body {
            ReplyBody::Html(html) => (
                mail_parser::decoders::html::html_to_text(html),
                html.to_owned(),
            ),
            ReplyBody::Text(text) => {
                let escaped = signature::escape_text(text).replace('\n', "<br>\n");
                (text.to_owned(), format!("<p>{escaped}</p>"))
            }
        };
        if self.signature_text.is_empty() {
            return (text, html);
        }
        (
            format!("{}\n\n-- \n{}\n", text.trim_end(), self.signature_text),
            format!(
                "{html}\n<div class=\"signature\">{}</div>",
                self.signature_html
            ),
        )
    }
}

/// What the agent wrote.
#[derive(Clone, Copy, Debug)]
pub enum ReplyBody<'a> {
    Text(&'a str),
    /// Trusted HTML (the admin's `--html`); the web only sends text.
    Html(&'a str),
}

impl ReplyBody<'_> {
    fn is_blank(&self) -> bool {
        match self {
            Self::Text(s) | Self::Html(s) => s.trim().is_empty(),
        }
    }
}

/// A reply in the outbound queue.
#[derive(Clone, Debug)]
pub struct QueuedReply {
    pub outbound_id: i64,
    pub conversation_id: i64,
    pub from: FromHeader,
    pub to: String,
    pub subject: String,
    pub message_id: String,
}

/// Why a reply was not queued.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply is empty")]
    Empty,
    #[error("cannot compose the reply: {0}")]
    Compose(String),
    #[error("cannot sign the reply: {0}")]
    Sign(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The conversation a reply answers, and how `user`'s reply will look.
pub fn prepare(
    store: &Store,
    settings: &ReplySettings,
    conversation_id: i64,
    user: &User,
) -> Result<(ReplyContext, ReplyLook), StoreError> {
    let context = store.outbound().reply_context(conversation_id)?;
    let channel = store.settings().channel(context.channel_id)?;
    Ok((context, ReplyLook::new(&channel, user, settings)))
}

/// Composes the answer of the user `author` (an email) to the
/// conversation, signs it with DKIM where we hold the key, and queues it
/// for delivery. What is wrong is said in this order: the body, the
/// conversation, the user.
pub fn queue_reply(
    store: &Store,
    settings: &ReplySettings,
    conversation_id: i64,
    author: &str,
    body: ReplyBody<'_>,
) -> Result<QueuedReply, ReplyError> {
    if body.is_blank() {
        return Err(ReplyError::Empty);
    }
    let context = store.outbound().reply_context(conversation_id)?;
    let user = store.settings().user(author)?;
    let channel = store.settings().channel(context.channel_id)?;
    let look = ReplyLook::new(&channel, &user, settings);
    let (text, html) = look.bodies(&body);
    let from = look.from;
    let composed = compose_reply(&ReplyDraft {
        from_name: &from.name,
        from_address: &from.address,
        to_name: context.contact_name.as_deref(),
        to_address: &context.contact_address,
        subject: &context.subject,
        references: &context.references,
        text: &text,
        html: Some(&html),
        loop_marker: &settings.loop_marker,
    })
    .map_err(|e| ReplyError::Compose(e.to_string()))?;
    let raw = sign_if_possible(
        store,
        &settings.default_from_domain,
        &from.address,
        composed.raw,
    )
    .map_err(ReplyError::Sign)?;
    let subject = reply_subject(&context.subject);
    let outbound_id = store.outbound().enqueue_reply(&NewReply {
        conversation_id: context.conversation_id,
        channel_id: context.channel_id,
        from_name: &from.name,
        from_address: &from.address,
        to_address: &context.contact_address,
        subject: &subject,
        text: &text,
        html: Some(&html),
        message_id: &composed.message_id,
        raw_message: &raw,
        user_email: &user.email,
        user_id: user.id,
    })?;
    Ok(QueuedReply {
        outbound_id,
        conversation_id: context.conversation_id,
        from,
        to: context.contact_address,
        subject,
        message_id: composed.message_id,
    })
}
