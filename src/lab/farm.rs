//! `tern lab --farm N` (docs/farm.md): Debian's `redis-server` on
//! loopback as the shared cache, and N resolvers sharing it, each on its
//! own address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{toml_string, LabError};

/// The farm's Redis port (on the first resolver's address).
pub const LAB_REDIS_PORT: u16 = 5379;
/// How long Redis gets to start listening.
const REDIS_START: Duration = Duration::from_secs(10);

/// One resolver of the farm beyond the first.
pub struct Member {
    pub addr: SocketAddr,
    pub config: PathBuf,
    pub log: PathBuf,
    pub child: Child,
}

/// Where the farm's `n`th resolver (1-based) listens: the next IPv4
/// addresses after the first's (127.0.0.1, 127.0.0.2, ...), else the
/// next ports.
pub fn member_addr(first: SocketAddr, n: usize) -> SocketAddr {
    let step = n.saturating_sub(1);
    if let IpAddr::V4(v4) = first.ip() {
        let o = v4.octets();
        if let Ok(last) = u8::try_from(usize::from(o[3]) + step) {
            return SocketAddr::new(Ipv4Addr::new(o[0], o[1], o[2], last).into(), first.port());
        }
    }
    let port = u16::try_from(usize::from(first.port()) + step).unwrap_or(first.port());
    SocketAddr::new(first.ip(), port)
}

/// The `[cache.shared]` and `[control]` tables of resolver `n`.
pub fn resolver_tables(redis: SocketAddr, run_dir: &Path, n: usize) -> String {
    let socket = run_dir.join(format!("control-{n}.socket"));
    // A short breaker retry: the lab is for stopping Redis and watching
    // the resolvers come back to it.
    format!(
        "\n[cache.shared]\nserver = \"{redis}\"\nbreaker_retry_ms = 1000\n\n[control]\nsocket = \"{}\"\n",
        toml_string(&socket)
    )
}

/// Starts `redis-server` on `addr`, in the foreground, without
/// persistence, its data directory and log in `run_dir`; returns once it
/// accepts connections. A Redis that exits (its port taken) or does not
/// listen in time is an error.
pub fn start_redis(addr: SocketAddr, run_dir: &Path) -> Result<Child, LabError> {
    let dir = run_dir.join("redis");
    let io = |e: std::io::Error| LabError::Other(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let log = run_dir.join("redis.log");
    let out = std::fs::File::create(&log).map_err(io)?;
    let mut child = Command::new("redis-server")
        .args(["--bind", &addr.ip().to_string()])
        .args(["--port", &addr.port().to_string()])
        .arg("--dir")
        .arg(&dir)
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            LabError::Other(format!(
                "starting redis-server (apt-get install redis-server): {e}"
            ))
        })?;
    let _ = std::fs::write(run_dir.join("redis.pid"), child.id().to_string());
    let deadline = Instant::now() + REDIS_START;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::Other(format!(
                "redis-server on {addr} exited ({status}); see {}",
                log.display()
            )));
        }
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Other(format!(
                "redis-server on {addr} does not listen; see {}",
                log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `tern serve --config CONFIG`, its output in `log`.
pub fn start_serve(exe: &Path, config: &Path, log: &Path) -> Result<Child, LabError> {
    let io = |e: std::io::Error| LabError::Other(format!("{}: {e}", log.display()));
    let out = std::fs::File::create(log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| LabError::Other(format!("starting {} serve: {e}", exe.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_get_the_next_addresses() {
        let a = |s: &str| {
            s.parse::<SocketAddr>()
                .unwrap_or(SocketAddr::from(([0; 4], 0)))
        };
        assert_eq!(member_addr(a("127.0.0.1:5300"), 1), a("127.0.0.1:5300"));
        assert_eq!(member_addr(a("127.0.0.1:5300"), 3), a("127.0.0.3:5300"));
        assert_eq!(member_addr(a("127.0.0.255:53"), 2), a("127.0.0.255:54"));
        assert_eq!(member_addr(a("[::1]:5300"), 2), a("[::1]:5301"));
    }
}
