//! `teaminbox-admin user ...`: the team members conversations go to.

use crate::{
    cli::{Availability, UserAdd, UserCommand},
    input::{address, text_field},
    output, AdminResult,
};
use teaminbox_store::{model::User, settings::NewUser, Store};

pub fn run(command: UserCommand, store: &Store) -> AdminResult {
    match command {
        UserCommand::Add(args) => add(args, store),
        UserCommand::List(flag) => {
            let users = store.settings().users()?;
            if flag.json {
                output::json(&users);
            } else {
                output::table(&HEADER, &users.iter().map(row).collect::<Vec<_>>());
            }
            Ok(())
        }
        UserCommand::Availability(args) => {
            let email = address("EMAIL", &args.email)?;
            let available = matches!(args.availability, Availability::Available);
            let user = store.settings().set_availability(&email, available)?;
            if args.json.json {
                output::json(&user);
            } else {
                println!("{} is {}.", user.email, availability(&user));
            }
            Ok(())
        }
    }
}

const HEADER: [&str; 6] = [
    "ID",
    "EMAIL",
    "FIRST NAME",
    "LAST NAME",
    "USERNAME",
    "AVAILABILITY",
];

fn row(u: &User) -> Vec<String> {
    vec![
        u.id.to_string(),
        u.email.clone(),
        u.first_name.clone(),
        u.last_name.clone(),
        u.username.clone(),
        availability(u).into(),
    ]
}

fn availability(u: &User) -> &'static str {
    if u.available {
        "available"
    } else {
        "away"
    }
}

fn add(args: UserAdd, store: &Store) -> AdminResult {
    let email = address("EMAIL", &args.email)?;
    let first_name = text_field("--first-name", &args.first_name)?;
    let last_name = text_field("--last-name", &args.last_name)?;
    let local = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
    let username = match &args.username {
        Some(given) => text_field("--username", given)?,
        None => local,
    };
    let user = store.settings().add_user(&NewUser {
        email: &email,
        first_name,
        last_name,
        username,
    })?;
    if args.json.json {
        output::json(&user);
    } else {
        output::say(&format!(
            "Added user {} ({} {}, username {}), available.",
            user.email, user.first_name, user.last_name, user.username
        ));
    }
    Ok(())
}
