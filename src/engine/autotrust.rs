//! The engine side of RFC 5011 trust anchor updates: the trust points read
//! from `auto_trust_anchor_files`, fed every DNSKEY set the validator
//! fetches for their zones, and their probes.
//!
//! State lives in memory; each change is rendered in Unbound's file
//! format and handed to a `StateSink` (`tern serve` writes the file, the
//! replay harness its scratch copy). Nothing here touches the disk.
//!
//! Probing: Unbound queries the DNSKEY set when the probe timer fires.
//! `autotrust_probe_due` does the same when called (the serve loop and
//! the replay harness call it); besides, a trust point's keys are cached
//! no longer than its next probe time, so any query that needs them after
//! that fetches and processes a fresh DNSKEY set (RFC 5011 §2.3).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

use super::{Request, Resolver};
use crate::cache::Key;
use crate::clock::Clock;
use crate::config::DnssecConfig;
use crate::dnssec::anchors::TrustAnchors;
use crate::dnssec::autotrust::file::{self, StateFile};
use crate::dnssec::autotrust::{Outcome, StateSink, TrustPoint};
use crate::dnssec::verify::{KeyCheck, VerifyOptions};
use crate::dnssec::Budget;
use crate::upstream::Transport;

/// A trust point and the file it is kept in.
struct Point {
    path: PathBuf,
    tp: TrustPoint,
}

/// Every RFC 5011 trust point, and where their files go.
#[derive(Default)]
pub struct AutoTrust {
    points: Mutex<Vec<Point>>,
    sink: Option<Arc<dyn StateSink>>,
}

impl AutoTrust {
    /// The trust points of the config's state files, each also set as the
    /// anchor of its zone in `anchors`. A file that cannot be read is
    /// logged and skipped (`tern check` and `tern serve` refuse it first);
    /// a revoked one leaves its zone without anchor.
    pub fn load(cfg: &DnssecConfig, anchors: &mut TrustAnchors) -> Self {
        let files = match file::read_all(cfg) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "autotrust state file unusable");
                Vec::new()
            }
        };
        let mut points = Vec::new();
        for (path, state) in files {
            match state {
                StateFile::Point(tp) => {
                    anchors.set_anchor(&tp.zone, tp.anchor());
                    points.push(Point { path, tp });
                }
                StateFile::Revoked => {
                    tracing::warn!(path = %path.display(), "trust anchor revoked (RFC 5011)")
                }
            }
        }
        Self {
            points: Mutex::new(points),
            sink: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.points.lock().map_or(true, |p| p.is_empty())
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Where state files are written; without one the state is kept in
    /// memory only.
    pub fn with_autotrust_sink(mut self, sink: Arc<dyn StateSink>) -> Self {
        self.autotrust.sink = Some(sink);
        self
    }

    /// The earliest next probe time (Unix seconds) of any trust point.
    pub fn autotrust_next_probe(&self) -> Option<u64> {
        let points = self.autotrust.points.lock().ok()?;
        points.iter().filter_map(|p| p.tp.next_probe()).min()
    }

    /// The state file text of `zone`'s trust point as it stands.
    pub fn autotrust_state(&self, zone: &Name) -> Option<String> {
        let points = self.autotrust.points.lock().ok()?;
        points
            .iter()
            .find(|p| p.tp.zone == *zone)
            .map(|p| file::render(&p.tp))
    }

    /// Probes every trust point whose probe time has come: its cached
    /// DNSKEY set and keys are dropped and the set asked for again, which
    /// brings it through `autotrust_keys`. Returns how many were probed.
    pub async fn autotrust_probe_due(&self) -> usize {
        if self.autotrust.is_empty() {
            return 0;
        }
        let now = self.clock.unix_secs();
        let due: Vec<Name> = match self.autotrust.points.lock() {
            Ok(mut points) => points
                .iter_mut()
                .filter(|p| p.tp.next_probe().is_some_and(|t| t <= now))
                .map(|p| {
                    p.tp.probe_started(now);
                    p.tp.zone.clone()
                })
                .collect(),
            Err(_) => return 0,
        };
        for zone in &due {
            self.forget_keys(zone);
            let mut request = Request::new(zone.clone(), RecordType::DNSKEY);
            request.dnssec_ok = true;
            let _ = self.resolve(&request).await;
        }
        due.len()
    }

    /// Drops what the cache knows of `zone`'s keys, so the next use
    /// fetches them.
    fn forget_keys(&self, zone: &Name) {
        let lower = zone.to_lowercase();
        let class = DNSClass::IN;
        let t = RecordType::DNSKEY;
        for key in [
            Key::ZoneKeys(lower.clone()),
            Key::RRset(zone.clone(), t, class),
            Key::Sigs(zone.clone(), t, class),
            Key::Sections(zone.clone(), t, class),
            Key::Status(zone.clone(), t, class),
            Key::Failure(zone.clone(), t, class),
        ] {
            self.cache.remove(&key);
        }
    }

    /// For a zone with an RFC 5011 trust point: updates the point with
    /// the fetched DNSKEY set, writes its file if it changed, and checks
    /// the set against the point's (updated) anchor. None for other zones.
    pub(super) fn autotrust_keys(
        &self,
        zone: &Name,
        dnskeys: &[Record],
        rrsigs: &[Record],
        opts: &VerifyOptions,
        budget: &mut Budget,
    ) -> Option<KeyCheck> {
        let mut points = self.autotrust.points.lock().ok()?;
        let point = points.iter_mut().find(|p| p.tp.zone == *zone)?;
        let now = self.clock.unix_secs();
        let outcome = point.tp.process(dnskeys, rrsigs, now, opts, budget);
        tracing::debug!(%zone, ?outcome, "autotrust probe processed");
        let write = match outcome {
            Outcome::Updated | Outcome::Revoked => true,
            Outcome::Failed => point.tp.last_success != 0,
            Outcome::Ignored => false,
        };
        if let (true, Some(sink)) = (write, &self.autotrust.sink) {
            sink.write(&point.path, &file::render(&point.tp));
        }
        if point.tp.revoked {
            return Some(KeyCheck::Insecure(format!(
                "every trust anchor key of {zone} is revoked (RFC 5011)"
            )));
        }
        let until_probe = point.tp.next_probe_time.saturating_sub(now).max(1);
        Some(match point.tp.verify(dnskeys, rrsigs, now, opts, budget) {
            KeyCheck::Secure { keys, ttl, matched } => KeyCheck::Secure {
                keys,
                ttl: ttl.min(u32::try_from(until_probe).unwrap_or(u32::MAX)),
                matched,
            },
            other => other,
        })
    }
}
