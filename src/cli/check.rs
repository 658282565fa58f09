//! `tern check FILE` (or `--config FILE`): load and validate a
//! configuration, print "ok" or the error (file:line: key: why), exit 0
//! or 1.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file to check.
    #[arg(value_name = "FILE", required_unless_present = "config")]
    pub file: Option<PathBuf>,
    /// Configuration file to check (the same as FILE).
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub config: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let Some(path) = args.file.or(args.config) else {
        eprintln!("tern check: no configuration file given");
        return ExitCode::from(2);
    };
    match validate(&path) {
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

/// Everything `tern check` checks (also run by `tern serve` on reload):
/// the config, or the error naming file, line and key.
pub fn validate(path: &std::path::Path) -> Result<crate::config::Config, String> {
    let config = crate::config::load_file(path).map_err(|e| e.to_string())?;
    let file = path.display();
    if let Some(hints) = &config.resolver.root_hints {
        crate::engine::RootHints::from_file(hints)
            .map_err(|e| format!("{file}: resolver.root_hints: {e}"))?;
    }
    crate::authzone::AuthZones::check(&config.resolver.auth_zones)
        .map_err(|e| format!("{file}: resolver.auth_zone: {e}"))?;
    if config.dnssec.validate {
        crate::dnssec::anchors::TrustAnchors::from_config(&config.dnssec)
            .map_err(|e| format!("{file}: dnssec: {e}"))?;
    }
    crate::rpz::Rpz::load(&config.rpz).map_err(|e| format!("{file}: {e}"))?;
    crate::server::tls::Certs::load(&config.tls).map_err(|e| format!("{file}: {e}"))?;
    crate::upstream::tls::routes(&config).map_err(|e| format!("{file}: {e}"))?;
    if let Some(user) = &config.server.user {
        crate::server::privileges::lookup(user, config.server.group.as_deref())
            .map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(config)
}
