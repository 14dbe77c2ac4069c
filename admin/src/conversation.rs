//! `teaminbox-admin conversation ...`: reading and working the inbox.
//!
//! Everything that came in with a message (addresses, names, subjects,
//! bodies, filenames) reaches the terminal through [`output`], which
//! escapes what could harm it.

use crate::{
    cli::{ConversationCommand, ConversationList, ConversationStatus},
    input::address,
    output, AdminResult,
};
use teaminbox_store::config::Config;
use teaminbox_store::model::{self, SpamClass};
use teaminbox_store::{
    views::{ConversationDetail, ConversationQuery, ConversationSummary, MessageView, Ticket},
    Store,
};

pub fn run(command: ConversationCommand, store: &Store, config: &Config) -> AdminResult {
    match command {
        ConversationCommand::List(args) => list(args, store),
        ConversationCommand::Reply(args) => crate::reply::run(args, store, config),
        ConversationCommand::Show(args) => {
            let conversation = store.views().conversation(args.id)?;
            if args.json.json {
                output::json(&conversation);
            } else {
                show(&conversation);
            }
            Ok(())
        }
        ConversationCommand::Assign(args) => {
            let user = address("USER_EMAIL", &args.user)?;
            let c = store.settings().assign_conversation(args.id, &user)?;
            if args.json.json {
                output::json(&c);
            } else {
                let ticket = c
                    .ticket_id
                    .map(|t| format!(" Its ticket {t} is theirs too."))
                    .unwrap_or_default();
                println!("Assigned conversation {} to {user}.{ticket}", c.id);
            }
            Ok(())
        }
        ConversationCommand::Close(args) => {
            let (c, changed) = store.settings().close_conversation(args.id)?;
            if args.json.json {
                output::json(&c);
            } else if changed {
                println!("Closed conversation {}.", c.id);
            } else {
                println!("Conversation {} was already closed.", c.id);
            }
            Ok(())
        }
        ConversationCommand::Spam(args) => crate::spam::mark(args, SpamClass::Spam, store),
        ConversationCommand::NotSpam(args) => crate::spam::mark(args, SpamClass::Ham, store),
        ConversationCommand::Reopen(args) => {
            let (c, changed) = store.settings().reopen_conversation(args.id)?;
            if args.json.json {
                output::json(&c);
            } else if changed {
                println!("Reopened conversation {}.", c.id);
            } else {
                println!("Conversation {} is already open.", c.id);
            }
            Ok(())
        }
    }
}

fn list(args: ConversationList, store: &Store) -> AdminResult {
    let limit = crate::input::limit(args.limit)?;
    let filter = ConversationQuery {
        channel: args.channel,
        status: args.status.map(|s| match s {
            ConversationStatus::Open => model::ConversationStatus::Open,
            ConversationStatus::Closed => model::ConversationStatus::Closed,
            ConversationStatus::Spam => model::ConversationStatus::Spam,
        }),
        assignee_email: args
            .assignee
            .as_deref()
            .map(|a| address("--assignee", a))
            .transpose()?,
        unassigned: args.unassigned,
        limit,
        ..ConversationQuery::default()
    };
    let conversations = store.views().conversations(&filter)?;
    if args.json.json {
        output::json(&conversations);
    } else {
        output::table(
            &[
                "ID",
                "LAST MESSAGE (UTC)",
                "CHANNEL",
                "STATUS",
                "CONTACT",
                "ASSIGNEE",
                "TICKET",
                "MESSAGES",
                "SUBJECT",
            ],
            &conversations.iter().map(row).collect::<Vec<_>>(),
        );
    }
    Ok(())
}

fn row(c: &ConversationSummary) -> Vec<String> {
    vec![
        c.id.to_string(),
        output::time(&c.last_message_at),
        c.channel_name.clone(),
        status(&c.status, &c.kind),
        c.contact_address.clone(),
        c.assignee_email.clone().unwrap_or_else(|| "-".into()),
        c.ticket_id.map_or_else(|| "-".into(), |t| t.to_string()),
        c.message_count.to_string(),
        c.subject.clone(),
    ]
}

fn status(status: &str, kind: &str) -> String {
    if kind == model::ConversationKind::Normal.as_str() {
        status.to_owned()
    } else {
        format!("{status}, {kind}")
    }
}

/// `Name <address>`, or the address alone.
fn mailbox(address: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} <{address}>"),
        None => address.to_owned(),
    }
}

fn show(c: &ConversationDetail) {
    println!("Conversation {}: {}", c.id, output::line(&c.subject));
    let owner = c
        .contact
        .owner_email
        .as_deref()
        .map(|o| format!(", owner {o}"))
        .unwrap_or_default();
    let mut fields = vec![
        ("Channel", format!("{} ({})", c.channel_id, c.channel_name)),
        ("Status", status(&c.status, &c.kind)),
        (
            "Contact",
            format!(
                "{} (contact {}{owner})",
                mailbox(&c.contact.address, c.contact.name.as_deref()),
                c.contact.id
            ),
        ),
        (
            "Assignee",
            match &c.assignee {
                Some(a) => format!(
                    "{} ({} {}, {})",
                    a.email,
                    a.first_name,
                    a.last_name,
                    if a.available { "available" } else { "away" }
                ),
                None => "-".into(),
            },
        ),
        (
            "Ticket",
            c.ticket.as_ref().map_or_else(|| "-".into(), ticket),
        ),
    ];
    fields.push(("Started", format!("{} UTC", output::time(&c.created_at))));
    fields.push((
        "Last message",
        format!("{} UTC", output::time(&c.last_message_at)),
    ));
    output::fields(&fields);
    for m in &c.messages {
        println!();
        message(m);
    }
}

/// `4 "Printer on fire", pipeline Support, priority high, team=emea`.
fn ticket(t: &Ticket) -> String {
    let mut parts = vec![format!("{} \"{}\"", t.id, t.name)];
    for (label, value) in [
        ("pipeline", &t.pipeline),
        ("stage", &t.stage),
        ("priority", &t.priority),
    ] {
        if let Some(value) = value {
            parts.push(format!("{label} {value}"));
        }
    }
    for (key, value) in &t.properties {
        let value = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{key}={value}"));
    }
    parts.join(", ")
}

fn message(m: &MessageView) {
    let direction = if m.direction == "in" {
        "received"
    } else {
        "sent"
    };
    println!(
        "--- Message {} ({direction}), filed {} UTC",
        m.id,
        output::time(&m.created_at)
    );
    let mut fields = vec![("From", mailbox(&m.from, m.from_name.as_deref()))];
    if let Some(by) = &m.forwarded_by {
        fields.push(("Forwarded by", by.clone()));
    }
    fields.push(("Subject", m.subject.clone()));
    if let Some(detail) = &m.detail {
        fields.push(("Subaddress", detail.clone()));
    }
    if let Some(sent) = &m.sent_at {
        fields.push(("Sent", format!("{} UTC", output::time(sent))));
    }
    if m.automated {
        fields.push(("Automated", "yes".into()));
    }
    if let Some(check) = &m.spam_check {
        fields.push((
            "Spam check",
            format!("rspamd {} ({:.2})", check.action, check.score),
        ));
    }
    if !m.attachments.is_empty() {
        let files = m
            .attachments
            .iter()
            .map(|a| {
                let mut about = vec![a.content_type.clone(), format!("{} bytes", a.size)];
                if a.inline {
                    about.push("inline".into());
                }
                if let Some(cid) = &a.content_id {
                    about.push(format!("cid {cid}"));
                }
                format!("{} ({})", a.filename, about.join(", "))
            })
            .collect::<Vec<_>>();
        fields.push(("Attachments", files.join("; ")));
    }
    output::fields(&fields);
    println!();
    let text = output::text_block(m.text.trim_end());
    if !text.is_empty() {
        println!("{text}");
        println!();
    }
    if let Some(d) = &m.delivery {
        match &d.last_error {
            Some(e) => println!("Delivery: {} ({})", d.state, output::line(e)),
            None => println!("Delivery: {}", d.state),
        }
    }
    println!("Decisions:");
    for d in &m.decisions {
        println!("  - {}", output::line(d));
    }
}
