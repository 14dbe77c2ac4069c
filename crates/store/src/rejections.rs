//! The explainable rejection log: the milter records every message it
//! refused for a security reason, with the reason in words; the admin reads
//! it (`teaminbox-admin rejection list`).

use super::{model::SmtpSession, schema::rejections, Store, StoreResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// One refusal, as the milter hands it over.
#[derive(Clone, Debug)]
pub struct NewRejection<'a> {
    pub session: SmtpSession,
    /// The address of the From header, when the message got that far.
    pub header_from: Option<&'a str>,
    pub recipients: &'a [String],
    /// The SMTP reply code, e.g. `550`.
    pub smtp_code: &'a str,
    /// The enhanced status code, e.g. `5.7.1`.
    pub enhanced_code: &'a str,
    /// Why, in words an admin can act on.
    pub reason: &'a str,
}

/// A logged refusal, for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub id: i64,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub rejected_at: NaiveDateTime,
    pub queue_id: Option<String>,
    pub client_address: Option<String>,
    pub client_name: String,
    pub helo: String,
    pub mail_from: String,
    pub header_from: Option<String>,
    pub recipients: Vec<String>,
    pub smtp_code: String,
    pub enhanced_code: String,
    pub reason: String,
}

/// A row as stored: the recipients are a JSON array in a text column.
#[derive(Queryable, Selectable)]
#[diesel(table_name = rejections)]
struct Row {
    id: i64,
    rejected_at: NaiveDateTime,
    queue_id: Option<String>,
    client_address: Option<String>,
    client_name: String,
    helo: String,
    mail_from: String,
    header_from: Option<String>,
    recipients: String,
    smtp_code: String,
    enhanced_code: String,
    reason: String,
}

impl From<Row> for Rejection {
    fn from(row: Row) -> Self {
        // Only `record` writes the column, always as a JSON array; should a
        // row written by hand hold something else, it is shown as it is.
        let recipients = serde_json::from_str(&row.recipients).unwrap_or_else(|_| {
            if row.recipients.is_empty() {
                Vec::new()
            } else {
                vec![row.recipients.clone()]
            }
        });
        Self {
            id: row.id,
            rejected_at: row.rejected_at,
            queue_id: row.queue_id,
            client_address: row.client_address,
            client_name: row.client_name,
            helo: row.helo,
            mail_from: row.mail_from,
            header_from: row.header_from,
            recipients,
            smtp_code: row.smtp_code,
            enhanced_code: row.enhanced_code,
            reason: row.reason,
        }
    }
}

pub struct Rejections<'s> {
    pub(super) store: &'s Store,
}

impl Rejections<'_> {
    /// Logs one refusal, stamped with the current time, and returns its id.
    pub fn record(&self, rejection: &NewRejection<'_>) -> StoreResult<i64> {
        self.store.write(|conn| insert(conn, rejection))
    }

    /// Logs refusals together in one transaction whose commit does not wait
    /// for the disk: the log is a record, not mail, so a crash may lose the
    /// last fraction of a second of it (see `filter::refusal_log`).
    pub fn record_batch(&self, batch: &[NewRejection<'_>]) -> StoreResult<()> {
        self.store.write_relaxed(|conn| {
            for rejection in batch {
                insert(conn, rejection)?;
            }
            Ok(())
        })
    }

    /// Logged refusals, newest first: those at or after `since` (UTC) if
    /// given, at most `limit` of them.
    pub fn list(&self, since: Option<NaiveDateTime>, limit: i64) -> StoreResult<Vec<Rejection>> {
        self.store.read(|conn| {
            let mut query = rejections::table
                .select(Row::as_select())
                .order((rejections::rejected_at.desc(), rejections::id.desc()))
                .limit(limit)
                .into_boxed();
            if let Some(since) = since {
                query = query.filter(rejections::rejected_at.ge(since));
            }
            let rows = query.load::<Row>(conn)?;
            Ok(rows.into_iter().map(Rejection::from).collect())
        })
    }
}

/// Inserts one refusal, stamped with the current time; returns its id.
fn insert(conn: &mut super::DbConnection, rejection: &NewRejection<'_>) -> StoreResult<i64> {
    // Serializing a slice of strings cannot fail.
    let recipients =
        serde_json::to_string(rejection.recipients).expect("a list of strings is JSON");
    Ok(diesel::insert_into(rejections::table)
        .values((
            rejections::rejected_at.eq(crate::now()),
            rejections::queue_id.eq(&rejection.session.queue_id),
            rejections::client_address.eq(&rejection.session.client_address),
            rejections::client_name.eq(&rejection.session.client_name),
            rejections::helo.eq(&rejection.session.helo),
            rejections::mail_from.eq(&rejection.session.mail_from),
            rejections::header_from.eq(rejection.header_from),
            rejections::recipients.eq(&recipients),
            rejections::smtp_code.eq(rejection.smtp_code),
            rejections::enhanced_code.eq(rejection.enhanced_code),
            rejections::reason.eq(rejection.reason),
        ))
        .returning(rejections::id)
        .get_result::<i64>(conn)?)
}
