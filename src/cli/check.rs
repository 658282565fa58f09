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
        Ok(config) => {
            if let Some(path) = &config.resolver.root_hints {
                if let Err(e) = crate::engine::RootHints::from_file(path) {
                    eprintln!("{}: resolver.root_hints: {e}", args.config.display());
                    return ExitCode::from(1);
                }
            }
            if let Err(e) = crate::authzone::AuthZones::check(&config.resolver.auth_zones) {
                eprintln!("{}: resolver.auth_zone: {e}", args.config.display());
                return ExitCode::from(1);
            }
            if config.dnssec.validate {
                if let Err(e) = crate::dnssec::anchors::TrustAnchors::from_config(&config.dnssec) {
                    eprintln!("{}: dnssec: {e}", args.config.display());
                    return ExitCode::from(1);
                }
            }
            if let Err(e) = crate::rpz::Rpz::load(&config.rpz) {
                eprintln!("{}: {e}", args.config.display());
                return ExitCode::from(1);
            }
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
