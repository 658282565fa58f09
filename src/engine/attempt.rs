//! One exchange with one server as an I/O-free state machine: UDP first,
//! TCP after TC=1 (RFC 7766 §5), once more without EDNS after a FORMERR to
//! EDNS (RFC 6891 §7), a few sends at most, within the query's time. The
//! caller asks `next(now, …)` what to do (send these bytes, or done with
//! this result), does the sending, and hands back what came with
//! `on_reply(now, …)`, which says what was heard so that the caller can
//! tell selection and the trace. Parsing and checking a reply (ID and
//! question, RFC 5452 §9.1; the client subnet, RFC 7871 §7.3) happen here.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};

use crate::clock::Mono;
use crate::engine::ecs::{self, ClientNet};
use crate::engine::message;
use crate::upstream::{Protocol, ReplyBytes, UpstreamFailure};

/// Sends of one exchange (the first, then TC=1 → TCP, FORMERR → without
/// EDNS).
const MAX_SENDS: usize = 3;

/// How an exchange ended without a reply to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExchangeError {
    /// No reply (timeout, network error, closed connection): another
    /// server, or this one again, may do better.
    Timeout,
    /// The client query's own time limit is spent.
    Deadline,
    /// The query's upstream budget is spent.
    Budget,
    /// A reply of no use (another question, garbage, truncated over TCP,
    /// another client subnet, too many re-sends).
    Other,
}

/// What time the exchange may take: the resolution's start and time
/// limit, and the serve-stale client deadline, past which stale data
/// answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub start: Mono,
    pub limit: Duration,
    pub client: Option<Mono>,
}

/// Which time limit ended the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Late {
    /// The resolution's own limit (`query_timeout`).
    Query,
    /// The client deadline: stale data answers instead.
    Client,
}

/// How long to wait for a reply, by protocol (UDP: the server's RTO).
#[derive(Debug, Clone, Copy)]
pub(super) struct Waits {
    pub udp: Duration,
    pub tcp: Duration,
}

/// Bytes to send to a server.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Send {
    pub server: SocketAddr,
    pub bytes: Vec<u8>,
    pub protocol: Protocol,
    pub timeout: Duration,
}

/// What the exchange does next.
#[derive(Debug, PartialEq)]
pub(super) enum Next {
    Send(Send),
    /// Out of time before sending.
    Late(Late),
    Done(Result<Message, ExchangeError>),
}

/// What a reply (or its absence) told, for selection and the trace.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Heard {
    /// No usable message. `counts`: the wait was not cut short by the
    /// client deadline, so the failure says something about the server.
    Failed {
        failure: UpstreamFailure,
        counts: bool,
    },
    /// A reply to our question, after `rtt`, and what is done with it.
    Reply { rtt: Duration, then: Then },
}

/// What is done with a reply to our question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// Used; `scope` is the client-subnet scope it holds for (0: all).
    Use { scope: u8 },
    /// TC=1 over UDP: asked again over TCP.
    OverTcp,
    /// TC=1 even over TCP: nothing whole will come from the server.
    TruncatedTcp,
    /// An answer about another client network (RFC 7871 §7.3).
    OtherSubnet,
    /// FORMERR to a query with EDNS and none in the reply: asked again
    /// without EDNS (and the server noted as not knowing it).
    WithoutEdns,
}

/// The send under way.
struct Waiting {
    at: Mono,
    /// The wait was cut to what is left before the client deadline.
    cut_short: bool,
}

/// One exchange with one server.
pub(super) struct Exchange {
    server: SocketAddr,
    /// The query; its ID is set per send, its EDNS dropped after a
    /// FORMERR to it.
    query: Message,
    /// The client subnet sent with EDNS, if any.
    subnet: Option<ClientNet>,
    protocol: Protocol,
    window: Window,
    sends: usize,
    waiting: Option<Waiting>,
    /// The last reply to our question.
    last: Option<Message>,
    done: Option<Result<(), ExchangeError>>,
}

impl Exchange {
    /// An exchange of `query` (EDNS as it should go first) with `server`,
    /// over TCP from the start when `tcp`.
    pub fn new(
        server: SocketAddr,
        query: Message,
        subnet: Option<ClientNet>,
        tcp: bool,
        window: Window,
    ) -> Self {
        Self {
            server,
            subnet: subnet.filter(|_| query.edns.is_some()),
            query,
            protocol: if tcp { Protocol::Tcp } else { Protocol::Udp },
            window,
            sends: 0,
            waiting: None,
            last: None,
            done: None,
        }
    }

    /// The query as last sent.
    #[cfg(test)]
    pub fn query(&self) -> &Message {
        &self.query
    }

    /// The next thing to do at `now`: send (with `id` as the query's ID,
    /// waiting as `waits` says, cut to the time left), or done.
    pub fn next(&mut self, now: Mono, id: u16, waits: Waits) -> Next {
        if let Some(result) = self.ended() {
            return Next::Done(result);
        }
        let (left, client_first) = match self.time_left(now) {
            Ok(l) => l,
            Err(late) => return Next::Late(late),
        };
        let wait = match self.protocol {
            Protocol::Udp => waits.udp,
            Protocol::Tcp => waits.tcp,
        };
        let timeout = wait.min(left);
        self.query.metadata.id = id;
        let bytes = match message::encode(&self.query) {
            Ok(b) => b,
            Err(_) => return Next::Done(Err(ExchangeError::Other)),
        };
        self.sends += 1;
        self.waiting = Some(Waiting {
            at: now,
            cut_short: client_first && timeout == left,
        });
        Next::Send(Send {
            server: self.server,
            bytes,
            protocol: self.protocol,
            timeout,
        })
    }

    /// The exchange's result once it has one (a reply to use, or why
    /// not), so that a caller need not draw an ID or a wait for a send
    /// that will not happen; `next` says the same.
    pub fn ended(&mut self) -> Option<Result<Message, ExchangeError>> {
        match self.done.take() {
            Some(Ok(())) => Some(self.last.take().ok_or(ExchangeError::Other)),
            Some(Err(e)) => Some(Err(e)),
            None if self.sends >= MAX_SENDS => Some(Err(ExchangeError::Other)),
            None => None,
        }
    }

    /// How long the exchange may still wait at `now`, and whether that is
    /// cut short by the client deadline.
    fn time_left(&self, now: Mono) -> Result<(Duration, bool), Late> {
        let w = &self.window;
        let left = w
            .limit
            .checked_sub(now.saturating_sub(w.start))
            .filter(|l| !l.is_zero())
            .ok_or(Late::Query)?;
        match w.client {
            None => Ok((left, false)),
            Some(d) => {
                let l = d
                    .checked_sub(now)
                    .filter(|l| !l.is_zero())
                    .ok_or(Late::Client)?;
                Ok((left.min(l), l < left))
            }
        }
    }

    /// Takes in what the send brought at `now`: a reply's bytes or a
    /// failure. What was heard; `next` then says how the exchange goes on.
    pub fn on_reply(&mut self, now: Mono, got: ReplyBytes) -> Heard {
        let waiting = self.waiting.take();
        let counts = !waiting.as_ref().is_some_and(|w| w.cut_short);
        let rtt = now.saturating_sub(waiting.map_or(now, |w| w.at));
        let reply = got.and_then(|bytes| message::read_reply(&self.query, &bytes));
        let reply = match reply {
            Ok(r) => r,
            Err(failure) => {
                self.last = None;
                self.done = Some(Err(match failure {
                    // A network error (ICMP unreachable, a dropped
                    // connection) is retried like a timeout, as Unbound's
                    // outbound-msg-retry does.
                    UpstreamFailure::Timeout
                    | UpstreamFailure::Network(_)
                    | UpstreamFailure::Closed => ExchangeError::Timeout,
                    UpstreamFailure::Malformed | UpstreamFailure::WrongQuestion => {
                        ExchangeError::Other
                    }
                }));
                return Heard::Failed { failure, counts };
            }
        };
        let then = check(
            &reply,
            self.protocol,
            self.query.edns.is_some(),
            self.subnet,
        );
        self.last = Some(reply);
        match then {
            Then::Use { .. } => self.done = Some(Ok(())),
            Then::OverTcp => self.protocol = Protocol::Tcp,
            Then::WithoutEdns => {
                // Queries without EDNS carry no options either.
                self.query.edns = None;
                self.subnet = None;
            }
            Then::TruncatedTcp | Then::OtherSubnet => {
                self.done = Some(Err(ExchangeError::Other));
            }
        }
        Heard::Reply { rtt, then }
    }

    /// The last reply to our question (for the trace).
    pub fn last_reply(&self) -> Option<&Message> {
        self.last.as_ref()
    }
}

/// What is done with a reply to our question, sent over `protocol` with
/// EDNS when `edns` and client subnet `subnet`.
fn check(reply: &Message, protocol: Protocol, edns: bool, subnet: Option<ClientNet>) -> Then {
    if reply.metadata.truncation {
        return match protocol {
            Protocol::Udp => Then::OverTcp,
            Protocol::Tcp => Then::TruncatedTcp,
        };
    }
    let scope = match &subnet {
        None => 0,
        Some(net) => match ecs::scope(reply, net) {
            Some(scope) => scope,
            None => return Then::OtherSubnet,
        },
    };
    if edns && reply.metadata.response_code == ResponseCode::FormErr && reply.edns.is_none() {
        return Then::WithoutEdns;
    }
    Then::Use { scope }
}

#[cfg(test)]
mod tests;
