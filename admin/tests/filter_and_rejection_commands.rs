//! The real `teaminbox-admin` binary's `filter` and `rejection` commands,
//! on SQLite and PostgreSQL. Exit codes are part of the interface: 0 done,
//! 1 refused or not found, 2 usage error (a value that does not parse).
//! Errors are one line on stderr and never a panic.

mod common;

use chrono::{NaiveDateTime, TimeDelta};
use common::{admin, keys, Setup};
use serde_json::Value;
use teaminbox_store::{
    model::{FilterKind, FilterList},
    rejections::NewRejection,
    settings::ListEntry,
};
use teaminbox_testkit::both_databases;

/// This file's helpers on the shared setup, which leaves the schema to the
/// binary (`Setup::unmigrated`): reading through them migrates first.
impl Setup {
    fn filters(&self) -> Vec<ListEntry> {
        self.db.store().settings().filters(None).unwrap()
    }

    /// `(list, kind, value)` of every stored entry, allow first.
    fn entries(&self) -> Vec<(FilterList, FilterKind, String)> {
        self.filters()
            .into_iter()
            .map(|f| (f.list, f.kind, f.value))
            .collect()
    }

    /// Logs a refusal the way the milter does, at `at` (UTC).
    fn reject(&self, mail_from: &str, reason: &str, at: NaiveDateTime) -> i64 {
        let recipients = vec!["support@inbox.example.com".to_owned()];
        let id = self
            .db
            .store()
            .rejections()
            .record(&NewRejection {
                session: teaminbox_store::model::SmtpSession {
                    queue_id: Some("4dK2xY0l3z".into()),
                    client_address: Some("192.0.2.7".into()),
                    client_name: "mail.example.org".into(),
                    helo: "mail.example.org".into(),
                    mail_from: mail_from.into(),
                },
                header_from: Some("alice@example.org"),
                recipients: &recipients,
                smtp_code: "550",
                enhanced_code: "5.7.1",
                reason,
            })
            .unwrap();
        self.db.execute(&format!(
            "UPDATE rejections SET rejected_at = '{}' WHERE id = {id}",
            at.format("%Y-%m-%d %H:%M:%S")
        ));
        id
    }
}

fn hours_ago(hours: i64) -> NaiveDateTime {
    chrono::Utc::now().naive_utc() - TimeDelta::hours(hours)
}

use FilterKind::{Address, Domain, Ip};
use FilterList::{Allow, Deny};

both_databases! {
    fn add_tells_the_kind_and_stores_the_canonical_value(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        for (args, out) in [
            (["deny", "Spammer@Example.COM"], "Added address spammer@example.com to the deny list.\n"),
            (["deny", "Example.NET."], "Added domain example.net to the deny list.\n"),
            (["deny", "192.0.2.7"], "Added ip 192.0.2.7/32 to the deny list.\n"),
            (["deny", "198.51.100.77/24"], "Added ip 198.51.100.0/24 to the deny list.\n"),
            (["allow", "2001:DB8::/32"], "Added ip 2001:db8::/32 to the allow list.\n"),
            (["allow", "partner.example"], "Added domain partner.example to the allow list.\n"),
        ] {
            let run = setup.run(&["filter", "add", args[0], args[1]]);
            assert_eq!(run.ok(), out, "{args:?}");
        }
        assert_eq!(
            setup.entries(),
            [
                (Allow, Ip, "2001:db8::/32".into()),
                (Allow, Domain, "partner.example".into()),
                (Deny, Address, "spammer@example.com".into()),
                (Deny, Domain, "example.net".into()),
                (Deny, Ip, "192.0.2.7/32".into()),
                (Deny, Ip, "198.51.100.0/24".into()),
            ]
        );
        // On both lists: said, and allowed (deny wins).
        let run = setup.run(&["filter", "add", "deny", "partner.example"]);
        assert_eq!(
            run.ok(),
            "Added domain partner.example to the deny list. It is also on the allow list; the deny list wins.\n"
        );
    }
}

both_databases! {
    fn add_json_prints_the_entry(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        let added = setup.run(&["filter", "add", "deny", "192.0.2.0/24", "--json"]).json();
        assert_eq!(keys(&added), ["created_at", "id", "kind", "list", "value"]);
        assert_eq!(added["list"], "deny");
        assert_eq!(added["kind"], "ip");
        assert_eq!(added["value"], "192.0.2.0/24");
        assert!(added["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(added, serde_json::to_value(&setup.filters()[0]).unwrap());
    }
}

both_databases! {
    fn a_duplicate_is_refused_with_exit_code_1(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        setup.run(&["filter", "add", "deny", "spammer@example.com"]).ok();
        setup.run(&["filter", "add", "deny", "192.0.2.7"]).ok();
        setup.run(&["filter", "add", "deny", "192.0.2.0/24"]).ok();
        for (value, expected) in [
            ("spammer@example.com", "address spammer@example.com is already on the deny list"),
            // The same entry, written differently.
            ("SPAMMER@Example.com", "address spammer@example.com is already on the deny list"),
            ("192.0.2.7/32", "ip 192.0.2.7/32 is already on the deny list"),
            ("::ffff:192.0.2.7", "ip 192.0.2.7/32 is already on the deny list"),
            ("192.0.2.99/24", "ip 192.0.2.0/24 is already on the deny list"),
        ] {
            let run = setup.run(&["filter", "add", "deny", value]);
            assert_eq!(run.fails(1), format!("teaminbox-admin: {expected}"), "{value}");
            let run = setup.run(&["filter", "add", "deny", value, "--json"]);
            assert_eq!(run.fails(1), format!("teaminbox-admin: {expected}"), "{value}");
        }
        assert_eq!(setup.filters().len(), 3);
    }
}

both_databases! {
    fn a_value_that_does_not_parse_exits_2_with_an_example(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        for (value, expected) in [
            ("", "the value is empty; give an address (user@example.com), a domain (example.com), an IP address (192.0.2.7, 2001:db8::7) or a network (192.0.2.0/24, 2001:db8::/32)"),
            ("a b@example.com", "`a b@example.com` contains a blank or a control character; give an address (user@example.com)"),
            ("evil\nBcc: x@example.com", "`evil\\nBcc: x@example.com` contains a blank or a control character"),
            ("@example.com", "`@example.com` has no local part; to list a whole domain give the domain alone (example: example.com)"),
            ("a..b@example.com", "the local part of `a..b@example.com` must be 1 to 64 letters"),
            ("user@exa_mple.com", "in the address `user@exa_mple.com`: `exa_mple.com` is not a domain name"),
            ("192.0.2.0/33", "`192.0.2.0/33` is not an IP network; write ADDRESS/PREFIX with a prefix of at most 32 for IPv4 or 128 for IPv6 (examples: 192.0.2.0/24, 2001:db8::/32)"),
            ("192.0.2.300", "`192.0.2.300` is not an IPv4 address (example: 192.0.2.7)"),
            ("2001:db8:::7", "`2001:db8:::7` is not an IPv6 address (example: 2001:db8::7)"),
            ("*.example.com", "`*.example.com`: a domain entry already matches every subdomain, so give the domain alone (example: example.com)"),
            ("exa_mple.com", "`exa_mple.com` is not a domain name (letters, digits and hyphens, labels separated by dots); give an address"),
        ] {
            for command in ["add", "remove"] {
                let run = setup.run(&["filter", command, "deny", value]);
                let line = run.fails(2);
                assert!(
                    line.starts_with(&format!("teaminbox-admin: {expected}")),
                    "{command} {value:?}: {line}"
                );
            }
        }
        assert!(setup.filters().is_empty(), "nothing is stored by a refused command");
        // A list that is neither allow nor deny: clap's usage error.
        let run = setup.run(&["filter", "add", "block", "example.com"]);
        let stderr = run.usage_error();
        assert!(stderr.contains("invalid value 'block'"), "{run:#?}");
        assert!(stderr.contains("[possible values: allow, deny]"), "{run:#?}");
        let run = setup.run(&["filter", "list", "block"]);
        run.usage_error();
        assert!(setup.filters().is_empty());
    }
}

both_databases! {
    fn remove_takes_an_entry_off_one_list(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        setup.run(&["filter", "add", "deny", "192.0.2.0/24"]).ok();
        setup.run(&["filter", "add", "allow", "example.com"]).ok();
        setup.run(&["filter", "add", "deny", "example.com"]).ok();

        // Written differently, the same network.
        let run = setup.run(&["filter", "remove", "deny", "192.0.2.1/24"]);
        assert_eq!(run.ok(), "Removed ip 192.0.2.0/24 from the deny list.\n");
        let run = setup.run(&["filter", "remove", "deny", "192.0.2.0/24"]);
        assert_eq!(run.fails(1), "teaminbox-admin: ip 192.0.2.0/24 is not on the deny list");

        let run = setup.run(&["filter", "remove", "deny", "Example.com", "--json"]);
        assert_eq!(
            run.json(),
            serde_json::json!({"list": "deny", "kind": "domain", "value": "example.com"})
        );
        // Only that list's entry went.
        assert_eq!(setup.entries(), [(Allow, Domain, "example.com".into())]);
        // Not there, but on the other list: said.
        let run = setup.run(&["filter", "remove", "deny", "example.com"]);
        assert_eq!(
            run.fails(1),
            "teaminbox-admin: domain example.com is not on the deny list (it is on the allow list)"
        );
        assert_eq!(setup.filters().len(), 1);
    }
}

both_databases! {
    fn list_shows_a_table_and_json(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        let header = "ID  LIST  KIND  VALUE  ADDED (UTC)\n";
        assert_eq!(setup.run(&["filter", "list"]).ok(), header);
        assert_eq!(setup.run(&["filter", "list", "deny"]).ok(), header);
        assert_eq!(setup.run(&["filter", "list", "--json"]).json(), Value::Array(vec![]));

        for (list, value) in [
            ("deny", "spammer@example.com"),
            ("allow", "partner.example"),
            ("deny", "2001:db8::/32"),
        ] {
            setup.run(&["filter", "add", list, value]).ok();
        }
        setup.db.execute("UPDATE filters SET created_at = '2026-11-27 10:00:00'");

        assert_eq!(
            setup.run(&["filter", "list"]).ok(),
            "ID  LIST   KIND     VALUE                ADDED (UTC)\n\
             2   allow  domain   partner.example      2026-11-27 10:00:00\n\
             1   deny   address  spammer@example.com  2026-11-27 10:00:00\n\
             3   deny   ip       2001:db8::/32        2026-11-27 10:00:00\n"
        );
        assert_eq!(
            setup.run(&["filter", "list", "allow"]).ok(),
            "ID  LIST   KIND    VALUE            ADDED (UTC)\n\
             2   allow  domain  partner.example  2026-11-27 10:00:00\n"
        );

        let all = setup.run(&["filter", "list", "--json"]).json();
        assert_eq!(all, serde_json::to_value(setup.filters()).unwrap());
        assert_eq!(
            all[0],
            serde_json::json!({
                "id": 2,
                "list": "allow",
                "kind": "domain",
                "value": "partner.example",
                "created_at": "2026-11-27T10:00:00Z",
            })
        );
        let deny = setup.run(&["filter", "list", "deny", "--json"]).json();
        let values: Vec<&str> = deny
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["value"].as_str().unwrap())
            .collect();
        assert_eq!(values, ["spammer@example.com", "2001:db8::/32"]);
    }
}

both_databases! {
    fn rejection_list_shows_a_table_and_json(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        let header = "TIME (UTC)  CLIENT  MAIL FROM  HEADER FROM  RECIPIENTS  CODE  REASON\n";
        assert_eq!(setup.run(&["rejection", "list"]).ok(), header);
        assert_eq!(setup.run(&["rejection", "list", "--json"]).json(), Value::Array(vec![]));

        let at = |text: &str| text.parse::<NaiveDateTime>().unwrap();
        setup.reject(
            "alice@example.org",
            "SPF fail: 192.0.2.7 is not allowed to send for example.org",
            at("2026-11-27T10:02:11"),
        );
        let store = setup.db.store();
        let recipients = vec![
            "support@inbox.example.com".to_owned(),
            "sales@inbox.example.com".to_owned(),
        ];
        let id = store
            .rejections()
            .record(&NewRejection {
                session: teaminbox_store::model::SmtpSession {
                    queue_id: None,
                    client_address: None,
                    client_name: "unknown".into(),
                    helo: "x".into(),
                    mail_from: "".into(),
                },
                // A hostile header: escaped in the table, kept in JSON.
                header_from: Some("evil\u{1b}[2J@example.net"),
                recipients: &recipients,
                smtp_code: "550",
                enhanced_code: "5.7.1",
                reason: "domain example.net matches the header From (deny list)",
            })
            .unwrap();
        setup.db.execute(&format!(
            "UPDATE rejections SET rejected_at = '2026-11-27 11:30:00' WHERE id = {id}"
        ));

        assert_eq!(
            setup.run(&["rejection", "list"]).ok(),
            "TIME (UTC)           CLIENT                       MAIL FROM          HEADER FROM                RECIPIENTS                                          CODE       REASON\n\
             2026-11-27 11:30:00  unknown                      <>                 evil\\u{1b}[2J@example.net  support@inbox.example.com, sales@inbox.example.com  550 5.7.1  domain example.net matches the header From (deny list)\n\
             2026-11-27 10:02:11  mail.example.org[192.0.2.7]  alice@example.org  alice@example.org          support@inbox.example.com                           550 5.7.1  SPF fail: 192.0.2.7 is not allowed to send for example.org\n"
        );

        let listed = setup.run(&["rejection", "list", "--json"]).json();
        assert_eq!(listed, serde_json::to_value(store.rejections().list(None, 10).unwrap()).unwrap());
        assert_eq!(
            listed[1],
            serde_json::json!({
                "id": 1,
                "rejected_at": "2026-11-27T10:02:11Z",
                "queue_id": "4dK2xY0l3z",
                "client_address": "192.0.2.7",
                "client_name": "mail.example.org",
                "helo": "mail.example.org",
                "mail_from": "alice@example.org",
                "header_from": "alice@example.org",
                "recipients": ["support@inbox.example.com"],
                "smtp_code": "550",
                "enhanced_code": "5.7.1",
                "reason": "SPF fail: 192.0.2.7 is not allowed to send for example.org",
            })
        );
        assert_eq!(listed[0]["header_from"], "evil\u{1b}[2J@example.net");
        assert_eq!(listed[0]["client_address"], Value::Null);
        assert_eq!(listed[0]["queue_id"], Value::Null);
        assert_eq!(
            listed[0]["recipients"],
            serde_json::json!(["support@inbox.example.com", "sales@inbox.example.com"])
        );
    }
}

both_databases! {
    fn rejection_list_filters_by_since_and_limit(db: TestDatabase) {
        let setup = Setup::unmigrated(db);
        setup.reject("thirty-days@example.org", "r", hours_ago(24 * 30));
        setup.reject("two-days@example.org", "r", hours_ago(48));
        setup.reject("two-hours@example.org", "r", hours_ago(2));
        setup.reject("ten-minutes@example.org", "r", chrono::Utc::now().naive_utc() - TimeDelta::minutes(10));

        let senders = |args: &[&str]| -> Vec<String> {
            let mut all = vec!["rejection", "list", "--json"];
            all.extend_from_slice(args);
            setup
                .run(&all)
                .json()
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["mail_from"].as_str().unwrap().to_owned())
                .collect()
        };
        let everything = [
            "ten-minutes@example.org",
            "two-hours@example.org",
            "two-days@example.org",
            "thirty-days@example.org",
        ];
        assert_eq!(senders(&[]), everything);
        assert_eq!(senders(&["--since", "30m"]), everything[..1]);
        assert_eq!(senders(&["--since", "1h"]), everything[..1]);
        assert_eq!(senders(&["--since", "3h"]), everything[..2]);
        assert_eq!(senders(&["--since", "1h 30m"]), everything[..1]);
        assert_eq!(senders(&["--since", "7d"]), everything[..3]);
        assert_eq!(senders(&["--since", "365d"]), everything);
        assert_eq!(senders(&["--since", "1000000years"]), everything);
        assert_eq!(senders(&["--since", "1s"]), Vec::<String>::new());
        assert_eq!(senders(&["--limit", "2"]), everything[..2]);
        assert_eq!(senders(&["--limit", "0"]), everything);
        assert_eq!(senders(&["--since", "7d", "--limit", "1"]), everything[..1]);

        // The table is filtered the same way.
        let out = setup.run(&["rejection", "list", "--since", "3h"]).ok().to_owned();
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(out.contains("ten-minutes@example.org") && out.contains("two-hours@example.org"), "{out}");
        assert!(!out.contains("two-days"), "{out}");

        for (args, expected) in [
            (&["--since", "5x"][..], "teaminbox-admin: --since `5x` is not a duration; write it like 30m, 1h, 7d or \"1h 30m\""),
            (&["--since", ""], "teaminbox-admin: --since `` is not a duration"),
            (&["--since", "yesterday"], "teaminbox-admin: --since `yesterday` is not a duration"),
            (&["--limit=-1"], "teaminbox-admin: --limit must be 0 or more"),
        ] {
            let mut all = vec!["rejection", "list"];
            all.extend_from_slice(args);
            let run = setup.run(&all);
            assert!(run.fails(2).starts_with(expected), "{args:?}: {run:#?}");
        }
    }
}

#[test]
fn help_shows_examples() {
    let dir = tempfile::tempdir().unwrap();
    for (args, example) in [
        (&["filter", "--help"][..], "add"),
        (
            &["filter", "add", "--help"],
            "teaminbox-admin filter add deny spammer@example.com",
        ),
        (
            &["filter", "remove", "--help"],
            "teaminbox-admin filter remove deny 192.0.2.0/24",
        ),
        (
            &["filter", "list", "--help"],
            "teaminbox-admin filter list deny --json",
        ),
        (&["rejection", "--help"], "list"),
        (
            &["rejection", "list", "--help"],
            "teaminbox-admin rejection list --since 1h",
        ),
    ] {
        let run = admin(dir.path(), args);
        let out = run.ok();
        assert!(out.contains(example), "{args:?}: {out}");
        if args.len() > 2 {
            assert!(out.contains("Example"), "{args:?}: {out}");
        }
    }
    let run = admin(dir.path(), ["filter", "add", "--help"]);
    let out = run.ok();
    assert!(out.contains("<LIST>") && out.contains("<VALUE>"), "{out}");
    assert!(out.contains("[possible values: allow, deny]"), "{out}");
    assert!(out.contains("192.0.2.0/24"), "{out}");
    // Nothing was touched.
    assert!(!dir.path().join("teaminbox.db").exists());
}
