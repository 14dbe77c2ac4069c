//! The real `teaminbox-admin` binary's `user`, `team`, `contact set-owner`,
//! `channel create` and `channel update` and `queue retry` commands, on SQLite and PostgreSQL:
//! what the processor reads to assign and ticket new conversations.

mod common;

use chrono::NaiveDate;
use common::{admin, assert_rfc3339_utc, keys, Setup};
use serde_json::{json, Value};
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::{
    inbound::NewInboundMessage, inbox::ChannelRouting, settings::NewChannel, Store,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::inbound_message;

fn add_user(setup: &Setup, email: &str, first: &str, last: &str) -> Value {
    setup.json(&[
        "user",
        "add",
        email,
        "--first-name",
        first,
        "--last-name",
        last,
    ])
}

fn add_channel(store: &Store, address: &str) -> i64 {
    store
        .settings()
        .create_channel(&NewChannel {
            name: "Support",
            company: "Acme",
            forwarding_address: &ForwardingAddress::parse(address).unwrap(),
        })
        .unwrap()
        .id
}

both_databases! {
    fn users_are_added_listed_and_marked_away(db: TestDatabase) {
        let setup = Setup::new(db);
        let run = setup.run(&[
            "user", "add", " Alice.Smith@Example.COM ", "--first-name", "Alice",
            "--last-name", "Smith",
        ]);
        assert_eq!(
            run.ok(),
            "Added user alice.smith@example.com (Alice Smith, username alice.smith, agent), available.\n"
        );
        let bob = setup.json(&[
            "user", "add", "bob@example.com", "--first-name", " Bob ", "--last-name", "Jones",
            "--username", "bjones",
        ]);
        assert_eq!(
            keys(&bob),
            ["available", "created_at", "email", "first_name", "id", "last_name", "role", "username"]
        );
        assert_eq!(bob["id"], 2);
        assert_eq!(bob["email"], "bob@example.com");
        assert_eq!(bob["first_name"], "Bob");
        assert_eq!(bob["last_name"], "Jones");
        assert_eq!(bob["username"], "bjones");
        assert_eq!(bob["available"], true);
        assert_rfc3339_utc(&bob["created_at"]);

        // The same email in another case is the same user.
        let run = setup.run(&[
            "user", "add", "ALICE.SMITH@example.com", "--first-name", "A", "--last-name", "S",
        ]);
        assert_eq!(
            run.fails(1),
            "teaminbox-admin: a user with email alice.smith@example.com already exists"
        );

        let run = setup.run(&["user", "availability", "Bob@Example.com", "away"]);
        assert_eq!(run.ok(), "bob@example.com is away.\n");
        let run = setup.run(&["user", "list"]);
        assert_eq!(
            run.ok(),
            "ID  EMAIL                    FIRST NAME  LAST NAME  USERNAME     AVAILABILITY  ROLE\n\
             1   alice.smith@example.com  Alice       Smith      alice.smith  available     agent\n\
             2   bob@example.com          Bob         Jones      bjones       away          agent\n"
        );
        let back = setup.json(&["user", "availability", "bob@example.com", "available"]);
        assert_eq!(back["available"], true);
        let list = setup.json(&["user", "list"]);
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(list[1], back);
        assert_eq!(list, serde_json::to_value(setup.store.settings().users().unwrap()).unwrap());

        let run = setup.run(&["user", "availability", "carol@example.com", "away"]);
        assert_eq!(run.fails(1), "teaminbox-admin: there is no user carol@example.com");
        let run = setup.run(&["user", "availability", "bob@example.com", "busy"]);
        assert!(run.usage_error().contains("invalid value 'busy'"), "{run:#?}");
    }
}

both_databases! {
    fn bad_user_input_is_a_usage_error(db: TestDatabase) {
        let setup = Setup::new(db);
        let cases: &[(&[&str], &str)] = &[
            (&["alice"], "EMAIL: `alice` is not an email address: write it as LOCAL@DOMAIN"),
            (&["a b@example.com"], "EMAIL: `a b@example.com` is not an email address"),
            (
                &["a\r\nBcc: x@example.com"],
                "EMAIL: `a\\r\\nBcc: x@example.com` is not an email address: it contains a control character",
            ),
            (&["<a@example.com>"], "EMAIL: `<a@example.com>` is not an email address"),
            (&["a@exa mple.com"], "EMAIL: `a@exa mple.com` is not an email address"),
            (
                &["a@example.com", "--first-name", "Al\nice"],
                "--first-name `Al\\nice` contains a control character",
            ),
            (&["a@example.com", "--last-name", " "], "--last-name must not be empty"),
            (
                &["a@example.com", "--username", "a\u{1b}[2J"],
                "--username `a\\u{1b}[2J` contains a control character",
            ),
        ];
        for (given, expected) in cases {
            let mut args = vec!["user", "add"];
            args.extend_from_slice(given);
            for flag in ["--first-name", "--last-name"] {
                if !given.contains(&flag) {
                    args.extend([flag, "Valid"]);
                }
            }
            let line = setup.run(&args).fails(2).to_owned();
            assert!(line.starts_with(&format!("teaminbox-admin: {expected}")), "{args:?}: {line}");
        }
        assert!(setup.store.settings().users().unwrap().is_empty());
        let run = setup.run(&["user", "add", "a@example.com", "--first-name", "A"]);
        assert!(run.usage_error().contains("--last-name"), "{run:#?}");
    }
}

both_databases! {
    fn teams_have_members(db: TestDatabase) {
        let setup = Setup::new(db);
        add_user(&setup, "alice@example.com", "Alice", "Smith");
        add_user(&setup, "bob@example.com", "Bob", "Jones");

        assert_eq!(setup.run(&["team", "add", " Tier 1 "]).ok(), "Added team Tier 1 (1).\n");
        let team = setup.json(&["team", "add", "Billing"]);
        assert_eq!(keys(&team), ["created_at", "id", "members", "name"]);
        assert_eq!(team["members"], json!([]));
        assert_eq!(
            setup.run(&["team", "add", "Billing"]).fails(1),
            "teaminbox-admin: a team named Billing already exists"
        );

        let run = setup.run(&["team", "add-member", "Tier 1", "Bob@example.com"]);
        assert_eq!(
            run.ok(),
            "Added bob@example.com to team Tier 1; its members are bob@example.com.\n"
        );
        let team = setup.json(&["team", "add-member", "Tier 1", "alice@example.com"]);
        assert_eq!(team["members"], json!(["alice@example.com", "bob@example.com"]));
        assert_eq!(
            setup.run(&["team", "add-member", "Tier 1", "alice@example.com"]).fails(1),
            "teaminbox-admin: alice@example.com is already a member of team Tier 1"
        );
        assert_eq!(
            setup.run(&["team", "add-member", "Tier 2", "alice@example.com"]).fails(1),
            "teaminbox-admin: there is no team Tier 2"
        );
        assert_eq!(
            setup.run(&["team", "add-member", "Billing", "carol@example.com"]).fails(1),
            "teaminbox-admin: there is no user carol@example.com"
        );
        assert!(setup
            .run(&["team", "add", "Tier\n3"])
            .fails(2)
            .starts_with("teaminbox-admin: NAME `Tier\\n3` contains a control character"));

        assert_eq!(
            setup.run(&["team", "list"]).ok(),
            "ID  NAME     MEMBERS\n\
             1   Tier 1   alice@example.com, bob@example.com\n\
             2   Billing  -\n"
        );
        let list = setup.json(&["team", "list"]);
        assert_eq!(list[0]["name"], "Tier 1");
        assert_eq!(list[0]["members"], json!(["alice@example.com", "bob@example.com"]));
        assert_eq!(list[1]["members"], json!([]));
        assert_eq!(list, serde_json::to_value(setup.store.settings().teams().unwrap()).unwrap());
    }
}

both_databases! {
    fn a_contact_owner_can_be_set_before_the_first_message(db: TestDatabase) {
        let setup = Setup::new(db);
        add_user(&setup, "alice@example.com", "Alice", "Smith");
        add_user(&setup, "bob@example.com", "Bob", "Jones");
        assert_eq!(setup.run(&["contact", "list"]).ok(), "ID  ADDRESS  NAME  OWNER  CONVERSATIONS\n");

        // Unknown owner: refused, and no contact is created.
        assert_eq!(
            setup.run(&["contact", "set-owner", "customer@example.org", "zed@example.com"]).fails(1),
            "teaminbox-admin: there is no user zed@example.com"
        );
        assert!(setup.store.views().contacts().unwrap().is_empty());

        let run = setup.run(&["contact", "set-owner", "Customer@Example.ORG", "alice@example.com"]);
        assert_eq!(run.ok(), "customer@example.org (contact 1) is now owned by alice@example.com.\n");
        let contact = setup.json(&["contact", "set-owner", "customer@example.org", "bob@example.com"]);
        assert_eq!(
            keys(&contact),
            ["address", "conversation_ids", "created_at", "id", "name", "owner_email"]
        );
        assert_eq!(contact["id"], 1);
        assert_eq!(contact["address"], "customer@example.org");
        assert_eq!(contact["name"], Value::Null);
        assert_eq!(contact["owner_email"], "bob@example.com");
        assert_eq!(contact["conversation_ids"], json!([]));
        assert_rfc3339_utc(&contact["created_at"]);

        assert_eq!(setup.json(&["contact", "show", "1"]), contact);
        assert_eq!(setup.json(&["contact", "show", "CUSTOMER@example.org"]), contact);
        assert_eq!(setup.json(&["contact", "list"]), json!([contact]));
        assert_eq!(
            setup.run(&["contact", "list"]).ok(),
            "ID  ADDRESS               NAME  OWNER            CONVERSATIONS\n\
             1   customer@example.org  -     bob@example.com  0\n"
        );

        // What the processor sees: the owner on the contact it finds.
        let channel = add_channel(&setup.store, "support@inbox.example.com");
        let inbound = enqueue(&setup.store, channel);
        let (found, created) = setup
            .store
            .inbox()
            .apply(inbound, |tx| tx.contact("customer@example.org", Some("Carol"), teaminbox_store::now()))
            .unwrap();
        assert!(!created);
        assert_eq!(found.id, 1);
        let bob_id = setup.store.settings().users().unwrap()[1].id;
        assert_eq!(found.owner_user_id, Some(bob_id));

        assert_eq!(
            setup.run(&["contact", "show", "nobody@example.org"]).fails(1),
            "teaminbox-admin: there is no contact nobody@example.org"
        );
        assert_eq!(setup.run(&["contact", "show", "42"]).fails(1), "teaminbox-admin: there is no contact 42");
        assert!(setup
            .run(&["contact", "set-owner", "not-an-address", "bob@example.com"])
            .fails(2)
            .starts_with("teaminbox-admin: CONTACT_EMAIL: `not-an-address` is not an email address"));
        assert!(setup
            .run(&["contact", "show", "a\tb"])
            .fails(2)
            .starts_with("teaminbox-admin: EMAIL|ID: `a\\tb` is not an email address"));
    }
}

both_databases! {
    fn channel_update_sets_routing_and_tickets(db: TestDatabase) {
        let setup = Setup::new(db);
        add_user(&setup, "alice@example.com", "Alice", "Smith");
        add_user(&setup, "bob@example.com", "Bob", "Jones");
        add_user(&setup, "carol@example.com", "Carol", "White");
        setup.run(&["team", "add", "Tier 1"]).ok();
        setup.run(&["team", "add-member", "Tier 1", "carol@example.com"]).ok();
        let channel = add_channel(&setup.store, "support@inbox.example.com");
        assert_eq!(channel, 1);

        // A new channel: no assignment, tickets on, no properties.
        let fresh = setup.json(&["channel", "show", "1"]);
        assert_eq!(
            keys(&fresh),
            [
                "assign_any_availability", "assign_mode", "assign_teams", "assign_users",
                "company", "created_at", "enabled", "finished_at", "forwarding_address",
                "from_address", "from_name_mode", "id", "name", "signature_html", "sources", "status",
                "ticket_properties", "tickets_enabled", "verification_code", "verification_link",
                "verification_received_at", "verification_requested_by",
            ]
        );
        assert_eq!(fresh["assign_mode"], "off");
        assert_eq!(fresh["assign_any_availability"], false);
        assert_eq!(fresh["assign_users"], json!([]));
        assert_eq!(fresh["assign_teams"], json!([]));
        assert_eq!(fresh["tickets_enabled"], true);
        assert_eq!(fresh["ticket_properties"], json!({}));
        assert_eq!(fresh["verification_code"], Value::Null);
        assert_eq!(fresh["verification_received_at"], Value::Null);

        let updated = setup.json(&[
            "channel", "update", "1", "--assign", "users-and-teams",
            "--assign-user", "Bob@example.com", "--assign-user", "alice@example.com",
            "--assign-user", "bob@example.com", "--assign-team", "Tier 1",
            "--any-availability", "--ticket-property", "pipeline=Support",
            "--ticket-property", "priority= high ", "--ticket-property", "team=emea=north",
        ]);
        assert_eq!(updated["assign_mode"], "users-and-teams");
        assert_eq!(updated["assign_any_availability"], true);
        assert_eq!(updated["assign_users"], json!(["alice@example.com", "bob@example.com"]));
        assert_eq!(updated["assign_teams"], json!(["Tier 1"]));
        assert_eq!(
            updated["ticket_properties"],
            json!({"pipeline": "Support", "priority": "high", "team": "emea=north"})
        );
        // Everything else as it was.
        for key in ["id", "name", "company", "forwarding_address", "status", "enabled", "created_at", "tickets_enabled"] {
            assert_eq!(updated[key], fresh[key], "{key}");
        }
        assert_eq!(updated, serde_json::to_value(setup.store.settings().channel(1).unwrap()).unwrap());

        let (routing, candidates) = processor_view(&setup.store, channel);
        assert_eq!(routing.assign_mode.as_str(), "users-and-teams");
        assert!(routing.any_availability);
        assert!(routing.tickets_enabled);
        assert_eq!(candidates, ["alice@example.com", "bob@example.com", "carol@example.com"]);

        // Users replace users; teams stay. Properties merge; an empty value
        // removes a key.
        let run = setup.run(&[
            "channel", "update", "1", "--assign-user", "carol@example.com", "--only-available",
            "--tickets", "off", "--ticket-property", "priority=", "--ticket-property", "stage=New",
        ]);
        assert_eq!(
            run.ok(),
            "ID  NAME     COMPANY  FORWARDING ADDRESS         STATUS  MAIL\n\
             1   Support  Acme     support@inbox.example.com  draft   enabled\n\
             \n\
             From name:          agent-and-company (\"Jane Doe at Acme\")\n\
             From address:       default: the user's USERNAME@inbox.example.com\n\
             Signature:          none\n\
             Finished:           no (draft; `teaminbox-admin channel finish 1` connects it)\n\
             Assignment:         users-and-teams (available users only)\n\
             Assign to users:    carol@example.com\n\
             Assign to teams:    Tier 1\n\
             Tickets:            off\n\
             Ticket properties:  pipeline=Support, stage=New, team=emea=north\n\
             Sources:            none (list rewrites are not trusted; `teaminbox-admin channel update 1 --source ADDRESS` trusts a list's)\n\
             Verification:       none received (a provider's forwarding confirmation shows here)\n"
        );
        let channel_now = setup.json(&["channel", "show", "1"]);
        assert_eq!(channel_now["assign_users"], json!(["carol@example.com"]));
        assert_eq!(channel_now["assign_teams"], json!(["Tier 1"]));
        assert_eq!(channel_now["assign_any_availability"], false);
        assert_eq!(channel_now["tickets_enabled"], false);

        // --clear-assignees empties both lists, then adds what is given.
        let cleared = setup.json(&["channel", "update", "1", "--clear-assignees", "--assign-team", "Tier 1"]);
        assert_eq!(cleared["assign_users"], json!([]));
        assert_eq!(cleared["assign_teams"], json!(["Tier 1"]));
        let run = setup.run(&["channel", "update", "1", "--clear-assignees", "--tickets", "on"]);
        let out = run.ok();
        assert!(out.contains("Assign to teams:    -\n"), "{out}");
        assert!(out.ends_with(
            "Note: the channel names no users or teams yet, so its conversations stay unassigned; \
             add some with --assign-user or --assign-team.\n"
        ), "{out}");

        let owner = setup.json(&["channel", "update", "1", "--assign", "contact-owner"]);
        assert_eq!(owner["assign_mode"], "contact-owner");
        assert_eq!(owner["tickets_enabled"], true);
        let run = setup.run(&["channel", "show", "1"]);
        assert!(run.ok().contains("\nAssignment:         contact-owner (available users only)\n"), "{run:#?}");
    }
}

both_databases! {
    fn channel_update_refuses_unknown_names_and_changes_nothing(db: TestDatabase) {
        let setup = Setup::new(db);
        add_user(&setup, "alice@example.com", "Alice", "Smith");
        setup.run(&["team", "add", "Tier 1"]).ok();
        add_channel(&setup.store, "support@inbox.example.com");
        let before = setup.json(&["channel", "show", "1"]);

        let refusals: &[(&[&str], &str)] = &[
            (
                &["--assign", "users-and-teams", "--assign-user", "alice@example.com",
                  "--assign-user", "zed@example.com"],
                "there is no user zed@example.com",
            ),
            (
                &["--assign-user", "alice@example.com", "--assign-team", "Tier 2",
                  "--ticket-property", "priority=high"],
                "there is no team Tier 2",
            ),
        ];
        for (given, expected) in refusals {
            let mut args = vec!["channel", "update", "1"];
            args.extend_from_slice(given);
            assert_eq!(setup.run(&args).fails(1), format!("teaminbox-admin: {expected}"));
            assert_eq!(setup.json(&["channel", "show", "1"]), before, "{args:?} changed something");
        }
        assert_eq!(
            setup.run(&["channel", "update", "7", "--tickets", "off"]).fails(1),
            "teaminbox-admin: there is no channel 7"
        );

        let usage: &[(&[&str], &str)] = &[
            (&[], "nothing to change: give --assign"),
            (&["--ticket-property", "priority"], "--ticket-property `priority` is not KEY=VALUE"),
            (&["--ticket-property", "=high"], "--ticket-property key must not be empty"),
            (
                &["--ticket-property", "note=a\nb"],
                "--ticket-property value `a\\nb` contains a control character",
            ),
            (&["--assign-user", "alice"], "--assign-user: `alice` is not an email address"),
            (&["--assign-team", " "], "--assign-team must not be empty"),
        ];
        for (given, expected) in usage {
            let mut args = vec!["channel", "update", "1"];
            args.extend_from_slice(given);
            let line = setup.run(&args).fails(2).to_owned();
            assert!(line.starts_with(&format!("teaminbox-admin: {expected}")), "{args:?}: {line}");
        }
        for given in [
            &["--any-availability", "--only-available"][..],
            &["--assign", "round-robin"],
            &["--tickets", "yes"],
        ] {
            let mut args = vec!["channel", "update", "1"];
            args.extend_from_slice(given);
            setup.run(&args).usage_error();
        }
        assert_eq!(setup.json(&["channel", "show", "1"]), before);
    }
}

both_databases! {
    fn channel_create_takes_the_routing_and_ticket_options(db: TestDatabase) {
        let setup = Setup::new(db);
        add_user(&setup, "alice@example.com", "Alice", "Smith");
        add_user(&setup, "carol@example.com", "Carol", "White");
        setup.run(&["team", "add", "Tier 1"]).ok();
        setup.run(&["team", "add-member", "Tier 1", "carol@example.com"]).ok();

        assert_eq!(
            setup
                .run(&[
                    "channel", "create", "--name", "Support", "--company", "Acme",
                    "--forwarding-address", "support@inbox.example.com", "--from-name", "company",
                    "--assign", "users-and-teams", "--assign-user", "Alice@example.com",
                    "--assign-team", "Tier 1", "--any-availability", "--tickets", "off",
                    "--ticket-property", "pipeline=Support", "--ticket-property", "priority=high",
                    "--source", "Support@Groups.example.com",
                ])
                .ok(),
            "Created channel 1 (draft). Forward mail to support@inbox.example.com\n"
        );
        let out = setup.run(&["channel", "show", "1"]).ok().to_owned();
        assert!(
            out.ends_with(
                "From name:          company (\"Acme\")\n\
                 From address:       default: the user's USERNAME@inbox.example.com\n\
                 Signature:          none\n\
                 Finished:           no (draft; `teaminbox-admin channel finish 1` connects it)\n\
                 Assignment:         users-and-teams (away users too)\n\
                 Assign to users:    alice@example.com\n\
                 Assign to teams:    Tier 1\n\
                 Tickets:            off\n\
                 Ticket properties:  pipeline=Support, priority=high\n\
                 Sources:            support@groups.example.com (added by the admin)\n\
                 Verification:       none received (a provider's forwarding confirmation shows here)\n"
            ),
            "{out}"
        );
        let (routing, candidates) = processor_view(&setup.store, 1);
        assert_eq!(routing.assign_mode.as_str(), "users-and-teams");
        assert!(routing.any_availability);
        assert!(!routing.tickets_enabled);
        assert_eq!(candidates, ["alice@example.com", "carol@example.com"]);

        // With a made address too; --json prints the channel as show does.
        let created = setup.json(&[
            "channel", "create", "--name", "Sales", "--company", "Acme Sales",
            "--assign", "contact-owner", "--ticket-property", "stage=New",
        ]);
        assert_eq!(created["assign_mode"], "contact-owner");
        assert_eq!(created["ticket_properties"], json!({"stage": "New"}));
        assert_eq!(created, setup.json(&["channel", "show", "2"]));
        let run = setup.run(&["channel", "create", "--name", "Empty", "--company", "Nobody", "--assign", "users-and-teams"]);
        assert!(run.ok().ends_with(
            "Note: the channel names no users or teams yet, so its conversations stay unassigned; \
             add some with --assign-user or --assign-team.\n"
        ), "{run:#?}");

        // A refused option refuses the whole channel: no row is left.
        let channels = |setup: &Setup| setup.json(&["channel", "list"]).as_array().unwrap().len();
        let refusals: &[(&[&str], &str)] = &[
            (
                &["--forwarding-address", "help@inbox.example.com", "--assign", "users-and-teams",
                  "--assign-user", "alice@example.com", "--assign-user", "zed@example.com"],
                "there is no user zed@example.com",
            ),
            (
                &["--assign-team", "Tier 2", "--tickets", "on"],
                "there is no team Tier 2",
            ),
        ];
        for (given, expected) in refusals {
            let mut args = vec!["channel", "create", "--name", "Help", "--company", "Acme Help"];
            args.extend_from_slice(given);
            assert_eq!(setup.run(&args).fails(1), format!("teaminbox-admin: {expected}"));
            assert_eq!(channels(&setup), 3, "{args:?} left a channel");
        }
        let line = setup
            .run(&["channel", "create", "--name", "Help", "--company", "Acme Help", "--ticket-property", "priority"])
            .fails(2)
            .to_owned();
        assert!(line.starts_with("teaminbox-admin: --ticket-property `priority` is not KEY=VALUE"), "{line}");
        assert_eq!(channels(&setup), 3);
        // The company and address those refusals named are still free.
        setup
            .run(&["channel", "create", "--name", "Help", "--company", "Acme Help", "--forwarding-address", "help@inbox.example.com"])
            .ok();
    }
}

/// What the processor reads of a channel's routing, in the transaction of
/// a message to it: the routing and the round-robin candidates' emails.
fn processor_view(store: &Store, channel: i64) -> (ChannelRouting, Vec<String>) {
    let inbound = enqueue(store, channel);
    let (routing, candidates) = store
        .inbox()
        .apply(inbound, |tx| {
            Ok((
                tx.channel_routing(channel)?,
                tx.round_robin_candidates(channel)?,
            ))
        })
        .unwrap();
    (routing, candidates.into_iter().map(|c| c.email).collect())
}

fn enqueue(store: &Store, channel_id: i64) -> i64 {
    store
        .inbound()
        .enqueue({
            let base = inbound_message(
                "support@inbox.example.com",
                channel_id,
                b"Subject: hello\r\n\r\nhello\r\n",
            );
            NewInboundMessage {
                spam_check: None,
                received_at: NaiveDate::from_ymd_opt(2026, 11, 20)
                    .unwrap()
                    .and_hms_opt(9, 0, 0)
                    .unwrap(),
                session: teaminbox_store::model::SmtpSession {
                    mail_from: "customer@example.org".into(),
                    ..base.session
                },
                ..base
            }
        })
        .unwrap()
}

both_databases! {
    fn queue_retry_puts_failed_messages_back(db: TestDatabase) {
        let setup = Setup::new(db);
        assert_eq!(setup.run(&["queue", "retry"]).ok(), "No failed messages to retry.\n");
        let channel = add_channel(&setup.store, "support@inbox.example.com");
        for _ in 0..3 {
            enqueue(&setup.store, channel);
        }
        setup.db.execute("UPDATE inbound_messages SET state = 'failed', attempts = 5 WHERE id IN (1, 2)");
        assert_eq!(
            setup.json(&["queue", "status"]),
            json!({"pending": 1, "processing": 0, "done": 0, "failed": 2})
        );
        assert_eq!(setup.run(&["queue", "retry"]).ok(), "Put 2 failed messages back in the queue.\n");
        assert_eq!(
            setup.json(&["queue", "status"]),
            json!({"pending": 3, "processing": 0, "done": 0, "failed": 0})
        );
        let list = setup.json(&["queue", "list"]);
        assert!(list.as_array().unwrap().iter().all(|m| m["attempts"] == 0), "{list}");
        setup.db.execute("UPDATE inbound_messages SET state = 'failed' WHERE id = 3");
        assert_eq!(setup.run(&["queue", "retry"]).ok(), "Put 1 failed message back in the queue.\n");
        assert_eq!(setup.json(&["queue", "retry"]), json!({"retried": 0}));
    }
}

#[test]
fn every_new_command_has_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["user", "add", "--help"][..],
        &["user", "list", "--help"],
        &["user", "availability", "--help"],
        &["team", "add", "--help"],
        &["team", "add-member", "--help"],
        &["team", "list", "--help"],
        &["contact", "list", "--help"],
        &["contact", "show", "--help"],
        &["contact", "set-owner", "--help"],
        &["channel", "update", "--help"],
        &["conversation", "list", "--help"],
        &["conversation", "show", "--help"],
        &["conversation", "assign", "--help"],
        &["conversation", "close", "--help"],
        &["conversation", "reopen", "--help"],
        &["ticket", "list", "--help"],
        &["ticket", "show", "--help"],
        &["queue", "retry", "--help"],
    ] {
        let run = admin(dir.path(), args);
        let out = run.ok();
        assert!(out.contains("Example"), "{args:?}: {out}");
        let command = format!("teaminbox-admin {} {}", args[0], args[1]);
        assert!(
            out.contains(&command),
            "{args:?} shows no example of itself: {out}"
        );
        assert!(out.contains("--json"), "{args:?} has no --json: {out}");
    }
    // Create takes every option update takes (but the channel's id).
    for command in ["update", "create"] {
        let run = admin(dir.path(), ["channel", command, "--help"]);
        let out = run.ok();
        for flag in [
            "--assign <MODE>",
            "--assign-user <EMAIL>",
            "--assign-team <NAME>",
            "--any-availability",
            "--only-available",
            "--tickets <on|off>",
            "--ticket-property <KEY=VALUE>",
            "--clear-assignees",
            "--from-name <agent-and-company|company>",
            "--from-address <ADDRESS>",
            "--signature-file <FILE>",
            "--forwarding-address <ADDRESS>",
        ] {
            assert!(out.contains(flag), "{command} {flag}: {out}");
        }
    }
}
