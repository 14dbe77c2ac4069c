//! The conversation list: filters with their counts, search, keyset
//! pages.

use super::{page, person, shown_time, PageError, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;
use teaminbox_store::model::ConversationStatus;
use teaminbox_store::views::{CappedCount, ConversationQuery, ConversationSummary};

/// Conversations on one page of the list.
const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
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
    nav: Nav,
    filters: Vec<FilterLink>,
    status: String,
    assigned: String,
    q: String,
    rows: Vec<Row>,
    next_url: Option<String>,
}

pub(super) async fn list(
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
        nav: signed_in.nav(),
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
