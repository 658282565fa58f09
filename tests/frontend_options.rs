//! The front end's EDNS options, through `Handler::handle` on a scripted
//! network: DNS cookies (RFC 7873, server cookies per RFC 9018) and
//! edns-tcp-keepalive (RFC 7828).

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use tern::clock::{Clock, ManualClock};
use tern::config::load_str;
use tern::server::cookie::server_cookie;
use tern::server::Handler;
use tern::testkit::TestNet;
use tern::upstream::Protocol;

const SECRET: &str = "000102030405060708090a0b0c0d0e0f";

fn handler(extra: &str) -> (Handler<Arc<TestNet>, Arc<ManualClock>>, Arc<ManualClock>) {
    let config = load_str(
        &format!("[dnssec]\nvalidate = false\n[server]\n{extra}\n"),
        "t.toml",
    )
    .unwrap();
    let (resolver, clock) = tern::testkit::root_only_resolver(config);
    (Handler::new(Arc::new(resolver)), clock)
}

fn query(options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("www.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    for (code, data) in options {
        e.options_mut()
            .insert(EdnsOption::Unknown(*code, data.clone()));
    }
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn option(reply: &Message, code: u16) -> Vec<Vec<u8>> {
    reply
        .edns
        .as_ref()
        .unwrap()
        .options()
        .options
        .iter()
        .filter(|(c, _)| *c == EdnsCode::from(code))
        .map(|(_, o)| match o {
            EdnsOption::Unknown(_, d) => d.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn client() -> SocketAddr {
    "127.0.0.1:5353".parse().unwrap()
}

#[tokio::test]
async fn a_client_cookie_comes_back_with_a_verifiable_server_cookie() {
    let (h, clock) = handler(&format!(
        "answer_cookie = true\ncookie_secret = \"{SECRET}\""
    ));
    let client_cookie = [1u8, 2, 3, 4, 5, 6, 7, 8];
    // Two cookie options: only one comes back.
    let q = query(&[(10, client_cookie.to_vec()), (10, client_cookie.to_vec())]);
    let reply = Message::from_vec(&h.handle(&q, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1);
    let secret = tern::server::cookie::parse_secret(SECRET).unwrap();
    let server = server_cookie(&secret, &client_cookie, client().ip(), clock.unix_secs());
    let mut want = client_cookie.to_vec();
    want.extend_from_slice(&server);
    assert_eq!(option(&reply, 10), vec![want]);
    // A malformed cookie (RFC 7873 §5.2.2).
    let q = query(&[(10, vec![1, 2, 3, 4, 5])]);
    let reply = Message::from_vec(&h.handle(&q, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
}

#[tokio::test]
async fn without_answer_cookie_no_cookie_is_sent() {
    let (h, _) = handler("");
    let q = query(&[(10, vec![1; 8])]);
    let reply = Message::from_vec(&h.handle(&q, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(option(&reply, 10).is_empty());
}

#[tokio::test]
async fn keepalive_goes_over_tcp_only() {
    let (h, _) = handler("edns_tcp_keepalive = true\ntcp_idle_timeout_ms = 12000");
    let q = query(&[(11, Vec::new())]);
    let tcp = Message::from_vec(&h.handle(&q, client(), Protocol::Tcp).await.unwrap()).unwrap();
    assert_eq!(option(&tcp, 11), vec![vec![0, 120]]);
    let udp = Message::from_vec(&h.handle(&q, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert!(option(&udp, 11).is_empty());
    // Served from the packet cache over TCP too (no option in the query).
    let plain = query(&[]);
    let _ = h.handle(&plain, client(), Protocol::Udp).await.unwrap();
    let again =
        Message::from_vec(&h.handle(&plain, client(), Protocol::Tcp).await.unwrap()).unwrap();
    assert_eq!(option(&again, 11), vec![vec![0, 120]]);
    // A client may not send a timeout (RFC 7828 §3.2.1).
    let bad = query(&[(11, vec![0, 10])]);
    let r = Message::from_vec(&h.handle(&bad, client(), Protocol::Tcp).await.unwrap()).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    // Over UDP the option means nothing and is ignored (RFC 7828 §3.2.1).
    let r = Message::from_vec(&h.handle(&bad, client(), Protocol::Udp).await.unwrap()).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn allow_cookie_clients_need_a_valid_server_cookie_over_udp() {
    let (h, clock) = handler(&format!(
        "answer_cookie = true\ncookie_secret = \"{SECRET}\"\n\
         access_control = [{{ net = \"127.0.0.1/32\", action = \"allow_cookie\" }}]"
    ));
    let ask = |q: Vec<u8>, protocol| {
        let h = &h;
        async move { Message::from_vec(&h.handle(&q, client(), protocol).await.unwrap()).unwrap() }
    };
    // No cookie over UDP: REFUSED with TC, off to TCP, where it is answered.
    let mut plain = Message::new(7, MessageType::Query, OpCode::Query);
    plain.metadata.recursion_desired = true;
    plain.add_query(Query::query(
        Name::from_ascii("www.").unwrap(),
        RecordType::A,
    ));
    let reply = ask(plain.to_vec().unwrap(), Protocol::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(reply.metadata.truncation);
    let reply = ask(plain.to_vec().unwrap(), Protocol::Tcp).await;
    assert_eq!(reply.answers.len(), 1);
    // A client cookie alone: BADCOOKIE, with a server cookie to use next.
    let client_cookie = [9u8; 8];
    let reply = ask(query(&[(10, client_cookie.to_vec())]), Protocol::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::BADCOOKIE);
    assert!(reply.answers.is_empty());
    let given = option(&reply, 10);
    assert_eq!(given.len(), 1);
    assert_eq!(given[0].len(), 24);
    // That cookie is accepted.
    let reply = ask(query(&[(10, given[0].clone())]), Protocol::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1);
    // ...for an hour.
    clock.advance(std::time::Duration::from_secs(3601));
    let reply = ask(query(&[(10, given[0].clone())]), Protocol::Udp).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::BADCOOKIE);
}

#[tokio::test]
async fn a_query_carrying_authority_records_is_formerr_without_its_question() {
    let (h, _) = handler("");
    let mut m = Message::from_vec(&query(&[])).unwrap();
    let soa = "www. 0 IN SOA a. b. 12 0 0 0 0";
    let records = tern::testkit::Zone::parse(".", soa).unwrap().records;
    m.authorities = records;
    let reply = h
        .handle(&m.to_vec().unwrap(), client(), Protocol::Udp)
        .await
        .unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert!(reply.queries.is_empty(), "nothing of the query is echoed");
    assert!(reply.authorities.is_empty());
    // The same question without the record is answered.
    let ok = Message::from_vec(
        &h.handle(&query(&[]), client(), Protocol::Udp)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ok.metadata.response_code, ResponseCode::NoError);
}
