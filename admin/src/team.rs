//! `teaminbox-admin team ...`: teams of users, which channels assign to.

use crate::{
    cli::TeamCommand,
    input::{address, text_field},
    output, AdminResult,
};
use teaminbox_store::Store;

pub fn run(command: TeamCommand, store: &Store) -> AdminResult {
    match command {
        TeamCommand::Add(args) => {
            let name = text_field("NAME", &args.name)?;
            let team = store.settings().add_team(name)?;
            if args.json.json {
                output::json(&team);
            } else {
                output::say(&format!("Added team {} ({}).", team.name, team.id));
            }
            Ok(())
        }
        TeamCommand::AddMember(args) => {
            let name = text_field("TEAM", &args.team)?;
            let email = address("EMAIL", &args.email)?;
            let team = store.settings().add_team_member(name, &email)?;
            if args.json.json {
                output::json(&team);
            } else {
                output::say(&format!(
                    "Added {email} to team {}; its members are {}.",
                    team.name,
                    team.members.join(", ")
                ));
            }
            Ok(())
        }
        TeamCommand::List(flag) => {
            let teams = store.settings().teams()?;
            if flag.json {
                output::json(&teams);
            } else {
                let rows = teams
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            if t.members.is_empty() {
                                "-".into()
                            } else {
                                t.members.join(", ")
                            },
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["ID", "NAME", "MEMBERS"], &rows);
            }
            Ok(())
        }
    }
}
