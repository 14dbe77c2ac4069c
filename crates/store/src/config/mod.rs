//! Configuration: one TOML file plus `TEAMINBOX_` environment variables.
//!
//! Every key has a default, so the daemon starts with no file at all: embedded
//! SQLite and a UNIX socket in the working directory, hosted domain
//! `inbox.localhost`. Values are checked once, at start, and a bad one is
//! refused with a message naming the key.

use bytesize::ByteSize;
use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

#[cfg(test)]
mod tests;
mod values;

pub use values::*;

/// Postfix's default `milter_content_timeout`: a deadline must be below it.
const MILTER_CONTENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variable that names the configuration file.
pub const CONFIG_ENV: &str = "TEAMINBOX_CONFIG";

/// The largest message the milter takes by default: 30 MiB, headers and
/// attachments included.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 30 * 1024 * 1024;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub milter: MilterConfig,
    pub database: DatabaseConfig,
    pub dns: DnsConfig,
    pub outbound: OutboundConfig,
    pub processor: ProcessorConfig,
    pub security: SecurityConfig,
    pub retention: RetentionConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub spam: SpamConfig,
    pub web: WebConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MilterConfig {
    /// Where the milter listens: `unix:PATH` or `inet:HOST:PORT`.
    pub listen: ListenAddress,
    /// Permissions of the UNIX socket, in octal, so that Postfix can connect.
    pub socket_mode: Option<SocketMode>,
    /// Group of the UNIX socket (for example `postfix`).
    pub socket_group: Option<String>,
    /// The largest message accepted, as bytes or a size with a unit ("30MiB").
    pub max_message_size: ByteSize,
    /// Domains whose addresses are hosted forwarding addresses.
    pub hosted_domains: Vec<String>,
    /// As Postfix's `recipient_delimiter`: each character separates a
    /// subaddress detail (`support+billing@`); empty: no subaddresses.
    pub recipient_delimiter: String,
    /// Bodies larger than this are spooled to a temporary file instead of memory.
    pub memory_spool_limit: ByteSize,
    /// How many MTA connections are served at once.
    pub max_connections: usize,
    /// The memory all sessions together may hold in messages being checked
    /// and stored at end of message (see `filter::memory`); a session that
    /// finds it used up waits briefly, then is answered 451 4.3.2.
    pub max_memory: ByteSize,
}

impl Default for MilterConfig {
    fn default() -> Self {
        Self {
            listen: ListenAddress::Unix(PathBuf::from("teaminbox-milter.sock")),
            socket_mode: None,
            socket_group: None,
            max_message_size: ByteSize::b(DEFAULT_MAX_MESSAGE_SIZE),
            hosted_domains: vec!["inbox.localhost".into()],
            recipient_delimiter: "+".into(),
            memory_spool_limit: ByteSize::kib(256),
            max_connections: 100,
            max_memory: ByteSize::mib(256),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://user@host/db`.
    pub url: String,
    /// Most connections the daemon keeps open to the database.
    pub pool_size: u32,
    /// How long a caller waits for a connection before it gives up (and the
    /// milter answers with a temporary failure).
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://teaminbox.db".into(),
            pool_size: 8,
            connect_timeout_secs: 5,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Name servers as `IP:PORT` or `IP`; empty means the system resolver.
    pub nameservers: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Where replies and notifications are handed over: the local MTA.
    pub smtp_url: String,
    /// Replies come from USERNAME@ this domain; empty (the default): the
    /// first of the hosted domains, so that answers to them come back in.
    pub default_from_domain: String,
    /// Delivery workers in this daemon; 0: another host sends.
    pub workers: usize,
    /// The first retry after a temporary failure; each further one waits
    /// twice as long (at most 64 times this).
    pub retry_base_secs: u64,
    /// Attempts before a message is recorded as failed.
    pub max_attempts: i32,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            smtp_url: "smtp://127.0.0.1:25".into(),
            default_from_domain: String::new(),
            workers: 1,
            retry_base_secs: 60,
            max_attempts: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Processor workers in this daemon; 0 makes it a receiver only (when
    /// several mail hosts share one PostgreSQL, some may only receive).
    pub workers: usize,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        Self { workers: 2 }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Run SPF, DKIM, ARC and DMARC checks on mail for hosted addresses.
    pub enabled: bool,
    /// The authserv-id of our Authentication-Results headers; default: the
    /// host name.
    pub authserv_id: String,
    /// Forwarders whose valid ARC seal vouches for a message that fails
    /// DMARC after forwarding (Google Groups, Microsoft 365). A sealer
    /// matches its domain and subdomains.
    pub trusted_arc_sealers: Vec<String>,
    /// What a DNS failure that decides the outcome leads to.
    pub on_dns_error: OnDnsError,
    /// Client networks (CIDR or address) whose mail skips the checks.
    pub trusted_networks: Vec<String>,
    /// How long the checks of one message may take; then they are
    /// answered per `on_dns_error`. Below Postfix's
    /// `milter_content_timeout`, so that the MTA hears our answer.
    pub check_timeout: CheckTimeout,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            authserv_id: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into()),
            trusted_arc_sealers: ["google.com", "outlook.com", "microsoft.com"]
                .map(String::from)
                .into(),
            on_dns_error: OnDnsError::Tempfail,
            trusted_networks: Vec::new(),
            check_timeout: CheckTimeout(Duration::from_secs(20)),
        }
    }
}

/// Content spam filtering by rspamd (off while `rspamd_url` is empty).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpamConfig {
    /// rspamd's normal worker, as `http://127.0.0.1:11333`; empty: off.
    /// Lessons go to the same address (`/learnspam`, `/learnham`), so
    /// point it at the controller (port 11334), which serves both.
    pub rspamd_url: String,
    /// How long one check may take; within `security.check_timeout`.
    pub timeout: CheckTimeout,
    /// What an unreachable or failing rspamd leads to.
    pub on_error: OnSpamError,
    /// Sent as rspamd's `Password` header (the controller's password,
    /// which learning needs); empty: none.
    pub password: String,
}

impl Default for SpamConfig {
    fn default() -> Self {
        Self {
            rspamd_url: String::new(),
            timeout: CheckTimeout(Duration::from_secs(5)),
            on_error: OnSpamError::Accept,
            password: String::new(),
        }
    }
}

/// How long the daemon keeps what it no longer needs (purged at start and
/// every hour, see `retention`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Rejection log rows.
    pub rejections: Keep,
    /// The raw message of a queue row that was filed (`done`); the filed
    /// conversation stays.
    pub processed_raw_messages: Keep,
    /// Queue rows that were filed (`done`), raw message, envelope and
    /// verdicts; the filed conversation stays.
    pub done_queue_rows: Keep,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            rejections: Keep::For(std::time::Duration::from_secs(30 * 24 * 3600)),
            processed_raw_messages: Keep::Forever,
            done_queue_rows: Keep::Forever,
        }
    }
}

/// The Prometheus endpoint (see `metrics`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `IP:PORT` to serve `/metrics` on; empty (the default): no endpoint.
    pub listen: String,
}

/// The web inbox (`teaminbox-web`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// `IP:PORT` to serve the web inbox on; empty: no web inbox.
    pub listen: String,
    /// The address users open (behind a TLS proxy: its `https://` one):
    /// the base of sign-in links, and `https` makes the cookie `Secure`.
    pub public_url: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8025".into(),
            public_url: "http://127.0.0.1:8025".into(),
        }
    }
}

impl WebConfig {
    /// `public_url` without a trailing `/`.
    pub fn public_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// Whether users reach the inbox over TLS (so cookies are `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// How the daemon writes its log (to stderr).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// A configuration that could not be loaded, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("`{key}`: {reason}")]
    BadValue { key: &'static str, reason: String },
}

impl Config {
    /// Loads the configuration from `path` (if any) and the environment, and
    /// checks every value.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            // Figment silently skips a missing file; a named file must exist.
            std::fs::metadata(path).map_err(|e| ConfigError::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // TEAMINBOX_CONFIG names the file; TEAMINBOX_TEST_* belong to the
        // test suite. Neither is a configuration key.
        let env = Env::prefixed("TEAMINBOX_")
            .filter(|key| {
                key != "config" && !key.as_str().to_ascii_lowercase().starts_with("test_")
            })
            .split("__");
        figment = figment.merge(env);
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        config.validated()
    }

    /// Parses a configuration from TOML text alone (no environment), for tests.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        config.validated()
    }

    fn validated(mut self) -> Result<Self, ConfigError> {
        let bad = |key, reason: String| Err(ConfigError::BadValue { key, reason });
        if self.milter.hosted_domains.is_empty() {
            return bad("milter.hosted_domains", "needs at least one domain".into());
        }
        for domain in &mut self.milter.hosted_domains {
            *domain = match crate::address::normalize_domain(domain) {
                Ok(d) => d,
                Err(reason) => return bad("milter.hosted_domains", reason),
            };
        }
        if self.milter.max_message_size.as_u64() == 0 {
            return bad("milter.max_message_size", "must be larger than 0".into());
        }
        if self.milter.max_memory.as_u64() < self.milter.max_message_size.as_u64() {
            return bad(
                "milter.max_memory",
                format!(
                    "{} cannot hold one message of milter.max_message_size ({}); make it at least that",
                    self.milter.max_memory, self.milter.max_message_size
                ),
            );
        }
        if self.milter.max_connections == 0 {
            return bad("milter.max_connections", "must be at least 1".into());
        }
        if let Err(reason) = self.database.url.parse::<DatabaseTarget>() {
            return bad("database.url", reason);
        }
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "must be at least 1".into());
        }
        for server in &self.dns.nameservers {
            if parse_nameserver(server).is_none() {
                return bad(
                    "dns.nameservers",
                    format!("`{server}` is not IP or IP:PORT (for example 127.0.0.1:5353)"),
                );
            }
        }
        if self.outbound.max_attempts < 1 {
            return bad("outbound.max_attempts", "must be at least 1".into());
        }
        if !self.outbound.smtp_url.starts_with("smtp://") {
            return bad(
                "outbound.smtp_url",
                format!("`{}` must start with smtp://", self.outbound.smtp_url),
            );
        }
        if let Some(c) = self
            .milter
            .recipient_delimiter
            .chars()
            .find(|c| *c == '@' || c.is_whitespace() || c.is_control() || c.is_alphanumeric())
        {
            return bad(
                "milter.recipient_delimiter",
                format!(
                    "`{}` cannot separate a subaddress (letters, digits, @, blanks and control characters cannot); Postfix's default is \"+\"",
                    c.escape_default()
                ),
            );
        }
        if self.outbound.default_from_domain.is_empty() {
            self.outbound.default_from_domain = self.milter.hosted_domains[0].clone();
        }
        self.outbound.default_from_domain =
            match crate::address::normalize_domain(&self.outbound.default_from_domain) {
                Ok(d) => d,
                Err(reason) => return bad("outbound.default_from_domain", reason),
            };
        if self.outbound.workers > 0
            && !self
                .milter
                .hosted_domains
                .contains(&self.outbound.default_from_domain)
        {
            return bad(
                "outbound.default_from_domain",
                format!(
                    "{} is not one of milter.hosted_domains ({}): replies From USERNAME@{} could not be answered; add it to milter.hosted_domains (or set outbound.workers = 0 on a host that does not send)",
                    self.outbound.default_from_domain,
                    self.milter.hosted_domains.join(", "),
                    self.outbound.default_from_domain
                ),
            );
        }
        for domain in &mut self.security.trusted_arc_sealers {
            *domain = match crate::address::normalize_domain(domain) {
                Ok(d) => d,
                Err(reason) => return bad("security.trusted_arc_sealers", reason),
            };
        }
        for network in &self.security.trusted_networks {
            if parse_network(network).is_none() {
                return bad(
                    "security.trusted_networks",
                    format!(
                        "`{network}` is not an address or CIDR network (for example 192.0.2.0/24)"
                    ),
                );
            }
        }
        let timeout = self.security.check_timeout.0;
        if timeout < Duration::from_secs(1) || timeout >= MILTER_CONTENT_TIMEOUT {
            return bad(
                "security.check_timeout",
                format!(
                    "must be at least 1s and below Postfix's milter_content_timeout (300s), not {}",
                    String::from(self.security.check_timeout)
                ),
            );
        }
        if !self.metrics.listen.is_empty() && self.metrics_listen().is_none() {
            return bad(
                "metrics.listen",
                format!(
                    "`{}` is not IP:PORT (for example 127.0.0.1:9425); empty turns the endpoint off",
                    crate::address::printable(&self.metrics.listen)
                ),
            );
        }
        if !self.web.listen.is_empty() && self.web_listen().is_none() {
            return bad(
                "web.listen",
                format!(
                    "`{}` is not IP:PORT (for example 127.0.0.1:8025); empty turns the web inbox off",
                    crate::address::printable(&self.web.listen)
                ),
            );
        }
        let url = &self.web.public_url;
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad(
                "web.public_url",
                format!(
                    "`{}` is not an http:// or https:// address",
                    crate::address::printable(url)
                ),
            );
        }
        self.spam.validate_within(self.security.check_timeout)?;
        let id = &self.security.authserv_id;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        {
            return bad(
                "security.authserv_id",
                format!(
                    "`{}` must be a host name (letters, digits, dots, hyphens)",
                    crate::address::printable(id)
                ),
            );
        }
        Ok(self)
    }

    pub fn database_target(&self) -> DatabaseTarget {
        self.database
            .url
            .parse()
            .expect("database.url was checked when the configuration was loaded")
    }

    /// The configured name servers (checked at load).
    pub fn nameservers(&self) -> Vec<SocketAddr> {
        self.dns
            .nameservers
            .iter()
            .filter_map(|s| parse_nameserver(s))
            .collect()
    }

    /// Where to serve metrics; `None` when `[metrics] listen` is empty.
    pub fn metrics_listen(&self) -> Option<SocketAddr> {
        self.metrics.listen.parse().ok()
    }

    /// Where to serve the web inbox; `None` when `[web] listen` is empty.
    pub fn web_listen(&self) -> Option<SocketAddr> {
        self.web.listen.parse().ok()
    }

    /// The effective configuration as TOML, for `--check-config`, with a
    /// database password masked.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = masked_url(&self.database.url);
        if !shown.spam.password.is_empty() {
            shown.spam.password = "****".into();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

impl SpamConfig {
    /// Whether rspamd is asked at all.
    pub fn enabled(&self) -> bool {
        !self.rspamd_url.is_empty()
    }

    /// Checked after `security.check_timeout`, which the timeout must fit
    /// within. Off, nothing here is used (so a short check_timeout alone
    /// needs no spam.timeout).
    fn validate_within(&self, check_timeout: CheckTimeout) -> Result<(), ConfigError> {
        let bad = |key, reason: String| Err(ConfigError::BadValue { key, reason });
        if !self.enabled() {
            return Ok(());
        }
        if !self.rspamd_url.starts_with("http://") {
            return bad(
                "spam.rspamd_url",
                format!(
                    "`{}` must start with http:// (rspamd listens on a local address, as in http://127.0.0.1:11334)",
                    crate::address::printable(&self.rspamd_url)
                ),
            );
        }
        let timeout = self.timeout.0;
        if timeout < Duration::from_millis(100) || timeout > check_timeout.0 {
            return bad(
                "spam.timeout",
                format!(
                    "must be at least 100ms and within security.check_timeout ({}), not {}",
                    String::from(check_timeout),
                    String::from(self.timeout)
                ),
            );
        }
        if self.password.contains(|c: char| c.is_control()) {
            return bad(
                "spam.password",
                "must not contain control characters".into(),
            );
        }
        Ok(())
    }
}

/// Figment's errors can span lines; the daemon prints exactly one.
fn one_line(e: &figment::Error) -> String {
    // Figment names keys within its "default" profile; the user never
    // wrote that part.
    e.to_string()
        .replace('\n', " ")
        .replace("key \"default.", "key \"")
}

/// The `X-Loop` value of the mail we send, so that we recognise it coming
/// back.
pub fn loop_marker(config: &Config) -> String {
    format!("teaminbox@{}", config.outbound.default_from_domain)
}
