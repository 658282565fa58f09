//! Table tests for the zone machines without a resolver: a fake world
//! (`Fake`, the `StepEnv`/`WalkEnv` side) and a table of servers that
//! answer, refer, refuse or stay silent. Each test drives the walk to
//! its end and compares what it sent, what it asked the caller to look
//! up, and what it stored, with what it should.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, NS, TXT};
use hickory_proto::rr::{DNSClass, RData, Record};

use super::*;
use crate::engine::attempt::{Exchange, Heard, Waits, Window};
use crate::engine::state::QueryState;
use crate::engine::tries::Tries;
use crate::upstream::{Protocol, UpstreamFailure};

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn sa(s: &str) -> SocketAddr {
    format!("{s}:53").parse().unwrap()
}

fn servers(zone: &str, ips: &[&str]) -> ZoneServers {
    ZoneServers {
        zone: n(zone),
        ns: ips
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let name = n(&format!("ns{i}.{}", zone.trim_start_matches('.')));
                (Some(name), vec![ip.parse::<IpAddr>().unwrap()])
            })
            .collect(),
        ..ZoneServers::default()
    }
}

/// How a server of the table treats a question.
#[derive(Clone)]
enum Does {
    /// Refers names under `child` to servers at these addresses (with
    /// glue, or glueless when the list is empty: NS `ns.<child>`).
    Refer(&'static str, &'static [&'static str]),
    /// Answers every question authoritatively with an A record.
    Answer,
    Refuse,
    Silent,
    /// Truncates over UDP, answers over TCP.
    Truncate,
}

/// The fake world: what the machines learn and store is logged.
struct Fake {
    st: QueryState,
    cfg: ResolverConfig,
    net: HashMap<SocketAddr, Does>,
    log: RefCell<Vec<String>>,
    ids: Cell<u16>,
    nodata: Vec<Name>,
    parent: Option<ZoneServers>,
    local_copies: bool,
}

impl Fake {
    fn new(net: &[(&str, Does)]) -> Self {
        Self {
            st: QueryState::new(64, Duration::ZERO, false),
            cfg: ResolverConfig::default(),
            net: net.iter().map(|(a, d)| (sa(a), d.clone())).collect(),
            log: RefCell::new(Vec::new()),
            ids: Cell::new(0),
            nodata: Vec::new(),
            parent: None,
            local_copies: false,
        }
    }

    fn log(&self, s: String) {
        self.log.borrow_mut().push(s);
    }

    /// The server's reply to `bytes` over `protocol`, as the transport
    /// hands it back.
    fn reply(&self, server: SocketAddr, bytes: &[u8], protocol: Protocol) -> ReplyBytes {
        let query = Message::from_vec(bytes).unwrap();
        let q = query.queries.first().unwrap().clone();
        let mut m = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        m.add_query(q.clone());
        match self.net.get(&server).cloned().unwrap_or(Does::Silent) {
            Does::Silent => return Err(UpstreamFailure::Timeout),
            Does::Refuse => m.metadata.response_code = ResponseCode::Refused,
            Does::Truncate if protocol == Protocol::Udp => m.metadata.truncation = true,
            Does::Answer | Does::Truncate => {
                m.metadata.authoritative = true;
                let data = match q.query_type() {
                    RecordType::AAAA => RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 80)),
                    RecordType::TXT => RData::TXT(TXT::new(vec!["x".into()])),
                    RecordType::MX => RData::MX(MX::new(10, n("mx.test."))),
                    _ => RData::A(A::new(192, 0, 2, 80)),
                };
                m.answers
                    .push(Record::from_rdata(q.name().clone(), 300, data));
            }
            Does::Refer(child, ips) => {
                let child = n(child);
                let glueless = ips.is_empty();
                for (i, ip) in ips.iter().enumerate() {
                    let ns = n(&format!("ns{i}.{child}"));
                    m.authorities.push(Record::from_rdata(
                        child.clone(),
                        300,
                        RData::NS(NS(ns.clone())),
                    ));
                    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
                    m.additionals
                        .push(Record::from_rdata(ns, 300, RData::A(A::from(ip))));
                }
                if glueless {
                    let ns = n("ns.elsewhere.test.");
                    m.authorities
                        .push(Record::from_rdata(child, 300, RData::NS(NS(ns))));
                }
            }
        }
        Ok(m.to_vec().unwrap())
    }
}

impl StepEnv for Fake {
    fn st(&self) -> &QueryState {
        &self.st
    }
    fn local_reply(
        &self,
        zs: &ZoneServers,
        _: Question<'_>,
        _: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        Err(Failure::LocalCopyUnusable(zs.zone.clone()))
    }
    fn order(
        &self,
        zs: &ZoneServers,
        failed: &HashSet<SocketAddr>,
        _: RecordType,
        _: Mono,
    ) -> Result<Vec<SocketAddr>, Failure> {
        Ok(zs
            .addrs()
            .into_iter()
            .filter(|a| !failed.contains(a))
            .collect())
    }
    fn set_aside(&self, _: SocketAddr, _: Mono) -> bool {
        false
    }
    fn probe(&self, _: SocketAddr, _: Mono) -> bool {
        false
    }
    fn limits(&self) -> (usize, u32) {
        (2, 64)
    }
    fn exchange(&self, addr: SocketAddr, _: &ZoneServers, q: Question<'_>) -> Exchange {
        let mut m = Message::new(0, MessageType::Query, OpCode::Query);
        let mut query = Query::query(q.name.clone(), q.qtype);
        query.set_query_class(q.class);
        m.add_query(query);
        let window = Window {
            start: Duration::ZERO,
            limit: Duration::from_secs(10),
            client: None,
        };
        Exchange::new(addr, m, None, false, window)
    }
    fn waits(&self, _: SocketAddr, _: Mono) -> Waits {
        Waits {
            udp: Duration::from_millis(400),
            tcp: Duration::from_secs(2),
        }
    }
    fn id(&self) -> u16 {
        self.ids.set(self.ids.get().wrapping_add(1));
        self.ids.get()
    }
    fn heard(
        &self,
        addr: SocketAddr,
        _: &ZoneServers,
        _: Question<'_>,
        _: &Exchange,
        heard: Heard,
        _: Mono,
    ) {
        if let Heard::Failed { failure, .. } = heard {
            self.log(format!("failed {} {failure}", addr.ip()));
        }
    }
    fn answered(&self, _: Question<'_>, _: SocketAddr) {}
    fn give_up_zone(&self, zs: &ZoneServers, tries: &Tries, _: RecordType, _: Mono) {
        let down = tries.to_hold_down().count();
        self.log(format!("zone {} down ({down} held down)", zs.zone));
    }
}

impl WalkEnv for Fake {
    fn config(&self) -> &ResolverConfig {
        &self.cfg
    }
    fn validating(&self) -> bool {
        false
    }
    fn has_local_copies(&self) -> bool {
        self.local_copies
    }
    fn policy_stop(&self, _: &ZoneServers) -> Option<Failure> {
        None
    }
    fn cached_nodata(&self, name: &Name, _: &Name) -> bool {
        self.nodata.contains(name)
    }
    fn configured(&self, _: &Name) -> bool {
        false
    }
    fn parent_side(&self, _: &ZoneServers) -> Option<ZoneServers> {
        self.parent.clone()
    }
    fn stash_sigs(&self, _: &Message) {}
    fn learn(&self, from: SocketAddr, zone: &Name, _: RecordType, outcome: Outcome, _: Mono) {
        if outcome != Outcome::Served {
            self.log(format!("learn {} {zone} {outcome:?}", from.ip()));
        }
    }
    fn keep_nodata(&self, _: &Message, ask: &Ask) {
        self.log(format!("keep nodata {}", ask.name));
    }
    fn cache_referral(&self, _: &Message, child: &Name) {
        self.log(format!("cache referral {child}"));
    }
    fn servers_from_referral(&self, msg: &Message, child: &Name) -> ZoneServers {
        let ns = msg
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .map(|ns| {
                let ips = msg
                    .additionals
                    .iter()
                    .filter(|r| r.name == ns)
                    .filter_map(|r| r.data.ip_addr())
                    .collect();
                (Some(ns), ips)
            })
            .collect();
        ZoneServers {
            zone: child.clone(),
            ns,
            ..ZoneServers::default()
        }
    }
    fn finish(&self, end: End, msg: &Message, zone: &Name, q: Question<'_>) -> Step {
        self.log(format!("finish {end:?} from {zone} for {}", q.name));
        match end {
            End::Answer => Step::Answer(msg.answers.clone()),
            _ => Step::NoData(Vec::new(), Vec::new()),
        }
    }
    fn last_resort(&self, resort: Resort, _: Question<'_>) -> Step {
        self.log(format!("last resort {}", matches!(resort, Resort::EmptyAa)));
        Step::NoData(Vec::new(), Vec::new())
    }
}

/// Drives `walk` to its end; what it sent (server, name, type, protocol),
/// what it needed, and the step. `needs` answers each look-up.
fn drive(
    walk: &mut ZoneWalk<'_>,
    env: &Fake,
    mut needs: impl FnMut(Need, &mut ZoneWalk<'_>) -> Got,
) -> (Vec<String>, Step) {
    let mut seen = Vec::new();
    let mut now = Duration::ZERO;
    for _ in 0..64 {
        match walk.next(now, env) {
            Action::Done(step) => return (seen, step),
            Action::Send(send) => {
                let q = Message::from_vec(&send.bytes).unwrap();
                let q = q.queries.first().unwrap();
                seen.push(format!(
                    "{} {} {} {:?}",
                    send.server.ip(),
                    q.name(),
                    q.query_type(),
                    send.protocol
                ));
                let got = env.reply(send.server, &send.bytes, send.protocol);
                now += Duration::from_millis(if got.is_ok() { 5 } else { 400 });
                walk.on_reply(now, got, env);
            }
            Action::Need(need) => {
                seen.push(format!("need {need:?}").chars().take(40).collect());
                let got = needs(need, walk);
                walk.on_found(got, env);
            }
        }
    }
    panic!("the walk did not end: {seen:?}");
}

fn no_needs(need: Need, _: &mut ZoneWalk<'_>) -> Got {
    panic!("unexpected look-up {need:?}")
}

/// No NS name without glue is found.
fn no_names(need: Need, _: &mut ZoneWalk<'_>) -> Got {
    match need {
        Need::NsNames => Got::NsNames,
        other => panic!("unexpected look-up {other:?}"),
    }
}

fn answered(step: &Step) -> bool {
    matches!(step, Step::Answer(rs) if !rs.is_empty())
}

#[test]
fn a_minimised_walk_follows_referrals_down_to_the_answer() {
    let env = Fake::new(&[
        ("10.0.0.1", Does::Refer("com.", &["10.0.1.1"])),
        ("10.0.1.1", Does::Refer("example.com.", &["10.0.2.1"])),
        ("10.0.2.1", Does::Answer),
    ]);
    let name = n("www.example.com.");
    let q = Question::new(&name, RecordType::AAAA, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    assert_eq!(
        sent,
        [
            "10.0.0.1 com. A Udp",
            "10.0.1.1 example.com. A Udp",
            "10.0.2.1 www.example.com. AAAA Udp",
        ]
    );
    assert!(answered(&step), "{step:?}");
    assert_eq!(
        *env.log.borrow(),
        [
            "cache referral com.",
            "cache referral example.com.",
            "finish Answer from example.com. for www.example.com.",
        ]
    );
}

#[test]
fn without_minimisation_each_zone_is_asked_the_full_question() {
    let env = Fake::new(&[
        ("10.0.0.1", Does::Refer("com.", &["10.0.1.1"])),
        ("10.0.1.1", Does::Answer),
    ]);
    let name = n("www.example.com.");
    let q = Question::new(&name, RecordType::MX, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, false);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    assert_eq!(
        sent,
        [
            "10.0.0.1 www.example.com. MX Udp",
            "10.0.1.1 www.example.com. MX Udp"
        ]
    );
    assert!(answered(&step));
}

#[test]
fn a_silent_server_is_left_for_the_next_and_truncation_moves_to_tcp() {
    let env = Fake::new(&[("10.0.0.1", Does::Silent), ("10.0.0.2", Does::Truncate)]);
    let name = n("example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers("example.", &["10.0.0.1", "10.0.0.2"]), q, true);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    assert_eq!(
        sent,
        [
            "10.0.0.1 example. A Udp",
            "10.0.0.2 example. A Udp",
            "10.0.0.2 example. A Tcp",
        ]
    );
    assert!(answered(&step));
    assert_eq!(
        env.log.borrow()[0],
        "failed 10.0.0.1 no matching reply within the timeout"
    );
}

#[test]
fn when_every_server_refuses_the_parents_delegation_is_tried() {
    let mut env = Fake::new(&[
        ("10.0.0.1", Does::Refuse),
        ("10.0.0.2", Does::Refuse),
        ("10.0.9.9", Does::Answer),
    ]);
    env.parent = Some(servers("example.", &["10.0.9.9"]));
    let name = n("example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers("example.", &["10.0.0.1", "10.0.0.2"]), q, true);
    let (sent, step) = drive(&mut walk, &env, no_names);
    // Out of servers, the step looks for glueless NS names once (none
    // here) before it gives up on them.
    assert_eq!(
        sent,
        [
            "10.0.0.1 example. A Udp",
            "10.0.0.2 example. A Udp",
            "need NsNames",
            "10.0.9.9 example. A Udp",
        ]
    );
    assert!(answered(&step));
    let log = env.log.borrow();
    assert_eq!(log[0], "learn 10.0.0.1 example. Refused");
    assert_eq!(log[1], "learn 10.0.0.2 example. Refused");
}

#[test]
fn when_every_server_is_silent_the_zone_is_given_up() {
    let env = Fake::new(&[("10.0.0.1", Does::Silent), ("10.0.0.2", Does::Silent)]);
    let name = n("example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers("example.", &["10.0.0.1", "10.0.0.2"]), q, true);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    // Rounds of both servers until the try limit; the parent's
    // delegation offers nothing (none cached) and the walk fails.
    assert_eq!(
        sent.len(),
        crate::engine::tries::MAX_TRIES_PER_STEP,
        "{sent:?}"
    );
    assert!(
        matches!(step, Step::Fail(Failure::NoReachableAuthority)),
        "{step:?}"
    );
    assert!(env
        .log
        .borrow()
        .iter()
        .any(|l| l == "zone example. down (2 held down)"));
}

#[test]
fn a_glueless_delegation_asks_for_its_ns_names_then_goes_on() {
    let env = Fake::new(&[
        ("10.0.0.1", Does::Refer("example.", &[])),
        ("10.0.5.5", Does::Answer),
    ]);
    let name = n("www.example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    let (sent, step) = drive(&mut walk, &env, |need, walk| {
        assert!(matches!(need, Need::NsNames));
        for (_, ips) in walk.servers_mut().ns.iter_mut() {
            ips.push("10.0.5.5".parse().unwrap());
        }
        Got::NsNames
    });
    assert_eq!(
        sent,
        [
            "10.0.0.1 example. A Udp",
            "need NsNames",
            "10.0.5.5 www.example. A Udp"
        ]
    );
    assert!(answered(&step));
}

#[test]
fn a_hardened_referral_asks_for_the_childs_own_ns_set() {
    let mut env = Fake::new(&[
        ("10.0.0.1", Does::Refer("example.", &["10.0.1.1"])),
        ("10.0.1.1", Does::Answer),
    ]);
    env.cfg.harden_referral_path = true;
    let name = n("www.example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    let (sent, step) = drive(&mut walk, &env, |need, _| match need {
        Need::ChildNs(asked) => {
            assert_eq!(asked.zone, n("example."));
            Got::ChildNs { asked, own: None }
        }
        other => panic!("{other:?}"),
    });
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent[1].starts_with("need ChildNs"), "{sent:?}");
    assert_eq!(sent[2], "10.0.1.1 www.example. A Udp");
    assert!(answered(&step));
}

#[test]
fn a_cached_nodata_for_a_minimised_name_skips_that_label() {
    let mut env = Fake::new(&[("10.0.0.1", Does::Answer)]);
    env.nodata.push(n("b.example."));
    let name = n("a.b.example.");
    let q = Question::new(&name, RecordType::TXT, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers("example.", &["10.0.0.1"]), q, true);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    assert_eq!(sent, ["10.0.0.1 a.b.example. TXT Udp"]);
    assert!(answered(&step));
}

#[test]
fn a_failed_parent_walk_asks_the_parent_again_once() {
    let env = Fake::new(&[("10.0.0.1", Does::Refuse), ("10.0.7.7", Does::Answer)]);
    let name = n("www.example.com.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers("example.com.", &["10.0.0.1"]), q, false);
    let mut asked = Vec::new();
    let (sent, step) = drive(&mut walk, &env, |need, _| match need {
        Need::NsNames => Got::NsNames,
        Need::CutAbove(above) => {
            asked.push(above.to_string());
            Got::CutAbove(Some(servers("com.", &["10.0.7.7"])))
        }
        other => panic!("{other:?}"),
    });
    assert_eq!(asked, ["com."]);
    assert_eq!(sent.last().unwrap(), "10.0.7.7 www.example.com. A Udp");
    assert!(answered(&step));
}

#[test]
fn new_servers_look_for_a_local_copy_below_first() {
    let mut env = Fake::new(&[
        ("10.0.0.1", Does::Refer("example.", &["10.0.1.1"])),
        ("10.0.1.1", Does::Answer),
    ]);
    env.local_copies = true;
    let name = n("www.example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    let mut zones = Vec::new();
    let (sent, step) = drive(&mut walk, &env, |need, _| match need {
        Need::LocalCopy(zone) => {
            zones.push(zone.to_string());
            Got::LocalCopy(Ok(None))
        }
        other => panic!("{other:?}"),
    });
    // Once at the root's servers, once at the referral's.
    assert_eq!(zones, [".", "example."]);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(answered(&step));

    // A copy that cannot be used ends the walk with its failure.
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    let unusable = Failure::LocalCopyUnusable(n("example."));
    let (sent, step) = drive(&mut walk, &env, |_, _| {
        Got::LocalCopy(Err(unusable.clone()))
    });
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(matches!(step, Step::Fail(f) if f == unusable));
}

#[test]
fn a_look_up_it_did_not_ask_for_is_ignored_and_one_not_handed_in_ends_the_walk() {
    let mut env = Fake::new(&[("10.0.0.1", Does::Answer)]);
    let name = n("www.example.");
    let q = Question::new(&name, RecordType::A, DNSClass::IN);
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    walk.on_found(Got::NsNames, &env);
    let (sent, step) = drive(&mut walk, &env, no_needs);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(answered(&step));

    // Asked to go on while a look-up is awaited: a failure, not a hang.
    env.local_copies = true;
    let mut walk = ZoneWalk::new(servers(".", &["10.0.0.1"]), q, true);
    assert!(matches!(
        walk.next(Duration::ZERO, &env),
        Action::Need(Need::LocalCopy(_))
    ));
    assert!(matches!(
        walk.next(Duration::ZERO, &env),
        Action::Done(Step::Fail(Failure::Internal(_)))
    ));
}
