//! The DNS resolver every stage uses: the `[dns] nameservers` of the
//! configuration, or the system's.

use mail_auth::{
    hickory_resolver::{
        config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts},
        system_conf::read_system_conf,
    },
    MessageAuthenticator,
};
use std::{net::SocketAddr, time::Duration};

/// Why the resolver could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the DNS resolver: {0}")]
pub struct ResolverError(String);

/// How long one DNS query waits for an answer (tried twice).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A resolver on `nameservers` (`IP:PORT`, UDP and TCP), or the system's
/// (/etc/resolv.conf) when there are none.
pub fn resolver(nameservers: &[SocketAddr]) -> Result<MessageAuthenticator, ResolverError> {
    resolver_within(nameservers, QUERY_TIMEOUT)
}

/// [`resolver`] whose queries wait at most `timeout` each.
pub fn resolver_within(
    nameservers: &[SocketAddr],
    timeout: Duration,
) -> Result<MessageAuthenticator, ResolverError> {
    let (config, mut options) = if nameservers.is_empty() {
        read_system_conf().map_err(|e| ResolverError(e.to_string()))?
    } else {
        let servers = nameservers.iter().map(|addr| {
            let with_port = |mut c: ConnectionConfig| {
                c.port = addr.port();
                c
            };
            NameServerConfig::new(
                addr.ip(),
                true,
                vec![
                    with_port(ConnectionConfig::udp()),
                    with_port(ConnectionConfig::tcp()),
                ],
            )
        });
        let mut options = ResolverOpts::default();
        options.attempts = 2;
        (
            ResolverConfig::from_parts(None, vec![], servers.collect()),
            options,
        )
    };
    // A message waits for these answers inside an SMTP session.
    options.timeout = options.timeout.min(timeout);
    MessageAuthenticator::new(config, options).map_err(|e| ResolverError(e.to_string()))
}
