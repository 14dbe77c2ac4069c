//! The values written in the configuration, each a type that reads and
//! prints itself: durations, "keep", listen addresses, socket modes, the
//! database URL (and its masked form), name servers and networks.

use serde::{Deserialize, Serialize};
use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

/// A duration as written in the configuration ("20s", "1m 30s").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct CheckTimeout(pub Duration);

impl TryFrom<String> for CheckTimeout {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        humantime::parse_duration(s.trim())
            .map(Self)
            .map_err(|e| format!("`{s}` is not a duration such as \"20s\": {e}"))
    }
}

impl From<CheckTimeout> for String {
    fn from(t: CheckTimeout) -> String {
        humantime::format_duration(t.0).to_string()
    }
}

/// `"keep"`, or a duration as humantime reads it (`"30d"`, `"12h"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Keep {
    Forever,
    For(std::time::Duration),
}

impl TryFrom<String> for Keep {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "keep" {
            return Ok(Self::Forever);
        }
        // Longer would be "keep" in all but name (and might not print and
        // read back the same).
        const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 31_557_600);
        match humantime::parse_duration(&s) {
            Ok(d) if !d.is_zero() && d <= CENTURY => Ok(Self::For(d)),
            _ => Err(format!(
                "`{}` is neither \"keep\" nor a duration like \"30d\" or \"12h\" (above zero, at most 100 years)",
                crate::address::printable(&s)
            )),
        }
    }
}

impl From<Keep> for String {
    fn from(k: Keep) -> String {
        match k {
            Keep::Forever => "keep".into(),
            Keep::For(d) => humantime::format_duration(d).to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDnsError {
    /// Answer 451 and let the sender retry: never a guess.
    Tempfail,
    /// Accept as if the failed check had not been made.
    Accept,
}

/// `[log] format`: lines for people, or one JSON object per line for a log
/// collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What the milter does with a message when rspamd cannot be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnSpamError {
    /// Take the message unscanned (logged): rspamd being down stops no mail.
    Accept,
    /// Answer 451 and let the sender retry.
    Tempfail,
}

/// Where the milter listens.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum ListenAddress {
    Unix(PathBuf),
    Inet(String),
}

impl FromStr for ListenAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "`unix:` needs a socket path, as in unix:/run/teaminbox/milter.sock".into(),
                );
            }
            Ok(Self::Unix(PathBuf::from(path)))
        } else if let Some(addr) = s.strip_prefix("inet:") {
            let (host, port) = addr
                .rsplit_once(':')
                .ok_or_else(|| format!("`{s}` has no port; write inet:HOST:PORT"))?;
            port.parse::<u16>()
                .map_err(|_| format!("`{port}` is not a port number in `{s}`"))?;
            if host.is_empty() {
                return Err(format!("`{s}` has no host; write inet:127.0.0.1:{port}"));
            }
            Ok(Self::Inet(addr.to_owned()))
        } else {
            Err(format!(
                "`{s}` is neither unix:PATH nor inet:HOST:PORT (for example unix:/run/teaminbox/milter.sock)"
            ))
        }
    }
}

impl TryFrom<String> for ListenAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ListenAddress> for String {
    fn from(a: ListenAddress) -> String {
        a.to_string()
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Inet(addr) => write!(f, "inet:{addr}"),
        }
    }
}

/// UNIX permission bits, written in octal ("0660").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SocketMode(pub u32);

impl TryFrom<String> for SocketMode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match u32::from_str_radix(&s, 8) {
            Ok(mode) if mode <= 0o777 => Ok(Self(mode)),
            _ => Err(format!(
                "`{s}` is not an octal permission like \"0660\" (at most 0777)"
            )),
        }
    }
}

impl From<SocketMode> for String {
    fn from(m: SocketMode) -> String {
        format!("{:04o}", m.0)
    }
}

/// Where the database lives, as parsed from `database.url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for DatabaseTarget {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "`sqlite://` needs a file path, as in sqlite:///var/lib/teaminbox/teaminbox.db"
                        .into(),
                );
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(format!(
                "`{}` is neither sqlite://PATH nor postgres://USER@HOST/DB",
                masked_url(url)
            ))
        }
    }
}

/// `url` with a password in it replaced by `****`: the one in the user
/// information (`postgres://user:secret@host/db`) and a `password=`
/// parameter (`?password=secret`), so that printing a URL never shows it.
pub fn masked_url(url: &str) -> String {
    const MASK: &str = "****";
    let mut masked = url.to_owned();
    if let Some(start) = url.find("://").map(|i| i + 3) {
        let authority_end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| start + i);
        if let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) {
            if let Some(colon) = url[start..at].find(':').map(|i| start + i) {
                masked = format!("{}{MASK}{}", &url[..colon + 1], &url[at..]);
            }
        }
    }
    if let Some((base, query)) = masked.split_once('?') {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
                _ => p.to_owned(),
            })
            .collect();
        masked = format!("{base}?{}", params.join("&"));
    }
    masked
}

/// A name server as `IP` (port 53) or `IP:PORT`.
pub fn parse_nameserver(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(|ip| (ip, 53).into()))
}

/// A network as `ADDRESS/PREFIX`, or one address.
pub fn parse_network(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}
