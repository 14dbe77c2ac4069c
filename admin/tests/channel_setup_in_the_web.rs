//! The web's Settings → Channels and `teaminbox-admin channel` write the
//! same rows and refuse in the same words: one channel set up by the real
//! binary, one by the real web router, on one database, SQLite and
//! PostgreSQL.

mod common;
#[path = "../../crates/web/tests/common/mod.rs"]
mod web;

use axum::http::StatusCode;
use common::Setup;
use serde_json::Value;
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::model::UserRole;
use web::{form, Inbox};

const SIGNATURE: &str = "<p>Kind regards,<br><b>{{sender.full_name}}</b></p>";

/// A channel as `channel show --json` prints it, without what tells two
/// channels apart (id, company, address, times).
fn settings_of(setup: &Setup, id: i64) -> Value {
    let mut shown = setup.json(&["channel", "show", &id.to_string()]);
    let object = shown.as_object_mut().unwrap();
    for key in [
        "id",
        "company",
        "forwarding_address",
        "created_at",
        "finished_at",
    ] {
        assert!(object.remove(key).is_some(), "{key} in {object:?}");
    }
    shown
}

/// The text of the refusal `id` on a page the web sent back with 422.
fn web_refusal(reply: &web::Reply, id: &str) -> String {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let text = reply.text();
    let marker = format!("<p class=\"error\" id=\"{id}\">");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id}: {text}"))
        + marker.len();
    text[start..start + text[start..].find("</p>").unwrap()].to_owned()
}

both_databases! {
    async fn the_web_and_the_admin_tool_set_up_the_same_channel(db: TestDatabase) {
        let setup = Setup::new(db);
        let inbox = Inbox::new(&setup.db, &WebConfig::default());
        inbox.store.settings().add_team("Support").unwrap();
        inbox.store.settings().add_team_member("Support", "alice@example.com").unwrap();
        let signature = setup.dir.path().join("signature.html");
        std::fs::write(&signature, SIGNATURE).unwrap();

        // The admin tool.
        setup.run(&[
            "channel", "create", "--name", "Support", "--company", "Acme",
            "--forwarding-address", "support@inbox.example.com", "--from-name", "company",
            "--signature-file", signature.to_str().unwrap(), "--assign", "users-and-teams",
            "--assign-team", "Support", "--assign-user", "alice@example.com", "--tickets", "on",
            "--ticket-property", "pipeline=Support", "--ticket-property", "region=eu",
            "--source", "list@groups.example.com",
        ]).ok();
        setup.run(&["channel", "finish", "1"]).ok();

        // The web, its three steps.
        inbox.store.accounts().set_role("bob@example.com", UserRole::Admin).unwrap();
        let (bob, csrf) = inbox.signed_in("bob@example.com").await;
        let post = |path: String, pairs: Vec<(&'static str, &'static str)>| {
            let mut all = vec![("csrf", csrf.as_str())];
            all.extend(pairs);
            let body = form(&all);
            let (inbox, bob) = (&inbox, bob.clone());
            async move { inbox.post(&path, Some(&bob), &body).await }
        };
        let step1 = post("/settings/channels/new".into(), vec![
            ("name", "Support"), ("company", "Acme EU"), ("from_name", "company"),
            ("from_address_mode", "default"), ("signature", SIGNATURE), ("go", "next"),
        ]).await;
        assert_eq!(step1.status, StatusCode::SEE_OTHER, "{}", step1.body);
        assert_eq!(step1.location(), "/settings/channels/2/routing");
        for (path, pairs) in [
            ("routing", vec![
                ("auto_assign", "on"), ("assign_mode", "users-and-teams"), ("assign_team", "Support"),
                ("assign_user", "alice@example.com"), ("only_available", "on"), ("tickets", "on"),
                ("ticket_pipeline", "Support"), ("custom_properties", "region=eu"), ("go", "next"),
            ]),
            ("address", vec![("forwarding_address", "support-eu@inbox.example.com")]),
            ("sources", vec![("address", "list@groups.example.com")]),
            ("finish", vec![]),
        ] {
            let reply = post(format!("/settings/channels/2/{path}"), pairs).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}: {}", reply.body);
        }

        let (by_tool, by_web) = (settings_of(&setup, 1), settings_of(&setup, 2));
        assert_eq!(by_web, by_tool);
        assert_eq!(by_web["status"], "connected");
        assert_eq!(by_web["assign_teams"], serde_json::json!(["Support"]));

        // The same refusals, in the same words after the field's name.
        let tool = setup.run(&["channel", "update", "2", "--company", "Acme"]).fails(1).to_owned();
        let page = post("/settings/channels/2/replies".into(), vec![
            ("name", "Support"), ("company", "Acme"), ("from_name", "company"),
            ("from_address_mode", "default"), ("signature", SIGNATURE),
        ]).await;
        assert_eq!(format!("teaminbox-admin: {}", web_refusal(&page, "company-error")), tool);

        let tool = setup.run(&["channel", "update", "2", "--forwarding-address", "eu@elsewhere.example"]).fails(1).to_owned();
        let page = post("/settings/channels/2/address".into(), vec![("forwarding_address", "eu@elsewhere.example")]).await;
        assert_eq!(
            tool.strip_prefix("teaminbox-admin: --forwarding-address: "),
            web_refusal(&page, "address-error").strip_prefix("Forwarding address: "),
        );

        let tool = setup.run(&["channel", "update", "2", "--forwarding-address", "eu2@inbox.example.com"]).fails(1).to_owned();
        let page = post("/settings/channels/2/address".into(), vec![("forwarding_address", "eu2@inbox.example.com")]).await;
        assert_eq!(format!("teaminbox-admin: {}", web_refusal(&page, "address-error")), tool);
        assert_eq!(settings_of(&setup, 2), by_web, "nothing changed");
    }
}
