//! What the web's handler tests share: a migrated store with two users,
//! the real router on it, and requests through tower's `oneshot`.

#![allow(dead_code)] // each test file uses its own part

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use teaminbox_store::config::{Config, WebConfig};
use teaminbox_store::settings::NewUser;
use teaminbox_store::testing::{channel, conversation};
use teaminbox_store::Store;
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    /// The session token the reply's cookie sets.
    pub fn session_token(&self) -> String {
        let cookie = self.headers[header::SET_COOKIE].to_str().unwrap();
        let value = cookie.split(';').next().unwrap();
        value.strip_prefix("teaminbox_session=").unwrap().to_owned()
    }
}

pub struct Inbox {
    pub store: Store,
    pub router: Router,
}

impl Inbox {
    /// A migrated database with alice and bob (both with [`PASSWORD`]),
    /// the web inbox on it.
    pub fn new(db: &teaminbox_store::testing::TestDatabase, config: &WebConfig) -> Self {
        let store = db.store();
        store.migrate().unwrap();
        for (email, username) in [("alice@example.com", "alice"), ("bob@example.com", "bob")] {
            store
                .settings()
                .add_user(&NewUser {
                    email,
                    first_name: "Test",
                    last_name: "User",
                    username,
                })
                .unwrap();
            store.accounts().set_password(email, PASSWORD).unwrap();
        }
        let router = teaminbox_web::router(store.clone(), &inbox_config(config, None));
        Self { store, router }
    }

    /// The same inbox, its DNS lookups sent to `nameserver` (sessions stay).
    pub fn with_nameserver(&self, nameserver: String) -> Self {
        let config = inbox_config(&WebConfig::default(), Some(nameserver));
        Self {
            store: self.store.clone(),
            router: teaminbox_web::router(self.store.clone(), &config),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(header::COOKIE, format!("teaminbox_session={token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, form: &str) -> Reply {
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(token) = token {
            request = request.header(header::COOKIE, format!("teaminbox_session={token}"));
        }
        self.send(request.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .append_pair("password", password)
            .finish();
        self.post("/sign-in", None, &form).await
    }

    /// Signs in and returns the session's token and CSRF token.
    pub async fn signed_in(&self, email: &str) -> (String, String) {
        let reply = self.sign_in(email, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let token = reply.session_token();
        let csrf = self
            .store
            .accounts()
            .session(&token)
            .unwrap()
            .unwrap()
            .csrf_token;
        (token, csrf)
    }

    pub fn status_of(&self, id: i64) -> String {
        self.store.views().conversation(id).unwrap().status
    }
}

fn inbox_config(web: &WebConfig, nameserver: Option<String>) -> Config {
    let mut config = Config {
        web: web.clone(),
        ..Config::default()
    };
    config.outbound.default_from_domain = "inbox.example.com".into();
    config.milter.hosted_domains = vec!["inbox.example.com".into()];
    config.dns.nameservers.extend(nameserver);
    config
}

pub fn one_conversation(store: &Store, html: Option<&str>) -> i64 {
    let support = channel(store, "support@inbox.example.com");
    conversation(
        store,
        support,
        "customer@example.org",
        "Printer on fire",
        html,
        chrono::Utc::now().naive_utc(),
    )
}

pub fn assert_secure_headers(reply: &Reply) {
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe-"), "{policy}");
    // The one script is our own file: nothing inline.
    for script in reply.body.split("<script").skip(1) {
        assert!(
            script.starts_with(" src=\"/app.js\" defer></script>"),
            "{script}"
        );
    }
    assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

impl Reply {
    /// The body with askama's and HTML's character references undone, to
    /// compare with text as the browser shows it.
    pub fn text(&self) -> String {
        [
            ("&#34;", "\""),
            ("&quot;", "\""),
            ("&#39;", "'"),
            ("&#60;", "<"),
            ("&lt;", "<"),
            ("&#62;", ">"),
            ("&gt;", ">"),
            ("&#38;", "&"),
            ("&amp;", "&"),
        ]
        .iter()
        .fold(self.body.clone(), |text, (from, to)| text.replace(from, to))
    }

    /// The value of the hidden field `name` of the page's reply form.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body));
        let rest = &self.body[start + marker.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// A form body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        form.append_pair(key, value);
    }
    form.finish()
}
