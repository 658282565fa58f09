//! `+trace`: walk from the root like dig +trace (RFC 1034 §5.3.3 without
//! caching): non-recursive queries to each zone's servers, following
//! referrals (glue from the additional section, other NS names resolved by
//! a quiet walk of their own), printing each reply in dig's layout plus the
//! server asked, its RTT and why the walk moved on. `+json` gives the steps
//! as one JSON array. Bounded by a query budget and a nesting depth.
//!
//! The roots are the engine's (`RootHints`), and what each reply means is
//! decided by the engine's scrubber and classifier (`engine::classify`) on
//! its own parse of the bytes; dig's wire view only prints them as received.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::{json, Value};

use super::args::{Family, Lookup};
use super::hints;
pub use super::hints::NsServer;
use super::msg::View;
use super::query::{self, hash_addr, SendOpts};
use super::types::{TYPE_A, TYPE_AAAA, TYPE_NS};
use super::{format, json as j, msg, spec_of, EXIT_INTERNAL, EXIT_NO_REPLY, EXIT_OK};
use crate::engine::classify::{self as engine, Kind};

/// Queries one trace may send in all (NXNS-style fan-out guard).
const QUERY_BUDGET: usize = 100;
/// Nested walks to find NS addresses without glue.
const MAX_DEPTH: usize = 3;
/// Referrals followed in one walk.
const MAX_STEPS: usize = 30;

/// What one reply means for the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The answer (or a CNAME or DNAME for the name).
    Answer,
    /// NXDOMAIN, NODATA (or YXDOMAIN from a DNAME) from an authority.
    Negative(String),
    /// Go down to `zone`, asking these servers.
    Referral { zone: Name, servers: Vec<NsServer> },
    /// Useless reply (lame, error rcode, upward referral): try the next
    /// server. The text says why.
    Lame(String),
}

/// Decides what a reply to (`qname`, `qtype`) from a server of `zone`
/// means, by the engine's rules: the reply is scrubbed to what a server of
/// `zone` may speak for (`classify::scrub`, glue in bailiwick only), then
/// classified (`classify::classify`). Returns the step and the scrubbed
/// reply (pure).
pub fn classify(mut msg: Message, qname: &Name, qtype: RecordType, zone: &Name) -> (Step, Message) {
    // Which NS set the reply carried before scrubbing, to say what a lame
    // referral pointed at.
    let carried = msg
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::NS)
        .map(|r| r.name.clone());
    engine::scrub(&mut msg, zone, qname, qtype, true);
    let kind = engine::classify(&msg, zone, qname, qtype);
    let step = match kind {
        Kind::Answer => Step::Answer,
        Kind::NxDomain => Step::Negative("NXDOMAIN".into()),
        Kind::NoData => Step::Negative("NODATA".into()),
        Kind::YxDomain => Step::Negative("YXDOMAIN".into()),
        Kind::Referral { child } => {
            let ns = msg
                .authorities
                .iter()
                .filter(|r| r.record_type() == RecordType::NS && r.name == child);
            let servers = ns_servers(ns, &msg.additionals);
            Step::Referral {
                zone: child,
                servers,
            }
        }
        Kind::Lame => Step::Lame(match carried {
            Some(owner) => format!("{kind}: NS for {owner} from a server of {zone}"),
            None => kind.to_string(),
        }),
        Kind::Rcode(_) => Step::Lame(kind.to_string()),
    };
    (step, msg)
}

/// The servers named by `ns` records, each with its addresses found in
/// `additionals`.
fn ns_servers<'a>(ns: impl Iterator<Item = &'a Record>, additionals: &[Record]) -> Vec<NsServer> {
    ns.filter_map(|r| match &r.data {
        RData::NS(ns) => Some(&ns.0),
        _ => None,
    })
    .map(|target| NsServer {
        name: target.to_lowercase().to_ascii(),
        addrs: additionals
            .iter()
            .filter(|a| a.name == *target)
            .filter_map(|a| a.data.ip_addr())
            .collect(),
    })
    .collect()
}

/// The addresses in a reply's answer section.
fn answer_addrs(msg: &Message) -> Vec<IpAddr> {
    msg.answers
        .iter()
        .filter_map(|r| r.data.ip_addr())
        .collect()
}

/// Everything one trace shares: options, budget, output.
struct Walker<'a> {
    lookup: &'a Lookup,
    opts: SendOpts,
    queries: usize,
    out: &'a mut dyn Write,
    json: bool,
    steps: Vec<Value>,
    /// Where quiet walks for NS addresses start (the trace's own roots).
    roots: Vec<NsServer>,
}

/// One question to one server address during the walk.
struct Asked<'a> {
    qname: &'a str,
    qtype: u16,
    target: &'a Name,
    zone: &'a Name,
    ns: &'a str,
    server: SocketAddr,
}

enum End {
    Done,
    NoServers,
}

impl Walker<'_> {
    fn say(&mut self, quiet: bool, text: &str) {
        if !quiet && !self.json {
            let _ = write!(self.out, "{text}");
        }
    }

    fn usable(&self, ip: &IpAddr) -> bool {
        match self.lookup.family {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    /// Walks from `servers` (serving `zone`) to the answer for qname/qtype.
    /// Returns the final reply when one was reached.
    fn walk(
        &mut self,
        qname: &str,
        qtype: u16,
        mut zone: Name,
        mut servers: Vec<NsServer>,
        depth: usize,
        quiet: bool,
    ) -> (End, Option<Message>) {
        let Ok(target) = query::parse_name(qname) else {
            return (End::NoServers, None);
        };
        for _ in 0..MAX_STEPS {
            let mut next = None;
            'servers: for s in servers.clone() {
                let mut addrs: Vec<IpAddr> =
                    s.addrs.iter().copied().filter(|a| self.usable(a)).collect();
                if addrs.is_empty()
                    && depth < MAX_DEPTH
                    && !Name::from_ascii(&s.name).is_ok_and(|n| n.zone_of(&target))
                {
                    addrs = self.resolve_addrs(&s.name, depth + 1);
                } else if addrs.is_empty() {
                    self.say(
                        quiet,
                        &format!(";; no address for {} (no glue), trying next\n", s.name),
                    );
                }
                for ip in addrs {
                    if self.queries >= QUERY_BUDGET {
                        self.say(quiet, ";; query budget exhausted\n");
                        return (End::NoServers, None);
                    }
                    self.queries += 1;
                    let asked = Asked {
                        qname,
                        qtype,
                        target: &target,
                        zone: &zone,
                        ns: &s.name,
                        server: SocketAddr::new(ip, self.lookup.port),
                    };
                    match self.ask(&asked, quiet) {
                        Some((Step::Answer | Step::Negative(_), m)) => return (End::Done, Some(m)),
                        Some((
                            Step::Referral {
                                zone: z,
                                servers: ns,
                            },
                            _,
                        )) => {
                            next = Some((z, ns));
                            break 'servers;
                        }
                        Some((Step::Lame(_), _)) | None => continue,
                    }
                }
            }
            match next {
                Some((z, ns)) => {
                    zone = z;
                    servers = ns;
                }
                None => return (End::NoServers, None),
            }
        }
        self.say(quiet, ";; too many referrals\n");
        (End::NoServers, None)
    }

    /// One query to one server address; None when it gave no usable reply
    /// (already reported).
    fn ask(&mut self, a: &Asked<'_>, quiet: bool) -> Option<(Step, Message)> {
        let mut l = self.lookup.clone();
        l.qtype = a.qtype;
        let bytes = query::build(rand::random(), &spec_of(&l, a.qname)).ok()?;
        let once = SendOpts {
            tries: 1,
            ..self.opts.clone()
        };
        let mut failure = String::new();
        let mut unusable: Vec<String> = Vec::new();
        let mut log = |line: String| {
            if line.starts_with(";; communications error") || line.starts_with(";; Connection") {
                failure = line;
            } else if line.starts_with(";; Warning") || line.starts_with(";; ;; Question") {
                unusable.push(line);
            }
        };
        let Some(reply) = query::exchange(a.server, &bytes, a.qname, &once, &mut log) else {
            let mut why = failure.trim_start_matches(";; ").to_string();
            // What came instead of a reply (garbage, another ID or
            // question) says more than the timeout it ended in.
            if let Some(last) = unusable.last() {
                let what = last
                    .trim_start_matches(";; ")
                    .trim_start_matches(";; ")
                    .trim_start_matches("Warning: ");
                let n = unusable.len();
                let replies = if n == 1 { "reply" } else { "replies" };
                why = format!("{why} after {n} unusable {replies}, the last: {what}");
            }
            self.say(quiet, &format!(";; {why} ({}), trying next\n", a.ns));
            self.record_failure(quiet, a.zone, a.ns, a.server, &why);
            return None;
        };
        let Ok(v) = msg::parse(&reply.bytes) else {
            let from = hash_addr(&a.server);
            self.say(
                quiet,
                &format!(";; malformed reply from {from}, trying next\n"),
            );
            return None;
        };
        // The decision is the engine's, on its own parse of the bytes; the
        // view above only shows them as received.
        let (step, m) = match crate::wire::parse(&reply.bytes) {
            Ok(m) => {
                let (step, m) = classify(m, a.target, RecordType::from(a.qtype), a.zone);
                (step, Some(m))
            }
            Err(e) => (Step::Lame(e.to_string()), None),
        };
        if !quiet {
            self.show(&v, &reply, a.server, a.ns, a.zone, &step);
        }
        Some((step, m?))
    }

    /// Finds addresses of an NS name by a quiet walk from the root.
    fn resolve_addrs(&mut self, name: &str, depth: usize) -> Vec<IpAddr> {
        let roots = self.roots.clone();
        let mut found = Vec::new();
        for t in [TYPE_A, TYPE_AAAA] {
            if let (End::Done, Some(m)) =
                self.walk(name, t, Name::root(), roots.clone(), depth, true)
            {
                found.extend(answer_addrs(&m));
            }
        }
        found.retain(|a| self.usable(a));
        found
    }

    fn show(
        &mut self,
        v: &View,
        reply: &query::Reply,
        server: SocketAddr,
        ns: &str,
        zone: &Name,
        step: &Step,
    ) {
        let why = match step {
            Step::Answer => format!("answer from zone {}", zone.to_ascii()),
            Step::Negative(k) => format!("{k} from zone {}", zone.to_ascii()),
            Step::Referral { zone: z, servers } => {
                let glue = servers.iter().filter(|s| !s.addrs.is_empty()).count();
                format!(
                    "referral to {} ({} NS, {glue} glue)",
                    z.to_ascii(),
                    servers.len()
                )
            }
            Step::Lame(w) => format!("{w}, trying next"),
        };
        let rtt = reply.rtt.as_millis();
        if self.json {
            let ctx = j::Context {
                server: Some(hash_addr(&server)),
                protocol: Some(if reply.tcp { "TCP" } else { "UDP" }),
                query_time_ms: Some(rtt),
                ..Default::default()
            };
            self.steps.push(json!({
                "zone": zone.to_ascii(),
                "server": hash_addr(&server),
                "serverName": ns,
                "rttMs": rtt,
                "why": why,
                "message": j::message_object(v, &ctx),
            }));
            return;
        }
        let ns_label = ns.strip_suffix('.').unwrap_or(ns);
        let text = format!(
            "{};; Received {} bytes from {}({ns_label}) in {rtt} ms\n;; {why}\n\n",
            format::message_text(v, &self.lookup.flags, true, true, None),
            reply.bytes.len(),
            hash_addr(&server),
        );
        let _ = write!(self.out, "{text}");
    }

    /// Asks the `@server` (recursively) for the root NS set, as dig +trace
    /// does; NS names without glue are looked up at the same server.
    fn prime(&mut self) -> Option<Vec<NsServer>> {
        let servers = super::servers_of(self.lookup).ok()?;
        let mut l = self.lookup.clone();
        l.qtype = TYPE_NS;
        l.flags.recurse = true;
        let opts = SendOpts {
            tries: self.lookup.flags.tries,
            ..self.opts.clone()
        };
        for server in servers {
            let Ok(bytes) = query::build(rand::random(), &spec_of(&l, ".")) else {
                return None;
            };
            let mut log = |line: String| {
                if !self.json {
                    let _ = writeln!(self.out, "{line}");
                }
            };
            let Some(reply) = query::exchange(server.addr, &bytes, ".", &opts, &mut log) else {
                continue;
            };
            let (Ok(v), Ok(m)) = (msg::parse(&reply.bytes), crate::wire::parse(&reply.bytes))
            else {
                continue;
            };
            let root_ns = m
                .answers
                .iter()
                .filter(|r| r.record_type() == RecordType::NS && r.name.is_root());
            let mut roots = ns_servers(root_ns, &m.additionals);
            let rtt = reply.rtt.as_millis();
            if self.json {
                self.steps.push(json!({
                    "zone": ".",
                    "server": hash_addr(&server.addr),
                    "serverName": server.label,
                    "rttMs": rtt,
                    "why": format!("root servers from {}", server.label),
                    "message": j::message_object(&v, &j::Context::default()),
                }));
            } else {
                let text = format!(
                    "{};; Received {} bytes from {}({}) in {rtt} ms\n\n",
                    format::message_text(&v, &self.lookup.flags, true, true, None),
                    reply.bytes.len(),
                    hash_addr(&server.addr),
                    server.label
                );
                let _ = write!(self.out, "{text}");
            }
            for root in roots.iter_mut().filter(|r| r.addrs.is_empty()) {
                root.addrs = self.ask_addrs(server.addr, &root.name);
            }
            return Some(roots);
        }
        None
    }

    /// A and AAAA of `name` from a recursive server, quietly.
    fn ask_addrs(&mut self, server: SocketAddr, name: &str) -> Vec<IpAddr> {
        let mut found = Vec::new();
        for t in [TYPE_A, TYPE_AAAA] {
            let mut l = self.lookup.clone();
            l.qtype = t;
            l.flags.recurse = true;
            let Ok(bytes) = query::build(rand::random(), &spec_of(&l, name)) else {
                continue;
            };
            if let Some(r) = query::exchange(server, &bytes, name, &self.opts, &mut |_| {}) {
                if let Ok(m) = crate::wire::parse(&r.bytes) {
                    found.extend(answer_addrs(&m));
                }
            }
        }
        found.retain(|a| self.usable(a));
        found
    }

    fn record_failure(
        &mut self,
        quiet: bool,
        zone: &Name,
        ns: &str,
        server: SocketAddr,
        why: &str,
    ) {
        if self.json && !quiet {
            self.steps.push(json!({
                "zone": zone.to_ascii(),
                "server": hash_addr(&server),
                "serverName": ns,
                "why": format!("{why}, trying next"),
            }));
        }
    }
}

/// Runs `+trace` for one lookup; returns dig's exit status.
pub fn run(l: &Lookup, banner_args: Option<super::Banner<'_>>, out: &mut dyn Write) -> u8 {
    let name = l.name.clone().unwrap_or_else(|| ".".to_string());
    if let Some(a) = banner_args {
        let _ = write!(out, "{}", super::banner(a, None));
    }
    let mut w = Walker {
        lookup: l,
        opts: SendOpts {
            tcp: l.flags.tcp,
            timeout: Duration::from_secs(u64::from(l.flags.timeout_secs)),
            tries: 1,
            source: l.source,
        },
        queries: 0,
        out,
        json: l.flags.json,
        steps: Vec::new(),
        roots: Vec::new(),
    };
    let roots = match &l.flags.hints {
        // The engine's reader: errors name the file and line.
        Some(path) => match hints::from_file(path) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(w.out, ";; cannot use hints: {e}");
                return EXIT_INTERNAL;
            }
        },
        // With @server and no hints, dig asks that server for the roots.
        None if !l.servers.is_empty() => match w.prime() {
            Some(r) => r,
            None => {
                if !w.json {
                    let _ = writeln!(w.out, ";; no servers could be reached");
                }
                return EXIT_NO_REPLY;
            }
        },
        None => hints::built_in(),
    };
    if roots.is_empty() {
        let _ = writeln!(w.out, ";; no root servers in the hints");
        return EXIT_INTERNAL;
    }
    if !w.json && (l.flags.hints.is_some() || l.servers.is_empty()) {
        let mut s = String::new();
        for r in &roots {
            s.push_str(&format!(".\t\t\t518400\tIN\tNS\t{}\n", r.name));
        }
        let source = l.flags.hints.as_deref().unwrap_or("built-in root hints");
        s.push_str(&format!(
            ";; {} root servers from {source}\n\n",
            roots.len()
        ));
        let _ = write!(w.out, "{s}");
    }
    w.roots = roots.clone();
    let (end, _) = w.walk(&name, l.qtype, Name::root(), roots, 0, false);
    if w.json {
        let steps = Value::Array(std::mem::take(&mut w.steps));
        let _ = writeln!(w.out, "{steps}");
    }
    match end {
        End::Done => EXIT_OK,
        End::NoServers => {
            if !w.json {
                let _ = writeln!(w.out, ";; no servers could be reached");
            }
            EXIT_NO_REPLY
        }
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
