//! The pages and actions. Each handler asks the store (off the async
//! threads, [`blocking`]) and renders a template; state changes are POSTs
//! that carry the session's CSRF token.

use crate::html_body::{sanitize, BODY_POLICY};
use crate::session::{set_cookie, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;
use std::net::SocketAddr;
use teaminbox_store::model::ConversationStatus;
use teaminbox_store::views::{CappedCount, ConversationQuery, ConversationSummary, MessageView};
use teaminbox_store::StoreError;

/// Conversations on one page of the list.
const PAGE_SIZE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(list))
        .route("/style.css", get(style))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-in/{token}", get(link_page).post(link_sign_in))
        .route("/sign-out", post(sign_out))
        .route("/sign-out-everywhere", post(sign_out_everywhere))
        .route("/conversations/{id}", get(conversation))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/reopen", post(reopen))
        .route("/conversations/{id}/assign-to-me", post(assign_to_me))
        .route("/messages/{id}/html", get(message_html))
}

/// Why a page is not shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not signed in")]
    SignedOut,
    #[error("the form is stale or forged; reload the page and try again")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
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
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
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
        include_str!("../templates/style.css"),
    )
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    problem: Option<&'a str>,
    email: &'a str,
}

async fn sign_in_page() -> PageResult {
    page(&SignInPage {
        problem: None,
        email: "",
    })
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
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
    start_session(&state, user.id).await
}

/// Signs the browser in as `user_id` and sends it to the inbox.
async fn start_session(state: &AppState, user_id: i64) -> PageResult {
    let session = blocking(state, move |store| store.accounts().start_session(user_id)).await?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(Some(&session.token), state.secure_cookies),
        )],
        Redirect::to("/"),
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
async fn link_page(Path(token): Path<String>) -> PageResult {
    page(&LinkPage {
        valid_shape: token.len() == 64,
    })
}

async fn link_sign_in(State(state): State<AppState>, Path(token): Path<String>) -> PageResult {
    let user = blocking(&state, move |store| {
        store.accounts().redeem_sign_in_link(&token)
    })
    .await?;
    match user {
        Some(user) => start_session(&state, user.id).await,
        None => Ok((
            StatusCode::NOT_FOUND,
            Html(LinkPage { valid_shape: false }.render()?),
        )
            .into_response()),
    }
}

/// Every state-changing form carries the session's token.
#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let token = signed_in.token;
    blocking(&state, move |store| store.accounts().end_session(&token)).await?;
    Ok(signed_out(&state))
}

async fn sign_out_everywhere(
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

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    assigned: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

/// One filter link above the list.
struct FilterLink {
    label: &'static str,
    url: String,
    /// Shown as `1000+` beyond the store's cap.
    count: CappedCount,
    current: bool,
}

/// One line of the list, as shown.
struct Row {
    id: i64,
    contact: String,
    subject: String,
    status: String,
    assignee: String,
    message_count: i64,
    last_activity: String,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    user_email: String,
    csrf: String,
    filters: Vec<FilterLink>,
    status: String,
    assigned: String,
    q: String,
    rows: Vec<Row>,
    next_url: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let user = signed_in.session.user.clone();
    let status = match query.status.as_str() {
        "" => Some(ConversationStatus::Open),
        "all" => None,
        name => Some(
            name.parse::<ConversationStatus>()
                .map_err(|_| PageError::NotFound(format!("no status {name}")))?,
        ),
    };
    let filter = ConversationQuery {
        status,
        assignee_email: (query.assigned == "me").then(|| user.email.clone()),
        unassigned: query.assigned == "unassigned",
        limit: Some(PAGE_SIZE + 1),
        search: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        after: parse_cursor(&query.after),
        ..ConversationQuery::default()
    };
    let user_id = user.id;
    let (mut found, counts) = blocking(&state, move |store| {
        Ok((
            store.views().conversations(&filter)?,
            store.views().conversation_counts(user_id)?,
        ))
    })
    .await?;
    let status_name = status.map_or("all", |s| s.as_str()).to_owned();
    let next_url = (found.len() as i64 > PAGE_SIZE).then(|| {
        found.truncate(PAGE_SIZE as usize);
        let last = found.last().expect("a full page");
        list_url(&status_name, &query.assigned, &query.q, &cursor(last))
    });
    let filter_link = |label, status: &str, assigned: &str, count| FilterLink {
        label,
        url: list_url(status, assigned, "", ""),
        count,
        current: status == status_name && assigned == query.assigned,
    };
    let filters = vec![
        filter_link("Open", "open", "", counts.open),
        filter_link("Mine", "open", "me", counts.mine),
        filter_link("Unassigned", "open", "unassigned", counts.unassigned),
        filter_link("Closed", "closed", "", counts.closed),
        filter_link("Spam", "spam", "", counts.spam),
    ];
    page(&ListPage {
        user_email: user.email,
        csrf: signed_in.session.csrf_token,
        filters,
        status: status_name,
        assigned: query.assigned,
        q: query.q,
        rows: found.iter().map(row).collect(),
        next_url,
    })
}

fn row(c: &ConversationSummary) -> Row {
    Row {
        id: c.id,
        contact: person(&c.contact_address, c.contact_name.as_deref()),
        subject: c.subject.clone(),
        status: c.status.clone(),
        assignee: c
            .assignee_email
            .clone()
            .unwrap_or_else(|| "unassigned".into()),
        message_count: c.message_count,
        last_activity: shown_time(c.last_message_at),
    }
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

/// The list's key of a conversation: its newest activity (microseconds)
/// and id.
fn cursor(c: &ConversationSummary) -> String {
    format!(
        "{}.{}",
        c.last_message_at.and_utc().timestamp_micros(),
        c.id
    )
}

fn parse_cursor(text: &str) -> Option<(NaiveDateTime, i64)> {
    let (micros, id) = text.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    Some((at, id.parse().ok()?))
}

fn list_url(status: &str, assigned: &str, q: &str, after: &str) -> String {
    let mut url = form_urlencoded::Serializer::for_suffix(String::from("/?"), 2);
    url.append_pair("status", status);
    for (key, value) in [("assigned", assigned), ("q", q), ("after", after)] {
        if !value.is_empty() {
            url.append_pair(key, value);
        }
    }
    url.finish()
}

/// One message, as shown.
struct MessageShown {
    id: i64,
    direction: String,
    from: String,
    forwarded_by: Option<String>,
    date: String,
    subject: String,
    text: String,
    has_html: bool,
    attachments: Vec<teaminbox_store::views::AttachmentInfo>,
    decisions: Vec<String>,
    delivery: Option<String>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    user_email: String,
    csrf: String,
    id: i64,
    subject: String,
    contact: String,
    channel: String,
    status: String,
    assignee: String,
    assigned_to_me: bool,
    messages: Vec<MessageShown>,
}

async fn conversation(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    let (detail, with_html) = blocking(&state, move |store| {
        Ok((
            store.views().conversation(id)?,
            store.views().messages_with_html(id)?,
        ))
    })
    .await?;
    let user = &signed_in.session.user;
    let assignee = detail.assignee.as_ref().map(|a| a.email.clone());
    page(&ConversationPage {
        user_email: user.email.clone(),
        csrf: signed_in.session.csrf_token.clone(),
        id,
        subject: detail.subject,
        contact: person(&detail.contact.address, detail.contact.name.as_deref()),
        channel: detail.channel_name,
        status: detail.status,
        assigned_to_me: assignee.as_deref() == Some(user.email.as_str()),
        assignee: assignee.unwrap_or_else(|| "unassigned".into()),
        messages: detail
            .messages
            .into_iter()
            .map(|m| message_shown(m, &with_html))
            .collect(),
    })
}

fn message_shown(m: MessageView, with_html: &[i64]) -> MessageShown {
    MessageShown {
        id: m.id,
        has_html: with_html.contains(&m.id),
        from: person(&m.from, m.from_name.as_deref()),
        forwarded_by: m.forwarded_by,
        date: shown_time(m.sent_at.unwrap_or(m.created_at)),
        subject: m.subject,
        text: m.text,
        attachments: m.attachments,
        decisions: m.decisions,
        delivery: m.delivery.map(|d| match d.last_error {
            Some(error) => format!("{} ({error})", d.state),
            None => d.state,
        }),
        direction: m.direction,
    }
}

/// A message's HTML, sanitized, for the sandboxed frame of its
/// conversation's page: its own policy, framed only by our pages.
async fn message_html(
    State(state): State<AppState>,
    _signed_in: SignedIn,
    Path(id): Path<i64>,
) -> PageResult {
    let html = blocking(&state, move |store| store.views().message_html(id))
        .await?
        .ok_or_else(|| PageError::NotFound(format!("message {id} has no HTML body")))?;
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>{}</body></html>",
        sanitize(&html)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, BODY_POLICY),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        body,
    )
        .into_response())
}

async fn close(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<CsrfForm>,
) -> PageResult {
    act(state, signed_in, id, form, |store, id, _| {
        store.settings().close_conversation(id).map(drop)
    })
    .await
}

async fn reopen(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<CsrfForm>,
) -> PageResult {
    act(state, signed_in, id, form, |store, id, _| {
        store.settings().reopen_conversation(id).map(drop)
    })
    .await
}

async fn assign_to_me(
    state: State<AppState>,
    signed_in: SignedIn,
    id: Path<i64>,
    form: Form<CsrfForm>,
) -> PageResult {
    act(state, signed_in, id, form, |store, id, email| {
        store.settings().assign_conversation(id, email).map(drop)
    })
    .await
}

/// An action on a conversation: CSRF checked, done, back to the
/// conversation.
async fn act(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
    action: impl FnOnce(&teaminbox_store::Store, i64, &str) -> Result<(), StoreError> + Send + 'static,
) -> PageResult {
    signed_in.check_csrf(&form.csrf)?;
    let email = signed_in.session.user.email;
    blocking(&state, move |store| action(store, id, &email)).await?;
    Ok(Redirect::to(&format!("/conversations/{id}")).into_response())
}
