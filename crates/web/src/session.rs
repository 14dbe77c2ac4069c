//! The session cookie and the CSRF token. The cookie holds a random token
//! whose hash the store keeps (`store.accounts()`); every state-changing
//! form carries the session's own CSRF token, compared here.

use crate::pages::PageError;
use crate::{blocking, AppState};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue};
use teaminbox_store::accounts::Session;
use teaminbox_store::model::UserRole;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "teaminbox_session";

/// The navigation bar of a signed-in page.
pub struct Nav {
    pub user_email: String,
    /// For the sign-out forms.
    pub csrf: String,
    pub is_admin: bool,
    /// Whether round robin gives the user conversations (the header's
    /// switch).
    pub available: bool,
}

/// A request from a signed-in user; anything else is sent to sign in.
pub struct SignedIn {
    pub session: Session,
    /// The cookie's token, to sign this session out.
    pub token: String,
}

impl SignedIn {
    fn is_admin(&self) -> bool {
        self.session.user.role == UserRole::Admin.as_str()
    }

    /// Refuses a user without the admin role.
    pub fn require_admin(&self) -> Result<(), PageError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(PageError::AdminOnly)
        }
    }

    /// What the navigation bar of every signed-in page shows.
    pub fn nav(&self) -> Nav {
        Nav {
            user_email: self.session.user.email.clone(),
            csrf: self.session.csrf_token.clone(),
            is_admin: self.is_admin(),
            available: self.session.user.available,
        }
    }

    /// Refuses a state-changing request whose form does not carry this
    /// session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if constant_time_eq(given.as_bytes(), self.session.csrf_token.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let token = cookie_token(parts).ok_or(PageError::SignedOut)?;
        let looked_up = token.clone();
        let session = blocking(state, move |store| store.accounts().session(&looked_up))
            .await?
            .ok_or(PageError::SignedOut)?;
        Ok(Self { session, token })
    }
}

/// The session token of the request's cookie, if it has one of the right
/// shape (64 hex digits).
fn cookie_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value that starts a session (`Some(token)`) or ends it.
pub fn set_cookie(token: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match token {
        // No Max-Age: the store decides when a session ends, and a closed
        // browser forgets it sooner.
        Some(token) => format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).expect("a token is hex digits")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
