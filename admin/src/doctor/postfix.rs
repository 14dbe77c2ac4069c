//! The Postfix settings the README's Postfix section asks for.

use super::postconf::{group_inside, list_holds, split_list, Commands, Service};
use super::{socket, Finding};
use std::collections::HashMap;
use teaminbox_store::config::{Config, ListenAddress};

/// What `milter_default_action` and the README's headroom are.
const TEMPFAIL: &str = "tempfail";
/// Room above our limit for the envelope and Postfix's Received: header.
const SIZE_HEADROOM: u64 = 1024 * 1024;

/// Postfix's configuration as read: main.cf and master.cf.
struct Postfix<'a> {
    commands: &'a Commands,
    main: HashMap<String, String>,
    master: Vec<Service>,
}

impl Postfix<'_> {
    fn param(&self, name: &str) -> &str {
        self.main.get(name).map_or("", String::as_str)
    }

    /// The directory smtpd is chrooted to, if an smtpd listener runs
    /// chrooted (`y` in master.cf's chroot column).
    fn smtpd_chroot(&self) -> Option<&str> {
        self.master
            .iter()
            .any(|s| s.command == "smtpd" && s.kind == "inet" && s.chroot == "y")
            .then(|| self.param("queue_directory"))
    }
}

pub fn check(commands: &Commands, config: &Config) -> Vec<Finding> {
    let postfix = match commands.main_cf().and_then(|main| {
        Ok(Postfix {
            commands,
            main,
            master: commands.master_cf()?,
        })
    }) {
        Ok(postfix) => postfix,
        Err(e) => {
            return vec![Finding::wrong(
                "postfix",
                format!("cannot read Postfix's configuration: {e}"),
                "run the doctor where Postfix runs, or say how to reach it: --postconf COMMAND, --postmap COMMAND, -c DIR",
            )]
        }
    };
    let listen = &config.milter.listen;
    let mut findings = vec![
        smtpd_milters(&postfix, listen),
        socket::check(listen, postfix.param("mail_owner")),
        default_action(&postfix, listen),
        message_size_limit(&postfix, config.milter.max_message_size.as_u64()),
        in_flow_delay(&postfix),
        non_smtpd_milters(&postfix, listen),
    ];
    for domain in &config.milter.hosted_domains {
        findings.push(hosted_domain(&postfix, domain));
    }
    findings
}

/// One milter of a `*_milters` list: its address as smtpd sees it (inside
/// its chroot) and its per-milter `default_action`, if any.
struct MilterEntry {
    address: String,
    default_action: Option<String>,
}

fn milters(value: &str) -> Vec<MilterEntry> {
    split_list(value)
        .iter()
        .map(|item| match group_inside(item) {
            Some(inside) => {
                // `name = value` attributes may have spaces around `=`.
                let parts: Vec<String> = inside
                    .split(',')
                    .flat_map(|p| match p.contains('=') {
                        true => vec![p.trim().to_owned()],
                        false => split_list(p),
                    })
                    .filter(|p| !p.is_empty())
                    .collect();
                let attribute = |name: &str| {
                    parts.iter().find_map(|p| {
                        let (k, v) = p.split_once('=')?;
                        (k.trim() == name).then(|| v.trim().to_owned())
                    })
                };
                MilterEntry {
                    address: parts.first().cloned().unwrap_or_default(),
                    default_action: attribute("default_action"),
                }
            }
            None => MilterEntry {
                address: item.clone(),
                default_action: None,
            },
        })
        .collect()
}

/// A milter address as the host sees it: `local:` is `unix:`, and a UNIX
/// path of a chrooted smtpd lies inside its chroot.
fn host_address(address: &str, chroot: Option<&str>) -> String {
    let address = match address.strip_prefix("local:") {
        Some(path) => format!("unix:{path}"),
        None => address.to_owned(),
    };
    match (address.strip_prefix("unix:"), chroot) {
        (Some(path), Some(root)) => format!("unix:{}{path}", root.trim_end_matches('/')),
        _ => address,
    }
}

/// Our milter in `list`, if it is there.
fn ours(postfix: &Postfix, list: &str, listen: &ListenAddress) -> Option<MilterEntry> {
    let ours = listen.to_string();
    milters(postfix.param(list))
        .into_iter()
        .find(|m| host_address(&m.address, postfix.smtpd_chroot()) == ours)
}

fn smtpd_milters(postfix: &Postfix, listen: &ListenAddress) -> Finding {
    const CHECK: &str = "smtpd_milters";
    if let Some(entry) = ours(postfix, CHECK, listen) {
        return Finding::ok(
            CHECK,
            format!("names {}, where the daemon listens", entry.address),
        );
    }
    let value = postfix.param(CHECK);
    let detail = format!("`{value}` does not name the daemon's socket {listen}");
    match (postfix.smtpd_chroot(), listen) {
        (Some(root), ListenAddress::Unix(_)) => Finding::wrong(
            CHECK,
            format!("{detail}; smtpd runs chrooted in {root}, so it looks for UNIX sockets inside it"),
            format!("run smtpd outside the chroot (master.cf: `smtp inet n - n - - smtpd`), set smtpd_milters = {listen}, then postfix reload"),
        ),
        _ => Finding::wrong(
            CHECK,
            detail,
            format!("postconf -e 'smtpd_milters = {listen}' && postfix reload"),
        ),
    }
}

fn default_action(postfix: &Postfix, listen: &ListenAddress) -> Finding {
    const CHECK: &str = "milter_default_action";
    let fix = format!("postconf -e '{CHECK} = {TEMPFAIL}' && postfix reload");
    let global = postfix.param(CHECK);
    if global != TEMPFAIL {
        return Finding::wrong(
            CHECK,
            format!("is `{global}`: with the milter down Postfix would not tell the client to retry (the README wants {TEMPFAIL})"),
            fix,
        );
    }
    match ours(postfix, "smtpd_milters", listen).and_then(|m| m.default_action) {
        Some(own) if own != TEMPFAIL => Finding::wrong(
            CHECK,
            format!("smtpd_milters gives the teaminbox milter its own default_action={own}"),
            format!("remove default_action={own} from the teaminbox entry of smtpd_milters, then postfix reload"),
        ),
        _ => Finding::ok(CHECK, format!("{TEMPFAIL}: with the milter down, clients are told to retry")),
    }
}

fn message_size_limit(postfix: &Postfix, ours: u64) -> Finding {
    const CHECK: &str = "message_size_limit";
    let value = postfix.param(CHECK);
    // The README's value: a third above ours (41943040 for 30 MiB).
    let advised = ours + ours / 3;
    match value.parse::<u64>() {
        Ok(0) => Finding::ok(CHECK, "0 (no limit): the milter decides about size"),
        Ok(limit) if limit >= ours.saturating_add(SIZE_HEADROOM) => Finding::ok(
            CHECK,
            format!("{limit} is above the milter's max_message_size ({ours})"),
        ),
        _ => Finding::wrong(
            CHECK,
            format!("`{value}` is not above the milter's max_message_size ({ours}) with room for the envelope and Postfix's Received: header: Postfix would refuse mail the milter takes"),
            format!("postconf -e '{CHECK} = {advised}' && postfix reload"),
        ),
    }
}

/// The cleanup service the README gives the public smtpd, so that its
/// flow-control delay can be turned off for that smtpd alone.
const FLOW_CLEANUP: &str = "teaminbox-cleanup";

/// Every SMTP listener hands mail to a cleanup service that does not delay
/// it. Postfix's flow control is the cleanup service's pause before it
/// takes a message (in_flow_delay, from main.cf or the cleanup service's
/// `-o`): `-o in_flow_delay=0` on smtpd itself changes nothing.
fn in_flow_delay(postfix: &Postfix) -> Finding {
    const CHECK: &str = "in_flow_delay";
    let global = postfix.param(CHECK);
    let delay_of = |smtpd: &Service| {
        let cleanup = smtpd
            .option("cleanup_service_name")
            .unwrap_or_else(|| postfix.param("cleanup_service_name"));
        let entry = postfix
            .master
            .iter()
            .find(|s| s.name == cleanup && s.kind == "unix" && s.command == "cleanup");
        entry.and_then(|e| e.option(CHECK)).unwrap_or(global)
    };
    let slowed: Vec<(&Service, &str)> = postfix
        .master
        .iter()
        .filter(|s| s.command == "smtpd" && s.kind == "inet")
        .map(|s| (s, delay_of(s)))
        .filter(|(_, value)| !is_zero_time(value))
        .collect();
    if slowed.is_empty() {
        let how = if is_zero_time(global) {
            format!("{global}: clients are not slowed down")
        } else {
            format!("`{global}` in main.cf, but 0 for the cleanup service of every smtpd listener: clients are not slowed down")
        };
        return Finding::ok(CHECK, how);
    }
    let names: Vec<String> = slowed
        .iter()
        .map(|(s, value)| format!("{} ({value})", s.name))
        .collect();
    let mut fix = vec![
        format!("postconf -M '{FLOW_CLEANUP}/unix={FLOW_CLEANUP} unix n - n - 0 cleanup'"),
        format!("postconf -P '{FLOW_CLEANUP}/unix/{CHECK}=0'"),
    ];
    fix.extend(slowed.iter().map(|(s, _)| {
        format!(
            "postconf -P '{}/inet/cleanup_service_name={FLOW_CLEANUP}'",
            s.name
        )
    }));
    fix.push("postfix reload".into());
    Finding::wrong(
        CHECK,
        format!("is not 0 for the mail of {}: mail the milter takes never frees a flow-control token, so each client would be held to about one message per delay", names.join(", ")),
        format!("{} (or, for all of Postfix: postconf -e '{CHECK} = 0')", fix.join(" && ")),
    )
}

/// A Postfix time value (`0`, `0s`, `1s`, `2m`) that is zero.
fn is_zero_time(value: &str) -> bool {
    let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    number.parse::<f64>().is_ok_and(|n| n == 0.0)
}

fn non_smtpd_milters(postfix: &Postfix, listen: &ListenAddress) -> Finding {
    const CHECK: &str = "non_smtpd_milters";
    if ours(postfix, CHECK, listen).is_some() {
        Finding::wrong(
            CHECK,
            format!("names the teaminbox milter ({listen}): locally submitted mail has no SMTP client for its checks (the README leaves {CHECK} empty)"),
            format!("postconf -e '{CHECK} =' && postfix reload"),
        )
    } else {
        Finding::ok(CHECK, "does not name the teaminbox milter")
    }
}

/// Mail for a hosted domain is accepted (relayed), never delivered here,
/// and what gets past the milter waits in the queue.
fn hosted_domain(postfix: &Postfix, domain: &str) -> Finding {
    let check = format!("hosted domain {domain}");
    match hosted_domain_problem(postfix, domain) {
        Ok(None) => Finding::ok(
            check,
            "relayed, and mail the milter did not take is deferred, never delivered elsewhere",
        ),
        Ok(Some((detail, fix))) => Finding::wrong(check, detail, fix),
        Err(e) => Finding::wrong(
            check,
            format!("cannot look it up: {e}"),
            "run the doctor where Postfix runs (--postmap COMMAND)",
        ),
    }
}

fn hosted_domain_problem(
    postfix: &Postfix,
    domain: &str,
) -> Result<Option<(String, String)>, String> {
    for local in [
        "mydestination",
        "virtual_alias_domains",
        "virtual_mailbox_domains",
    ] {
        if list_holds(postfix.commands, postfix.param(local), domain)? {
            return Ok(Some((
                format!("is in {local}: Postfix would deliver its mail itself"),
                format!("remove {domain} from {local}, then postfix reload"),
            )));
        }
    }
    let relay_fix = format!(
        "relay_domains = {domain} and transport_maps = inline:{{ {domain}=teaminbox-defer: }} with the teaminbox-defer line of the README in master.cf, then postfix reload"
    );
    if !list_holds(postfix.commands, postfix.param("relay_domains"), domain)? {
        return Ok(Some((
            "is not in relay_domains: Postfix refuses its mail before the milter sees it".into(),
            relay_fix,
        )));
    }
    let transport = transport_of(postfix, domain)?;
    let defers = postfix.master.iter().any(|s| {
        s.name == transport && s.kind == "unix" && s.command == "pipe" && s.args.contains("exit 75")
    });
    if defers {
        Ok(None)
    } else {
        Ok(Some((
            format!("its mail goes to the transport `{transport}`: mail the milter did not take would be delivered elsewhere instead of waiting in the queue"),
            relay_fix,
        )))
    }
}

/// The master.cf service that delivers a relay domain's mail.
fn transport_of(postfix: &Postfix, domain: &str) -> Result<String, String> {
    let default = || {
        let relay = postfix.param("relay_transport");
        relay.split(':').next().unwrap_or(relay).to_owned()
    };
    for table in split_list(postfix.param("transport_maps")) {
        if let Some(found) = postfix.commands.lookup(&table, domain)? {
            let name = found.split(':').next().unwrap_or("").trim();
            return Ok(if name.is_empty() {
                default()
            } else {
                name.to_owned()
            });
        }
    }
    Ok(default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milter_entries_and_their_own_default_action() {
        let m = milters("unix:/a.sock, { inet:127.0.0.1:9, default_action = accept }");
        assert_eq!(m[0].address, "unix:/a.sock");
        assert_eq!(m[0].default_action, None);
        assert_eq!(m[1].address, "inet:127.0.0.1:9");
        assert_eq!(m[1].default_action.as_deref(), Some("accept"));
    }

    #[test]
    fn chrooted_paths_lie_inside_the_chroot() {
        assert_eq!(
            host_address("unix:/teaminbox/m.sock", Some("/var/spool/postfix/")),
            "unix:/var/spool/postfix/teaminbox/m.sock"
        );
        assert_eq!(host_address("local:/run/m.sock", None), "unix:/run/m.sock");
        assert_eq!(
            host_address("inet:127.0.0.1:9", Some("/x")),
            "inet:127.0.0.1:9"
        );
    }

    #[test]
    fn zero_times() {
        for zero in ["0", "0s", "0.0s"] {
            assert!(is_zero_time(zero), "{zero}");
        }
        for not in ["1s", "1", "", "s"] {
            assert!(!is_zero_time(not), "{not}");
        }
    }
}
