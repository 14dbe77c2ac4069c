//! Tickets as filing makes them: a new conversation's ticket takes its
//! fields from the channel's ticket properties.

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
