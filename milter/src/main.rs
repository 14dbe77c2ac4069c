use clap::Parser;
use std::process::ExitCode;
use teaminbox_milter::{cli::Cli, config::Config};

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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match teaminbox_milter::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("teaminbox-milter: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async {
        // Installed before the socket exists: a SIGTERM that comes as soon
        // as the socket appears must be a clean stop, not a kill.
        let shutdown = shutdown_signal()?;
        teaminbox_milter::run(config, shutdown)
            .await
            .map_err(|e| e.to_string())
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("teaminbox-milter: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Installs the SIGTERM and SIGINT handlers now and returns a future that
/// completes on either.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let install = |kind| signal(kind).map_err(|e| format!("cannot install signal handler: {e}"));
    let mut term = install(SignalKind::terminate())?;
    let mut int = install(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
