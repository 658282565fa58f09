//! Replica selection as pure functions: candidates, the client's address
//! (or ECS subnet, RFC 7871), health, loads and RTTs in; the chosen
//! replicas, the ECS scope prefix the choice is valid for (RFC 7871
//! §7.2.1) and a one-line reason out. No I/O, no clock; randomness comes
//! from a seeded RNG passed in, so experiments repeat.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::config::{NamePolicy, PolicyKind, ReplicaConfig, SubnetEntry};

/// What a policy knows about the world at one instant.
pub struct Inputs<'a> {
    pub client: IpAddr,
    /// The client's ECS source prefix, or the full address length.
    pub source_prefix: u8,
    pub replicas: &'a [ReplicaConfig],
    /// Replicas currently passing health checks (all when unchecked).
    pub alive: &'a dyn Fn(&str) -> bool,
    pub loads: &'a HashMap<String, f64>,
    pub rtts: &'a HashMap<String, Duration>,
}

/// A policy's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub chosen: Vec<String>,
    pub scope: u8,
    pub why: String,
}

/// Per-policy mutable state: the seeded RNG and the round-robin cursor.
pub struct PolicyState {
    pub rng: StdRng,
    pub next: usize,
}

/// Chooses replicas for one query under `policy`.
pub fn select(policy: &NamePolicy, input: &Inputs<'_>, state: &mut PolicyState) -> Decision {
    let by_name = |n: &String| input.replicas.iter().find(|r| &r.name == n);
    let candidates: Vec<&ReplicaConfig> = policy
        .replicas
        .iter()
        .filter_map(by_name)
        .filter(|r| (input.alive)(&r.name))
        .collect();
    let take = |list: Vec<&ReplicaConfig>, scope: u8, why: String| Decision {
        chosen: list
            .iter()
            .take(policy.count)
            .map(|r| r.name.clone())
            .collect(),
        scope,
        why,
    };
    if candidates.is_empty() {
        return Decision {
            chosen: Vec::new(),
            scope: 0,
            why: "no live replica".to_string(),
        };
    }
    match policy.kind {
        PolicyKind::Closest | PolicyKind::Subnet | PolicyKind::Geo => {
            closest(policy, input, candidates, &take)
        }
        PolicyKind::Live => {
            let n = candidates.len();
            Decision {
                chosen: candidates.iter().map(|r| r.name.clone()).collect(),
                scope: 0,
                why: format!("all {n} live replicas"),
            }
        }
        PolicyKind::Failover => take(candidates, 0, "first live replica in order".to_string()),
        PolicyKind::RoundRobin => {
            let i = state.next % candidates.len();
            state.next = state.next.wrapping_add(1);
            let mut rotated = candidates.clone();
            rotated.rotate_left(i);
            take(rotated, 0, format!("round-robin position {i}"))
        }
        PolicyKind::LowestLoad => {
            let load =
                |r: &&ReplicaConfig| input.loads.get(&r.name).copied().unwrap_or(f64::INFINITY);
            let mut sorted = candidates;
            sorted.sort_by(|a, b| load(a).total_cmp(&load(b)));
            let why = sorted
                .first()
                .map(|r| format!("lowest load {}", load(r)))
                .unwrap_or_default();
            take(sorted, 0, why)
        }
        PolicyKind::Fastest => {
            let rtt =
                |r: &&ReplicaConfig| input.rtts.get(&r.name).copied().unwrap_or(Duration::MAX);
            let mut sorted = candidates;
            sorted.sort_by_key(rtt);
            let why = sorted
                .first()
                .map(|r| format!("fastest connect {:?}", rtt(r)))
                .unwrap_or_default();
            take(sorted, 0, why)
        }
        PolicyKind::Weighted => weighted(policy, candidates, state),
        PolicyKind::Reflect => Decision {
            chosen: Vec::new(),
            scope: input.source_prefix,
            why: "reflect".to_string(),
        },
    }
}

fn closest(
    policy: &NamePolicy,
    input: &Inputs<'_>,
    candidates: Vec<&ReplicaConfig>,
    take: &dyn Fn(Vec<&ReplicaConfig>, u8, String) -> Decision,
) -> Decision {
    match longest_match(&policy.subnets, input.client) {
        Some(entry) => {
            // The answer holds for the whole mapped network, but never wider
            // than what the client revealed (RFC 7871 §7.2.1).
            let scope = entry.net.prefix_len().min(input.source_prefix);
            if let Some(here) = entry.coordinates {
                let mut sorted = candidates;
                sorted.sort_by(|a, b| distance(here, a).total_cmp(&distance(here, b)));
                return take(
                    sorted,
                    scope,
                    format!("nearest to {} by coordinates", entry.net),
                );
            }
            if let Some(site) = &entry.site {
                let at_site: Vec<&ReplicaConfig> = candidates
                    .iter()
                    .copied()
                    .filter(|r| &r.site == site)
                    .collect();
                if !at_site.is_empty() {
                    return take(at_site, scope, format!("{} maps to site {site}", entry.net));
                }
                return take(
                    candidates,
                    scope,
                    format!(
                        "{} maps to site {site}, none live there: fallback",
                        entry.net
                    ),
                );
            }
            take(
                candidates,
                scope,
                format!("{} has no site: fallback", entry.net),
            )
        }
        None => {
            // Unmapped: valid only for the client's own prefix.
            let scope = input.source_prefix;
            if let Some(site) = &policy.default_site {
                let at_site: Vec<&ReplicaConfig> = candidates
                    .iter()
                    .copied()
                    .filter(|r| &r.site == site)
                    .collect();
                if !at_site.is_empty() {
                    return take(
                        at_site,
                        scope,
                        format!("unmapped client: default site {site}"),
                    );
                }
            }
            take(
                candidates,
                scope,
                "unmapped client: first live replica".to_string(),
            )
        }
    }
}

fn weighted(
    policy: &NamePolicy,
    candidates: Vec<&ReplicaConfig>,
    state: &mut PolicyState,
) -> Decision {
    let weight = |r: &ReplicaConfig| u64::from(policy.weights.get(&r.name).copied().unwrap_or(0));
    let total: u64 = candidates.iter().map(|r| weight(r)).sum();
    if total == 0 {
        return Decision {
            chosen: Vec::new(),
            scope: 0,
            why: "no live replica with weight".to_string(),
        };
    }
    let mut ticket = state.rng.random_range(0..total);
    for r in &candidates {
        let w = weight(r);
        if ticket < w {
            return Decision {
                chosen: vec![r.name.clone()],
                scope: 0,
                why: format!("weighted draw ({w} of {total})"),
            };
        }
        ticket -= w;
    }
    Decision {
        chosen: Vec::new(),
        scope: 0,
        why: "weighted draw fell through".to_string(),
    }
}

/// The most specific map entry containing `addr`.
pub fn longest_match(entries: &[SubnetEntry], addr: IpAddr) -> Option<&SubnetEntry> {
    entries
        .iter()
        .filter(|e| e.net.contains(&addr))
        .max_by_key(|e| e.net.prefix_len())
}

/// Great-circle distance in km between a point and a replica (haversine);
/// replicas without coordinates sort last.
fn distance(here: [f64; 2], r: &ReplicaConfig) -> f64 {
    let Some([lat2, lon2]) = r.coordinates else {
        return f64::INFINITY;
    };
    let [lat1, lon1] = here;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::cdn::config::NamePolicy;
    use hickory_proto::rr::Name;
    use rand::SeedableRng;
    use std::collections::BTreeMap;

    fn replica(name: &str, site: &str, coords: [f64; 2]) -> ReplicaConfig {
        ReplicaConfig {
            name: name.to_string(),
            addresses: vec![IpAddr::from([127, 0, 0, 1])],
            site: site.to_string(),
            coordinates: Some(coords),
            health: None,
        }
    }

    fn policy(kind: PolicyKind, subnets: Vec<SubnetEntry>) -> NamePolicy {
        NamePolicy {
            name: Name::root(),
            kind,
            replicas: vec!["fra".into(), "iad".into(), "sin".into()],
            ttl: 10,
            subnets,
            default_site: None,
            weights: BTreeMap::new(),
            seed: 1,
            load_file: None,
            load_url: None,
            count: 1,
        }
    }

    fn run(
        p: &NamePolicy,
        client: &str,
        dead: &str,
        loads: &[(&str, f64)],
        rtts: &[(&str, u64)],
    ) -> Decision {
        let replicas = vec![
            replica("fra", "eu", [50.1, 8.7]),
            replica("iad", "us", [39.0, -77.5]),
            replica("sin", "ap", [1.35, 103.8]),
        ];
        let loads: HashMap<String, f64> = loads.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let rtts: HashMap<String, Duration> = rtts
            .iter()
            .map(|(k, v)| (k.to_string(), Duration::from_millis(*v)))
            .collect();
        let alive = |n: &str| n != dead;
        let input = Inputs {
            client: client.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            source_prefix: 24,
            replicas: &replicas,
            alive: &alive,
            loads: &loads,
            rtts: &rtts,
        };
        let mut state = PolicyState {
            rng: StdRng::seed_from_u64(1),
            next: 0,
        };
        select(p, &input, &mut state)
    }

    fn net(s: &str) -> ipnet::IpNet {
        s.parse().unwrap_or_else(|_| ipnet::IpNet::default())
    }

    /// (policy, client, dead replica, loads, rtts, expected choice, scope)
    type Case<'a> = (
        &'a NamePolicy,
        &'a str,
        &'a str,
        &'a [(&'a str, f64)],
        &'a [(&'a str, u64)],
        &'a str,
        u8,
    );

    #[test]
    fn policy_table() {
        let geo = policy(
            PolicyKind::Geo,
            vec![
                SubnetEntry {
                    net: net("10.4.0.0/16"),
                    site: None,
                    coordinates: Some([48.9, 2.35]),
                },
                SubnetEntry {
                    net: net("10.6.0.0/16"),
                    site: None,
                    coordinates: Some([35.7, 139.7]),
                },
            ],
        );
        let lowest = policy(PolicyKind::LowestLoad, vec![]);
        let fastest = policy(PolicyKind::Fastest, vec![]);
        let failover = policy(PolicyKind::Failover, vec![]);
        let none: &[(&str, f64)] = &[];
        let no_rtt: &[(&str, u64)] = &[];
        let cases: Vec<Case> = vec![
            (&geo, "10.4.1.0", "", none, no_rtt, "fra", 16),
            (&geo, "10.6.1.0", "", none, no_rtt, "sin", 16),
            // nearest is dead: the next nearest
            (&geo, "10.6.1.0", "sin", none, no_rtt, "fra", 16),
            (
                &lowest,
                "192.0.2.1",
                "",
                &[("fra", 0.9), ("iad", 0.1), ("sin", 0.5)],
                no_rtt,
                "iad",
                0,
            ),
            (
                &lowest,
                "192.0.2.1",
                "iad",
                &[("fra", 0.9), ("iad", 0.1), ("sin", 0.5)],
                no_rtt,
                "sin",
                0,
            ),
            (
                &fastest,
                "192.0.2.1",
                "",
                none,
                &[("fra", 30), ("iad", 5), ("sin", 80)],
                "iad",
                0,
            ),
            (&failover, "192.0.2.1", "", none, no_rtt, "fra", 0),
            (&failover, "192.0.2.1", "fra", none, no_rtt, "iad", 0),
        ];
        for (p, client, dead, loads, rtts, want, scope) in cases {
            let d = run(p, client, dead, loads, rtts);
            assert_eq!(
                d.chosen,
                vec![want.to_string()],
                "{:?} {client} dead={dead}: {d:?}",
                p.kind
            );
            assert_eq!(d.scope, scope, "{:?} {client}: {d:?}", p.kind);
        }
    }
}
