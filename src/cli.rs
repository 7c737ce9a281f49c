//! The command line: flags (argh) and how they become the config's top layer.

use crate::config::CliOverrides;
use argh::FromArgs;
use std::path::PathBuf;
use std::process::ExitCode;

/// LunaRoute: a local proxy for AI coding assistants (Anthropic and OpenAI APIs).
#[derive(FromArgs)]
pub struct Args {
    /// TOML config file (default: $LUNAROUTE_CONFIG, else ~/.lunaroute/config.toml if it exists)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// address to listen on (default 127.0.0.1, which also listens on [::1])
    #[argh(option)]
    pub host: Option<String>,
    /// port to listen on (default 8081)
    #[argh(option)]
    pub port: Option<u16>,
    /// which APIs to serve: anthropic, openai or both (default both)
    #[argh(option)]
    pub dialect: Option<String>,
    /// error, warn, info, debug or trace (default info)
    #[argh(option)]
    pub log_level: Option<String>,
    /// print the effective config (secrets masked) and exit
    #[argh(switch)]
    pub print_config: bool,
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,
    #[argh(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands: everything else is the proxy itself.
#[derive(FromArgs)]
#[argh(subcommand)]
pub enum Command {
    Sessions(Sessions),
    Pii(Pii),
}

/// PII redaction tools
#[derive(FromArgs)]
#[argh(subcommand, name = "pii")]
pub struct Pii {
    #[argh(subcommand)]
    pub command: PiiCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub enum PiiCommand {
    Reveal(Reveal),
}

/// print the original value of a tokenize-mode token such as [EMAIL:a3f8e9d2] (needs the key)
#[derive(FromArgs)]
#[argh(subcommand, name = "reveal")]
pub struct Reveal {
    /// the token, with or without its brackets
    #[argh(positional)]
    pub token: String,
    /// TOML config file, for the key and the vault beside the database (same as the top-level flag)
    #[argh(option)]
    pub config: Option<PathBuf>,
}

/// read recorded sessions
#[derive(FromArgs)]
#[argh(subcommand, name = "sessions")]
pub struct Sessions {
    #[argh(subcommand)]
    pub command: SessionsCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub enum SessionsCommand {
    Export(Export),
}

/// print every request of a session as JSON lines, request bodies byte for byte
#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
pub struct Export {
    /// the session id (the JSONL file name without .jsonl)
    #[argh(positional)]
    pub id: String,
    /// TOML config file, for `session_recording.jsonl.directory` (same as the top-level flag)
    #[argh(option)]
    pub config: Option<PathBuf>,
}

impl Args {
    /// `argh::from_env`, except that a usage error (`--port eighty`) exits 2 like every other
    /// startup error instead of argh's 1. `Err` carries the exit code for `--help` and usage errors.
    pub fn from_env() -> Result<Self, ExitCode> {
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

    /// `sessions export ID`: the session id to export.
    pub fn export_id(&self) -> Option<&str> {
        match &self.command {
            Some(Command::Sessions(Sessions {
                command: SessionsCommand::Export(export),
            })) => Some(&export.id),
            _ => None,
        }
    }

    /// `pii reveal TOKEN`: the token to reveal.
    pub fn reveal_token(&self) -> Option<&str> {
        match &self.command {
            Some(Command::Pii(Pii {
                command: PiiCommand::Reveal(reveal),
            })) => Some(&reveal.token),
            _ => None,
        }
    }

    /// The flags that override config keys.
    pub fn overrides(&self) -> CliOverrides {
        let config = match &self.command {
            Some(Command::Sessions(Sessions {
                command: SessionsCommand::Export(export),
            })) => export.config.clone(),
            Some(Command::Pii(Pii {
                command: PiiCommand::Reveal(reveal),
            })) => reveal.config.clone(),
            None => None,
        };
        CliOverrides {
            config: config.or_else(|| self.config.clone()),
            ..self.proxy_overrides()
        }
    }

    fn proxy_overrides(&self) -> CliOverrides {
        CliOverrides {
            config: self.config.clone(),
            host: self.host.clone(),
            port: self.port,
            dialect: self.dialect.clone(),
            log_level: self.log_level.clone(),
        }
    }
}
