//! Pages for users with the `admin` role only. For now the team's users;
//! channel set-up (issue 15) comes here.

use super::{page, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::State;
use teaminbox_store::model::User;

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Nav,
    users: Vec<User>,
}

pub(super) async fn users(State(state): State<AppState>, signed_in: SignedIn) -> PageResult {
    signed_in.require_admin()?;
    let users = blocking(&state, |store| store.settings().users()).await?;
    page(&UsersPage {
        nav: signed_in.nav(),
        users,
    })
}
