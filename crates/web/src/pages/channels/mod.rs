//! Settings → Channels, for users with the `admin` role: the list, enable
//! and disable, and "Connect a channel" in three steps (how replies look,
//! routing and tickets, the forwarding address), each saved as soon as it
//! is valid. Every change goes through the store functions that
//! `teaminbox-admin channel` calls, and input is checked by the same rules
//! (`teaminbox_store::input`), so a refusal reads the same. Editing a
//! connected channel is the same three steps with the address locked.

mod forwarding;
mod replies;
mod routing;

use super::{page, shown_time, PageError, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use teaminbox_store::address::printable;
use teaminbox_store::input::InputError;
use teaminbox_store::model::Channel;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/channels", get(list))
        .route(
            "/settings/channels/new",
            get(replies::new).post(replies::create),
        )
        .route(
            "/settings/channels/{id}/replies",
            get(replies::show).post(replies::save),
        )
        .route(
            "/settings/channels/{id}/preview",
            post(replies::live_preview),
        )
        .route(
            "/settings/channels/{id}/routing",
            get(routing::show).post(routing::save),
        )
        .route("/settings/channels/{id}/forwarding", get(forwarding::show))
        .route("/settings/channels/{id}/address", post(forwarding::address))
        .route(
            "/settings/channels/{id}/sources",
            post(forwarding::add_source),
        )
        .route(
            "/settings/channels/{id}/sources/remove",
            post(forwarding::remove_source),
        )
        .route("/settings/channels/{id}/finish", post(forwarding::finish))
        .route("/settings/channels/{id}/enable", post(enable))
        .route("/settings/channels/{id}/disable", post(disable))
}

/// One line of the list.
struct Row {
    id: i64,
    name: String,
    /// `draft`, `connected` or `disabled`.
    status: &'static str,
    enabled: bool,
    forwarding_address: String,
    confirmation: Option<Confirmation>,
}

/// The latest provider forwarding confirmation of a channel.
struct Confirmation {
    code: String,
    link: Option<String>,
    requested_by: String,
    received: String,
}

impl Confirmation {
    fn of(channel: &Channel) -> Option<Self> {
        let code = channel.verification_code.clone()?;
        Some(Self {
            code,
            link: channel.verification_link.clone(),
            requested_by: channel
                .verification_requested_by
                .clone()
                .unwrap_or_default(),
            received: channel
                .verification_received_at
                .map(shown_time)
                .unwrap_or_default(),
        })
    }
}

fn status(channel: &Channel) -> &'static str {
    match (channel.enabled, channel.status.as_str()) {
        (false, _) => "disabled",
        (true, "draft") => "draft",
        _ => "connected",
    }
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
}

async fn list(State(state): State<AppState>, signed_in: SignedIn) -> PageResult {
    signed_in.require_admin()?;
    let channels = blocking(&state, |store| store.settings().channels()).await?;
    let rows = channels
        .iter()
        .map(|c| Row {
            id: c.id,
            name: c.name.clone(),
            status: status(c),
            enabled: c.enabled,
            forwarding_address: c.forwarding_address.clone(),
            confirmation: Confirmation::of(c),
        })
        .collect();
    page(&ListPage {
        nav: signed_in.nav(),
        rows,
    })
}

async fn enable(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<super::CsrfForm>,
) -> PageResult {
    set_enabled(state, signed_in, id, form, true).await
}

async fn disable(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<super::CsrfForm>,
) -> PageResult {
    set_enabled(state, signed_in, id, form, false).await
}

/// `channel enable` and `channel disable`.
async fn set_enabled(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<super::CsrfForm>,
    enabled: bool,
) -> PageResult {
    admin_change(&signed_in, &form.csrf)?;
    blocking(&state, move |store| {
        store.settings().set_enabled(id, enabled)
    })
    .await?;
    Ok(Redirect::to("/settings/channels").into_response())
}

/// Every change here: an admin's, with the session's CSRF token.
pub(super) fn admin_change(signed_in: &SignedIn, csrf: &str) -> Result<(), PageError> {
    signed_in.require_admin()?;
    signed_in.check_csrf(csrf)
}

/// Where the steps are, for the header every step shows.
struct Steps {
    /// `None` before step 1 is first saved.
    id: Option<i64>,
    /// 1, 2 or 3.
    current: u8,
    /// Connected: editing, the address locked.
    connected: bool,
}

impl Steps {
    fn of(channel: &Channel, current: u8) -> Self {
        Self {
            id: Some(channel.id),
            current,
            connected: channel.status != "draft",
        }
    }
}

/// A refused input, as the web shows it (next to its field).
pub(super) fn refusal(e: &InputError) -> String {
    e.message(printable)
}

/// A page shown again with what was refused: 422.
pub(super) fn refused(template: &impl Template) -> PageResult {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(template.render()?)).into_response())
}

/// Back, next, or save and stay: which button sent a step's form.
fn next_page(id: i64, go: &str, back: &str, here: &str, next: &str) -> String {
    let to = match go {
        "back" => back,
        "next" => next,
        _ => here,
    };
    format!("/settings/channels/{id}/{to}")
}
