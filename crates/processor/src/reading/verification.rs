//! Provider forwarding confirmations.

use super::*;

/// Gmail's forwarding confirmation, trusted only from
/// forwarding-noreply@google.com on an authenticated message.
pub(super) fn gmail_verification(
    from: Option<&Person>,
    subject: &str,
    text: &str,
    html: Option<&str>,
    context: &Context<'_>,
) -> Option<Verification> {
    if from?.address != "forwarding-noreply@google.com" || !context.authenticated {
        return None;
    }
    let code = nine_digits(subject).or_else(|| nine_digits(text))?;
    let link = verification_link(text).or_else(|| html.and_then(verification_link));
    let requested_by = addresses_in(subject)
        .into_iter()
        .find(|a| !a.ends_with("google.com"))
        .or_else(|| {
            text.lines()
                .find(|l| l.to_lowercase().contains("has requested"))
                .and_then(|l| addresses_in(l).into_iter().next())
        })
        .or_else(|| {
            addresses_in(text).into_iter().find(|a| {
                !a.ends_with("google.com")
                    && !context.recipients.iter().any(|r| r.eq_ignore_ascii_case(a))
            })
        })
        .unwrap_or_default();
    Some(Verification {
        provider: "gmail".into(),
        code,
        link,
        requested_by,
    })
}

/// The first run of exactly nine digits.
pub(super) fn nine_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 9 {
                return Some(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Gmail's confirmation link: https://mail-settings.google.com/mail/vf-...
/// or https://mail.google.com/mail/vf-...
pub(super) fn verification_link(text: &str) -> Option<String> {
    for (at, _) in text.match_indices("https://") {
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
            .unwrap_or(rest.len());
        let url = rest[..end]
            .replace("&amp;", "&")
            .trim_end_matches(['.', ','])
            .to_string();
        let Some((host, path)) = url["https://".len()..].split_once('/') else {
            continue;
        };
        let host = host.to_ascii_lowercase();
        if matches!(
            host.as_str(),
            "mail-settings.google.com" | "mail.google.com" | "isolated.mail.google.com"
        ) && path.starts_with("mail/vf-")
        {
            return Some(url);
        }
    }
    None
}

/// Addresses written in free text, lower case.
pub(super) fn addresses_in(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "()<>[],;:\"'".contains(c))
        .filter(|t| t.contains('@'))
        .map(|t| clean_address(t.trim_end_matches('.')))
        .filter(|a| {
            looks_like_address(a) && a.rsplit_once('@').is_some_and(|(_, d)| d.contains('.'))
        })
        .collect()
}
