//! `teaminbox-admin spam ...` and `conversation spam|not-spam` where they
//! must refuse, on SQLite and PostgreSQL: without an rspamd configured,
//! for a conversation that does not exist, and with neither or both of
//! `--spam` and `--ham`. (Teaching a real rspamd is tested end to end in
//! tests/e2e: spam_filtering_through_postfix.)

mod common;

use common::Setup;
use teaminbox_testkit::both_databases;

both_databases! {
    fn spam_commands_refuse_clearly(db: TestDatabase) {
        let setup = Setup::new(db);
        let dir = setup.dir.path().display().to_string();
        assert_eq!(
            setup.run(&["spam", "learn", "--spam", &dir]).fails(2),
            "teaminbox-admin: [spam] rspamd_url is not set in the configuration: there is no rspamd to teach"
        );
        assert_eq!(
            setup.run(&["conversation", "spam", "99"]).fails(1),
            "teaminbox-admin: there is no conversation 99"
        );
        assert_eq!(
            setup.run(&["conversation", "not-spam", "99"]).fails(1),
            "teaminbox-admin: there is no conversation 99"
        );
        let run = setup.run(&["spam", "learn"]);
        assert!(run.usage_error().contains("--spam <DIR>"), "{run:#?}");
        let run = setup.run(&["spam", "learn", "--spam", &dir, "--ham", &dir]);
        assert!(run.usage_error().contains("cannot be used with"), "{run:#?}");
        assert_eq!(setup.json(&["spam", "lessons"]), serde_json::json!([]));
    }
}

both_databases! {
    fn spam_learn_says_when_rspamd_cannot_be_reached(db: TestDatabase) {
        // A closed port: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let text = format!(
            "[milter]\nhosted_domains = [\"inbox.example.com\"]\n[database]\nurl = \"{}\"\n\
             [spam]\nrspamd_url = \"http://127.0.0.1:{port}\"\n",
            db.url
        );
        let setup = Setup::with_config(db, &text);
        let folder = setup.dir.path().join("spam");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("1.eml"), "Subject: hi\r\n\r\nhello\r\n").unwrap();
        let run = setup.run(&["spam", "learn", "--spam", &folder.display().to_string()]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(run.stdout.contains("not learned: ") && run.stdout.contains("cannot reach rspamd"), "{run:#?}");
        assert!(run.stdout.contains("Learned 0 messages as spam; 1 failed."), "{run:#?}");
        assert_eq!(run.stderr, "teaminbox-admin: rspamd learned none of the 1 messages\n");
    }
}
