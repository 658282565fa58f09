//! `tern experiment FILE [--out DIR]`: run the experiment described in
//! FILE (see docs/lab.md, "Experiments") against a lab of its own, print
//! progress while it runs and a summary at the end, and leave
//! DIR/answers.csv and DIR/report.svg.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::experiment::Experiment;

#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// The experiment file (e.g. zones/experiments/failover.toml).
    pub file: PathBuf,
    /// Where answers.csv, report.svg, the lab copy and the resolver log go
    /// (default: experiment-NAME in the current directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Log level filter for the lab's servers (e.g. `warn`, `tern=info`).
    #[arg(long, default_value = "warn")]
    pub log: String,
}

pub fn run(args: ExperimentArgs) -> ExitCode {
    super::init_logging(&args.log);
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern experiment: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(args: ExperimentArgs) -> anyhow::Result<()> {
    let exp = Experiment::load(&args.file)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiment-{}", exp.title)));
    let exe = std::env::current_exe().context("finding the tern binary")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let outcome = rt.block_on(async {
        let mut progress = |line: &str| {
            let mut err = std::io::stderr();
            let _ = writeln!(err, "tern experiment: {line}");
        };
        tokio::select! {
            r = crate::experiment::run(&exp, &out, &exe, &mut progress) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })?;
    print!("{}", outcome.summary);
    println!(
        "wrote {} ({} rows) and {}",
        outcome.csv.display(),
        outcome.answers.len(),
        outcome.svg.display()
    );
    Ok(())
}
