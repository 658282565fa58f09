//! `tern lab`.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
}

pub fn run(_args: LabArgs) -> ExitCode {
    eprintln!("tern lab: not built yet");
    ExitCode::from(1)
}
