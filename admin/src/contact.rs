//! `teaminbox-admin contact ...`: the people who write to the channels.

use crate::{cli::ContactCommand, input::address, output, AdminResult};
use teaminbox_store::{
    views::{Contact, ContactKey},
    Store,
};

pub fn run(command: ContactCommand, store: &Store) -> AdminResult {
    match command {
        ContactCommand::List(flag) => {
            let contacts = store.views().contacts()?;
            if flag.json {
                output::json(&contacts);
            } else {
                let rows = contacts
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            c.address.clone(),
                            output::or_dash(c.name.as_deref()),
                            c.owner_email.clone().unwrap_or_else(|| "-".into()),
                            c.conversation_ids.len().to_string(),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["ID", "ADDRESS", "NAME", "OWNER", "CONVERSATIONS"], &rows);
            }
            Ok(())
        }
        ContactCommand::Show(args) => {
            let key = match ContactKey::parse(args.contact.trim()) {
                ContactKey::Address(given) => ContactKey::Address(address("EMAIL|ID", &given)?),
                id => id,
            };
            show(&store.views().contact(&key)?, args.json.json);
            Ok(())
        }
        ContactCommand::SetOwner(args) => {
            let contact = address("CONTACT_EMAIL", &args.contact)?;
            let user = address("USER_EMAIL", &args.user)?;
            let contact = store.settings().set_contact_owner(&contact, &user)?;
            if args.json.json {
                output::json(&contact);
            } else {
                println!(
                    "{} (contact {}) is now owned by {user}.",
                    output::line(&contact.address),
                    contact.id
                );
            }
            Ok(())
        }
    }
}

fn show(c: &Contact, json: bool) {
    if json {
        output::json(c);
        return;
    }
    let ids = c
        .conversation_ids
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    output::fields(&[
        ("Contact", c.id.to_string()),
        ("Address", c.address.clone()),
        ("Name", output::or_dash(c.name.as_deref())),
        ("Owner", c.owner_email.clone().unwrap_or_else(|| "-".into())),
        (
            "Conversations",
            if ids.is_empty() {
                "-".into()
            } else {
                ids.join(", ")
            },
        ),
        ("First seen", format!("{} UTC", output::time(&c.created_at))),
    ]);
}
