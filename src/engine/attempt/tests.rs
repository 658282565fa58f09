//! Table tests for one exchange: what it sends, and how each reply or
//! failure moves it (TC=1 → TCP, FORMERR → without EDNS, deadlines,
//! replies of no use).

use std::net::IpAddr;

use hickory_proto::op::{Edns, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

use super::*;

const SERVER: &str = "192.0.2.1:53";
const WAITS: Waits = Waits {
    udp: Duration::from_millis(400),
    tcp: Duration::from_secs(5),
};

fn ms(n: u64) -> Mono {
    Duration::from_millis(n)
}

fn query(edns: bool) -> Message {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("www.example.").unwrap(),
        RecordType::A,
    ));
    if edns {
        m.set_edns(Edns::new());
    }
    m
}

fn window(client: Option<u64>) -> Window {
    Window {
        start: ms(0),
        limit: Duration::from_secs(10),
        client: client.map(ms),
    }
}

fn exchange(edns: bool, subnet: Option<ClientNet>) -> Exchange {
    Exchange::new(
        SERVER.parse().unwrap(),
        query(edns),
        subnet,
        false,
        window(None),
    )
}

/// A reply to what was sent last, shaped by `f`, as bytes.
fn reply(ex: &Exchange, f: impl FnOnce(&mut Message)) -> ReplyBytes {
    let mut r = ex.query().clone();
    r.metadata.message_type = MessageType::Response;
    f(&mut r);
    Ok(r.to_vec().unwrap())
}

fn sent(next: Next) -> Send {
    match next {
        Next::Send(s) => s,
        other => panic!("expected a send, got {other:?}"),
    }
}

#[test]
fn sends_the_encoded_query_with_the_given_id_over_udp() {
    let mut ex = exchange(true, None);
    let s = sent(ex.next(ms(0), 0x1234, WAITS));
    assert_eq!(s.protocol, Protocol::Udp);
    assert_eq!(s.timeout, WAITS.udp);
    assert_eq!(s.server, SERVER.parse().unwrap());
    let m = Message::from_vec(&s.bytes).unwrap();
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.queries, query(true).queries);
    assert!(m.edns.is_some());
}

/// Each row: the reply's shape, what is heard, and what comes next.
#[test]
fn replies_move_the_exchange() {
    struct Row {
        what: &'static str,
        shape: fn(&mut Message),
        then: Then,
        /// The next send's protocol and EDNS, or None when done.
        resend: Option<(Protocol, bool)>,
    }
    let rows = [
        Row {
            what: "a plain answer is used",
            shape: |_| {},
            then: Then::Use { scope: 0 },
            resend: None,
        },
        Row {
            what: "TC=1 over UDP: again over TCP",
            shape: |m| m.metadata.truncation = true,
            then: Then::OverTcp,
            resend: Some((Protocol::Tcp, true)),
        },
        Row {
            what: "FORMERR without OPT to EDNS: again without EDNS",
            shape: |m| {
                m.metadata.response_code = ResponseCode::FormErr;
                m.edns = None;
            },
            then: Then::WithoutEdns,
            resend: Some((Protocol::Udp, false)),
        },
        Row {
            what: "FORMERR with OPT is an answer like any other",
            shape: |m| m.metadata.response_code = ResponseCode::FormErr,
            then: Then::Use { scope: 0 },
            resend: None,
        },
    ];
    for row in rows {
        let mut ex = exchange(true, None);
        sent(ex.next(ms(0), 1, WAITS));
        let got = reply(&ex, row.shape);
        assert_eq!(
            ex.on_reply(ms(30), got),
            Heard::Reply {
                rtt: ms(30),
                then: row.then
            },
            "{}",
            row.what
        );
        match (ex.next(ms(30), 2, WAITS), row.resend) {
            (Next::Send(s), Some((protocol, edns))) => {
                assert_eq!(s.protocol, protocol, "{}", row.what);
                let m = Message::from_vec(&s.bytes).unwrap();
                assert_eq!(m.edns.is_some(), edns, "{}", row.what);
                assert_eq!(m.metadata.id, 2, "{}: a fresh ID per send", row.what);
            }
            (Next::Done(Ok(m)), None) => assert_eq!(m.queries, query(true).queries),
            (other, _) => panic!("{}: {other:?}", row.what),
        }
    }
}

#[test]
fn failures_end_the_exchange_typed() {
    let rows = [
        (Err(UpstreamFailure::Timeout), ExchangeError::Timeout),
        (
            Err(UpstreamFailure::Network(
                std::io::ErrorKind::ConnectionRefused,
            )),
            ExchangeError::Timeout,
        ),
        (Err(UpstreamFailure::Closed), ExchangeError::Timeout),
        (Ok(vec![0, 1, 0x80]), ExchangeError::Other),
    ];
    for (got, want) in rows {
        let mut ex = exchange(false, None);
        sent(ex.next(ms(0), 1, WAITS));
        let failure = got.clone().err().unwrap_or(UpstreamFailure::Malformed);
        assert_eq!(
            ex.on_reply(ms(5), got),
            Heard::Failed {
                failure,
                counts: true
            }
        );
        assert_eq!(ex.next(ms(5), 2, WAITS), Next::Done(Err(want)));
    }
}

#[test]
fn a_reply_to_another_question_is_of_no_use() {
    let mut ex = exchange(false, None);
    sent(ex.next(ms(0), 1, WAITS));
    let got = reply(&ex, |m| {
        m.queries = vec![Query::query(
            Name::from_ascii("other.example.").unwrap(),
            RecordType::A,
        )]
    });
    assert_eq!(
        ex.on_reply(ms(5), got),
        Heard::Failed {
            failure: UpstreamFailure::WrongQuestion,
            counts: true
        }
    );
    assert_eq!(
        ex.next(ms(5), 2, WAITS),
        Next::Done(Err(ExchangeError::Other))
    );
}

#[test]
fn truncated_over_tcp_is_given_up() {
    let mut ex = exchange(false, None);
    sent(ex.next(ms(0), 1, WAITS));
    let tc = reply(&ex, |m| m.metadata.truncation = true);
    ex.on_reply(ms(5), tc);
    let s = sent(ex.next(ms(5), 2, WAITS));
    assert_eq!((s.protocol, s.timeout), (Protocol::Tcp, WAITS.tcp));
    let tc = reply(&ex, |m| m.metadata.truncation = true);
    assert_eq!(
        ex.on_reply(ms(9), tc),
        Heard::Reply {
            rtt: ms(4),
            then: Then::TruncatedTcp
        }
    );
    assert_eq!(
        ex.next(ms(9), 3, WAITS),
        Next::Done(Err(ExchangeError::Other))
    );
}

#[test]
fn time_limits_cut_the_wait_and_end_the_exchange() {
    // The resolution's limit: 10 s from its start.
    let mut ex = exchange(false, None);
    let s = sent(ex.next(ms(9_900), 1, WAITS));
    assert_eq!(s.timeout, ms(100));
    let mut ex = exchange(false, None);
    assert_eq!(ex.next(ms(10_000), 1, WAITS), Next::Late(Late::Query));
    // The client deadline cuts the wait short: a timeout then does not
    // count against the server.
    let mut ex = Exchange::new(
        SERVER.parse().unwrap(),
        query(false),
        None,
        false,
        window(Some(150)),
    );
    assert_eq!(sent(ex.next(ms(100), 1, WAITS)).timeout, ms(50));
    assert_eq!(
        ex.on_reply(ms(150), Err(UpstreamFailure::Timeout)),
        Heard::Failed {
            failure: UpstreamFailure::Timeout,
            counts: false
        }
    );
    let mut ex = Exchange::new(
        SERVER.parse().unwrap(),
        query(false),
        None,
        false,
        window(Some(150)),
    );
    assert_eq!(ex.next(ms(150), 1, WAITS), Next::Late(Late::Client));
}

/// Both fallbacks in one exchange: FORMERR to EDNS, then TC=1 without
/// it, then the answer over TCP; each send with its own ID.
#[test]
fn the_fallbacks_chain_within_the_send_limit() {
    let mut ex = exchange(true, None);
    let mut ids = Vec::new();
    type Shape = fn(&mut Message);
    let steps: [(Shape, Then); 3] = [
        (
            |m| {
                m.metadata.response_code = ResponseCode::FormErr;
                m.edns = None;
            },
            Then::WithoutEdns,
        ),
        (|m| m.metadata.truncation = true, Then::OverTcp),
        (|_| {}, Then::Use { scope: 0 }),
    ];
    for (i, (shape, then)) in steps.into_iter().enumerate() {
        let s = sent(ex.next(ms(0), 10 + i as u16, WAITS));
        ids.push(Message::from_vec(&s.bytes).unwrap().metadata.id);
        let got = reply(&ex, shape);
        assert_eq!(ex.on_reply(ms(0), got), Heard::Reply { rtt: ms(0), then });
    }
    assert_eq!(ids, [10, 11, 12]);
    assert_eq!(ex.sends, MAX_SENDS);
    match ex.next(ms(0), 13, WAITS) {
        Next::Done(Ok(m)) => assert!(m.edns.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_subnet_replies_are_checked() {
    let net = ClientNet {
        addr: IpAddr::from([198, 51, 100, 0]),
        prefix: 24,
    };
    let option = |addr: [u8; 4], scope: u8| {
        let mut e = Edns::new();
        let cs = ClientSubnet::new(IpAddr::from(addr), 24, scope);
        e.options_mut().insert(EdnsOption::Subnet(cs));
        e
    };
    let mut ex = exchange(true, Some(net));
    sent(ex.next(ms(0), 1, WAITS));
    let ours = reply(&ex, |m| {
        m.set_edns(option([198, 51, 100, 0], 24));
    });
    assert_eq!(
        ex.on_reply(ms(2), ours),
        Heard::Reply {
            rtt: ms(2),
            then: Then::Use { scope: 24 }
        }
    );
    let mut ex = exchange(true, Some(net));
    sent(ex.next(ms(0), 1, WAITS));
    let theirs = reply(&ex, |m| {
        m.set_edns(option([203, 0, 113, 0], 24));
    });
    assert_eq!(
        ex.on_reply(ms(2), theirs),
        Heard::Reply {
            rtt: ms(2),
            then: Then::OtherSubnet
        }
    );
    // Without EDNS no subnet is sent, so none is checked.
    let mut ex = exchange(false, Some(net));
    sent(ex.next(ms(0), 1, WAITS));
    let plain = reply(&ex, |_| {});
    assert_eq!(
        ex.on_reply(ms(2), plain),
        Heard::Reply {
            rtt: ms(2),
            then: Then::Use { scope: 0 }
        }
    );
}

#[test]
fn the_result_is_known_before_another_send_is_asked_for() {
    let mut ex = exchange(true, None);
    assert!(ex.ended().is_none(), "nothing sent yet");
    sent(ex.next(ms(0), 1, WAITS));
    assert!(ex.ended().is_none(), "waiting for the reply");
    let got = reply(&ex, |_| {});
    ex.on_reply(ms(5), got);
    match ex.ended() {
        Some(Ok(m)) => assert_eq!(m.queries, query(true).queries),
        other => panic!("{other:?}"),
    }
    // Taken once; a timeout ends the next exchange typed.
    let mut ex = exchange(true, None);
    sent(ex.next(ms(0), 2, WAITS));
    ex.on_reply(ms(400), Err(UpstreamFailure::Timeout));
    assert_eq!(
        ex.ended().map(|r| r.err()),
        Some(Some(ExchangeError::Timeout))
    );
}
