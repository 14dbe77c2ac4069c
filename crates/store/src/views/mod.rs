//! The inbox as the admin shows it: conversations, their messages and the
//! decisions behind them, contacts and tickets. Read-only; every type
//! serializes to the stable, snake_case JSON that `--json` prints, with
//! times in UTC as RFC 3339 (`2026-11-27T10:02:11Z`).
//!
//! The admin's writes to the inbox (assign, close, reopen) are in
//! [`settings`](super::settings), with the other things an admin changes.

use super::{
    rows::user_id,
    schema::{
        attachments, channels, contacts, conversations, messages, outbound_messages, tickets, users,
    },
    DbConnection, Store, StoreError, StoreResult,
};
use crate::model::ConversationStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

mod contact;
mod detail;
mod list;
mod ticket;

pub use contact::*;
pub use detail::*;
pub use list::*;
pub use ticket::*;

pub struct Views<'s> {
    pub(super) store: &'s Store,
}

/// Which conversations [`Views::conversations`] lists. The default lists
/// them all.
#[derive(Clone, Debug, Default)]
pub struct ConversationQuery {
    pub channel: Option<i64>,
    pub status: Option<ConversationStatus>,
    /// Only those assigned to this user (lower-case email).
    pub assignee_email: Option<String>,
    /// Only those assigned to nobody.
    pub unassigned: bool,
    /// At most this many, newest first; `None` for all.
    pub limit: Option<i64>,
    /// Only those whose contact's address or name, or subject, contains
    /// this text (any case).
    pub search: Option<String>,
    /// Only those listed after this one (its `last_message_at` and id): the
    /// next page, found by key rather than by offset.
    pub after: Option<(NaiveDateTime, i64)>,
}

/// How many conversations each of the web inbox's filters holds, each
/// counted up to [`COUNT_CAP`].
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ConversationCounts {
    pub open: CappedCount,
    pub closed: CappedCount,
    pub spam: CappedCount,
    /// Open and assigned to the user asking.
    pub mine: CappedCount,
    /// Open and assigned to nobody.
    pub unassigned: CappedCount,
}

/// Where the filters' counts stop. An exact count reads every matching
/// index entry, and with a million conversations (most of them closed)
/// that alone takes longer than a page may (BENCHMARKS.md, section 6);
/// up to the cap it is a short index range.
pub const COUNT_CAP: i64 = 1000;

/// A count that stops at [`COUNT_CAP`]: shown as `1000+` beyond it.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CappedCount {
    /// Exact up to the cap; the cap when there are more.
    pub count: i64,
    /// Whether there are more than `count`.
    pub more: bool,
}

impl CappedCount {
    /// The count of `found` things, at most `cap + 1` of them looked at.
    fn of(found: usize, cap: i64) -> Self {
        let found = found as i64;
        Self {
            count: found.min(cap),
            more: found > cap,
        }
    }
}

impl std::fmt::Display for CappedCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.count, if self.more { "+" } else { "" })
    }
}

impl Views<'_> {
    /// Conversations, newest message first (then highest id). A channel or
    /// assignee that does not exist is [`StoreError::NotFound`], so that a
    /// typo is not mistaken for an empty inbox.
    pub fn conversations(
        &self,
        filter: &ConversationQuery,
    ) -> StoreResult<Vec<ConversationSummary>> {
        self.store.read(|conn| load_summaries(conn, filter, None))
    }

    /// The counts behind the web inbox's filters, for the user `user_id`.
    pub fn conversation_counts(
        &self,
        user_id: i64,
        channel: Option<i64>,
    ) -> StoreResult<ConversationCounts> {
        self.store
            .read(|conn| conversation_counts(conn, user_id, channel, COUNT_CAP))
    }

    /// The messages of a conversation that have an HTML body.
    pub fn messages_with_html(&self, conversation_id: i64) -> StoreResult<Vec<i64>> {
        self.store.read(|conn| {
            Ok(messages::table
                .filter(messages::conversation_id.eq(conversation_id))
                .filter(messages::html_body.is_not_null())
                .select(messages::id)
                .load(conn)?)
        })
    }

    /// A message's HTML body as received (not sanitized), if it had one.
    pub fn message_html(&self, id: i64) -> StoreResult<Option<String>> {
        self.store.read(|conn| {
            messages::table
                .find(id)
                .select(messages::html_body)
                .first::<Option<String>>(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no message {id}")))
        })
    }

    /// The image a message's HTML shows as `cid:content_id`, if it has
    /// one of that Content-ID whose type is an image.
    pub fn inline_image(
        &self,
        message_id: i64,
        content_id: &str,
    ) -> StoreResult<Option<AttachmentFile>> {
        use super::schema::attachments;
        self.store.read(|conn| {
            Ok(attachments::table
                .filter(attachments::message_id.eq(message_id))
                .filter(attachments::content_id.eq(content_id))
                .filter(attachments::content_type.like("image/%"))
                .select((
                    attachments::filename,
                    attachments::content_type,
                    attachments::content,
                ))
                .first::<AttachmentFile>(conn)
                .optional()?)
        })
    }

    /// An attachment with its content, as received.
    pub fn attachment(&self, id: i64) -> StoreResult<AttachmentFile> {
        use super::schema::attachments;
        self.store.read(|conn| {
            attachments::table
                .find(id)
                .select((
                    attachments::filename,
                    attachments::content_type,
                    attachments::content,
                ))
                .first::<AttachmentFile>(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no attachment {id}")))
        })
    }

    pub fn conversation(&self, id: i64) -> StoreResult<ConversationDetail> {
        self.store.read(|conn| find_conversation(conn, id))
    }

    /// Every contact, in the order first seen.
    pub fn contacts(&self) -> StoreResult<Vec<Contact>> {
        self.store.read(|conn| load_contacts(conn, None))
    }

    pub fn contact(&self, key: &ContactKey) -> StoreResult<Contact> {
        self.store.read(|conn| find_contact(conn, key))
    }

    /// Every ticket, newest first.
    pub fn tickets(&self) -> StoreResult<Vec<Ticket>> {
        self.store.read(|conn| load_tickets(conn, None))
    }

    pub fn ticket(&self, id: i64) -> StoreResult<Ticket> {
        self.store.read(|conn| find_ticket(conn, id))
    }
}

#[cfg(test)]
mod web_list_tests {
    use super::*;
    use crate::both_databases;
    use crate::testing::{channel, conversation};
    use chrono::Duration;

    both_databases! {
        fn conversations_are_searched_paged_by_key_and_counted(db: TestDatabase) {
            let store = db.store();
            let support = channel(&store, "support@inbox.example.com");
            let start = crate::now() - Duration::hours(1);
            let ids: Vec<i64> = (0..5)
                .map(|n| {
                    conversation(
                        &store,
                        support,
                        &format!("customer{n}@example.org"),
                        &format!("Question {n}"),
                        None,
                        // Two share a time: the id breaks the tie.
                        start + Duration::minutes(n.min(3)),
                    )
                })
                .collect();
            let listed = |filter: &ConversationQuery| -> Vec<i64> {
                store.views().conversations(filter).unwrap().iter().map(|c| c.id).collect()
            };
            let first = ConversationQuery { limit: Some(2), ..Default::default() };
            assert_eq!(listed(&first), [ids[4], ids[3]]);
            let page = store.views().conversations(&first).unwrap();
            let last = page.last().unwrap();
            let next = ConversationQuery {
                after: Some((last.last_message_at, last.id)),
                ..first.clone()
            };
            assert_eq!(listed(&next), [ids[2], ids[1]]);

            let search = |text: &str| {
                listed(&ConversationQuery { search: Some(text.into()), ..Default::default() })
            };
            assert_eq!(search("CUSTOMER2@"), [ids[2]]);
            assert_eq!(search("question 1"), [ids[1]]);
            assert_eq!(search("%"), Vec::<i64>::new());
            assert_eq!(search("_uestion 1"), Vec::<i64>::new());

            let alice = store
                .settings()
                .add_user(&crate::settings::NewUser {
                    email: "alice@example.com",
                    first_name: "Alice",
                    last_name: "Smith",
                    username: "alice",
                })
                .unwrap();
            store.settings().assign_conversation(ids[0], "alice@example.com").unwrap();
            store.settings().close_conversation(ids[1]).unwrap();
            let exactly = |count| CappedCount { count, more: false };
            assert_eq!(
                store.views().conversation_counts(alice.id, None).unwrap(),
                ConversationCounts {
                    open: exactly(4),
                    closed: exactly(1),
                    spam: exactly(0),
                    mine: exactly(1),
                    unassigned: exactly(3),
                }
            );
            // Beyond the cap: the cap and "more", shown as such.
            let capped = store
                .read(|conn| conversation_counts(conn, alice.id, None, 3))
                .unwrap();
            assert_eq!(capped.open, CappedCount { count: 3, more: true });
            assert_eq!(capped.unassigned, exactly(3));
            assert_eq!((capped.open.to_string(), capped.unassigned.to_string()), ("3+".into(), "3".into()));
            assert_eq!(store.views().message_html(1).unwrap(), None);
            assert_eq!(store.views().messages_with_html(ids[0]).unwrap(), Vec::<i64>::new());
            assert!(matches!(store.views().message_html(99), Err(StoreError::NotFound(_))));
        }
    }
}
