//! A scripted network for tests, benches and fuzzing: authoritative servers
//! that answer from small zone texts (referrals with glue, CNAME within a
//! zone, NXDOMAIN/NODATA with SOA), per-server faults (silent, REFUSED,
//! SERVFAIL, TC=1, hostile extra records), an optional RTT that moves a
//! `ManualClock`, and a log of every query the engine sent.
//!
//! It is deliberately small: the real authoritative server is `auth/`. A
//! server given `auth` zones answers through `zone::answer` instead, so
//! DO=1 queries to signed zones get their RRSIGs and denial proofs (RFC
//! 4035 §3.1); `signed` builds such a network.

pub mod fuzz;
pub mod signed;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

use crate::clock::ManualClock;
use crate::upstream::{Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

/// One zone's data.
#[derive(Debug, Clone)]
pub struct Zone {
    pub apex: Name,
    pub records: Vec<Record>,
}

impl Zone {
    /// Parses zone-file text with `origin` as `$ORIGIN` (default TTL 3600).
    pub fn parse(origin: &str, text: &str) -> Result<Self, String> {
        let apex = Name::from_ascii(origin).map_err(|e| e.to_string())?;
        let text = format!("$TTL 3600\n{text}");
        let (apex, sets) = Parser::new(text, None, Some(apex))
            .parse()
            .map_err(|e| e.to_string())?;
        let records = sets
            .values()
            .flat_map(|s| s.records_without_rrsigs().cloned().collect::<Vec<_>>())
            .collect();
        Ok(Self { apex, records })
    }

    fn at(&self, name: &Name) -> Vec<&Record> {
        self.records.iter().filter(|r| &r.name == name).collect()
    }

    fn soa(&self) -> Vec<Record> {
        self.records
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA && r.name == self.apex)
            .cloned()
            .collect()
    }

    /// The deepest delegation (NS below the apex) at or above `qname`.
    fn cut_for(&self, qname: &Name) -> Option<Name> {
        self.records
            .iter()
            .filter(|r| {
                r.record_type() == RecordType::NS && r.name != self.apex && r.name.zone_of(qname)
            })
            .map(|r| r.name.clone())
            .max_by_key(|n| n.num_labels())
    }

    /// The reply an authoritative server for this zone gives.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> Message {
        let mut m = Message::new(0, MessageType::Response, OpCode::Query);
        if let Some(cut) = self.cut_for(qname) {
            let ns: Vec<Record> = self
                .at(&cut)
                .into_iter()
                .filter(|r| r.record_type() == RecordType::NS)
                .cloned()
                .collect();
            for r in &ns {
                if let RData::NS(target) = &r.data {
                    m.additionals.extend(
                        self.at(&target.0)
                            .into_iter()
                            .filter(|g| matches!(g.record_type(), RecordType::A | RecordType::AAAA))
                            .cloned(),
                    );
                }
            }
            m.authorities = ns;
            return m;
        }
        m.metadata.authoritative = true;
        let mut cur = qname.clone();
        for _ in 0..16 {
            let here = self.at(&cur);
            let data: Vec<Record> = here
                .iter()
                .filter(|r| r.record_type() == qtype)
                .map(|r| (*r).clone())
                .collect();
            if !data.is_empty() {
                // Addresses of NS/MX targets we hold go in additional.
                for r in &data {
                    let target = match &r.data {
                        RData::NS(t) => Some(&t.0),
                        RData::MX(mx) => Some(&mx.exchange),
                        _ => None,
                    };
                    if let Some(t) = target {
                        m.additionals.extend(
                            self.at(t)
                                .into_iter()
                                .filter(|g| {
                                    matches!(g.record_type(), RecordType::A | RecordType::AAAA)
                                })
                                .cloned(),
                        );
                    }
                }
                m.answers.extend(data);
                return m;
            }
            let cname = here
                .iter()
                .find(|r| r.record_type() == RecordType::CNAME)
                .map(|r| (*r).clone());
            match cname {
                Some(c) => {
                    m.answers.push(c.clone());
                    match &c.data {
                        RData::CNAME(t)
                            if self.apex.zone_of(&t.0) && self.cut_for(&t.0).is_none() =>
                        {
                            cur = t.0.clone()
                        }
                        _ => return m,
                    }
                }
                None => {
                    let exists = self.records.iter().any(|r| cur.zone_of(&r.name));
                    if !exists {
                        m.metadata.response_code = ResponseCode::NXDomain;
                    }
                    m.authorities = self.soa();
                    return m;
                }
            }
        }
        m
    }
}

/// How a scripted server misbehaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// Never answers (every query times out).
    Silent,
    Refuse,
    ServFail,
    /// Sets TC=1 with no records on UDP; answers fully over TCP.
    TruncateUdp,
    /// Answers FORMERR (without OPT) to queries that carry EDNS.
    FormErrEdns,
}

/// One scripted server.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub zones: Vec<Zone>,
    pub fault: Fault,
    /// How long an answer takes (moves the manual clock, if any).
    pub rtt: Duration,
    /// Records a hostile server adds to the additional section.
    pub extra_additional: Vec<Record>,
    /// Records a hostile server adds to the answer section.
    pub extra_answers: Vec<Record>,
    /// Records a server adds to the authority section (a forwarder's NS
    /// set riding along with its answers).
    pub extra_authorities: Vec<Record>,
    /// Zones answered by the real authoritative code (`zone::answer`),
    /// DNSSEC records included with DO=1; when set, `zones` is unused.
    pub auth: Option<Arc<crate::zone::ZoneSet>>,
}

/// What the engine sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub server: SocketAddr,
    pub qname: Name,
    pub qtype: RecordType,
    pub protocol: Protocol,
    pub edns: bool,
    /// RD=1 (queries to forwarders).
    pub rd: bool,
}

/// A network of scripted servers, keyed by address.
#[derive(Default)]
pub struct TestNet {
    servers: Mutex<HashMap<IpAddr, Server>>,
    log: Mutex<Vec<Sent>>,
    clock: Option<Arc<ManualClock>>,
}

impl TestNet {
    pub fn new(clock: Option<Arc<ManualClock>>) -> Self {
        Self {
            servers: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            clock,
        }
    }

    /// Adds or replaces the server at `ip`.
    pub fn add(&self, ip: &str, server: Server) {
        if let (Ok(ip), Ok(mut map)) = (ip.parse::<IpAddr>(), self.servers.lock()) {
            map.insert(ip, server);
        }
    }

    /// A copy of the server at `ip` (to change and `add` back, or to put
    /// at another address).
    pub fn server(&self, ip: &str) -> Option<Server> {
        let ip: IpAddr = ip.parse().ok()?;
        self.servers.lock().ok()?.get(&ip).cloned()
    }

    /// Changes a server's fault.
    pub fn set_fault(&self, ip: &str, fault: Fault) {
        if let (Ok(ip), Ok(mut map)) = (ip.parse::<IpAddr>(), self.servers.lock()) {
            if let Some(s) = map.get_mut(&ip) {
                s.fault = fault;
            }
        }
    }

    /// Every query sent so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Queries sent to `ip`.
    pub fn count_to(&self, ip: &str) -> usize {
        let ip: Option<IpAddr> = ip.parse().ok();
        self.sent()
            .iter()
            .filter(|s| Some(s.server.ip()) == ip)
            .count()
    }

    pub fn clear_log(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    fn reply(&self, q: &UpstreamQuery, asked: &Message) -> Result<Message, UpstreamFailure> {
        let question = asked.queries.first().ok_or(UpstreamFailure::Malformed)?;
        let server = self
            .servers
            .lock()
            .ok()
            .and_then(|m| m.get(&q.server.ip()).cloned())
            .ok_or(UpstreamFailure::Timeout)?;
        if let Some(c) = &self.clock {
            c.advance(if server.fault == Fault::Silent {
                q.timeout
            } else {
                server.rtt
            });
        }
        let mut m = match server.fault {
            Fault::Silent => return Err(UpstreamFailure::Timeout),
            Fault::Refuse => error(ResponseCode::Refused),
            Fault::ServFail => error(ResponseCode::ServFail),
            Fault::FormErrEdns if asked.edns.is_some() => error(ResponseCode::FormErr),
            Fault::TruncateUdp if q.protocol == Protocol::Udp => {
                let mut m = error(ResponseCode::NoError);
                m.metadata.truncation = true;
                m
            }
            _ => {
                if let Some(set) = &server.auth {
                    // The auth code echoes ID, question and OPT (with DO).
                    let source = IpAddr::from([127, 0, 0, 1]);
                    let mut m = crate::zone::answer::answer(set, asked, source, None);
                    add_ns_addresses(&mut m, set);
                    add_extras(&mut m, &server);
                    return Ok(m);
                }
                let zone = server
                    .zones
                    .iter()
                    .filter(|z| z.apex.zone_of(question.name()))
                    .max_by_key(|z| z.apex.num_labels());
                match zone {
                    Some(z) => {
                        let mut m = z.answer(question.name(), question.query_type());
                        add_extras(&mut m, &server);
                        m
                    }
                    None => error(ResponseCode::Refused),
                }
            }
        };
        m.metadata.id = asked.metadata.id;
        m.queries = asked.queries.clone();
        if asked.edns.is_some() && server.fault != Fault::FormErrEdns {
            m.edns = asked.edns.clone();
        }
        Ok(m)
    }
}

/// Additional section processing for NS answers (RFC 1034 §4.3.2 step
/// 6) across every zone of the scripted server: `zone::answer` adds the
/// addresses its answering zone holds; this adds those another zone of the
/// same server holds.
fn add_ns_addresses(m: &mut Message, set: &crate::zone::ZoneSet) {
    let targets: Vec<Name> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(t) => Some(t.0.clone()),
            _ => None,
        })
        .collect();
    for t in targets {
        let Some(zone) = set.find(&t) else { continue };
        for rtype in [RecordType::A, RecordType::AAAA] {
            for r in zone.rrset(&t, rtype).into_iter().flatten() {
                if !m.additionals.contains(r) {
                    m.additionals.push(r.clone());
                }
            }
        }
    }
}

/// A hostile or forwarding server's extra records.
fn add_extras(m: &mut Message, server: &Server) {
    m.answers.extend(server.extra_answers.iter().cloned());
    m.authorities
        .extend(server.extra_authorities.iter().cloned());
    m.additionals
        .extend(server.extra_additional.iter().cloned());
}

fn error(rcode: ResponseCode) -> Message {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    m
}

impl Transport for TestNet {
    async fn exchange(&self, q: UpstreamQuery) -> ReplyBytes {
        // The servers read the query as an authoritative server would; one
        // they cannot read goes unanswered.
        let Ok(asked) = Message::from_vec(&q.bytes) else {
            return Err(UpstreamFailure::Timeout);
        };
        if let (Some(question), Ok(mut log)) = (asked.queries.first(), self.log.lock()) {
            log.push(Sent {
                server: q.server,
                qname: question.name().clone(),
                qtype: question.query_type(),
                protocol: q.protocol,
                edns: asked.edns.is_some(),
                rd: asked.metadata.recursion_desired,
            });
        }
        // Let other tasks run, as a real network would.
        tokio::task::yield_now().await;
        let reply = self.reply(&q, &asked)?;
        crate::wire::encode(&reply).ok_or(UpstreamFailure::Malformed)
    }
}

/// The zones of a small three-tier tree used by many tests: root at
/// 198.51.100.1, `test.` at .2, `example.test.` at .3 and .4 (glued),
/// `glueless.test.` served by ns.example.test (no glue), `other.test.` at .5
/// with a CNAME chain into example.test.
pub fn small_tree() -> Vec<(&'static str, Vec<Zone>)> {
    let z = zone;
    vec![
        (
            "198.51.100.1",
            vec![z(
                ".",
                "@ SOA a.root. h.root. 1 3600 600 86400 300\n@ NS a.root.\na.root. A 198.51.100.1\n\
                 test. NS ns.test.\nns.test. A 198.51.100.2\n",
            )],
        ),
        (
            "198.51.100.2",
            vec![z(
                "test.",
                "@ SOA ns.test. h.test. 1 3600 600 86400 300\n@ NS ns.test.\nns.test. A 198.51.100.2\n\
                 example NS ns1.example.test.\nexample NS ns2.example.test.\n\
                 ns1.example A 198.51.100.3\nns2.example A 198.51.100.4\n\
                 glueless NS ns.example.test.\nother NS ns.other.test.\nns.other A 198.51.100.5\n",
            )],
        ),
        ("198.51.100.3", vec![example_zone(), glueless_zone()]),
        ("198.51.100.4", vec![example_zone(), glueless_zone()]),
        (
            "198.51.100.5",
            vec![z(
                "other.test.",
                "@ SOA ns.other.test. h.other.test. 1 3600 600 86400 60\n@ NS ns.other.test.\n\
                 ns A 198.51.100.5\nalias CNAME www.example.test.\nloop1 CNAME loop2.other.test.\n\
                 loop2 CNAME loop1.other.test.\n",
            )],
        ),
    ]
}

fn example_zone() -> Zone {
    zone(
        "example.test.",
        "@ 3600 SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A 198.51.100.3\nns2 A 198.51.100.4\nns A 198.51.100.4\n\
         www 300 A 192.0.2.80\nwww AAAA 2001:db8::80\nmail A 192.0.2.25\n@ MX 10 mail\n\
         web CNAME www\nfar CNAME alias.other.test.\n",
    )
}

fn glueless_zone() -> Zone {
    zone(
        "glueless.test.",
        "@ SOA ns.example.test. h 1 3600 600 86400 300\n@ NS ns.example.test.\nhost A 192.0.2.99\n",
    )
}

/// A fixture zone; a typo in the fixture text gives an empty zone (and
/// failing tests) rather than a panic in library code.
fn zone(origin: &str, text: &str) -> Zone {
    Zone::parse(origin, text).unwrap_or(Zone {
        apex: Name::root(),
        records: Vec::new(),
    })
}

/// A `TestNet` holding `small_tree()`.
pub fn small_net(clock: Option<Arc<ManualClock>>) -> TestNet {
    let net = TestNet::new(clock);
    for (ip, zones) in small_tree() {
        net.add(
            ip,
            Server {
                zones,
                ..Server::default()
            },
        );
    }
    net
}

/// Root hints for `small_tree()`.
/// A resolver with `config` on a network of one root server (198.51.100.1,
/// the small tree's hint) whose zone holds `www. A 192.0.2.1`: for front-end
/// tests that need an answer, not a tree.
pub fn root_only_resolver(config: crate::config::Config) -> (SmallResolver, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(TestNet::new(Some(clock.clone())));
    let root = Zone::parse(
        ".",
        "@ SOA a.root. h.root. 1 3600 600 86400 300\n@ NS a.root.\na.root. A 198.51.100.1\n\
         www A 192.0.2.1\n",
    );
    if let Ok(root) = root {
        net.add(
            "198.51.100.1",
            Server {
                zones: vec![root],
                ..Server::default()
            },
        );
    }
    let r =
        crate::engine::Resolver::with_hints(Arc::new(config), small_hints(), net, clock.clone());
    r.seed_query_ids(1);
    (r, clock)
}

/// The resolver tests drive on the small test tree.
pub type SmallResolver = crate::engine::Resolver<Arc<TestNet>, Arc<ManualClock>>;

/// A resolver with `config` on the small test tree (`small_net`) and a
/// manual clock, with the network and clock for the test to drive.
pub fn small_resolver(
    config: crate::config::Config,
) -> (SmallResolver, Arc<TestNet>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let net = Arc::new(small_net(Some(clock.clone())));
    let r = crate::engine::Resolver::with_hints(
        Arc::new(config),
        small_hints(),
        net.clone(),
        clock.clone(),
    );
    r.seed_query_ids(1);
    (r, net, clock)
}

pub fn small_hints() -> crate::engine::RootHints {
    crate::engine::RootHints {
        servers: vec![(
            Name::from_ascii("a.root.").unwrap_or_else(|_| Name::root()),
            vec![IpAddr::from([198, 51, 100, 1])],
        )],
    }
}
