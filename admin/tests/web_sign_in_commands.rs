//! `teaminbox-admin user set-password`, `user sign-in-link`, `user role`
//! and `user add --admin`, the real binary on SQLite and PostgreSQL: how
//! the web inbox's users get in.

mod common;

use assert_cmd::Command;
use common::{Run, Setup};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::cli::scrub_env;

fn add_alice(setup: &Setup, extra: &[&str]) {
    let mut args = vec![
        "user",
        "add",
        "alice@example.com",
        "--first-name",
        "Alice",
        "--last-name",
        "Smith",
    ];
    args.extend_from_slice(extra);
    setup.run(&args).ok();
}

/// `user set-password EMAIL` with `stdin` as its (non-terminal) input.
fn set_password(setup: &Setup, email: &str, stdin: &str) -> Run {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("teaminbox-admin"));
    scrub_env(&mut cmd);
    cmd.current_dir(setup.dir.path()).args([
        "--config",
        setup.config.to_str().unwrap(),
        "user",
        "set-password",
        email,
    ]);
    let output = Command::from_std(cmd)
        .write_stdin(stdin)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    Run::from_output("teaminbox-admin", output)
}

both_databases! {
    fn a_password_is_read_from_stdin_and_signs_in(db: TestDatabase) {
        let setup = Setup::new(db);
        add_alice(&setup, &[]);
        let run = set_password(&setup, "Alice@Example.com", "correct horse battery\n");
        assert_eq!(
            run.ok(),
            "Set the web inbox password of alice@example.com; their sessions are signed out.\n"
        );
        let accounts = setup.store.accounts();
        assert!(accounts.check_password("alice@example.com", "correct horse battery").unwrap().is_some());
        assert!(accounts.check_password("alice@example.com", "correct horse battery\n").unwrap().is_none());

        let run = set_password(&setup, "alice@example.com", "short\n");
        assert_eq!(run.fails(2), "teaminbox-admin: the password must be at least 10 characters");
        let run = set_password(&setup, "nobody@example.com", "correct horse battery\n");
        assert_eq!(run.fails(1), "teaminbox-admin: there is no user nobody@example.com");
        // The old password still holds after the refusals.
        assert!(accounts.check_password("alice@example.com", "correct horse battery").unwrap().is_some());
    }
}

both_databases! {
    fn a_password_is_never_an_argument(db: TestDatabase) {
        let setup = Setup::new(db);
        add_alice(&setup, &[]);
        let run = setup.run(&["user", "set-password", "alice@example.com", "hunter2hunter2"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("unexpected argument"), "{run:?}");
    }
}

both_databases! {
    fn a_sign_in_link_is_printed_under_the_public_url(db: TestDatabase) {
        let text = format!(
            "[database]\nurl = \"{}\"\n[web]\npublic_url = \"https://inbox.example.com/\"\n",
            db.url
        );
        let setup = Setup::with_config(db, &text);
        setup.store.migrate().unwrap();
        add_alice(&setup, &[]);
        let run = setup.run(&["user", "sign-in-link", "alice@example.com"]);
        let link = run.ok();
        let token = link
            .strip_prefix("https://inbox.example.com/sign-in/")
            .and_then(|rest| rest.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("{link}"));
        assert_eq!(token.len(), 64);
        let user = setup.store.accounts().redeem_sign_in_link(token).unwrap().unwrap();
        assert_eq!(user.email, "alice@example.com");
        assert!(setup.store.accounts().redeem_sign_in_link(token).unwrap().is_none());

        let run = setup.run(&["user", "sign-in-link", "nobody@example.com"]);
        assert_eq!(run.fails(1), "teaminbox-admin: there is no user nobody@example.com");
    }
}

both_databases! {
    fn roles_are_set_by_add_and_role(db: TestDatabase) {
        let setup = Setup::new(db);
        add_alice(&setup, &["--admin"]);
        setup.run(&["user", "add", "bob@example.com", "--first-name", "Bob", "--last-name", "Jones"]).ok();
        let users = setup.json(&["user", "list"]);
        assert_eq!(users[0]["role"], "admin");
        assert_eq!(users[1]["role"], "agent");
        assert_eq!(setup.run(&["user", "role", "bob@example.com", "admin"]).ok(), "bob@example.com is admin.\n");
        assert_eq!(setup.json(&["user", "role", "alice@example.com", "agent"])["role"], "agent");
        let run = setup.run(&["user", "role", "bob@example.com", "owner"]);
        assert_eq!(run.code, 2, "{run:?}");
    }
}
