//! Validation of `[[rpz]]` tables: the zone name, the zone file, the
//! override action (and its CNAME target) and the logging flags. A zone
//! listed twice is an error. The zone file itself is read when the server
//! starts (`crate::rpz::Rpz::load`), where its errors name file and line.

use std::path::PathBuf;

use super::{flag, Ctx, R};
use crate::config::file::FileRpz;
use crate::config::local::parse_zone_name;
use crate::config::rpz::{RpzOverride, RpzZone};

impl Ctx<'_> {
    pub(super) fn rpz(&self, zones: &[FileRpz]) -> R<Vec<RpzZone>> {
        let mut out: Vec<RpzZone> = Vec::new();
        for z in zones {
            let name = parse_zone_name(z.name.get_ref()).ok_or_else(|| {
                self.invalid(
                    z.name.span(),
                    "rpz.name",
                    format!("bad zone name {:?}", z.name.get_ref()),
                )
            })?;
            if out.iter().any(|o| o.name == name) {
                return Err(self.invalid(
                    z.name.span(),
                    "rpz.name",
                    format!("zone {name} listed twice"),
                ));
            }
            if z.zonefile.get_ref().trim().is_empty() {
                return Err(self.invalid(
                    z.zonefile.span(),
                    "rpz.zonefile",
                    "needs the path of the policy zone file",
                ));
            }
            let cname = match &z.cname_override {
                Some(c) => Some(parse_zone_name(c.get_ref()).ok_or_else(|| {
                    self.invalid(
                        c.span(),
                        "rpz.cname_override",
                        format!("bad domain name {:?}", c.get_ref()),
                    )
                })?),
                None => None,
            };
            let action_override = match &z.action_override {
                None => None,
                Some(a) => Some(match a.get_ref().as_str() {
                    "nxdomain" => RpzOverride::NxDomain,
                    "nodata" => RpzOverride::NoData,
                    "passthru" => RpzOverride::Passthru,
                    "drop" => RpzOverride::Drop,
                    "disabled" => RpzOverride::Disabled,
                    "cname" => match &cname {
                        Some(target) => RpzOverride::Cname(target.clone()),
                        None => {
                            return Err(self.invalid(
                                a.span(),
                                "rpz.action_override",
                                "\"cname\" needs rpz.cname_override",
                            ))
                        }
                    },
                    other => {
                        return Err(self.invalid(
                            a.span(),
                            "rpz.action_override",
                            format!(
                                "{other:?} is not one of nxdomain, nodata, passthru, drop, \
                                 disabled, cname"
                            ),
                        ))
                    }
                }),
            };
            if let (Some(c), false) = (
                &z.cname_override,
                matches!(action_override, Some(RpzOverride::Cname(_))),
            ) {
                return Err(self.invalid(
                    c.span(),
                    "rpz.cname_override",
                    "only used with action_override = \"cname\"",
                ));
            }
            let log_name = z
                .log_name
                .as_ref()
                .map(|n| n.get_ref().clone())
                .filter(|n| !n.is_empty());
            out.push(RpzZone {
                name,
                zonefile: PathBuf::from(z.zonefile.get_ref()),
                action_override,
                log: flag(&z.log, false),
                log_name,
                signal_nxdomain_ra: flag(&z.signal_nxdomain_ra, false),
                tags: self.tags(&z.tags, "rpz.tags")?,
            });
        }
        Ok(out)
    }
}
