//! The daemon's command line, as clap reads it: in the library so that the
//! man page and shell completions are generated from this one definition
//! (`packaging/`).

use clap::Parser;
use std::path::PathBuf;
use teaminbox_store::config::CONFIG_ENV;

/// Milter for Postfix and Sendmail that takes mail for hosted forwarding
/// addresses into a shared team inbox.
#[derive(Parser)]
#[command(
    name = "teaminbox-milter",
    version,
    after_help = "Example:\n  teaminbox-milter --config /etc/teaminbox/teaminbox.toml"
)]
pub struct Cli {
    /// Configuration file (TOML). Without one, every key has its default.
    #[arg(long, env = CONFIG_ENV, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Serve only the web inbox (`[web] listen`): no milter socket,
    /// processor, outbound or retention. For a web host that shares the
    /// PostgreSQL database of a full daemon elsewhere.
    #[arg(long)]
    pub web_only: bool,
}
