//! The edns-tcp-keepalive option (RFC 7828) on the client side of tern:
//! a TCP reply to a query with EDNS carries the idle timeout tern applies
//! to the connection (§3.3.2 allows it whether or not the query had the
//! option); a query whose option carries a TIMEOUT, which only servers
//! send, is malformed (§3.2.1). UDP replies never carry it (§3.3.2).

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

/// The option code (RFC 7828 §3.1).
pub const KEEPALIVE_CODE: u16 = 11;

/// Whether `query` holds a keepalive option with a TIMEOUT (a client must
/// send it empty): answered FORMERR.
pub fn malformed(query: &Message) -> bool {
    query
        .edns
        .as_ref()
        .and_then(|e| e.option(EdnsCode::from(KEEPALIVE_CODE)))
        .is_some_and(|o| !o.is_empty())
}

/// Adds the option with `idle` (in units of 100 ms, at most 65535) to a
/// reply that has EDNS.
pub fn add(reply: &mut Message, idle: Duration) {
    let Some(edns) = reply.edns.as_mut() else {
        return;
    };
    let units = u16::try_from(idle.as_millis() / 100).unwrap_or(u16::MAX);
    edns.options_mut().remove(EdnsCode::from(KEEPALIVE_CODE));
    edns.options_mut().insert(EdnsOption::Unknown(
        KEEPALIVE_CODE,
        units.to_be_bytes().to_vec(),
    ));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use hickory_proto::op::{Edns, MessageType, OpCode};

    fn with_option(data: Option<Vec<u8>>) -> Message {
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        let mut e = Edns::new();
        if let Some(d) = data {
            e.options_mut()
                .insert(EdnsOption::Unknown(KEEPALIVE_CODE, d));
        }
        m.set_edns(e);
        m
    }

    #[test]
    fn a_client_timeout_is_malformed() {
        assert!(malformed(&with_option(Some(vec![0, 0xff]))));
        assert!(!malformed(&with_option(Some(Vec::new()))));
        assert!(!malformed(&with_option(None)));
        assert!(!malformed(&Message::new(
            1,
            MessageType::Query,
            OpCode::Query
        )));
    }

    #[test]
    fn the_reply_carries_the_idle_timeout_in_tenths() {
        let mut r = with_option(Some(Vec::new()));
        add(&mut r, Duration::from_secs(30));
        let o = r
            .edns
            .as_ref()
            .and_then(|e| e.option(EdnsCode::from(KEEPALIVE_CODE)))
            .cloned();
        assert_eq!(
            o,
            Some(EdnsOption::Unknown(KEEPALIVE_CODE, vec![0x01, 0x2c]))
        );
        let mut big = with_option(None);
        add(&mut big, Duration::from_secs(100_000));
        let o = big
            .edns
            .as_ref()
            .and_then(|e| e.option(EdnsCode::from(KEEPALIVE_CODE)))
            .cloned();
        assert_eq!(
            o,
            Some(EdnsOption::Unknown(KEEPALIVE_CODE, vec![0xff, 0xff]))
        );
        let mut none = Message::new(1, MessageType::Response, OpCode::Query);
        add(&mut none, Duration::from_secs(1));
        assert!(none.edns.is_none());
    }
}
