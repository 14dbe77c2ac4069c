//! Users and teams, for users with the `admin` role: add a user (and show
//! their first sign-in link), roles, availability, a sign-in link on
//! request, teams and their members. Each change is the store operation
//! `teaminbox-admin user|team` does, its input checked by the same rules
//! (`teaminbox_store::input`).

use super::{page, PageResult};
use crate::pages::channels::{admin_change, refusal, refused};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;
use teaminbox_store::input::{self, InputError};
use teaminbox_store::model::{User, UserRole};
use teaminbox_store::settings::{NewUser, TeamWithMembers};
use teaminbox_store::{Store, StoreError};

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Nav,
    users: Vec<User>,
    teams: Vec<TeamWithMembers>,
    /// A sign-in link just made: the user's email and the link.
    link: Option<(String, String)>,
    error: Option<String>,
}

pub(super) async fn users(State(state): State<AppState>, signed_in: SignedIn) -> PageResult {
    signed_in.require_admin()?;
    show(&state, &signed_in, None, None).await
}

async fn show(
    state: &AppState,
    signed_in: &SignedIn,
    link: Option<(String, String)>,
    error: Option<String>,
) -> PageResult {
    let (users, teams) = blocking(state, |store| {
        Ok((store.settings().users()?, store.settings().teams()?))
    })
    .await?;
    let shown = UsersPage {
        nav: signed_in.nav(),
        users,
        teams,
        link,
        error,
    };
    if shown.error.is_some() {
        refused(&shown)
    } else {
        page(&shown)
    }
}

/// What a change on this page comes to.
enum Done {
    /// Back to the page.
    Changed,
    /// A sign-in link for this email, shown once.
    Link(String, String),
}

/// Why a change was refused: the input, or the store's rules.
enum Refusal {
    Input(InputError),
    Store(StoreError),
}

impl From<InputError> for Refusal {
    fn from(e: InputError) -> Self {
        Self::Input(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Checks the form's token, makes the change and shows the page again:
/// with the link made, or the refusal (422).
async fn change(
    state: &AppState,
    signed_in: &SignedIn,
    csrf: &str,
    work: impl FnOnce(&Store) -> Result<Done, Refusal> + Send + 'static,
) -> PageResult {
    admin_change(signed_in, csrf)?;
    let outcome = blocking(state, move |store| match work(store) {
        Ok(done) => Ok(Ok(done)),
        Err(Refusal::Input(e)) => Ok(Err(refusal(&e))),
        Err(Refusal::Store(StoreError::Conflict(why) | StoreError::NotFound(why))) => Ok(Err(why)),
        Err(Refusal::Store(e)) => Err(e),
    })
    .await?;
    match outcome {
        Ok(Done::Changed) => Ok(Redirect::to("/admin/users").into_response()),
        Ok(Done::Link(email, link)) => show(state, signed_in, Some((email, link)), None).await,
        Err(why) => show(state, signed_in, None, Some(why)).await,
    }
}

/// A sign-in link for `email`, as `user sign-in-link` prints it.
fn sign_in_link(store: &Store, base: &str, email: String) -> Result<Done, Refusal> {
    let token = store.accounts().create_sign_in_link(&email)?;
    Ok(Done::Link(email, format!("{base}/sign-in/{token}")))
}

#[derive(Deserialize)]
pub(super) struct AddUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    admin: Option<String>,
}

/// `user add`, then `user sign-in-link`: the new user's way in.
pub(super) async fn add_user(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<AddUserForm>,
) -> PageResult {
    let base = state.public_url.clone();
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let email = input::address("Email", &form.email)?;
        let first_name = input::text_field("First name", &form.first_name)?;
        let last_name = input::text_field("Last name", &form.last_name)?;
        let username = match form.username.trim() {
            "" => NewUser::default_username(&email),
            given => input::text_field("Username", given)?,
        };
        store.settings().add_user(&NewUser {
            email: &email,
            first_name,
            last_name,
            username,
        })?;
        if form.admin.is_some() {
            store.accounts().set_role(&email, UserRole::Admin)?;
        }
        sign_in_link(store, &base, email)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// `agent` or `admin` (role), `available` or `away` (availability).
    #[serde(default)]
    value: String,
}

/// `user role EMAIL agent|admin`.
pub(super) async fn set_role(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<UserForm>,
) -> PageResult {
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let email = input::address("Email", &form.email)?;
        let role = form
            .value
            .parse::<UserRole>()
            .map_err(|why| Refusal::Store(StoreError::Conflict(why)))?;
        store.accounts().set_role(&email, role)?;
        Ok(Done::Changed)
    })
    .await
}

/// `user availability EMAIL available|away`.
pub(super) async fn set_availability(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<UserForm>,
) -> PageResult {
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let email = input::address("Email", &form.email)?;
        let available = form.value == "available";
        store.settings().set_availability(&email, available)?;
        Ok(Done::Changed)
    })
    .await
}

/// `user sign-in-link EMAIL`.
pub(super) async fn new_sign_in_link(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<UserForm>,
) -> PageResult {
    let base = state.public_url.clone();
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let email = input::address("Email", &form.email)?;
        store.settings().user(&email)?;
        sign_in_link(store, &base, email)
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct TeamForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    team: String,
    /// For a new member.
    #[serde(default)]
    email: Option<String>,
}

/// `team add NAME`.
pub(super) async fn add_team(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<TeamForm>,
) -> PageResult {
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let name = input::text_field("Team", &form.team)?;
        store.settings().add_team(name)?;
        Ok(Done::Changed)
    })
    .await
}

/// `team add-member TEAM EMAIL`.
pub(super) async fn add_member(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<TeamForm>,
) -> PageResult {
    let csrf = form.csrf.clone();
    change(&state, &signed_in, &csrf, move |store| {
        let name = input::text_field("Team", &form.team)?;
        let email = input::address("Email", form.email.as_deref().unwrap_or_default())?;
        store.settings().add_team_member(name, &email)?;
        Ok(Done::Changed)
    })
    .await
}
