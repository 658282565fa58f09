//! What a run recorded, and the numbers drawn from it: the CSV table, the
//! share of answers per replica (overall and per time bin), how long
//! clients kept being sent to a replica after it went down, and latency
//! percentiles (nearest rank). Plain data in, plain data out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

/// The rcode column of a query that got no reply in time.
pub const TIMEOUT: &str = "TIMEOUT";

/// One query and what came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Seconds from the start of the run to sending the query.
    pub time_s: f64,
    pub region: String,
    pub subnet: IpNet,
    pub name: String,
    /// The A records at the end of the answer (after any CNAME).
    pub addresses: Vec<IpAddr>,
    /// The replicas those addresses belong to (an address no CDN file
    /// names is left out).
    pub replicas: Vec<String>,
    /// None when no reply came.
    pub latency_ms: Option<f64>,
    /// NOERROR, SERVFAIL, ... or TIMEOUT.
    pub rcode: String,
}

/// Header of answers.csv.
pub const CSV_HEADER: &str = "time_s,region,client_subnet,name,answer,replica,latency_ms,rcode";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// answers.csv: one row per query, addresses and replicas space-separated.
pub fn csv(answers: &[Answer]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for a in answers {
        let addrs: Vec<String> = a.addresses.iter().map(|x| x.to_string()).collect();
        let latency = a.latency_ms.map_or(String::new(), |l| format!("{l:.3}"));
        let _ = writeln!(
            out,
            "{:.3},{},{},{},{},{},{latency},{}",
            a.time_s,
            csv_field(&a.region),
            a.subnet,
            csv_field(&a.name),
            addrs.join(" "),
            csv_field(&a.replicas.join(" ")),
            a.rcode
        );
    }
    out
}

/// Answers per replica for one (name, region); "-" counts answers that
/// named no known replica (errors, timeouts, empty answers).
pub type Counts = BTreeMap<String, usize>;

fn bump(c: &mut Counts, a: &Answer) {
    if a.replicas.is_empty() {
        *c.entry("-".to_string()).or_default() += 1;
    }
    for r in &a.replicas {
        *c.entry(r.clone()).or_default() += 1;
    }
}

/// Counts per (name, region) over the whole run.
pub fn shares(answers: &[Answer]) -> BTreeMap<(String, String), Counts> {
    let mut out: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for a in answers {
        bump(
            out.entry((a.name.clone(), a.region.clone())).or_default(),
            a,
        );
    }
    out
}

/// Counts per (name, region) per time bin of `bin_s` seconds.
pub fn binned(
    answers: &[Answer],
    bin_s: f64,
    duration_s: f64,
) -> BTreeMap<(String, String), Vec<Counts>> {
    let bins = (duration_s / bin_s).ceil().max(1.0) as usize;
    let mut out: BTreeMap<(String, String), Vec<Counts>> = BTreeMap::new();
    for a in answers {
        let series = out
            .entry((a.name.clone(), a.region.clone()))
            .or_insert_with(|| vec![Counts::new(); bins]);
        let i = ((a.time_s / bin_s).floor().max(0.0) as usize).min(bins - 1);
        if let Some(c) = series.get_mut(i) {
            bump(c, a);
        }
    }
    out
}

/// How long one client region's answers for a name kept pointing at a
/// replica that went down.
#[derive(Debug, Clone, PartialEq)]
pub struct Leave {
    pub name: String,
    pub region: String,
    pub replica: String,
    pub down_at: f64,
    /// End of the window looked at: the replica's return, or the run's end.
    pub until: f64,
    /// The last query in the window answered with the replica.
    pub last_sent: Option<f64>,
    /// Whether answers after `last_sent` (in the window) went elsewhere:
    /// the clients left. False: still sent there at the window's end.
    pub left: bool,
}

impl Leave {
    /// Seconds from going down to the last answer naming it, when clients left.
    pub fn seconds(&self) -> Option<f64> {
        match (self.left, self.last_sent) {
            (true, Some(t)) => Some(t - self.down_at),
            (true, None) => Some(0.0),
            (false, _) => None,
        }
    }
}

/// How far back from a replica going down an answer naming it counts as
/// "clients were using it".
pub const RECENT_S: f64 = 5.0;

/// One `Leave` per (down event, name, region) for the regions that were
/// sent to the replica in the `RECENT_S` seconds before it went down (the
/// others were not using it).
/// `downs` holds (time, replica) of each replica-down event, `ups` the
/// replica-up events.
pub fn leaves(
    answers: &[Answer],
    downs: &[(f64, String)],
    ups: &[(f64, String)],
    duration_s: f64,
) -> Vec<Leave> {
    let mut groups: Vec<(&str, &str)> = answers
        .iter()
        .map(|a| (a.name.as_str(), a.region.as_str()))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let mut out = Vec::new();
    for (down_at, replica) in downs {
        let until = ups
            .iter()
            .filter(|(t, r)| r == replica && t > down_at)
            .map(|(t, _)| *t)
            .fold(duration_s, f64::min);
        for (name, region) in &groups {
            let mine = |a: &&Answer| a.name == *name && a.region == *region;
            let used = answers
                .iter()
                .filter(mine)
                .filter(|a| a.time_s < *down_at && a.time_s >= down_at - RECENT_S)
                .any(|a| a.replicas.contains(replica));
            if !used {
                continue;
            }
            let window: Vec<&Answer> = answers
                .iter()
                .filter(mine)
                .filter(|a| a.time_s >= *down_at && a.time_s < until)
                .collect();
            let last_sent = window
                .iter()
                .filter(|a| a.replicas.contains(replica))
                .map(|a| a.time_s)
                .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
            let left = window.iter().any(|a| {
                last_sent.is_none_or(|t| a.time_s > t)
                    && !a.replicas.is_empty()
                    && !a.replicas.contains(replica)
            });
            out.push(Leave {
                name: name.to_string(),
                region: region.to_string(),
                replica: replica.clone(),
                down_at: *down_at,
                until,
                last_sent,
                left,
            });
        }
    }
    out
}

/// Latency percentiles of one name's answered queries.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub answered: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// Nearest-rank percentile `p` (0-100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Latency per name.
pub fn latencies(answers: &[Answer]) -> BTreeMap<String, Latency> {
    let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for a in answers {
        if let Some(l) = a.latency_ms {
            per.entry(a.name.clone()).or_default().push(l);
        }
    }
    per.into_iter()
        .filter_map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            Some((
                name,
                Latency {
                    answered: v.len(),
                    p50: percentile(&v, 50.0)?,
                    p90: percentile(&v, 90.0)?,
                    p99: percentile(&v, 99.0)?,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(t: f64, name: &str, replica: &str) -> Answer {
        Answer {
            time_s: t,
            region: "eu".to_string(),
            subnet: "10.1.0.0/24".parse().unwrap(),
            name: name.to_string(),
            addresses: vec!["127.0.0.9".parse().unwrap()],
            replicas: match replica {
                "" => vec![],
                r => vec![r.to_string()],
            },
            latency_ms: Some(t),
            rcode: "NOERROR".to_string(),
        }
    }

    #[test]
    fn leave_times_per_name() {
        let mut rows = vec![
            a(1.0, "fast", "us"),
            a(6.0, "fast", "us"),
            a(9.0, "fast", "eu"),
            a(12.0, "fast", "eu"),
            a(2.0, "slow", "us"),
            a(6.0, "slow", "us"),
            a(19.0, "slow", "us"),
            a(2.0, "quick", "us"),
            a(6.0, "quick", "eu"),
            // never sent to us: not affected, not reported
            a(3.0, "other", "eu"),
            a(8.0, "other", "eu"),
            // sent there long before, not just before it went down
            a(-1.0, "earlier", "us"),
            a(2.0, "earlier", "eu"),
            a(8.0, "earlier", "eu"),
            // after the replica came back: not in the window
            a(25.0, "fast", "us"),
        ];
        // Another region of "slow" that never used us.
        let mut ap = a(7.0, "slow", "eu");
        ap.region = "ap".to_string();
        rows.push(ap);
        let downs = vec![(5.0, "us".to_string())];
        let ups = vec![(20.0, "us".to_string())];
        let l = leaves(&rows, &downs, &ups, 30.0);
        let by = |n: &str| l.iter().find(|x| x.name == n).unwrap().clone();
        assert_eq!(by("fast").seconds(), Some(1.0));
        assert_eq!(by("fast").until, 20.0);
        assert_eq!(by("slow").seconds(), None);
        assert!(!by("slow").left);
        assert_eq!(by("quick").seconds(), Some(0.0));
        assert!(l
            .iter()
            .all(|x| x.name != "other" && x.name != "earlier" && x.region != "ap"));
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 1.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn bins_and_shares() {
        let rows = vec![
            a(0.2, "n", "us"),
            a(0.7, "n", "eu"),
            a(1.5, "n", "eu"),
            a(2.9, "n", ""),
        ];
        let b = binned(&rows, 1.0, 3.0);
        let s = b.get(&("n".to_string(), "eu".to_string())).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].get("us"), Some(&1));
        assert_eq!(s[1].get("eu"), Some(&1));
        assert_eq!(s[2].get("-"), Some(&1));
        let total = shares(&rows);
        assert_eq!(total.values().next().unwrap().get("eu"), Some(&2));
    }

    #[test]
    fn csv_rows_and_quoting() {
        let mut r = a(1.0, "n", "us");
        r.region = "eu, west".to_string();
        let text = csv(&[r, a(2.0, "m", "")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "1.000,\"eu, west\",10.1.0.0/24,n,127.0.0.9,us,1.000,NOERROR"
        );
        assert_eq!(lines.len(), 3);
    }
}
