//! Who gets a new conversation: pure decisions on plain values.

use teaminbox_store::inbox::Candidate;

/// Round robin: among the eligible candidates (available ones, unless the
/// channel takes any availability), the one whose last assignment from this
/// channel is oldest; never assigned counts as oldest; ties by user id.
pub fn round_robin(candidates: &[Candidate], any_availability: bool) -> Option<&Candidate> {
    candidates
        .iter()
        .filter(|c| any_availability || c.available)
        .min_by_key(|c| (c.last_assigned_at.is_some(), c.last_assigned_at, c.user_id))
}

/// A ticket's fields from the channel's ticket properties (a JSON object):
/// `name` (default: the subject), `pipeline`, `stage`, `priority`, and the
/// other keys as custom properties.
pub struct TicketFields {
    pub name: String,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub priority: Option<String>,
    /// JSON object of the custom keys.
    pub custom: String,
}

pub fn ticket_fields(properties: &str, subject: &str) -> TicketFields {
    let mut map = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(properties)
        .unwrap_or_default();
    let mut take = |key: &str| {
        map.remove(key).map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
    };
    let name = take("name").filter(|n| !n.is_empty());
    let pipeline = take("pipeline");
    let stage = take("stage");
    let priority = take("priority");
    TicketFields {
        name: name.unwrap_or_else(|| subject.to_owned()),
        pipeline,
        stage,
        priority,
        custom: serde_json::Value::Object(map).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn candidate(user_id: i64, available: bool, last: Option<u32>) -> Candidate {
        Candidate {
            user_id,
            email: format!("u{user_id}@example.com"),
            first_name: format!("U{user_id}"),
            available,
            last_assigned_at: last.map(|day| {
                NaiveDate::from_ymd_opt(2026, 11, day)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            }),
        }
    }

    #[test]
    fn the_oldest_last_assignment_wins_and_never_is_oldest() {
        let all = [
            candidate(1, true, Some(20)),
            candidate(2, true, Some(10)),
            candidate(3, true, None),
        ];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 3);
        assert_eq!(round_robin(&all[..2], false).unwrap().user_id, 2);
    }

    #[test]
    fn ties_go_to_the_lower_id() {
        let all = [candidate(7, true, None), candidate(4, true, None)];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 4);
    }

    #[test]
    fn away_users_are_skipped_unless_the_channel_says_any() {
        let all = [candidate(1, false, None), candidate(2, true, Some(25))];
        assert_eq!(round_robin(&all, false).unwrap().user_id, 2);
        assert_eq!(round_robin(&all, true).unwrap().user_id, 1);
        assert!(round_robin(&all[..1], false).is_none());
    }

    #[test]
    fn ticket_fields_default_the_name_to_the_subject() {
        let t = ticket_fields(
            r#"{"pipeline":"Support","priority":"high","team":"emea"}"#,
            "Printer on fire",
        );
        assert_eq!(t.name, "Printer on fire");
        assert_eq!(t.pipeline.as_deref(), Some("Support"));
        assert_eq!(t.priority.as_deref(), Some("high"));
        assert_eq!(t.stage, None);
        assert_eq!(t.custom, r#"{"team":"emea"}"#);
        assert_eq!(ticket_fields(r#"{"name":"Fixed"}"#, "x").name, "Fixed");
    }
}
