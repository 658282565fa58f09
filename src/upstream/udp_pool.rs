//! Pre-opened UDP sockets for upstream queries.
//!
//! Opening a socket per query (bind to a random ephemeral port, register
//! it with the reactor, close it afterwards) was over half the CPU of a
//! cold resolution, nearly all of it in the kernel. The pool keeps that
//! randomness (RFC 5452 §9.2) and pays for it less often:
//!
//! - every socket is bound to port 0, so the kernel draws its port at
//!   random from the ephemeral range, as for a fresh socket;
//! - an exchange takes an idle socket chosen at random (not the most or
//!   least recently used), so which port the next query leaves from does
//!   not follow from the last one;
//! - a socket serves at most `uses` exchanges and is closed after any
//!   exchange that did not end with a matching reply (a timeout may still
//!   bring a late datagram; an error may leave one queued), then replaced
//!   by a fresh one on a new random port;
//! - an idle socket stays connected to the last server it asked, so the
//!   kernel delivers to it only datagrams from that address and port; to
//!   anyone else the port looks closed (ICMP port unreachable), so a scan
//!   does not find the pool's ports.
//!
//! Whatever a reused socket still holds from its last server is read and
//! dropped before the next query is sent, and every reply is matched on
//! source, ID and question as before, so reuse cannot mix exchanges.
//!
//! A socket belongs to the runtime that opened it (its readiness comes
//! through that runtime's reactor). The front end's UDP threads each run
//! a runtime of their own (`server::Limits::udp_threads`), so each keeps
//! its own idle sockets (`set_home`): a query on one thread never waits on
//! another thread's reactor. Threads that set no home share one.

use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use rand::Rng;
use tokio::net::UdpSocket;

/// How many idle sockets are kept and how often one is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Idle sockets kept per address family and home (thread with a
    /// runtime of its own); 0 = a fresh socket for
    /// every exchange.
    pub idle: usize,
    /// Exchanges one socket serves before it is closed (>= 1).
    pub uses: u32,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            idle: 256,
            uses: 16,
        }
    }
}

/// Homes with idle sockets of their own; threads beyond share them.
const HOMES: usize = 16;

thread_local! {
    /// The idle sockets this thread takes from and gives back to.
    static HOME: Cell<usize> = const { Cell::new(0) };
}

/// Makes this thread (one running a runtime of its own) use idle sockets
/// of its own: home `n`, 1 and up (0 is the shared one).
pub fn set_home(n: usize) {
    HOME.with(|h| h.set(n % HOMES));
}

fn home() -> usize {
    HOME.with(Cell::get)
}

/// One pooled socket and the exchanges it has served.
#[derive(Debug)]
pub struct PooledSocket {
    socket: UdpSocket,
    uses: u32,
    /// The home of the thread that opened it.
    home: usize,
}

impl PooledSocket {
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The kernel-chosen local address (for tests and logs).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

/// Idle sockets per home and address family.
#[derive(Debug, Default)]
pub struct UdpPool {
    limits: PoolLimits,
    v4: [Mutex<Vec<PooledSocket>>; HOMES],
    v6: [Mutex<Vec<PooledSocket>>; HOMES],
}

impl UdpPool {
    pub fn new(limits: PoolLimits) -> Self {
        Self {
            limits: PoolLimits {
                idle: limits.idle,
                uses: limits.uses.max(1),
            },
            ..Self::default()
        }
    }

    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    fn idle_for(&self, server: SocketAddr, home: usize) -> &Mutex<Vec<PooledSocket>> {
        let homes = if server.is_ipv4() { &self.v4 } else { &self.v6 };
        let [shared, ..] = homes;
        homes.get(home % HOMES).unwrap_or(shared)
    }

    /// Idle sockets for `server`'s family now, in this thread's home.
    pub fn idle(&self, server: SocketAddr) -> usize {
        self.idle_for(server, home())
            .lock()
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// A socket connected to `server` with nothing queued: an idle one
    /// drawn at random, or a fresh one on a random port.
    pub async fn take(&self, server: SocketAddr) -> std::io::Result<PooledSocket> {
        let home = home();
        let reused = self
            .idle_for(server, home)
            .lock()
            .ok()
            .and_then(|mut idle| {
                if idle.is_empty() {
                    return None;
                }
                let i = rand::rng().random_range(0..idle.len());
                Some(idle.swap_remove(i))
            });
        let mut pooled = match reused {
            Some(p) => p,
            None => PooledSocket {
                socket: UdpSocket::bind(unspecified(server)).await?,
                uses: 0,
                home,
            },
        };
        // Connecting again replaces the peer; the kernel then delivers only
        // datagrams from `server` and reports its ICMP unreachables.
        pooled.socket.connect(server).await?;
        drain(&pooled.socket);
        pooled.uses += 1;
        Ok(pooled)
    }

    /// Hand a socket back after an exchange; `clean` = it ended with a
    /// matching reply. Anything else, a used-up socket, or a full home
    /// closes it. It goes back to the home that opened it.
    pub fn give_back(&self, pooled: PooledSocket, server: SocketAddr, clean: bool) {
        if !clean || pooled.uses >= self.limits.uses {
            return;
        }
        if let Ok(mut idle) = self.idle_for(server, pooled.home).lock() {
            if idle.len() < self.limits.idle {
                idle.push(pooled);
            }
        }
    }
}

fn unspecified(server: SocketAddr) -> SocketAddr {
    if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}

/// Read and drop what is queued (late replies from the last exchange).
/// The reads go straight to the kernel (tokio's own `try_recv` trusts its
/// cached readiness, which may not have seen them yet) and stop after a
/// fixed count.
fn drain(socket: &UdpSocket) {
    let raw = socket2::SockRef::from(socket);
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 512];
    for _ in 0..64 {
        match raw.recv(&mut buf) {
            Ok(_) => tracing::debug!("dropped a late datagram on a reused socket"),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> std::net::UdpSocket {
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    #[tokio::test]
    async fn sockets_are_reused_up_to_their_limit() {
        let pool = UdpPool::new(PoolLimits { idle: 4, uses: 3 });
        let peer = server().local_addr().unwrap();
        let first = pool.take(peer).await.unwrap();
        let port = first.local_addr().unwrap().port();
        pool.give_back(first, peer, true);
        assert_eq!(pool.idle(peer), 1);
        let second = pool.take(peer).await.unwrap();
        assert_eq!(second.local_addr().unwrap().port(), port);
        pool.give_back(second, peer, true);
        let third = pool.take(peer).await.unwrap();
        assert_eq!(third.uses, 3);
        pool.give_back(third, peer, true);
        assert_eq!(pool.idle(peer), 0, "a used-up socket is closed");
        let fresh = pool.take(peer).await.unwrap();
        assert_eq!(fresh.uses, 1);
    }

    #[tokio::test]
    async fn unclean_sockets_and_overflow_are_closed() {
        let pool = UdpPool::new(PoolLimits { idle: 1, uses: 10 });
        let peer = server().local_addr().unwrap();
        let a = pool.take(peer).await.unwrap();
        let b = pool.take(peer).await.unwrap();
        pool.give_back(a, peer, false);
        assert_eq!(pool.idle(peer), 0);
        let c = pool.take(peer).await.unwrap();
        pool.give_back(b, peer, true);
        pool.give_back(c, peer, true);
        assert_eq!(pool.idle(peer), 1, "the pool keeps at most `idle`");
        let off = UdpPool::new(PoolLimits { idle: 0, uses: 10 });
        let d = off.take(peer).await.unwrap();
        off.give_back(d, peer, true);
        assert_eq!(off.idle(peer), 0);
    }

    #[tokio::test]
    async fn a_reused_socket_drops_what_the_last_server_sent_late() {
        let pool = UdpPool::new(PoolLimits { idle: 4, uses: 10 });
        let old = server();
        let new = server();
        let s = pool.take(old.local_addr().unwrap()).await.unwrap();
        let local = s.local_addr().unwrap();
        pool.give_back(s, old.local_addr().unwrap(), true);
        old.send_to(b"late", local).unwrap();
        // Let the datagram land in the idle socket's queue.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let s = pool.take(new.local_addr().unwrap()).await.unwrap();
        assert_eq!(s.local_addr().unwrap(), local);
        let mut raw_buf = [std::mem::MaybeUninit::<u8>::uninit(); 16];
        let left = socket2::SockRef::from(s.socket()).recv(&mut raw_buf);
        assert!(left.is_err(), "queue drained: {left:?}");
        let mut buf = [0u8; 16];
        // Only the new peer gets through now.
        old.send_to(b"spoof", local).unwrap();
        new.send_to(b"real", local).unwrap();
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), s.socket().recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"real");
    }

    #[tokio::test]
    async fn idle_sockets_are_drawn_at_random() {
        let pool = UdpPool::new(PoolLimits {
            idle: 16,
            uses: 1000,
        });
        let peer = server().local_addr().unwrap();
        let mut taken = Vec::new();
        for _ in 0..8 {
            taken.push(pool.take(peer).await.unwrap());
        }
        let ports: Vec<u16> = taken
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        for s in taken {
            pool.give_back(s, peer, true);
        }
        // Take one and give it back 40 times: with a random draw among 8
        // idle sockets, several different ports come out (a stack would
        // always give the same one).
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let s = pool.take(peer).await.unwrap();
            seen.insert(s.local_addr().unwrap().port());
            pool.give_back(s, peer, true);
        }
        assert!(seen.len() >= 4, "ports drawn: {seen:?} of {ports:?}");
    }
}
