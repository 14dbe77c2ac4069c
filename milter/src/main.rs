use clap::Parser;
use std::process::ExitCode;
use teaminbox_milter::cli::Cli;
use teaminbox_store::config::Config;

fn main() -> ExitCode {
    map_large_buffers();
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
    teaminbox_telemetry::logging::init(config.log.format);
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
        if cli.web_only {
            teaminbox_milter::run_web_only(config, shutdown).await
        } else {
            teaminbox_milter::run(config, shutdown).await
        }
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

/// Makes glibc's malloc map every buffer from 1 MiB on and give it back to
/// the system when freed. By default its threshold rises to the largest
/// buffer freed (up to 32 MiB), after which messages of that size are
/// carved from per-thread arenas that keep the memory: with messages of
/// 30 MiB handled on several threads, the daemon's resident memory grew
/// to twice the milter's `max_memory` budget (measured through Postfix,
/// `large_messages_stay_within_the_memory_budget`).
fn map_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}
