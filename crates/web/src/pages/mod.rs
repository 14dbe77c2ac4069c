//! The pages and actions, one file per part of the inbox. Each handler
//! asks the store (off the async threads, [`blocking`](crate::blocking))
//! and renders a template; state changes are POSTs that carry the
//! session's CSRF token.

mod account;
mod actions;
mod admin;
mod channels;
mod conversation;
mod domains;
mod list;
mod reply;
mod sign_in;

use crate::AppState;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDateTime;
use serde::Deserialize;
use teaminbox_store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list::list))
        .route("/style.css", get(style))
        .route("/app.js", get(script))
        .route("/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route(
            "/sign-in/{token}",
            get(sign_in::link_page).post(sign_in::link_sign_in),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route("/sign-out-everywhere", post(sign_in::sign_out_everywhere))
        .route("/conversations/{id}", get(conversation::show))
        .route("/conversations/{id}/reply", post(reply::send))
        .route("/conversations/{id}/close", post(actions::close))
        .route("/conversations/{id}/reopen", post(actions::reopen))
        .route("/conversations/{id}/assign", post(actions::assign))
        .route("/conversations/{id}/ticket", post(actions::ticket))
        .route("/conversations/{id}/spam", post(actions::spam))
        .route("/conversations/{id}/not-spam", post(actions::not_spam))
        .route("/messages/{id}/html", get(conversation::message_html))
        .route(
            "/messages/{id}/inline/{content_id}",
            get(conversation::inline_image),
        )
        .route("/attachments/{id}", get(conversation::attachment))
        .route(
            "/account/password",
            get(account::password_page).post(account::set_password),
        )
        .route("/account/availability", post(account::set_availability))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/role", post(admin::set_role))
        .route("/admin/users/availability", post(admin::set_availability))
        .route("/admin/users/sign-in-link", post(admin::new_sign_in_link))
        .route("/admin/teams", post(admin::add_team))
        .route("/admin/teams/members", post(admin::add_member))
        .route("/settings/domains", get(domains::list).post(domains::add))
        .route("/settings/domains/verify", post(domains::verify))
        .merge(channels::routes())
}

/// Why a page is not shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not signed in")]
    SignedOut,
    #[error("this page is for admins")]
    AdminOnly,
    #[error("the form is stale or forged; reload the page and try again")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    /// A change the rules refuse, in the words the admin tool uses.
    #[error("{0}")]
    Refused(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(why) => Self::Refused(why),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(format!("template: {e}"))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::SignedOut => return Redirect::to("/sign-in").into_response(),
            Self::Forbidden | Self::AdminOnly => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(e) => {
                tracing::error!("web: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let text = match &self {
            Self::Internal(_) => "Something went wrong; the error is in the daemon's log.".into(),
            other => other.to_string(),
        };
        (status, text).into_response()
    }
}

type PageResult = Result<Response, PageError>;

fn page(template: &impl Template) -> PageResult {
    Ok(Html(template.render()?).into_response())
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/style.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../assets/app.js"),
    )
}

/// Every state-changing form carries the session's token.
#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

fn person(address: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if !name.is_empty() => format!("{name} <{address}>"),
        _ => address.to_owned(),
    }
}

fn shown_time(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
