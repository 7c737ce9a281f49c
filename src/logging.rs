//! Log setup. A bare level (`debug`) applies to LunaRoute's own targets only, with dependencies kept
//! at `info`: hyper and h2 at trace level would print connection internals. A full directive
//! (`info,hyper=debug`) is taken as written, for whoever needs it.

use tracing_subscriber::EnvFilter;

const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// The tracing filter for `logging.level`.
pub fn filter(level: &str) -> EnvFilter {
    let level = level.trim();
    if LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        let deps = if matches!(level, "error" | "warn") {
            level
        } else {
            "info"
        };
        EnvFilter::new(format!("{deps},lunaroute={level},lunaroute_server={level}"))
    } else {
        EnvFilter::new(level)
    }
}

/// Logs to stderr; call once at startup.
pub fn init(level: &str) {
    use std::io::IsTerminal;
    // No colour codes when stderr goes to a file or a pipe.
    tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
