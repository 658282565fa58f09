//! Talking to a zone's servers: choosing the next server (SRTT order,
//! hold-down), one exchange with TC=1 → TCP and FORMERR → no-EDNS
//! fallbacks (RFC 7766, RFC 6891 §7), reply checks (RFC 5452 §9.1), and
//! finding addresses for NS names that came without glue (in parallel, a
//! few at a time; from the parent when the name lies inside the zone).

use std::collections::HashSet;

use rand::seq::SliceRandom;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::cache::Rank;
use crate::clock::{Clock, Mono};
use crate::engine::ecs;
use crate::engine::problems::Problem;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{BoxStep, Step, ZoneServers};
use crate::engine::{Failure, Resolver, TraceEvent};
use crate::upstream::nat64;
use crate::upstream::selection::QueryKind;
use crate::upstream::{Protocol, Transport, UpstreamFailure, UpstreamQuery};
use tracing::Instrument;

/// Tries of one zone-step before giving up on the zone (timeouts, lame and
/// failing servers all count). Unbound allows a similar handful of
/// retries per target (`outbound-msg-retry`, default 5).
const MAX_TRIES_PER_STEP: usize = 8;

/// Glueless NS names resolved at once for one delegation ("in parallel
/// where there are several", without multiplying fan-out).
const PARALLEL_NS_LOOKUPS: usize = 2;

/// CNAME links followed when asking a parent for glue.
const MAX_GLUE_CNAMES: usize = 4;

/// Re-sends of one exchange (TC=1 → TCP, FORMERR → without EDNS).
const MAX_RESENDS: usize = 3;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Sends (name, type) to the best server of the zone that has not
    /// failed this step, with retries; returns the first reply that is not
    /// a transport failure. Glueless NS names are resolved when needed.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn query_zone(
        &self,
        zs: &mut ZoneServers,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
        failed: &mut HashSet<SocketAddr>,
    ) -> Result<(Message, SocketAddr), Failure> {
        if zs.local {
            return self.local_copy_reply(zs, qname, qtype, class, st, failed);
        }
        let mut tries = 0usize;
        let mut timeouts = 0usize;
        // Servers that gave no reply in this step, and whether any did.
        let mut timed_out: HashSet<SocketAddr> = HashSet::new();
        let mut replied = false;
        let mut resolved_names = false;
        loop {
            let candidates: Vec<SocketAddr> = zs
                .addrs()
                .into_iter()
                .filter(|a| !failed.contains(a))
                .collect();
            let now = self.clock.now();
            let mut order = self.selection.order(&candidates, now);
            // Servers that served bogus data lately go last (validate/retry.rs).
            if self.config.dnssec.validate {
                order.sort_by_key(|a| self.suspects.is_set_aside(a, now));
            }
            // Every server of the zone gave no reply lately (to this kind of
            // question) and is held down: fail at once rather than wait
            // for them (RFC 9520 §3.2). A probe that is due is sent by a
            // background resolution (a client's asks for one), never
            // while a client waits.
            let due = order.first().is_some_and(|a| {
                self.selection
                    .stats(*a)
                    .is_some_and(|s| s.held_until.is_some())
            });
            if (due && !st.refresh) || (order.is_empty() && !candidates.is_empty()) {
                let all = zs.addrs();
                if let Some((since, until)) =
                    self.selection.all_down(&all, QueryKind::of(qtype), now)
                {
                    if due {
                        st.want_probe();
                    }
                    st.note(|| format!("every server of {} is held down", zs.zone));
                    return Err(Failure::ServersDown {
                        zone: zs.zone.clone(),
                        servers: all.len(),
                        down_secs: now.saturating_sub(since).as_secs(),
                        retry_secs: until.saturating_sub(now).as_secs().max(1),
                    });
                }
            }
            if order.is_empty() && !candidates.is_empty() {
                // Some servers failed this step and the rest are held
                // down: try those anyway, in random order, rather than
                // fail (the try limit and the query deadline bound it).
                order = candidates.clone();
                order.shuffle(&mut rand::rng());
            }
            // Only servers set aside for bogus data are left with addresses:
            // the zone's glueless servers may serve good data, so find
            // their addresses first (Unbound looks for another target).
            if !resolved_names
                && self.config.dnssec.validate
                && order
                    .first()
                    .is_some_and(|a| self.suspects.is_set_aside(a, now))
            {
                resolved_names = true;
                if self.resolve_ns_names(zs, st, path).await {
                    continue;
                }
            }
            let Some(addr) = order.first().copied() else {
                if !resolved_names && self.resolve_ns_names(zs, st, path).await {
                    resolved_names = true;
                    continue;
                }
                let all = zs.addrs();
                if all.is_empty() {
                    return Err(Failure::NoNsAddress);
                }
                if timeouts == 0 && all.iter().all(|a| failed.contains(a)) {
                    // Every server answered, none usefully.
                    return Err(Failure::AllLame);
                }
                self.note_silent_zone(&timed_out, replied, qtype, now);
                self.problems.zone(&zs.zone, zs.addrs().len(), now);
                return Err(Failure::NoReachableAuthority);
            };
            if tries >= MAX_TRIES_PER_STEP {
                self.note_silent_zone(&timed_out, replied, qtype, now);
                self.problems.zone(&zs.zone, zs.addrs().len(), now);
                return Err(Failure::NoReachableAuthority);
            }
            tries += 1;
            let probe = self
                .selection
                .stats(addr)
                .is_some_and(|s| s.held_until.is_some())
                && self.selection.claim_probe(addr, now);
            if probe {
                st.note(|| format!("probing {addr}, held down as unreachable"));
            }
            match self.exchange(addr, zs, qname, qtype, class, st).await {
                Ok(msg) => {
                    if self.config.dnssec.validate {
                        self.suspects.answered(qname, qtype, addr);
                    }
                    return Ok((msg, addr));
                }
                Err(ExchangeError::Budget) => {
                    return Err(Failure::QueryBudget(
                        self.config.resolver.max_upstream_queries,
                    ))
                }
                Err(ExchangeError::Deadline) => return Err(Failure::Timeout),
                Err(ExchangeError::Timeout) => {
                    timeouts += 1;
                    timed_out.insert(addr);
                    let total = zs.addrs().len();
                    if probe {
                        // A failed probe: held down longer; not retried.
                        failed.insert(addr);
                    } else if total <= 1 {
                        // The zone's only server: retry it (backed off).
                        // Timeouts accepted from it: `upstream.retries`
                        // (Unbound's outbound-msg-retry); the query
                        // deadline still bounds the wait.
                        if timeouts >= self.config.upstream.retries as usize {
                            failed.insert(addr);
                        }
                    } else {
                        // Try the others first; when all have timed out,
                        // start another round.
                        failed.insert(addr);
                        if failed.len() >= total {
                            failed.clear();
                        }
                    }
                }
                Err(ExchangeError::Other) => {
                    replied = true;
                    failed.insert(addr);
                }
            }
        }
    }

    /// A zone step that ends with no reply from any server it tried: each
    /// of them that timed out is held down (RFC 9520 §3.2), so that the
    /// next queries for the zone fail at once instead of waiting again.
    fn note_silent_zone(
        &self,
        timed_out: &HashSet<SocketAddr>,
        replied: bool,
        qtype: RecordType,
        now: Mono,
    ) {
        if replied {
            return;
        }
        for addr in timed_out {
            self.selection.mark_down(*addr, QueryKind::of(qtype), now);
        }
    }

    /// Asks the servers of the zone above `zone` for the address of `name`
    /// (an NS name inside `zone` that came without glue).
    pub(super) fn parent_side_glue<'a>(
        &'a self,
        name: &'a Name,
        zone: &'a Name,
        st: &'a QueryState,
        path: LookupPath,
    ) -> BoxStep<'a> {
        Box::pin(async move {
            if path.depth() > self.config.resolver.max_depth as usize {
                return Step::Fail(Failure::Depth);
            }
            let mut parent = match self.find_cut(&zone.base_name(), st, &path).await {
                Ok(p) => p,
                Err(f) => return Step::Fail(f),
            };
            st.note(|| format!("asking the servers of {} for glue of {name}", parent.zone));
            // The parent may answer with a CNAME inside its zone: follow it
            // there, a few links at most.
            let mut target = name.clone();
            for _ in 0..MAX_GLUE_CNAMES {
                let mut failed = HashSet::new();
                let msg = match self
                    .query_zone(
                        &mut parent,
                        &target,
                        RecordType::A,
                        DNSClass::IN,
                        st,
                        &path,
                        &mut failed,
                    )
                    .await
                {
                    Ok((msg, _)) => msg,
                    Err(f) => return Step::Fail(f),
                };
                let glue: Vec<Record> = msg
                    .answers
                    .iter()
                    .chain(msg.additionals.iter())
                    .filter(|r| r.name == target && r.record_type() == RecordType::A)
                    .filter(|r| parent.zone.zone_of(&r.name))
                    .cloned()
                    .collect();
                if !glue.is_empty() {
                    self.cache
                        .insert_rrset(glue.clone(), Rank::Additional, self.clock.now());
                    return Step::Answer(glue);
                }
                let next = msg.answers.iter().find_map(|r| match &r.data {
                    RData::CNAME(c) if r.name == target && parent.zone.zone_of(&c.0) => {
                        Some(c.0.clone())
                    }
                    _ => None,
                });
                match next {
                    Some(n) if n != target => target = n,
                    _ => break,
                }
            }
            Step::Fail(Failure::NoNsAddress)
        })
    }

    /// Resolves addresses for NS names that came without glue, a few at a
    /// time; true if any address was found.
    pub(super) async fn resolve_ns_names(
        &self,
        zs: &mut ZoneServers,
        st: &QueryState,
        path: &LookupPath,
    ) -> bool {
        let limit = self.config.resolver.max_ns_lookups_per_delegation as usize;
        let todo: Vec<Name> = zs
            .ns
            .iter()
            .filter(|(_, ips)| ips.is_empty())
            .filter_map(|(n, _)| n.clone())
            .filter(|n| !path.contains(n, RecordType::A))
            .take(limit)
            .collect();
        let mut found = false;
        for batch in todo.chunks(PARALLEL_NS_LOOKUPS) {
            st.note(|| {
                format!(
                    "resolving NS names without glue for {}: {}",
                    zs.zone,
                    batch
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            let lookups = batch.iter().map(|n| {
                if zs.zone.zone_of(n) && !zs.zone.is_root() {
                    // Inside the zone it names and without glue: only the
                    // parent can tell (Unbound's "fetch glue").
                    self.parent_side_glue(n, &zs.zone, st, path.with(n, RecordType::A))
                } else {
                    self.lookup(n, RecordType::A, DNSClass::IN, st, path.clone())
                }
            });
            let results = futures_join(lookups).await;
            for (n, step) in batch.iter().zip(results) {
                let ips: Vec<IpAddr> = match step {
                    Step::Answer(rs) => rs.iter().filter_map(|r| r.data.ip_addr()).collect(),
                    // The child's own answer failed (lame, bogus referral):
                    // glue its parent gave for the name still serves.
                    _ => self.cached_addrs(n, DNSClass::IN),
                };
                let ips = self.usable(ips);
                if !ips.is_empty() {
                    found = true;
                    for entry in zs
                        .ns
                        .iter_mut()
                        .filter(|(name, _)| name.as_ref() == Some(n))
                    {
                        entry.1 = ips.clone();
                    }
                }
            }
            if found {
                break;
            }
        }
        found
    }

    /// One exchange with one server: UDP first, TCP after TC=1, and once
    /// without EDNS after a FORMERR to EDNS (remembered per server).
    pub(super) async fn exchange(
        &self,
        addr: SocketAddr,
        zs: &ZoneServers,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        st: &QueryState,
    ) -> Result<Message, ExchangeError> {
        st.asking(addr, &zs.zone);
        let mut protocol = if zs.tcp || self.config.upstream.tcp {
            Protocol::Tcp
        } else {
            Protocol::Udp
        };
        for _ in 0..MAX_RESENDS {
            let now = self.clock.now();
            let elapsed = now.saturating_sub(st.start);
            let Some(left) = self
                .config
                .resolver
                .query_timeout
                .checked_sub(elapsed)
                .filter(|l| !l.is_zero())
            else {
                st.note(|| "query timeout reached: giving up");
                return Err(ExchangeError::Deadline);
            };
            // Serve-stale client timeout: stale data answers past it.
            let (left, cut_short) = match st.deadline {
                None => (left, false),
                Some(d) => match d.checked_sub(now).filter(|l| !l.is_zero()) {
                    Some(l) => (left.min(l), l < left),
                    None => {
                        st.note(|| "client timeout reached: answering from stale data");
                        return Err(ExchangeError::Deadline);
                    }
                },
            };
            if !st.spend() {
                return Err(ExchangeError::Budget);
            }
            let edns = !self.selection.no_edns(addr);
            let mut message = self.build_query(qname, qtype, class, edns);
            self.add_client_string(&mut message, addr.ip());
            // EDNS Client Subnet, to the servers configured for it.
            let subnet = st
                .subnet
                .filter(|_| edns && ecs::sends_to(&self.config.resolver, &zs.zone, addr));
            if let (Some(net), Some(e)) = (subnet, message.edns.as_mut()) {
                e.options_mut().insert(net.option());
            }
            message.metadata.recursion_desired = zs.recursive;
            let timeout = match protocol {
                Protocol::Udp => self.selection.rto(addr, now),
                Protocol::Tcp => self.config.upstream.tcp_timeout,
            }
            .min(left);
            st.record(|| TraceEvent::Query {
                zone: zs.zone.clone(),
                server: addr,
                server_name: zs.name_of(&addr),
                qname: qname.clone(),
                qtype,
                protocol,
                reason: format!("{} is a server for {}", addr, zs.zone),
            });
            let span = tracing::debug_span!(
                "upstream",
                server = %addr,
                zone = %zs.zone,
                qname = %qname,
                qtype = %qtype,
                rtt_ms = tracing::field::Empty
            );
            let result = self
                .transport
                .exchange(UpstreamQuery {
                    server: nat64::route(addr, cfg_nat64(&self.config.resolver)),
                    protocol,
                    message,
                    timeout,
                })
                .instrument(span.clone())
                .await;
            let after = self.clock.now();
            let rtt = after.saturating_sub(now);
            span.record("rtt_ms", crate::clock::tenths_ms(rtt));
            let reply = match result {
                Ok(m) => m,
                Err(failure) => {
                    // A wait cut short by the client timeout says nothing
                    // about the server.
                    if failure == UpstreamFailure::Timeout && !(cut_short && timeout == left) {
                        self.selection.on_timeout(addr, QueryKind::of(qtype), after);
                    }
                    tracing::debug!(server = %addr, zone = %zs.zone, %failure, "upstream failure");
                    let problem = match failure {
                        UpstreamFailure::Timeout => Problem::TimedOut,
                        UpstreamFailure::Network(_) | UpstreamFailure::Closed => {
                            Problem::Unreachable
                        }
                        UpstreamFailure::Malformed | UpstreamFailure::WrongQuestion => {
                            Problem::Unusable
                        }
                    };
                    if !(cut_short && timeout == left) {
                        self.problems.server(addr, &zs.zone, problem, after);
                    }
                    st.record(|| TraceEvent::Failed {
                        server: addr,
                        failure: failure.clone(),
                        rto: self.selection.rto(addr, after),
                    });
                    return Err(match failure {
                        // A network error (ICMP unreachable, a dropped
                        // connection) is retried like a timeout, as
                        // Unbound's outbound-msg-retry does.
                        UpstreamFailure::Timeout
                        | UpstreamFailure::Network(_)
                        | UpstreamFailure::Closed => ExchangeError::Timeout,
                        UpstreamFailure::Malformed | UpstreamFailure::WrongQuestion => {
                            ExchangeError::Other
                        }
                    });
                }
            };
            self.selection.on_reply(addr, rtt, after);
            tracing::debug!(server = %addr, zone = %zs.zone, rtt_ms = crate::clock::tenths_ms(rtt), "upstream reply");
            st.record(|| TraceEvent::Reply {
                server: addr,
                rtt,
                rcode: reply.metadata.response_code,
                kind: summarize(&reply),
                message: st.full_trace.then(|| Box::new(reply.clone())),
            });
            if reply.metadata.message_type != MessageType::Response
                || !same_question(&reply, qname, qtype, class)
            {
                st.note(|| format!("{addr} replied to another question: ignored"));
                return Err(ExchangeError::Other);
            }
            if reply.metadata.truncation && protocol == Protocol::Udp {
                st.note(|| format!("{addr} truncated the reply: retrying over TCP"));
                protocol = Protocol::Tcp;
                continue;
            }
            if reply.metadata.truncation {
                // Truncated even over TCP: nothing whole will come from it.
                st.note(|| format!("{addr} truncated its TCP reply: ignored"));
                return Err(ExchangeError::Other);
            }
            if let Some(net) = &subnet {
                match ecs::scope(&reply, net) {
                    Some(scope) => st.note_scope(scope),
                    None => {
                        // RFC 7871 §7.3: a reply about another network is
                        // not used.
                        st.note(|| format!("{addr} answered for another client subnet: ignored"));
                        return Err(ExchangeError::Other);
                    }
                }
            }
            if edns && reply.metadata.response_code == ResponseCode::FormErr && reply.edns.is_none()
            {
                st.note(|| format!("{addr} answered FORMERR to EDNS: retrying without"));
                self.selection.set_no_edns(addr, after);
                continue;
            }
            return Ok(reply);
        }
        Err(ExchangeError::Other)
    }

    pub(super) fn build_query(
        &self,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        edns: bool,
    ) -> Message {
        let mut m = Message::new(0, MessageType::Query, OpCode::Query);
        let mut q = Query::query(qname.clone(), qtype);
        q.set_query_class(class);
        m.add_query(q);
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(self.config.resolver.edns_payload);
            // DO=1 when validating: the servers send RRSIGs and NSEC/NSEC3
            // proofs (RFC 4035 §4.9.1, as Unbound with its validator).
            e.set_dnssec_ok(self.config.dnssec.validate);
            m.set_edns(e);
        }
        m
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Attaches the configured EDNS client string of the most specific
    /// network holding `server` (queries without EDNS carry none).
    fn add_client_string(&self, m: &mut Message, server: IpAddr) {
        let cfg = &self.config.resolver;
        let best = cfg
            .edns_client_strings
            .iter()
            .filter(|c| c.net.contains(&server))
            .max_by_key(|c| c.net.prefix_len());
        if let (Some(c), Some(edns)) = (best, m.edns.as_mut()) {
            edns.options_mut().insert(EdnsOption::Unknown(
                cfg.edns_client_string_code,
                c.text.clone(),
            ));
        }
    }
}

/// The NAT64 prefix IPv4 servers are reached through, when NAT64 is on.
fn cfg_nat64(cfg: &crate::config::ResolverConfig) -> Option<ipnet::Ipv6Net> {
    cfg.nat64.then_some(cfg.nat64_prefix)
}

pub(super) enum ExchangeError {
    Timeout,
    /// The client query's own time limit is spent.
    Deadline,
    Budget,
    Other,
}

/// Awaits all futures concurrently, results in order.
pub(super) async fn futures_join<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<F> = futs.into_iter().collect();
    futures_util::future::join_all(futs).await
}

/// Whether a reply carries exactly the question we asked (RFC 5452 §9.1;
/// names compare case-insensitively).
pub(super) fn same_question(
    reply: &Message,
    qname: &Name,
    qtype: RecordType,
    class: DNSClass,
) -> bool {
    match reply.queries.as_slice() {
        [q] => q.name() == qname && q.query_type() == qtype && q.query_class() == class,
        // FORMERR and some error replies legitimately carry no question,
        // and so does a bare TC=1 header (NSD's answer to a UDP ANY query
        // with refuse-any, RFC 8482 §4.4): retried over TCP.
        [] => reply.metadata.response_code != ResponseCode::NoError || reply.metadata.truncation,
        _ => false,
    }
}

/// A one-line summary of a reply, for traces.
pub(super) fn summarize(m: &Message) -> String {
    format!(
        "{} aa={} answers={} authority={} additional={}",
        m.metadata.response_code,
        m.metadata.authoritative,
        m.answers.len(),
        m.authorities.len(),
        m.additionals.len()
    )
}
