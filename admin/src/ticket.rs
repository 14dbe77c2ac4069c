//! `teaminbox-admin ticket ...`: the tickets channels made.

use crate::{cli::TicketCommand, output, AdminError, AdminResult};
use teaminbox_store::tickets::TicketUpdate;
use teaminbox_store::views::Ticket;
use teaminbox_store::Store;

pub fn run(command: TicketCommand, store: &Store) -> AdminResult {
    match command {
        TicketCommand::List(flag) => {
            let tickets = store.views().tickets()?;
            if flag.json {
                output::json(&tickets);
            } else {
                let dash = |v: &Option<String>| output::or_dash(v.as_deref());
                let rows = tickets
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.conversation_id.to_string(),
                            t.conversation_status.clone(),
                            dash(&t.pipeline),
                            dash(&t.stage),
                            dash(&t.priority),
                            dash(&t.owner_email),
                            t.name.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(
                    &[
                        "ID",
                        "CONVERSATION",
                        "STATUS",
                        "PIPELINE",
                        "STAGE",
                        "PRIORITY",
                        "OWNER",
                        "NAME",
                    ],
                    &rows,
                );
            }
            Ok(())
        }
        TicketCommand::Show(args) => {
            show(&store.views().ticket(args.id)?, args.json.json);
            Ok(())
        }
        TicketCommand::Update(args) => {
            let update = TicketUpdate {
                name: args.name,
                pipeline: args.pipeline,
                stage: args.stage,
                priority: args.priority,
            };
            if let Some(problem) = update.problem() {
                return Err(AdminError::Usage(problem));
            }
            show(
                &store.settings().update_ticket(args.id, &update)?,
                args.json.json,
            );
            Ok(())
        }
    }
}

/// Prints a ticket, as a table of fields or as JSON.
fn show(t: &Ticket, json: bool) {
    if json {
        output::json(t);
        return;
    }
    let dash = |v: &Option<String>| output::or_dash(v.as_deref());
    let properties = t
        .custom_properties()
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>();
    output::fields(&[
        ("Ticket", t.id.to_string()),
        ("Name", t.name.clone()),
        (
            "Conversation",
            format!(
                "{} ({}, channel {})",
                t.conversation_id, t.conversation_status, t.channel_id
            ),
        ),
        ("Pipeline", dash(&t.pipeline)),
        ("Stage", dash(&t.stage)),
        ("Priority", dash(&t.priority)),
        (
            "Properties",
            if properties.is_empty() {
                "-".into()
            } else {
                properties.join(", ")
            },
        ),
        ("Owner", dash(&t.owner_email)),
        ("Created", format!("{} UTC", output::time(&t.created_at))),
    ]);
}
