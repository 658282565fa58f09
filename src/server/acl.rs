//! Access control: first matching rule wins; no match refuses.

use std::net::IpAddr;

use crate::config::{AclAction, AclRule};

#[derive(Debug, Clone)]
pub struct Acl {
    rules: Vec<AclRule>,
}

impl Acl {
    pub fn new(rules: Vec<AclRule>) -> Self {
        Self { rules }
    }

    /// What to do with a query from `ip`.
    pub fn check(&self, ip: IpAddr) -> AclAction {
        self.rule(ip).map(|r| r.action).unwrap_or(AclAction::Refuse)
    }

    /// The tags of the client at `ip`: those of its rule.
    pub fn tags(&self, ip: IpAddr) -> &[String] {
        self.rule(ip).map(|r| r.tags.as_slice()).unwrap_or(&[])
    }

    fn rule(&self, ip: IpAddr) -> Option<&AclRule> {
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        self.rules.iter().find(|r| r.net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_acl;

    #[test]
    fn default_acl_allows_local_refuses_public() {
        let acl = Acl::new(default_acl());
        for (ip, want) in [
            ("127.0.0.1", AclAction::Allow),
            ("::1", AclAction::Allow),
            ("192.168.1.9", AclAction::Allow),
            ("10.1.2.3", AclAction::Allow),
            ("::ffff:127.0.0.1", AclAction::Allow),
            ("8.8.8.8", AclAction::Refuse),
            ("2001:db8::1", AclAction::Refuse),
        ] {
            assert_eq!(acl.check(ip.parse().unwrap()), want, "{ip}");
        }
    }
}
