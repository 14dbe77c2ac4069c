//! `teaminbox-admin user ...`: the team members conversations go to.

use crate::{
    cli::{Availability, Role, UserAdd, UserCommand, UserRoleArgs},
    input::{address, text_field},
    output, AdminError, AdminResult,
};
use std::io::{BufRead, IsTerminal};
use teaminbox_store::{
    accounts::Accounts,
    config::Config,
    model::{User, UserRole},
    settings::NewUser,
    Store,
};

pub fn run(command: UserCommand, store: &Store, config: &Config) -> AdminResult {
    match command {
        UserCommand::SetPassword(args) => {
            let email = address("EMAIL", &args.email)?;
            store.settings().user(&email)?;
            let password = read_password()?;
            let user = store.accounts().set_password(&email, &password)?;
            output::say(&format!(
                "Set the web inbox password of {}; their sessions are signed out.",
                user.email
            ));
            Ok(())
        }
        UserCommand::SignInLink(args) => {
            let email = address("EMAIL", &args.email)?;
            let token = store.accounts().create_sign_in_link(&email)?;
            println!("{}/sign-in/{token}", config.web.public_url());
            Ok(())
        }
        UserCommand::Role(args) => set_role(args, store),
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

fn set_role(args: UserRoleArgs, store: &Store) -> AdminResult {
    let email = address("EMAIL", &args.email)?;
    let role = match args.role {
        Role::Agent => UserRole::Agent,
        Role::Admin => UserRole::Admin,
    };
    let user = store.accounts().set_role(&email, role)?;
    if args.json.json {
        output::json(&user);
    } else {
        println!("{} is {}.", user.email, user.role);
    }
    Ok(())
}

/// The new password: typed twice on a terminal without echo, else the
/// first line of standard input.
fn read_password() -> Result<String, AdminError> {
    let unreadable =
        |e: std::io::Error| AdminError::Refused(format!("cannot read the password: {e}"));
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ").map_err(unreadable)?;
        let again = rpassword::prompt_password("Again: ").map_err(unreadable)?;
        if first != again {
            return Err(AdminError::Usage("the two passwords differ".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(unreadable)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    match Accounts::new_password_problem(&password) {
        Some(problem) => Err(AdminError::Usage(problem)),
        None => Ok(password),
    }
}

const HEADER: [&str; 7] = [
    "ID",
    "EMAIL",
    "FIRST NAME",
    "LAST NAME",
    "USERNAME",
    "AVAILABILITY",
    "ROLE",
];

fn row(u: &User) -> Vec<String> {
    vec![
        u.id.to_string(),
        u.email.clone(),
        u.first_name.clone(),
        u.last_name.clone(),
        u.username.clone(),
        availability(u).into(),
        u.role.clone(),
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
    let username = match &args.username {
        Some(given) => text_field("--username", given)?,
        None => NewUser::default_username(&email),
    };
    let user = store.settings().add_user(&NewUser {
        email: &email,
        first_name,
        last_name,
        username,
    })?;
    let user = if args.admin {
        store.accounts().set_role(&user.email, UserRole::Admin)?
    } else {
        user
    };
    if args.json.json {
        output::json(&user);
    } else {
        output::say(&format!(
            "Added user {} ({} {}, username {}, {}), available.",
            user.email, user.first_name, user.last_name, user.username, user.role
        ));
    }
    Ok(())
}
