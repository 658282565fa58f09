//! One exchange with one server: UDP first, TCP after TC=1 (RFC 7766 §5),
//! once more without EDNS after a FORMERR to EDNS (RFC 6891 §7), within
//! the query's deadline and upstream budget; the query's client subnet,
//! and the checks a parsed reply must pass to be used (RFC 7871 §7.3).
//! Building, encoding and parsing the messages is `message.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tracing::Instrument;

use crate::clock::{Clock, Mono};
use crate::engine::learn;
use crate::engine::state::QueryState;
use crate::engine::step::{Question, ZoneServers};
use crate::engine::{ecs, message};
use crate::engine::{Resolver, TraceEvent};
use crate::upstream::nat64;
use crate::upstream::selection::Outcome;
use crate::upstream::{Protocol, Transport, UpstreamFailure, UpstreamQuery};

/// Re-sends of one exchange (TC=1 → TCP, FORMERR → without EDNS).
const MAX_RESENDS: usize = 3;

pub(super) enum ExchangeError {
    Timeout,
    /// The client query's own time limit is spent.
    Deadline,
    Budget,
    Other,
}

/// One send of a question to one server.
struct Attempt<'a> {
    addr: SocketAddr,
    zs: &'a ZoneServers,
    q: Question<'a>,
    protocol: Protocol,
    edns: bool,
    /// The client subnet sent (EDNS Client Subnet), if any.
    subnet: Option<ecs::ClientNet>,
    /// When the send began, and how long its reply is waited for.
    now: Mono,
    timeout: Duration,
    /// The wait was cut to what is left before the client timeout, so a
    /// timeout says nothing about the server.
    cut_short: bool,
}

/// What a reply that came back is good for.
enum Checked {
    Use,
    RetryOverTcp,
    RetryWithoutEdns,
    Ignore,
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// One exchange with one server: UDP first, TCP after TC=1, and once
    /// without EDNS after a FORMERR to EDNS (remembered per server).
    pub(super) async fn exchange(
        &self,
        addr: SocketAddr,
        zs: &ZoneServers,
        q: Question<'_>,
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
            let (left, cut_short) = self.time_left(st, now)?;
            if !st.spend() {
                return Err(ExchangeError::Budget);
            }
            let edns = !self.selection.no_edns(addr, now);
            let timeout = match protocol {
                Protocol::Udp => self.selection.rto(addr, now),
                Protocol::Tcp => self.config.upstream.tcp_timeout,
            }
            .min(left);
            let attempt = Attempt {
                addr,
                zs,
                q,
                protocol,
                edns,
                // EDNS Client Subnet, to the servers configured for it.
                subnet: st
                    .subnet
                    .filter(|_| edns && ecs::sends_to(&self.config.resolver, &zs.zone, addr)),
                now,
                timeout,
                cut_short: cut_short && timeout == left,
            };
            let (result, after) = self.send(&attempt, st).await;
            let reply = match result {
                Ok(m) => m,
                Err(failure) => return Err(self.upstream_failed(&attempt, failure, after, st)),
            };
            match self.check_reply(&attempt, &reply, after, st) {
                Checked::Use => return Ok(reply),
                Checked::RetryOverTcp => protocol = Protocol::Tcp,
                Checked::RetryWithoutEdns => {}
                Checked::Ignore => return Err(ExchangeError::Other),
            }
        }
        Err(ExchangeError::Other)
    }

    /// How long the exchange may still wait, and whether that is cut short
    /// by the serve-stale client timeout (past which stale data answers).
    fn time_left(&self, st: &QueryState, now: Mono) -> Result<(Duration, bool), ExchangeError> {
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
        match st.deadline {
            None => Ok((left, false)),
            Some(d) => match d.checked_sub(now).filter(|l| !l.is_zero()) {
                Some(l) => Ok((left.min(l), l < left)),
                None => {
                    st.note(|| "client timeout reached: answering from stale data");
                    Err(ExchangeError::Deadline)
                }
            },
        }
    }

    /// Sends the attempt's query and waits for the reply (traced, with a
    /// span per exchange); the time the wait ended.
    async fn send(
        &self,
        a: &Attempt<'_>,
        st: &QueryState,
    ) -> (Result<Message, UpstreamFailure>, Mono) {
        let mut message = self.build_query(a.q.name, a.q.qtype, a.q.class, a.edns);
        self.add_client_string(&mut message, a.addr.ip());
        if let (Some(net), Some(e)) = (a.subnet, message.edns.as_mut()) {
            e.options_mut().insert(net.option());
        }
        message.metadata.recursion_desired = a.zs.recursive;
        let bytes = match message::encode(&message) {
            Ok(b) => b,
            Err(f) => return (Err(f), a.now),
        };
        let zone = &a.zs.zone;
        st.record(|| TraceEvent::Query {
            zone: zone.clone(),
            server: a.addr,
            server_name: a.zs.name_of(&a.addr),
            qname: a.q.name.clone(),
            qtype: a.q.qtype,
            protocol: a.protocol,
            reason: format!("{} is a server for {}", a.addr, zone),
        });
        let span = tracing::debug_span!(
            "upstream",
            server = %a.addr,
            zone = %zone,
            qname = %a.q.name,
            qtype = %a.q.qtype,
            rtt_ms = tracing::field::Empty
        );
        let result = self
            .transport
            .exchange(UpstreamQuery {
                server: nat64::route(a.addr, cfg_nat64(&self.config.resolver)),
                protocol: a.protocol,
                bytes,
                timeout: a.timeout,
            })
            .instrument(span.clone())
            .await;
        let after = self.clock.now();
        let rtt = after.saturating_sub(a.now);
        span.record("rtt_ms", crate::clock::tenths_ms(rtt));
        (
            result.and_then(|b| message::read_reply(&message, &b)),
            after,
        )
    }

    /// Notes a failed exchange (selection, problems, trace) and says how
    /// the zone step goes on.
    fn upstream_failed(
        &self,
        a: &Attempt<'_>,
        failure: UpstreamFailure,
        after: Mono,
        st: &QueryState,
    ) -> ExchangeError {
        let addr = a.addr;
        tracing::debug!(server = %addr, zone = %a.zs.zone, %failure, "upstream failure");
        // A wait cut short by the client timeout says nothing about the
        // server.
        if !a.cut_short {
            let outcome = learn::of_failure(&failure);
            self.learn(addr, &a.zs.zone, a.q.qtype, outcome, after);
        }
        st.record(|| TraceEvent::Failed {
            server: addr,
            failure: failure.clone(),
            rto: self.selection.rto(addr, after),
        });
        match failure {
            // A network error (ICMP unreachable, a dropped connection) is
            // retried like a timeout, as Unbound's outbound-msg-retry does.
            UpstreamFailure::Timeout | UpstreamFailure::Network(_) | UpstreamFailure::Closed => {
                ExchangeError::Timeout
            }
            UpstreamFailure::Malformed | UpstreamFailure::WrongQuestion => ExchangeError::Other,
        }
    }

    /// Notes a reply (selection, trace) and checks that it answers the
    /// question as sent: a response to that question, not truncated, for
    /// the client subnet sent, and not a FORMERR to EDNS.
    fn check_reply(
        &self,
        a: &Attempt<'_>,
        reply: &Message,
        after: Mono,
        st: &QueryState,
    ) -> Checked {
        let addr = a.addr;
        let rtt = after.saturating_sub(a.now);
        let edns = reply.edns.is_some();
        let replied = Outcome::Replied { rtt, edns };
        self.learn(addr, &a.zs.zone, a.q.qtype, replied, after);
        tracing::debug!(server = %addr, zone = %a.zs.zone, rtt_ms = crate::clock::tenths_ms(rtt), "upstream reply");
        st.record(|| TraceEvent::Reply {
            server: addr,
            rtt,
            rcode: reply.metadata.response_code,
            kind: message::summarize(reply),
            message: st.full_trace.then(|| Box::new(reply.clone())),
        });
        if reply.metadata.truncation && a.protocol == Protocol::Udp {
            st.note(|| format!("{addr} truncated the reply: retrying over TCP"));
            return Checked::RetryOverTcp;
        }
        if reply.metadata.truncation {
            // Truncated even over TCP: nothing whole will come from it.
            st.note(|| format!("{addr} truncated its TCP reply: ignored"));
            return Checked::Ignore;
        }
        if let Some(net) = &a.subnet {
            match ecs::scope(reply, net) {
                Some(scope) => st.note_scope(scope),
                None => {
                    // RFC 7871 §7.3: a reply about another network is not
                    // used.
                    st.note(|| format!("{addr} answered for another client subnet: ignored"));
                    return Checked::Ignore;
                }
            }
        }
        if a.edns && reply.metadata.response_code == ResponseCode::FormErr && reply.edns.is_none() {
            st.note(|| format!("{addr} answered FORMERR to EDNS: retrying without"));
            self.learn(addr, &a.zs.zone, a.q.qtype, Outcome::NoEdns, after);
            return Checked::RetryWithoutEdns;
        }
        Checked::Use
    }
}

/// The NAT64 prefix IPv4 servers are reached through, when NAT64 is on.
fn cfg_nat64(cfg: &crate::config::ResolverConfig) -> Option<ipnet::Ipv6Net> {
    cfg.nat64.then_some(cfg.nat64_prefix)
}
