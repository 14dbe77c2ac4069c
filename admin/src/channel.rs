//! `teaminbox-admin channel ...`

use crate::{
    cli::{ChannelCommand, ChannelCreate},
    output, AdminError, AdminResult,
};
use teaminbox_milter::{
    address::{printable, ForwardingAddress},
    config::Config,
    store::{
        settings::{Channel, NewChannel},
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
            show(&store.settings().channel(id.id)?, id.json.json);
            Ok(())
        }
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

/// Names and companies end up in From headers: one line of printable text.
fn text_field<'a>(flag: &str, value: &'a str) -> Result<&'a str, AdminError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AdminError::Usage(format!("{flag} must not be empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(AdminError::Usage(format!(
            "{flag} `{}` contains a control character (line break, tab or similar); use plain text",
            printable(value)
        )));
    }
    if value.chars().count() > 200 {
        return Err(AdminError::Usage(format!(
            "{flag} is longer than 200 characters"
        )));
    }
    Ok(value)
}
