//! `tern serve`: load the config (flags override it), start logging, bind
//! the listen addresses (and the control socket), run the resolver until
//! SIGTERM or SIGINT, drain the queries in flight and exit 0. SIGHUP and
//! `tern ctl reload` re-read the config (see `reload`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::clock::Clock;
use crate::clock::SystemClock;
use crate::config::{load::socket_addr, load_file, Config};
use crate::engine::{Resolver, RootHints};
use crate::server::control::{self, Control, ReloadFn};
use crate::server::{self, Handler};
use crate::server::{cache_file, privileges};
use crate::upstream::counting::{Counting, UpstreamCounters};
use crate::upstream::merge::Merging;
use crate::upstream::net::NetTransport;
use crate::upstream::tls::{self as upstream_tls, TlsForwarders};
use crate::upstream::udp_pool::PoolLimits;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file; keys it leaves out keep their defaults
    /// (docs/configuration.md) [default: none, every key at its default]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, UDP and TCP; repeatable; replaces
    /// server.listen; a bare address means port 53 [default: server.listen,
    /// 127.0.0.1:53]
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<String>,
    /// Root hints file in zone-file syntax; replaces resolver.root_hints
    /// [default: resolver.root_hints, the built-in root servers]
    #[arg(long, value_name = "FILE")]
    pub root_hints: Option<PathBuf>,
    /// Log filter: a level (off, error, warn, info, debug, trace) or
    /// TARGET=LEVEL directives such as "tern=debug,warn"; replaces
    /// log.level; RUST_LOG, when set, still wins [default: log.level, info]
    #[arg(long, value_name = "LEVEL")]
    pub log: Option<String>,
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

/// The command-line flags that replace config keys.
fn apply_flags(config: &mut Config, args: &ServeArgs) -> anyhow::Result<()> {
    if !args.listen.is_empty() {
        config.server.listen = args
            .listen
            .iter()
            .map(|a| socket_addr(a).with_context(|| format!("bad --listen address {a:?}")))
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(hints) = &args.root_hints {
        config.resolver.root_hints = Some(hints.clone());
    }
    if let Some(level) = &args.log {
        // An unknown level is an error here as in log.level, not a
        // silent fallback to "info" or a target name.
        if let Some(word) = crate::config::load::unknown_level(level) {
            anyhow::bail!(
                "bad --log filter {level:?}: unknown level {word:?}: use off, error, warn, info, debug or trace, or TARGET=LEVEL"
            );
        }
        tracing_subscriber::EnvFilter::try_new(level)
            .with_context(|| format!("bad --log filter {level:?}"))?;
        config.log.level = level.clone();
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => load_file(path)?,
        None => Config::default(),
    };
    apply_flags(&mut config, &args)?;
    super::init_logging(&log_filter(&config.log));
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
    let config_file = args.config.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sockets = server::bind(&config.server)?;
        for addr in sockets.local_addrs() {
            tracing::info!(%addr, "listening (udp, tcp)");
        }
        let certs = server::tls::Certs::load(&config.tls)?;
        let encrypted = match &certs {
            Some(c) => Some(server::tls::bind(&config.tls, c.clone())?),
            None => None,
        };
        if let Some(enc) = &encrypted {
            let (dot, doh) = enc.local_addrs();
            for addr in dot {
                tracing::info!(%addr, "listening (dns over tls)");
            }
            for addr in doh {
                tracing::info!(%addr, path = %config.tls.https_path, "listening (dns over https)");
            }
        }
        let upstream = Arc::new(UpstreamCounters::default());
        let forwarders = TlsForwarders::new(
            NetTransport::with_pool(PoolLimits {
                idle: config.upstream.udp_socket_pool,
                uses: config.upstream.udp_socket_uses,
            }),
            upstream_tls::routes(&config).map_err(anyhow::Error::msg)?,
        );
        let tls_routes = forwarders.routes_handle();
        let resolver = Resolver::with_hints(
            config.clone(),
            hints,
            Merging::new(Counting::new(forwarders, upstream.clone())),
            SystemClock::new(),
        );
        let resolver = Arc::new(
            resolver.with_autotrust_sink(Arc::new(crate::dnssec::autotrust::file::FileSink)),
        );
        if let Some(path) = config.cache.save_file.as_ref().filter(|p| p.exists()) {
            // A dump that cannot be read costs a cold start, not the start.
            match cache_file::restore(resolver.cache(), resolver.clock().now(), path) {
                Ok(n) => tracing::info!(rrsets = n, file = %path.display(), "cache loaded"),
                Err(e) => tracing::warn!(error = %e, "cache file not loaded"),
            }
        }
        let deadline = resolver.config().server.client_timeout;
        let shared = resolver.config().cache.shared.clone();
        let mut handler = Handler::new(resolver).with_client_deadline(deadline);
        if let Some(sc) = shared {
            // Connected on first use: a Redis that is down at start is
            // skipped like one that goes down later.
            let server = sc.server.clone();
            let clock = Arc::new(SystemClock::new());
            let store = crate::shared_cache::SharedCache::redis(sc, clock)
                .map_err(|e| anyhow::anyhow!("cache.shared ({server}): {e}"))?;
            tracing::info!(%server, "shared cache");
            handler = handler.with_shared_cache(store);
        }
        let handler = Arc::new(handler);
        let current = Arc::new(server::Current::new(handler));
        let reload: Arc<ReloadFn> = {
            let current = current.clone();
            let args = Arc::new(args);
            let certs = certs.clone();
            Arc::new(move || reload(&current, &args, certs.as_deref(), &tls_routes))
        };
        spawn_sighup(reload.clone());
        // RFC 5011 probes (engine/autotrust.rs): a due trust point is
        // asked for its DNSKEY set; checked once a minute.
        let prober = current.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let resolver = prober.load_full().resolver().clone();
                resolver.autotrust_probe_due().await;
            }
        });
        if let Some(addr) = config.metrics.listen {
            let listener = crate::server::metrics::bind(addr).await?;
            tracing::info!(%addr, "metrics listening (http, /metrics)");
            let registry = crate::server::metrics::registry(current.clone(), upstream.clone());
            tokio::spawn(crate::server::metrics::serve(listener, Arc::new(registry)));
        }
        let control_path = config.control.socket.clone();
        if let Some(path) = &control_path {
            let listener = control::bind(path)?;
            tracing::info!(path = %path.display(), "control socket listening");
            let control = Control::new(
                current.clone(),
                upstream,
                config_file,
                sockets.local_addrs(),
                reload,
            );
            tokio::spawn(Arc::new(control).serve(listener));
        }
        drop_privileges(&config, control_path.as_deref())?;
        server::run_with_tls(
            current.clone(),
            sockets.udp,
            sockets.tcp,
            encrypted,
            shutdown_signal(),
        )
        .await;
        let resolver = current.load_full().resolver().clone();
        if let Some(path) = &resolver.config().cache.save_file {
            match cache_file::save(resolver.cache(), resolver.clock().now(), path) {
                Ok(n) => tracing::info!(records = n, file = %path.display(), "cache saved"),
                Err(e) => tracing::warn!(error = %e, file = %path.display(), "cache not saved"),
            }
        }
        if let Some(path) = &control_path {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}

/// Re-reads the config file: refused (the running one stays) unless it
/// passes `tern check`. The new configuration takes over for queries that
/// arrive from then on (queries running finish with the old one): a new
/// resolver and front end are built from it, keeping the cache (unless
/// `[cache]` changed), what is known of servers (unless `[upstream]`
/// changed) and the counters. Local zones, auth zones, policy zones and
/// trust anchors are read again, and so are the `[tls]` certificate and
/// key (new connections present the new certificate). What is bound at start (listen addresses,
/// listener limits, rate limit, user, control socket, metrics address)
/// waits for a restart; the reply names it.
fn reload<C: crate::clock::Clock + Clone>(
    current: &server::Current<Merging<Counting<TlsForwarders<NetTransport>>>, C>,
    args: &ServeArgs,
    certs: Option<&server::tls::Certs>,
    tls_routes: &arc_swap::ArcSwap<upstream_tls::Routes>,
) -> Result<String, String> {
    let Some(path) = &args.config else {
        return Err("tern serve was started without --config: nothing to re-read".to_string());
    };
    let refused = |e: String| {
        tracing::warn!(error = %e, "reload refused; the running config stays");
        format!("reload refused, the running config stays: {e}")
    };
    let mut new = super::check::validate(path).map_err(refused)?;
    apply_flags(&mut new, args).map_err(|e| refused(format!("{e:#}")))?;
    let hints = match &new.resolver.root_hints {
        Some(p) => RootHints::from_file(p).map_err(|e| refused(e.to_string()))?,
        None => RootHints::built_in(),
    };
    let routes = upstream_tls::routes(&new).map_err(refused)?;
    if let Some(certs) = certs {
        certs.reload(&new.tls).map_err(|e| refused(e.to_string()))?;
    }
    tls_routes.store(Arc::new(routes));
    let old = current.load_full();
    let running = old.resolver().config().clone();
    let log = super::set_log_level(&log_filter(&new.log)).map_err(refused)?;
    let waiting = needs_restart(&running, &new);
    let (resolver, kept) = old.resolver().reconfigured(Arc::new(new), hints);
    let resolver = resolver.with_autotrust_sink(Arc::new(crate::dnssec::autotrust::file::FileSink));
    current.store(Arc::new(old.successor(Arc::new(resolver))));
    let mut out = format!("reloaded {}: new configuration in service", path.display());
    out.push_str(if kept {
        ", cache kept"
    } else {
        ", cache emptied ([cache] changed)"
    });
    if log {
        out.push_str(", log level applied");
    }
    if certs.is_some() {
        out.push_str(", tls certificate re-read");
    }
    if !waiting.is_empty() {
        out.push_str(&format!(
            "; {} take effect after a restart",
            waiting.join(", ")
        ));
    }
    tracing::info!("{out}");
    Ok(out)
}

/// The tracing filter: `log.level`, and the query lines of `log.queries`
/// whatever the level.
fn log_filter(log: &crate::config::LogConfig) -> String {
    if log.queries {
        format!("{},tern::queries=info", log.level)
    } else {
        log.level.clone()
    }
}

/// The settings that differ in something bound at start, which a reload
/// does not change.
fn needs_restart(running: &Config, new: &Config) -> Vec<String> {
    let (a, b) = (&running.server, &new.server);
    let differs =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    let mut out = Vec::new();
    for (name, changed) in [
        ("server.listen", differs(&a.listen, &b.listen)),
        ("server.udp_sockets", a.udp_sockets != b.udp_sockets),
        ("server.udp_threads", a.udp_threads != b.udp_threads),
        (
            "server.tcp_idle_timeout_ms",
            a.tcp_idle_timeout != b.tcp_idle_timeout,
        ),
        (
            "server.tcp_max_connections",
            a.tcp_max_connections != b.tcp_max_connections,
        ),
        (
            "server.tcp_max_connections_per_client",
            a.tcp_max_connections_per_client != b.tcp_max_connections_per_client,
        ),
        (
            "server.max_concurrent_queries",
            a.max_concurrent_queries != b.max_concurrent_queries,
        ),
        ("server.user", a.user != b.user || a.group != b.group),
        (
            "server.ratelimit",
            a.ratelimit != b.ratelimit
                || a.ratelimit_slip != b.ratelimit_slip
                || a.ratelimit_ipv4_prefix != b.ratelimit_ipv4_prefix
                || a.ratelimit_ipv6_prefix != b.ratelimit_ipv6_prefix,
        ),
        (
            "upstream.udp_socket_pool",
            running.upstream.udp_socket_pool != new.upstream.udp_socket_pool
                || running.upstream.udp_socket_uses != new.upstream.udp_socket_uses,
        ),
        ("[control]", differs(&running.control, &new.control)),
        (
            "[tls] listeners and limits",
            running.tls.listen != new.tls.listen
                || running.tls.https_listen != new.tls.https_listen
                || running.tls.max_connections != new.tls.max_connections
                || running.tls.max_connections_per_client != new.tls.max_connections_per_client
                || running.tls.idle_timeout != new.tls.idle_timeout,
        ),
        ("[metrics]", differs(&running.metrics, &new.metrics)),
    ] {
        if changed {
            out.push(name.to_string());
        }
    }
    out
}

/// With `server.user`, becomes that user (the control socket handed over
/// to it first); tern does not go on if that fails. Without, a warning
/// when running as root.
fn drop_privileges(config: &Config, control: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(user) = &config.server.user else {
        if privileges::is_root() {
            tracing::warn!("running as root: set server.user to drop privileges after binding");
        }
        return Ok(());
    };
    let target = privileges::lookup(user, config.server.group.as_deref())?;
    if let Some(path) = control {
        std::os::unix::fs::chown(path, Some(target.uid), Some(target.gid))
            .with_context(|| format!("control socket {}: chown to {user}", path.display()))?;
    }
    privileges::drop_to(&target)?;
    tracing::info!(user = %user, uid = target.uid, gid = target.gid, "privileges dropped");
    Ok(())
}

/// SIGHUP reloads the config, as `tern ctl reload` does.
fn spawn_sighup(reload: Arc<ReloadFn>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading the config");
                        // The outcome is logged by `reload`.
                        let r = reload.clone();
                        let _ = tokio::task::spawn_blocking(move || r()).await;
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot handle SIGHUP"),
        }
    }
    #[cfg(not(unix))]
    let _ = reload;
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
