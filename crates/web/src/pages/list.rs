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
    /// A channel's id; empty for every channel.
    #[serde(default)]
    channel: String,
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
    /// Every channel: (id, name and address, selected).
    channels: Vec<(i64, String, bool)>,
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
    let channel = match query.channel.as_str() {
        "" => None,
        id => Some(
            id.parse::<i64>()
                .map_err(|_| PageError::NotFound(format!("no channel {id}")))?,
        ),
    };
    let filter = ConversationQuery {
        channel,
        status,
        assignee_email: (query.assigned == "me").then(|| user.email.clone()),
        unassigned: query.assigned == "unassigned",
        limit: Some(PAGE_SIZE + 1),
        search: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        after: parse_cursor(&query.after),
    };
    let user_id = user.id;
    let (mut found, counts, channels) = blocking(&state, move |store| {
        Ok((
            store.views().conversations(&filter)?,
            store.views().conversation_counts(user_id, channel)?,
            store.settings().channels()?,
        ))
    })
    .await?;
    let at = ListUrl {
        status: status.map_or("all", |s| s.as_str()),
        assigned: &query.assigned,
        channel: &query.channel,
        q: &query.q,
        after: "",
    };
    let next_url = (found.len() as i64 > PAGE_SIZE).then(|| {
        found.truncate(PAGE_SIZE as usize);
        let last = cursor(found.last().expect("a full page"));
        ListUrl { after: &last, ..at }.url()
    });
    let filter_link = |label, status, assigned, count| FilterLink {
        label,
        url: ListUrl {
            status,
            assigned,
            q: "",
            ..at
        }
        .url(),
        count,
        current: status == at.status && assigned == at.assigned,
    };
    let all = CappedCount {
        count: counts.open.count + counts.closed.count + counts.spam.count,
        more: counts.open.more || counts.closed.more || counts.spam.more,
    };
    let filters = vec![
        filter_link("Open", "open", "", counts.open),
        filter_link("Mine", "open", "me", counts.mine),
        filter_link("Unassigned", "open", "unassigned", counts.unassigned),
        filter_link("Closed", "closed", "", counts.closed),
        filter_link("Spam", "spam", "", counts.spam),
        filter_link("All", "all", "", all),
    ];
    page(&ListPage {
        nav: signed_in.nav(),
        filters,
        channels: channels
            .into_iter()
            .map(|c| {
                let label = format!("{} ({})", c.name, c.forwarding_address);
                (c.id, label, Some(c.id) == channel)
            })
            .collect(),
        status: at.status.to_owned(),
        assigned: query.assigned.clone(),
        q: query.q.clone(),
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

/// Where the list is: its filter, channel, search and page.
#[derive(Clone, Copy)]
struct ListUrl<'a> {
    status: &'a str,
    assigned: &'a str,
    channel: &'a str,
    q: &'a str,
    after: &'a str,
}

impl ListUrl<'_> {
    fn url(&self) -> String {
        let mut url = form_urlencoded::Serializer::for_suffix(String::from("/?"), 2);
        url.append_pair("status", self.status);
        let optional = [
            ("assigned", self.assigned),
            ("channel", self.channel),
            ("q", self.q),
            ("after", self.after),
        ];
        for (key, value) in optional {
            if !value.is_empty() {
                url.append_pair(key, value);
            }
        }
        url.finish()
    }
}
