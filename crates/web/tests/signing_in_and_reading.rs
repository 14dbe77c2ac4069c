//! The web inbox's handlers through the real router (tower's `oneshot`),
//! on SQLite and PostgreSQL: signing in and out, access control, CSRF, the
//! list and the conversation, and hostile HTML made inert.

mod common;

use axum::http::{header, StatusCode};
use common::{assert_secure_headers, one_conversation, Inbox, PASSWORD};
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::testing::{channel, conversation};

both_databases! {
    async fn signed_out_requests_go_to_sign_in(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let pages = ["/", &format!("/conversations/{id}"), "/messages/1/html", "/messages/1/inline/a%40b",
                     "/attachments/1", "/account/password", "/admin/users"];
        for path in pages {
            let reply = inbox.get(path, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(reply.location(), "/sign-in");
            assert_secure_headers(&reply);
            let forged = inbox.get(path, Some(&"ab".repeat(32))).await;
            assert_eq!(forged.location(), "/sign-in", "{path}");
        }
        for action in ["close", "reply", "assign", "spam", "ticket"] {
            let reply = inbox.post(&format!("/conversations/{id}/{action}"), None, "csrf=x&body=hi").await;
            assert_eq!(reply.location(), "/sign-in", "{action}");
        }
        assert_eq!(inbox.status_of(id), "open");
        assert_eq!(inbox.store.views().conversation(id).unwrap().messages.len(), 1);
        let page = inbox.get("/sign-in", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<form method=\"post\" action=\"/sign-in\""));
        assert_secure_headers(&page);
    }
}

both_databases! {
    async fn a_wrong_password_is_refused_and_failures_are_limited(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let reply = inbox.sign_in("alice@example.com", "wrong password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.body.contains("Wrong email or password."));
        assert!(!reply.headers.contains_key(header::SET_COOKIE));
        let reply = inbox.sign_in("nobody@example.com", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

        let reply = inbox.sign_in("Alice@Example.com", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), "/");
        let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.contains("; HttpOnly"), "{cookie}");
        assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "{cookie}");
        let list = inbox.get("/", Some(&reply.session_token())).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("alice@example.com"));

        // Four more failures make five: then even the right password waits.
        for _ in 0..4 {
            inbox.sign_in("alice@example.com", "guess").await;
        }
        let reply = inbox.sign_in("alice@example.com", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(!reply.headers.contains_key(header::SET_COOKIE));
        assert_eq!(inbox.sign_in("bob@example.com", PASSWORD).await.status, StatusCode::SEE_OTHER);
    }
}

both_databases! {
    async fn the_cookie_is_secure_behind_https(db: TestDatabase) {
        let config = WebConfig {
            public_url: "https://inbox.example.com".into(),
            ..WebConfig::default()
        };
        let inbox = Inbox::new(&db, &config);
        let reply = inbox.sign_in("alice@example.com", PASSWORD).await;
        let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }
}

both_databases! {
    async fn a_post_without_the_sessions_csrf_token_is_refused(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = one_conversation(&inbox.store, None);
        let (alice, alice_csrf) = inbox.signed_in("alice@example.com").await;
        let (_bob, bob_csrf) = inbox.signed_in("bob@example.com").await;
        let close = format!("/conversations/{id}/close");
        for form in [String::new(), "csrf=".into(), format!("csrf={bob_csrf}")] {
            let reply = inbox.post(&close, Some(&alice), &form).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
            assert_eq!(inbox.status_of(id), "open");
        }
        let reply = inbox.post("/sign-out", Some(&alice), "").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);

        let reply = inbox.post(&close, Some(&alice), &format!("csrf={alice_csrf}")).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), format!("/conversations/{id}"));
        assert_eq!(inbox.status_of(id), "closed");
        let reply = inbox
            .post(&format!("/conversations/{id}/reopen"), Some(&alice), &format!("csrf={alice_csrf}"))
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(inbox.status_of(id), "open");
        inbox
            .post(&format!("/conversations/{id}/assign"), Some(&alice), &format!("csrf={alice_csrf}&assignee=alice%40example.com"))
            .await;
        let detail = inbox.store.views().conversation(id).unwrap();
        assert_eq!(detail.assignee.unwrap().email, "alice@example.com");
    }
}

both_databases! {
    async fn a_session_is_not_accepted_after_sign_out(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (laptop, laptop_csrf) = inbox.signed_in("alice@example.com").await;
        let (phone, _) = inbox.signed_in("alice@example.com").await;
        let (bob, bob_csrf) = inbox.signed_in("bob@example.com").await;

        let reply = inbox.post("/sign-out", Some(&laptop), &format!("csrf={laptop_csrf}")).await;
        assert_eq!(reply.location(), "/sign-in");
        let cleared = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cleared.starts_with("teaminbox_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(inbox.get("/", Some(&laptop)).await.location(), "/sign-in");
        assert_eq!(inbox.get("/", Some(&phone)).await.status, StatusCode::OK);

        // Bob signs out everywhere: his token no longer works, for anyone.
        let reply = inbox
            .post("/sign-out-everywhere", Some(&bob), &format!("csrf={bob_csrf}"))
            .await;
        assert_eq!(reply.location(), "/sign-in");
        assert_eq!(inbox.get("/", Some(&bob)).await.location(), "/sign-in");
        let reply = inbox.post("/conversations/1/close", Some(&bob), &format!("csrf={bob_csrf}")).await;
        assert_eq!(reply.location(), "/sign-in");
        assert_eq!(inbox.get("/", Some(&phone)).await.status, StatusCode::OK);
    }
}

both_databases! {
    async fn a_sign_in_link_signs_in_once(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let token = inbox.store.accounts().create_sign_in_link("alice@example.com").unwrap();
        let path = format!("/sign-in/{token}");
        // Opening the link (a mail scanner might) does not use it.
        let page = inbox.get(&path, None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<form method=\"post\">"));
        let reply = inbox.post(&path, None, "").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), "/account/password");
        let session = inbox.store.accounts().session(&reply.session_token()).unwrap().unwrap();
        assert_eq!(session.user.email, "alice@example.com");
        let again = inbox.post(&path, None, "").await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert!(!again.headers.contains_key(header::SET_COOKIE));
    }
}

both_databases! {
    async fn the_list_filters_searches_and_pages(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let support = channel(&inbox.store, "support@inbox.example.com");
        let start = chrono::Utc::now().naive_utc() - chrono::Duration::hours(2);
        let ids: Vec<i64> = (0..55)
            .map(|n| {
                conversation(
                    &inbox.store,
                    support,
                    &format!("customer{n}@example.org"),
                    &format!("Question number {n}"),
                    None,
                    start + chrono::Duration::seconds(n),
                )
            })
            .collect();
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        inbox
            .post(&format!("/conversations/{}/assign", ids[3]), Some(&alice), &format!("csrf={csrf}&assignee=alice%40example.com"))
            .await;
        let list = inbox.get("/", Some(&alice)).await;
        assert_eq!(list.status, StatusCode::OK);
        assert_secure_headers(&list);
        assert!(list.body.contains("Open <span class=\"count\">55</span>"), "{}", list.body);
        assert!(list.body.contains("Mine <span class=\"count\">1</span>"));
        assert!(list.body.contains("Unassigned <span class=\"count\">54</span>"));
        // Newest first, 50 a page, then a link to the older ones.
        let first = list.body.find("Question number 54").unwrap();
        assert!(first < list.body.find("Question number 53").unwrap());
        assert!(!list.body.contains("Question number 4<"));
        let next = list.body.split("href=\"").find(|s| s.starts_with("/?status=open&#38;after=")).unwrap();
        let next = next.split('"').next().unwrap().replace("&#38;", "&");
        let older = inbox.get(&next, Some(&alice)).await;
        assert!(older.body.contains("Question number 4<"), "{}", older.body);
        assert!(!older.body.contains("Question number 5<"));

        let mine = inbox.get("/?status=open&assigned=me", Some(&alice)).await;
        assert!(mine.body.contains("Question number 3<"));
        assert!(!mine.body.contains("Question number 4<"));
        let found = inbox.get("/?status=all&q=CUSTOMER17%40", Some(&alice)).await;
        assert!(found.body.contains("Question number 17<"));
        assert!(!found.body.contains("Question number 18<"));
        let bad = inbox.get("/?status=pending", Some(&alice)).await;
        assert_eq!(bad.status, StatusCode::NOT_FOUND);

        // Another channel: its own list and counts; the links keep it.
        let sales = channel(&inbox.store, "sales@inbox.example.com");
        conversation(&inbox.store, sales, "dave@example.org", "Quote please", None, start);
        let everything = inbox.get("/?status=all", Some(&alice)).await;
        assert!(everything.body.contains("All <span class=\"count\">56</span>"), "{}", everything.body);
        let only = inbox.get(&format!("/?status=open&channel={sales}"), Some(&alice)).await;
        assert!(only.body.contains("Quote please<"), "{}", only.body);
        assert!(!only.body.contains("Question number"));
        assert!(only.body.contains("Open <span class=\"count\">1</span>"), "{}", only.body);
        assert!(only.body.contains(&format!("<option value=\"{sales}\" selected>")), "{}", only.body);
        assert!(only.body.contains(&format!("href=\"/?status=closed&#38;channel={sales}\"")), "{}", only.body);
        assert_eq!(inbox.get("/?channel=99", Some(&alice)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(inbox.get("/?channel=x", Some(&alice)).await.status, StatusCode::NOT_FOUND);
    }
}

both_databases! {
    async fn hostile_html_comes_out_inert(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let hostile = "<p>Hello <b>agent</b></p>\
            <script>alert('x')</script>\
            <img src=\"x\" onerror=\"alert('img')\">\
            <a href=\"javascript:alert('link')\">click</a>\
            <img src=\"https://tracker.example/pixel.gif\" width=\"1\">\
            <form action=\"https://evil.example/steal\"><input name=\"password\"></form>\
            <div onmouseover=\"alert('div')\" style=\"background:url(https://tracker.example/bg)\">x</div>\
            <iframe src=\"https://evil.example/\"></iframe>";
        let id = one_conversation(&inbox.store, Some(hostile));
        let (alice, _) = inbox.signed_in("alice@example.com").await;

        let page = inbox.get(&format!("/conversations/{id}"), Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Printer on fire"));
        assert!(page.body.contains("<details class=\"decisions\"><summary>Why is this here?</summary>"));
        assert!(page.body.contains("Filed by a test."));
        let frame = page.body.split("<iframe").nth(1).unwrap().split('>').next().unwrap();
        assert!(frame.starts_with(" sandbox name=\"message-1\" src=\"/messages/1/html\""), "{frame}");
        assert!(!page.body.contains("allow-scripts"));
        assert!(!page.body.contains("tracker.example"));

        let body = inbox.get("/messages/1/html", Some(&alice)).await;
        assert_eq!(body.status, StatusCode::OK);
        assert_eq!(
            body.headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'"
        );
        assert_eq!(body.headers[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(body.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(body.body.contains("<p>Hello <b>agent</b></p>"), "{}", body.body);
        for inert in ["<script", "alert(", "onerror", "onmouseover", "javascript:", "tracker.example",
                      "evil.example", "<form", "<input", "<iframe", "src="] {
            assert!(!body.body.contains(inert), "{inert} in {}", body.body);
        }
        assert_eq!(inbox.get("/messages/99/html", Some(&alice)).await.status, StatusCode::NOT_FOUND);
    }
}

both_databases! {
    async fn a_user_sets_their_own_password(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let (elsewhere, _) = inbox.signed_in("alice@example.com").await;
        let page = inbox.get("/account/password", Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("action=\"/account/password\""));
        let set = |password: &str, again: &str| {
            let body = common::form(&[("csrf", &csrf), ("password", password), ("again", again)]);
            let (inbox, alice) = (&inbox, &alice);
            async move { inbox.post("/account/password", Some(alice), &body).await }
        };

        let differ = set("a long new password", "a long new passw0rd").await;
        assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(differ.body.contains("The two passwords differ."), "{}", differ.body);
        let short = set("short", "short").await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(short.body.contains("The password must be at least 10 characters."), "{}", short.body);
        assert_eq!(inbox.sign_in("alice@example.com", PASSWORD).await.status, StatusCode::SEE_OTHER);

        let done = set("a long new password", "a long new password").await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert_eq!(done.location(), "/");
        let fresh = done.session_token();
        assert_eq!(inbox.get("/", Some(&fresh)).await.status, StatusCode::OK);
        for ended in [&alice, &elsewhere] {
            assert_eq!(inbox.get("/", Some(ended)).await.status, StatusCode::SEE_OTHER);
        }
        assert_eq!(inbox.sign_in("alice@example.com", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(inbox.sign_in("alice@example.com", "a long new password").await.status, StatusCode::SEE_OTHER);
    }
}

both_databases! {
    async fn a_post_from_another_site_is_refused(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let form = common::form(&[("email", "alice@example.com"), ("password", PASSWORD)]);
        let from = |origin: &'static str| {
            let request = axum::http::Request::post("/sign-in")
                .header(header::HOST, "inbox.example.com")
                .header(header::ORIGIN, origin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(form.clone()))
                .unwrap();
            let inbox = &inbox;
            async move { inbox.send(request).await }
        };
        let forged = from("https://evil.example").await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(!forged.headers.contains_key(header::SET_COOKIE));
        assert_eq!(from("null").await.status, StatusCode::FORBIDDEN);
        assert_eq!(from("https://inbox.example.com").await.status, StatusCode::SEE_OTHER);
    }
}
