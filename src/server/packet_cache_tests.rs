//! Unit tests of the packet cache: keys, ID and case, TTL countdown,
//! expiry, generations, size bound, what is refused.

use std::net::Ipv4Addr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn query(name: &str, id: u16, payload: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    if let Some(p) = payload {
        let mut e = Edns::new();
        e.set_max_payload(p);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// A reply to `q` with two A records of the given TTLs, and OPT.
fn reply(q: &[u8], ttls: &[u32]) -> Vec<u8> {
    let q = Message::from_vec(q).unwrap();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.queries = q.queries.clone();
    let name = q.queries[0].name().clone();
    for (i, t) in ttls.iter().enumerate() {
        let a = A(Ipv4Addr::new(192, 0, 2, i as u8 + 1));
        m.add_answer(Record::from_rdata(name.clone(), *t, RData::A(a)));
    }
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true); // an OPT "TTL" that must not be touched
    m.set_edns(e);
    m.to_vec().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn hit_takes_id_from_query_and_counts_ttls_down() {
    let pc = PacketCache::new(1 << 20);
    let q1 = query("www.example.", 1, Some(1232));
    let r1 = reply(&q1, &[300, 60]);
    assert!(pc.put(&QueryKey::of(&q1).unwrap(), &r1, secs(1000), 7));
    let q2 = query("www.example.", 0xbeef, Some(4096));
    let got = pc
        .get(&QueryKey::of(&q2).unwrap(), 1232, secs(1010), 7)
        .unwrap();
    let m = Message::from_vec(&got).unwrap();
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(m.answers[0].ttl, 290);
    assert_eq!(m.answers[1].ttl, 50);
    assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
    // Apart from ID and TTLs, the bytes are the stored ones.
    let mut expect = Message::from_vec(&r1).unwrap();
    expect.metadata.id = 0xbeef;
    expect.answers[0].ttl = 290;
    expect.answers[1].ttl = 50;
    assert_eq!(got, expect.to_vec().unwrap());
    // Part of a second counts as a whole one (never past the real expiry).
    let got = pc
        .get(
            &QueryKey::of(&q2).unwrap(),
            1232,
            secs(1010) + Duration::from_millis(1),
            7,
        )
        .unwrap();
    assert_eq!(Message::from_vec(&got).unwrap().answers[1].ttl, 49);
}

#[test]
fn case_and_flags_are_part_of_the_key() {
    let pc = PacketCache::new(1 << 20);
    let q = query("www.example.", 1, Some(1232));
    assert!(pc.put(&QueryKey::of(&q).unwrap(), &reply(&q, &[300]), secs(0), 0));
    let upper = query("WWW.example.", 1, Some(1232));
    assert!(pc
        .get(&QueryKey::of(&upper).unwrap(), 1232, secs(1), 0)
        .is_none());
    let no_edns = query("www.example.", 1, None);
    assert!(pc
        .get(&QueryKey::of(&no_edns).unwrap(), 512, secs(1), 0)
        .is_none());
    let mut no_rd = q.clone();
    no_rd[2] &= !1;
    assert!(pc
        .get(&QueryKey::of(&no_rd).unwrap(), 1232, secs(1), 0)
        .is_none());
    // The question in the reply is the query's, case included.
    let upper_reply = reply(&upper, &[300]);
    assert!(pc.put(&QueryKey::of(&upper).unwrap(), &upper_reply, secs(0), 0));
    let got = pc
        .get(&QueryKey::of(&upper).unwrap(), 1232, secs(0), 0)
        .unwrap();
    let m = Message::from_vec(&got).unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "WWW.example.");
}

#[test]
fn expiry_generation_and_limit() {
    let pc = PacketCache::new(1 << 20);
    let q = query("www.example.", 1, Some(1232));
    let k = QueryKey::of(&q).unwrap();
    let r = reply(&q, &[300, 20]);
    assert!(pc.put(&k, &r, secs(100), 3));
    assert!(pc.get(&k, 1232, secs(119), 3).is_some());
    // The shortest TTL would reach 0: gone.
    assert!(pc.get(&k, 1232, secs(120), 3).is_none());
    assert!(pc.is_empty());
    assert!(pc.put(&k, &r, secs(100), 3));
    // The record cache changed since.
    assert!(pc.get(&k, 1232, secs(101), 4).is_none());
    assert!(pc.put(&k, &r, secs(100), 3));
    // Longer than the client takes: not served (the normal path truncates).
    assert!(pc.get(&k, r.len() - 1, secs(101), 3).is_none());
    assert!(pc.get(&k, r.len(), secs(101), 3).is_some());
}

#[test]
fn refuses_what_it_cannot_serve_again() {
    let pc = PacketCache::new(1 << 20);
    let q = query("www.example.", 1, Some(1232));
    let k = QueryKey::of(&q).unwrap();
    // No TTL at all (nothing to bound the entry's life).
    assert!(!pc.put(&k, &reply(&q, &[]), secs(0), 0));
    // A TTL under 2 seconds.
    assert!(!pc.put(&k, &reply(&q, &[300, 1]), secs(0), 0));
    // SERVFAIL, and a truncated reply.
    let mut m = Message::from_vec(&reply(&q, &[300])).unwrap();
    m.metadata.response_code = ResponseCode::ServFail;
    assert!(!pc.put(&k, &m.to_vec().unwrap(), secs(0), 0));
    m.metadata.response_code = ResponseCode::NoError;
    m.metadata.truncation = true;
    assert!(!pc.put(&k, &m.to_vec().unwrap(), secs(0), 0));
    // Cut short or with trailing bytes.
    let r = reply(&q, &[300]);
    assert!(!pc.put(&k, &r[..r.len() - 1], secs(0), 0));
    let mut long = r.clone();
    long.push(0);
    assert!(!pc.put(&k, &long, secs(0), 0));
    // NXDOMAIN with its SOA is fine.
    let mut nx = Message::from_vec(&r).unwrap();
    nx.answers.clear();
    nx.metadata.response_code = ResponseCode::NXDomain;
    let zone = Name::from_ascii("example.").unwrap();
    let soa = SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, 300);
    nx.add_authority(Record::from_rdata(zone, 300, RData::SOA(soa)));
    assert!(pc.put(&k, &nx.to_vec().unwrap(), secs(0), 0));
    assert!(pc.get(&k, 1232, secs(0), 0).is_some());
    assert!(!pc.is_empty());
}

#[test]
fn only_plain_queries_have_a_key() {
    let q = query("www.example.", 1, Some(1232));
    assert!(QueryKey::of(&q).is_some());
    assert!(QueryKey::of(&q[..q.len() - 1]).is_none());
    let mut trailing = q.clone();
    trailing.push(0);
    assert!(QueryKey::of(&trailing).is_none());
    // A response, another opcode, two questions.
    let mut resp = q.clone();
    resp[2] |= 0x80;
    assert!(QueryKey::of(&resp).is_none());
    let mut notify = q.clone();
    notify[2] |= 4 << 3;
    assert!(QueryKey::of(&notify).is_none());
    let mut two = q.clone();
    two[5] = 2;
    assert!(QueryKey::of(&two).is_none());
    // OPT with an option.
    let mut m = Message::from_vec(&q).unwrap();
    m.edns.as_mut().unwrap().options_mut().insert(
        hickory_proto::rr::rdata::opt::EdnsOption::Unknown(65001, vec![1]),
    );
    assert!(QueryKey::of(&m.to_vec().unwrap()).is_none());
    // Payload is left out of the key, EDNS presence is not.
    let a = QueryKey::of(&query("x.", 9, Some(512))).unwrap();
    let b = QueryKey::of(&query("x.", 10, Some(4096))).unwrap();
    assert_eq!(a.bytes(), b.bytes());
    assert_eq!(b.payload(), Some(4096));
    let c = QueryKey::of(&query("x.", 9, None)).unwrap();
    assert_ne!(a.bytes(), c.bytes());
    assert_eq!(c.payload(), None);
}

#[test]
fn memory_is_bounded() {
    let budget = 64 * 1024;
    let pc = PacketCache::new(budget);
    for i in 0..2000 {
        let q = query(&format!("host{i}.example."), 1, Some(1232));
        pc.put(
            &QueryKey::of(&q).unwrap(),
            &reply(&q, &[300, 300]),
            secs(0),
            0,
        );
    }
    assert!(pc.bytes() <= budget, "{} > {budget}", pc.bytes());
    assert!(pc.len() > 10 && pc.len() < 2000);
    // The most recent one is still there.
    let q = query("host1999.example.", 1, Some(1232));
    assert!(pc
        .get(&QueryKey::of(&q).unwrap(), 1232, secs(1), 0)
        .is_some());
}
