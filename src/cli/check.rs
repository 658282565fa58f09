//! `tern check`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(_args: CheckArgs) -> ExitCode {
    eprintln!("tern check: not built yet");
    ExitCode::from(1)
}
