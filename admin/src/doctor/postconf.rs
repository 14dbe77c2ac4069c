//! Running Postfix's `postconf` and `postmap` (as given on the command
//! line, e.g. through `docker exec`) and reading what they print.

use crate::cli::DoctorArgs;
use std::collections::HashMap;
use std::process::{Command, Stdio};

/// How to run Postfix's tools: each a command line split at spaces, with
/// `-c DIR` added when the admin names a configuration directory.
pub struct Commands {
    postconf: Vec<String>,
    postmap: Vec<String>,
    config_dir: Option<String>,
}

/// One master.cf service, as `postconf -M` prints it.
pub struct Service {
    pub name: String,
    pub kind: String,
    pub chroot: String,
    /// The program (`smtpd`, `pipe`, ...).
    pub command: String,
    /// Everything after the program: its `-o` overrides and arguments.
    pub args: String,
}

impl Service {
    /// The value this service gives `name` with `-o name=value` (or
    /// `-oname=value`); the last one counts, as for Postfix.
    pub fn option(&self, name: &str) -> Option<&str> {
        let mut words = self.args.split_whitespace();
        let mut value = None;
        while let Some(word) = words.next() {
            let setting = match word.strip_prefix("-o") {
                Some("") => words.next().unwrap_or(""),
                Some(rest) => rest,
                None => continue,
            };
            if let Some((key, v)) = setting.split_once('=') {
                if key.trim() == name {
                    value = Some(v.trim());
                }
            }
        }
        value
    }
}

impl Commands {
    pub fn new(args: &DoctorArgs) -> Self {
        let split = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        Commands {
            postconf: split(&args.postconf),
            postmap: split(&args.postmap),
            config_dir: args
                .postfix_config
                .as_ref()
                .map(|d| d.display().to_string()),
        }
    }

    /// Every main.cf parameter with its effective value, `$name`s expanded
    /// (`postconf -x`).
    pub fn main_cf(&self) -> Result<HashMap<String, String>, String> {
        let out = self.run(&self.postconf, &["-x"])?.ok()?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(" =")?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect())
    }

    /// The master.cf services (`postconf -M`).
    pub fn master_cf(&self) -> Result<Vec<Service>, String> {
        let out = self.run(&self.postconf, &["-M"])?.ok()?;
        Ok(out.lines().filter_map(parse_service).collect())
    }

    /// The value of `key` in the lookup table `table` (`type:name`):
    /// `inline:{...}` tables are read here, others asked of `postmap -q`.
    pub fn lookup(&self, table: &str, key: &str) -> Result<Option<String>, String> {
        if let Some(body) = table.strip_prefix("inline:") {
            return Ok(inline_lookup(body, key));
        }
        let ran = self.run(&self.postmap, &["-q", key, table])?;
        match ran.code {
            Some(0) => Ok(Some(ran.stdout.trim().to_owned())),
            Some(1) => Ok(None),
            _ => Err(ran.failure()),
        }
    }

    fn run(&self, base: &[String], args: &[&str]) -> Result<Ran, String> {
        let (program, rest) = base
            .split_first()
            .ok_or("an empty command was given for a Postfix tool")?;
        let mut cmd = Command::new(program);
        cmd.args(rest);
        if let Some(dir) = &self.config_dir {
            cmd.args(["-c", dir]);
        }
        cmd.args(args).stdin(Stdio::null());
        let shown = format!("{} {}", base.join(" "), args.join(" "));
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        Ok(Ran {
            shown,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// What one run of a Postfix tool did.
struct Ran {
    shown: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(self) -> Result<String, String> {
        if self.code == Some(0) {
            Ok(self.stdout)
        } else {
            Err(self.failure())
        }
    }

    fn failure(&self) -> String {
        let said = self.stderr.lines().next().unwrap_or("").trim();
        match self.code {
            Some(code) => format!("`{}` exited with {code}: {said}", self.shown),
            None => format!("`{}` was killed: {said}", self.shown),
        }
    }
}

fn parse_service(line: &str) -> Option<Service> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 || line.starts_with('#') {
        return None;
    }
    Some(Service {
        name: fields[0].to_owned(),
        kind: fields[1].to_owned(),
        chroot: fields[4].to_owned(),
        command: fields[7].to_owned(),
        args: fields[8..].join(" "),
    })
}

/// A Postfix list (`a, b c`, `{ grouped, items }` kept whole) as items.
pub fn split_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                item.push(c);
            }
            ',' | ' ' | '\t' | '\n' if depth == 0 => {
                if !item.is_empty() {
                    items.push(std::mem::take(&mut item));
                }
            }
            _ => item.push(c),
        }
    }
    if !item.is_empty() {
        items.push(item);
    }
    items
}

/// The inside of a `{ ... }` group, trimmed; `None` if `item` is no group.
pub fn group_inside(item: &str) -> Option<&str> {
    Some(item.strip_prefix('{')?.strip_suffix('}')?.trim())
}

/// `inline:{ key=value, { key = value } }` (Postfix ignores the case of
/// keys here).
fn inline_lookup(body: &str, key: &str) -> Option<String> {
    split_list(group_inside(body)?).iter().find_map(|entry| {
        let entry = group_inside(entry).unwrap_or(entry);
        let (k, v) = entry.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().to_owned())
    })
}

/// Whether the list `value` (names and `type:table`s) holds `key`.
pub fn list_holds(commands: &Commands, value: &str, key: &str) -> Result<bool, String> {
    for item in split_list(value) {
        let found = if item.contains(':') {
            commands.lookup(&item, key)?.is_some()
        } else {
            item.eq_ignore_ascii_case(key)
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_groups_whole() {
        assert_eq!(
            split_list("unix:/a/b, { inet:127.0.0.1:7, default_action=accept }  x"),
            vec![
                "unix:/a/b",
                "{ inet:127.0.0.1:7, default_action=accept }",
                "x"
            ]
        );
        assert!(split_list("").is_empty());
    }

    #[test]
    fn inline_tables_are_read_here() {
        let t = "{ inbox.example.com=teaminbox-defer:, { Other.Example = smtp:[x] } }";
        assert_eq!(
            inline_lookup(t, "INBOX.example.com").as_deref(),
            Some("teaminbox-defer:")
        );
        assert_eq!(
            inline_lookup(t, "other.example").as_deref(),
            Some("smtp:[x]")
        );
        assert_eq!(inline_lookup(t, "third.example"), None);
    }

    #[test]
    fn services_are_read_from_postconf_m() {
        let s = parse_service(
            "teaminbox-defer unix - n n - - pipe flags=q user=nobody argv=/bin/sh -c { exit 75 }",
        )
        .unwrap();
        assert_eq!(
            (s.name.as_str(), s.kind.as_str()),
            ("teaminbox-defer", "unix")
        );
        assert_eq!((s.chroot.as_str(), s.command.as_str()), ("n", "pipe"));
        assert!(s.args.ends_with("{ exit 75 }"));
        assert!(parse_service("# comment").is_none());
    }

    #[test]
    fn a_services_options_are_its_dash_o_settings_the_last_winning() {
        let s = parse_service(
            "smtp inet n - n - - smtpd -o in_flow_delay=1s -o smtpd_tls_security_level=may -oin_flow_delay=0",
        )
        .unwrap();
        assert_eq!(s.option("in_flow_delay"), Some("0"));
        assert_eq!(s.option("smtpd_tls_security_level"), Some("may"));
        assert_eq!(s.option("cleanup_service_name"), None);
    }
}
