//! Sending a reply from the conversation page, through the same path as
//! `teaminbox-admin conversation reply` (`teaminbox_outbound::reply`).
//! When something arrived or was sent while the agent wrote, the page
//! comes back with a notice and the draft kept: sending again sends it.

use super::account::capitalised;
use super::conversation::{render, Draft};
use super::{person, shown_time, PageResult};
use crate::session::SignedIn;
use crate::{blocking, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_outbound::reply::{queue_reply, ReplyBody, ReplyError};
use teaminbox_store::views::MessageView;

#[derive(Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    /// The newest message on the page the agent wrote on.
    #[serde(default)]
    seen: i64,
}

/// Why a reply came back to the agent unsent.
enum Unsent {
    Collision(String),
    Refused(String),
}

pub(super) async fn send(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<ReplyForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let (settings, email) = (state.reply.clone(), signed_in.session.user.email.clone());
    let body = form.body.clone();
    let outcome = blocking(&state, move |store| {
        let detail = store.views().conversation(id)?;
        if let Some(newer) = detail.messages.iter().rfind(|m| m.id > form.seen) {
            return Ok(Err(Unsent::Collision(collision_notice(newer))));
        }
        match queue_reply(store, &settings, id, &email, ReplyBody::Text(&body)) {
            Ok(queued) => Ok(Ok(queued)),
            Err(ReplyError::Store(e)) => Err(e),
            Err(refused) => Ok(Err(Unsent::Refused(refused.to_string()))),
        }
    })
    .await?;
    let (status, draft) = match outcome {
        Ok(queued) => {
            let to = format!("/conversations/{}#message-sent", queued.conversation_id);
            return Ok(Redirect::to(&to).into_response());
        }
        Err(Unsent::Collision(notice)) => (
            StatusCode::CONFLICT,
            Draft {
                body: form.body,
                notice: Some(notice),
                problem: None,
            },
        ),
        Err(Unsent::Refused(problem)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Draft {
                body: form.body,
                notice: None,
                problem: Some(capitalised(&problem)),
            },
        ),
    };
    let page = render(&state, &signed_in, id, draft).await?;
    Ok((status, Html(page)).into_response())
}

/// What the agent is told when the conversation moved on while they
/// wrote.
fn collision_notice(newer: &MessageView) -> String {
    let who = person(&newer.from, newer.from_name.as_deref());
    let when = shown_time(newer.sent_at.unwrap_or(newer.created_at));
    let what = if newer.direction == "out" {
        "sent a reply"
    } else {
        "wrote again"
    };
    format!(
        "{who} {what} at {when}, while you were writing. Read it below; \
         your reply is not sent yet: send it as it is, or change it first."
    )
}
