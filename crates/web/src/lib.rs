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

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
    /// Where forwarding addresses may be (`milter.hosted_domains`); new
    /// channels get theirs in the first.
    hosted_domains: Arc<Vec<String>>,
    /// The base of sign-in links (`[web] public_url`).
    public_url: Arc<String>,
    /// The resolver's, to verify a sending domain's DKIM record.
    nameservers: Arc<Vec<SocketAddr>>,
}

/// The whole application, for [`serve`] or a test's `oneshot`.
pub fn router(store: Store, config: &Config) -> Router {
    let state = AppState {
        store,
        secure_cookies: config.web.is_https(),
        limits: Arc::new(limits::SignInLimits::default()),
        reply: Arc::new(ReplySettings::new(config)),
        hosted_domains: Arc::new(config.milter.hosted_domains.clone()),
        public_url: Arc::new(config.web.public_url().to_owned()),
        nameservers: Arc::new(config.nameservers()),
    };
    pages::routes()
        .with_state(state)
        .layer(axum::middleware::from_fn(same_origin))
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
    // Nothing of the inbox's addresses leaks to other sites; `same-origin`
    // rather than `no-referrer`, which would make the browser send
    // `Origin: null` with our own forms (see `same_origin`).
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Refuses a POST a browser sent from another site: its `Origin` names
/// another host than the one it was sent to. The session's CSRF token
/// already guards every signed-in form; this also guards the sign-in form
/// (no session yet), so that no site can sign a browser in as someone
/// else. A request without `Origin` (not a browser's) is left to the
/// token.
async fn same_origin(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let refused = request.method() == Method::POST
        && headers.get(header::ORIGIN).is_some_and(|origin| {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, host)| host);
            host.is_none() || origin_host != host
        });
    if refused {
        return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
    }
    next.run(request).await
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
