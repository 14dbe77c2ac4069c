//! The web inbox: a small server-rendered application (axum, askama
//! templates checked at compile time) where agents sign in and work their
//! conversations. Every query goes through the store; no SQL here.
//!
//! Security, in one place each: the session cookie and CSRF token
//! (`session.rs`), failed sign-in limits (`limits.rs`), the headers on
//! every response (`headers`, below), and a message's HTML made inert
//! (`html_body.rs`). Reading and acting work without JavaScript;
//! `assets/app.js` only adds live updates and keyboard shortcuts.

mod html_body;
mod limits;
mod pages;
mod session;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use teaminbox_outbound::reply::ReplySettings;
use teaminbox_store::config::Config;
use teaminbox_store::{Store, StoreError};
use tokio::net::TcpListener;

pub use session::SESSION_COOKIE;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    store: Store,
    /// Cookies are `Secure` when users reach the inbox over https.
    secure_cookies: bool,
    limits: Arc<limits::SignInLimits>,
    /// How replies are composed: the same as `conversation reply`.
    reply: Arc<ReplySettings>,
}

/// The whole application, for [`serve`] or a test's `oneshot`.
pub fn router(store: Store, config: &Config) -> Router {
    let state = AppState {
        store,
        secure_cookies: config.web.is_https(),
        limits: Arc::new(limits::SignInLimits::default()),
        reply: Arc::new(ReplySettings::new(config)),
    };
    pages::routes()
        .with_state(state)
        .layer(axum::middleware::map_response(headers))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The policy of every page: script, styles, images, requests and frames
/// (a message's HTML) only from here, and no inline script; never framed
/// elsewhere.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response. A response that set its own policy
/// (a message's HTML, framed by our own page) keeps it.
async fn headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
    }
    if !headers.contains_key(header::X_FRAME_OPTIONS) {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, pages::PageError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || work(&store))
        .await
        .map_err(|e| pages::PageError::Internal(format!("store task failed: {e}")))?
        .map_err(pages::PageError::from)
}
