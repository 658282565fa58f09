//! EDNS(0) padding (RFC 7830) of replies sent over encrypted transports,
//! and their keepalive option (RFC 7828) made right for them.
//!
//! RFC 8467 §4.1 recommends the Block-Length Padding strategy: a server
//! that receives a query with the Padding option pads the reply to the
//! next multiple of 468 octets (clients pad queries to multiples of 128).
//! Replies to queries without the option are not padded (RFC 7830 §4:
//! the option in a query is what tells the server the client handles
//! it), and unencrypted replies never are (RFC 7830 §6: padding in the
//! clear only wastes bytes). When the padded reply would not fit in a
//! DNS message over a stream (65535 octets), the padding is shortened
//! to what fits.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

use super::Handler;
use crate::clock::Clock;
use crate::upstream::Transport;
use crate::wire;

/// The Padding option's code (RFC 7830 §3).
pub const PADDING_CODE: u16 = 12;

/// Replies are padded to a multiple of this (RFC 8467 §4.1).
pub const RESPONSE_BLOCK: usize = 468;

/// The largest DNS message over a stream (two-byte length prefix).
const STREAM_MAX: usize = 65_535;

/// Bytes an option adds besides its data (code and length).
const OPTION_HEADER: usize = 4;

/// Whether `query` carries the Padding option.
pub fn query_asks(query: &[u8]) -> bool {
    wire::parse(query).is_ok_and(|m| {
        m.edns
            .as_ref()
            .is_some_and(|e| e.option(EdnsCode::Padding).is_some())
    })
}

/// `reply` padded to a multiple of `block` octets (at most `STREAM_MAX`);
/// unchanged when it has no OPT record or does not parse.
pub fn pad(reply: Vec<u8>, block: usize) -> Vec<u8> {
    let Ok(mut m) = wire::parse(&reply) else {
        return reply;
    };
    let Some(edns) = m.edns.as_mut() else {
        return reply;
    };
    edns.options_mut().remove(EdnsCode::Padding);
    let Some(bare) = wire::encode(&m) else {
        return reply;
    };
    let with_option = bare.len() + OPTION_HEADER;
    if with_option > STREAM_MAX || block == 0 {
        return reply;
    }
    let target = with_option
        .div_ceil(block)
        .saturating_mul(block)
        .min(STREAM_MAX);
    let fill = target - with_option;
    insert_padding(&mut m, fill);
    wire::encode(&m)
        .filter(|b| b.len() <= STREAM_MAX)
        .unwrap_or(reply)
}

fn insert_padding(m: &mut Message, fill: usize) {
    if let Some(edns) = m.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Unknown(PADDING_CODE, vec![0; fill]));
    }
}

/// The reply to an encrypted query as sent. The handler wrote it as for
/// TCP; over DoT the keepalive option (RFC 7828) announces the encrypted
/// pool's idle timeout instead of TCP's; over DoH it is removed (the
/// option describes a DNS stream connection, and a DoH connection's life
/// is HTTP's business).
/// Then it is padded when the query asked for it and `tls.padding` is on.
pub fn pad_reply<T: Transport, C: Clock>(
    handler: &Handler<T, C>,
    query: &[u8],
    reply: Vec<u8>,
    https: bool,
) -> Vec<u8> {
    let config = handler.resolver().config();
    let keepalive = config.server.edns_tcp_keepalive;
    let reply = if keepalive {
        rewrite_keepalive(reply, (!https).then_some(config.tls.idle_timeout))
    } else {
        reply
    };
    if config.tls.padding && query_asks(query) {
        pad(reply, RESPONSE_BLOCK)
    } else {
        reply
    }
}

/// `reply` with its keepalive option set to `idle`, or removed (None);
/// unchanged when it has none.
fn rewrite_keepalive(reply: Vec<u8>, idle: Option<std::time::Duration>) -> Vec<u8> {
    let code = EdnsCode::from(super::keepalive::KEEPALIVE_CODE);
    let Ok(mut m) = wire::parse(&reply) else {
        return reply;
    };
    if m.edns.as_ref().is_none_or(|e| e.option(code).is_none()) {
        return reply;
    }
    match idle {
        Some(idle) => super::keepalive::add(&mut m, idle),
        None => {
            if let Some(e) = m.edns.as_mut() {
                e.options_mut().remove(code);
            }
        }
    }
    wire::encode(&m).unwrap_or(reply)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn reply(answers: usize, edns: bool) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        let name = Name::from_ascii("www.example.org.").unwrap();
        m.add_query(Query::query(name.clone(), RecordType::A));
        for i in 0..answers {
            let ip = std::net::Ipv4Addr::new(192, 0, 2, i as u8);
            m.add_answer(Record::from_rdata(name.clone(), 60, RData::A(ip.into())));
        }
        if edns {
            m.set_edns(Edns::new());
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn replies_are_padded_to_whole_blocks() {
        for answers in [0, 1, 5, 40] {
            let plain = reply(answers, true);
            let padded = pad(plain.clone(), RESPONSE_BLOCK);
            assert_eq!(padded.len() % RESPONSE_BLOCK, 0, "{answers} answers");
            assert!(padded.len() >= plain.len() + OPTION_HEADER);
            assert!(padded.len() < plain.len() + OPTION_HEADER + RESPONSE_BLOCK);
            let m = wire::parse(&padded).unwrap();
            assert_eq!(m.answers.len(), answers);
            let opt = m.edns.unwrap();
            assert!(opt.option(EdnsCode::Padding).is_some());
        }
    }

    #[test]
    fn padding_twice_gives_the_same_length() {
        let once = pad(reply(3, true), RESPONSE_BLOCK);
        let twice = pad(once.clone(), RESPONSE_BLOCK);
        assert_eq!(once.len(), twice.len());
    }

    #[test]
    fn keepalive_is_rewritten_or_removed() {
        let mut m = wire::parse(&reply(1, true)).unwrap();
        crate::server::keepalive::add(&mut m, std::time::Duration::from_secs(10));
        let with = m.to_vec().unwrap();
        let code = EdnsCode::from(crate::server::keepalive::KEEPALIVE_CODE);
        let option = |bytes: &[u8]| {
            let m = wire::parse(bytes).unwrap();
            m.edns
                .unwrap()
                .option(code)
                .map(|o| Vec::<u8>::try_from(o).unwrap())
        };
        assert_eq!(option(&with), Some(vec![0, 100]));
        let dot = rewrite_keepalive(with.clone(), Some(std::time::Duration::from_secs(3)));
        assert_eq!(option(&dot), Some(vec![0, 30]));
        let doh = rewrite_keepalive(with, None);
        assert_eq!(option(&doh), None);
        let without = reply(1, true);
        assert_eq!(rewrite_keepalive(without.clone(), None), without);
    }

    #[test]
    fn replies_without_opt_are_left_alone() {
        let plain = reply(2, false);
        assert_eq!(pad(plain.clone(), RESPONSE_BLOCK), plain);
        assert_eq!(pad(vec![1, 2, 3], RESPONSE_BLOCK), vec![1, 2, 3]);
    }

    #[test]
    fn only_queries_with_the_option_ask() {
        let mut q = Message::new(1, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(Name::root(), RecordType::NS));
        let mut e = Edns::new();
        q.set_edns(e.clone());
        assert!(!query_asks(&q.to_vec().unwrap()));
        e.options_mut()
            .insert(EdnsOption::Unknown(PADDING_CODE, vec![0; 20]));
        q.set_edns(e);
        assert!(query_asks(&q.to_vec().unwrap()));
        assert!(!query_asks(&[0, 1]));
    }
}
