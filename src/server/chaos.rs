//! Server identification in the CHAOS class: `id.server.` and
//! `hostname.bind.` give the configured identity (RFC 4892 §2.2, and the
//! older BIND convention), `version.server.` and `version.bind.` the
//! configured version. A name whose text is not configured is refused,
//! as a server that hides it does.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::ServerConfig;

/// What a CHAOS identification query gets: None if `query` is not one.
pub enum ChaosAnswer {
    /// TXT record with the text.
    Text(Box<Record>),
    /// The text is not configured: REFUSED.
    Hidden,
}

/// The answer to a CHAOS TXT (or ANY) query for one of the four names.
pub fn answer(query: &Message, cfg: &ServerConfig) -> Option<ChaosAnswer> {
    let [q] = query.queries.as_slice() else {
        return None;
    };
    if q.query_class() != DNSClass::CH
        || !matches!(q.query_type(), RecordType::TXT | RecordType::ANY)
    {
        return None;
    }
    let name = q.name().to_lowercase();
    let is = |s: &str| Name::from_ascii(s).is_ok_and(|n| n == name);
    let text = if is("id.server.") || is("hostname.bind.") {
        &cfg.identity
    } else if is("version.server.") || is("version.bind.") {
        &cfg.version
    } else {
        return None;
    };
    Some(match text {
        Some(t) => {
            let mut r =
                Record::from_rdata(q.name().clone(), 0, RData::TXT(TXT::new(vec![t.clone()])));
            r.dns_class = DNSClass::CH;
            ChaosAnswer::Text(Box::new(r))
        }
        None => ChaosAnswer::Hidden,
    })
}

/// The rcode of a `ChaosAnswer`.
pub fn rcode(a: &ChaosAnswer) -> ResponseCode {
    match a {
        ChaosAnswer::Text(_) => ResponseCode::NoError,
        ChaosAnswer::Hidden => ResponseCode::Refused,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};

    fn q(name: &str, class: DNSClass, t: RecordType) -> Message {
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        let mut query = Query::query(Name::from_ascii(name).unwrap(), t);
        query.set_query_class(class);
        m.add_query(query);
        m
    }

    #[test]
    fn the_four_names_and_nothing_else() {
        let cfg = ServerConfig {
            identity: Some("ns1".into()),
            version: None,
            ..ServerConfig::default()
        };
        for name in ["id.server.", "HOSTNAME.bind."] {
            match answer(&q(name, DNSClass::CH, RecordType::TXT), &cfg) {
                Some(ChaosAnswer::Text(r)) => {
                    assert_eq!(r.dns_class, DNSClass::CH);
                    assert_eq!(r.data, RData::TXT(TXT::new(vec!["ns1".into()])));
                }
                _ => panic!("{name}"),
            }
        }
        for name in ["version.server.", "version.bind."] {
            assert!(matches!(
                answer(&q(name, DNSClass::CH, RecordType::TXT), &cfg),
                Some(ChaosAnswer::Hidden)
            ));
        }
        assert!(answer(&q("id.server.", DNSClass::IN, RecordType::TXT), &cfg).is_none());
        assert!(answer(&q("id.server.", DNSClass::CH, RecordType::A), &cfg).is_none());
        assert!(answer(&q("other.bind.", DNSClass::CH, RecordType::TXT), &cfg).is_none());
    }
}
