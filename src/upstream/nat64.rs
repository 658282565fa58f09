//! NAT64 address synthesis for upstream servers (RFC 6052 §2.2): on an
//! IPv6-only host behind NAT64, an IPv4 server is reached at the IPv6
//! address that embeds its IPv4 address in the NAT64 prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::Ipv6Net;

/// The prefix lengths RFC 6052 §2.2 defines.
pub const PREFIX_LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
pub fn well_known_prefix() -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96).unwrap_or_default()
}

/// `v4` embedded in `prefix` (RFC 6052 §2.2): the IPv4 octets follow the
/// prefix, skipping bits 64..71, which stay zero; None for a prefix length
/// the RFC does not define.
pub fn synthesize(prefix: Ipv6Net, v4: Ipv4Addr) -> Option<Ipv6Addr> {
    if !PREFIX_LENGTHS.contains(&prefix.prefix_len()) {
        return None;
    }
    let mut bytes = prefix.network().octets();
    let mut pos = usize::from(prefix.prefix_len() / 8);
    for octet in v4.octets() {
        if pos == 8 {
            pos += 1;
        }
        *bytes.get_mut(pos)? = octet;
        pos += 1;
    }
    Some(Ipv6Addr::from(bytes))
}

/// The IPv4 address `v6` embeds, if it lies in `prefix` (the inverse of
/// `synthesize`).
pub fn extract(prefix: Ipv6Net, v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if !PREFIX_LENGTHS.contains(&prefix.prefix_len()) || !prefix.contains(&v6) {
        return None;
    }
    let bytes = v6.octets();
    let mut pos = usize::from(prefix.prefix_len() / 8);
    let mut out = [0u8; 4];
    for octet in out.iter_mut() {
        if pos == 8 {
            pos += 1;
        }
        *octet = *bytes.get(pos)?;
        pos += 1;
    }
    Some(Ipv4Addr::from(out))
}

/// Where to send a query for `server`: an IPv4 server through the NAT64
/// prefix when one is configured, anything else as it is.
pub fn route(server: SocketAddr, prefix: Option<Ipv6Net>) -> SocketAddr {
    match (server.ip(), prefix) {
        (IpAddr::V4(v4), Some(p)) => synthesize(p, v4)
            .map(|v6| SocketAddr::new(IpAddr::V6(v6), server.port()))
            .unwrap_or(server),
        _ => server,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The examples of RFC 6052 §2.4 (192.0.2.33 in 2001:db8:: prefixes).
    #[test]
    fn rfc6052_examples() {
        let v4 = Ipv4Addr::new(192, 0, 2, 33);
        let cases = [
            ("2001:db8::/32", "2001:db8:c000:221::"),
            ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
            ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
            ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
            ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
            ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
            ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
        ];
        for (prefix, want) in cases {
            let got = synthesize(prefix.parse().unwrap(), v4).unwrap();
            assert_eq!(got, want.parse::<Ipv6Addr>().unwrap(), "{prefix}");
        }
        assert_eq!(synthesize("2001:db8::/33".parse().unwrap(), v4), None);
        for (prefix, _) in cases {
            let p: Ipv6Net = prefix.parse().unwrap();
            assert_eq!(extract(p, synthesize(p, v4).unwrap()), Some(v4), "{prefix}");
        }
        let p = well_known_prefix();
        assert_eq!(extract(p, "2001:db8::1".parse().unwrap()), None);
    }

    #[test]
    fn only_ipv4_servers_are_routed() {
        let p = Some(well_known_prefix());
        let v4: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:53".parse().unwrap();
        assert_eq!(route(v4, p), "[64:ff9b::c000:201]:53".parse().unwrap());
        assert_eq!(route(v6, p), v6);
        assert_eq!(route(v4, None), v4);
    }
}
