//! The signed-in user's own password: set after signing in with a link
//! (the way a new user or one who forgot it gets one), or changed.

use super::{page, PageResult};
use crate::pages::sign_in::start_session;
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::Form;
use serde::Deserialize;
use teaminbox_store::accounts::Accounts;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    problem: Option<String>,
}

pub(super) async fn password_page(signed_in: SignedIn) -> PageResult {
    page(&PasswordPage {
        nav: signed_in.nav(),
        problem: None,
    })
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

/// Sets the password, which ends every session of the user (as
/// `user set-password` does), and starts a new one for this browser.
pub(super) async fn set_password(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let problem = if form.password != form.again {
        Some("The two passwords differ.".to_owned())
    } else {
        Accounts::new_password_problem(&form.password).map(|p| capitalised(&p))
    };
    if let Some(problem) = problem {
        let body = PasswordPage {
            nav: signed_in.nav(),
            problem: Some(problem),
        }
        .render()?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response());
    }
    let (email, password) = (signed_in.session.user.email.clone(), form.password);
    let user = blocking(&state, move |store| {
        store.accounts().set_password(&email, &password)
    })
    .await?;
    start_session(&state, user.id, "/").await
}

/// A store's message as a sentence.
pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>() + "."
    })
}

#[derive(Deserialize)]
pub(super) struct AvailabilityForm {
    #[serde(default)]
    csrf: String,
    /// `available` or `away`.
    #[serde(default)]
    value: String,
}

/// An agent sets their own availability from the header, as `user
/// availability` sets it: round robin skips them while away.
pub(super) async fn set_availability(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<AvailabilityForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let email = signed_in.session.user.email.clone();
    let available = form.value == "available";
    blocking(&state, move |store| {
        store.settings().set_availability(&email, available)
    })
    .await?;
    Ok(axum::response::Redirect::to("/").into_response())
}
