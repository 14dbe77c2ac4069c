//! `teaminbox-admin channel ...`

use crate::{
    cli::{AssignArg, ChannelCommand, ChannelCreate, ChannelUpdate, OnOff},
    input::{address, one_line, text_field},
    output, AdminError, AdminResult,
};
use teaminbox_milter::{
    address::{printable, ForwardingAddress},
    config::Config,
    store::{
        settings::{AssignMode, Channel, NewChannel, RoutingUpdate},
        Store, StoreError,
    },
};

pub fn run(command: ChannelCommand, store: &Store, config: &Config) -> AdminResult {
    match command {
        ChannelCommand::Create(args) => create(args, store, config),
        ChannelCommand::List(flag) => {
            let channels = store.settings().channels()?;
            if flag.json {
                output::json(&channels);
            } else {
                let rows = channels.iter().map(row).collect::<Vec<_>>();
                output::table(&HEADER, &rows);
            }
            Ok(())
        }
        ChannelCommand::Show(id) => {
            let channel = store.settings().channel(id.id)?;
            if id.json.json {
                output::json(&channel);
            } else {
                show_routing(&channel);
            }
            Ok(())
        }
        ChannelCommand::Update(args) => update(args, store),
        ChannelCommand::Disable(id) => {
            show(&store.settings().set_enabled(id.id, false)?, id.json.json);
            Ok(())
        }
        ChannelCommand::Enable(id) => {
            show(&store.settings().set_enabled(id.id, true)?, id.json.json);
            Ok(())
        }
    }
}

const HEADER: [&str; 6] = [
    "ID",
    "NAME",
    "COMPANY",
    "FORWARDING ADDRESS",
    "STATUS",
    "MAIL",
];

fn row(c: &Channel) -> Vec<String> {
    vec![
        c.id.to_string(),
        c.name.clone(),
        c.company.clone(),
        c.forwarding_address.clone(),
        c.status.clone(),
        if c.enabled { "enabled" } else { "disabled" }.into(),
    ]
}

fn show(channel: &Channel, json: bool) {
    if json {
        output::json(channel);
    } else {
        output::table(&HEADER, &[row(channel)]);
    }
}

fn create(args: ChannelCreate, store: &Store, config: &Config) -> AdminResult {
    let name = text_field("--name", &args.name)?;
    let company = text_field("--company", &args.company)?;
    let hosted = &config.milter.hosted_domains;
    let channel = match &args.forwarding_address {
        Some(given) => {
            let address = ForwardingAddress::parse(given)
                .map_err(|e| AdminError::Usage(format!("--forwarding-address: {e}")))?;
            if !hosted.iter().any(|d| d == address.domain()) {
                return Err(AdminError::Refused(format!(
                    "--forwarding-address: {} is not in a hosted domain; hosted domains are {} (milter.hosted_domains in the configuration)",
                    address.domain(),
                    hosted.join(", ")
                )));
            }
            store.settings().create_channel(&NewChannel {
                name,
                company,
                forwarding_address: &address,
            })?
        }
        None => create_with_generated_address(store, name, company, &hosted[0])?,
    };
    if args.json.json {
        output::json(&channel);
    } else {
        println!(
            "Created channel {} ({}). Forward mail to {}",
            channel.id, channel.status, channel.forwarding_address
        );
    }
    Ok(())
}

/// A generated address can, rarely, collide with one already taken; the
/// database's unique index tells, and another random part is tried.
fn create_with_generated_address(
    store: &Store,
    name: &str,
    company: &str,
    domain: &str,
) -> Result<Channel, AdminError> {
    let mut last_error = None;
    for _ in 0..5 {
        let address = ForwardingAddress::generate(name, domain);
        match store.settings().create_channel(&NewChannel {
            name,
            company,
            forwarding_address: &address,
        }) {
            Err(e @ StoreError::Conflict(_)) => last_error = Some(e),
            result => return Ok(result?),
        }
    }
    Err(last_error.expect("at least one attempt").into())
}

/// The table line, then how the channel routes and tickets, and its latest
/// forwarding confirmation.
fn show_routing(c: &Channel) {
    output::table(&HEADER, &[row(c)]);
    println!();
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let availability = if c.assign_any_availability {
        "away users too"
    } else {
        "available users only"
    };
    let properties = c
        .ticket_properties
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key}={text}"),
            other => format!("{key}={other}"),
        })
        .collect::<Vec<_>>();
    let mut fields = vec![
        (
            "Assignment",
            match c.assign_mode {
                AssignMode::Off => "off".to_owned(),
                mode => format!("{mode} ({availability})"),
            },
        ),
        ("Assign to users", list(&c.assign_users)),
        ("Assign to teams", list(&c.assign_teams)),
        (
            "Tickets",
            if c.tickets_enabled { "on" } else { "off" }.into(),
        ),
        ("Ticket properties", printable(&list(&properties))),
    ];
    match (&c.verification_code, c.verification_received_at) {
        (Some(code), Some(at)) => {
            fields.push((
                "Verification",
                format!(
                    "code {} requested by {}, received {} UTC",
                    printable(code),
                    printable(c.verification_requested_by.as_deref().unwrap_or("?")),
                    output::time(&at)
                ),
            ));
            if let Some(link) = &c.verification_link {
                fields.push(("Verification link", printable(link)));
            }
        }
        _ => fields.push(("Verification", "none received".into())),
    }
    output::fields(&fields);
}

fn update(args: ChannelUpdate, store: &Store) -> AdminResult {
    let given = args.assign.is_some()
        || !args.assign_users.is_empty()
        || !args.assign_teams.is_empty()
        || args.clear_assignees
        || args.any_availability
        || args.only_available
        || args.tickets.is_some()
        || !args.ticket_properties.is_empty();
    if !given {
        return Err(AdminError::Usage(
            "nothing to change: give --assign, --assign-user, --assign-team, --clear-assignees, \
             --any-availability, --only-available, --tickets or --ticket-property"
                .into(),
        ));
    }
    let users = args
        .assign_users
        .iter()
        .map(|u| address("--assign-user", u))
        .collect::<Result<Vec<_>, _>>()?;
    let teams = args
        .assign_teams
        .iter()
        .map(|t| text_field("--assign-team", t).map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let mut properties = Vec::with_capacity(args.ticket_properties.len());
    for given in &args.ticket_properties {
        let Some((key, value)) = given.split_once('=') else {
            return Err(AdminError::Usage(format!(
                "--ticket-property `{}` is not KEY=VALUE, like priority=high (KEY= removes the key)",
                printable(given)
            )));
        };
        let key = text_field("--ticket-property key", key)?;
        let value = one_line("--ticket-property value", value.trim())?;
        properties.push((key.to_owned(), value.to_owned()));
    }
    let (assign_users, assign_teams) = if args.clear_assignees {
        (Some(users), Some(teams))
    } else {
        (
            (!users.is_empty()).then_some(users),
            (!teams.is_empty()).then_some(teams),
        )
    };
    let update = RoutingUpdate {
        assign_mode: args.assign.map(|mode| match mode {
            AssignArg::Off => AssignMode::Off,
            AssignArg::UsersAndTeams => AssignMode::UsersAndTeams,
            AssignArg::ContactOwner => AssignMode::ContactOwner,
        }),
        any_availability: if args.any_availability {
            Some(true)
        } else if args.only_available {
            Some(false)
        } else {
            None
        },
        assign_users,
        assign_teams,
        tickets_enabled: args.tickets.map(|t| matches!(t, OnOff::On)),
        ticket_properties: (!properties.is_empty()).then_some(properties),
    };
    let channel = store.settings().set_channel_routing(args.id, &update)?;
    if args.json.json {
        output::json(&channel);
    } else {
        show_routing(&channel);
        if channel.assign_mode == AssignMode::UsersAndTeams
            && channel.assign_users.is_empty()
            && channel.assign_teams.is_empty()
        {
            println!(
                "Note: the channel names no users or teams yet, so its conversations stay unassigned; \
                 add some with --assign-user or --assign-team."
            );
        }
    }
    Ok(())
}
