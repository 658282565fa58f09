//! Validation of `[[resolver.local_zone]]` tables and the
//! `resolver.local_data` list (Unbound's local-zone / local-data): zone
//! names, types and classes, and each record parsed in zone-file syntax
//! (RFC 1035 §5.1), with the same file/line/key errors as every key.

use hickory_proto::rr::{DNSClass, Record};
use toml::Spanned;

use super::{parse_net, Ctx, R};
use crate::config::file::{FileLocalZone, S};
use crate::config::local::{parse_record, parse_zone_name, LocalZone, LocalZoneType};

impl Ctx<'_> {
    pub(super) fn local_zones(&self, zones: &[FileLocalZone]) -> R<Vec<LocalZone>> {
        let key = "resolver.local_zone";
        let mut out: Vec<LocalZone> = Vec::new();
        for z in zones {
            let name = parse_zone_name(z.name.get_ref()).ok_or_else(|| {
                self.invalid(
                    z.name.span(),
                    key,
                    format!("bad zone name {:?}", z.name.get_ref()),
                )
            })?;
            let kind: LocalZoneType = z
                .kind
                .get_ref()
                .parse()
                .map_err(|e: String| self.invalid(z.kind.span(), key, e))?;
            let class = match &z.class {
                None => DNSClass::IN,
                Some(c) => match c.get_ref().to_ascii_uppercase().as_str() {
                    "IN" => DNSClass::IN,
                    "CH" => DNSClass::CH,
                    "HS" => DNSClass::HS,
                    other => {
                        return Err(self.invalid(
                            c.span(),
                            key,
                            format!("class {other:?} is not one of IN, CH, HS"),
                        ))
                    }
                },
            };
            if out.iter().any(|o| o.name == name && o.class == class) {
                return Err(self.invalid(z.name.span(), key, format!("zone {name} listed twice")));
            }
            let mut overrides = Vec::new();
            for o in z.overrides.iter().flat_map(|v| v.get_ref()) {
                let o = o.get_ref();
                let net = parse_net(o.net.get_ref()).ok_or_else(|| {
                    self.invalid(
                        o.net.span(),
                        key,
                        format!("bad network {:?}", o.net.get_ref()),
                    )
                })?;
                let kind: LocalZoneType = o
                    .kind
                    .get_ref()
                    .parse()
                    .map_err(|e: String| self.invalid(o.kind.span(), key, e))?;
                overrides.push((net, kind));
            }
            out.push(LocalZone {
                name,
                class,
                kind,
                overrides,
            });
        }
        Ok(out)
    }

    pub(super) fn local_data(&self, v: &S<Vec<Spanned<String>>>) -> R<Vec<Record>> {
        let Some(list) = v else { return Ok(Vec::new()) };
        list.get_ref()
            .iter()
            .map(|s| {
                parse_record(s.get_ref()).map_err(|e| {
                    self.invalid(
                        s.span(),
                        "resolver.local_data",
                        format!("{:?}: {e}", s.get_ref()),
                    )
                })
            })
            .collect()
    }
}
