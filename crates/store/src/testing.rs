//! Throwaway databases for tests: every store test runs on SQLite and on
//! PostgreSQL. `tests/run` starts a PostgreSQL cluster and exports
//! `TEAMINBOX_TEST_POSTGRES_URL`; without it, PostgreSQL tests fail loudly
//! rather than being skipped.
//!
//! Here rather than in `teaminbox-testkit` because the store's own unit
//! tests use it; the test kit re-exports it for everyone else.

use crate::address::ForwardingAddress;
use crate::{
    inbound::{HostedRecipient, NewInboundMessage, Owner},
    model::SmtpSession,
    settings::NewChannel,
    DbConnection, Store,
};
use diesel::{connection::SimpleConnection, pg::PgConnection, Connection, RunQueryDsl};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const POSTGRES_URL_ENV: &str = "TEAMINBOX_TEST_POSTGRES_URL";

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Not ours to remove.
    Nothing,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("teaminbox.db").display());
        Self {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub fn postgres() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin_url = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_ENV} is not set: run the tests with tests/run, which starts PostgreSQL")
        });
        let name = format!(
            "teaminbox_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let mut conn = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("URL with a database name");
        Self {
            url: format!("{base}/{name}"),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// A database that exists already and is left as it is afterwards (one
    /// on a PostgreSQL cluster the test made itself).
    pub fn existing(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            cleanup: Cleanup::Nothing,
        }
    }

    pub fn by_kind(kind: &str) -> Self {
        match kind {
            "sqlite" => Self::sqlite(),
            "postgres" => Self::postgres(),
            _ => panic!("unknown database kind {kind}"),
        }
    }

    /// Runs raw SQL on this database, behind the store's back (to break
    /// things on purpose).
    pub fn execute(&self, sql: &str) {
        diesel::sql_query(sql)
            .execute(&mut self.connect())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Rows of a query whose columns are all named and cast to text, as
    /// `SELECT CAST(status AS TEXT) AS a, subject AS b, NULL AS c FROM ...`
    /// (always the three columns `a`, `b`, `c`; pad with NULL): for tests
    /// that check what is in the database, behind the store's back.
    pub fn rows(&self, sql: &str) -> Vec<(Option<String>, Option<String>, Option<String>)> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            a: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            b: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            c: Option<String>,
        }
        let rows: Vec<Row> = match self.connect() {
            DbConnection::Sqlite(mut c) => diesel::sql_query(sql).load(&mut c),
            DbConnection::Postgres(mut c) => diesel::sql_query(sql).load(&mut c),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().map(|r| (r.a, r.b, r.c)).collect()
    }

    /// Takes the write lock on the inbound queue from outside the store, as
    /// another process would, and keeps it until the guard is dropped.
    pub fn hold_write_lock(&self) -> HeldWriteLock {
        let mut conn = self.connect();
        let sql = match conn {
            DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
            DbConnection::Postgres(_) => "BEGIN; LOCK TABLE inbound_messages IN EXCLUSIVE MODE",
        };
        conn.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        HeldWriteLock(conn)
    }

    fn connect(&self) -> DbConnection {
        match self.url.strip_prefix("sqlite://") {
            Some(path) => DbConnection::Sqlite(
                diesel::sqlite::SqliteConnection::establish(path).expect("open SQLite"),
            ),
            None => DbConnection::Postgres(PgConnection::establish(&self.url).expect("connect")),
        }
    }

    /// The database's name on the PostgreSQL server, if it is one.
    pub fn postgres_name(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Postgres { name, .. } => Some(name),
            Cleanup::Sqlite(_) | Cleanup::Nothing => None,
        }
    }

    /// A store on this database with the schema applied.
    pub fn store(&self) -> Store {
        let store = Store::from_url(&self.url).expect("valid URL");
        store.migrate().expect("migrate test database");
        store
    }
}

/// See [`TestDatabase::hold_write_lock`].
pub struct HeldWriteLock(DbConnection);

impl Drop for HeldWriteLock {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

/// A channel "Support" for `address`, of company Acme, and its id. A
/// second one gets a company made from its address, since a company's From
/// name belongs to one channel only.
pub fn channel(store: &Store, address: &str) -> i64 {
    let settings = store.settings();
    let address = ForwardingAddress::parse(address).expect("a valid forwarding address");
    let create = |company: &str| {
        settings.create_channel(&NewChannel {
            name: "Support",
            company,
            forwarding_address: &address,
        })
    };
    create("Acme")
        .or_else(|_| create(&format!("Acme ({address})")))
        .unwrap_or_else(|e| panic!("create a channel for {address}: {e}"))
        .id
}

/// A message from alice@example.org by mail.example.org (192.0.2.7) to
/// `address` of `channel_id`, received now, without verdicts, as the milter
/// would hand it over; change fields with `..inbound_message(...)`.
pub fn inbound_message(
    address: &str,
    channel_id: i64,
    raw: impl Into<Vec<u8>>,
) -> NewInboundMessage {
    NewInboundMessage {
        spam_check: None,
        session: SmtpSession {
            queue_id: None,
            client_address: Some("192.0.2.7".into()),
            client_name: "mail.example.org".into(),
            helo: "mail.example.org".into(),
            mail_from: "alice@example.org".into(),
        },
        received_at: crate::now(),
        recipients: vec![HostedRecipient {
            address: address.into(),
            owner: Owner::Channel(channel_id),
            detail: None,
        }],
        raw_message: raw.into(),
        verdicts: None,
    }
}

/// Runs SQL as the PostgreSQL superuser of the test cluster.
pub fn postgres_admin_execute(sql: &str) {
    let admin_url = std::env::var(POSTGRES_URL_ENV).expect("PostgreSQL test cluster");
    let mut conn = PgConnection::establish(&admin_url).expect("connect as admin");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// Defines a test once and runs it on both databases:
/// `both_databases!(fn name(db: TestDatabase) { ... })` makes the tests
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_databases {
    ($(#[$attr:meta])* fn $name:ident($db:ident : TestDatabase) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn run($db: $crate::testing::TestDatabase) $body
            #[test]
            fn sqlite() { run($crate::testing::TestDatabase::sqlite()) }
            #[test]
            fn postgres() { run($crate::testing::TestDatabase::postgres()) }
        }
    };
    ($(#[$attr:meta])* async fn $name:ident($db:ident : TestDatabase) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: $crate::testing::TestDatabase) $body
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() { run($crate::testing::TestDatabase::sqlite()).await }
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() { run($crate::testing::TestDatabase::postgres()).await }
        }
    };
}

/// A conversation of `channel_id` from a new contact `contact`, with one
/// received message (its text, and `html` as its HTML body) whose newest
/// activity is `at`; its id. Written directly, as the processor would
/// leave it, for tests of what the inbox shows.
pub fn conversation(
    store: &Store,
    channel_id: i64,
    contact: &str,
    subject: &str,
    html: Option<&str>,
    at: chrono::NaiveDateTime,
) -> i64 {
    use crate::schema::{contacts, conversations, messages};
    use diesel::ExpressionMethods;
    store
        .write(|conn| {
            let contact_id = diesel::insert_into(contacts::table)
                .values((contacts::address.eq(contact), contacts::created_at.eq(at)))
                .returning(contacts::id)
                .get_result::<i64>(conn)?;
            let id = diesel::insert_into(conversations::table)
                .values((
                    conversations::channel_id.eq(channel_id),
                    conversations::contact_id.eq(contact_id),
                    conversations::subject.eq(subject),
                    conversations::status.eq("open"),
                    conversations::kind.eq("normal"),
                    conversations::created_at.eq(at),
                    conversations::last_message_at.eq(at),
                ))
                .returning(conversations::id)
                .get_result::<i64>(conn)?;
            diesel::insert_into(messages::table)
                .values((
                    messages::conversation_id.eq(id),
                    messages::channel_id.eq(channel_id),
                    messages::direction.eq("in"),
                    messages::dedupe_key.eq(format!("test-{id}")),
                    messages::from_address.eq(contact),
                    messages::subject.eq(subject),
                    messages::text_body.eq(format!("Text of {subject}")),
                    messages::html_body.eq(html),
                    messages::automated.eq(false),
                    messages::decisions.eq("[\"Filed by a test.\"]"),
                    messages::created_at.eq(at),
                ))
                .execute(conn)?;
            Ok(id)
        })
        .unwrap_or_else(|e| panic!("add a test conversation: {e}"))
}
