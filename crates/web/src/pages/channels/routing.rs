//! Step 2, routing and tickets: whether and to whom new conversations are
//! assigned, and whether they get a ticket with which properties; saved as
//! `channel update --assign … --tickets … --ticket-property …` saves them.

use super::{admin_change, next_page, refusal, refused, Steps};
use crate::pages::{page, PageResult};
use crate::session::{Nav, SignedIn};
use crate::{blocking, AppState};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use teaminbox_store::input;
use teaminbox_store::model::{AssignMode, Channel, User};
use teaminbox_store::settings::{RoutingUpdate, TeamWithMembers};
use teaminbox_store::StoreError;

/// The ticket properties with a field of their own; others are custom.
const NAMED_PROPERTIES: [&str; 4] = ["name", "pipeline", "stage", "priority"];

/// The form as sent: a multi-select sends its name once per choice, which
/// a plain struct cannot take.
#[derive(Default)]
struct RoutingForm {
    csrf: String,
    auto_assign: bool,
    /// `users-and-teams` or `contact-owner`.
    assign_mode: String,
    users: Vec<String>,
    teams: Vec<String>,
    only_available: bool,
    tickets: bool,
    /// name, pipeline, stage, priority, in that order.
    named: [String; 4],
    /// `KEY=VALUE` lines.
    custom: String,
    go: String,
}

impl RoutingForm {
    fn parse(body: &str) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body.as_bytes()) {
            let value = value.into_owned();
            match &*key {
                "csrf" => form.csrf = value,
                "auto_assign" => form.auto_assign = true,
                "assign_mode" => form.assign_mode = value,
                "assign_user" => form.users.push(value),
                "assign_team" => form.teams.push(value),
                "only_available" => form.only_available = true,
                "tickets" => form.tickets = true,
                "custom_properties" => form.custom = value,
                "go" => form.go = value,
                other => {
                    if let Some(i) = other
                        .strip_prefix("ticket_")
                        .and_then(|p| NAMED_PROPERTIES.iter().position(|n| *n == p))
                    {
                        form.named[i] = value;
                    }
                }
            }
        }
        form
    }

    fn of(channel: &Channel) -> Self {
        let property = |key: &str| match channel.ticket_properties.get(key) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let custom = channel
            .ticket_properties
            .keys()
            .filter(|k| !NAMED_PROPERTIES.contains(&k.as_str()))
            .map(|k| format!("{k}={}", property(k)))
            .collect::<Vec<_>>()
            .join("\n");
        Self {
            auto_assign: channel.assign_mode != AssignMode::Off,
            assign_mode: match channel.assign_mode {
                AssignMode::ContactOwner => AssignMode::ContactOwner,
                _ => AssignMode::UsersAndTeams,
            }
            .as_str()
            .into(),
            users: channel.assign_users.clone(),
            teams: channel.assign_teams.clone(),
            only_available: !channel.assign_any_availability,
            tickets: channel.tickets_enabled,
            named: NAMED_PROPERTIES.map(property),
            custom,
            ..Self::default()
        }
    }

    fn contact_owner(&self) -> bool {
        self.assign_mode == AssignMode::ContactOwner.as_str()
    }

    fn has_user(&self, email: &str) -> bool {
        self.users.iter().any(|u| u == email)
    }

    fn has_team(&self, name: &str) -> bool {
        self.teams.iter().any(|t| t == name)
    }
}

/// Refusals, next to the assignment or the ticket fields.
#[derive(Default)]
struct Errors {
    assign: Option<String>,
    tickets: Option<String>,
}

#[derive(Template)]
#[template(path = "channel_routing.html")]
struct RoutingPage {
    nav: Nav,
    steps: Steps,
    form: RoutingForm,
    errors: Errors,
    users: Vec<User>,
    teams: Vec<TeamWithMembers>,
    saved: bool,
}

pub(in crate::pages) async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    query: axum::extract::Query<super::replies::Saved>,
) -> PageResult {
    signed_in.require_admin()?;
    let (channel, users, teams) = blocking(&state, move |store| {
        let settings = store.settings();
        Ok((settings.channel(id)?, settings.users()?, settings.teams()?))
    })
    .await?;
    page(&RoutingPage {
        nav: signed_in.nav(),
        steps: Steps::of(&channel, 2),
        form: RoutingForm::of(&channel),
        errors: Errors::default(),
        users,
        teams,
        saved: query.is_saved(),
    })
}

pub(in crate::pages) async fn save(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    body: String,
) -> PageResult {
    let form = RoutingForm::parse(&body);
    admin_change(&signed_in, &form.csrf)?;
    let checked = check(&form);
    let outcome = blocking(&state, move |store| {
        let settings = store.settings();
        let channel = settings.channel(id)?;
        let refusal = match checked {
            Ok(mut update) => {
                // A custom property no longer in the form is removed.
                let properties = update.ticket_properties.get_or_insert_with(Vec::new);
                for key in channel.ticket_properties.keys() {
                    if !properties.iter().any(|(k, _)| k == key) {
                        properties.push((key.clone(), String::new()));
                    }
                }
                match settings.set_channel_routing(id, &update) {
                    Ok(_) => return Ok(Ok(())),
                    Err(StoreError::NotFound(why) | StoreError::Conflict(why)) => Errors {
                        assign: Some(why),
                        tickets: None,
                    },
                    Err(e) => return Err(e),
                }
            }
            Err(errors) => errors,
        };
        Ok(Err((
            refusal,
            channel,
            settings.users()?,
            settings.teams()?,
        )))
    })
    .await?;
    match outcome {
        Ok(()) => {
            let to = next_page(id, &form.go, "replies", "routing?saved=1", "forwarding");
            Ok(Redirect::to(&to).into_response())
        }
        Err((errors, channel, users, teams)) => refused(&RoutingPage {
            nav: signed_in.nav(),
            steps: Steps::of(&channel, 2),
            form,
            errors,
            users,
            teams,
            saved: false,
        }),
    }
}

/// The form as a routing update, checked by the rules of `channel update`;
/// users and teams are looked up by the store.
fn check(form: &RoutingForm) -> Result<RoutingUpdate, Errors> {
    let mut errors = Errors::default();
    let users = form
        .users
        .iter()
        .map(|u| input::address("Assign to user", u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| errors.assign = Some(refusal(&e)));
    let teams = form
        .teams
        .iter()
        .map(|t| input::text_field("Assign to team", t).map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| errors.assign = Some(refusal(&e)));
    let properties = ticket_properties(form).map_err(|e| errors.tickets = Some(e));
    let (Ok(users), Ok(teams), Ok(properties)) = (users, teams, properties) else {
        return Err(errors);
    };
    let mode = match (form.auto_assign, form.contact_owner()) {
        (false, _) => AssignMode::Off,
        (true, true) => AssignMode::ContactOwner,
        (true, false) => AssignMode::UsersAndTeams,
    };
    Ok(RoutingUpdate {
        assign_mode: Some(mode),
        any_availability: Some(!form.only_available),
        assign_users: Some(users),
        assign_teams: Some(teams),
        tickets_enabled: Some(form.tickets),
        ticket_properties: Some(properties),
    })
}

/// The named properties (empty removes) and the custom `KEY=VALUE` lines.
fn ticket_properties(form: &RoutingForm) -> Result<Vec<(String, String)>, String> {
    let mut properties = Vec::new();
    for (key, value) in NAMED_PROPERTIES.iter().zip(&form.named) {
        let value =
            input::one_line("Ticket property value", value.trim()).map_err(|e| refusal(&e))?;
        properties.push(((*key).to_owned(), value.to_owned()));
    }
    for line in form.custom.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "`{}` is not KEY=VALUE, like priority=high (KEY= removes the key)",
                teaminbox_store::address::printable(line)
            ));
        };
        let key = input::text_field("Ticket property key", key).map_err(|e| refusal(&e))?;
        let value =
            input::one_line("Ticket property value", value.trim()).map_err(|e| refusal(&e))?;
        properties.push((key.to_owned(), value.to_owned()));
    }
    Ok(properties)
}
