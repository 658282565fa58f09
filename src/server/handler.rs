//! One client message in, one reply out (or nothing). Sans-IO: the UDP and
//! TCP loops call this; so do the replay harness and fuzz targets. This is
//! the only place that maps a resolution failure to an RCODE and an
//! extended DNS error (RFC 8914).

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};

use crate::clock::Clock;
use crate::config::AclAction;
use crate::engine::{Failure, Request, Resolver};
use crate::server::acl::Acl;
use crate::upstream::{Protocol, Transport};
use crate::wire;

/// Size of a DNS header (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;

/// Extended DNS error "Prohibited" (RFC 8914 §4.19).
const EDE_PROHIBITED: u16 = 18;

/// Largest TCP message (RFC 1035 §4.2.2 two-byte length).
const TCP_MAX: usize = 65_535;

pub struct Handler<T: Transport, C: Clock> {
    resolver: Arc<Resolver<T, C>>,
    acl: Acl,
}

impl<T: Transport, C: Clock> Handler<T, C> {
    pub fn new(resolver: Arc<Resolver<T, C>>) -> Self {
        let acl = Acl::new(resolver.config().server.access_control.clone());
        Self { resolver, acl }
    }

    pub fn resolver(&self) -> &Arc<Resolver<T, C>> {
        &self.resolver
    }

    /// Answers one query from `client` received over `protocol`; None means
    /// send nothing (unreadable header, a response, or a denied client).
    pub async fn handle(
        &self,
        bytes: &[u8],
        client: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        // Without a whole header there is no safe reply to build
        // (RFC 1035 §4.1.1: the header is 12 bytes).
        if bytes.len() < HEADER_LEN {
            return None;
        }
        let action = self.acl.check(client.ip());
        let query = match wire::parse(bytes) {
            Ok(q) => q,
            Err(wire::ParseError::NoHeader) => return None,
            Err(wire::ParseError::Malformed {
                id,
                opcode,
                recursion_desired,
            }) => {
                // A response is never answered, even a malformed one.
                if bytes.get(2).is_some_and(|b| b & 0x80 != 0) || action == AclAction::Deny {
                    return None;
                }
                let reply = wire::error_reply(id, opcode, recursion_desired, ResponseCode::FormErr);
                return wire::encode(&reply);
            }
        };
        if let Some(q) = query.queries.first() {
            let span = tracing::Span::current();
            span.record("qname", tracing::field::display(q.name()));
            span.record("qtype", tracing::field::display(q.query_type()));
        }
        if query.metadata.message_type == MessageType::Response || action == AclAction::Deny {
            return None;
        }
        let limit = match protocol {
            Protocol::Udp => {
                wire::client_udp_limit(&query, self.resolver.config().server.max_udp_payload)
            }
            Protocol::Tcp => TCP_MAX,
        };
        let reply = if action == AclAction::Refuse {
            let mut m = self.reply_skeleton(&query, ResponseCode::Refused);
            if m.edns.is_some() {
                // RFC 8914 §4.19: Prohibited.
                wire::add_ede(
                    &mut m,
                    EDE_PROHIBITED,
                    "client not allowed by access control",
                );
            }
            m
        } else {
            self.answer(&query).await
        };
        wire::encode_limited(&reply, limit)
    }

    /// A reply header for `query` with the question copied.
    fn reply_skeleton(&self, query: &Message, rcode: ResponseCode) -> Message {
        let mut m = Message::new(
            query.metadata.id,
            MessageType::Response,
            query.metadata.op_code,
        );
        m.metadata.recursion_desired = query.metadata.recursion_desired;
        m.metadata.checking_disabled = query.metadata.checking_disabled;
        // Refusals and format errors answer nothing, so (as Unbound does)
        // they do not advertise recursion.
        m.metadata.recursion_available =
            !matches!(rcode, ResponseCode::Refused | ResponseCode::FormErr);
        m.metadata.response_code = rcode;
        m.queries = query.queries.clone();
        if let Some(e) = &query.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(self.resolver.config().server.max_udp_payload);
            edns.set_dnssec_ok(e.flags().dnssec_ok);
            m.edns = Some(edns);
        }
        m
    }

    async fn answer(&self, query: &Message) -> Message {
        if query.metadata.op_code != OpCode::Query {
            return self.reply_skeleton(query, ResponseCode::NotImp);
        }
        if query.edns.as_ref().is_some_and(|e| e.version() > 0) {
            // RFC 6891 §6.1.3: unknown EDNS version → BADVERS.
            let mut m = self.reply_skeleton(query, ResponseCode::BADVERS);
            m.queries.clear();
            return m;
        }
        let [q] = query.queries.as_slice() else {
            return self.reply_skeleton(query, ResponseCode::FormErr);
        };
        let request = Request {
            name: q.name().clone(),
            qtype: q.query_type(),
            qclass: q.query_class(),
            recursion_desired: query.metadata.recursion_desired,
            checking_disabled: query.metadata.checking_disabled,
            dnssec_ok: query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            full_trace: false,
        };
        let res = self.resolver.resolve(&request).await;
        let mut m = self.reply_skeleton(query, res.rcode);
        m.answers = res.answers;
        m.authorities = res.authorities;
        m.additionals = res.additionals;
        if let Some(f) = &res.failure {
            let (code, text) = ede_for(f);
            if m.edns.is_some() {
                wire::add_ede(&mut m, code, &text);
            }
        }
        m
    }
}

/// The extended DNS error (RFC 8914 §4) that explains a failure.
pub fn ede_for(failure: &Failure) -> (u16, String) {
    let code = match failure {
        Failure::NoReachableAuthority | Failure::AllLame | Failure::NoNsAddress => 22,
        Failure::NotCached => 18, // Prohibited is closest; RFC 8914 has no "not cached"
        Failure::QueryBudget(_) | Failure::CnameChain(_) | Failure::CnameLoop | Failure::Depth => 0,
        Failure::Timeout => 22,
        Failure::Internal(_) => 0,
    };
    (code, failure.to_string())
}
