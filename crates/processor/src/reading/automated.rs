//! Automated-mail detection.

use super::*;

pub(super) fn automated(
    headers: &Headers<'_>,
    context: &Context<'_>,
    root: &Entity,
) -> Option<String> {
    let marker = context.loop_marker.trim();
    if !marker.is_empty()
        && headers
            .all("X-Loop")
            .filter_map(value_text)
            .any(|v| v.trim().eq_ignore_ascii_case(marker))
    {
        return Some("our own X-Loop".into());
    }
    // Bounces: the local part of From or Sender, however the header is
    // written ("MAILER-DAEMON" alone has no domain).
    let local_parts: Vec<String> = ["From", "Sender"]
        .iter()
        .filter_map(|name| headers.first(name))
        .flat_map(|value| match value {
            HeaderValue::Address(address) => match address {
                Address::List(list) => list.iter().collect::<Vec<_>>(),
                Address::Group(groups) => groups.iter().flat_map(|g| &g.addresses).collect(),
            }
            .into_iter()
            .filter_map(|a| a.address.as_deref().or(a.name.as_deref()))
            .map(|a| {
                a.split('@')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    if local_parts.iter().any(|l| l == "mailer-daemon") {
        return Some("from MAILER-DAEMON".into());
    }
    let report = root.is_type("multipart", "report");
    if local_parts.iter().any(|l| l == "postmaster") {
        let subject = headers.text("Subject").unwrap_or_default().to_lowercase();
        if report
            || [
                "undeliver",
                "delivery status",
                "delivery failure",
                "failure notice",
                "returned mail",
                "not delivered",
            ]
            .iter()
            .any(|s| subject.contains(s))
        {
            return Some("postmaster bounce".into());
        }
    }
    if report {
        return Some("delivery or disposition report (multipart/report)".into());
    }
    let token = |name: &str| {
        headers.text(name).map(|v| {
            clean_line(&v)
                .split([';', '(', ' '])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        })
    };
    if let Some(value) = token("Auto-Submitted") {
        if !value.is_empty() && value != "no" {
            return Some(format!("Auto-Submitted: {value}"));
        }
    }
    if let Some(value) = token("Precedence") {
        if matches!(value.as_str(), "bulk" | "junk" | "auto_reply") {
            return Some(format!("Precedence: {value}"));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond"] {
        if token(name).is_some_and(|v| v != "no" && v != "false") {
            return Some(name.into());
        }
    }
    if let Some(value) = headers.text("X-Auto-Response-Suppress") {
        for item in value.split(',') {
            let item = clean_line(item);
            if ["all", "oof", "autoreply"]
                .iter()
                .any(|s| item.eq_ignore_ascii_case(s))
            {
                return Some(format!("X-Auto-Response-Suppress: {item}"));
            }
        }
    }
    if is_null_sender(context.mail_from) {
        return Some("null return path".into());
    }
    None
}
