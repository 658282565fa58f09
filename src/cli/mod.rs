//! Command-line definitions: one file per subcommand. `anyhow` is allowed
//! only here, at the edge where errors become messages and exit codes.

pub mod auth;
pub mod check;
pub mod dig;
pub mod lab;
pub mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tern",
    version,
    about = "A caching, iterative DNS resolver and its tools"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the caching iterative resolver.
    Serve(serve::ServeArgs),
    /// Validate a configuration file and exit.
    Check(check::CheckArgs),
    /// Query a DNS server, dig-style.
    Dig(dig::DigArgs),
    /// Serve zone files authoritatively.
    Auth(auth::AuthArgs),
    /// Start a miniature internet on loopback.
    Lab(lab::LabArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Check(a) => check::run(a),
        Command::Dig(a) => dig::run(a),
        Command::Auth(a) => auth::run(a),
        Command::Lab(a) => lab::run(a),
    }
}

/// Logs to stderr; RUST_LOG, when set, replaces the configured filter.
pub fn init_logging(level: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .or_else(|| tracing_subscriber::EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
