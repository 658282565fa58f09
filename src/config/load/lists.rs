//! Validation of the list-valued and composite resolver keys (networks,
//! domain names, EDNS client strings, the NAT64 prefix): part of stage two
//! of config loading (`load`), with the same file/line/key errors.

use hickory_proto::rr::Name;
use ipnet::IpNet;
use toml::Spanned;

use super::{parse_net, Ctx, R};
use crate::config::file::{FileClientString, S};
use crate::config::ClientString;

impl Ctx<'_> {
    /// A list of networks (a bare address is that host).
    pub(super) fn nets(&self, v: &S<Vec<Spanned<String>>>, key: &str) -> R<Vec<IpNet>> {
        let Some(list) = v else { return Ok(Vec::new()) };
        list.get_ref()
            .iter()
            .map(|s| {
                parse_net(s.get_ref()).ok_or_else(|| {
                    self.invalid(s.span(), key, format!("bad network {:?}", s.get_ref()))
                })
            })
            .collect()
    }

    /// A list of domain names (made absolute).
    pub(super) fn names(&self, v: &S<Vec<Spanned<String>>>, key: &str) -> R<Vec<Name>> {
        let Some(list) = v else { return Ok(Vec::new()) };
        list.get_ref()
            .iter()
            .map(|s| {
                Name::from_ascii(s.get_ref())
                    .ok()
                    .filter(|_| !s.get_ref().is_empty())
                    .map(|mut n| {
                        n.set_fqdn(true);
                        n
                    })
                    .ok_or_else(|| {
                        self.invalid(s.span(), key, format!("bad domain name {:?}", s.get_ref()))
                    })
            })
            .collect()
    }

    pub(super) fn client_strings(
        &self,
        v: &S<Vec<Spanned<FileClientString>>>,
    ) -> R<Vec<ClientString>> {
        let key = "resolver.edns_client_strings";
        let Some(list) = v else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for c in list.get_ref() {
            let c = c.get_ref();
            let net = parse_net(c.net.get_ref()).ok_or_else(|| {
                self.invalid(
                    c.net.span(),
                    key,
                    format!("bad network {:?}", c.net.get_ref()),
                )
            })?;
            let text = c.text.get_ref().as_bytes().to_vec();
            if text.len() > 512 {
                return Err(self.invalid(c.text.span(), key, "text longer than 512 bytes"));
            }
            out.push(ClientString { net, text });
        }
        Ok(out)
    }

    pub(super) fn nat64_prefix(
        &self,
        v: &S<String>,
        key: &str,
        default: ipnet::Ipv6Net,
    ) -> R<ipnet::Ipv6Net> {
        let Some(v) = v else { return Ok(default) };
        let lengths = crate::upstream::nat64::PREFIX_LENGTHS;
        v.get_ref()
            .parse::<ipnet::Ipv6Net>()
            .ok()
            .filter(|p| lengths.contains(&p.prefix_len()))
            .ok_or_else(|| {
                self.invalid(
                    v.span(),
                    key,
                    format!(
                        "{:?} is not an IPv6 prefix of length 32, 40, 48, 56, 64 or 96",
                        v.get_ref()
                    ),
                )
            })
    }
}
