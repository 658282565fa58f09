//! EDNS Client Subnet (RFC 7871) on the resolver's side: which upstream
//! queries carry the client's network, what the authority's reply says of
//! the answer's scope, and the check that the reply speaks of the network
//! we sent (§7.3). The client's network is taken by the front end (from
//! the client's own option or its address) and travels in the `Request`.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::Name;

use crate::config::ResolverConfig;

/// A client network: the address with its host bits zero, and the
/// prefix length sent (the option's SOURCE PREFIX-LENGTH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl ClientNet {
    /// `addr` cut to at most `prefix` bits, and to the configured longest
    /// prefix of its family.
    pub fn new(addr: IpAddr, prefix: u8, cfg: &ResolverConfig) -> Self {
        let longest = match addr {
            IpAddr::V4(_) => cfg.client_subnet_ipv4_prefix,
            IpAddr::V6(_) => cfg.client_subnet_ipv6_prefix,
        };
        let prefix = prefix.min(longest);
        let addr = crate::cache::subnet::network(addr, prefix)
            .map(|n| n.addr())
            .unwrap_or(addr);
        Self { addr, prefix }
    }

    /// The option sent upstream (scope 0, RFC 7871 §6).
    pub fn option(&self) -> EdnsOption {
        EdnsOption::Subnet(ClientSubnet::new(self.addr, self.prefix, 0))
    }
}

/// Whether a query to `server` for `zone` carries the client's network:
/// the zone is at or below a configured one, or the server is in a
/// configured network.
pub fn sends_to(cfg: &ResolverConfig, zone: &Name, server: SocketAddr) -> bool {
    cfg.client_subnet_zones.iter().any(|z| z.zone_of(zone))
        || cfg
            .client_subnet_servers
            .iter()
            .any(|n| n.contains(&server.ip()))
}

/// What the authority's reply says of a query that carried `sent`:
/// Some(scope) for a reply echoing our network (scope capped at the
/// source prefix, §7.3.1), Some(0) for a reply without the option (a
/// server that does not do ECS: the answer is for everyone), None for a
/// reply whose option names another network (§7.3: not to be used).
pub fn scope(reply: &Message, sent: &ClientNet) -> Option<u8> {
    let Some(EdnsOption::Subnet(got)) =
        reply.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet))
    else {
        return Some(0);
    };
    let same_family = got.addr().is_ipv4() == sent.addr.is_ipv4();
    let got_net = crate::cache::subnet::network(got.addr(), got.source_prefix()).map(|n| n.addr());
    if !same_family || got.source_prefix() != sent.prefix || got_net != Some(sent.addr) {
        return None;
    }
    Some(got.scope_prefix().min(sent.prefix))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hickory_proto::op::{Edns, MessageType, OpCode};

    use super::*;

    fn reply_with(opt: Option<ClientSubnet>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let mut e = Edns::new();
        if let Some(o) = opt {
            e.options_mut().insert(EdnsOption::Subnet(o));
        }
        m.edns = Some(e);
        m
    }

    #[test]
    fn the_client_network_is_cut_to_the_configured_prefix() {
        let cfg = ResolverConfig::default();
        let n = ClientNet::new("10.1.2.3".parse().unwrap(), 32, &cfg);
        assert_eq!(n.addr, "10.1.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(n.prefix, 24);
        let n = ClientNet::new("10.1.2.3".parse().unwrap(), 12, &cfg);
        assert_eq!(n.addr, "10.0.0.0".parse::<IpAddr>().unwrap());
        let n = ClientNet::new("2001:db8:aaaa:bbbb::1".parse().unwrap(), 128, &cfg);
        assert_eq!(n.prefix, 56);
        assert_eq!(n.addr, "2001:db8:aaaa:bb00::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_reply_scope_is_read_and_checked() {
        let sent = ClientNet {
            addr: "10.1.2.0".parse().unwrap(),
            prefix: 24,
        };
        let echo = |addr: &str, source: u8, scope: u8| {
            reply_with(Some(ClientSubnet::new(
                addr.parse().unwrap(),
                source,
                scope,
            )))
        };
        assert_eq!(scope(&echo("10.1.2.0", 24, 24), &sent), Some(24));
        assert_eq!(scope(&echo("10.1.2.0", 24, 16), &sent), Some(16));
        // A scope past the source prefix counts as the source prefix.
        assert_eq!(scope(&echo("10.1.2.0", 24, 32), &sent), Some(24));
        assert_eq!(scope(&reply_with(None), &sent), Some(0));
        // Another network, another length or family: not ours.
        assert_eq!(scope(&echo("10.9.9.0", 24, 24), &sent), None);
        assert_eq!(scope(&echo("10.1.2.0", 20, 20), &sent), None);
        assert_eq!(scope(&echo("2001:db8::", 24, 24), &sent), None);
    }

    #[test]
    fn sent_to_configured_zones_and_servers_only() {
        let mut cfg = ResolverConfig::default();
        let server: SocketAddr = "192.0.2.53:53".parse().unwrap();
        let zone = Name::from_ascii("www.video.example.").unwrap();
        assert!(!sends_to(&cfg, &zone, server));
        cfg.client_subnet_zones = vec![Name::from_ascii("video.example.").unwrap()];
        assert!(sends_to(&cfg, &zone, server));
        assert!(!sends_to(
            &cfg,
            &Name::from_ascii("example.").unwrap(),
            server
        ));
        assert!(!sends_to(&cfg, &Name::root(), server));
        cfg.client_subnet_zones.clear();
        cfg.client_subnet_servers = vec!["192.0.2.0/24".parse().unwrap()];
        assert!(sends_to(&cfg, &Name::root(), server));
    }
}
