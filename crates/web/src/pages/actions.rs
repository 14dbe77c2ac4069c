//! The actions on a conversation: close, reopen, assign, its ticket, spam
//! and not spam. Each checks the form's CSRF token, does one store operation (the
//! same as the admin's command) and goes back to the conversation.

use super::{CsrfForm, PageResult};
use crate::session::SignedIn;
use crate::{blocking, AppState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_store::model::SpamClass;
use teaminbox_store::tickets::TicketUpdate;
use teaminbox_store::{Store, StoreError};

pub(super) async fn close(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    act(&state, &signed_in, id, &form.csrf, move |store| {
        store.settings().close_conversation(id).map(drop)
    })
    .await
}

pub(super) async fn reopen(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    act(&state, &signed_in, id, &form.csrf, move |store| {
        store.settings().reopen_conversation(id).map(drop)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct AssignForm {
    #[serde(default)]
    csrf: String,
    /// A user's email; empty leaves the conversation to nobody.
    #[serde(default)]
    assignee: String,
}

pub(super) async fn assign(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<AssignForm>,
) -> PageResult {
    let assignee = form.assignee.trim().to_ascii_lowercase();
    act(&state, &signed_in, id, &form.csrf, move |store| {
        let settings = store.settings();
        match assignee.as_str() {
            "" => settings.unassign_conversation(id).map(drop),
            email => settings.assign_conversation(id, email).map(drop),
        }
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct TicketForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    pipeline: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    priority: String,
}

/// Saves the conversation's ticket's fields (an empty one but the name
/// clears it), with the rules of `ticket update`.
pub(super) async fn ticket(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<TicketForm>,
) -> PageResult {
    let update = TicketUpdate {
        name: Some(form.name),
        pipeline: Some(form.pipeline),
        stage: Some(form.stage),
        priority: Some(form.priority),
    };
    act(&state, &signed_in, id, &form.csrf, move |store| {
        let ticket = store
            .views()
            .conversation(id)?
            .ticket
            .ok_or_else(|| StoreError::NotFound(format!("conversation {id} has no ticket")))?;
        store.settings().update_ticket(ticket.id, &update).map(drop)
    })
    .await
}

/// Files the conversation as spam and teaches rspamd, as
/// `conversation spam` does.
pub(super) async fn spam(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<CsrfForm>,
) -> PageResult {
    mark(state, signed_in, id, form, SpamClass::Spam).await
}

/// Opens the conversation again (with its ticket, if spam had kept it from
/// one) and teaches rspamd, as `conversation not-spam` does.
pub(super) async fn not_spam(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<CsrfForm>,
) -> PageResult {
    mark(state, signed_in, id, form, SpamClass::Ham).await
}

async fn mark(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
    class: SpamClass,
) -> PageResult {
    act(&state, &signed_in, id, &form.csrf, move |store| {
        store.spam_lessons().mark_conversation(id, class).map(drop)
    })
    .await
}

/// An action on conversation `id`: CSRF checked, done, back to the
/// conversation.
async fn act(
    state: &AppState,
    signed_in: &SignedIn,
    id: i64,
    csrf: &str,
    action: impl FnOnce(&Store) -> Result<(), StoreError> + Send + 'static,
) -> PageResult {
    signed_in.check_csrf(csrf)?;
    blocking(state, action).await?;
    Ok(Redirect::to(&format!("/conversations/{id}")).into_response())
}
