//! `tern check --config FILE`: load and validate a configuration, print
//! "ok" or the error (file:line: key: why), exit 0 or 1.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file.
    #[arg(long)]
    pub config: std::path::PathBuf,
}

pub fn run(args: CheckArgs) -> ExitCode {
    match crate::config::load_file(&args.config) {
        Ok(_) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
