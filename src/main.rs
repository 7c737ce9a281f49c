//! `lunaroute-server`: parse flags, load config, start logging, bind, serve until SIGINT/SIGTERM.
//! A startup error prints what we were doing and why, and exits with code 2.

use lunaroute::cli::Args;
use lunaroute::error::StartupError;
use lunaroute::{config, features, logging, server, state::AppState};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match Args::from_env() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.version {
        let features = features::compiled().join(", ");
        println!(
            "lunaroute-server {} (features: {features})",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    if let Some(token) = args.reveal_token() {
        return reveal(&args, token);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lunaroute-server: {e}");
            ExitCode::from(2)
        }
    }
}

/// `pii reveal TOKEN`: the original on stdout (exit 0); an unknown token or a wrong key is a
/// message on stderr and exit 1 (a config that does not load is a startup error, exit 2).
fn reveal(args: &Args, token: &str) -> ExitCode {
    let loaded = match config::load(&args.overrides()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("lunaroute-server: {e}");
            return ExitCode::from(2);
        }
    };
    match features::pii::reveal(&loaded.config, token) {
        Ok(original) => {
            println!("{original}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("lunaroute-server: pii reveal {token}: {why}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<(), StartupError> {
    let loaded = config::load(&args.overrides())?;
    if args.print_config {
        println!(
            "{}",
            serde_json::to_string_pretty(&loaded.config).unwrap_or_default()
        );
        return Ok(());
    }
    if let Some(id) = args.export_id() {
        features::export_session(&loaded.config, id, &mut std::io::stdout().lock())?;
        return Ok(());
    }
    logging::init(&loaded.config.logging.level);
    if let Some(file) = &loaded.file {
        tracing::info!("config: {}", file.display());
    }
    for name in &loaded.ignored_env {
        tracing::warn!("ignoring unknown environment variable {name}");
    }
    features::warn_compiled_out(&loaded.explicit_sections);

    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| StartupError::new("starting the runtime", e))?;
    runtime.block_on(async {
        let (host, port) = (loaded.config.host.clone(), loaded.config.port);
        // Before binding: a signal from here on is a clean shutdown.
        let shutdown = server::shutdown_signal();
        let state = AppState::new(loaded.config)?;
        let listeners = server::bind(&host, port).await?;
        server::run(listeners, state, shutdown).await;
        tracing::info!("stopped");
        Ok(())
    })
}
