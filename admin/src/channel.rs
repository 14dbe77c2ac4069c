//! `teaminbox-admin channel ...`: create a channel, shape how its replies
//! look (From name, From address, signature), decide routing and tickets,
//! copy the forwarding address into the mail provider (`instructions`),
//! then connect and finish.

mod instructions;

use crate::{
    cli::{
        AssignArg, ChannelCommand, ChannelCreate, ChannelOptions, ChannelPreview, ChannelUpdate,
        FromNameArg, OnOff, ReplyArgs,
    },
    input::{self, address, one_line, text_field},
    output, AdminError, AdminResult,
};
use serde::Serialize;
use std::path::Path;
use teaminbox_outbound::signature;
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::config::Config;
use teaminbox_store::identity::{self, Sender};
use teaminbox_store::model::{AssignMode, Channel, FromNameMode};
use teaminbox_store::{
    settings::{self, ChannelReplies, NewChannel, RoutingUpdate},
    Store,
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
                show_details(&channel, config);
            }
            Ok(())
        }
        ChannelCommand::Update(args) => update(args, store, config),
        ChannelCommand::Preview(args) => preview(args, store, config),
        ChannelCommand::Instructions(args) => {
            let channel = store.settings().channel(args.id)?;
            instructions::print(&channel, args.provider, args.json.json);
            Ok(())
        }
        ChannelCommand::Finish(id) => finish(id.id, id.json.json, store),
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
    let replies = reply_settings(&args.options.replies, store)?;
    let replies = ChannelReplies {
        from_name_mode: replies.from_name_mode.unwrap_or_default(),
        from_address: replies.from_address.flatten(),
        signature_html: replies.signature_html.flatten(),
    };
    let routing = routing_update(&args.options)?;
    let sources = source_addresses("--source", &args.options.sources)?;
    let hosted = &config.milter.hosted_domains;
    let channel = match &args.forwarding_address {
        Some(given) => {
            let address = hosted_address(given, config)?;
            store.settings().create_channel_with(
                &NewChannel {
                    name,
                    company,
                    forwarding_address: &address,
                },
                &replies,
                &routing,
                &sources,
            )?
        }
        None => store
            .settings()
            .create_channel_generated(name, company, &hosted[0], &replies, &routing, &sources)?,
    };
    if args.json.json {
        output::json(&channel);
    } else {
        println!(
            "Created channel {} ({}). Forward mail to {}",
            channel.id, channel.status, channel.forwarding_address
        );
        note_unassigned(&channel);
    }
    Ok(())
}

/// A forwarding address the admin typed, in a hosted domain.
fn hosted_address(given: &str, config: &Config) -> Result<ForwardingAddress, AdminError> {
    input::hosted_address("--forwarding-address", given, &config.milter.hosted_domains)
}

/// The reply settings given on the command line, checked: `None` where
/// nothing was given, `Some(None)` to go back to the default.
struct GivenReplies {
    from_name_mode: Option<FromNameMode>,
    from_address: Option<Option<String>>,
    signature_html: Option<Option<String>>,
}

fn reply_settings(args: &ReplyArgs, store: &Store) -> Result<GivenReplies, AdminError> {
    let from_name_mode = args.from_name.map(|mode| match mode {
        FromNameArg::AgentAndCompany => FromNameMode::AgentAndCompany,
        FromNameArg::Company => FromNameMode::Company,
    });
    let from_address = match &args.from_address {
        Some(given) => {
            let from = address("--from-address", given)?;
            let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
            if !store.settings().sending_domain_verified(domain)? {
                return Err(AdminError::Refused(format!(
                    "{}; connect it with `teaminbox-admin domain add {domain}`, publish the DNS records it prints, \
                     then `teaminbox-admin domain verify {domain}`",
                    settings::not_verified(domain, "--from-address")
                )));
            }
            Some(Some(from))
        }
        None if args.default_from_address => Some(None),
        None => None,
    };
    let signature_html = match &args.signature_file {
        Some(path) => Some(Some(read_signature(path)?)),
        None if args.no_signature => Some(None),
        None => None,
    };
    Ok(GivenReplies {
        from_name_mode,
        from_address,
        signature_html,
    })
}

/// Reads and checks a signature file. A file that cannot be read is a usage
/// error (exit 2); a signature that is refused names the file, the line and
/// the column (exit 1).
fn read_signature(path: &Path) -> Result<String, AdminError> {
    let shown = output::line(&path.display().to_string());
    let too_big = || {
        AdminError::Usage(format!(
            "--signature-file {shown} is larger than {} bytes; a signature is a few lines",
            signature::MAX_LEN
        ))
    };
    let size = std::fs::metadata(path)
        .map_err(|e| AdminError::Usage(format!("--signature-file {shown}: cannot read it: {e}")))?
        .len();
    if size > signature::MAX_LEN as u64 {
        return Err(too_big());
    }
    let bytes = std::fs::read(path)
        .map_err(|e| AdminError::Usage(format!("--signature-file {shown}: cannot read it: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        AdminError::Usage(format!(
            "--signature-file {shown} is not UTF-8 text; save it as UTF-8"
        ))
    })?;
    // Editors on Windows start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(AdminError::Usage(format!(
            "--signature-file {shown} is empty; to remove the signature, use --no-signature"
        )));
    }
    signature::check(text)
        .map_err(|e| AdminError::Refused(format!("--signature-file {shown}: {e}")))?;
    Ok(text.trim().to_owned())
}

/// The table line, then how the channel's replies look, how it routes and
/// tickets, and its latest forwarding confirmation.
fn show_details(c: &Channel, config: &Config) {
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
    let sample = identity::from_header(c, &Sender::SAMPLE, &config.outbound.default_from_domain);
    let mut fields = vec![
        (
            "From name",
            format!("{} (\"{}\")", c.from_name_mode, sample.name),
        ),
        (
            "From address",
            match &c.from_address {
                Some(address) => address.clone(),
                None => format!(
                    "default: the user's USERNAME@{}",
                    config.outbound.default_from_domain
                ),
            },
        ),
        (
            "Signature",
            match &c.signature_html {
                Some(_) => format!("set (`teaminbox-admin channel preview {}` shows it)", c.id),
                None => "none".into(),
            },
        ),
        (
            "Finished",
            match c.finished_at {
                Some(at) => format!(
                    "{} UTC (connected; the forwarding address is fixed)",
                    output::time(&at)
                ),
                None if c.status == "draft" => format!(
                    "no (draft; `teaminbox-admin channel finish {}` connects it)",
                    c.id
                ),
                None => "yes".into(),
            },
        ),
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
        ("Ticket properties", list(&properties)),
        ("Sources", sources(c)),
    ];
    match (&c.verification_code, c.verification_received_at) {
        (Some(code), Some(at)) => {
            fields.push((
                "Verification",
                format!(
                    "code {} requested by {}, received {} UTC",
                    code,
                    c.verification_requested_by.as_deref().unwrap_or("?"),
                    output::time(&at)
                ),
            ));
            if let Some(link) = &c.verification_link {
                fields.push(("Verification link", link.clone()));
            }
        }
        _ => fields.push((
            "Verification",
            "none received (a provider's forwarding confirmation shows here)".into(),
        )),
    }
    output::fields(&fields);
}

/// The channel's sources and why each is one, or how to add one.
fn sources(c: &Channel) -> String {
    if c.sources.is_empty() {
        return format!(
            "none (list rewrites are not trusted; `teaminbox-admin channel update {} --source \
             ADDRESS` trusts a list's)",
            c.id
        );
    }
    let shown = c
        .sources
        .iter()
        .map(|s| {
            let why = match s.origin.as_str() {
                "verification" => "asked for a forwarding confirmation",
                _ => "added by the admin",
            };
            format!("{} ({why})", s.address)
        })
        .collect::<Vec<_>>();
    shown.join(", ")
}

fn update(args: ChannelUpdate, store: &Store, config: &Config) -> AdminResult {
    let settings_given = args.name.is_some()
        || args.company.is_some()
        || args.forwarding_address.is_some()
        || options_given(&args.options)
        || !args.remove_sources.is_empty();
    if !settings_given {
        return Err(AdminError::Usage(
            "nothing to change: give --assign, --assign-user, --assign-team, --clear-assignees, \
             --any-availability, --only-available, --tickets, --ticket-property, --name, --company, \
             --forwarding-address, --from-name, --from-address, --default-from-address, \
             --signature-file, --no-signature, --source or --remove-source"
                .into(),
        ));
    }
    let name = args
        .name
        .as_deref()
        .map(|n| text_field("--name", n).map(str::to_owned))
        .transpose()?;
    let company = args
        .company
        .as_deref()
        .map(|c| text_field("--company", c).map(str::to_owned))
        .transpose()?;
    let forwarding_address = args
        .forwarding_address
        .as_deref()
        .map(|a| hosted_address(a, config))
        .transpose()?;
    let routing = routing_update(&args.options)?;
    let given = reply_settings(&args.options.replies, store)?;
    let add_sources = source_addresses("--source", &args.options.sources)?;
    let remove_sources = source_addresses("--remove-source", &args.remove_sources)?;
    let changes = settings::ChannelUpdate {
        name,
        company,
        from_name_mode: given.from_name_mode,
        from_address: given.from_address,
        signature_html: given.signature_html,
        forwarding_address,
        add_sources,
        remove_sources,
    };
    // One transaction: a refused part leaves the channel as it was.
    let channel = store
        .settings()
        .update_channel_with_routing(args.id, &changes, &routing)?;
    if args.json.json {
        output::json(&channel);
    } else {
        show_details(&channel, config);
        note_unassigned(&channel);
    }
    Ok(())
}

/// Whether any option shared by create and update was given.
fn options_given(options: &ChannelOptions) -> bool {
    let replies = &options.replies;
    options.assign.is_some()
        || !options.assign_users.is_empty()
        || !options.assign_teams.is_empty()
        || options.clear_assignees
        || options.any_availability
        || options.only_available
        || options.tickets.is_some()
        || !options.ticket_properties.is_empty()
        || replies.from_name.is_some()
        || replies.from_address.is_some()
        || replies.default_from_address
        || replies.signature_file.is_some()
        || replies.no_signature
        || !options.sources.is_empty()
}

/// The addresses given with `option`, checked.
fn source_addresses(option: &str, given: &[String]) -> Result<Vec<String>, AdminError> {
    given.iter().map(|a| address(option, a)).collect()
}

/// The routing and ticket options, checked; `None` where nothing was given.
/// Users and teams are looked up by the store, in its transaction.
fn routing_update(options: &ChannelOptions) -> Result<RoutingUpdate, AdminError> {
    let users = options
        .assign_users
        .iter()
        .map(|u| address("--assign-user", u))
        .collect::<Result<Vec<_>, _>>()?;
    let teams = options
        .assign_teams
        .iter()
        .map(|t| text_field("--assign-team", t).map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let mut properties = Vec::with_capacity(options.ticket_properties.len());
    for given in &options.ticket_properties {
        let Some((key, value)) = given.split_once('=') else {
            return Err(AdminError::Usage(format!(
                "--ticket-property `{given}` is not KEY=VALUE, like priority=high (KEY= removes the key)"
            )));
        };
        let key = text_field("--ticket-property key", key)?;
        let value = one_line("--ticket-property value", value.trim())?;
        properties.push((key.to_owned(), value.to_owned()));
    }
    let (assign_users, assign_teams) = if options.clear_assignees {
        (Some(users), Some(teams))
    } else {
        (
            (!users.is_empty()).then_some(users),
            (!teams.is_empty()).then_some(teams),
        )
    };
    Ok(RoutingUpdate {
        assign_mode: options.assign.map(|mode| match mode {
            AssignArg::Off => AssignMode::Off,
            AssignArg::UsersAndTeams => AssignMode::UsersAndTeams,
            AssignArg::ContactOwner => AssignMode::ContactOwner,
        }),
        any_availability: if options.any_availability {
            Some(true)
        } else if options.only_available {
            Some(false)
        } else {
            None
        },
        assign_users,
        assign_teams,
        tickets_enabled: options.tickets.map(|t| matches!(t, OnOff::On)),
        ticket_properties: (!properties.is_empty()).then_some(properties),
    })
}

/// Round robin over nobody assigns nobody: say so.
fn note_unassigned(channel: &Channel) {
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

/// What `channel preview --json` prints.
#[derive(Serialize)]
struct Preview<'a> {
    channel_id: i64,
    /// The user previewed, or `null` for the sample agent.
    #[serde(rename = "as")]
    as_user: Option<&'a str>,
    from_name: &'a str,
    from_address: &'a str,
    /// The From header as the contact's mail client shows it.
    from: String,
    signature_text: Option<String>,
    signature_html: Option<String>,
}

/// Prints what a contact sees of a reply: the From header and the signature
/// with its tokens filled in, through the same code the reply composer uses.
fn preview(args: ChannelPreview, store: &Store, config: &Config) -> AdminResult {
    let email = args
        .as_user
        .as_deref()
        .map(|e| address("--as", e))
        .transpose()?;
    let channel = store.settings().channel(args.id)?;
    let user = email
        .as_deref()
        .map(|e| store.settings().user(e))
        .transpose()?;
    let sender = user.as_ref().map_or(Sender::SAMPLE, Sender::from);
    let from = identity::from_header(&channel, &sender, &config.outbound.default_from_domain);
    let rendered = channel
        .signature_html
        .as_deref()
        .map(|html| signature::render(html, &sender.full_name(), &sender.first_name()));
    if args.json.json {
        output::json(&Preview {
            channel_id: channel.id,
            as_user: email.as_deref(),
            from_name: &from.name,
            from_address: &from.address,
            from: from.display(),
            signature_text: rendered.as_ref().map(|(_, text)| text.clone()),
            signature_html: rendered.map(|(html, _)| html),
        });
        return Ok(());
    }
    println!("From: {}", output::text_block(&from.display()));
    println!();
    match rendered {
        Some((html, _)) if args.html => println!("{}", output::text_block(&html)),
        Some((_, text)) => println!("{}", output::text_block(&text)),
        None => println!(
            "(no signature; add one with `teaminbox-admin channel update {} --signature-file FILE`)",
            channel.id
        ),
    }
    Ok(())
}

/// Connect and finish.
fn finish(id: i64, json: bool, store: &Store) -> AdminResult {
    let (channel, changed) = store.settings().finish_channel(id)?;
    if json {
        output::json(&channel);
    } else if changed {
        println!(
            "Channel {} is connected. Mail forwarded to {} lands in its inbox; the forwarding address can no longer change.",
            channel.id, channel.forwarding_address
        );
    } else {
        let at = channel
            .finished_at
            .map_or_else(String::new, |at| format!(" on {} UTC", output::time(&at)));
        println!(
            "Channel {} was already connected{at}; nothing changed.",
            channel.id
        );
    }
    Ok(())
}
