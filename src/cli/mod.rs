//! Command-line definitions: one file per subcommand. `anyhow` is allowed
//! only here, at the edge where errors become messages and exit codes.

pub mod auth;
pub mod check;
pub mod ctl;
pub mod dig;
pub mod experiment;
pub mod generate;
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
    /// Control a running `tern serve` over its control socket.
    Ctl(ctl::CtlArgs),
    /// Run a scripted client population and timeline against a lab.
    Experiment(experiment::ExperimentArgs),
    /// Write the man pages and shell completions into a directory (for
    /// packaging).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Check(a) => check::run(a),
        Command::Dig(a) => dig::run(a),
        Command::Auth(a) => auth::run(a),
        Command::Lab(a) => lab::run(a),
        Command::Ctl(a) => ctl::run(a),
        Command::Experiment(a) => experiment::run(a),
        Command::Generate(a) => generate::run(a),
    }
}

type LogHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Swaps the filter of the logging set up by `init_logging`.
static LOG_FILTER: std::sync::OnceLock<LogHandle> = std::sync::OnceLock::new();

/// Logs to stderr; RUST_LOG, when set, replaces the configured filter.
pub fn init_logging(level: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .or_else(|| tracing_subscriber::EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = LOG_FILTER.set(handle);
    }
}

/// Replaces the log filter (on reload). False when RUST_LOG is set, which
/// keeps precedence, or logging was not set up here.
pub fn set_log_level(level: &str) -> Result<bool, String> {
    if std::env::var_os("RUST_LOG").is_some() {
        return Ok(false);
    }
    let Some(handle) = LOG_FILTER.get() else {
        return Ok(false);
    };
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| format!("log.level: bad filter: {e}"))?;
    handle.reload(filter).map_err(|e| e.to_string())?;
    Ok(true)
}
