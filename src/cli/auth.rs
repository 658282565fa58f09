//! `tern auth`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(_args: AuthArgs) -> ExitCode {
    eprintln!("tern auth: not built yet");
    ExitCode::from(1)
}
