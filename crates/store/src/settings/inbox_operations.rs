//! The admin's operations on the inbox: contact owners, assign, close and reopen conversations.

use super::Settings;
use crate::model::ConversationStatus;
use crate::rows::user_id;
use crate::{
    schema::{contacts, conversations, tickets},
    views::{self, Contact, ConversationSummary},
    DbConnection, StoreError, StoreResult,
};
use diesel::prelude::*;

impl Settings<'_> {
    /// Makes a user (by email) the owner of a contact (by address, lower
    /// case). A contact not seen yet is created, so that an owner can be
    /// set before the contact's first message.
    pub fn set_contact_owner(&self, contact: &str, owner: &str) -> StoreResult<Contact> {
        self.store.write(|conn| {
            let owner_id = user_id(conn, owner)?;
            let (found, _) =
                crate::contacts::find_or_create_contact(conn, contact, None, crate::now())?;
            let id = found.id;
            diesel::update(contacts::table.find(id))
                .set(contacts::owner_user_id.eq(owner_id))
                .execute(conn)?;
            views::find_contact(conn, &views::ContactKey::Id(id))
        })
    }
}

/// The admin's operations on conversations. Each is one transaction and
/// returns the conversation as it is afterwards.
impl Settings<'_> {
    /// Assigns a conversation to a user (by email), whatever its status and
    /// the user's availability; its ticket, if any, gets the same owner.
    /// Round-robin state is not touched: a manual assignment does not take
    /// the user's turn.
    pub fn assign_conversation(&self, id: i64, email: &str) -> StoreResult<ConversationSummary> {
        self.set_assignee(id, Some(email))
    }

    /// Leaves a conversation (and its ticket) to nobody.
    pub fn unassign_conversation(&self, id: i64) -> StoreResult<ConversationSummary> {
        self.set_assignee(id, None)
    }

    fn set_assignee(&self, id: i64, email: Option<&str>) -> StoreResult<ConversationSummary> {
        self.store.write(|conn| {
            conversation_exists(conn, id)?;
            let user = email.map(|email| user_id(conn, email)).transpose()?;
            diesel::update(conversations::table.find(id))
                .set(conversations::assignee_user_id.eq(user))
                .execute(conn)?;
            diesel::update(tickets::table.filter(tickets::conversation_id.eq(id)))
                .set(tickets::owner_user_id.eq(user))
                .execute(conn)?;
            views::find_summary(conn, id)
        })
    }

    /// Closes a conversation (open or spam). Returns it and whether its
    /// status changed: closing a closed one is harmless.
    pub fn close_conversation(&self, id: i64) -> StoreResult<(ConversationSummary, bool)> {
        self.set_conversation_status(id, ConversationStatus::Closed)
    }

    /// Opens a closed (or spam) conversation again. Returns it and whether
    /// its status changed: reopening an open one is harmless.
    pub fn reopen_conversation(&self, id: i64) -> StoreResult<(ConversationSummary, bool)> {
        self.set_conversation_status(id, ConversationStatus::Open)
    }

    fn set_conversation_status(
        &self,
        id: i64,
        status: ConversationStatus,
    ) -> StoreResult<(ConversationSummary, bool)> {
        self.store.write(|conn| {
            let before = set_status(conn, id, status)?;
            Ok((views::find_summary(conn, id)?, before != status.as_str()))
        })
    }
}

/// Sets conversation `id`'s status (writing only if it changes) and
/// returns the status it had, or [`StoreError::NotFound`].
pub(crate) fn set_status(
    conn: &mut DbConnection,
    id: i64,
    status: ConversationStatus,
) -> StoreResult<String> {
    let before = conversation_exists(conn, id)?;
    if before != status.as_str() {
        diesel::update(conversations::table.find(id))
            .set(conversations::status.eq(status.as_str()))
            .execute(conn)?;
    }
    Ok(before)
}

/// The status of conversation `id`, or [`StoreError::NotFound`].
fn conversation_exists(conn: &mut DbConnection, id: i64) -> StoreResult<String> {
    conversations::table
        .find(id)
        .select(conversations::status)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no conversation {id}")))
}
