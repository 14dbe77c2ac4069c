//! `teaminbox-admin spam ...` and `conversation spam|not-spam`: teaching
//! rspamd.

use crate::{
    cli::{ConversationId, SpamCommand, SpamLearn},
    output, AdminError, AdminResult,
};
use teaminbox_spam::lessons;
use teaminbox_store::config::Config;
use teaminbox_store::model::SpamClass;
use teaminbox_store::Store;

pub fn run(command: SpamCommand, store: &Store, config: &Config) -> AdminResult {
    match command {
        SpamCommand::Learn(args) => learn(args, config),
        SpamCommand::Lessons(flag) => {
            let lessons = store.spam_lessons().list()?;
            if flag.json {
                output::json(&lessons);
            } else {
                let rows = lessons
                    .iter()
                    .map(|l| {
                        vec![
                            l.id.to_string(),
                            l.inbound_message_id.to_string(),
                            l.class.clone(),
                            l.state.clone(),
                            l.attempts.to_string(),
                            l.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(
                    &["ID", "MESSAGE", "CLASS", "STATE", "ATTEMPTS", "ERROR"],
                    &rows,
                );
            }
            Ok(())
        }
    }
}

/// `conversation spam|not-spam ID`.
pub fn mark(args: ConversationId, class: SpamClass, store: &Store) -> AdminResult {
    let marked = store.spam_lessons().mark_conversation(args.id, class)?;
    if args.json.json {
        output::json(&marked);
        return Ok(());
    }
    let id = marked.conversation.id;
    let status = &marked.conversation.status;
    if marked.changed {
        println!("Conversation {id} is now {status}.");
    } else {
        println!("Conversation {id} was already {status}.");
    }
    if let Some(ticket) = marked.ticket_created {
        println!("Ticket {ticket} created (the channel creates tickets).");
    }
    let counts = marked.lessons;
    println!(
        "Queued {} lesson{} for rspamd as {} ({} message{} already taught{}).",
        counts.queued,
        plural(counts.queued),
        class.as_str(),
        counts.already,
        plural(counts.already),
        if counts.without_raw_message > 0 {
            format!(
                "; {} without its raw message, dropped by [retention]",
                counts.without_raw_message
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

fn learn(args: SpamLearn, config: &Config) -> AdminResult {
    let (class, dir) = match (args.spam, args.ham) {
        (Some(dir), None) => (SpamClass::Spam, dir),
        (None, Some(dir)) => (SpamClass::Ham, dir),
        _ => {
            return Err(AdminError::Usage(
                "give one of --spam DIR or --ham DIR".into(),
            ))
        }
    };
    if !config.spam.enabled() {
        return Err(AdminError::Usage(
            "[spam] rspamd_url is not set in the configuration: there is no rspamd to teach".into(),
        ));
    }
    let mut files = std::fs::read_dir(&dir)
        .map_err(|e| AdminError::Refused(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect::<Vec<_>>();
    files.sort();
    let rspamd = teaminbox_spam::teacher(&config.spam);
    let counts = lessons::learn_files(&rspamd, class, &files);
    if args.json.json {
        output::json(&serde_json::json!({
            "class": class.as_str(),
            "learned": counts.learned,
            "failed": counts.failed.len(),
        }));
    } else {
        for (path, why) in &counts.failed {
            println!(
                "not learned: {}: {why}",
                output::line(&path.display().to_string())
            );
        }
        println!(
            "Learned {} message{} as {}; {} failed.",
            counts.learned,
            plural(counts.learned),
            class.as_str(),
            counts.failed.len()
        );
    }
    if counts.learned == 0 && !counts.failed.is_empty() {
        return Err(AdminError::Refused(format!(
            "rspamd learned none of the {} messages",
            counts.failed.len()
        )));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
