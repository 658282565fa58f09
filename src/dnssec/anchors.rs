//! Trust anchors: where chains of trust start (RFC 4033 §5, RFC 4035
//! §4.4). The built-in root anchor is the root's KSK-2017 and KSK-2024 as
//! SHA-256 DS records (RFC 7958 publishes them); more come from files and
//! inline records in zone-file syntax, as DS or DNSKEY. Negative trust
//! anchors (RFC 7646) switch validation off at and below a name. Keys
//! with the REVOKE bit (RFC 5011 §2.1) are kept but never used.
//!
//! Pure apart from `from_config`, which reads the anchor files named in
//! the config once, at startup.

use std::path::{Path, PathBuf};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::{DNSClass, Name, RData, Record};

use super::verify::{
    verify_dnskeys_with_anchor_keys, verify_dnskeys_with_ds, KeyCheck, VerifyOptions,
};
use super::Budget;
use crate::config::DnssecConfig;

/// The root zone's key-signing keys (algorithm 8, flags 257): KSK-2017
/// (key tag 20326) and KSK-2024 (key tag 38696), base64 public keys.
const ROOT_KSKS: [&str; 2] = [
    "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=",
    "AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=",
];

/// TTL given to anchor records that state none.
const DEFAULT_TTL: u32 = 3600;

/// An anchor file or inline anchor that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("{label}, line {line}: {message}")]
    Syntax {
        label: String,
        line: usize,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What is trusted at one zone: DS records (matched against the zone's
/// DNSKEYs) and/or DNSKEYs (which must be in the zone's DNSKEY set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchor {
    pub ds: Vec<DS>,
    pub keys: Vec<DNSKEY>,
}

/// Every anchor by zone, and the negative trust anchors.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<(Name, Anchor)>,
    negative: Vec<Name>,
}

impl TrustAnchors {
    /// The root's two KSKs as SHA-256 DS records.
    pub fn built_in_root() -> Self {
        let mut anchors = Self::default();
        let root = Name::root();
        for key in root_ksks() {
            if let (Ok(tag), Ok(digest)) = (
                key.calculate_key_tag(),
                key.to_digest(&root, DigestType::SHA256),
            ) {
                let ds = DS::new(
                    tag,
                    Algorithm::RSASHA256,
                    DigestType::SHA256,
                    digest.as_ref().to_vec(),
                );
                anchors.with_anchor(&root, |a| a.ds.push(ds));
            }
        }
        anchors
    }

    /// Anchors from the config: files, inline records, the built-in root
    /// unless turned off or another root anchor is given, and the negative
    /// trust anchors.
    pub fn from_config(cfg: &DnssecConfig) -> Result<Self, AnchorError> {
        Self::from_config_with(cfg, |path| std::fs::read_to_string(path))
    }

    /// `from_config` with the file reading supplied (tests).
    pub fn from_config_with(
        cfg: &DnssecConfig,
        mut read: impl FnMut(&Path) -> std::io::Result<String>,
    ) -> Result<Self, AnchorError> {
        let mut anchors = Self::default();
        for path in &cfg.trust_anchor_files {
            let text = read(path).map_err(|source| AnchorError::Read {
                path: path.clone(),
                source,
            })?;
            for record in parse(&text, &path.display().to_string())? {
                anchors.add(&record);
            }
        }
        for (i, text) in cfg.trust_anchors.iter().enumerate() {
            for record in parse(text, &format!("trust_anchors[{i}]"))? {
                anchors.add(&record);
            }
        }
        if cfg.builtin_root_anchors && anchors.get(&Name::root()).is_none() {
            anchors.anchors.extend(Self::built_in_root().anchors);
        }
        for name in &cfg.negative_trust_anchors {
            anchors.add_negative(name.clone());
        }
        Ok(anchors)
    }

    /// Adds a DS or DNSKEY record as an anchor at its owner; false (and
    /// nothing added) for any other type.
    pub fn add(&mut self, record: &Record) -> bool {
        match &record.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => {
                self.with_anchor(&record.name, |a| a.ds.push(ds.clone()));
                true
            }
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => {
                self.with_anchor(&record.name, |a| a.keys.push(key.clone()));
                true
            }
            _ => false,
        }
    }

    /// Replaces the anchor at `zone` (RFC 5011 updates: the trust point's
    /// Valid and Missing keys), adding the zone if it had none.
    pub fn set_anchor(&mut self, zone: &Name, anchor: Anchor) {
        self.with_anchor(zone, |a| *a = anchor);
    }

    /// Adds a negative trust anchor (RFC 7646).
    pub fn add_negative(&mut self, name: Name) {
        self.negative.push(name);
    }

    fn with_anchor(&mut self, zone: &Name, change: impl FnOnce(&mut Anchor)) {
        match self.anchors.iter_mut().find(|(z, _)| z == zone) {
            Some((_, anchor)) => change(anchor),
            None => {
                let mut anchor = Anchor::default();
                change(&mut anchor);
                self.anchors.push((zone.clone(), anchor));
            }
        }
    }

    /// The anchor at exactly `zone`.
    pub fn get(&self, zone: &Name) -> Option<&Anchor> {
        self.anchors.iter().find(|(z, _)| z == zone).map(|(_, a)| a)
    }

    /// The anchor at or above `name`, the deepest one winning.
    pub fn closest(&self, name: &Name) -> Option<(&Name, &Anchor)> {
        self.anchors
            .iter()
            .filter(|(z, _)| z.zone_of(name))
            .max_by_key(|(z, _)| z.num_labels())
            .map(|(z, a)| (z, a))
    }

    /// The zone of `closest`, owned.
    pub fn closest_zone(&self, name: &Name) -> Option<Name> {
        self.closest(name).map(|(z, _)| z.clone())
    }

    /// True at or below a negative trust anchor: nothing there is
    /// validated (RFC 7646 §2).
    pub fn negative(&self, name: &Name) -> bool {
        self.negative.iter().any(|n| n.zone_of(name))
    }

    /// The zones with anchors.
    pub fn zones(&self) -> impl Iterator<Item = &Name> {
        self.anchors.iter().map(|(z, _)| z)
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Checks `zone`'s DNSKEY RRset against its anchor: DS anchors first,
    /// then DNSKEY anchors; the first secure result wins, else the first
    /// bogus one, else insecure (no anchor, or none usable).
    pub fn verify_keys(
        &self,
        zone: &Name,
        dnskeys: &[Record],
        rrsigs: &[Record],
        now: u32,
        opts: &VerifyOptions,
        budget: &mut Budget,
    ) -> KeyCheck {
        let Some(anchor) = self.get(zone) else {
            return KeyCheck::Insecure(format!("no trust anchor at {zone}"));
        };
        let mut outcomes = Vec::new();
        if !anchor.ds.is_empty() {
            let check =
                verify_dnskeys_with_ds(zone, dnskeys, rrsigs, &anchor.ds, now, opts, budget);
            if matches!(check, KeyCheck::Secure { .. }) {
                return check;
            }
            outcomes.push(check);
        }
        if !anchor.keys.is_empty() {
            let check = verify_dnskeys_with_anchor_keys(
                zone,
                dnskeys,
                rrsigs,
                &anchor.keys,
                now,
                opts,
                budget,
            );
            if matches!(check, KeyCheck::Secure { .. }) {
                return check;
            }
            outcomes.push(check);
        }
        let pick = outcomes
            .iter()
            .position(|c| matches!(c, KeyCheck::Bogus(_)))
            .unwrap_or(0);
        if pick < outcomes.len() {
            outcomes.swap_remove(pick)
        } else {
            KeyCheck::Insecure(format!("the trust anchor at {zone} is empty"))
        }
    }
}

/// The root KSKs as DNSKEY records' data (flags 257, algorithm 8).
pub fn root_ksks() -> Vec<DNSKEY> {
    ROOT_KSKS
        .iter()
        .filter_map(|b64| data_encoding::BASE64.decode(b64.as_bytes()).ok())
        .map(|bytes| DNSKEY::with_flags(257, PublicKeyBuf::new(bytes, Algorithm::RSASHA256)))
        .collect()
}

/// Parses DS and DNSKEY records in zone-file syntax: `;` comments, blank
/// lines, records spread over lines with parentheses, `$TTL`, and
/// Unbound's quoted one-line form (`"example.com. IN DS ..."`). Names are
/// taken as absolute; `$ORIGIN` is refused. `label` names the source in
/// errors (a file path, or `trust_anchors[2]`).
pub fn parse(text: &str, label: &str) -> Result<Vec<Record>, AnchorError> {
    let error = |line: usize, message: String| AnchorError::Syntax {
        label: label.to_string(),
        line,
        message,
    };
    let mut records = Vec::new();
    let mut default_ttl = DEFAULT_TTL;
    let mut tokens: Vec<String> = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.split(';').next().unwrap_or("").replace('"', " ");
        if depth == 0 && tokens.is_empty() && line.trim_start().starts_with('$') {
            default_ttl = directive(line.trim())
                .map_err(|m| error(line_no, m))?
                .unwrap_or(default_ttl);
            continue;
        }
        for word in line
            .replace('(', " ( ")
            .replace(')', " ) ")
            .split_whitespace()
        {
            match word {
                "(" => depth += 1,
                ")" => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| error(line_no, "')' without '('".to_string()))?
                }
                _ => {
                    if tokens.is_empty() {
                        start = line_no;
                    }
                    tokens.push(word.to_string());
                }
            }
        }
        if depth == 0 && !tokens.is_empty() {
            records.push(record(&tokens, default_ttl).map_err(|m| error(start, m))?);
            tokens.clear();
        }
    }
    if depth > 0 || !tokens.is_empty() {
        return Err(error(start, "'(' not closed before the end".to_string()));
    }
    Ok(records)
}

/// `$TTL n` gives a default TTL; other directives are refused.
fn directive(line: &str) -> Result<Option<u32>, String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(d), Some(ttl), None) if d.eq_ignore_ascii_case("$TTL") => ttl
            .parse()
            .map(Some)
            .map_err(|_| format!("bad $TTL value {ttl:?}")),
        (Some(d), _, _) if d.eq_ignore_ascii_case("$ORIGIN") => {
            Err("$ORIGIN is not supported; write absolute names".to_string())
        }
        _ => Err(format!("unsupported directive {line:?}")),
    }
}

/// One record from its tokens: owner, optional TTL and class (IN), type
/// (DS or DNSKEY) and data.
fn record(tokens: &[String], default_ttl: u32) -> Result<Record, String> {
    let mut words = tokens.iter().map(String::as_str).peekable();
    let owner_text = words.next().ok_or("empty record")?;
    let mut owner =
        Name::from_ascii(owner_text).map_err(|e| format!("bad owner {owner_text:?}: {e}"))?;
    owner.set_fqdn(true);
    let mut ttl = default_ttl;
    loop {
        match words.peek() {
            Some(w) if w.bytes().all(|b| b.is_ascii_digit()) => {
                ttl = w.parse().map_err(|_| format!("bad TTL {w:?}"))?;
            }
            Some(w) if w.eq_ignore_ascii_case("IN") => {}
            Some(w) if ["CH", "HS", "CS"].iter().any(|c| w.eq_ignore_ascii_case(c)) => {
                return Err(format!("class {w} is not supported; trust anchors are IN"));
            }
            _ => break,
        }
        words.next();
    }
    let rtype = words.next().ok_or("no record type")?;
    let rest: Vec<&str> = words.collect();
    let data = if rtype.eq_ignore_ascii_case("DS") {
        RData::DNSSEC(DNSSECRData::DS(ds_data(&rest)?))
    } else if rtype.eq_ignore_ascii_case("DNSKEY") {
        RData::DNSSEC(DNSSECRData::DNSKEY(dnskey_data(&rest)?))
    } else {
        return Err(format!(
            "{rtype} records cannot be trust anchors (only DS and DNSKEY)"
        ));
    };
    let mut record = Record::from_rdata(owner, ttl, data);
    record.dns_class = DNSClass::IN;
    Ok(record)
}

fn number<T: std::str::FromStr>(word: Option<&&str>, what: &str) -> Result<T, String> {
    let word = word.ok_or_else(|| format!("{what} missing"))?;
    word.parse().map_err(|_| format!("bad {what} {word:?}"))
}

/// An algorithm number or its mnemonic (RFC 4034 Appendix A.1, IANA).
fn algorithm(word: Option<&&str>) -> Result<Algorithm, String> {
    const MNEMONICS: [(&str, u8); 14] = [
        ("RSAMD5", 1),
        ("DH", 2),
        ("DSA", 3),
        ("ECC", 4),
        ("RSASHA1", 5),
        ("DSA-NSEC3-SHA1", 6),
        ("RSASHA1-NSEC3-SHA1", 7),
        ("RSASHA256", 8),
        ("RSASHA512", 10),
        ("ECC-GOST", 12),
        ("ECDSAP256SHA256", 13),
        ("ECDSAP384SHA384", 14),
        ("ED25519", 15),
        ("ED448", 16),
    ];
    let word = word.ok_or("algorithm missing")?;
    let by_name = MNEMONICS.iter().find(|(m, _)| m.eq_ignore_ascii_case(word));
    let value = match by_name {
        Some((_, v)) => *v,
        None => word
            .parse()
            .map_err(|_| format!("bad algorithm {word:?}"))?,
    };
    Ok(Algorithm::from_u8(value))
}

fn ds_data(words: &[&str]) -> Result<DS, String> {
    let tag: u16 = number(words.first(), "key tag")?;
    let alg = algorithm(words.get(1))?;
    let digest_type: u8 = number(words.get(2), "digest type")?;
    let hex: String = words.iter().skip(3).copied().collect();
    let digest = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|_| format!("bad digest {hex:?}"))?;
    if digest.is_empty() {
        return Err("digest missing".to_string());
    }
    Ok(DS::new(tag, alg, DigestType::from(digest_type), digest))
}

fn dnskey_data(words: &[&str]) -> Result<DNSKEY, String> {
    let flags: u16 = number(words.first(), "flags")?;
    let protocol: u8 = number(words.get(1), "protocol")?;
    if protocol != 3 {
        return Err(format!("protocol {protocol}, not 3"));
    }
    let alg = algorithm(words.get(2))?;
    let b64: String = words.iter().skip(3).copied().collect();
    let key = data_encoding::BASE64
        .decode(b64.as_bytes())
        .map_err(|_| "bad base64 public key".to_string())?;
    if key.is_empty() {
        return Err("public key missing".to_string());
    }
    Ok(DNSKEY::with_flags(flags, PublicKeyBuf::new(key, alg)))
}

#[cfg(test)]
#[path = "anchors_tests.rs"]
mod tests;
