//! `tern serve`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("tern serve: not built yet");
    ExitCode::from(1)
}
