//! Validation of `[[resolver.stub_zone]]`, `[[resolver.forward_zone]]` and
//! `[[resolver.auth_zone]]` tables: the zone name, its servers' addresses
//! (port 53 when none is given) or host names, or its zone file, and its
//! flags. A zone listed twice in one list is an error; a forward zone and a
//! stub zone may share a name (the forward zone wins, as in Unbound).

use hickory_proto::rr::Name;

use super::{flag, socket_addr, Ctx, R};
use crate::config::file::{FileAuthZone, FileForwardZone, FileStubZone};
use crate::config::local::parse_zone_name;
use crate::config::{AuthZone, ForwardZone, StubZone};

impl Ctx<'_> {
    /// Auth zones: name, zone file and flags (Unbound's defaults: for
    /// clients and for the resolver, no fallback, no ZONEMD check). The
    /// file itself is read when the resolver starts.
    pub(super) fn auth_zones(&self, zones: &[FileAuthZone]) -> R<Vec<AuthZone>> {
        let key = "resolver.auth_zone";
        let mut out: Vec<AuthZone> = Vec::new();
        for z in zones {
            let text = z.name.get_ref();
            let name = parse_zone_name(text).ok_or_else(|| {
                self.invalid(z.name.span(), key, format!("bad zone name {text:?}"))
            })?;
            if out.iter().any(|a| a.name == name) {
                return Err(self.invalid(z.name.span(), key, format!("zone {name} listed twice")));
            }
            if z.zonefile.get_ref().is_empty() {
                return Err(self.invalid(z.zonefile.span(), key, "zonefile is empty"));
            }
            let zone = AuthZone {
                name,
                zonefile: std::path::PathBuf::from(z.zonefile.get_ref()),
                for_downstream: flag(&z.for_downstream, true),
                for_upstream: flag(&z.for_upstream, true),
                fallback_enabled: flag(&z.fallback_enabled, false),
                zonemd_check: flag(&z.zonemd_check, false),
                zonemd_reject_absent: flag(&z.zonemd_reject_absent, false),
                zonemd_permissive: flag(&z.zonemd_permissive, false),
            };
            if !zone.for_downstream && !zone.for_upstream {
                return Err(self.invalid(
                    z.name.span(),
                    key,
                    "for_downstream and for_upstream are both false: the zone would not be used",
                ));
            }
            out.push(zone);
        }
        Ok(out)
    }

    pub(super) fn stub_zones(&self, zones: &[FileStubZone]) -> R<Vec<StubZone>> {
        let mut stub_zones = Vec::new();
        for z in zones {
            let key = "resolver.stub_zone";
            let name = parse_zone_name(z.name.get_ref()).ok_or_else(|| {
                self.invalid(
                    z.name.span(),
                    key,
                    format!("bad zone name {:?}", z.name.get_ref()),
                )
            })?;
            let mut addrs = Vec::new();
            for a in z.addrs.get_ref() {
                addrs.push(socket_addr(a.get_ref()).ok_or_else(|| {
                    self.invalid(a.span(), key, format!("bad address {:?}", a.get_ref()))
                })?);
            }
            if addrs.is_empty() {
                return Err(self.invalid(
                    z.addrs.span(),
                    key,
                    "addrs must list at least one server",
                ));
            }
            if stub_zones.iter().any(|s: &StubZone| s.name == name) {
                return Err(self.invalid(z.name.span(), key, format!("zone {name} listed twice")));
            }
            stub_zones.push(StubZone {
                name,
                addrs,
                first: flag(&z.first, false),
                prime: flag(&z.prime, false),
            });
        }
        Ok(stub_zones)
    }

    pub(super) fn forward_zones(&self, zones: &[FileForwardZone]) -> R<Vec<ForwardZone>> {
        let key = "resolver.forward_zone";
        let mut out: Vec<ForwardZone> = Vec::new();
        for z in zones {
            let text = z.name.get_ref();
            let name = parse_zone_name(text).ok_or_else(|| {
                self.invalid(z.name.span(), key, format!("bad zone name {text:?}"))
            })?;
            let tls = self.forward_tls(z)?;
            // DNS over TLS has its own port (RFC 7858 §3.1).
            let port = if tls.is_some() {
                super::tls::DOT_PORT
            } else {
                53
            };
            let mut addrs = Vec::new();
            for a in z
                .addrs
                .as_ref()
                .map(|v| v.get_ref().as_slice())
                .unwrap_or(&[])
            {
                let addr = super::tls::addr_with_port(a.get_ref(), port).ok_or_else(|| {
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
                tls,
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
