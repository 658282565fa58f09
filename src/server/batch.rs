//! UDP datagrams in batches: up to `BATCH` queries read with one
//! `recvmmsg` and the replies made at once (packet cache hits) sent with
//! one `sendmmsg` (Linux). Under load most of a cache hit's cost is the
//! kernel's, and a good part of that is the two system calls per query;
//! Unbound and Knot Resolver batch the same way.
//!
//! Each datagram is read into a slot of `SLOT` bytes. A longer one (no
//! real query is) arrives cut short and then fails to parse, as a damaged
//! datagram does.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::SockAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 32;

/// Bytes read per datagram.
const SLOT: usize = 4096;

/// Received datagrams, reused batch after batch.
pub(crate) struct Received {
    buf: Vec<u8>,
    lens: [usize; BATCH],
    peers: [Option<SocketAddr>; BATCH],
    received: usize,
}

/// Replies to send together and their destinations, reused batch after
/// batch.
pub(crate) struct Replies {
    replies: Vec<(Vec<u8>, SockAddr)>,
    ready: usize,
}

impl Received {
    pub(crate) fn new() -> Self {
        Received {
            buf: vec![0; BATCH * SLOT],
            lens: [0; BATCH],
            peers: [None; BATCH],
            received: 0,
        }
    }

    /// Reads what is queued (at least one datagram, at most `BATCH`),
    /// waiting until something is.
    pub(crate) async fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        loop {
            socket.readable().await?;
            match socket.try_io(Interest::READABLE, || self.recv_now(socket)) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn recv_now(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr
        // (null pointers, zero lengths); every pointer set below points
        // into `self.buf` or the local arrays, which outlive the call.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        let base = self.buf.as_mut_ptr();
        for (i, ((iov, hdr), name)) in iovs
            .iter_mut()
            .zip(hdrs.iter_mut())
            .zip(names.iter_mut())
            .enumerate()
        {
            // SAFETY: i < BATCH, so the slot lies inside `buf`.
            iov.iov_base = unsafe { base.add(i * SLOT) }.cast();
            iov.iov_len = SLOT;
            hdr.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `hdrs` holds BATCH initialised headers as set up above.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        for ((hdr, name), (len, peer)) in hdrs
            .iter()
            .zip(names.iter())
            .zip(self.lens.iter_mut().zip(self.peers.iter_mut()))
            .take(n)
        {
            *len = (hdr.msg_len as usize).min(SLOT);
            // SAFETY: the kernel wrote a socket address of `msg_namelen`
            // bytes into `name`.
            *peer = unsafe { SockAddr::new(*name, hdr.msg_hdr.msg_namelen) }.as_socket();
        }
        self.received = n;
        Ok(n)
    }

    /// Datagram `i` of the last batch and its sender.
    pub(crate) fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if i >= self.received {
            return None;
        }
        let len = *self.lens.get(i)?;
        let peer = (*self.peers.get(i)?)?;
        let bytes = self.buf.get(i * SLOT..i * SLOT + len)?;
        Some((bytes, peer))
    }
}

impl Replies {
    pub(crate) fn new() -> Self {
        Replies {
            replies: (0..BATCH)
                .map(|_| {
                    (
                        Vec::new(),
                        SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0))),
                    )
                })
                .collect(),
            ready: 0,
        }
    }

    /// A buffer for the next reply made at once, to `peer`.
    pub(crate) fn reply_buffer(&mut self) -> Option<&mut Vec<u8>> {
        let (buf, _) = self.replies.get_mut(self.ready)?;
        buf.clear();
        Some(buf)
    }

    /// The reply written into the last `reply_buffer` goes to `peer`.
    pub(crate) fn reply_ready(&mut self, peer: SocketAddr) {
        if let Some((_, to)) = self.replies.get_mut(self.ready) {
            *to = SockAddr::from(peer);
            self.ready += 1;
        }
    }

    /// Sends the replies made for this batch, as many per call as the
    /// socket takes, waiting for room when it is full.
    pub(crate) async fn send(&mut self, socket: &UdpSocket) {
        let mut sent = 0;
        while sent < self.ready {
            let r = socket
                .async_io(Interest::WRITABLE, || self.send_now(socket, sent))
                .await;
            match r {
                Ok(n) => sent += n.max(1),
                Err(e) => {
                    // An unreachable client and the like: that reply is lost,
                    // as with send_to; the others still go.
                    tracing::debug!(error = %e, "udp send failed");
                    sent += 1;
                }
            }
        }
        self.ready = 0;
    }

    fn send_now(&self, socket: &UdpSocket, from: usize) -> io::Result<usize> {
        let pending = self.replies.get(from..self.ready).unwrap_or(&[]);
        // SAFETY: as in recv_now: zeroed headers are valid; the pointers
        // set below point into `pending` and the local arrays.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for ((iov, hdr), (bytes, to)) in iovs.iter_mut().zip(hdrs.iter_mut()).zip(pending.iter()) {
            iov.iov_base = bytes.as_ptr().cast_mut().cast();
            iov.iov_len = bytes.len();
            hdr.msg_hdr.msg_name = to.as_ptr().cast_mut().cast();
            hdr.msg_hdr.msg_namelen = to.len();
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
        }
        let count = pending.len().min(BATCH);
        // SAFETY: the first `count` headers are set up above.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_reads_queued_datagrams_and_answers_each_sender() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let clients: Vec<std::net::UdpSocket> = (0..5)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for (i, c) in clients.iter().enumerate() {
            c.send_to(&[i as u8; 3], addr).unwrap();
        }
        let mut rx = Received::new();
        let mut tx = Replies::new();
        let mut seen = 0;
        while seen < clients.len() {
            let n = rx.recv(&server).await.unwrap();
            for i in 0..n {
                let (bytes, peer) = rx.datagram(i).unwrap();
                assert_eq!(bytes.len(), 3);
                let buf = tx.reply_buffer().unwrap();
                buf.extend_from_slice(&[bytes[0], 0xaa]);
                tx.reply_ready(peer);
            }
            assert!(rx.datagram(n).is_none());
            tx.send(&server).await;
            seen += n;
        }
        for (i, c) in clients.iter().enumerate() {
            c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 8];
            let (len, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(&buf[..len], &[i as u8, 0xaa]);
        }
    }

    #[tokio::test]
    async fn a_datagram_longer_than_a_slot_arrives_cut() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .send_to(&vec![7u8; SLOT + 100], server.local_addr().unwrap())
            .unwrap();
        let mut rx = Received::new();
        assert_eq!(rx.recv(&server).await.unwrap(), 1);
        let (bytes, peer) = rx.datagram(0).unwrap();
        assert_eq!(bytes.len(), SLOT);
        assert_eq!(peer, client.local_addr().unwrap());
    }
}
