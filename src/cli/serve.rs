//! `tern serve`: load the config (flags override it), start logging, bind
//! the listen addresses, run the resolver until SIGTERM or SIGINT, drain the
//! queries in flight and exit 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::clock::SystemClock;
use crate::config::{load::socket_addr, load_file, Config};
use crate::engine::{Resolver, RootHints};
use crate::server::{self, Handler};
use crate::upstream::net::NetTransport;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file (default: built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on, UDP and TCP (repeatable; replaces server.listen).
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Root hints file in zone-file syntax (replaces resolver.root_hints).
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern serve: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => load_file(path)?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        config.server.listen = args
            .listen
            .iter()
            .map(|a| socket_addr(a).with_context(|| format!("bad --listen address {a:?}")))
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(hints) = args.root_hints {
        config.resolver.root_hints = Some(hints);
    }
    super::init_logging(&config.log.level);
    // A broken hints file stops the start with its error, rather than
    // leaving a resolver that fails every query.
    let hints = match &config.resolver.root_hints {
        Some(path) => RootHints::from_file(path)?,
        None => RootHints::built_in(),
    };
    // Likewise an auth zone file that cannot be read (file and line).
    crate::authzone::AuthZones::check(&config.resolver.auth_zones).context("resolver.auth_zone")?;
    // Likewise unusable trust anchors: validating without them would make
    // every answer insecure (or bogus) without saying why.
    if config.dnssec.validate {
        crate::dnssec::anchors::TrustAnchors::from_config(&config.dnssec)
            .context("dnssec trust anchors")?;
        crate::dnssec::autotrust::file::read_all(&config.dnssec)
            .context("dnssec auto trust anchor files")?;
    }
    // And policy zones that do not load: serving without the policy
    // would answer what it is meant to block.
    crate::rpz::Rpz::load(&config.rpz)?;
    let config = Arc::new(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sockets = server::bind(&config.server)?;
        for addr in sockets.local_addrs() {
            tracing::info!(%addr, "listening (udp, tcp)");
        }
        let resolver = Resolver::with_hints(
            config.clone(),
            hints,
            NetTransport::new(),
            SystemClock::new(),
        );
        let resolver = Arc::new(
            resolver.with_autotrust_sink(Arc::new(crate::dnssec::autotrust::file::FileSink)),
        );
        // RFC 5011 probes (engine/autotrust.rs): a due trust point is
        // asked for its DNSKEY set; checked once a minute.
        let prober = resolver.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                prober.autotrust_probe_due().await;
            }
        });
        let deadline = resolver.config().server.client_timeout;
        let handler = Arc::new(Handler::new(resolver).with_client_deadline(deadline));
        server::run(handler, sockets.udp, sockets.tcp, shutdown_signal()).await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = ctrl_c => {},
                }
            }
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
