use clap::Parser;
use std::{path::PathBuf, process::ExitCode};
use teaminbox_milter::config::{Config, CONFIG_ENV};

/// Milter for Postfix and Sendmail that takes mail for hosted forwarding
/// addresses into a shared team inbox.
#[derive(Parser)]
#[command(
    version,
    after_help = "Example:\n  teaminbox-milter --config /etc/teaminbox/teaminbox.toml"
)]
struct Cli {
    /// Configuration file (TOML). Without one, every key has its default.
    #[arg(long, env = CONFIG_ENV, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print the effective configuration and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("teaminbox-milter: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("teaminbox-milter: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(teaminbox_milter::run(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teaminbox-milter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
