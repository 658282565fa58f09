//! Opening the client-facing sockets: per listen address, N UDP sockets
//! sharing it with SO_REUSEPORT (the kernel spreads datagrams across them,
//! one receive loop each) and one TCP listener. IPv6 sockets are v6-only so
//! `[::]:53` and `0.0.0.0:53` can both be listened on.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol as SockProto, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

use crate::config::ServerConfig;

/// Pending TCP connections the kernel queues for us.
const TCP_BACKLOG: i32 = 1024;

/// Kernel receive buffer asked for on each UDP socket (best effort): room
/// for bursts while every worker is busy.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// Bound sockets ready for `server::run`.
#[derive(Debug, Default)]
pub struct Sockets {
    pub udp: Vec<UdpSocket>,
    pub tcp: Vec<TcpListener>,
}

impl Sockets {
    /// The addresses actually bound (port 0 resolved), one per listen
    /// address, in config order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }
}

/// Why a listen address could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({proto}): {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    pub proto: &'static str,
    #[source]
    pub source: io::Error,
}

/// How many UDP sockets per address: the configured count, or one per core.
pub fn udp_socket_count(config: &ServerConfig) -> usize {
    if config.udp_sockets > 0 {
        config.udp_sockets
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }
}

/// Opens every listen address of `config`. Must be called inside a Tokio
/// runtime. With port 0 the first UDP socket's port is reused for the
/// others and for TCP, so one address has one port.
pub fn bind(config: &ServerConfig) -> Result<Sockets, BindError> {
    let per_addr = udp_socket_count(config);
    let mut out = Sockets::default();
    for &wanted in &config.listen {
        // Port 0: the kernel picks a free UDP port, and the TCP listener
        // must share it; when that port is taken for TCP, pick again.
        let attempts = if wanted.port() == 0 {
            EPHEMERAL_ATTEMPTS
        } else {
            1
        };
        let mut last = None;
        for _ in 0..attempts {
            match bind_one(wanted, per_addr) {
                Ok((udp, tcp)) => {
                    out.udp.extend(udp);
                    out.tcp.push(tcp);
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
    }
    Ok(out)
}

/// Tries for a UDP and TCP pair on a kernel-chosen port before giving up.
const EPHEMERAL_ATTEMPTS: usize = 8;

/// The UDP sockets and the TCP listener of one listen address.
fn bind_one(
    wanted: SocketAddr,
    per_addr: usize,
) -> Result<(Vec<UdpSocket>, TcpListener), BindError> {
    let mut addr = wanted;
    let mut udp = Vec::with_capacity(per_addr);
    for _ in 0..per_addr {
        let sock = udp_socket(addr).map_err(|source| BindError {
            addr,
            proto: "udp",
            source,
        })?;
        if addr.port() == 0 {
            if let Ok(bound) = sock.local_addr() {
                addr = bound;
            }
        }
        udp.push(sock);
    }
    let tcp = tcp_listener(addr).map_err(|source| BindError {
        addr,
        proto: "tcp",
        source,
    })?;
    Ok((udp, tcp))
}

fn new_socket(addr: SocketAddr, ty: Type, proto: SockProto) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = new_socket(addr, Type::DGRAM, SockProto::UDP)?;
    #[cfg(unix)]
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(UDP_RECV_BUFFER);
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = new_socket(addr, Type::STREAM, SockProto::TCP)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(TCP_BACKLOG)?;
    TcpListener::from_std(s.into())
}
