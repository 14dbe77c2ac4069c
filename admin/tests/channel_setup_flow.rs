//! Setting up a channel as a mail admin lives it: create the channel, shape
//! how replies look (From name, From address, signature), copy the
//! forwarding address into the mail provider, connect and finish. The real
//! `teaminbox-admin` binary, on SQLite and PostgreSQL.

mod common;

use common::{admin, keys, Setup};
use serde_json::Value;
use std::path::PathBuf;
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::{
    settings::{ChannelUpdate, NewChannel},
    StoreError,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::TestDatabase;

const SIGNATURE: &str = "<p>Best regards,<br>\n\
    <b>{{sender.full_name}}</b> | Acme Support</p>\n\
    <p>Questions? Ask {{ sender.first_name }}: \
    <a href=\"mailto:help@acme.example\">help@acme.example</a> &middot; \
    <a href=\"https://acme.example/help\">Help centre</a></p>\n\
    <img src=\"https://acme.example/logo.png\" alt=\"Acme\" width=\"120\" height=\"40\">\n";

/// A setup whose replies go out from `inbox.example.com` by default.
fn setup(db: TestDatabase) -> Setup {
    let setup = Setup::new(db);
    let mut config = std::fs::read_to_string(&setup.config).unwrap();
    config.push_str("[outbound]\ndefault_from_domain = \"inbox.example.com\"\n");
    std::fs::write(&setup.config, config).unwrap();
    setup
}

/// Writes `text` to a file in the setup's directory and returns its path.
fn file(setup: &Setup, name: &str, text: &str) -> PathBuf {
    let path = setup.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn create_support(setup: &Setup) -> Value {
    setup.json(&[
        "channel",
        "create",
        "--name",
        "Support",
        "--company",
        "Acme",
        "--forwarding-address",
        "support@inbox.example.com",
    ])
}

both_databases! {
    fn a_channel_is_created_shaped_connected_and_finished(db: TestDatabase) {
        let setup = setup(db);
        setup.run(&[
            "user", "add", "alice@example.com", "--first-name", "Alice", "--last-name", "Smith",
        ]).ok();

        // Create: a draft, with the default reply settings.
        let created = create_support(&setup);
        assert_eq!(created["status"], "draft");
        assert_eq!(created["from_name_mode"], "agent-and-company");
        assert_eq!(created["from_address"], Value::Null);
        assert_eq!(created["signature_html"], Value::Null);
        assert_eq!(created["finished_at"], Value::Null);
        // A draft already receives mail.
        let route = setup.store.inbound().route("support@inbox.example.com", "+").unwrap().unwrap();
        assert_eq!(route.owner, teaminbox_store::inbound::Owner::Channel(1));
        assert!(route.enabled);

        // The From name: the company only.
        let updated = setup.json(&["channel", "update", "1", "--from-name", "company"]);
        assert_eq!(updated["from_name_mode"], "company");
        assert_eq!(
            setup.run(&["channel", "preview", "1"]).ok(),
            "From: \"Acme\" <jane@inbox.example.com>\n\n\
             (no signature; add one with `teaminbox-admin channel update 1 --signature-file FILE`)\n"
        );

        // Back to "agent at company", with a signature.
        let path = file(&setup, "signature.html", SIGNATURE);
        let updated = setup.json(&[
            "channel", "update", "1", "--from-name", "agent-and-company",
            "--signature-file", path.to_str().unwrap(),
        ]);
        assert_eq!(updated["from_name_mode"], "agent-and-company");
        assert_eq!(updated["signature_html"], SIGNATURE.trim());
        // Nothing else changed.
        for key in ["id", "name", "company", "forwarding_address", "status", "created_at", "assign_mode"] {
            assert_eq!(updated[key], created[key], "{key}");
        }

        // Preview, as a user: what the contact sees.
        assert_eq!(
            setup.run(&["channel", "preview", "1", "--as", "Alice@Example.com"]).ok(),
            "From: \"Alice Smith at Acme\" <alice@inbox.example.com>\n\n\
             Best regards,\n\
             Alice Smith | Acme Support\n\
             Questions? Ask Alice: help@acme.example \u{b7} Help centre <https://acme.example/help>\n\
             Acme\n"
        );
        assert_eq!(
            setup.run(&["channel", "preview", "1", "--as", "alice@example.com", "--html"]).ok(),
            "From: \"Alice Smith at Acme\" <alice@inbox.example.com>\n\n\
             <p>Best regards,<br>\n\
             <b>Alice Smith</b> | Acme Support</p>\n\
             <p>Questions? Ask Alice: \
             <a href=\"mailto:help@acme.example\">help@acme.example</a> \u{b7} \
             <a href=\"https://acme.example/help\">Help centre</a></p>\n\
             <img alt=\"Acme\" height=\"40\" src=\"https://acme.example/logo.png\" width=\"120\">\n"
        );
        // Without --as: the sample agent.
        let sample = setup.run(&["channel", "preview", "1"]);
        assert!(
            sample.ok().starts_with("From: \"Jane Doe at Acme\" <jane@inbox.example.com>\n\nBest regards,\nJane Doe | Acme Support\n"),
            "{sample:#?}"
        );
        let preview = setup.json(&["channel", "preview", "1", "--as", "alice@example.com"]);
        assert_eq!(
            keys(&preview),
            ["as", "channel_id", "from", "from_address", "from_name", "signature_html", "signature_text"]
        );
        assert_eq!(preview["as"], "alice@example.com");
        assert_eq!(preview["from_name"], "Alice Smith at Acme");
        assert_eq!(preview["from_address"], "alice@inbox.example.com");
        assert_eq!(preview["from"], "\"Alice Smith at Acme\" <alice@inbox.example.com>");
        assert!(preview["signature_html"].as_str().unwrap().contains("<b>Alice Smith</b>"));
        assert!(preview["signature_text"].as_str().unwrap().contains("Ask Alice:"));
        assert_eq!(setup.json(&["channel", "preview", "1"])["as"], Value::Null);
        assert_eq!(
            setup.run(&["channel", "preview", "1", "--as", "zed@example.com"]).fails(1),
            "teaminbox-admin: there is no user zed@example.com"
        );

        // Instructions for every provider, with the address filled in.
        for (provider, must) in [
            ("gmail", &["Forwarding and POP/IMAP", "Add a forwarding address", "teaminbox-admin channel show 1", "Forward a copy of incoming mail to"][..]),
            ("google-groups", &["Members", "Add members", "Directly add members", "Each email", "X-Original-From", "`teaminbox-admin channel update 1 --source GROUP-ADDRESS`"]),
            ("microsoft-365", &["Exchange admin center", "Manage mail flow settings", "Keep a copy of forwarded email", "outbound spam policy", "Automatic forwarding rules"]),
            ("outlook", &["Settings", "Mail", "Forwarding", "Keep a copy of forwarded messages"]),
            ("other", &["alias", "DKIM"]),
        ] {
            let out = setup.run(&["channel", "instructions", "1", "--provider", provider]).ok().to_owned();
            assert!(out.contains("support@inbox.example.com"), "{provider}: {out}");
            for text in must {
                assert!(out.contains(text), "{provider} lacks {text}: {out}");
            }
            assert!(out.contains(" 1. "), "{provider}: numbered steps: {out}");
            assert!(out.trim_end().ends_with("`teaminbox-admin channel finish 1` (the forwarding address is fixed from then on)."), "{out}");
            let json = setup.json(&["channel", "instructions", "1", "--provider", provider]);
            assert_eq!(keys(&json), ["channel_id", "forwarding_address", "provider", "steps"]);
            assert_eq!(json["provider"], provider);
            assert_eq!(json["forwarding_address"], "support@inbox.example.com");
            assert!(json["steps"].as_array().unwrap().len() >= 3);
        }
        setup.run(&["channel", "instructions", "1", "--provider", "yahoo"]).usage_error();

        // While a draft, the forwarding address may change.
        let moved = setup.json(&["channel", "update", "1", "--forwarding-address", "Help@Inbox.Example.com"]);
        assert_eq!(moved["forwarding_address"], "help@inbox.example.com");
        assert!(setup.store.inbound().route("support@inbox.example.com", "+").unwrap().is_none());

        // Connect and finish.
        assert_eq!(
            setup.run(&["channel", "finish", "1"]).ok(),
            "Channel 1 is connected. Mail forwarded to help@inbox.example.com lands in its inbox; \
             the forwarding address can no longer change.\n"
        );
        let finished = setup.json(&["channel", "show", "1"]);
        assert_eq!(finished["status"], "connected");
        common::assert_rfc3339_utc(&finished["finished_at"]);
        let again = setup.run(&["channel", "finish", "1"]);
        assert!(again.ok().starts_with("Channel 1 was already connected on "), "{again:#?}");
        assert_eq!(setup.json(&["channel", "finish", "1"]), finished);

        // Afterwards the forwarding address is locked; the rest is not.
        let line = setup
            .run(&["channel", "update", "1", "--forwarding-address", "other@inbox.example.com"])
            .fails(1)
            .to_owned();
        assert_eq!(
            line,
            "teaminbox-admin: the forwarding address of channel 1 cannot change after finishing \
             (connect and finish locked it)"
        );
        // Nothing of a refused update is applied.
        setup
            .run(&["channel", "update", "1", "--name", "Renamed", "--forwarding-address", "other@inbox.example.com"])
            .fails(1);
        assert_eq!(setup.json(&["channel", "show", "1"]), finished);
        // The same address again is no change.
        setup.run(&["channel", "update", "1", "--forwarding-address", "help@inbox.example.com"]).ok();
        let renamed = setup.json(&["channel", "update", "1", "--name", "Help desk", "--no-signature"]);
        assert_eq!(renamed["name"], "Help desk");
        assert_eq!(renamed["signature_html"], Value::Null);
        assert_eq!(renamed["forwarding_address"], "help@inbox.example.com");

        // The lock holds in the store too, not only in the admin.
        let refused = setup.store.settings().update_channel(1, &ChannelUpdate {
            forwarding_address: Some(ForwardingAddress::parse("x@inbox.example.com").unwrap()),
            ..Default::default()
        });
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");

        // `channel show` prints the reply settings and the verification.
        let show = setup.run(&["channel", "show", "1"]);
        let out = show.ok();
        assert!(out.contains("\nFrom name:          agent-and-company (\"Jane Doe at Acme\")\n"), "{out}");
        assert!(out.contains("\nFrom address:       default: the user's USERNAME@inbox.example.com\n"), "{out}");
        assert!(out.contains("\nSignature:          none\n"), "{out}");
        assert!(out.contains("UTC (connected; the forwarding address is fixed)\n"), "{out}");
        assert!(out.contains("\nVerification:       none received"), "{out}");
        // Instructions for a finished channel say so.
        let out = setup.run(&["channel", "instructions", "1", "--provider", "gmail"]).ok().to_owned();
        assert!(out.trim_end().ends_with("Channel 1 is already connected and finished; nothing more to do."), "{out}");
    }
}

both_databases! {
    fn a_from_name_belongs_to_one_hosted_address(db: TestDatabase) {
        let setup = setup(db);
        create_support(&setup);
        let expected = "teaminbox-admin: the From name \"ACME\" is already used by channel 1 \
                        (support@inbox.example.com); a From name may belong to one hosted address only";
        // Same company, another case; with a given or a generated address.
        let run = setup.run(&[
            "channel", "create", "--name", "Sales", "--company", "ACME",
            "--forwarding-address", "sales@inbox.example.com",
        ]);
        assert_eq!(run.fails(1), expected);
        let run = setup.run(&["channel", "create", "--name", "Sales", "--company", " ACME "]);
        assert_eq!(run.fails(1), expected);
        assert_eq!(setup.store.settings().channels().unwrap().len(), 1);

        // Another company is fine; renaming it to Acme is not.
        // (PostgreSQL's sequence moved on with the refused rows.)
        let sales = setup.json(&[
            "channel", "create", "--name", "Sales", "--company", "Acme Sales",
            "--forwarding-address", "sales@inbox.example.com",
        ]);
        let sales = sales["id"].to_string();
        let run = setup.run(&["channel", "update", &sales, "--company", "acme"]);
        assert_eq!(
            run.fails(1),
            "teaminbox-admin: the From name \"acme\" is already used by channel 1 \
             (support@inbox.example.com); a From name may belong to one hosted address only"
        );
        assert_eq!(setup.json(&["channel", "show", &sales])["company"], "Acme Sales");
        // A channel keeps its own From name when its company is set again.
        let same = setup.json(&["channel", "update", "1", "--company", "ACME"]);
        assert_eq!(same["company"], "ACME");

        // The database holds the rule: a row written behind the store's
        // back is refused too.
        assert_eq!(
            setup.db.rows("SELECT company_from_name AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS TEXT) AS c \
             FROM channels ORDER BY id"),
            [(Some("acme".into()), None, None), (Some("acme sales".into()), None, None)]
        );
        let duplicate = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            setup.db.execute(
                "INSERT INTO channels (name, company, company_from_name, forwarding_address, created_at) \
                 VALUES ('X', 'Acme', 'acme', 'x@inbox.example.com', '2026-11-27 10:00:00')",
            )
        }));
        assert!(duplicate.is_err(), "the unique index refuses a second acme");

        // Admins creating at once: exactly one gets the name.
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let store = setup.store.clone();
                    scope.spawn(move || {
                        let address = ForwardingAddress::parse(&format!("race{i}@inbox.example.com")).unwrap();
                        store.settings().create_channel(&NewChannel {
                            name: "Race",
                            company: "Racing Co",
                            forwarding_address: &address,
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(refused, StoreError::Conflict(m) if m.starts_with("the From name \"Racing Co\" is already used by channel ")),
                "{refused:?}"
            );
        }
    }
}

both_databases! {
    fn a_custom_from_address_needs_a_verified_sending_domain(db: TestDatabase) {
        let setup = setup(db);
        let expected = "teaminbox-admin: the domain acme.example of --from-address is not a verified \
                        sending domain; connect it with `teaminbox-admin domain add acme.example`, \
                        publish the DNS records it prints, then `teaminbox-admin domain verify acme.example`";
        // Refused at creation: no channel is made.
        let run = setup.run(&[
            "channel", "create", "--name", "Support", "--company", "Acme",
            "--from-address", "Support@Acme.Example",
        ]);
        assert_eq!(run.fails(1), expected);
        assert!(setup.store.settings().channels().unwrap().is_empty());

        create_support(&setup);
        let before = setup.json(&["channel", "show", "1"]);
        let run = setup.run(&["channel", "update", "1", "--from-address", "support@acme.example"]);
        assert_eq!(run.fails(1), expected);
        // Added but not verified yet: still refused.
        setup.db.execute(
            "INSERT INTO sending_domains (domain, selector, private_key_pem, dns_txt, created_at) \
             VALUES ('acme.example', 'teaminbox', 'key', 'v=DKIM1; k=rsa; p=AAAA', '2026-11-27 10:00:00')",
        );
        assert_eq!(
            setup.run(&["channel", "update", "1", "--from-address", "support@acme.example"]).fails(1),
            expected
        );
        assert_eq!(setup.json(&["channel", "show", "1"]), before);
        assert!(!setup.store.settings().sending_domain_verified("acme.example").unwrap());

        // Verified: accepted, in lower case.
        setup.db.execute(
            "UPDATE sending_domains SET verified_at = '2026-11-27 10:05:00' WHERE domain = 'acme.example'",
        );
        assert!(setup.store.settings().sending_domain_verified("acme.example").unwrap());
        let updated = setup.json(&["channel", "update", "1", "--from-address", "Support@Acme.Example"]);
        assert_eq!(updated["from_address"], "support@acme.example");
        assert!(setup.run(&["channel", "preview", "1"]).ok()
            .starts_with("From: \"Jane Doe at Acme\" <support@acme.example>\n"));
        assert!(setup.run(&["channel", "show", "1"]).ok()
            .contains("\nFrom address:       support@acme.example\n"));
        // A subdomain is not the verified domain.
        let run = setup.run(&["channel", "update", "1", "--from-address", "a@mail.acme.example"]);
        assert!(run.fails(1).contains("the domain mail.acme.example of --from-address"));
        // Back to the default.
        let reset = setup.json(&["channel", "update", "1", "--default-from-address"]);
        assert_eq!(reset["from_address"], Value::Null);
        assert!(setup.run(&["channel", "preview", "1"]).ok()
            .starts_with("From: \"Jane Doe at Acme\" <jane@inbox.example.com>\n"));
        // Created with one.
        let sales = setup.json(&[
            "channel", "create", "--name", "Sales", "--company", "Acme Sales",
            "--from-address", "sales@acme.example", "--from-name", "company",
        ]);
        assert_eq!(sales["from_address"], "sales@acme.example");
        assert_eq!(sales["from_name_mode"], "company");
        // Malformed or contradictory: usage errors.
        let line = setup.run(&["channel", "update", "1", "--from-address", "Support <s@acme.example>"]).fails(2).to_owned();
        assert!(line.contains("--from-address: `Support <s@acme.example>` is not an email address"), "{line}");
        setup.run(&["channel", "update", "1", "--from-address", "s@acme.example", "--default-from-address"]).usage_error();
    }
}

both_databases! {
    fn unsafe_signatures_are_refused_with_line_and_column(db: TestDatabase) {
        let setup = setup(db);
        create_support(&setup);
        let before = setup.json(&["channel", "show", "1"]);
        let cases = [
            (
                "script.html",
                "<p>Jane</p>\n<p>Acme</p>\n  <script>alert(1)</script>\n",
                "line 3, column 3: <script> is not allowed in a signature: it can run code, load content or take input; remove it",
            ),
            (
                "onclick.html",
                "<p>Jane</p>\n<a href=\"https://acme.example\" onclick=\"steal()\">Acme</a>\n",
                "line 2, column 32: the event handler attribute onclick on <a> runs code and is not allowed; remove it",
            ),
            (
                "javascript.html",
                "<p>{{sender.full_name}}</p>\n<p><a href=\"javascript:alert(document.cookie)\">Acme</a></p>\n",
                "line 2, column 7: the link javascript: on <a> can run code and is not allowed; write an https:, http:, mailto: or tel: address",
            ),
            (
                "token.html",
                "<p>{{sender.full_name}}</p>\n<p>Mail me: {{sender.email}}</p>\n",
                "line 2, column 13: unknown token {{sender.email}}; the tokens are {{sender.full_name}} and {{sender.first_name}}",
            ),
        ];
        for (name, text, expected) in cases {
            let path = file(&setup, name, text);
            let path = path.to_str().unwrap();
            let run = setup.run(&["channel", "update", "1", "--signature-file", path]);
            assert_eq!(
                run.fails(1),
                format!("teaminbox-admin: --signature-file {path}: {expected}")
            );
            // Refused at creation too, and nothing is created.
            let run = setup.run(&[
                "channel", "create", "--name", "Other", "--company", "Other Co",
                "--signature-file", path,
            ]);
            assert!(run.fails(1).ends_with(expected), "{run:#?}");
        }
        assert_eq!(setup.json(&["channel", "show", "1"]), before);
        assert_eq!(setup.store.settings().channels().unwrap().len(), 1);

        // A file that cannot be used is a usage error.
        let missing = setup.dir.path().join("missing.html");
        let line = setup
            .run(&["channel", "update", "1", "--signature-file", missing.to_str().unwrap()])
            .fails(2)
            .to_owned();
        assert!(line.contains("cannot read it"), "{line}");
        let empty = file(&setup, "empty.html", " \n");
        let line = setup
            .run(&["channel", "update", "1", "--signature-file", empty.to_str().unwrap()])
            .fails(2)
            .to_owned();
        assert!(line.contains("is empty; to remove the signature, use --no-signature"), "{line}");
        let latin1 = setup.dir.path().join("latin1.html");
        std::fs::write(&latin1, b"<p>Gr\xfc\xdfe</p>").unwrap();
        let line = setup
            .run(&["channel", "update", "1", "--signature-file", latin1.to_str().unwrap()])
            .fails(2)
            .to_owned();
        assert!(line.contains("is not UTF-8 text"), "{line}");
        assert_eq!(setup.json(&["channel", "show", "1"]), before);
    }
}

both_databases! {
    fn header_injection_in_names_is_refused(db: TestDatabase) {
        let setup = setup(db);
        for (flag, value) in [
            ("--name", "Support\r\nBcc: victim@example.org"),
            ("--company", "Acme\r\nBcc: victim@example.org"),
            ("--company", "Acme\nSubject: hi"),
        ] {
            let (name, company) = if flag == "--name" { (value, "Acme") } else { ("Support", value) };
            let run = setup.run(&["channel", "create", "--name", name, "--company", company]);
            let line = run.fails(2);
            assert!(line.starts_with(&format!("teaminbox-admin: {flag} `")), "{line}");
            assert!(line.contains("contains a control character"), "{line}");
        }
        assert!(setup.store.settings().channels().unwrap().is_empty());

        create_support(&setup);
        let before = setup.json(&["channel", "show", "1"]);
        for flag in ["--name", "--company"] {
            let line = setup
                .run(&["channel", "update", "1", flag, "Acme\r\nBcc: victim@example.org"])
                .fails(2)
                .to_owned();
            assert!(line.contains("contains a control character"), "{line}");
        }
        assert_eq!(setup.json(&["channel", "show", "1"]), before);

        // Quotes are fine: the From name is quoted in the header.
        setup.run(&["channel", "update", "1", "--company", "Acme \"Best\" Co"]).ok();
        assert!(setup.run(&["channel", "preview", "1"]).ok()
            .starts_with("From: \"Jane Doe at Acme \\\"Best\\\" Co\" <jane@inbox.example.com>\n"));
    }
}

#[test]
fn the_set_up_commands_have_examples() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["channel", "create", "--help"][..],
        &["channel", "update", "--help"],
        &["channel", "preview", "--help"],
        &["channel", "instructions", "--help"],
        &["channel", "finish", "--help"],
    ] {
        let run = admin(dir.path(), args);
        let out = run.ok();
        assert!(out.contains("Example"), "{args:?}: {out}");
        assert!(
            out.contains(&format!("teaminbox-admin {} {}", args[0], args[1])),
            "{args:?}: {out}"
        );
        assert!(out.contains("--json"), "{args:?}: {out}");
    }
    let run = admin(dir.path(), ["channel", "update", "--help"]);
    let out = run.ok();
    for flag in [
        "--from-name <agent-and-company|company>",
        "--from-address <ADDRESS>",
        "--default-from-address",
        "--signature-file <FILE>",
        "--no-signature",
        "--name <NAME>",
        "--company <COMPANY>",
        "--forwarding-address <ADDRESS>",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
    let run = admin(dir.path(), ["channel", "instructions", "--help"]);
    let out = run.ok();
    for provider in [
        "gmail",
        "google-groups",
        "microsoft-365",
        "outlook",
        "other",
    ] {
        assert!(out.contains(provider), "{provider}: {out}");
    }
}
