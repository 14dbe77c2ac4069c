//! `teaminbox-admin conversation reply`: compose, sign and queue an answer.

use crate::{cli::ConversationReply, output, AdminError, AdminResult};
use teaminbox_outbound::signature;
use teaminbox_outbound::{
    compose::{compose_reply, reply_subject, ReplyDraft},
    sign_if_possible,
};
use teaminbox_store::config::Config;
use teaminbox_store::identity::{from_header, Sender};
use teaminbox_store::{outbound::NewReply, Store};

pub fn run(args: ConversationReply, store: &Store, config: &Config) -> AdminResult {
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => body.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| AdminError::Usage(format!("--body-file {}: {e}", path.display())))?,
        (None, None) => return Err(AdminError::Usage("give --body or --body-file".into())),
    };
    if body.trim().is_empty() {
        return Err(AdminError::Usage("the reply is empty".into()));
    }
    let context = store.outbound().reply_context(args.id)?;
    let user = store.settings().user(&args.as_user)?;
    let channel = store.settings().channel(context.channel_id)?;
    let sender = Sender::from(&user);
    let from = from_header(&channel, &sender, &config.outbound.default_from_domain);
    let (signature_html, signature_text) = match &channel.signature_html {
        Some(html) => signature::render(html, &sender.full_name(), &sender.first_name()),
        None => (String::new(), String::new()),
    };
    let (text, html) = bodies(&body, args.html, &signature_text, &signature_html);
    let subject = reply_subject(&context.subject);
    let composed = compose_reply(&ReplyDraft {
        from_name: &from.name,
        from_address: &from.address,
        to_name: context.contact_name.as_deref(),
        to_address: &context.contact_address,
        subject: &context.subject,
        references: &context.references,
        text: &text,
        html: Some(&html),
        loop_marker: &teaminbox_store::config::loop_marker(config),
    })
    .map_err(|e| AdminError::Refused(format!("cannot compose the reply: {e}")))?;
    let raw = sign_if_possible(
        store,
        &config.outbound.default_from_domain,
        &from.address,
        composed.raw,
    )
    .map_err(AdminError::Refused)?;
    let id = store.outbound().enqueue_reply(&NewReply {
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
    if args.json.json {
        output::json(&serde_json::json!({
            "outbound_id": id,
            "conversation_id": context.conversation_id,
            "from": from.display(),
            "to": context.contact_address,
            "subject": subject,
            "message_id": composed.message_id,
        }));
    } else {
        // The subject and the contact's address came with the mail.
        output::say(&format!(
            "Queued reply {id} from {} to {}: {subject}",
            from.display(),
            context.contact_address
        ));
    }
    Ok(())
}

/// The text and HTML bodies with the signature under each.
fn bodies(
    body: &str,
    is_html: bool,
    signature_text: &str,
    signature_html: &str,
) -> (String, String) {
    let (text, html) = if is_html {
        (
            mail_parser::decoders::html::html_to_text(body),
            body.to_owned(),
        )
    } else {
        let escaped = signature::escape_text(body).replace('\n', "<br>\n");
        (body.to_owned(), format!("<p>{escaped}</p>"))
    };
    if signature_text.is_empty() {
        return (text, html);
    }
    (
        format!("{}\n\n-- \n{signature_text}\n", text.trim_end()),
        format!("{html}\n<div class=\"signature\">{signature_html}</div>"),
    )
}
