//! The messages of one exchange: the query as sent (a fresh ID, EDNS with
//! DO, the client string), encoded through `wire/`, and the reply's bytes
//! parsed and checked against it (RFC 5452 §9.1: ID, question and QR=1).
//! The transport only carries the bytes. The check (`check_reply`) is the
//! one `tern dig` applies too, each mismatch a type dig words its own way.

use std::net::IpAddr;
use std::sync::Mutex;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
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

    /// A query for `qname`/`qtype`/`class`, with EDNS (our payload size,
    /// DO=1 when validating) when `edns`. Its ID is 0: the exchange gives
    /// each send a fresh one (`attempt::Exchange::next`).
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

/// The bytes of `sent`, as the transport sends them (written directly for
/// every query built here, `wire::encode`).
pub(super) fn encode(sent: &Message) -> Result<Vec<u8>, UpstreamFailure> {
    wire::encode(sent).ok_or(UpstreamFailure::Network(std::io::ErrorKind::InvalidInput))
}

/// The reply in `bytes`, if it answers `sent`: bytes that do not parse are
/// `Malformed`, a message that does not answer our query (`check_reply`)
/// is `WrongQuestion`. Records that do not decode are dropped
/// (`wire::parse_reply`).
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

/// Why a message is not the reply to a query (RFC 5452 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Too short to carry an ID.
    Short,
    /// Another ID.
    Id { sent: u16, got: u16 },
    /// Another question (name, type, class or count).
    Question,
    /// No question, with neither an error rcode nor TC=1 to excuse it.
    BareHeader,
    /// QR=0: a query, not a response.
    NotResponse,
}

/// Which replies without a question section are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// Only FORMERR, NOTIMP or REFUSED, or TC=1: servers that reject EDNS
    /// or the opcode often answer with a bare header, and NSD with
    /// `refuse-any` answers a UDP ANY query with a bare TC=1 header (RFC
    /// 8482 §4.4: retry over TCP). The resolver's rule.
    ErrorOrTc,
    /// Any: `tern dig` shows what came, as dig does.
    Any,
}

/// What the check reads of a reply's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub id: u16,
    pub response: bool,
    pub truncated: bool,
    /// The header's 4-bit RCODE.
    pub rcode: u8,
    /// QDCOUNT; None when the bytes end before it.
    pub questions: Option<u16>,
}

impl Head {
    /// The header in `bytes`, as far as they go (`Short` without an ID).
    pub fn of_bytes(bytes: &[u8]) -> Result<Head, Mismatch> {
        let at = |i: usize| -> Option<u16> {
            Some(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]))
        };
        let id = at(0).ok_or(Mismatch::Short)?;
        let flags = at(2).unwrap_or(0);
        Ok(Head {
            id,
            response: flags & 0x8000 != 0,
            truncated: flags & 0x0200 != 0,
            rcode: (flags & 0x000f) as u8,
            questions: at(4),
        })
    }

    /// The header of a parsed message.
    pub fn of_message(m: &Message) -> Head {
        Head {
            id: m.metadata.id,
            response: m.metadata.message_type == MessageType::Response,
            truncated: m.metadata.truncation,
            rcode: m.metadata.response_code.low(),
            questions: Some(u16::try_from(m.queries.len()).unwrap_or(u16::MAX)),
        }
    }
}

/// Does a reply with header `got` answer the query with ID `sent_id`
/// (RFC 5452 §9.1)? Its ID first, then its question (`same_question`
/// compares it, asked only when there is one; `bare` says which replies
/// may lack it), then QR=1.
pub fn check_reply(
    sent_id: u16,
    got: &Head,
    bare: Bare,
    same_question: impl FnOnce() -> bool,
) -> Result<(), Mismatch> {
    if got.id != sent_id {
        return Err(Mismatch::Id {
            sent: sent_id,
            got: got.id,
        });
    }
    if got.questions == Some(0) {
        let excused = got.truncated
            || [
                ResponseCode::FormErr,
                ResponseCode::NotImp,
                ResponseCode::Refused,
            ]
            .iter()
            .any(|r| r.low() == got.rcode);
        if bare == Bare::ErrorOrTc && !excused {
            return Err(Mismatch::BareHeader);
        }
    } else if !same_question() {
        return Err(Mismatch::Question);
    }
    if !got.response {
        return Err(Mismatch::NotResponse);
    }
    Ok(())
}

/// Whether two names are the same, ASCII case aside (RFC 4343).
fn same_name(a: &Name, b: &Name) -> bool {
    a.num_labels() == b.num_labels()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Whether two questions are the same.
fn same_query(a: &Query, b: &Query) -> bool {
    a.query_type() == b.query_type()
        && a.query_class() == b.query_class()
        && same_name(a.name(), b.name())
}

/// Does `reply` answer `sent` (`check_reply` with the resolver's rule for
/// bare headers; every question compared)?
pub fn reply_matches(sent: &Message, reply: &Message) -> bool {
    let same = || {
        reply.queries.len() == sent.queries.len()
            && reply
                .queries
                .iter()
                .zip(&sent.queries)
                .all(|(r, s)| same_query(r, s))
    };
    check_reply(
        sent.metadata.id,
        &Head::of_message(reply),
        Bare::ErrorOrTc,
        same,
    )
    .is_ok()
}

/// Whether the first questions of two messages in wire form are the same
/// (ASCII case aside); false when either does not decode.
pub fn same_first_question(a: &[u8], b: &[u8]) -> bool {
    match (first_question(a), first_question(b)) {
        (Some(x), Some(y)) => same_query(&x, &y),
        _ => false,
    }
}

/// The first question of a message in wire form.
fn first_question(bytes: &[u8]) -> Option<Query> {
    let mut dec = BinDecoder::new(bytes);
    dec.read_slice(12).ok()?;
    Query::read(&mut dec).ok()
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
    fn each_mismatch_is_typed_in_order_id_question_qr() {
        let sent = q("www.example.com.", RecordType::A);
        let bytes = |m: &Message| wire::encode(m).unwrap();
        let (query, ok) = (bytes(&sent), bytes(&reply_to(&sent)));
        let check = |reply: &[u8], bare| {
            let head = Head::of_bytes(reply)?;
            check_reply(42, &head, bare, || same_first_question(&query, reply))
        };
        assert_eq!(check(&ok, Bare::ErrorOrTc), Ok(()));
        assert_eq!(check(&ok[..1], Bare::Any), Err(Mismatch::Short));
        let mut other_id = ok.clone();
        other_id[1] = 7;
        assert_eq!(
            check(&other_id, Bare::Any),
            Err(Mismatch::Id { sent: 42, got: 7 })
        );
        let other = bytes(&reply_to(&q("www.example.org.", RecordType::A)));
        assert_eq!(check(&other, Bare::Any), Err(Mismatch::Question));
        // Cut inside the question: it cannot be the same.
        assert_eq!(check(&ok[..20], Bare::Any), Err(Mismatch::Question));
        assert_eq!(check(&query, Bare::Any), Err(Mismatch::NotResponse));
        // A bare header: taken by dig, by the resolver only as an error
        // or TC=1.
        let mut bare = reply_to(&sent);
        bare.queries.clear();
        assert_eq!(check(&bytes(&bare), Bare::Any), Ok(()));
        assert_eq!(
            check(&bytes(&bare), Bare::ErrorOrTc),
            Err(Mismatch::BareHeader)
        );
        bare.metadata.response_code = ResponseCode::Refused;
        assert_eq!(check(&bytes(&bare), Bare::ErrorOrTc), Ok(()));
        // The same rule on a parsed message and on its bytes.
        for m in [reply_to(&sent), bare, sent.clone()] {
            assert_eq!(Head::of_message(&m), Head::of_bytes(&bytes(&m)).unwrap());
        }
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
