//! Loose dates as forwarding clients write them, and time zones.

use super::*;

/// Dates as forwarding clients write them: "Mon, Mar 3, 2025 at 10:15 AM"
/// (Gmail), "Monday, March 3, 2025 10:15 AM" (Outlook), "3 March 2025 at
/// 10:15:02 CET" (Apple Mail), "Mon, 3 Mar 2025 10:15:02 +0100"
/// (Thunderbird), "poniedziałek, 3 marca 2025 16:47" (Outlook in Polish).
/// Without a zone the time is the forwarder's local time, taken from the
/// offset of the forward's own Date header.
pub(super) fn loose_date(text: &str, local_offset: i32) -> Option<NaiveDateTime> {
    const WEEKDAYS: [&str; 28] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "pon",
        "wt",
        "śr",
        "czw",
        "pt",
        "sob",
        "niedz",
        "poniedziałek",
        "wtorek",
        "środa",
        "czwartek",
        "piątek",
        "sobota",
        "niedziela",
    ];
    // Written out: in English, and in Polish in the genitive ("3 marca
    // 2025") and the nominative.
    const MONTHS: [[&str; 3]; 12] = [
        ["january", "stycznia", "styczeń"],
        ["february", "lutego", "luty"],
        ["march", "marca", "marzec"],
        ["april", "kwietnia", "kwiecień"],
        ["may", "maja", "maj"],
        ["june", "czerwca", "czerwiec"],
        ["july", "lipca", "lipiec"],
        ["august", "sierpnia", "sierpień"],
        ["september", "września", "wrzesień"],
        ["october", "października", "październik"],
        ["november", "listopada", "listopad"],
        ["december", "grudnia", "grudzień"],
    ];
    const FORMATS: [&str; 16] = [
        "%b %d %Y %I:%M %p",
        "%b %d %Y %I:%M:%S %p",
        "%b %d %Y %H:%M",
        "%b %d %Y %H:%M:%S",
        "%d %b %Y %I:%M %p",
        "%d %b %Y %I:%M:%S %p",
        "%d %b %Y %H:%M",
        "%d %b %Y %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %I:%M:%S %p",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
    ];
    let text = clean_line(text);
    let mut tokens: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_matches(['(', ')']).to_string())
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("at"))
        .collect();
    if tokens
        .first()
        .is_some_and(|t| WEEKDAYS.contains(&t.trim_end_matches('.').to_lowercase().as_str()))
    {
        tokens.remove(0);
    }
    let mut offset = local_offset;
    while let Some(zone) = tokens.last().and_then(|t| zone_offset(t)) {
        offset = zone;
        tokens.pop();
    }
    let tokens: Vec<String> = tokens
        .into_iter()
        .flat_map(|t| {
            let lower = t.to_lowercase();
            if let Some([english, ..]) = MONTHS.iter().find(|names| names.contains(&&*lower)) {
                return vec![english[..3].to_string()];
            }
            // "10:15AM"
            for suffix in ["am", "pm"] {
                if lower.len() > 2 && lower.ends_with(suffix) && lower.contains(':') {
                    return vec![lower[..lower.len() - 2].to_string(), suffix.to_string()];
                }
            }
            vec![t.trim_end_matches('.').to_string()]
        })
        .collect();
    let normalized = tokens.join(" ");
    let local = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normalized, f).ok())?;
    let utc = local.checked_sub_signed(TimeDelta::seconds(i64::from(offset)))?;
    (1970..=2200)
        .contains(&chrono::Datelike::year(&utc))
        .then_some(utc)
}

/// "+0100", "-08:00", "UTC", "GMT+1", "CET", ... in seconds east of UTC.
pub(super) fn zone_offset(token: &str) -> Option<i32> {
    let upper = token.to_ascii_uppercase();
    let named = match upper.as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => Some(0),
        "BST" | "CET" | "WEST" => Some(3600),
        "CEST" | "EET" | "SAST" => Some(7200),
        "EEST" | "MSK" => Some(3 * 3600),
        "EST" | "CDT" => Some(-5 * 3600),
        "EDT" => Some(-4 * 3600),
        "CST" | "MDT" => Some(-6 * 3600),
        "MST" | "PDT" => Some(-7 * 3600),
        "PST" => Some(-8 * 3600),
        "JST" | "KST" => Some(9 * 3600),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let numeric = upper
        .strip_prefix("GMT")
        .or_else(|| upper.strip_prefix("UTC"))
        .unwrap_or(&upper);
    let (sign, digits) = match numeric.as_bytes().first()? {
        b'+' => (1, &numeric[1..]),
        b'-' => (-1, &numeric[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = if digits.len() <= 2 {
        (digits.parse::<i32>().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (
            digits[..split].parse::<i32>().ok()?,
            digits[split..].parse::<i32>().ok()?,
        )
    };
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}
