//! The real `teaminbox-admin` binary, as a mail admin runs it: a
//! configuration file in a temporary directory, SQLite and PostgreSQL.
//! Exit codes are part of the interface: 0 done, 1 refused or not found,
//! 2 usage or configuration error. Errors are one line on stderr and never
//! a panic.

mod common;

use common::{admin, admin_with_env, assert_rfc3339_utc, keys, write_config, Setup};
use serde_json::Value;
use teaminbox_store::model::Channel;
use teaminbox_testkit::both_databases;
use teaminbox_testkit::TestDatabase;

/// A configuration file for `db`, with two hosted domains (the first one
/// written in mixed case, as an admin might), on a database the binary
/// migrates itself.
fn setup(db: TestDatabase) -> Setup {
    let text = format!(
        "[milter]\nhosted_domains = [\"Inbox.Example.com\", \"second.example\"]\n\
         [database]\nurl = \"{}\"\n",
        db.url
    );
    Setup::with_config(db, &text)
}

/// This file's helpers on the shared setup; reading through them migrates
/// first, as `Setup::with_config` leaves the schema to the binary.
impl Setup {
    fn channels(&self) -> Vec<Channel> {
        self.db.store().settings().channels().unwrap()
    }

    /// Creates a channel through the binary and returns it as JSON.
    fn create_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["channel", "create"];
        all.extend_from_slice(args);
        self.json(&all)
    }
}

both_databases! {
    fn create_generates_an_address_in_the_first_hosted_domain(db: TestDatabase) {
        let setup = setup(db);
        let run = setup.run(&["channel", "create", "--name", "Support Team", "--company", "Acme"]);
        let out = run.ok();
        let line = out.strip_suffix('\n').expect("one line");
        assert!(!line.contains('\n'), "{out}");
        let address = line
            .strip_prefix("Created channel 1 (draft). Forward mail to ")
            .unwrap_or_else(|| panic!("unexpected output: {out}"));
        let local = address
            .strip_suffix("@inbox.example.com")
            .unwrap_or_else(|| panic!("not in the first hosted domain, lower case: {address}"));
        let random = local
            .strip_prefix("support-team-")
            .unwrap_or_else(|| panic!("not made from the name: {address}"));
        assert_eq!(random.len(), 5, "{address}");
        assert!(random.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));

        let channels = setup.channels();
        assert_eq!(channels.len(), 1);
        let channel = &channels[0];
        assert_eq!(channel.id, 1);
        assert_eq!(channel.name, "Support Team");
        assert_eq!(channel.company, "Acme");
        assert_eq!(channel.forwarding_address, address);
        assert_eq!(channel.status, "draft");
        assert!(channel.enabled);

        // A second channel of the same name gets another address (and, as
        // a company's From name belongs to one channel, another company).
        let second = setup.create_json(&["--name", "Support Team", "--company", "Acme EU"]);
        assert_ne!(second["forwarding_address"], address);
        assert_eq!(setup.channels().len(), 2);
    }
}

both_databases! {
    fn create_with_a_forwarding_address_stores_it_in_lower_case(db: TestDatabase) {
        let setup = setup(db);
        let run = setup.run(&[
            "channel", "create", "--name", " Sales ", "--company", "Acme Corp",
            "--forwarding-address", "Sales.Team+EU@Second.EXAMPLE",
        ]);
        assert_eq!(
            run.ok(),
            "Created channel 1 (draft). Forward mail to sales.team+eu@second.example\n"
        );
        let channels = setup.channels();
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].forwarding_address, "sales.team+eu@second.example");
        // Surrounding blanks are not part of the name.
        assert_eq!(channels[0].name, "Sales");
        assert_eq!(channels[0].company, "Acme Corp");
        // The hosted domain as configured in mixed case matches too.
        let json = setup.create_json(&[
            "--name", "Help", "--company", "Acme",
            "--forwarding-address", "HELP@inbox.example.com",
        ]);
        assert_eq!(json["forwarding_address"], "help@inbox.example.com");
    }
}

both_databases! {
    fn create_json_has_a_stable_shape(db: TestDatabase) {
        let setup = setup(db);
        let run = setup.run(&[
            "channel", "create", "--name", "Support", "--company", "Acme", "--json",
        ]);
        let json = run.json();
        assert_eq!(
            keys(&json),
            [
                "assign_any_availability",
                "assign_mode",
                "assign_teams",
                "assign_users",
                "company",
                "created_at",
                "enabled",
                "finished_at",
                "forwarding_address",
                "from_address",
                "from_name_mode",
                "id",
                "name",
                "signature_html",
                "sources",
                "status",
                "ticket_properties",
                "tickets_enabled",
                "verification_code",
                "verification_link",
                "verification_received_at",
                "verification_requested_by",
            ]
        );
        assert_eq!(json["id"], 1);
        assert_eq!(json["name"], "Support");
        assert_eq!(json["company"], "Acme");
        assert_eq!(json["status"], "draft");
        assert_eq!(json["enabled"], true);
        let address = json["forwarding_address"].as_str().unwrap();
        assert!(
            address.starts_with("support-") && address.ends_with("@inbox.example.com"),
            "{address}"
        );
        assert_rfc3339_utc(&json["created_at"]);
        // Exactly what is stored.
        let stored = &setup.channels()[0];
        assert_eq!(json, serde_json::to_value(stored).unwrap());
    }
}

both_databases! {
    fn sources_are_added_shown_and_removed(db: TestDatabase) {
        let setup = setup(db);
        setup.create_json(&["--name", "Support", "--company", "Acme"]);
        let run = setup.run(&["channel", "show", "1"]);
        let out = run.ok();
        assert!(out.contains("Sources"), "{out}");
        assert!(out.contains("none (list rewrites are not trusted; `teaminbox-admin channel update 1 --source ADDRESS`"), "{out}");

        let run = setup.run(&["channel", "update", "1", "--source", "Support@Groups.Example.com", "--source", "sales@groups.example.com"]);
        let out = run.ok();
        assert!(out.contains("sales@groups.example.com (added by the admin), support@groups.example.com (added by the admin)"), "{out}");
        // Adding one again changes nothing.
        setup.run(&["channel", "update", "1", "--source", "support@groups.example.com"]).ok();
        let json = setup.json(&["channel", "show", "1"]);
        assert_eq!(
            json["sources"],
            serde_json::json!([
                {"address": "sales@groups.example.com", "origin": "admin"},
                {"address": "support@groups.example.com", "origin": "admin"},
            ])
        );
        let stored: Vec<_> = setup.channels()[0].sources.iter().map(|s| s.address.clone()).collect();
        assert_eq!(stored, ["sales@groups.example.com", "support@groups.example.com"]);

        let json = setup.json(&["channel", "update", "1", "--remove-source", "SALES@groups.example.com"]);
        assert_eq!(json["sources"], serde_json::json!([{"address": "support@groups.example.com", "origin": "admin"}]));

        // Removing one the channel does not have is refused, and nothing
        // else in the same command happens.
        let run = setup.run(&["channel", "update", "1", "--source", "new@groups.example.com", "--remove-source", "sales@groups.example.com"]);
        assert_eq!(run.fails(1), "teaminbox-admin: channel 1 has no source sales@groups.example.com");
        assert_eq!(setup.channels()[0].sources.len(), 1);
        // Not an address: a usage error.
        let run = setup.run(&["channel", "update", "1", "--source", "not an address"]);
        assert!(run.fails(2).contains("--source"));
        let run = setup.run(&["channel", "update", "9", "--source", "a@example.com"]);
        assert_eq!(run.fails(1), "teaminbox-admin: there is no channel 9");
    }
}

both_databases! {
    fn a_taken_address_is_refused_with_exit_code_1(db: TestDatabase) {
        let setup = setup(db);
        setup.create_json(&[
            "--name", "Sales", "--company", "Acme",
            "--forwarding-address", "sales@second.example",
        ]);
        let run = setup.run(&[
            "channel", "create", "--name", "Other", "--company", "Other Inc",
            "--forwarding-address", "SALES@Second.Example",
        ]);
        assert_eq!(
            run.fails(1),
            "teaminbox-admin: the forwarding address sales@second.example \
             is already used by another channel"
        );
        let channels = setup.channels();
        assert_eq!(channels.len(), 1);
        assert_eq!(channels[0].name, "Sales");
    }
}

both_databases! {
    fn an_address_outside_the_hosted_domains_is_refused_with_exit_code_1(db: TestDatabase) {
        let setup = setup(db);
        let run = setup.run(&[
            "channel", "create", "--name", "Sales", "--company", "Acme",
            "--forwarding-address", "sales@Example.ORG",
        ]);
        let line = run.fails(1);
        assert!(line.contains("--forwarding-address"), "{line}");
        assert!(line.contains("example.org is not in a hosted domain"), "{line}");
        assert!(line.contains("inbox.example.com, second.example"), "{line}");
        assert!(line.contains("milter.hosted_domains"), "{line}");
        // A subdomain of a hosted domain is not hosted either.
        let run = setup.run(&[
            "channel", "create", "--name", "Sales", "--company", "Acme",
            "--forwarding-address", "sales@sub.second.example",
        ]);
        assert!(run.fails(1).contains("sub.second.example is not in a hosted domain"));
        assert!(setup.channels().is_empty());
    }
}

both_databases! {
    fn malformed_input_is_a_usage_error_with_exit_code_2(db: TestDatabase) {
        let setup = setup(db);
        const ADDRESS: &str = "--forwarding-address";
        let long_name = "x".repeat(201);
        let cases: &[(&[&str], &str)] = &[
            (
                &[ADDRESS, "no-at-sign"],
                "--forwarding-address: `no-at-sign` is not an address",
            ),
            (
                &[ADDRESS, "a b@inbox.example.com"],
                "--forwarding-address: the local part of `a b@inbox.example.com`",
            ),
            (&[ADDRESS, "a..b@inbox.example.com"], "--forwarding-address: the local part"),
            (&[ADDRESS, "@inbox.example.com"], "--forwarding-address: the local part"),
            (
                &[ADDRESS, "a@inbox example.com"],
                "--forwarding-address: `inbox example.com` is not a domain name",
            ),
            (
                &[ADDRESS, "a\r\nBcc: x@inbox.example.com"],
                "--forwarding-address: the local part of `a\\r\\nBcc: x@inbox.example.com`",
            ),
            (
                &["--name", "Support\nBcc: evil@example.org"],
                "--name `Support\\nBcc: evil@example.org` contains a control character",
            ),
            (
                &["--name", "Sup\u{1b}[31mport"],
                "--name `Sup\\u{1b}[31mport` contains a control character",
            ),
            (
                &["--company", "Acme\tCorp"],
                "--company `Acme\\tCorp` contains a control character",
            ),
            (&["--name", "   "], "--name must not be empty"),
            (&["--company", ""], "--company must not be empty"),
            (&["--name", &long_name], "--name is longer than 200 characters"),
        ];
        for (overrides, expected) in cases {
            let mut args = vec!["channel", "create"];
            for flag in ["--name", "--company"] {
                if !overrides.contains(&flag) {
                    args.extend([flag, "Valid"]);
                }
            }
            args.extend_from_slice(overrides);
            let run = setup.run(&args);
            let line = run.fails(2);
            assert!(
                line.starts_with(&format!("teaminbox-admin: {expected}")),
                "{args:?}: {line}"
            );
        }
        assert!(setup.channels().is_empty(), "nothing is created by a refused command");
    }
}

both_databases! {
    fn list_shows_a_table_and_json(db: TestDatabase) {
        let setup = setup(db);
        // An empty list is just the header.
        let run = setup.run(&["channel", "list"]);
        assert_eq!(run.ok(), "ID  NAME  COMPANY  FORWARDING ADDRESS  STATUS  MAIL\n");
        let run = setup.run(&["channel", "list", "--json"]);
        assert_eq!(run.json(), Value::Array(vec![]));

        setup.create_json(&[
            "--name", "Support", "--company", "Acme",
            "--forwarding-address", "support@inbox.example.com",
        ]);
        setup.create_json(&[
            "--name", "Sales Team", "--company", "Acme Europe",
            "--forwarding-address", "sales@second.example",
        ]);
        setup.run(&["channel", "disable", "2"]).ok();

        let run = setup.run(&["channel", "list"]);
        assert_eq!(
            run.ok(),
            "ID  NAME        COMPANY      FORWARDING ADDRESS         STATUS  MAIL\n\
             1   Support     Acme         support@inbox.example.com  draft   enabled\n\
             2   Sales Team  Acme Europe  sales@second.example       draft   disabled\n"
        );

        let run = setup.run(&["channel", "list", "--json"]);
        let json = run.json();
        let list = json.as_array().expect("a JSON array");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["forwarding_address"], "support@inbox.example.com");
        assert_eq!(list[1]["forwarding_address"], "sales@second.example");
        assert_eq!(list[1]["enabled"], false);
        for item in list {
            assert_rfc3339_utc(&item["created_at"]);
        }
        assert_eq!(json, serde_json::to_value(setup.channels()).unwrap());
    }
}

both_databases! {
    fn a_missing_channel_is_not_found_with_exit_code_1(db: TestDatabase) {
        let setup = setup(db);
        for command in ["show", "disable", "enable"] {
            let run = setup.run(&["channel", command, "42"]);
            assert_eq!(run.fails(1), "teaminbox-admin: there is no channel 42", "{command}");
            let run = setup.run(&["channel", command, "42", "--json"]);
            assert_eq!(run.fails(1), "teaminbox-admin: there is no channel 42", "{command}");
        }
        // disable/enable of a missing id must not create anything.
        assert!(setup.channels().is_empty());
        // Not a number: clap's usage error.
        let run = setup.run(&["channel", "show", "first"]);
        assert!(run.usage_error().contains("invalid value 'first'"), "{run:#?}");
    }
}

both_databases! {
    fn disable_and_enable_turn_a_channels_mail_off_and_on(db: TestDatabase) {
        let setup = setup(db);
        let created = setup.create_json(&[
            "--name", "Support", "--company", "Acme",
            "--forwarding-address", "support@inbox.example.com",
        ]);
        let id = created["id"].as_i64().unwrap().to_string();

        let run = setup.run(&["channel", "disable", &id]);
        let out = run.ok();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("ID  NAME"), "{out}");
        assert!(
            lines[1].starts_with(&format!("{id}  ")) && lines[1].ends_with("draft   disabled"),
            "{out}"
        );
        assert!(!setup.channels()[0].enabled);

        // Disabling twice is harmless.
        setup.run(&["channel", "disable", &id]).ok();
        assert!(!setup.channels()[0].enabled);

        let run = setup.run(&["channel", "show", &id, "--json"]);
        let json = run.json();
        assert_eq!(json["enabled"], false);

        let run = setup.run(&["channel", "enable", &id, "--json"]);
        let json = run.json();
        assert_eq!(json["enabled"], true);
        assert_eq!(json["forwarding_address"], "support@inbox.example.com");
        // Nothing but `enabled` changed.
        assert_eq!(json, created);
        assert!(setup.channels()[0].enabled);

        let run = setup.run(&["channel", "show", &id]);
        assert!(run.ok().lines().nth(1).unwrap().ends_with("draft   enabled"));
    }
}

both_databases! {
    fn queue_status_is_all_zero_on_a_new_database(db: TestDatabase) {
        let setup = setup(db);
        let run = setup.run(&["queue", "status", "--json"]);
        let json = run.json();
        assert_eq!(
            json,
            serde_json::json!({"pending": 0, "processing": 0, "done": 0, "failed": 0})
        );
        let run = setup.run(&["queue", "status"]);
        assert_eq!(run.ok(), "PENDING  PROCESSING  DONE  FAILED\n0        0           0     0\n");
        let run = setup.run(&["queue", "list", "--json"]);
        assert_eq!(run.json(), Value::Array(vec![]));
    }
}

both_databases! {
    fn migrate_twice_says_up_to_date_the_second_time(db: TestDatabase) {
        let setup = setup(db);
        let first = setup.run(&["migrate"]);
        let out = first.ok();
        assert!(!out.is_empty(), "the first run applies the migrations");
        for line in out.lines() {
            let version = line
                .strip_prefix("applied ")
                .unwrap_or_else(|| panic!("unexpected line: {out}"));
            assert!(version.chars().all(|c| c.is_ascii_digit()), "{out}");
        }
        let second = setup.run(&["migrate"]);
        assert_eq!(second.ok(), "The database schema is up to date.\n");
        // The schema is usable afterwards.
        assert!(setup.channels().is_empty());
    }
}

both_databases! {
    fn the_config_file_may_come_from_teaminbox_config(db: TestDatabase) {
        let setup = setup(db);
        let run = admin_with_env(
            setup.dir.path(),
            ["channel", "create", "--name", "Support", "--company", "Acme"],
            &[("TEAMINBOX_CONFIG", setup.config.to_str().unwrap())],
        );
        assert!(run.ok().contains("@inbox.example.com"), "{run:#?}");
        assert_eq!(setup.channels().len(), 1);
        // The working directory is not where the database is.
        assert!(!setup.dir.path().join("teaminbox.db").exists());
    }
}

#[test]
fn a_bad_config_value_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[milter]\nlisten = \"tcp:x\"\n", "milter.listen"),
        (
            "[milter]\nhosted_domains = [\"bad domain\"]\n",
            "milter.hosted_domains",
        ),
        ("[milter]\nhosted_domains = []\n", "milter.hosted_domains"),
        ("[database]\nurl = \"mysql://db/x\"\n", "database.url"),
        ("[database]\npool_size = 0\n", "database.pool_size"),
        (
            "[milter]\nmax_message_size = \"lots\"\n",
            "milter.max_message_size",
        ),
        // Unknown keys are refused by name, not silently ignored.
        ("[milter]\nlisten_on = \"unix:x\"\n", "listen_on"),
        ("[mailer]\nx = 1\n", "mailer"),
    ];
    for (text, key) in cases {
        let config = write_config(dir.path(), text);
        let run = admin(
            dir.path(),
            ["--config", config.to_str().unwrap(), "channel", "list"],
        );
        let line = run.fails(2);
        assert!(
            line.starts_with("teaminbox-admin: configuration error: "),
            "{text}: {line}"
        );
        assert!(line.contains(key), "{text}: {line} should name {key}");
    }
    // A bad file is never touched as a database.
    assert!(!dir.path().join("teaminbox.db").exists());
}

#[test]
fn a_missing_config_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let run = admin(
        dir.path(),
        ["--config", missing.to_str().unwrap(), "queue", "status"],
    );
    assert_eq!(
        run.fails(2),
        format!(
            "teaminbox-admin: configuration error: cannot read configuration file {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    // The same through TEAMINBOX_CONFIG.
    let run = admin_with_env(
        dir.path(),
        ["channel", "list"],
        &[("TEAMINBOX_CONFIG", missing.to_str().unwrap())],
    );
    assert!(!dir.path().join("teaminbox.db").exists());
    assert!(run.fails(2).contains("cannot read configuration file"));
}

#[test]
fn channel_create_help_shows_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let run = admin(dir.path(), ["channel", "create", "--help"]);
    let out = run.ok();
    assert!(out.contains("--name <NAME>"), "{out}");
    assert!(out.contains("--forwarding-address <ADDRESS>"), "{out}");
    assert!(out.contains("Example:"), "{out}");
    assert!(
        out.contains("teaminbox-admin channel create --name Support --company Acme"),
        "{out}"
    );
    // Every subcommand a first-time admin reaches for has an example.
    for args in [
        &["--help"][..],
        &["migrate", "--help"],
        &["channel", "list", "--help"],
        &["channel", "show", "--help"],
        &["channel", "disable", "--help"],
        &["channel", "enable", "--help"],
        &["queue", "status", "--help"],
        &["queue", "list", "--help"],
    ] {
        let run = admin(dir.path(), args);
        assert!(run.ok().contains("Example:"), "{args:?}: {run:#?}");
    }
}

#[test]
fn a_missing_required_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = admin(dir.path(), ["channel", "create", "--name", "Support"]);
    assert!(run.usage_error().contains("--company"), "{run:#?}");
}

/// A database that cannot be reached is a refusal (exit 1) worded once, on
/// one line, although the pool wraps libpq's error and libpq's own message
/// spans two lines.
#[test]
fn an_unreachable_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[database]\nurl = \"postgres://teaminbox@127.0.0.1:1/teaminbox\"\n\
         connect_timeout_secs = 1\n",
    );
    let run = admin(
        dir.path(),
        ["--config", config.to_str().unwrap(), "channel", "list"],
    );
    let line = run.fails(1);
    assert!(
        line.starts_with("teaminbox-admin: database unavailable: "),
        "{line}"
    );
    assert_eq!(line.matches("database unavailable").count(), 1, "{line}");
    assert!(line.contains("127.0.0.1"), "{line}");
}
