//! Settings → Channels, through the real router on SQLite and PostgreSQL:
//! an admin connects a channel in three steps (how replies look, routing
//! and tickets, the forwarding address), sees the provider's confirmation
//! code, connects and finishes; every refusal comes back next to its field
//! in the words of `teaminbox-admin channel`; an agent gets 403 on every
//! settings page.

mod common;

use axum::http::StatusCode;
use common::{form, Inbox};
use teaminbox_outbound::signature;
use teaminbox_processor::Processor;
use teaminbox_store::both_databases;
use teaminbox_store::config::WebConfig;
use teaminbox_store::inbound::Verdicts;
use teaminbox_store::instructions::{self, Provider, Reader};
use teaminbox_store::model::{AssignMode, Channel, FromNameMode, UserRole};
use teaminbox_store::testing::inbound_message;

const SIGNATURE: &str = "<p>Kind regards,<br>{{sender.full_name}}</p>";

/// The inbox, with bob an admin signed in: (inbox, session, csrf).
async fn admin_inbox(db: &teaminbox_store::testing::TestDatabase) -> (Inbox, String, String) {
    let inbox = Inbox::new(db, &WebConfig::default());
    inbox
        .store
        .accounts()
        .set_role("bob@example.com", UserRole::Admin)
        .unwrap();
    let (bob, csrf) = inbox.signed_in("bob@example.com").await;
    (inbox, bob, csrf)
}

fn only_channel(inbox: &Inbox) -> Channel {
    let channels = inbox.store.settings().channels().unwrap();
    assert_eq!(channels.len(), 1, "{channels:?}");
    channels.into_iter().next().unwrap()
}

/// Step 1's form with `changes` over a valid one.
fn replies_form(csrf: &str, changes: &[(&str, &str)]) -> String {
    let mut fields = vec![
        ("csrf", csrf),
        ("name", "Support"),
        ("company", "Acme"),
        ("from_name", "company"),
        ("from_address_mode", "default"),
        ("from_address", ""),
        ("signature", SIGNATURE),
        ("go", "preview"),
    ];
    for (key, value) in changes {
        match fields.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value,
            None => fields.push((key, value)),
        }
    }
    form(&fields)
}

/// Files a Gmail forwarding confirmation sent to `address`, as the
/// processor would.
fn gmail_confirmation(inbox: &Inbox, channel: &Channel) {
    let raw = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../milter/tests/corpus/gmail_forwarding_confirmation.eml"
    ))
    .unwrap();
    let verdicts = Verdicts {
        spf: "pass".into(),
        dkim: "pass".into(),
        arc: "none".into(),
        dmarc: "pass".into(),
        spam: false,
        header_from: Some("google.com".into()),
        arc_trusted: false,
    };
    inbox
        .store
        .inbound()
        .enqueue(teaminbox_store::inbound::NewInboundMessage {
            verdicts: Some(verdicts),
            ..inbound_message(&channel.forwarding_address, channel.id, raw.as_str())
        })
        .unwrap();
    let processor = Processor::new(inbox.store.clone(), "teaminbox@inbox.example.com".into());
    assert!(processor.process_next("test"));
}

both_databases! {
    async fn an_admin_connects_a_channel_in_three_steps(db: TestDatabase) {
        let (inbox, bob, csrf) = admin_inbox(&db).await;
        let list = inbox.get("/settings/channels", Some(&bob)).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("No channels yet."), "{}", list.body);
        assert!(inbox.get("/", Some(&bob)).await.body.contains("href=\"/settings/channels\""));

        // Step 1: saved as a draft as soon as it is valid, with an address
        // made from the name, as `channel create` makes it.
        let saved = inbox.post("/settings/channels/new", Some(&bob), &replies_form(&csrf, &[])).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let channel = only_channel(&inbox);
        assert_eq!(saved.location(), format!("/settings/channels/{}/replies?saved=1", channel.id));
        assert_eq!((channel.status.as_str(), channel.name.as_str(), channel.company.as_str()), ("draft", "Support", "Acme"));
        assert_eq!(channel.from_name_mode, FromNameMode::Company);
        assert_eq!(channel.from_address, None);
        assert_eq!(channel.signature_html.as_deref(), Some(SIGNATURE));
        assert!(channel.forwarding_address.starts_with("support-"), "{}", channel.forwarding_address);
        assert!(channel.forwarding_address.ends_with("@inbox.example.com"));
        let id = channel.id;

        // The preview: a reply of the signed-in user, as the contact sees it.
        let preview = inbox.get(&format!("/settings/channels/{id}/replies?saved=1"), Some(&bob)).await;
        assert_eq!(preview.status, StatusCode::OK);
        let shown = preview.text();
        assert!(shown.contains("From: \"Acme\" <bob@inbox.example.com>"), "{shown}");
        assert!(shown.contains("Kind regards,<br>Test User"), "{shown}");
        assert!(shown.contains("Saved."), "{shown}");
        common::assert_secure_headers(&preview);

        // The live preview: the form as typed, unsaved.
        let live = inbox.post(&format!("/settings/channels/{id}/preview"), Some(&bob),
            &replies_form(&csrf, &[("company", "Acme Labs"), ("signature", "<p>Cheers, {{sender.first_name}}</p>")])).await;
        assert_eq!(live.status, StatusCode::OK, "{}", live.body);
        let shown = live.text();
        assert!(shown.starts_with("<aside class=\"preview\" id=\"preview\">"), "{shown}");
        assert!(shown.contains("From: \"Acme Labs\" <bob@inbox.example.com>"), "{shown}");
        assert!(shown.contains("<p>Cheers, Test</p>"), "{shown}");
        const SCRIPT: &str = "<p>Hi</p><script>alert(1)</script>";
        let live = inbox.post(&format!("/settings/channels/{id}/preview"), Some(&bob),
            &replies_form(&csrf, &[("signature", SCRIPT)])).await;
        assert!(live.text().contains(&format!("<p class=\"error\">{}</p>", signature::check(SCRIPT).unwrap_err())), "{}", live.body);
        assert!(!live.body.contains("<script>"), "{}", live.body);
        assert_eq!(only_channel(&inbox).signature_html.as_deref(), Some(SIGNATURE), "a preview saves nothing");
        assert_eq!(only_channel(&inbox).company, "Acme");

        // Back to agent and company: the preview follows.
        let again = inbox.post(&format!("/settings/channels/{id}/replies"), Some(&bob),
            &replies_form(&csrf, &[("from_name", "agent-and-company"), ("go", "next")])).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
        assert_eq!(again.location(), format!("/settings/channels/{id}/routing"));
        let shown = inbox.get(&format!("/settings/channels/{id}/replies"), Some(&bob)).await.text();
        assert!(shown.contains("From: \"Test User at Acme\" <bob@inbox.example.com>"), "{shown}");

        // Step 2: round robin over a team, available users only, tickets.
        inbox.store.settings().add_team("Support").unwrap();
        inbox.store.settings().add_team_member("Support", "alice@example.com").unwrap();
        let routing_page = inbox.get(&format!("/settings/channels/{id}/routing"), Some(&bob)).await;
        assert_eq!(routing_page.status, StatusCode::OK);
        assert!(routing_page.body.contains("<option value=\"Support\">Support (1 members)</option>"), "{}", routing_page.body);
        let routed = inbox.post(&format!("/settings/channels/{id}/routing"), Some(&bob), &form(&[
            ("csrf", &csrf), ("auto_assign", "on"), ("assign_mode", "users-and-teams"),
            ("assign_team", "Support"), ("assign_user", "alice@example.com"), ("only_available", "on"),
            ("tickets", "on"), ("ticket_pipeline", "Support"), ("ticket_priority", "high"),
            ("custom_properties", "region=eu\n"), ("go", "next"),
        ])).await;
        assert_eq!(routed.status, StatusCode::SEE_OTHER, "{}", routed.body);
        assert_eq!(routed.location(), format!("/settings/channels/{id}/forwarding"));
        let channel = only_channel(&inbox);
        assert_eq!(channel.assign_mode, AssignMode::UsersAndTeams);
        assert_eq!(channel.assign_teams, ["Support"]);
        assert_eq!(channel.assign_users, ["alice@example.com"]);
        assert!(!channel.assign_any_availability);
        assert!(channel.tickets_enabled);
        assert_eq!(serde_json::Value::Object(channel.ticket_properties.clone()),
            serde_json::json!({"pipeline": "Support", "priority": "high", "region": "eu"}));

        // Saved again without the custom line and with off: it is removed,
        // as `--ticket-property region=` removes it; the choices stay.
        let saved = inbox.post(&format!("/settings/channels/{id}/routing"), Some(&bob), &form(&[
            ("csrf", &csrf), ("assign_mode", "users-and-teams"), ("assign_team", "Support"),
            ("tickets", "on"), ("ticket_pipeline", "Support"), ("go", "save"),
        ])).await;
        assert_eq!(saved.location(), format!("/settings/channels/{id}/routing?saved=1"));
        let channel = only_channel(&inbox);
        assert_eq!(channel.assign_mode, AssignMode::Off);
        assert!(channel.assign_any_availability);
        assert_eq!(channel.assign_teams, ["Support"]);
        assert!(channel.assign_users.is_empty());
        assert_eq!(serde_json::Value::Object(channel.ticket_properties.clone()), serde_json::json!({"pipeline": "Support"}));

        // Step 3: the address, the provider's steps (those of `channel
        // instructions`), customised while a draft.
        let customised = inbox.post(&format!("/settings/channels/{id}/address"), Some(&bob), &form(&[
            ("csrf", &csrf), ("forwarding_address", "Support@Inbox.Example.com"),
        ])).await;
        assert_eq!(customised.status, StatusCode::SEE_OTHER, "{}", customised.body);
        let channel = only_channel(&inbox);
        assert_eq!(channel.forwarding_address, "support@inbox.example.com");
        let step3 = inbox.get(&format!("/settings/channels/{id}/forwarding?provider=microsoft-365"), Some(&bob)).await;
        let shown = step3.text();
        assert!(shown.contains("<code id=\"forwarding-address\">support@inbox.example.com</code>"), "{shown}");
        for step in instructions::steps(&channel, Provider::Microsoft365, Reader::Web) {
            assert!(shown.contains(&format!("<li>{step}</li>")), "{step}\n{shown}");
        }
        // The web's steps point at the page, not at the admin tool.
        assert!(shown.contains("Connect and finish: the Connect and finish button below"), "{shown}");
        assert!(!shown.contains("teaminbox-admin"), "{shown}");
        assert!(shown.contains("None received yet."), "{shown}");
        assert!(shown.contains("id=\"customise\""), "{shown}");

        // The provider's confirmation shows on the page (app.js swaps it in).
        gmail_confirmation(&inbox, &channel);
        let step3 = inbox.get(&format!("/settings/channels/{id}/forwarding"), Some(&bob)).await;
        assert!(step3.body.contains("<strong id=\"confirmation-code\">123456789</strong>"), "{}", step3.body);
        assert!(step3.body.contains("id=\"confirmation-link\""), "{}", step3.body);

        // Connect and finish: the address locked, with the reason.
        let finished = inbox.post(&format!("/settings/channels/{id}/finish"), Some(&bob), &form(&[("csrf", &csrf)])).await;
        assert_eq!(finished.status, StatusCode::SEE_OTHER, "{}", finished.body);
        let channel = only_channel(&inbox);
        assert_eq!(channel.status, "connected");
        assert!(channel.finished_at.is_some());
        let step3 = inbox.get(&format!("/settings/channels/{id}/forwarding"), Some(&bob)).await;
        assert!(step3.body.contains("id=\"locked\""), "{}", step3.body);
        assert!(!step3.body.contains("id=\"customise\"") && !step3.body.contains("id=\"finish\""), "{}", step3.body);
        assert!(step3.body.contains("<h1>Edit channel</h1>"), "{}", step3.body);
        let moved = inbox.post(&format!("/settings/channels/{id}/address"), Some(&bob), &form(&[
            ("csrf", &csrf), ("forwarding_address", "help@inbox.example.com"),
        ])).await;
        assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(moved.text().contains(&format!(
            "<p class=\"error\" id=\"address-error\">the forwarding address of channel {id} cannot change after finishing (connect and finish locked it)</p>"
        )), "{}", moved.body);
        assert_eq!(only_channel(&inbox).forwarding_address, "support@inbox.example.com");

        // The list: status, address, the latest confirmation; disable and
        // enable as `channel disable` and `channel enable`.
        let list = inbox.get("/settings/channels", Some(&bob)).await;
        assert!(list.body.contains("<td class=\"status\">connected</td>"), "{}", list.body);
        assert!(list.body.contains("<code>support@inbox.example.com</code>"), "{}", list.body);
        assert!(list.body.contains("code <strong>123456789</strong>"), "{}", list.body);
        let disabled = inbox.post(&format!("/settings/channels/{id}/disable"), Some(&bob), &form(&[("csrf", &csrf)])).await;
        assert_eq!(disabled.location(), "/settings/channels");
        assert!(!only_channel(&inbox).enabled);
        let list = inbox.get("/settings/channels", Some(&bob)).await;
        assert!(list.body.contains("<td class=\"status\">disabled</td>"), "{}", list.body);
        inbox.post(&format!("/settings/channels/{id}/enable"), Some(&bob), &form(&[("csrf", &csrf)])).await;
        assert!(only_channel(&inbox).enabled);
    }
}

both_databases! {
    async fn a_connected_channel_is_edited_and_its_sources_changed(db: TestDatabase) {
        let (inbox, bob, csrf) = admin_inbox(&db).await;
        inbox.post("/settings/channels/new", Some(&bob), &replies_form(&csrf, &[])).await;
        let id = only_channel(&inbox).id;
        inbox.store.settings().finish_channel(id).unwrap();

        let edited = inbox.post(&format!("/settings/channels/{id}/replies"), Some(&bob),
            &replies_form(&csrf, &[("name", "Support EU"), ("signature", "")])).await;
        assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
        let channel = only_channel(&inbox);
        assert_eq!(channel.name, "Support EU");
        assert_eq!(channel.signature_html, None);
        assert_eq!(channel.status, "connected");

        let add = |address: &'static str| form(&[("csrf", &csrf), ("address", address)]);
        let added = inbox.post(&format!("/settings/channels/{id}/sources"), Some(&bob), &add("Support@Groups.Example.com")).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let sources = only_channel(&inbox).sources;
        assert_eq!(sources.len(), 1);
        assert_eq!((sources[0].address.as_str(), sources[0].origin.as_str()), ("support@groups.example.com", "admin"));
        let page = inbox.get(&format!("/settings/channels/{id}/forwarding"), Some(&bob)).await;
        assert!(page.body.contains("<code>support@groups.example.com</code> (added by the admin)"), "{}", page.body);

        let bad = inbox.post(&format!("/settings/channels/{id}/sources"), Some(&bob), &add("not an address")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().contains("Source: `not an address` is not an email address: write it as LOCAL@DOMAIN, like alice@example.com"), "{}", bad.body);

        let removed = inbox.post(&format!("/settings/channels/{id}/sources/remove"), Some(&bob), &add("support@groups.example.com")).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
        assert!(only_channel(&inbox).sources.is_empty());
        let again = inbox.post(&format!("/settings/channels/{id}/sources/remove"), Some(&bob), &add("support@groups.example.com")).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.text().contains(&format!("channel {id} has no source support@groups.example.com")), "{}", again.body);
    }
}

both_databases! {
    async fn refusals_show_next_to_their_fields_in_the_admin_tools_words(db: TestDatabase) {
        let (inbox, bob, csrf) = admin_inbox(&db).await;
        let refused = |reply: &common::Reply, id: &str, text: &str| {
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
            let expected = format!("<p class=\"error\" id=\"{id}\">{text}</p>");
            assert!(reply.text().contains(&expected), "{expected}\n{}", reply.body);
        };
        let new = |changes: &'static [(&'static str, &'static str)]| {
            let body = replies_form(&csrf, changes);
            let inbox = &inbox;
            let bob = bob.clone();
            async move { inbox.post("/settings/channels/new", Some(&bob), &body).await }
        };

        refused(&new(&[("name", " ")]).await, "name-error", "Name must not be empty");
        refused(&new(&[("company", "Acme\r\nBcc: x")]).await, "company-error",
            "Company `Acme\\r\\nBcc: x` contains a control character (line break, tab or similar); use plain text");
        const SCRIPT: &str = "<p>Hi</p><script>alert(1)</script>";
        refused(&new(&[("signature", SCRIPT)]).await, "signature-error", &signature::check(SCRIPT).unwrap_err().to_string());
        const TOKEN: &str = "<p>{{sender.email}}</p>";
        refused(&new(&[("signature", TOKEN)]).await, "signature-error", &signature::check(TOKEN).unwrap_err().to_string());
        refused(&new(&[("from_address_mode", "custom"), ("from_address", "help@acme.example")]).await, "from-address-error",
            "the domain acme.example of the From address help@acme.example is not a verified sending domain");
        assert!(inbox.store.settings().channels().unwrap().is_empty(), "nothing saved while refused");

        // A verified sending domain is accepted, as by the admin tool.
        inbox.store.outbound().add_sending_domain("acme.example", "s1", "key", "v=DKIM1").unwrap();
        inbox.store.outbound().mark_domain_verified("acme.example").unwrap();
        let saved = new(&[("from_address_mode", "custom"), ("from_address", "Help@Acme.example")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let first = only_channel(&inbox);
        assert_eq!(first.from_address.as_deref(), Some("help@acme.example"));

        // The From name another channel uses.
        let taken = new(&[("name", "Sales")]).await;
        refused(&taken, "company-error", &format!(
            "the From name \"Acme\" is already used by channel {} ({}); a From name may belong to one hosted address only",
            first.id, first.forwarding_address));
        assert_eq!(inbox.store.settings().channels().unwrap().len(), 1);

        // Step 2: a team that does not exist; a property line without `=`.
        let routing = |pairs: &[(&str, &str)]| {
            let mut all = vec![("csrf", csrf.as_str())];
            all.extend_from_slice(pairs);
            let (body, path) = (form(&all), format!("/settings/channels/{}/routing", first.id));
            let (inbox, bob) = (&inbox, bob.clone());
            async move { inbox.post(&path, Some(&bob), &body).await }
        };
        refused(&routing(&[("auto_assign", "on"), ("assign_team", "Nobody")]).await, "assign-error", "there is no team Nobody");
        refused(&routing(&[("custom_properties", "priority high")]).await, "tickets-error",
            "`priority high` is not KEY=VALUE, like priority=high (KEY= removes the key)");
        assert_eq!(only_channel(&inbox).assign_mode, AssignMode::Off, "nothing saved while refused");

        // Step 3: outside the hosted domains; taken by another channel.
        let address = |given: &str| {
            let body = form(&[("csrf", &csrf), ("forwarding_address", given)]);
            let path = format!("/settings/channels/{}/address", first.id);
            let (inbox, bob) = (&inbox, bob.clone());
            async move { inbox.post(&path, Some(&bob), &body).await }
        };
        refused(&address("support@elsewhere.example").await, "address-error",
            "Forwarding address: elsewhere.example is not in a hosted domain; hosted domains are inbox.example.com (milter.hosted_domains in the configuration)");
        let other = teaminbox_store::testing::channel(&inbox.store, "taken@inbox.example.com");
        assert_ne!(other, first.id);
        refused(&address("taken@inbox.example.com").await, "address-error",
            "the forwarding address taken@inbox.example.com is already used by another channel");

        // A form without the session's token changes nothing.
        let forged = inbox.post(&format!("/settings/channels/{}/finish", first.id), Some(&bob), &form(&[("csrf", "x")])).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(inbox.store.settings().channel(first.id).unwrap().status, "draft");
    }
}

both_databases! {
    async fn an_agent_gets_no_settings_page(db: TestDatabase) {
        let inbox = Inbox::new(&db, &WebConfig::default());
        let id = teaminbox_store::testing::channel(&inbox.store, "support@inbox.example.com");
        let (alice, csrf) = inbox.signed_in("alice@example.com").await;
        assert!(!inbox.get("/", Some(&alice)).await.body.contains("/settings/channels"));
        for path in [
            "/settings/channels".to_owned(),
            "/settings/channels/new".to_owned(),
            format!("/settings/channels/{id}/replies"),
            format!("/settings/channels/{id}/routing"),
            format!("/settings/channels/{id}/forwarding"),
        ] {
            assert_eq!(inbox.get(&path, Some(&alice)).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        let posted = replies_form(&csrf, &[]);
        for path in ["new", "{id}/replies", "{id}/preview", "{id}/routing", "{id}/address", "{id}/sources",
                     "{id}/sources/remove", "{id}/finish", "{id}/enable", "{id}/disable"] {
            let path = format!("/settings/channels/{}", path.replace("{id}", &id.to_string()));
            let reply = inbox.post(&path, Some(&alice), &posted).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {}", reply.body);
        }
        let channel = inbox.store.settings().channel(id).unwrap();
        assert_eq!((channel.status.as_str(), channel.enabled), ("draft", true));
        assert_eq!(inbox.store.settings().channels().unwrap().len(), 1);
    }
}
