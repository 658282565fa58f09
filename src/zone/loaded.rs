//! A loaded, checked zone and the set of zones one server answers for.
//! Load-time checks: exactly one SOA, at the apex (RFC 1035 §5.2); NS at
//! the apex (RFC 1034 §4.2.1); nothing outside the zone; below a delegation
//! only glue addresses (RFC 1034 §4.2.1); CNAME exclusivity (RFC 1034
//! §3.6.2, RFC 2181 §10.1; RRSIG and NSEC allowed beside it, RFC 4035
//! §2.5). A zone with any error is not loaded at all. Signed zones keep an
//! index of their NSEC/NSEC3 records for proofs of denial (RFC 4035 §3.1.3).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

use super::file::{read_zone_file, SourcedRecord};

/// Why a zone could not be loaded, with the file and line to look at.
/// When the file was reached through `$INCLUDE`, `via` holds each
/// including file and the line of its `$INCLUDE`, innermost first.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:{line}: {kind}{}", file.display(), via_text(via.as_deref()))]
pub struct ZoneError {
    pub file: PathBuf,
    pub line: usize,
    pub kind: ZoneErrorKind,
    /// Boxed: most errors have none, and the error stays small.
    pub via: Option<Box<IncludeChain>>,
}

/// The `$INCLUDE`s that led to a file: (including file, line), innermost first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncludeChain(pub Vec<(PathBuf, usize)>);

impl ZoneError {
    pub fn new(file: &Path, line: usize, kind: ZoneErrorKind) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            kind,
            via: None,
        }
    }

    /// The same error, reached through the `$INCLUDE`s in `via`.
    pub fn via(mut self, via: &[(PathBuf, usize)]) -> Self {
        if !via.is_empty() {
            let chain = self.via.get_or_insert_with(Box::default);
            chain.0.extend(via.iter().cloned());
        }
        self
    }
}

/// " (included from a.zone:4, from b.zone:9)" or nothing.
fn via_text(via: Option<&IncludeChain>) -> String {
    let Some(IncludeChain(via)) = via.filter(|v| !v.0.is_empty()) else {
        return String::new();
    };
    let parts: Vec<String> = via
        .iter()
        .map(|(f, l)| format!("{}:{l}", f.display()))
        .collect();
    format!(" (included from {})", parts.join(", from "))
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ZoneErrorKind {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("file too large")]
    TooLarge,
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("$INCLUDE nested too deep")]
    IncludeDepth,
    #[error("no SOA record (a zone needs one at its apex)")]
    MissingSoa,
    #[error("second SOA record (a zone has exactly one)")]
    ExtraSoa,
    #[error("SOA owner {owner} is not the zone apex {origin}")]
    SoaNotAtApex { owner: String, origin: String },
    #[error("no NS records at the zone apex {0}")]
    MissingApexNs(String),
    #[error("{owner} is outside the zone {origin}")]
    OutOfZone { owner: String, origin: String },
    #[error(
        "{owner} {rtype} is at or below the delegation {cut}: only glue addresses may be there"
    )]
    BelowCut {
        owner: String,
        rtype: RecordType,
        cut: String,
    },
    #[error("{0} has a CNAME and other data")]
    CnameAndOtherData(String),
    #[error("zone {origin} is already loaded from {other}")]
    DuplicateZone { origin: String, other: String },
    #[error("no zone files found")]
    NoZones,
}

/// The record sets at one owner name, by type (ordered for AXFR).
pub type Node = BTreeMap<RecordType, Vec<Record>>;

/// One authoritative zone.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    source: PathBuf,
    /// The apex SOA (absent only in a partial zone).
    soa: Option<Record>,
    nodes: HashMap<LowerName, Node>,
    /// Every owner and every ancestor up to the apex: names that exist,
    /// including empty non-terminals (RFC 4592 §2.2.2).
    existing: HashSet<LowerName>,
    /// Owners of NS sets other than the apex: delegation points.
    cuts: HashSet<LowerName>,
    /// NSEC / NSEC3 records of a signed zone, for proofs of denial.
    denial: Denial,
}

impl Zone {
    /// Loads and checks a zone file. `origin` is the zone's name when known;
    /// otherwise the owner of the file's SOA record is the apex.
    pub fn load(path: &Path, origin: Option<Name>) -> Result<Zone, ZoneError> {
        let records = read_zone_file(path, origin.clone())?;
        Zone::from_records(path, origin, records)
    }

    /// Builds and checks a zone from sourced records.
    pub fn from_records(
        path: &Path,
        origin: Option<Name>,
        records: Vec<SourcedRecord>,
    ) -> Result<Zone, ZoneError> {
        Zone::build(path, origin, records, true)
    }

    /// Builds a zone that may lack its apex SOA and NS records, as a
    /// resolver's copy of a zone may (Unbound loads such auth zones: the
    /// copy answers what it holds). Every other check still applies.
    pub fn from_records_partial(
        path: &Path,
        origin: Name,
        records: Vec<SourcedRecord>,
    ) -> Result<Zone, ZoneError> {
        Zone::build(path, Some(origin), records, false)
    }

    fn build(
        path: &Path,
        origin: Option<Name>,
        records: Vec<SourcedRecord>,
        complete: bool,
    ) -> Result<Zone, ZoneError> {
        let first_line = records.first().map_or(1, |r| r.line);
        // In a partial zone only an SOA at the apex is the zone's; one
        // further down is data like any other.
        let mut soas = records.iter().filter(|r| {
            r.record.record_type() == RecordType::SOA
                && (complete || origin.as_ref().is_none_or(|o| r.record.name == *o))
        });
        let soa = soas.next();
        if let Some(extra) = soas.next() {
            return Err(
                ZoneError::new(&extra.file, extra.line, ZoneErrorKind::ExtraSoa).via(&extra.via),
            );
        }
        let origin = match (origin, soa) {
            (Some(o), _) => o.to_lowercase(),
            (None, Some(soa)) => soa.record.name.to_lowercase(),
            (None, None) => {
                return Err(ZoneError::new(path, first_line, ZoneErrorKind::MissingSoa));
            }
        };
        match soa {
            None if complete => {
                return Err(ZoneError::new(path, first_line, ZoneErrorKind::MissingSoa));
            }
            Some(soa) if soa.record.name != origin => {
                return Err(ZoneError::new(
                    &soa.file,
                    soa.line,
                    ZoneErrorKind::SoaNotAtApex {
                        owner: soa.record.name.to_string(),
                        origin: origin.to_string(),
                    },
                ));
            }
            _ => {}
        }
        let mut zone = Zone {
            origin: origin.clone(),
            source: path.to_path_buf(),
            soa: soa.map(|s| s.record.clone()),
            nodes: HashMap::new(),
            existing: HashSet::new(),
            cuts: HashSet::new(),
            denial: Denial::default(),
        };
        for r in &records {
            if !origin.zone_of(&r.record.name) {
                let kind = ZoneErrorKind::OutOfZone {
                    owner: r.record.name.to_string(),
                    origin: origin.to_string(),
                };
                return Err(ZoneError::new(&r.file, r.line, kind).via(&r.via));
            }
            if r.record.record_type() == RecordType::NS && r.record.name != origin {
                zone.cuts.insert(LowerName::from(&r.record.name));
            }
        }
        let mut where_: HashMap<(LowerName, RecordType), (PathBuf, usize)> = HashMap::new();
        for r in records {
            // A resolver's copy keeps data below its cuts (occluded).
            if complete {
                zone.check_placement(&r)?;
            }
            let key = LowerName::from(&r.record.name);
            let rtype = r.record.record_type();
            let node = zone.nodes.entry(key.clone()).or_default();
            // RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5).
            let cname_clash = match rtype {
                RecordType::CNAME => {
                    node.keys().any(|t| !is_cname_companion(*t))
                        || node.contains_key(&RecordType::CNAME)
                }
                t if is_cname_companion(t) => false,
                _ => node.contains_key(&RecordType::CNAME),
            };
            if cname_clash {
                let kind = ZoneErrorKind::CnameAndOtherData(r.record.name.to_string());
                return Err(ZoneError::new(&r.file, r.line, kind).via(&r.via));
            }
            let set = node.entry(rtype).or_default();
            if !set.iter().any(|x| x.data == r.record.data) {
                set.push(r.record);
            }
            where_.entry((key, rtype)).or_insert((r.file, r.line));
        }
        if complete
            && !zone
                .node(&origin)
                .is_some_and(|n| n.contains_key(&RecordType::NS))
        {
            let (file, line) = where_
                .get(&(LowerName::from(&origin), RecordType::SOA))
                .cloned()
                .unwrap_or((path.to_path_buf(), first_line));
            return Err(ZoneError::new(
                &file,
                line,
                ZoneErrorKind::MissingApexNs(origin.to_string()),
            ));
        }
        zone.index_existing();
        zone.denial = Denial::index(&origin, &zone.nodes);
        Ok(zone)
    }

    /// Below a cut only A/AAAA glue; at a cut NS, DS and glue addresses.
    fn check_placement(&self, r: &SourcedRecord) -> Result<(), ZoneError> {
        let name = &r.record.name;
        let rtype = r.record.record_type();
        let Some(cut) = self.cut_above_or_at(name) else {
            return Ok(());
        };
        let allowed = match name == &cut {
            true => matches!(
                rtype,
                RecordType::NS
                    | RecordType::DS
                    | RecordType::A
                    | RecordType::AAAA
                    | RecordType::NSEC
                    | RecordType::RRSIG
            ),
            false => matches!(rtype, RecordType::A | RecordType::AAAA),
        };
        if allowed {
            return Ok(());
        }
        let kind = ZoneErrorKind::BelowCut {
            owner: name.to_string(),
            rtype,
            cut: cut.to_string(),
        };
        Err(ZoneError::new(&r.file, r.line, kind).via(&r.via))
    }

    fn index_existing(&mut self) {
        let apex_labels = label_count(&self.origin);
        let names: Vec<Name> = self.nodes.keys().map(|k| Name::from(k.clone())).collect();
        for name in names {
            let mut n = name;
            loop {
                self.existing.insert(LowerName::from(&n));
                if label_count(&n) <= apex_labels {
                    break;
                }
                n = n.base_name();
            }
        }
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    pub fn soa(&self) -> Option<&Record> {
        self.soa.as_ref()
    }

    /// The negative-caching TTL: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pub fn negative_ttl(&self) -> Option<u32> {
        let soa = self.soa.as_ref()?;
        Some(match &soa.data {
            RData::SOA(s) => soa.ttl.min(s.minimum),
            _ => soa.ttl,
        })
    }

    pub fn node(&self, name: &Name) -> Option<&Node> {
        self.nodes.get(&LowerName::from(name))
    }

    pub fn rrset(&self, name: &Name, rtype: RecordType) -> Option<&Vec<Record>> {
        self.node(name)?.get(&rtype)
    }

    /// True when `name` owns data or has descendants that do.
    pub fn exists(&self, name: &Name) -> bool {
        self.existing.contains(&LowerName::from(name))
    }

    /// The highest delegation point at or above `name` (below the apex).
    pub fn cut_above_or_at(&self, name: &Name) -> Option<Name> {
        if self.cuts.is_empty() || !self.origin.zone_of(name) {
            return None;
        }
        let apex = label_count(&self.origin);
        let total = label_count(name);
        (apex + 1..=total)
            .map(|n| name.trim_to(n))
            .find(|n| self.cuts.contains(&LowerName::from(n)))
    }

    /// The NSEC/NSEC3 records of a signed zone (empty when unsigned).
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// The RRSIGs at `name` covering `rtype`.
    pub fn rrsigs(&self, name: &Name, rtype: RecordType) -> Vec<Record> {
        self.rrset(name, RecordType::RRSIG)
            .into_iter()
            .flatten()
            .filter(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) => sig.input().type_covered == rtype,
                _ => false,
            })
            .cloned()
            .collect()
    }

    /// Every record, SOA first (for AXFR, RFC 5936 §2.2).
    pub fn all_records(&self) -> Vec<Record> {
        let mut names: Vec<&LowerName> = self.nodes.keys().collect();
        names.sort();
        let mut out: Vec<Record> = self.soa.iter().cloned().collect();
        for n in names {
            if let Some(node) = self.nodes.get(n) {
                for (t, set) in node {
                    if *t != RecordType::SOA {
                        out.extend(set.iter().cloned());
                    }
                }
            }
        }
        out
    }
}

fn is_cname_companion(t: RecordType) -> bool {
    matches!(t, RecordType::RRSIG | RecordType::NSEC)
}

/// A signed zone's denial records: NSEC by owner in canonical order (RFC
/// 4034 §6.1), or NSEC3 by hashed owner label (base32hex keeps the hash
/// order, RFC 5155 §3.3) with the hash parameters (NSEC3PARAM, §4).
#[derive(Debug, Clone, Default)]
pub struct Denial {
    pub nsec: BTreeMap<Name, Record>,
    pub nsec3: BTreeMap<String, Record>,
    /// (salt, iterations) for hashing names (SHA-1 is the only algorithm).
    pub nsec3_params: Option<(Vec<u8>, u16)>,
}

impl Denial {
    fn index(origin: &Name, nodes: &HashMap<LowerName, Node>) -> Denial {
        let mut d = Denial::default();
        for node in nodes.values() {
            for r in node.get(&RecordType::NSEC).into_iter().flatten() {
                d.nsec.insert(r.name.to_lowercase(), r.clone());
            }
            for r in node.get(&RecordType::NSEC3).into_iter().flatten() {
                let label = r.name.iter().next().unwrap_or_default();
                let key = String::from_utf8_lossy(label).to_ascii_lowercase();
                if let RData::DNSSEC(DNSSECRData::NSEC3(n)) = &r.data {
                    d.nsec3_params
                        .get_or_insert_with(|| (n.salt().to_vec(), n.iterations()));
                }
                d.nsec3.insert(key, r.clone());
            }
        }
        let param = nodes
            .get(&LowerName::from(origin))
            .and_then(|n| n.get(&RecordType::NSEC3PARAM))
            .and_then(|s| s.first());
        if let Some(RData::DNSSEC(DNSSECRData::NSEC3PARAM(p))) = param.map(|r| &r.data) {
            d.nsec3_params = Some((p.salt().to_vec(), p.iterations()));
        }
        d
    }
}

/// Labels in a name, counting a leading `*` (hickory's `num_labels` does not).
pub fn label_count(name: &Name) -> usize {
    name.iter().count()
}

/// The zones one server is authoritative for.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    zones: Vec<Zone>,
}

impl ZoneSet {
    pub fn new(zones: Vec<Zone>) -> Result<ZoneSet, ZoneError> {
        let mut set = ZoneSet::default();
        for z in zones {
            set.insert(z)?;
        }
        Ok(set)
    }

    pub fn insert(&mut self, zone: Zone) -> Result<(), ZoneError> {
        if let Some(other) = self.zones.iter().find(|z| z.origin == zone.origin) {
            let kind = ZoneErrorKind::DuplicateZone {
                origin: zone.origin.to_string(),
                other: other.source.display().to_string(),
            };
            return Err(ZoneError::new(&zone.source, 1, kind));
        }
        self.zones.push(zone);
        Ok(())
    }

    /// Loads every path: a file is one zone; a directory contributes its
    /// `*.zone` files (sorted). Any error fails the whole set.
    pub fn load_paths(paths: &[PathBuf]) -> Result<ZoneSet, ZoneError> {
        let mut set = ZoneSet::default();
        for p in paths {
            if p.is_dir() {
                let io = |e: std::io::Error| ZoneError::new(p, 0, ZoneErrorKind::Io(e.to_string()));
                let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(io)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "zone"))
                    .collect();
                files.sort();
                for f in files {
                    set.insert(Zone::load(&f, None)?)?;
                }
            } else {
                set.insert(Zone::load(p, None)?)?;
            }
        }
        if set.zones.is_empty() {
            let first = paths.first().cloned().unwrap_or_default();
            return Err(ZoneError::new(&first, 0, ZoneErrorKind::NoZones));
        }
        Ok(set)
    }

    /// The most specific zone containing `name`.
    pub fn find(&self, name: &Name) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| z.origin.zone_of(name))
            .max_by_key(|z| label_count(&z.origin))
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }
}

/// Whether SOA serial `a` is greater than `b` in RFC 1982 §3.2 serial
/// number arithmetic (32 bits: the difference must be under 2^31).
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

fn serial_of(z: &Zone) -> Option<u32> {
    match z.soa().map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

/// What a reload did with one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadNote {
    Added {
        origin: String,
        serial: u32,
    },
    Updated {
        origin: String,
        from: u32,
        to: u32,
    },
    /// The file changed but its serial did not grow: the served copy stays.
    Kept {
        origin: String,
        served: u32,
        file: u32,
    },
    /// Loaded although its serial did not grow (SIGHUP).
    Forced {
        origin: String,
        from: u32,
        to: u32,
    },
    Removed {
        origin: String,
    },
}

impl std::fmt::Display for ReloadNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Added { origin, serial } => write!(f, "zone {origin} added (serial {serial})"),
            Self::Updated { origin, from, to } => {
                write!(f, "zone {origin} reloaded (serial {from} -> {to})")
            }
            Self::Kept {
                origin,
                served,
                file,
            } => write!(
                f,
                "zone {origin} not reloaded: the file's SOA serial {file} is not greater than \
                 the served {served} (raise the serial, or send SIGHUP to load it anyway)"
            ),
            Self::Forced { origin, from, to } => write!(
                f,
                "zone {origin} reloaded on request although its serial did not grow ({from} -> {to})"
            ),
            Self::Removed { origin } => write!(f, "zone {origin} removed"),
        }
    }
}

impl ZoneSet {
    /// The set to serve after reading the zone files again: a zone whose
    /// SOA serial grew (RFC 1982) replaces the served copy; one whose
    /// serial did not is kept as served, unless `force` (an operator's
    /// SIGHUP); zones new in `fresh` are added and zones gone from it
    /// removed. Zones with an unchanged serial and unchanged data are not
    /// mentioned.
    pub fn reload_from(&self, fresh: ZoneSet, force: bool) -> (ZoneSet, Vec<ReloadNote>) {
        let mut notes = Vec::new();
        let mut zones = Vec::new();
        for new in fresh.zones {
            let origin = new.origin.to_string();
            let Some(old) = self.zones.iter().find(|z| z.origin == new.origin) else {
                notes.push(ReloadNote::Added {
                    origin,
                    serial: serial_of(&new).unwrap_or(0),
                });
                zones.push(new);
                continue;
            };
            let (from, to) = (serial_of(old).unwrap_or(0), serial_of(&new).unwrap_or(0));
            if serial_gt(to, from) {
                notes.push(ReloadNote::Updated { origin, from, to });
                zones.push(new);
            } else if old.all_records() == new.all_records() {
                zones.push(old.clone());
            } else if force {
                notes.push(ReloadNote::Forced { origin, from, to });
                zones.push(new);
            } else {
                notes.push(ReloadNote::Kept {
                    origin,
                    served: from,
                    file: to,
                });
                zones.push(old.clone());
            }
        }
        for old in &self.zones {
            if !zones.iter().any(|z| z.origin == old.origin) {
                notes.push(ReloadNote::Removed {
                    origin: old.origin.to_string(),
                });
            }
        }
        (ZoneSet { zones }, notes)
    }
}

#[cfg(test)]
mod reload_tests {
    use super::*;

    fn zone(dir: &Path, origin: &str, serial: u32, www: &str) -> Zone {
        let p = dir.join(format!("{origin}zone"));
        let text = format!(
            "$ORIGIN {origin}\n$TTL 60\n@ SOA ns h {serial} 3600 900 604800 60\n NS ns\nns A 192.0.2.1\nwww A {www}\n"
        );
        std::fs::write(&p, text).unwrap();
        Zone::load(&p, None).unwrap()
    }

    #[test]
    fn serial_arithmetic() {
        for (a, b, gt) in [
            (2, 1, true),
            (1, 2, false),
            (1, 1, false),
            (0, u32::MAX, true),
            (u32::MAX, 0, false),
            (0x8000_0000, 0, false),
            (0x7fff_ffff, 0, true),
        ] {
            assert_eq!(serial_gt(a, b), gt, "{a} > {b}");
        }
    }

    #[test]
    fn reload_takes_a_zone_only_when_its_serial_grows() {
        let d = std::env::temp_dir().join(format!("tern-reload-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let served = ZoneSet::new(vec![
            zone(&d, "a.test.", 5, "192.0.2.10"),
            zone(&d, "b.test.", 5, "192.0.2.10"),
            zone(&d, "c.test.", 5, "192.0.2.10"),
        ])
        .unwrap();
        let fresh = || {
            ZoneSet::new(vec![
                zone(&d, "a.test.", 6, "192.0.2.11"),
                zone(&d, "b.test.", 5, "192.0.2.11"),
                zone(&d, "d.test.", 1, "192.0.2.11"),
            ])
            .unwrap()
        };
        let www = |set: &ZoneSet, o: &str| {
            let n = Name::from_ascii(format!("www.{o}")).unwrap();
            set.find(&n)
                .and_then(|z| z.rrset(&n, RecordType::A))
                .map(|r| r[0].data.to_string())
        };
        let (set, notes) = served.reload_from(fresh(), false);
        assert_eq!(www(&set, "a.test."), Some("192.0.2.11".into()));
        assert_eq!(www(&set, "b.test."), Some("192.0.2.10".into()));
        assert_eq!(www(&set, "c.test."), None);
        assert_eq!(www(&set, "d.test."), Some("192.0.2.11".into()));
        assert!(notes.contains(&ReloadNote::Kept {
            origin: "b.test.".into(),
            served: 5,
            file: 5
        }));
        assert!(notes
            .iter()
            .any(|n| matches!(n, ReloadNote::Updated { from: 5, to: 6, .. })));
        assert!(notes
            .iter()
            .any(|n| matches!(n, ReloadNote::Removed { .. })));
        assert!(notes
            .iter()
            .any(|n| matches!(n, ReloadNote::Added { serial: 1, .. })));
        assert!(notes
            .iter()
            .any(|n| n.to_string().contains("not greater than")));
        // SIGHUP loads it anyway.
        let (set, notes) = served.reload_from(fresh(), true);
        assert_eq!(www(&set, "b.test."), Some("192.0.2.11".into()));
        assert!(notes.iter().any(|n| matches!(n, ReloadNote::Forced { .. })));
        // Same serial, same data: nothing to say.
        let (_, notes) = set.reload_from(fresh(), false);
        assert!(notes.is_empty(), "{notes:?}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
