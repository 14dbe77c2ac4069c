//! `teaminbox-admin conversation reply`: an answer queued through
//! `teaminbox_outbound::reply`, the same path as the web inbox's.

use crate::{cli::ConversationReply, output, AdminError, AdminResult};
use teaminbox_outbound::reply::{queue_reply, ReplyBody, ReplyError, ReplySettings};
use teaminbox_store::config::Config;
use teaminbox_store::Store;

pub fn run(args: ConversationReply, store: &Store, config: &Config) -> AdminResult {
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => body.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| AdminError::Usage(format!("--body-file {}: {e}", path.display())))?,
        (None, None) => return Err(AdminError::Usage("give --body or --body-file".into())),
    };
    let body = if args.html {
        ReplyBody::Html(&body)
    } else {
        ReplyBody::Text(&body)
    };
    let settings = ReplySettings::new(config);
    let queued =
        queue_reply(store, &settings, args.id, &args.as_user, body).map_err(|e| match e {
            ReplyError::Empty => AdminError::Usage(e.to_string()),
            ReplyError::Store(e) => e.into(),
            other => AdminError::Refused(other.to_string()),
        })?;
    if args.json.json {
        output::json(&serde_json::json!({
            "outbound_id": queued.outbound_id,
            "conversation_id": queued.conversation_id,
            "from": queued.from.display(),
            "to": queued.to,
            "subject": queued.subject,
            "message_id": queued.message_id,
        }));
    } else {
        // The subject and the contact's address came with the mail.
        output::say(&format!(
            "Queued reply {} from {} to {}: {}",
            queued.outbound_id,
            queued.from.display(),
            queued.to,
            queued.subject
        ));
    }
    Ok(())
}
