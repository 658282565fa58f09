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
            for a in z.addrs.get_ref() {
                let addr = socket_addr(a.get_ref()).ok_or_else(|| {
                    self.invalid(a.span(), key, format!("bad address {:?}", a.get_ref()))
                })?;
                addrs.push(addr);
            }
            if addrs.is_empty() {
                return Err(self.invalid(
                    z.addrs.span(),
                    key,
                    "addrs must list at least one server",
                ));
            }
            if out.iter().any(|f| f.name == name) {
                return Err(self.invalid(z.name.span(), key, format!("zone {name} listed twice")));
            }
            out.push(ForwardZone {
                name,
                addrs,
                first: flag(&z.first, false),
                tcp: flag(&z.tcp, false),
                no_cache: flag(&z.no_cache, false),
            });
        }
        Ok(out)
    }
}
