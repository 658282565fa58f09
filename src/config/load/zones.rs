//! Validation of `[[resolver.forward_zone]]` tables: the zone name, its
//! forwarders' addresses (port 53 when none is given) and its flags. A
//! zone listed twice is an error; a forward zone and a stub zone may share
//! a name (the forward zone wins, as in Unbound).

use hickory_proto::rr::Name;

use super::{flag, socket_addr, Ctx, R};
use crate::config::file::FileForwardZone;
use crate::config::ForwardZone;

impl Ctx<'_> {
    pub(super) fn forward_zones(&self, zones: &[FileForwardZone]) -> R<Vec<ForwardZone>> {
        let key = "resolver.forward_zone";
        let mut out: Vec<ForwardZone> = Vec::new();
        for z in zones {
            let text = z.name.get_ref();
            let name = Name::from_ascii(text)
                .ok()
                .filter(|_| !text.is_empty())
                .map(|mut n| {
                    n.set_fqdn(true);
                    n
                })
                .ok_or_else(|| {
                    self.invalid(z.name.span(), key, format!("bad zone name {text:?}"))
                })?;
            let mut addrs = Vec::new();
            for a in z
                .addrs
                .as_ref()
                .map(|v| v.get_ref().as_slice())
                .unwrap_or(&[])
            {
                let addr = socket_addr(a.get_ref()).ok_or_else(|| {
                    self.invalid(a.span(), key, format!("bad address {:?}", a.get_ref()))
                })?;
                addrs.push(addr);
            }
            let mut hosts = Vec::new();
            for h in z
                .hosts
                .as_ref()
                .map(|v| v.get_ref().as_slice())
                .unwrap_or(&[])
            {
                hosts.push(self.host_name(h, key)?);
            }
            if addrs.is_empty() && hosts.is_empty() {
                let span = z
                    .addrs
                    .as_ref()
                    .map(|a| a.span())
                    .unwrap_or_else(|| z.name.span());
                return Err(self.invalid(
                    span,
                    key,
                    "addrs or hosts must name at least one server",
                ));
            }
            if out.iter().any(|f| f.name == name) {
                return Err(self.invalid(z.name.span(), key, format!("zone {name} listed twice")));
            }
            out.push(ForwardZone {
                name,
                addrs,
                hosts,
                first: flag(&z.first, false),
                tcp: flag(&z.tcp, false),
                no_cache: flag(&z.no_cache, false),
            });
        }
        Ok(out)
    }

    /// A server's host name (resolved when the zone is used).
    fn host_name(&self, h: &toml::Spanned<String>, key: &str) -> R<Name> {
        let text = h.get_ref();
        Name::from_ascii(text)
            .ok()
            .filter(|n| !text.is_empty() && !n.is_root())
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .ok_or_else(|| self.invalid(h.span(), key, format!("bad host name {text:?}")))
    }
}
