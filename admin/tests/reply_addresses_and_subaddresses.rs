//! The real `teaminbox-admin`: a username is the local part of its user's
//! reply address, so it may not collide with a forwarding address (either
//! side, enforced by the database) or another user's; and `conversation
//! show` prints the subaddress detail a message came to.

mod common;

use common::Setup;
use teaminbox_processor::Processor;
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::{
    inbound::{HostedRecipient, NewInboundMessage, Owner},
    settings::{NewChannel, NewUser},
    StoreError,
};
use teaminbox_testkit::both_databases;
use teaminbox_testkit::inbound_message;

fn user_add<'a>(email: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "user",
        "add",
        email,
        "--first-name",
        "Jo",
        "--last-name",
        "Doe",
    ];
    args.extend_from_slice(extra);
    args
}

both_databases! {
    fn a_username_and_a_forwarding_address_cannot_collide(db: TestDatabase) {
        let setup = Setup::new(db);
        setup.run(&["channel", "create", "--name", "Support", "--company", "Acme", "--forwarding-address", "support@inbox.example.com"]).ok();
        // The user's side.
        assert_eq!(
            setup.run(&user_add("support@acme.example", &[])).fails(1),
            "teaminbox-admin: the username support would make support@ (in every hosted domain) this user's reply address, \
             but support@ is the forwarding address of channel 1 (support@inbox.example.com); choose another --username"
        );
        setup.run(&user_add("jane@acme.example", &[])).ok();
        // The channel's side: create and update.
        assert_eq!(
            setup.run(&["channel", "create", "--name", "Jane", "--company", "Jane Co", "--forwarding-address", "Jane@inbox.example.com"]).fails(1),
            "teaminbox-admin: the forwarding address jane@inbox.example.com collides with the reply address jane@ of user jane@acme.example \
             (username jane); choose another address"
        );
        assert!(setup
            .run(&["channel", "update", "1", "--forwarding-address", "jane@inbox.example.com"])
            .fails(1)
            .contains("collides with the reply address jane@ of user jane@acme.example"));
        // Two users cannot share a reply address either.
        assert!(setup
            .run(&user_add("jane@other.example", &[]))
            .fails(1)
            .contains("but user jane@acme.example has the reply address jane@"));
        setup.run(&user_add("jane@other.example", &["--username", "jane.o"])).ok();
        // Nothing was half-written by the refusals.
        let users = setup.json(&["user", "list"]);
        assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
        assert_eq!(setup.json(&["channel", "show", "1"])["forwarding_address"], "support@inbox.example.com");
        // A forwarding address that changes frees its local part.
        setup.run(&["channel", "update", "1", "--forwarding-address", "help@inbox.example.com"]).ok();
        setup.run(&user_add("support@acme.example", &[])).ok();
    }
}

both_databases! {
    fn the_database_lets_only_one_of_two_admins_at_once_take_a_local_part(db: TestDatabase) {
        let setup = Setup::new(db);
        for round in 0..4 {
            let name = format!("race{round}");
            let (user, channel) = std::thread::scope(|scope| {
                let store = setup.store.clone();
                let email = format!("{name}@acme.example");
                let user = scope.spawn(move || {
                    store.settings().add_user(&NewUser { email: &email, first_name: "R", last_name: "R", username: &format!("race{round}") })
                });
                let store = setup.store.clone();
                let address = ForwardingAddress::parse(&format!("{name}@inbox.example.com")).unwrap();
                let channel = scope.spawn(move || {
                    store.settings().create_channel(&NewChannel { name: "Race", company: &format!("Race {round}"), forwarding_address: &address })
                });
                (user.join().unwrap(), channel.join().unwrap())
            });
            assert!(user.is_ok() != channel.is_ok(), "exactly one wins: {user:?} {channel:?}");
            let refusal = user.err().or(channel.err()).unwrap();
            assert!(matches!(refusal, StoreError::Conflict(_)), "{refusal:?}");
        }
    }
}

both_databases! {
    fn conversation_show_prints_the_subaddress_detail(db: TestDatabase) {
        let setup = Setup::new(db);
        setup.run(&["channel", "create", "--name", "Support", "--company", "Acme", "--forwarding-address", "support@inbox.example.com"]).ok();
        let address = "support+billing@inbox.example.com";
        setup
            .store
            .inbound()
            .enqueue(NewInboundMessage {
                spam_check: None,
                recipients: vec![HostedRecipient { address: address.into(), owner: Owner::Channel(1), detail: Some("billing".into()) }],
                ..inbound_message(address, 1, &b"From: carol@example.org\r\nSubject: Invoice\r\nMessage-ID: <i1@example.org>\r\n\r\nWrong total.\r\n"[..])
            })
            .unwrap();
        let processor = Processor::new(setup.store.clone(), "teaminbox@inbox.example.com".into());
        assert!(processor.process_next("test-worker"));
        let shown = setup.run(&["conversation", "show", "1"]).ok().to_owned();
        assert!(shown.lines().any(|l| l.starts_with("Subaddress:") && l.ends_with(" billing")), "{shown}");
        assert!(shown.contains(r#"Subaddress: support+billing@inbox.example.com has the detail "billing"."#), "{shown}");
        let json = setup.json(&["conversation", "show", "1"]);
        assert_eq!(json["messages"][0]["detail"], "billing", "{json}");
    }
}
