//! teaminbox-store: the model and the store, shared by every stage.
//!
//! The only crate that knows the database schema. Beside the store it
//! holds what every stage reads the same way: the configuration
//! (`config`), the DNS resolver (`dns`), addresses (`address`), who a reply is from (`identity`),
//! HTML read as text (`html_text`), the domain's modes, kinds and
//! statuses with their names (`model`), and the plumbing of the queue workers
//! (`worker` runs one, `claims` keeps what a worker holds from outliving
//! it).
//!
//! One store module per owner, and each stage calls only its own:
//! `inbound` for the milter (the queue it writes), `inbox` for the
//! processor (contacts, conversations, tickets, assignments), `outbound`
//! for replies and their delivery, `settings` for the admin (channels,
//! lists, people, routing), `rejections` for the refusal log, `views` for
//! what the admin shows, `queue` for the processing queue's own states,
//! `retention` for purges. Both SQLite and PostgreSQL are served by the
//! same queries through diesel's `MultiConnection`.

pub mod accounts;
pub mod address;
pub mod claims;
mod clock;
pub mod config;
pub mod dns;
pub mod html_text;
pub mod identity;
pub mod worker;

mod claiming;
mod contacts;
mod group_commit;
pub mod inbound;
pub mod inbox;
pub mod input;
pub mod instructions;
pub mod model;
pub mod outbound;
pub mod queue;
pub mod rejections;
pub mod retention;
mod rows;
mod schema;
pub mod settings;
pub mod spam_lessons;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tickets;
pub mod views;

pub use clock::{now, serialize_optional_utc, serialize_utc};

use crate::config::{Config, DatabaseTarget};
use diesel::{
    connection::SimpleConnection, pg::PgConnection, r2d2::R2D2Connection, sqlite::SqliteConnection,
    Connection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Every SQLite connection's setting outside relaxed writes.
const SQLITE_SYNCHRONOUS_FULL: &str = "PRAGMA synchronous = FULL";

/// From this size on, a write's PostgreSQL connection is closed after it
/// (see [`Store::write_carrying`]).
const LARGE_TRANSFER: usize = 1024 * 1024;

const MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7357001)";
const MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7357001)";

/// A connection to either database; queries are written once for both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// What went wrong in the store, worded for the person who has to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("cannot bring the database schema up to date: {0}")]
    Migration(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Connection settings that matter to callers.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool of connections to the configured database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    target: DatabaseTarget,
    /// Taken around every SQLite write transaction of this process. SQLite
    /// admits one writer at a time; without this, writers that find the
    /// lock taken wait in SQLite's busy handler, which sleeps for growing
    /// intervals (1 ms up to 100 ms) instead of taking the lock the moment
    /// it is free, and that showed as stalls of the milter's commits under
    /// load. Other processes (the admin) still meet the busy handler.
    sqlite_writer: Arc<Mutex<()>>,
    /// The milter's messages, committed in groups.
    inbound_commits: Arc<group_commit::GroupCommit<inbound::NewInboundMessage>>,
}

/// How far a write transaction must get before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    /// On disk before the commit returns. The milter answers the MTA only
    /// after such a commit, so everything it writes is synced.
    Synced,
    /// Survives the process dying; only a power loss or an operating-system
    /// crash may roll back the last such commits, whole and in order (a
    /// later synced commit makes them durable too). For work that is simply
    /// done again when its commit is lost: the processor's, whose message
    /// then stays pending.
    Relaxed,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("target", &self.target)
            .finish()
    }
}

type Pooled = r2d2::PooledConnection<Manager>;

impl Store {
    /// Opens the configured database with the configured pool settings.
    pub fn from_config(config: &Config) -> Self {
        Self::open(
            &config.database_target(),
            &PoolOptions {
                max_size: config.database.pool_size,
                connect_timeout: Duration::from_secs(config.database.connect_timeout_secs),
            },
        )
    }

    /// Opens a pool. No connection is made yet; each caller connects on
    /// demand and gets `StoreError::Unavailable` while the database is down
    /// (the milter answers such mail with a temporary failure).
    pub fn open(target: &DatabaseTarget, options: &PoolOptions) -> Self {
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            // A broken connection shows itself on use; pinging on every
            // checkout would add a round trip to the milter's hot path.
            .test_on_check_out(false)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(Manager {
                target: target.clone(),
            });
        Self {
            pool,
            target: target.clone(),
            sqlite_writer: Arc::default(),
            inbound_commits: Arc::default(),
        }
    }

    pub fn from_url(url: &str) -> StoreResult<Self> {
        let target = url.parse().map_err(StoreError::Unavailable)?;
        Ok(Self::open(&target, &PoolOptions::default()))
    }

    /// Applies every migration not yet applied and returns their names.
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let mut conn = self.connection()?;
        let names = |applied: Vec<diesel::migration::MigrationVersion<'_>>| {
            applied.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let applied = match &mut conn.db {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(names),
            DbConnection::Postgres(c) => {
                // Several daemons and admins may start at once against one
                // shared database: one migrates, the others wait for it.
                c.batch_execute(MIGRATION_LOCK)?;
                let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(names);
                c.batch_execute(MIGRATION_UNLOCK)?;
                applied
            }
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    pub fn inbound(&self) -> inbound::Inbound<'_> {
        inbound::Inbound { store: self }
    }

    pub fn queue(&self) -> queue::Queue<'_> {
        queue::Queue { store: self }
    }

    pub fn outbound(&self) -> outbound::Outbound<'_> {
        outbound::Outbound { store: self }
    }

    pub fn inbox(&self) -> inbox::Inbox<'_> {
        inbox::Inbox { store: self }
    }

    pub fn settings(&self) -> settings::Settings<'_> {
        settings::Settings { store: self }
    }

    pub fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts { store: self }
    }

    pub fn views(&self) -> views::Views<'_> {
        views::Views { store: self }
    }

    pub fn retention(&self) -> retention::Retention<'_> {
        retention::Retention { store: self }
    }

    pub fn spam_lessons(&self) -> spam_lessons::SpamLessons<'_> {
        spam_lessons::SpamLessons { store: self }
    }

    pub fn rejections(&self) -> rejections::Rejections<'_> {
        rejections::Rejections { store: self }
    }

    fn connection(&self) -> StoreResult<Pooled> {
        self.pool.get().map_err(|e| {
            // r2d2 wraps the last connection error ("timed out waiting for
            // connection: database unavailable: ..."): keep the cause once.
            let text = e.to_string();
            let cause = text
                .rsplit_once("database unavailable: ")
                .map_or(text.as_str(), |(_, cause)| cause);
            StoreError::Unavailable(cause.to_owned())
        })
    }

    /// Runs `f` in one transaction that takes the write lock up front, so
    /// that concurrent writers on SQLite wait instead of failing half-way.
    /// Its commit is on disk before this returns.
    fn write<T>(&self, f: impl FnOnce(&mut DbConnection) -> StoreResult<T>) -> StoreResult<T> {
        self.write_with(Durability::Synced, f)
    }

    /// [`Store::write`] for work that is redone if its commit is lost (see
    /// [`Durability::Relaxed`]): no wait for the disk.
    fn write_relaxed<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.write_with(Durability::Relaxed, f)
    }

    fn write_with<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.write_on(&mut self.connection()?, durability, f)
    }

    /// [`Store::write`] of `bytes` of message data. A PostgreSQL connection
    /// that carried a large write is closed afterwards instead of going back
    /// to the pool: libpq grows its send buffer to the largest message it
    /// sent (to the next power of two) and never shrinks it, so every
    /// pooled connection would keep up to 32 MiB outside the milter's
    /// memory budget.
    fn write_carrying<T>(
        &self,
        bytes: usize,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut pooled = self.connection()?;
        let result = self.write_on(&mut pooled, Durability::Synced, f);
        if bytes > LARGE_TRANSFER && matches!(pooled.db, DbConnection::Postgres(_)) {
            pooled.broken = true;
        }
        result
    }

    /// How many copies of a message this process holds at most while the
    /// milter writes it: the milter's own, and SQLite's record of the row
    /// (it builds the whole row in memory), or diesel's bind buffer and
    /// libpq's send buffer on PostgreSQL. The milter's memory budget
    /// counts each.
    pub fn copies_while_writing(&self) -> u64 {
        match self.target {
            DatabaseTarget::Sqlite(_) => 2,
            DatabaseTarget::Postgres(_) => 3,
        }
    }

    fn write_on<T>(
        &self,
        pooled: &mut Pooled,
        durability: Durability,
        f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        // Should `f` panic, the pool sees this flag still set and closes the
        // connection (the database rolls back) instead of handing it out
        // again inside an open transaction.
        pooled.in_transaction = true;
        let result = if matches!(pooled.db, DbConnection::Sqlite(_)) {
            let _writer = self
                .sqlite_writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            sqlite_transaction(pooled, durability, f)
        } else {
            pooled.db.transaction(|conn| {
                // For this transaction only, and stated either way: a
                // server (or role, or database) whose default is `off`
                // must not make the milter answer 250 before its commit is
                // on disk.
                conn.batch_execute(match durability {
                    Durability::Synced => "SET LOCAL synchronous_commit = on",
                    Durability::Relaxed => "SET LOCAL synchronous_commit = off",
                })?;
                f(conn)
            })
        };
        pooled.in_transaction = false;
        result.inspect_err(|_| {
            pooled.check_health();
        })
    }

    /// Runs `f` outside a transaction. A read is safe to repeat, so one that
    /// failed on a connection the server had dropped (a database restart)
    /// is tried once more on a fresh connection.
    fn read<T>(&self, f: impl Fn(&mut DbConnection) -> StoreResult<T>) -> StoreResult<T> {
        let mut pooled = self.connection()?;
        match f(&mut pooled.db) {
            Err(StoreError::Query(_)) if pooled.check_health() => {
                drop(pooled);
                f(&mut self.connection()?.db)
            }
            result => result,
        }
    }
}

/// One SQLite write transaction. `synchronous` is a setting of the
/// connection, so a relaxed transaction lowers it and puts it back.
fn sqlite_transaction<T>(
    pooled: &mut PoolConnection,
    durability: Durability,
    f: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    let conn = &mut pooled.db;
    let relaxed = durability == Durability::Relaxed;
    if relaxed {
        conn.batch_execute("PRAGMA synchronous = NORMAL")?;
    }
    let result = conn
        .batch_execute("BEGIN IMMEDIATE")
        .map_err(Into::into)
        .and_then(|_| match f(conn) {
            Ok(value) => conn
                .batch_execute("COMMIT")
                .map(|_| value)
                .map_err(Into::into),
            Err(e) => {
                let _ = conn.batch_execute("ROLLBACK");
                Err(e)
            }
        });
    if relaxed && conn.batch_execute(SQLITE_SYNCHRONOUS_FULL).is_err() {
        // Never hand out a connection whose commits are not synced.
        pooled.broken = true;
    }
    result
}

/// A pooled connection, marked broken once it is known to be dead so that
/// the pool replaces it (diesel only notices broken transactions).
pub struct PoolConnection {
    db: DbConnection,
    broken: bool,
    /// Set while a write transaction runs on it.
    in_transaction: bool,
}

impl PoolConnection {
    /// After an error: finds out whether the connection itself is gone, and
    /// returns true if it is.
    fn check_health(&mut self) -> bool {
        if !self.broken && self.db.ping().is_err() {
            self.broken = true;
        }
        self.broken
    }
}

/// Opens connections for the pool, with the SQLite settings that make the
/// embedded database safe for a daemon and an admin tool at once.
#[derive(Debug)]
struct Manager {
    target: DatabaseTarget,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PoolConnection;
    type Error = StoreError;

    fn connect(&self) -> StoreResult<PoolConnection> {
        Ok(PoolConnection {
            db: self.open()?,
            broken: false,
            in_transaction: false,
        })
    }

    fn is_valid(&self, conn: &mut PoolConnection) -> StoreResult<()> {
        conn.db.ping().map_err(StoreError::Query)
    }

    fn has_broken(&self, conn: &mut PoolConnection) -> bool {
        conn.broken || conn.in_transaction || conn.db.is_broken()
    }
}

impl Manager {
    fn open(&self) -> StoreResult<DbConnection> {
        match &self.target {
            DatabaseTarget::Sqlite(path) => {
                let url = path.to_string_lossy();
                create_private(path).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create SQLite database {url}: {e}"))
                })?;
                let mut conn = SqliteConnection::establish(&url).map_err(|e| {
                    StoreError::Unavailable(format!("cannot open SQLite database {url}: {e}"))
                })?;
                // WAL lets readers run beside the writer; synchronous=FULL
                // makes a commit durable before the milter answers the MTA.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON;",
                )?;
                conn.batch_execute(SQLITE_SYNCHRONOUS_FULL)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseTarget::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                // libpq's messages span lines; ours are one line.
                .map_err(|e| StoreError::Unavailable(one_line(&e.to_string()))),
        }
    }
}

/// Creates the SQLite database file readable and writable by its owner
/// only (0600) if it does not exist yet: it holds every message and the
/// DKIM private keys. SQLite creates its `-wal` and `-shm` files with the
/// database file's permissions, so they are private too. Not 0640 for a
/// group: nothing but the daemon and `teaminbox-admin`, which runs as the
/// daemon's user, has any business reading it (Postfix only needs the
/// socket). An existing file keeps the permissions it has.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str() == ":memory:" || path.to_string_lossy().starts_with("file:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<StoreError> for LogPoolErrors {
    fn handle_error(&self, error: StoreError) {
        tracing::warn!("{error}");
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::both_databases;
    use diesel::{sql_types::Text, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }

    /// How commits of the pool's connection reach the disk.
    fn commit_setting(store: &Store) -> String {
        store.read(|conn| Ok(commit_setting_in(conn))).unwrap()
    }

    both_databases! {
        fn a_large_write_closes_its_postgres_connection(db: TestDatabase) {
            let store = Store::open(&db.url.parse().unwrap(), &PoolOptions::default());
            store.write_carrying(LARGE_TRANSFER, |_| Ok(())).unwrap();
            assert_eq!(store.pool.state().connections, 1, "a small write keeps it");
            store.write_carrying(LARGE_TRANSFER + 1, |_| Ok(())).unwrap();
            // libpq's buffers would stay as large as the message; SQLite's
            // page cache is bounded.
            let kept = u32::from(db.url.starts_with("sqlite"));
            assert_eq!(store.pool.state().connections, kept);
        }
    }

    both_databases! {
        fn relaxed_writes_leave_the_connection_synced(db: TestDatabase) {
            // One connection, so every call below gets the same one.
            let options = PoolOptions { max_size: 1, ..PoolOptions::default() };
            let store = Store::open(&db.url.parse().unwrap(), &options);
            store.migrate().unwrap();
            // On PostgreSQL, whatever the server's default is (the test
            // cluster's is off); on SQLite, FULL.
            let synced = commit_setting(&store);
            let (full, relaxed) = if db.url.starts_with("sqlite") {
                (Some("2"), "1")
            } else {
                (None, "off")
            };
            if let Some(full) = full {
                assert_eq!(synced, full, "FULL outside relaxed writes");
            }

            let inside = store.write_relaxed(|conn| Ok(commit_setting_in(conn))).unwrap();
            assert_eq!(inside, relaxed, "a relaxed write does not wait for the disk");
            assert_eq!(commit_setting(&store), synced);

            let failed: StoreResult<()> =
                store.write_relaxed(|_| Err(StoreError::Conflict("on purpose".into())));
            assert!(failed.is_err());
            assert_eq!(commit_setting(&store), synced, "restored after a rollback too");
        }
    }

    both_databases! {
        fn the_milters_commits_are_synced_whatever_the_servers_default(db: TestDatabase) {
            let store = Store::open(&db.url.parse().unwrap(), &PoolOptions::default());
            store.migrate().unwrap();
            let synced = if db.url.starts_with("sqlite") { "2" } else { "on" };
            if !db.url.starts_with("sqlite") {
                // The shared test cluster runs with synchronous_commit off,
                // so this test fails if the transaction does not say `on`.
                assert_eq!(commit_setting(&store), "off", "the test cluster's default");
            }
            let inside = store.write(|conn| Ok(commit_setting_in(conn))).unwrap();
            assert_eq!(inside, synced, "Store::write");
            // The milter's own path: a message is committed through the
            // group commit, alone or with others.
            let commits = group_commit::GroupCommit::<()>::default();
            let seen = std::sync::Mutex::new(Vec::new());
            let submit = |store: &Store| {
                commits.submit(
                    store,
                    (),
                    |conn, _| {
                        seen.lock().unwrap().push(commit_setting_in(conn));
                        Ok(1)
                    },
                    |_| 0,
                )
            };
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| submit(&store).unwrap());
                }
            });
            let seen = seen.into_inner().unwrap();
            assert_eq!(seen, vec![synced.to_owned(); 4], "group commit");
        }
    }

    both_databases! {
        fn a_write_that_panics_leaves_no_transaction_behind(db: TestDatabase) {
            // One connection, so the next write would get the same one.
            let options = PoolOptions { max_size: 1, ..PoolOptions::default() };
            let store = Store::open(&db.url.parse().unwrap(), &options);
            store.migrate().unwrap();
            let store_in_thread = store.clone();
            let panicked = std::thread::spawn(move || {
                store_in_thread.write(|conn| -> StoreResult<()> {
                    conn.batch_execute("CREATE TABLE half_done (x INTEGER)")?;
                    panic!("on purpose");
                })
            })
            .join();
            assert!(panicked.is_err());
            let next = store.write(|conn| Ok(conn.batch_execute("CREATE TABLE whole (x INTEGER)")?));
            assert!(next.is_ok(), "{next:?}");
            let leftover = store.read(|conn| {
                Ok(conn.batch_execute("SELECT x FROM half_done").is_ok())
            });
            assert!(!leftover.unwrap(), "the panicked write was rolled back");
        }
    }

    /// SQLite answers a number (2 = FULL, 1 = NORMAL), PostgreSQL a word.
    fn commit_setting_in(conn: &mut DbConnection) -> String {
        let sql = match conn {
            DbConnection::Sqlite(_) => {
                "SELECT CAST(synchronous AS TEXT) AS value FROM pragma_synchronous"
            }
            DbConnection::Postgres(_) => "SELECT current_setting('synchronous_commit') AS value",
        };
        diesel::sql_query(sql)
            .get_result::<Setting>(conn)
            .unwrap()
            .value
    }
}
