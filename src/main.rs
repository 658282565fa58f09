//! The `tern` binary: parses arguments and hands off to a subcommand.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tern::cli::Cli::parse();
    tern::cli::run(cli)
}
