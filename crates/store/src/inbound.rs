//! The milter's part of the store: looking up recipients and writing
//! accepted messages into the `inbound_messages` queue.

use super::{
    schema::{channels, hosted_local_parts, inbound_messages, inbound_recipients, messages},
    DbConnection, Store, StoreResult,
};
use crate::model::SmtpSession;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// Whose a hosted address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The forwarding address of a channel.
    Channel(i64),
    /// The reply address (USERNAME@ a hosted domain) of a user who has
    /// replied: the processor chooses the channel.
    User(i64),
}

/// How a hosted address routes, as the milter needs to know it at RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub owner: Owner,
    /// False for a disabled channel.
    pub enabled: bool,
    /// The subaddress detail (`billing` of `support+billing@`), when the
    /// address matched only without it.
    pub detail: Option<String>,
}

/// A hosted recipient of an accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedRecipient {
    /// The address in canonical (lower-case) form, detail included.
    pub address: String,
    pub owner: Owner,
    pub detail: Option<String>,
}

/// Everything the milter hands over for one accepted message.
#[derive(Debug)]
pub struct NewInboundMessage {
    pub session: SmtpSession,
    pub received_at: NaiveDateTime,
    pub recipients: Vec<HostedRecipient>,
    pub raw_message: Vec<u8>,
    /// The SMTP-time checks' results; `None` when they did not run.
    pub verdicts: Option<Verdicts>,
    /// rspamd's verdict; `None` when it was not asked (or could not be,
    /// with `on_error = "accept"`).
    pub spam_check: Option<SpamCheck>,
}

/// rspamd's verdict on an accepted message, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SpamCheck {
    /// rspamd's action: "no action", "add header", "rewrite subject".
    pub action: String,
    pub score: f64,
    /// The action keeps it out of the open conversations.
    pub files_as_spam: bool,
}

/// The SMTP-time authentication results, one word each ("pass", "fail",
/// "none", ...), as the processor and the admin read them.
#[derive(Clone, Debug, Default)]
pub struct Verdicts {
    pub spf: String,
    pub dkim: String,
    pub arc: String,
    pub dmarc: String,
    /// DMARC failed with policy quarantine.
    pub spam: bool,
    pub header_from: Option<String>,
    /// The ARC chain validated and its newest seal is a trusted sealer's.
    pub arc_trusted: bool,
}

/// A queued message as stored, for the processor and for display.
#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = inbound_messages)]
pub struct InboundMessage {
    pub id: i64,
    pub queue_id: Option<String>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub received_at: NaiveDateTime,
    pub client_address: Option<String>,
    pub client_name: String,
    pub helo: String,
    pub mail_from: String,
    pub message_size: i64,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub arc: Option<String>,
    pub dmarc: Option<String>,
    pub spam: bool,
    pub header_from: Option<String>,
    /// rspamd's action and score; `null` when it was not asked.
    pub spam_action: Option<String>,
    pub spam_score: Option<f64>,
}

/// Queue length by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub pending: i64,
    pub processing: i64,
    pub done: i64,
    pub failed: i64,
}

pub struct Inbound<'s> {
    pub(super) store: &'s Store,
}

impl Inbound<'_> {
    /// Whose a hosted address (already in canonical form) is: a channel's
    /// forwarding address, else the reply address of a user who has
    /// replied; else the same without a subaddress detail, split at the
    /// first of the `delimiters` (Postfix's `recipient_delimiter`).
    pub fn route(&self, address: &str, delimiters: &str) -> StoreResult<Option<Route>> {
        self.store.read(|conn| {
            if let Some((owner, enabled)) = owner_of(conn, address)? {
                return Ok(Some(Route {
                    owner,
                    enabled,
                    detail: None,
                }));
            }
            let Some((local, domain)) = address.rsplit_once('@') else {
                return Ok(None);
            };
            let Some((base, detail)) = local.split_once(|c| delimiters.contains(c)) else {
                return Ok(None);
            };
            let route = owner_of(conn, &format!("{base}@{domain}"))?;
            Ok(route.map(|(owner, enabled)| Route {
                owner,
                enabled,
                detail: Some(detail.to_owned()).filter(|d| !d.is_empty()),
            }))
        })
    }

    /// Stores one message and its hosted recipients and returns its id.
    /// When this returns `Ok`, the message is committed: in one
    /// transaction with the messages other sessions handed over meanwhile
    /// (see [`super::group_commit`]), in a savepoint of its own.
    pub fn enqueue(&self, message: NewInboundMessage) -> StoreResult<i64> {
        self.store
            .inbound_commits
            .submit(self.store, message, insert_message, |m| m.raw_message.len())
    }

    /// Stored messages, newest first.
    pub fn list(&self, limit: i64) -> StoreResult<Vec<InboundMessage>> {
        self.store.read(|conn| {
            Ok(inbound_messages::table
                .select(InboundMessage::as_select())
                .order(inbound_messages::id.desc())
                .limit(limit)
                .load(conn)?)
        })
    }

    /// The raw message as received, with the headers the MTA passed.
    pub fn raw_message(&self, id: i64) -> StoreResult<Option<Vec<u8>>> {
        self.store.read(|conn| {
            Ok(inbound_messages::table
                .find(id)
                .select(inbound_messages::raw_message)
                .first(conn)
                .optional()?)
        })
    }

    /// The hosted recipients of a stored message, in canonical form.
    pub fn recipients(&self, id: i64) -> StoreResult<Vec<HostedRecipient>> {
        self.store.read(|conn| load_recipients(conn, id))
    }

    pub fn counts(&self) -> StoreResult<QueueCounts> {
        self.store.read(|conn| {
            let rows = inbound_messages::table
                .group_by(inbound_messages::state)
                .select((inbound_messages::state, diesel::dsl::count_star()))
                .load::<(String, i64)>(conn)?;
            let mut counts = QueueCounts::default();
            for (state, n) in rows {
                match state.as_str() {
                    "pending" => counts.pending = n,
                    "processing" => counts.processing = n,
                    "done" => counts.done = n,
                    _ => counts.failed += n,
                }
            }
            Ok(counts)
        })
    }

    /// Every allow and deny list entry, for
    /// [`FilterSet`](teaminbox_filter::lists::FilterSet) (through its cache,
    /// not once per message).
    pub fn filters(&self) -> StoreResult<Vec<super::settings::ListEntry>> {
        self.store.read(|conn| {
            use super::{
                schema::filters,
                settings::{ListEntry, ListEntryRow, LIST_ENTRY_COLUMNS},
            };
            filters::table
                .select(LIST_ENTRY_COLUMNS)
                .order(filters::id)
                .load::<ListEntryRow>(conn)?
                .into_iter()
                .map(ListEntry::from_row)
                .collect()
        })
    }
}

fn insert_message(conn: &mut DbConnection, message: &NewInboundMessage) -> StoreResult<i64> {
    let verdicts = message.verdicts.as_ref();
    let id = diesel::insert_into(inbound_messages::table)
        .values((
            inbound_messages::queue_id.eq(&message.session.queue_id),
            inbound_messages::received_at.eq(message.received_at),
            inbound_messages::client_address.eq(&message.session.client_address),
            inbound_messages::client_name.eq(&message.session.client_name),
            inbound_messages::helo.eq(&message.session.helo),
            inbound_messages::mail_from.eq(&message.session.mail_from),
            inbound_messages::message_size.eq(message.raw_message.len() as i64),
            inbound_messages::raw_message.eq(&message.raw_message),
            inbound_messages::spf.eq(verdicts.map(|v| &v.spf)),
            inbound_messages::dkim.eq(verdicts.map(|v| &v.dkim)),
            inbound_messages::arc.eq(verdicts.map(|v| &v.arc)),
            inbound_messages::dmarc.eq(verdicts.map(|v| &v.dmarc)),
            inbound_messages::spam.eq(verdicts.is_some_and(|v| v.spam)
                || message.spam_check.as_ref().is_some_and(|s| s.files_as_spam)),
            inbound_messages::spam_action.eq(message.spam_check.as_ref().map(|s| &s.action)),
            inbound_messages::spam_score.eq(message.spam_check.as_ref().map(|s| s.score)),
            inbound_messages::header_from.eq(verdicts.and_then(|v| v.header_from.as_ref())),
            inbound_messages::arc_trusted.eq(verdicts.is_some_and(|v| v.arc_trusted)),
        ))
        .returning(inbound_messages::id)
        .get_result::<i64>(conn)?;
    // One statement per recipient: diesel's multi-backend connection has no
    // batch insert for SQLite, and there are rarely more than one.
    for r in &message.recipients {
        diesel::insert_into(inbound_recipients::table)
            .values((
                inbound_recipients::inbound_message_id.eq(id),
                inbound_recipients::address.eq(&r.address),
                inbound_recipients::channel_id.eq(r.owner.channel()),
                inbound_recipients::user_id.eq(r.owner.user()),
                inbound_recipients::detail.eq(&r.detail),
            ))
            .execute(conn)?;
    }
    Ok(id)
}

impl Owner {
    fn channel(self) -> Option<i64> {
        match self {
            Self::Channel(id) => Some(id),
            Self::User(_) => None,
        }
    }

    fn user(self) -> Option<i64> {
        match self {
            Self::User(id) => Some(id),
            Self::Channel(_) => None,
        }
    }
}

/// The channel with this forwarding address, else the user with this reply
/// address (any hosted domain: the caller checked the domain) who has
/// replied at least once; a user who never replied has no live address.
/// With whether mail to it is taken (a channel may be disabled).
fn owner_of(conn: &mut DbConnection, address: &str) -> StoreResult<Option<(Owner, bool)>> {
    let channel = channels::table
        .filter(channels::forwarding_address.eq(address))
        .select((channels::id, channels::enabled))
        .first::<(i64, bool)>(conn)
        .optional()?;
    if let Some((id, enabled)) = channel {
        return Ok(Some((Owner::Channel(id), enabled)));
    }
    let Some((local, _)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    let user = hosted_local_parts::table
        .filter(hosted_local_parts::local_part.eq(local))
        .select(hosted_local_parts::user_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten();
    let Some(user) = user else {
        return Ok(None);
    };
    let replied = messages::table
        .filter(messages::user_id.eq(user))
        .filter(messages::direction.eq("out"))
        .select(messages::id)
        .first::<i64>(conn)
        .optional()?;
    Ok(replied.map(|_| (Owner::User(user), true)))
}

/// The hosted recipients of a stored message, by address.
pub(super) fn load_recipients(
    conn: &mut DbConnection,
    id: i64,
) -> StoreResult<Vec<HostedRecipient>> {
    let rows = inbound_recipients::table
        .filter(inbound_recipients::inbound_message_id.eq(id))
        .select((
            inbound_recipients::address,
            inbound_recipients::channel_id,
            inbound_recipients::user_id,
            inbound_recipients::detail,
        ))
        .order(inbound_recipients::address)
        .load::<(String, Option<i64>, Option<i64>, Option<String>)>(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(address, channel, user, detail)| {
            let owner = match (channel, user) {
                (Some(id), _) => Owner::Channel(id),
                (None, Some(id)) => Owner::User(id),
                (None, None) => return None,
            };
            Some(HostedRecipient {
                address,
                owner,
                detail,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use super::*;
    use crate::both_databases;
    use diesel::{pg::PgConnection, sqlite::SqliteConnection, Connection};
    use diesel_migrations::MigrationHarness;

    /// Takes the schema back to before reply addresses (`up: false`; later
    /// migrations go too) or forward again.
    fn migrate(url: &str, up: bool) {
        fn step<C: MigrationHarness<B>, B: diesel::backend::Backend>(
            c: &mut C,
            migrations: impl Fn() -> diesel_migrations::EmbeddedMigrations,
            up: bool,
        ) {
            if up {
                c.run_pending_migrations(migrations()).unwrap();
            } else {
                while c.revert_last_migration(migrations()).unwrap().to_string() != "20261130000001"
                {
                }
            }
        }
        match url.strip_prefix("sqlite://") {
            Some(path) => step(
                &mut SqliteConnection::establish(path).unwrap(),
                || SQLITE_MIGRATIONS,
                up,
            ),
            None => step(
                &mut PgConnection::establish(url).unwrap(),
                || POSTGRES_MIGRATIONS,
                up,
            ),
        }
    }

    both_databases! {
        fn an_inbox_from_before_keeps_its_addresses_and_replies(db: TestDatabase) {
            let store = db.store();
            store.migrate().unwrap();
            migrate(&db.url, false);
            for sql in [
                "INSERT INTO channels (id, name, company, forwarding_address, created_at) \
                 VALUES (1, 'Support', 'Acme', 'support@inbox.example.com', CURRENT_TIMESTAMP)",
                "INSERT INTO users (id, email, first_name, last_name, username, created_at) VALUES \
                 (1, 'jane@acme.example', 'Jane', 'Doe', 'Jane', CURRENT_TIMESTAMP), \
                 (2, 'jane@other.example', 'Jane', 'Other', 'jane', CURRENT_TIMESTAMP), \
                 (3, 'sup@acme.example', 'S', 'Up', 'support', CURRENT_TIMESTAMP), \
                 (4, 'bob@acme.example', 'Bob', 'Smith', 'Bob Smith', CURRENT_TIMESTAMP)",
                "INSERT INTO contacts (id, address, created_at) VALUES (1, 'carol@example.org', CURRENT_TIMESTAMP)",
                "INSERT INTO conversations (id, channel_id, contact_id, subject, status, created_at, last_message_at) \
                 VALUES (1, 1, 1, 'Help', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                "INSERT INTO messages (id, conversation_id, channel_id, direction, dedupe_key, from_address, \
                 subject, text_body, decisions, created_at) VALUES \
                 (1, 1, 1, 'in', 'k1', 'carol@example.org', 'Help', '', '[]', CURRENT_TIMESTAMP), \
                 (2, 1, 1, 'out', 'k2', 'jane@inbox.example.com', 'Re: Help', '', \
                  '[\"Reply by jane@acme.example queued for delivery as outbound message 1.\"]', CURRENT_TIMESTAMP)",
                "INSERT INTO inbound_messages (id, received_at, client_name, helo, mail_from, message_size, raw_message) \
                 VALUES (1, CURRENT_TIMESTAMP, 'c', 'h', 'carol@example.org', 0, ''::bytea)",
                "INSERT INTO inbound_recipients (inbound_message_id, address, channel_id) \
                 VALUES (1, 'support@inbox.example.com', 1)",
            ] {
                let sql = if db.url.starts_with("sqlite") { sql.replace("''::bytea", "x''") } else { sql.to_owned() };
                db.execute(&sql);
            }
            if !db.url.starts_with("sqlite") {
                db.execute("SELECT setval('messages_id_seq', 2)");
            }
            migrate(&db.url, true);
            // Channels keep their local parts; of two users named jane the
            // first has the address; a username that is no plain local part
            // gets none here.
            assert_eq!(
                db.rows("SELECT local_part AS a, CAST(user_id AS TEXT) AS b, CAST(NULL AS TEXT) AS c \
                         FROM hosted_local_parts ORDER BY local_part"),
                [(Some("jane".into()), Some("1".into()), None), (Some("support".into()), None, None)]
            );
            assert_eq!(
                db.rows("SELECT CAST(id AS TEXT) AS a, CAST(user_id AS TEXT) AS b, CAST(NULL AS TEXT) AS c \
                         FROM messages ORDER BY id"),
                [(Some("1".into()), None, None), (Some("2".into()), Some("1".into()), None)]
            );
            // Jane has replied: her address is live.
            let route = store.inbound().route("jane@inbox.example.com", "+").unwrap();
            assert_eq!(route.map(|r| r.owner), Some(Owner::User(1)));
            let recipients = store.inbound().recipients(1).unwrap();
            assert_eq!(recipients[0].owner, Owner::Channel(1));
            // A user whose username was no plain local part gets their
            // address with their next reply.
            assert_eq!(store.inbound().route("bob-smith@inbox.example.com", "+").unwrap(), None);
            store.outbound().enqueue_reply(&crate::outbound::NewReply {
                conversation_id: 1,
                channel_id: 1,
                from_name: "Bob Smith at Acme",
                from_address: "bob-smith@inbox.example.com",
                to_address: "carol@example.org",
                subject: "Re: Help",
                text: "",
                html: None,
                message_id: "b1@inbox.example.com",
                raw_message: b"",
                user_email: "bob@acme.example",
                user_id: 4,
            }).unwrap();
            let route = store.inbound().route("bob-smith@inbox.example.com", "+").unwrap();
            assert_eq!(route.map(|r| r.owner), Some(Owner::User(4)));
            // And back down, and up again.
            migrate(&db.url, false);
            migrate(&db.url, true);
        }
    }
}
