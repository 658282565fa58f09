//! What a lookup step yields and where it asks: `Step`, the outcome of
//! looking up one (name, type), and `ZoneServers`, a zone with the servers
//! known for it. Shared by iteration, forwarding, the exchange and the
//! cache stash, so none of them needs another for its types.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use crate::engine::Failure;

/// The result of looking up one (name, type).
#[derive(Debug, Clone)]
pub enum Step {
    /// Data for the name, possibly after CNAMEs inside one zone.
    Answer(Vec<Record>),
    /// A CNAME chain (records) whose target lies elsewhere.
    Alias(Vec<Record>, Name),
    /// The name does not exist (chain so far, SOA).
    NxDomain(Vec<Record>, Vec<Record>),
    /// No data of that type (chain so far, SOA).
    NoData(Vec<Record>, Vec<Record>),
    /// The DNAME substitution overflows (RFC 6672 §2.2); the DNAME.
    YxDomain(Vec<Record>),
    Fail(Failure),
}

/// A zone and the servers we know for it.
#[derive(Debug, Clone, Default)]
pub struct ZoneServers {
    pub zone: Name,
    /// NS names (None for configured stub addresses) with known addresses.
    pub ns: Vec<(Option<Name>, Vec<IpAddr>)>,
    /// Configured server addresses with their ports (stub and forward
    /// zones); any other address is reached on port 53.
    pub configured: Vec<SocketAddr>,
    /// Forwarders: queries carry RD=1 (RFC 1034 §4.3.1).
    pub recursive: bool,
    /// Queries start over TCP (forward-tcp-upstream).
    pub tcp: bool,
    /// The zone is an auth zone: its local copy answers, no server is
    /// asked (`authzone`).
    pub local: bool,
}

impl ZoneServers {
    pub(super) fn addrs(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for (_, ips) in &self.ns {
            for ip in ips {
                let mut all: Vec<SocketAddr> = self
                    .configured
                    .iter()
                    .filter(|sa| sa.ip() == *ip)
                    .copied()
                    .collect();
                if all.is_empty() {
                    all.push(SocketAddr::new(*ip, 53));
                }
                for sa in all {
                    if !out.contains(&sa) {
                        out.push(sa);
                    }
                }
            }
        }
        out
    }

    pub(super) fn name_of(&self, addr: &SocketAddr) -> Option<Name> {
        self.ns
            .iter()
            .find(|(_, ips)| ips.contains(&addr.ip()))
            .and_then(|(n, _)| n.clone())
    }
}

pub(super) type BoxStep<'a> = Pin<Box<dyn Future<Output = Step> + Send + 'a>>;

/// One question asked of a zone's servers.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub name: &'a Name,
    pub qtype: RecordType,
    pub class: DNSClass,
}

impl<'a> Question<'a> {
    pub fn new(name: &'a Name, qtype: RecordType, class: DNSClass) -> Self {
        Self { name, qtype, class }
    }
}
