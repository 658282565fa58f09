//! One exchange with one server, driven: the query message (EDNS, DO,
//! client subnet, client string, RD), the sending through the `Transport`
//! within the query's upstream budget, and what selection, the problem log
//! and the trace are told. The decisions (TC=1 → TCP, FORMERR → without
//! EDNS, deadlines, which replies are used) are the I/O-free
//! `attempt::Exchange`.

use std::time::Duration;

use hickory_proto::op::Message;
use tracing::Instrument;

use crate::clock::{Clock, Mono};
use crate::engine::attempt::{Exchange, Heard, Send, Then, Window};
use crate::engine::state::QueryState;
use crate::engine::step::{Question, ZoneServers};
use crate::engine::{ecs, learn};
use crate::engine::{message, Resolver, TraceEvent};
use crate::upstream::nat64;
use crate::upstream::selection::Outcome;
use crate::upstream::{ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

/// The server and question an exchange is about, for notes and traces.
#[derive(Clone, Copy)]
struct About<'a> {
    addr: std::net::SocketAddr,
    zs: &'a ZoneServers,
    q: Question<'a>,
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The exchange of `q` with `addr`, one of `zs`'s servers: with EDNS
    /// unless the server is known not to take it (then also without the
    /// client subnet), within the resolution's time.
    pub(super) fn start_exchange(
        &self,
        addr: std::net::SocketAddr,
        zs: &ZoneServers,
        q: Question<'_>,
        st: &QueryState,
    ) -> Exchange {
        st.asking(addr, &zs.zone);
        let about = About { addr, zs, q };
        let edns = !self.selection.no_edns(addr, self.clock.now());
        // EDNS Client Subnet, to the servers configured for it.
        let subnet = st
            .subnet
            .filter(|_| edns && ecs::sends_to(&self.config.resolver, &zs.zone, addr));
        let window = Window {
            start: st.start,
            limit: self.config.resolver.query_timeout,
            client: st.deadline,
        };
        let tcp = zs.tcp || self.config.upstream.tcp;
        let query = self.query_for(about, edns, subnet);
        Exchange::new(addr, query, subnet, tcp, window)
    }

    /// The query for `about`, with EDNS when `edns` (and then the client
    /// string and `subnet`), RD=1 to recursive servers.
    fn query_for(&self, about: About<'_>, edns: bool, subnet: Option<ecs::ClientNet>) -> Message {
        let q = about.q;
        let mut query = self.build_query(q.name, q.qtype, q.class, edns);
        self.add_client_string(&mut query, about.addr.ip());
        if let (Some(net), Some(e)) = (subnet, query.edns.as_mut()) {
            e.options_mut().insert(net.option());
        }
        query.metadata.recursion_desired = about.zs.recursive;
        query
    }

    /// Sends the bytes of `q` to one of `zs`'s servers and waits for the
    /// reply (traced, with a span per exchange); the time the wait ended.
    pub(super) async fn send(
        &self,
        zs: &ZoneServers,
        q: Question<'_>,
        send: Send,
        now: Mono,
        st: &QueryState,
    ) -> (ReplyBytes, Mono) {
        let addr = send.server;
        let about = About { addr, zs, q };
        let zone = &zs.zone;
        st.record(|| {
            let server_name = about.zs.name_of(&addr);
            // The server by its NS name, else its address without the port
            // (the event carries the address; dig shows it with the port it
            // really used).
            let who = server_name
                .as_ref()
                .map_or_else(|| addr.ip().to_string(), ToString::to_string);
            TraceEvent::Query {
                zone: zone.clone(),
                server: addr,
                server_name,
                qname: q.name.clone(),
                qtype: q.qtype,
                protocol: send.protocol,
                reason: format!("{who} is a server for {zone}"),
            }
        });
        let span = tracing::debug_span!(
            "upstream",
            server = %addr,
            zone = %zone,
            qname = %q.name,
            qtype = %q.qtype,
            rtt_ms = tracing::field::Empty
        );
        let result = self
            .transport
            .exchange(UpstreamQuery {
                server: nat64::route(send.server, cfg_nat64(&self.config.resolver)),
                protocol: send.protocol,
                bytes: send.bytes,
                timeout: send.timeout,
            })
            .instrument(span.clone())
            .await;
        let after = self.clock.now();
        span.record("rtt_ms", crate::clock::tenths_ms(after.saturating_sub(now)));
        (result, after)
    }

    /// Tells selection, the problem log and the trace what an exchange
    /// heard.
    pub(super) fn heard(
        &self,
        (addr, zs, q): (std::net::SocketAddr, &ZoneServers, Question<'_>),
        ex: &Exchange,
        heard: Heard,
        after: Mono,
        st: &QueryState,
    ) {
        let about = About { addr, zs, q };
        match heard {
            Heard::Failed { failure, counts } => self.failed(about, failure, counts, after, st),
            Heard::Reply { rtt, then } => self.replied(about, ex, rtt, then, after, st),
        }
    }

    /// Notes a failed exchange. A wait cut short by the client timeout
    /// (`!counts`) says nothing about the server.
    fn failed(
        &self,
        about: About<'_>,
        failure: UpstreamFailure,
        counts: bool,
        after: Mono,
        st: &QueryState,
    ) {
        let addr = about.addr;
        tracing::debug!(server = %addr, zone = %about.zs.zone, %failure, "upstream failure");
        if counts {
            let outcome = learn::of_failure(&failure);
            self.learn(addr, &about.zs.zone, about.q.qtype, outcome, after);
        }
        st.cause(|| TraceEvent::Failed {
            server: addr,
            failure: failure.clone(),
            rto: self.selection.rto(addr, after),
        });
    }

    /// Notes a reply to our question and what the exchange does with it.
    fn replied(
        &self,
        about: About<'_>,
        ex: &Exchange,
        rtt: Duration,
        then: Then,
        after: Mono,
        st: &QueryState,
    ) {
        let (addr, zone, qtype) = (about.addr, &about.zs.zone, about.q.qtype);
        let edns = ex.last_reply().is_some_and(|r| r.edns.is_some());
        self.learn(addr, zone, qtype, Outcome::Replied { rtt, edns }, after);
        tracing::debug!(server = %addr, zone = %about.zs.zone, rtt_ms = crate::clock::tenths_ms(rtt), "upstream reply");
        if let Some(reply) = ex.last_reply() {
            st.record(|| TraceEvent::Reply {
                server: addr,
                rtt,
                rcode: reply.metadata.response_code,
                kind: message::summarize(reply),
                message: st.full_trace.then(|| Box::new(reply.clone())),
            });
        }
        match then {
            Then::Use { scope } => st.note_scope(scope),
            Then::OverTcp => st.note(|| format!("{addr} truncated the reply: retrying over TCP")),
            Then::TruncatedTcp => st.note(|| format!("{addr} truncated its TCP reply: ignored")),
            Then::OtherSubnet => {
                st.note(|| format!("{addr} answered for another client subnet: ignored"))
            }
            Then::WithoutEdns => {
                st.note(|| format!("{addr} answered FORMERR to EDNS: retrying without"));
                self.learn(addr, zone, qtype, Outcome::NoEdns, after);
            }
        }
    }
}

/// The NAT64 prefix IPv4 servers are reached through, when NAT64 is on.
fn cfg_nat64(cfg: &crate::config::ResolverConfig) -> Option<ipnet::Ipv6Net> {
    cfg.nat64.then_some(cfg.nat64_prefix)
}
