//! Tickets as filing makes them: a new conversation's ticket takes its
//! fields from the channel's ticket properties; agents change them later
//! ([`TicketUpdate`]).

use crate::schema::tickets;
use crate::views::{self, Ticket};
use crate::{StoreError, StoreResult};
use diesel::prelude::*;

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

/// An agent's change to a ticket's fields: `None` keeps a field, an empty
/// pipeline, stage or priority clears it. The name cannot be cleared.
#[derive(Clone, Debug, Default)]
pub struct TicketUpdate {
    pub name: Option<String>,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    pub priority: Option<String>,
}

/// The longest value a ticket field takes.
const MAX_FIELD_CHARS: usize = 200;

impl TicketUpdate {
    /// Why the change is refused, in the words the admin and the web show.
    pub fn problem(&self) -> Option<String> {
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Some("a ticket's name cannot be empty".into());
        }
        [
            ("name", &self.name),
            ("pipeline", &self.pipeline),
            ("stage", &self.stage),
            ("priority", &self.priority),
        ]
        .into_iter()
        .find_map(|(field, value)| {
            let value = value.as_deref()?;
            if value.chars().any(char::is_control) {
                Some(format!("the ticket's {field} must be one line of text"))
            } else if value.chars().count() > MAX_FIELD_CHARS {
                Some(format!(
                    "the ticket's {field} is longer than {MAX_FIELD_CHARS} characters"
                ))
            } else {
                None
            }
        })
    }
}

/// A kept or cleared optional field.
fn cleared(value: &Option<String>) -> Option<Option<String>> {
    value
        .as_ref()
        .map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()))
}

impl crate::settings::Settings<'_> {
    /// Changes ticket `id`'s fields and returns it as it is afterwards;
    /// a refused change is [`StoreError::Conflict`] with the reason.
    pub fn update_ticket(&self, id: i64, update: &TicketUpdate) -> StoreResult<Ticket> {
        if let Some(problem) = update.problem() {
            return Err(StoreError::Conflict(problem));
        }
        self.store.write(|conn| {
            views::find_ticket(conn, id)?;
            let ticket = tickets::table.find(id);
            if let Some(name) = &update.name {
                diesel::update(ticket)
                    .set(tickets::name.eq(name.trim()))
                    .execute(conn)?;
            }
            if let Some(pipeline) = cleared(&update.pipeline) {
                diesel::update(ticket)
                    .set(tickets::pipeline.eq(pipeline))
                    .execute(conn)?;
            }
            if let Some(stage) = cleared(&update.stage) {
                diesel::update(ticket)
                    .set(tickets::stage.eq(stage))
                    .execute(conn)?;
            }
            if let Some(priority) = cleared(&update.priority) {
                diesel::update(ticket)
                    .set(tickets::priority.eq(priority))
                    .execute(conn)?;
            }
            views::find_ticket(conn, id)
        })
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
