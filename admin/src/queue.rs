//! `teaminbox-admin queue ...`: what the milter has stored.

use crate::{cli::QueueCommand, output, AdminResult};
use teaminbox_store::Store;

pub fn run(command: QueueCommand, store: &Store) -> AdminResult {
    match command {
        QueueCommand::Status(flag) => {
            let counts = store.inbound().counts()?;
            if flag.json {
                output::json(&counts);
            } else {
                output::table(
                    &["PENDING", "PROCESSING", "DONE", "FAILED"],
                    &[[
                        counts.pending,
                        counts.processing,
                        counts.done,
                        counts.failed,
                    ]
                    .iter()
                    .map(ToString::to_string)
                    .collect()],
                );
            }
            Ok(())
        }
        QueueCommand::Retry(flag) => {
            let retried = store.queue().retry_failed()?;
            if flag.json {
                output::json(&serde_json::json!({ "retried": retried }));
            } else if retried == 0 {
                println!("No failed messages to retry.");
            } else {
                println!(
                    "Put {retried} failed message{} back in the queue.",
                    if retried == 1 { "" } else { "s" }
                );
            }
            Ok(())
        }
        QueueCommand::List(args) => {
            let limit = crate::input::limit(args.limit)?.unwrap_or(i64::MAX);
            let messages = store.inbound().list(limit)?;
            let mut listed = Vec::with_capacity(messages.len());
            for m in messages {
                let recipients = store.inbound().recipients(m.id)?;
                listed.push(Listed {
                    message: m,
                    recipients: recipients.into_iter().map(|r| r.address).collect(),
                });
            }
            if args.json.json {
                output::json(&listed);
            } else {
                let rows: Vec<Vec<String>> = listed
                    .iter()
                    .map(|l| {
                        let m = &l.message;
                        vec![
                            m.id.to_string(),
                            m.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            m.queue_id.clone().unwrap_or_else(|| "-".into()),
                            if m.mail_from.is_empty() {
                                "<>".into()
                            } else {
                                m.mail_from.clone()
                            },
                            l.recipients.join(", "),
                            m.message_size.to_string(),
                            m.state.clone(),
                            m.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "ID",
                        "RECEIVED (UTC)",
                        "QUEUE ID",
                        "MAIL FROM",
                        "RECIPIENTS",
                        "SIZE",
                        "STATE",
                        "ERROR",
                    ],
                    &rows,
                );
            }
            Ok(())
        }
    }
}

#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    message: teaminbox_store::inbound::InboundMessage,
    recipients: Vec<String>,
}
