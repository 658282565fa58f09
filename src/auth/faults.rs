//! Per-server fault injection for the lab, consulted once per packet:
//! delay (fixed + jitter), loss, down (silent), REFUSED, SERVFAIL, lame
//! (no AA, a referral back to the zone itself or upward to the root: RFC
//! 1034 §4.3.2 makes either a lame delegation to the resolver), truncate (TC=1 on UDP, RFC 2181 §9)
//! and garbage bytes. Random choices come from a seeded RNG so runs repeat.

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::zone::ZoneSet;

/// Longest delay a fault may add (keeps a typo from hanging a lab).
pub const MAX_DELAY_MS: u64 = 60_000;

/// The faults one server shows. All off by default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Added to every reply, in milliseconds.
    pub delay_ms: u64,
    /// Uniform extra delay in [0, jitter_ms].
    pub jitter_ms: u64,
    /// Percentage of queries dropped (0-100).
    pub loss_percent: f64,
    /// Drop everything, silently.
    pub down: bool,
    /// Answer REFUSED.
    pub refuse: bool,
    /// Answer SERVFAIL.
    pub servfail: bool,
    /// Answer without AA, with a referral to the zone's own NS.
    pub lame: bool,
    /// Answer without AA with an upward referral: the root's NS and
    /// addresses (as a lame server that points back to the root does).
    pub lame_upward: bool,
    /// Answer UDP queries with an empty TC=1 reply.
    pub truncate: bool,
    /// Answer with random bytes.
    pub garbage: bool,
}

/// What to do with one packet, decided before answering.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Drop,
    Garbage(Vec<u8>),
    Answer,
}

impl Faults {
    /// Checks ranges; the message names the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.loss_percent) {
            return Err(format!(
                "loss_percent {} is not in 0..=100",
                self.loss_percent
            ));
        }
        if self.delay_ms.saturating_add(self.jitter_ms) > MAX_DELAY_MS {
            return Err(format!("delay_ms + jitter_ms exceeds {MAX_DELAY_MS}"));
        }
        Ok(())
    }

    pub fn is_clear(&self) -> bool {
        *self == Faults::default()
    }

    /// The delay for this packet.
    pub fn delay(&self, rng: &mut StdRng) -> Duration {
        let jitter = match self.jitter_ms {
            0 => 0,
            j => rng.random_range(0..=j),
        };
        Duration::from_millis(self.delay_ms.saturating_add(jitter).min(MAX_DELAY_MS))
    }

    /// Drop, garbage, or go on to answer.
    pub fn verdict(&self, rng: &mut StdRng) -> Verdict {
        if self.down {
            return Verdict::Drop;
        }
        if self.loss_percent > 0.0 && rng.random::<f64>() * 100.0 < self.loss_percent {
            return Verdict::Drop;
        }
        if self.garbage {
            let len = rng.random_range(1..=64);
            let bytes = (0..len).map(|_| rng.random::<u8>()).collect();
            return Verdict::Garbage(bytes);
        }
        Verdict::Answer
    }

    /// Rewrites a correct reply per the configured faults.
    /// `upward` holds the root NS and address records for `lame_upward`.
    pub fn mangle(&self, reply: &mut Message, zones: &ZoneSet, upward: &[Record], udp: bool) {
        if self.refuse {
            clear(reply);
            reply.metadata.response_code = ResponseCode::Refused;
        } else if self.servfail {
            clear(reply);
            reply.metadata.response_code = ResponseCode::ServFail;
        } else if self.lame {
            let zone = reply.queries.first().and_then(|q| zones.find(q.name()));
            clear(reply);
            reply.metadata.response_code = ResponseCode::NoError;
            if let Some(ns) = zone.and_then(|z| z.rrset(z.origin(), RecordType::NS)) {
                reply.authorities.extend(ns.iter().cloned());
            }
        } else if self.lame_upward {
            clear(reply);
            reply.metadata.response_code = ResponseCode::NoError;
            for r in upward {
                match r.record_type() {
                    RecordType::NS => reply.authorities.push(r.clone()),
                    _ => reply.additionals.push(r.clone()),
                }
            }
        }
        if self.truncate && udp {
            clear(reply);
            reply.metadata.truncation = true;
        }
    }
}

fn clear(reply: &mut Message) {
    reply.metadata.authoritative = false;
    reply.answers.clear();
    reply.authorities.clear();
    reply.additionals.clear();
}

/// A fresh RNG for a server (seeded, so experiments repeat).
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rate_is_close_to_the_setting() {
        let f = Faults {
            loss_percent: 30.0,
            ..Faults::default()
        };
        let mut r = rng(7);
        let dropped = (0..10_000)
            .filter(|_| f.verdict(&mut r) == Verdict::Drop)
            .count();
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
    }

    #[test]
    fn delay_stays_within_jitter() {
        let f = Faults {
            delay_ms: 100,
            jitter_ms: 50,
            ..Faults::default()
        };
        let mut r = rng(1);
        for _ in 0..1000 {
            let d = f.delay(&mut r).as_millis();
            assert!((100..=150).contains(&d), "{d}");
        }
    }

    #[test]
    fn validate_rejects_out_of_range() {
        let f = Faults {
            loss_percent: 101.0,
            ..Faults::default()
        };
        assert!(f.validate().is_err());
        assert!(Faults::default().validate().is_ok());
    }
}
