//! Signing in with a password or a one-time link, and signing out.

use super::{page, CsrfForm, PageResult};
use crate::session::{set_cookie, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    problem: Option<&'a str>,
    email: &'a str,
}

pub(super) async fn form() -> PageResult {
    page(&SignInPage {
        problem: None,
        email: "",
    })
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let client = client_address(connection.map(|c| c.0 .0), &headers);
    let email = form.email.trim().to_owned();
    let refused = |status: StatusCode, problem: &str| -> PageResult {
        let body = SignInPage {
            problem: Some(problem),
            email: &email,
        }
        .render()?;
        Ok((status, Html(body)).into_response())
    };
    if !state.limits.allows(&email, &client) {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins; wait a quarter of an hour and try again.",
        );
    }
    let (checked, password) = (email.clone(), form.password);
    let user = blocking(&state, move |store| {
        store.accounts().check_password(&checked, &password)
    })
    .await?;
    let Some(user) = user else {
        state.limits.failed(&email, &client);
        return refused(StatusCode::UNAUTHORIZED, "Wrong email or password.");
    };
    start_session(&state, user.id, "/").await
}

/// Signs the browser in as `user_id` and sends it to `then`.
pub(super) async fn start_session(state: &AppState, user_id: i64, then: &str) -> PageResult {
    let session = blocking(state, move |store| store.accounts().start_session(user_id)).await?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(Some(&session.token), state.secure_cookies),
        )],
        Redirect::to(then),
    )
        .into_response())
}

/// The client's address: the peer's, or behind a proxy on this host (a
/// loopback peer) the last address the proxy added to X-Forwarded-For.
fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
    let forwarded = || {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(|v| v.trim().to_owned())
    };
    match peer {
        Some(peer) if peer.ip().is_loopback() => {
            forwarded().unwrap_or_else(|| peer.ip().to_string())
        }
        Some(peer) => peer.ip().to_string(),
        None => "unknown".into(),
    }
}

#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct LinkPage {
    valid_shape: bool,
}

/// A sign-in link opens a page with a button, so that a mail scanner or
/// link preview that fetches the link does not use it up.
pub(super) async fn link_page(Path(token): Path<String>) -> PageResult {
    page(&LinkPage {
        valid_shape: token.len() == 64,
    })
}

pub(super) async fn link_sign_in(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult {
    let user = blocking(&state, move |store| {
        store.accounts().redeem_sign_in_link(&token)
    })
    .await?;
    match user {
        // A link is how a user gets a password, or a new one.
        Some(user) => start_session(&state, user.id, "/account/password").await,
        None => Ok((
            StatusCode::NOT_FOUND,
            Html(LinkPage { valid_shape: false }.render()?),
        )
            .into_response()),
    }
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let token = signed_in.token;
    blocking(&state, move |store| store.accounts().end_session(&token)).await?;
    Ok(signed_out(&state))
}

pub(super) async fn sign_out_everywhere(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let user = signed_in.session.user.id;
    blocking(&state, move |store| store.accounts().end_all_sessions(user)).await?;
    Ok(signed_out(&state))
}

fn signed_out(state: &AppState) -> Response {
    (
        [(header::SET_COOKIE, set_cookie(None, state.secure_cookies))],
        Redirect::to("/sign-in"),
    )
        .into_response()
}
