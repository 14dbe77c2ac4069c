//! Helpers for rows that several owners read and write: a row that does
//! not read as it must, JSON columns, a user by email, upserts per backend,
//! unique violations.

use crate::{schema::users, DbConnection, StoreError, StoreResult};
use diesel::prelude::*;
use serde_json::{Map, Value};

/// A stored row that does not read as it must, reported rather than
/// guessed.
pub(crate) fn bad_row(table: &str, id: i64, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Query(diesel::result::Error::DeserializationError(
        format!("{table} row {id}: {problem}").into(),
    ))
}

/// A column that holds a JSON object.
pub(crate) fn json_object(table: &str, id: i64, text: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(text)
        .map_err(|e| bad_row(table, id, format!("not a JSON object ({e}): {text}")))
}

/// The id of the user with `email` (lower case), or [`StoreError::NotFound`].
pub(crate) fn user_id(conn: &mut DbConnection, email: &str) -> StoreResult<i64> {
    users::table
        .filter(users::email.eq(email))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no user {email}")))
}

/// Runs `$body` with `$c` bound to the backend's own connection, for SQL
/// that `MultiConnection` cannot express: upserts (`ON CONFLICT`). A macro
/// because each backend needs the query typed for it.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConnection::Postgres($c) => $body,
            $crate::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The message of a unique-constraint violation, if `e` is one.
pub(crate) fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
