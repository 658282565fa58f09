//! `tern lab [DIR]`: start the miniature internet described by DIR/lab.toml
//! (default `zones/`), print its map, re-read the lab file whenever it
//! changes (checked every second) to apply faults, stop on Ctrl-C or
//! SIGTERM (killing the resolver child).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::lab::{LabSpec, RunningLab, StartOptions};

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// Lab directory containing lab.toml (or the lab file itself).
    #[arg(default_value = "zones")]
    pub dir: PathBuf,
    /// Do not start the `tern serve` resolver.
    #[arg(long)]
    pub no_resolver: bool,
    /// Where to write root hints, the resolver config and its log.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Sign every zone, write the root trust anchor and validate in the
    /// resolver (bogus.example.lab is bogus, cdn.net insecure).
    #[arg(long)]
    pub dnssec: bool,
    /// Start Debian's redis-server on loopback and N resolvers sharing it
    /// as their cache, each on its own address (docs/farm.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub farm: Option<u16>,
    /// Log level filter (e.g. `info`, `tern=debug`).
    #[arg(long, default_value = "info")]
    pub log: String,
}

pub fn run(args: LabArgs) -> ExitCode {
    super::init_logging(&args.log);
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern lab: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn mtime(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn run_inner(args: LabArgs) -> anyhow::Result<()> {
    let spec = LabSpec::load(&args.dir)?;
    let exe = match args.no_resolver {
        true => None,
        false => Some(std::env::current_exe().context("finding the tern binary")?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let file = spec.file.clone();
        let mut seen = mtime(&file);
        let opts = StartOptions {
            resolver_exe: exe,
            run_dir: args.run_dir,
            dnssec: args.dnssec,
            farm: args.farm.map_or(0, usize::from),
        };
        let mut lab = RunningLab::start(spec, opts).await?;
        print!("{}", lab.describe());
        println!(
            "edit {} to change faults; Ctrl-C stops the lab",
            file.display()
        );
        let mut reported_exit = false;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !reported_exit {
                if let Some(status) = lab.resolver_exited() {
                    eprintln!(
                        "tern lab: the resolver exited ({status}); see {}",
                        lab.run_dir().join("resolver.log").display()
                    );
                    reported_exit = true;
                }
            }
            let now = mtime(&file);
            if now == seen {
                continue;
            }
            seen = now;
            match LabSpec::load(&file) {
                Ok(new) => match lab.apply(&new).await {
                    Ok(changes) if changes.is_empty() => {
                        println!("lab file re-read: no fault changes")
                    }
                    Ok(changes) => changes.iter().for_each(|c| println!("changed: {c}")),
                    Err(e) => eprintln!("tern lab: {e}"),
                },
                Err(e) => eprintln!("tern lab: keeping the previous faults: {e}"),
            }
        }
        println!("tern lab: stopping");
        lab.stop().await;
        Ok(())
    })
}
