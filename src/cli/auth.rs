//! `tern auth --zones DIR|FILE… --listen ADDR…`: serve zone files
//! authoritatively over UDP and TCP (RFC 1035 §4.2) until Ctrl-C or
//! SIGTERM. A zone that fails its load checks stops the server starting.
//! When a zone file (or a zones directory's listing) changes, the zones
//! are read again and a zone replaces the served copy only if its SOA
//! serial grew (RFC 1982); otherwise the served copy stays and that is
//! logged. SIGHUP reads them again and loads changed zones whatever their
//! serial. If any zone fails its checks, the error is logged and the zones
//! already served stay. AXFR goes only to `--allow-transfer` networks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::auth::server::{bind, AuthServer};
use crate::zone::ZoneSet;

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// Zone files, or directories whose `*.zone` files are loaded.
    #[arg(long, num_args = 1.., required = true)]
    pub zones: Vec<PathBuf>,
    /// Addresses to serve on, UDP and TCP (port 53 when omitted).
    #[arg(long, num_args = 1.., value_parser = parse_listen, default_value = "127.0.0.1:53")]
    pub listen: Vec<SocketAddr>,
    /// Networks allowed to transfer zones (AXFR over TCP), e.g.
    /// `127.0.0.0/8`; everyone else gets REFUSED. Default: nobody.
    #[arg(long = "allow-transfer", num_args = 1.., value_parser = crate::auth::server::parse_net)]
    pub allow_transfer: Vec<ipnet::IpNet>,
    /// CDN policy file (default: `cdn.toml` inside a zones directory, if any).
    #[arg(long)]
    pub cdn: Option<PathBuf>,
    /// Log level filter (e.g. `info`, `debug`, `tern=debug`).
    #[arg(long, default_value = "info")]
    pub log: String,
}

/// `127.0.0.5` or `127.0.0.5:5353` or `[::1]:53`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s} is not an address or address:port"))
}

pub fn run(args: AuthArgs) -> ExitCode {
    super::init_logging(&args.log);
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tern auth: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_inner(args: AuthArgs) -> anyhow::Result<()> {
    let zones = Arc::new(ZoneSet::load_paths(&args.zones)?);
    let cdn_path = args.cdn.clone().or_else(|| {
        args.zones
            .iter()
            .map(|z| z.join("cdn.toml"))
            .find(|p| p.is_file())
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let dynamic = crate::auth::load_dynamic(cdn_path.as_deref()).map_err(anyhow::Error::msg)?;
        let server = Arc::new(AuthServer::new("auth", zones.clone(), dynamic));
        server.set_allow_transfer(args.allow_transfer.clone());
        let (udp, tcp) = bind(&args.listen)
            .await
            .with_context(|| format!("binding {:?}", args.listen))?;
        let bound: Vec<String> = udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        spawn_reloads(server.clone(), args.zones.clone());
        for z in zones.zones() {
            eprintln!(
                "tern auth: zone {} from {}",
                z.origin(),
                z.source().display()
            );
        }
        eprintln!("tern auth: listening on {} (udp+tcp)", bound.join(", "));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        let stop = async {
            tokio::select! {
                r = tokio::signal::ctrl_c() => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "waiting for Ctrl-C");
                    }
                }
                _ = term.recv() => {}
            }
        };
        server.serve(udp, tcp, stop).await;
        Ok(())
    })
}

/// How often zone files are looked at for changes.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the zones again on SIGHUP and when `fingerprint` changes; see
/// `ZoneSet::reload_from` for which zones are taken.
fn spawn_reloads(server: Arc<AuthServer>, paths: Vec<PathBuf>) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGHUP");
            None
        }
    };
    tokio::spawn(async move {
        let mut seen = fingerprint(&paths);
        loop {
            let signalled = tokio::select! {
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
                () = tokio::time::sleep(WATCH_INTERVAL) => false,
            };
            let now = fingerprint(&paths);
            if !signalled && now == seen {
                continue;
            }
            seen = now;
            let why = if signalled {
                "SIGHUP"
            } else {
                "zone file changed"
            };
            let loading = paths.clone();
            let loaded = tokio::task::spawn_blocking(move || ZoneSet::load_paths(&loading)).await;
            match loaded {
                Ok(Ok(fresh)) => {
                    let (zones, notes) = server.zones().reload_from(fresh, signalled);
                    server.replace_zones(Arc::new(zones));
                    if notes.is_empty() {
                        tracing::info!("{why}: no zone changed");
                        eprintln!("tern auth: {why}: no zone changed");
                    }
                    for n in notes {
                        tracing::info!("{why}: {n}");
                        eprintln!("tern auth: {why}: {n}");
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "{why}: zones not reloaded; the old ones stay");
                    eprintln!("tern auth: {why}: zones not reloaded, the old ones stay: {e}");
                }
                Err(e) => tracing::error!(error = %e, "zone reload task failed"),
            }
        }
    });
}

/// Size and modification time of every zone file given or found in a
/// directory given (and of the directories, for files added or removed).
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
    let stat = |p: &std::path::Path| {
        let meta = std::fs::metadata(p).ok();
        (
            p.to_path_buf(),
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
        )
    };
    let mut out = Vec::new();
    for p in paths {
        out.push(stat(p));
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "zone"))
                .collect();
            files.sort();
            out.extend(files.iter().map(|f| stat(f)));
        }
    }
    out
}
