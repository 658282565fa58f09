//! The messages of one exchange: the query as sent (a fresh ID, EDNS with
//! DO, the client string), encoded through `wire/`, and the reply's bytes
//! parsed and checked against it (RFC 5452 §9.1: ID, QR=1 and question).
//! The transport only carries the bytes.

use std::net::IpAddr;
use std::sync::Mutex;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::clock::Clock;
use crate::engine::Resolver;
use crate::upstream::{Transport, UpstreamFailure};
use crate::wire;

/// Where query IDs come from: the thread's CSPRNG (unpredictable, RFC 5452
/// §9.2), or a generator seeded by a test so that a run repeats.
#[derive(Default)]
pub(crate) struct QueryIds {
    seeded: Mutex<Option<StdRng>>,
}

impl QueryIds {
    /// The next query ID.
    pub(crate) fn next(&self) -> u16 {
        match self.seeded.lock().as_deref_mut() {
            Ok(Some(rng)) => rng.random(),
            _ => rand::random(),
        }
    }

    /// IDs from a generator seeded with `seed` from now on.
    pub(crate) fn seed(&self, seed: u64) {
        if let Ok(mut rng) = self.seeded.lock() {
            *rng = Some(StdRng::seed_from_u64(seed));
        }
    }
}

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Query IDs from a generator seeded with `seed` (tests: one run
    /// sends the same IDs each time).
    pub fn seed_query_ids(&self, seed: u64) {
        self.ids.seed(seed);
    }

    /// A query for `qname`/`qtype`/`class` with a fresh ID, with EDNS (our
    /// payload size, DO=1 when validating) when `edns`.
    pub(super) fn build_query(
        &self,
        qname: &Name,
        qtype: RecordType,
        class: DNSClass,
        edns: bool,
    ) -> Message {
        let mut m = Message::new(self.ids.next(), MessageType::Query, OpCode::Query);
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

    /// Attaches the configured EDNS client string of the most specific
    /// network holding `server` (queries without EDNS carry none).
    pub(super) fn add_client_string(&self, m: &mut Message, server: IpAddr) {
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

/// The bytes of `sent`, as the transport sends them.
pub(super) fn encode(sent: &Message) -> Result<Vec<u8>, UpstreamFailure> {
    wire::encode(sent).ok_or(UpstreamFailure::Network(std::io::ErrorKind::InvalidInput))
}

/// The reply in `bytes`, if it answers `sent`: bytes that do not parse are
/// `Malformed`, a message that does not answer our query (another ID or
/// question, QR=0) is `WrongQuestion`. Records that do not decode are
/// dropped (`wire::parse_reply`).
pub fn read_reply(sent: &Message, bytes: &[u8]) -> Result<Message, UpstreamFailure> {
    let reply = wire::parse_reply(bytes)
        .map_err(|_| UpstreamFailure::Malformed)?
        .message;
    if reply_matches(sent, &reply) {
        Ok(reply)
    } else {
        Err(UpstreamFailure::WrongQuestion)
    }
}

fn same_name(a: &Name, b: &Name) -> bool {
    a.num_labels() == b.num_labels()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Does `reply` answer `sent` (ID, QR=1, question; RFC 5452 §9.1)? A reply
/// without a question section answers only with FORMERR, NOTIMP or
/// REFUSED, or with TC=1: servers that reject EDNS or the opcode often
/// answer with a bare header, and NSD with `refuse-any` answers a UDP ANY
/// query with a bare TC=1 header (RFC 8482 §4.4: retry over TCP).
pub fn reply_matches(sent: &Message, reply: &Message) -> bool {
    if reply.metadata.id != sent.metadata.id || reply.metadata.message_type != MessageType::Response
    {
        return false;
    }
    if reply.queries.is_empty() {
        return reply.metadata.truncation
            || matches!(
                reply.metadata.response_code,
                ResponseCode::FormErr | ResponseCode::NotImp | ResponseCode::Refused
            );
    }
    reply.queries.len() == sent.queries.len()
        && reply.queries.iter().zip(&sent.queries).all(|(r, s)| {
            r.query_type() == s.query_type()
                && r.query_class() == s.query_class()
                && same_name(r.name(), s.name())
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, t: RecordType) -> Message {
        let mut m = Message::new(42, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m
    }

    fn reply_to(m: &Message) -> Message {
        let mut r = m.clone();
        r.metadata.message_type = MessageType::Response;
        r
    }

    #[test]
    fn matching_rules() {
        let sent = q("www.Example.com.", RecordType::A);
        let ok = reply_to(&q("WWW.example.COM.", RecordType::A));
        assert!(reply_matches(&sent, &ok));
        let mut wrong_id = ok.clone();
        wrong_id.metadata.id = 43;
        assert!(!reply_matches(&sent, &wrong_id));
        assert!(!reply_matches(
            &sent,
            &reply_to(&q("www.example.org.", RecordType::A))
        ));
        assert!(!reply_matches(
            &sent,
            &reply_to(&q("www.example.com.", RecordType::AAAA))
        ));
        assert!(!reply_matches(&sent, &sent), "QR=0 is not a reply");
        let mut bare = ok.clone();
        bare.queries.clear();
        assert!(!reply_matches(&sent, &bare));
        bare.metadata.response_code = ResponseCode::FormErr;
        assert!(reply_matches(&sent, &bare));
        // A bare TC=1 header: "ask again over TCP" (NSD's refuse-any).
        bare.metadata.response_code = ResponseCode::NoError;
        bare.metadata.truncation = true;
        assert!(reply_matches(&sent, &bare));
    }

    #[test]
    fn reading_a_reply_types_its_failures() {
        let sent = q("www.example.com.", RecordType::A);
        let ok = reply_to(&sent);
        let bytes = wire::encode(&ok).unwrap();
        assert_eq!(read_reply(&sent, &bytes).unwrap().queries, sent.queries);
        assert_eq!(
            read_reply(&sent, &bytes[..5]),
            Err(UpstreamFailure::Malformed)
        );
        let other = wire::encode(&reply_to(&q("www.example.org.", RecordType::A))).unwrap();
        assert_eq!(
            read_reply(&sent, &other),
            Err(UpstreamFailure::WrongQuestion)
        );
    }

    #[test]
    fn ids_vary_unless_seeded() {
        let ids = QueryIds::default();
        let drawn: std::collections::HashSet<u16> = (0..64).map(|_| ids.next()).collect();
        assert!(drawn.len() > 50);
        let run = |seed| {
            let ids = QueryIds::default();
            ids.seed(seed);
            (0..8).map(|_| ids.next()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
