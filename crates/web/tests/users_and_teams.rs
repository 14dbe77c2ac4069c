//! Users and teams in the web, for admins, through the real router on
//! SQLite and PostgreSQL: add a user and get their sign-in link, roles,
//! availability, teams and members; refusals in the admin tool's words;
//! an agent gets 403.

mod common;

use axum::http::StatusCode;
use common::{form, Inbox};
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::model::UserRole;

fn refusal(reply: &common::Reply) -> String {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let text = reply.text();
    let marker = "<p class=\"error\" id=\"error\">";
    let start = text.find(marker).unwrap_or_else(|| panic!("{text}")) + marker.len();
    text[start..start + text[start..].find("</p>").unwrap()].to_owned()
}

both_databases! {
    async fn an_admin_adds_users_and_teams(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        inbox.store.accounts().set_role("bob@example.com", UserRole::Admin).unwrap();
        let (bob, csrf) = inbox.signed_in("bob@example.com").await;

        // Added, with the first sign-in link shown once.
        let carol = [("csrf", csrf.as_str()), ("email", "Carol@Example.com"), ("first_name", "Carol"), ("last_name", "Jones"), ("username", "")];
        let added = inbox.post("/admin/users", Some(&bob), &form(&carol)).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        let user = inbox.store.settings().user("carol@example.com").unwrap();
        assert_eq!((user.username.as_str(), user.role.as_str(), user.available), ("carol", "agent", true));
        let link = added.text();
        let start = link.find("<code id=\"link\">http://127.0.0.1:8025/sign-in/").unwrap_or_else(|| panic!("{link}"));
        let path = &link[start + "<code id=\"link\">http://127.0.0.1:8025".len()..];
        let path = &path[..path.find('<').unwrap()];
        assert_eq!(inbox.get(path, None).await.status, StatusCode::OK, "the link opens its page");

        assert_eq!(refusal(&inbox.post("/admin/users", Some(&bob), &form(&carol)).await),
            inbox.store.settings().add_user(&teaminbox_store::settings::NewUser {
                email: "carol@example.com", first_name: "Carol", last_name: "Jones", username: "carol",
            }).unwrap_err().to_string().trim_start_matches("conflict: ").to_owned());
        let bad = [("csrf", csrf.as_str()), ("email", "nope"), ("first_name", "N"), ("last_name", "O")];
        assert_eq!(refusal(&inbox.post("/admin/users", Some(&bob), &form(&bad)).await),
            "Email: `nope` is not an email address: write it as LOCAL@DOMAIN, like alice@example.com");

        // Roles and availability, as `user role` and `user availability`.
        let set = |path: &'static str, value: &'static str| {
            let body = form(&[("csrf", csrf.as_str()), ("email", "carol@example.com"), ("value", value)]);
            let (inbox, bob) = (&inbox, bob.clone());
            async move { inbox.post(path, Some(&bob), &body).await }
        };
        assert_eq!(set("/admin/users/role", "admin").await.location(), "/admin/users");
        assert_eq!(inbox.store.settings().user("carol@example.com").unwrap().role, "admin");
        assert!(refusal(&set("/admin/users/role", "owner").await).contains("owner"));
        assert_eq!(set("/admin/users/availability", "away").await.location(), "/admin/users");
        assert!(!inbox.store.settings().user("carol@example.com").unwrap().available);
        let link = set("/admin/users/sign-in-link", "").await;
        assert!(link.body.contains("id=\"sign-in-link\">Sign-in link for carol@example.com"), "{}", link.body);

        // Teams, as `team add` and `team add-member`.
        let team = |path: &'static str, team: &'static str, email: &'static str| {
            let body = form(&[("csrf", csrf.as_str()), ("team", team), ("email", email)]);
            let (inbox, bob) = (&inbox, bob.clone());
            async move { inbox.post(path, Some(&bob), &body).await }
        };
        assert_eq!(team("/admin/teams", "Support", "").await.location(), "/admin/users");
        assert_eq!(team("/admin/teams/members", "Support", "carol@example.com").await.location(), "/admin/users");
        let teams = inbox.store.settings().teams().unwrap();
        assert_eq!((teams[0].name.as_str(), teams[0].members.clone()), ("Support", vec!["carol@example.com".to_owned()]));
        assert_eq!(refusal(&team("/admin/teams/members", "Nobody", "carol@example.com").await), "there is no team Nobody");
        assert_eq!(refusal(&team("/admin/teams", " ", "").await), "Team must not be empty");
        let page = inbox.get("/admin/users", Some(&bob)).await;
        assert!(page.body.contains("<li><strong>Support</strong>: carol@example.com</li>"), "{}", page.body);
    }
}

both_databases! {
    async fn an_agent_sets_their_own_availability_from_the_header(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let header = inbox.get("/", Some(&alice)).await;
        assert!(header.body.contains("<input type=\"hidden\" name=\"value\" value=\"away\"><button title=\"You get new conversations by round robin\">Available</button>"), "{}", header.body);
        let set = inbox.post("/account/availability", Some(&alice), &form(&[("csrf", &csrf), ("value", "away")])).await;
        assert_eq!(set.location(), "/");
        assert!(!inbox.store.settings().user("alice@example.com").unwrap().available);
        assert!(inbox.store.settings().user("bob@example.com").unwrap().available, "only their own");
        assert!(inbox.get("/", Some(&alice)).await.body.contains("Away</button>"));
        let forged = inbox.post("/account/availability", Some(&alice), &form(&[("csrf", "x"), ("value", "available")])).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(!inbox.store.settings().user("alice@example.com").unwrap().available);
    }
}

both_databases! {
    async fn an_agent_cannot_change_users_or_teams(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        let body = form(&[("csrf", &csrf), ("email", "alice@example.com"), ("value", "admin"),
            ("first_name", "A"), ("last_name", "B"), ("team", "Support")]);
        for path in ["/admin/users", "/admin/users/role", "/admin/users/availability",
                     "/admin/users/sign-in-link", "/admin/teams", "/admin/teams/members"] {
            assert_eq!(inbox.post(path, Some(&alice), &body).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert_eq!(inbox.store.settings().user("alice@example.com").unwrap().role, "agent");
        assert!(inbox.store.settings().teams().unwrap().is_empty());
    }
}
