//! `teaminbox-admin rejection ...`: the messages the milter refused, and why.

use crate::{
    cli::{RejectionCommand, RejectionList},
    output, AdminError, AdminResult,
};
use teaminbox_store::{rejections::Rejection, Store};

pub fn run(command: RejectionCommand, store: &Store) -> AdminResult {
    match command {
        RejectionCommand::List(args) => list(args, store),
    }
}

fn list(args: RejectionList, store: &Store) -> AdminResult {
    let limit = crate::input::limit(args.limit)?.unwrap_or(i64::MAX);
    let since = match &args.since {
        Some(text) => {
            let duration = humantime::parse_duration(text.trim()).map_err(|_| {
                AdminError::Usage(format!(
                    "--since `{}` is not a duration; write it like 30m, 1h, 7d or \"1h 30m\"",
                    text
                ))
            })?;
            // A duration longer than the calendar goes back to the start.
            chrono::TimeDelta::from_std(duration)
                .ok()
                .and_then(|delta| teaminbox_store::now().checked_sub_signed(delta))
        }
        None => None,
    };
    let rejections = store.rejections().list(since, limit)?;
    if args.json.json {
        output::json(&rejections);
    } else {
        let rows = rejections.iter().map(row).collect::<Vec<_>>();
        output::table(
            &[
                "TIME (UTC)",
                "CLIENT",
                "MAIL FROM",
                "HEADER FROM",
                "RECIPIENTS",
                "CODE",
                "REASON",
            ],
            &rows,
        );
    }
    Ok(())
}

/// One line per refusal. The table escapes what came from the SMTP client,
/// so a hostile header cannot move the cursor or clear the screen.
fn row(r: &Rejection) -> Vec<String> {
    let client = match &r.client_address {
        Some(address) => format!("{}[{address}]", r.client_name),
        None => r.client_name.clone(),
    };
    vec![
        r.rejected_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        client,
        if r.mail_from.is_empty() {
            "<>".into()
        } else {
            r.mail_from.clone()
        },
        output::or_dash(r.header_from.as_deref()),
        r.recipients.join(", "),
        format!("{} {}", r.smtp_code, r.enhanced_code),
        r.reason.clone(),
    ]
}
