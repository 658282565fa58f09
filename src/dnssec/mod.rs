//! DNSSEC (RFC 4033, 4034, 4035, 5155, 6840): the pure part of validation.
//!
//! Nothing here does I/O or reads a clock: `now` (Unix seconds) is a
//! parameter and the work budget is the caller's. The engine's validator
//! (`engine/validate.rs`) asks the resolver for the DS and DNSKEY sets a
//! chain of trust needs and calls these functions on what comes back.
//!
//! - `verify`: an RRSIG over an RRset with a DNSKEY set, at a time.
//! - `ds`: DS records against a DNSKEY set (RFC 4034 §5, RFC 4509, 6605).
//! - `nsec`, `nsec3`: proofs of denial (RFC 4035 §5.4, RFC 5155 §8, RFC
//!   7129), wildcard expansion and closest-encloser proofs.
//! - `anchors`: trust anchors (built-in root KSKs, files, inline records)
//!   and negative trust anchors (RFC 7646).
//! - `autotrust`: RFC 5011 trust anchor updates and their state file.
//! - `sign`: a zone signer for `tern lab --dnssec` and tests.
//! - `legacy`: DSA and sub-1024-bit RSA for old test vectors (off by
//!   default).
//!
//! Cryptography is hickory-proto's `dnssec-ring` (ring); nothing is
//! hand-written.

pub mod aggressive;
pub mod anchors;
pub mod autotrust;
pub mod ds;
mod legacy;
pub mod nsec;
pub mod nsec3;
pub mod sign;
pub mod verify;

/// The security status of data (RFC 4033 §5, RFC 4035 §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// A chain of trust from an anchor verifies it.
    Secure,
    /// Provably unsigned (an insecure delegation, an unsupported algorithm,
    /// a negative trust anchor), or no anchor covers it.
    Insecure,
    /// It should verify and does not.
    Bogus(Bogus),
    /// Insecure because the zone is signed only with algorithms or DS
    /// digests tern does not implement (RFC 4035 §5.2, RFC 6840 §5.2): a
    /// plain answer, carrying the reason as an extended error (EDE 1 or 2),
    /// as Unbound's answers do.
    Unsupported(Bogus),
    /// Not checked (validation off, or CD=1).
    Unchecked,
}

/// Why data is bogus: the reason carries the extended DNS error (RFC 8914)
/// and a text naming the zone and record that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bogus {
    pub kind: BogusKind,
    pub text: String,
}

/// The kinds of bogus, each with its EDE code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BogusKind {
    /// EDE 6: a signature does not verify, a DS matches no key, ...
    Bogus,
    /// EDE 7: every RRSIG has expired.
    SignatureExpired,
    /// EDE 8: every RRSIG is not yet valid.
    SignatureNotYetValid,
    /// EDE 9: no DNSKEY for the DS or RRSIG.
    DnskeyMissing,
    /// EDE 10: the RRset came without RRSIGs in a signed zone.
    RrsigsMissing,
    /// EDE 12: a negative answer lacks its NSEC/NSEC3 proof.
    NsecMissing,
    /// EDE 6 as well: the work budget (KeyTrap limits) ran out.
    BudgetExhausted,
    /// EDE 23: a DS or DNSKEY set the chain needs could not be fetched.
    NetworkError,
    /// Not bogus: only unsupported DNSKEY algorithms (EDE 1), for
    /// `Security::Unsupported`.
    UnsupportedAlgorithm,
    /// Not bogus: only unsupported DS digest types (EDE 2).
    UnsupportedDigest,
}

impl BogusKind {
    /// The extended DNS error code (RFC 8914 §4).
    pub fn ede_code(self) -> u16 {
        match self {
            BogusKind::Bogus | BogusKind::BudgetExhausted => 6,
            BogusKind::SignatureExpired => 7,
            BogusKind::SignatureNotYetValid => 8,
            BogusKind::DnskeyMissing => 9,
            BogusKind::RrsigsMissing => 10,
            BogusKind::NsecMissing => 12,
            BogusKind::NetworkError => 23,
            BogusKind::UnsupportedAlgorithm => 1,
            BogusKind::UnsupportedDigest => 2,
        }
    }
}

impl Bogus {
    pub fn new(kind: BogusKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
}

/// One phrase, as the control channel's `trace` prints it.
impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Secure => f.write_str("secure"),
            Security::Insecure => f.write_str("insecure"),
            Security::Bogus(b) => write!(f, "bogus: {b}"),
            Security::Unsupported(b) => write!(f, "insecure (unsupported: {b})"),
            Security::Unchecked => f.write_str("not checked"),
        }
    }
}

impl std::fmt::Display for Bogus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Work done for one client query, against its limits (KeyTrap,
/// CVE-2023-50387 and CVE-2023-50868): signature verifications, and
/// NSEC3 hash computations. Shared by every RRset the query validates.
#[derive(Debug, Clone)]
pub struct Budget {
    pub verifications_left: u32,
    pub nsec3_hashes_left: u32,
    /// Verifications done so far (reported in traces and tests).
    pub verifications_done: u32,
    pub nsec3_hashes_done: u32,
    /// The validation steps in words, when someone asked to see them
    /// (`tern dig +trace +engine`); None keeps the hot path free of text.
    pub steps: Option<Vec<String>>,
}

/// Per RRset, keys tried for one RRSIG whose key tag several DNSKEYs share
/// (key-tag collisions); Unbound and BIND cap this at a handful.
pub const MAX_KEY_TAG_COLLISIONS: usize = 4;

/// Per RRset, RRSIGs tried before giving up (KeyTrap: many signatures).
pub const MAX_RRSIGS_PER_RRSET: usize = 8;

/// NSEC3 hash computations per client query (CVE-2023-50868).
pub const MAX_NSEC3_HASHES: u32 = 128;

impl Budget {
    pub fn new(max_verifications: u32) -> Self {
        Self {
            verifications_left: max_verifications,
            nsec3_hashes_left: MAX_NSEC3_HASHES,
            verifications_done: 0,
            nsec3_hashes_done: 0,
            steps: None,
        }
    }

    /// Records a validation step if steps are being kept.
    pub fn step(&mut self, text: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.steps {
            steps.push(text());
        }
    }

    /// Takes one signature verification; false when none is left.
    pub fn take_verification(&mut self) -> bool {
        if self.verifications_left == 0 {
            return false;
        }
        self.verifications_left -= 1;
        self.verifications_done += 1;
        true
    }

    /// Takes one NSEC3 hash; false when none is left.
    pub fn take_nsec3_hash(&mut self) -> bool {
        if self.nsec3_hashes_left == 0 {
            return false;
        }
        self.nsec3_hashes_left -= 1;
        self.nsec3_hashes_done += 1;
        true
    }
}

/// A zone's keys as its chain of trust left them (cached per zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneKeys {
    /// The zone's DNSKEYs, validated from a trust anchor.
    Secure(Vec<hickory_proto::dnssec::rdata::DNSKEY>),
    /// No chain of trust reaches the zone, with why.
    Insecure(String),
    /// The chain of trust is broken.
    Bogus(Bogus),
    /// Insecure: the zone's keys or DS records use only algorithms or
    /// digests tern does not implement (EDE 1 or 2 with why).
    Unsupported(Bogus),
}

impl ZoneKeys {
    /// A rough size, for the cache's memory bound.
    pub fn approx_bytes(&self) -> usize {
        match self {
            ZoneKeys::Secure(keys) => keys
                .iter()
                .map(|k| 16 + hickory_proto::dnssec::PublicKey::public_bytes(k.public_key()).len())
                .sum(),
            ZoneKeys::Insecure(why) => why.len(),
            ZoneKeys::Bogus(b) | ZoneKeys::Unsupported(b) => b.text.len(),
        }
    }
}
