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
