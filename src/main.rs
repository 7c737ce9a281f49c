//! `lunaroute-server`: parse flags, load config, start logging, bind, serve until SIGINT/SIGTERM.
//! A startup error prints what we were doing and why, and exits with code 2.

use argh::FromArgs;
use lunaroute::config::{self, CliOverrides};
use lunaroute::error::StartupError;
use lunaroute::{features, server, state::AppState};
use std::path::PathBuf;
use std::process::ExitCode;

/// LunaRoute: a local proxy for AI coding assistants (Anthropic and OpenAI APIs).
#[derive(FromArgs)]
struct Args {
    /// TOML config file (default: $LUNAROUTE_CONFIG, else ~/.lunaroute/config.toml if it exists)
    #[argh(option)]
    config: Option<PathBuf>,
    /// address to listen on (default 127.0.0.1, which also listens on [::1])
    #[argh(option)]
    host: Option<String>,
    /// port to listen on (default 8081)
    #[argh(option)]
    port: Option<u16>,
    /// which APIs to serve: anthropic, openai or both (default both)
    #[argh(option)]
    dialect: Option<String>,
    /// error, warn, info, debug or trace (default info)
    #[argh(option)]
    log_level: Option<String>,
    /// print the effective config (secrets masked) and exit
    #[argh(switch)]
    print_config: bool,
    /// print the version and exit
    #[argh(switch)]
    version: bool,
}

/// `argh::from_env`, except that a usage error (`--port eighty`) exits 2 like every other startup
/// error instead of argh's 1.
fn parse_args() -> Result<Args, ExitCode> {
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    Args::from_args(&["lunaroute-server"], &argv).map_err(|early| match early.status {
        Ok(()) => {
            println!("{}", early.output);
            ExitCode::SUCCESS
        }
        Err(()) => {
            eprintln!(
                "{}\nRun lunaroute-server --help for more information.",
                early.output
            );
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    if args.version {
        println!(
            "lunaroute-server {} (features: {})",
            env!("CARGO_PKG_VERSION"),
            features::compiled().join(", ")
        );
        return ExitCode::SUCCESS;
    }
    let cli = CliOverrides {
        config: args.config,
        host: args.host,
        port: args.port,
        dialect: args.dialect,
        log_level: args.log_level,
    };
    match run(cli, args.print_config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lunaroute-server: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: CliOverrides, print_config: bool) -> Result<(), StartupError> {
    let loaded = config::load(&cli)?;
    if print_config {
        let shown = serde_json::to_string_pretty(&loaded.config).unwrap_or_default();
        println!("{shown}");
        return Ok(());
    }
    lunaroute::logging::init(&loaded.config.logging.level);
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
        let state = AppState::new(loaded.config)?;
        let listeners = server::bind(&host, port).await?;
        for l in &listeners {
            if let Ok(addr) = l.local_addr() {
                tracing::info!(
                    "LunaRoute {} listening on http://{addr}",
                    env!("CARGO_PKG_VERSION")
                );
            }
        }
        server::run(listeners, state, server::shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}
