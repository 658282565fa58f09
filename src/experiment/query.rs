//! One client query of an experiment: A over UDP with RD=1 and an EDNS
//! Client Subnet option (RFC 7871 §6, encoded as `tern dig +subnet` does),
//! waiting for the reply with the same ID (RFC 5452 §9.1) until a timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::dig::args::Subnet;
use crate::dig::query::{subnet_option, OPT_SUBNET};
use crate::zone::answer::make_query;

/// What came back for one query.
#[derive(Debug, Clone)]
pub struct Reply {
    pub rcode: String,
    pub addresses: Vec<IpAddr>,
    /// None when no reply came in time.
    pub latency: Option<Duration>,
}

fn failed(rcode: &str) -> Reply {
    Reply {
        rcode: rcode.to_string(),
        addresses: Vec::new(),
        latency: None,
    }
}

/// The query bytes for `name` A from `subnet` (None: no ECS option).
pub fn build(id: u16, name: &Name, subnet: Option<IpNet>) -> Option<Vec<u8>> {
    let mut m = make_query(id, name.clone(), RecordType::A, true);
    m.metadata.recursion_desired = true;
    if let (Some(net), Some(edns)) = (subnet, m.edns.as_mut()) {
        let s = Subnet {
            addr: net.network(),
            prefix: net.prefix_len(),
        };
        edns.options_mut()
            .insert(EdnsOption::Unknown(OPT_SUBNET, subnet_option(&s)));
    }
    m.to_vec().ok()
}

/// Sends one query to `server` and waits up to `timeout` for its reply.
pub async fn ask(
    server: SocketAddr,
    name: &Name,
    subnet: Option<IpNet>,
    timeout: Duration,
) -> Reply {
    let id: u16 = rand::random();
    let Some(bytes) = build(id, name, subnet) else {
        return failed("ENCODE");
    };
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => ([127, 0, 0, 1], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return failed("SOCKET");
    };
    let sent = Instant::now();
    if sock.send_to(&bytes, server).await.is_err() {
        return failed("SEND");
    }
    let mut buf = vec![0u8; 4096];
    let deadline = sent + timeout;
    loop {
        let got = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
        let n = match got {
            Err(_) => return failed(super::stats::TIMEOUT),
            Ok(Err(_)) => continue,
            Ok(Ok((n, from))) if from == server => n,
            Ok(Ok(_)) => continue,
        };
        let latency = sent.elapsed();
        let Ok(m) = Message::from_vec(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        if m.metadata.id != id {
            continue;
        }
        return Reply {
            rcode: rcode_text(u16::from(m.metadata.response_code)),
            addresses: addresses(&m),
            latency: Some(latency),
        };
    }
}

/// The mnemonic of an RCODE (RFC 1035 §4.1.1, RFC 2136 §2.2).
pub fn rcode_text(code: u16) -> String {
    crate::wire::rcode_mnemonic(code).map_or_else(|| format!("RCODE{code}"), str::to_string)
}

/// The A addresses in the answer section (the end of any CNAME chain).
fn addresses(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_carries_the_subnet() {
        let name = Name::from_ascii("www.cdn.net.").unwrap();
        let bytes = build(7, &name, Some("10.2.0.0/24".parse().unwrap())).unwrap();
        let m = Message::from_vec(&bytes).unwrap();
        assert!(m.metadata.recursion_desired);
        assert!(m.edns.is_some());
        // Family 1, source /24, scope 0, three address bytes.
        let tail: Vec<u8> = bytes[bytes.len() - 7..].to_vec();
        assert_eq!(tail, vec![0, 1, 24, 0, 10, 2, 0]);
        let plain = build(7, &name, None).unwrap();
        assert!(plain.len() < bytes.len());
    }
}
