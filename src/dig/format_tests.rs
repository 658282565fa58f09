//! Table tests of dig's text layout (src/dig/format.rs), with expected
//! lines taken from Debian's dig 9.18 output.

use super::*;
use crate::dig::msg::{parse, Name, Question};

fn n(s: &str) -> Name {
    Name(
        s.split('.')
            .filter(|l| !l.is_empty())
            .map(|l| l.as_bytes().to_vec())
            .collect(),
    )
}

/// A reply with one A record per owner name given.
fn reply(owners: &[&str]) -> View {
    let mut m = vec![
        0x30,
        0x39,
        0x84,
        0x00,
        0,
        0,
        0,
        owners.len() as u8,
        0,
        0,
        0,
        0,
    ];
    for o in owners {
        for l in o.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
    }
    parse(&m).unwrap()
}

#[test]
fn record_columns_follow_dig() {
    let cases = [
        ("www.example.", "www.example.\t\t3600\tIN\tA\t192.0.2.1"),
        ("example.", "example.\t\t3600\tIN\tA\t192.0.2.1"),
        ("a.", "a.\t\t\t3600\tIN\tA\t192.0.2.1"),
        (
            "averyveryverylongname-for-padding-tests.example.",
            "averyveryverylongname-for-padding-tests.example. 3600 IN A 192.0.2.1",
        ),
        (
            "sixteen-chars.ex.",
            "sixteen-chars.ex.\t3600\tIN\tA\t192.0.2.1",
        ),
        (
            "twenty-three-chars.ex.",
            "twenty-three-chars.ex.\t3600\tIN\tA\t192.0.2.1",
        ),
        (
            "twenty-four-chars.examp.",
            "twenty-four-chars.examp. 3600\tIN\tA\t192.0.2.1",
        ),
    ];
    for (owner, line) in cases {
        let v = reply(&[owner]);
        assert_eq!(
            record_line(&v, &v.answers[0], &Style::default()),
            line,
            "{owner}"
        );
    }
}

#[test]
fn question_columns_follow_dig() {
    let st = Style::default();
    let q = |name: &str, t: u16| Question {
        name: n(name),
        qtype: t,
        qclass: 1,
    };
    assert_eq!(
        question_line(&q("www.example", 1), &st),
        ";www.example.\t\t\tIN\tA"
    );
    assert_eq!(
        question_line(&q("1.2.0.192.in-addr.arpa", 12), &st),
        ";1.2.0.192.in-addr.arpa.\t\tIN\tPTR"
    );
    assert_eq!(question_line(&q("", 2), &st), ";.\t\t\t\tIN\tNS");
}

#[test]
fn header_and_flags() {
    let v = reply(&["www.example."]);
    assert_eq!(
        header_lines(&v, true, true),
        ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 12345\n\
         ;; flags: qr aa; QUERY: 0, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0\n\n"
    );
    let mut bytes = v.bytes.clone();
    bytes[2] = 0x01; // RD only, a query
    bytes[3] = 0x23; // AD + NXDOMAIN
    let q = parse(&bytes).unwrap();
    assert_eq!(
        header_lines(&q, true, false),
        ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 12345\n\
         ;; flags: rd ad; QUERY: 0, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0\n\
         ;; WARNING: recursion requested but not available\n\n"
    );
}

#[test]
fn dates_like_ctime() {
    assert_eq!(when_text(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(when_text(1_795_464_487), "Mon Nov 23 20:08:07 UTC 2026");
    assert_eq!(when_text(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
}

#[test]
fn stats_block() {
    let d = std::time::Duration::from_micros(2_345);
    assert_eq!(query_time(d, false), "2 msec");
    assert_eq!(query_time(d, true), "2345 usec");
    assert_eq!(
        stats_text("3 msec", "127.0.0.1#53(127.0.0.1)", "UDP", "W", 90),
        ";; Query time: 3 msec\n;; SERVER: 127.0.0.1#53(127.0.0.1) (UDP)\n;; WHEN: W\n;; MSG SIZE  rcvd: 90\n\n"
    );
}

#[test]
fn hidden_columns_and_units_follow_dig() {
    let v = reply(&["www.example."]);
    let r = &v.answers[0];
    // (ttl, class, record line) as dig +[no]ttlid +[no]class prints them.
    let cases = [
        (false, true, "www.example.\t\tIN\tA\t192.0.2.1"),
        (true, false, "www.example.\t\t3600\tA\t192.0.2.1"),
        (false, false, "www.example.\t\tA\t192.0.2.1"),
    ];
    for (ttl, class, want) in cases {
        let st = Style {
            ttl,
            class,
            ..Style::default()
        };
        assert_eq!(record_line(&v, r, &st), want, "{ttl} {class}");
    }
    let q = Question {
        name: n("www.example"),
        qtype: 1,
        qclass: 1,
    };
    let both_off = Style {
        ttl: false,
        class: false,
        ..Style::default()
    };
    assert_eq!(question_line(&q, &both_off), ";www.example.\t\tIN A");
    let unknown = Style {
        unknown: true,
        ..Style::default()
    };
    assert_eq!(
        record_line(&v, r, &unknown),
        "www.example.\t\t3600\tCLASS1\tTYPE1\t\\# 4 C0000201"
    );
    assert_eq!(
        question_line(&q, &unknown),
        ";www.example.\t\t\tCLASS1\tTYPE1"
    );
    for (ttl, text) in [
        (0, "0s"),
        (3600, "1h"),
        (90_061, "1d1h1m1s"),
        (1_209_600, "2w"),
    ] {
        assert_eq!(ttl_units(ttl), text);
    }
}

#[test]
fn hex_dump_like_dig() {
    let bytes: Vec<u8> =
        b"\x20\x32\x85\x80\x00\x01\x00\x00\x00\x00\x00\x01\x0co15-0006ff01\x07exampl".to_vec();
    assert_eq!(
        hex_dump(&bytes),
        "20 32 85 80 00 01 00 00 00 00 00 01 0c 6f 31 35          .2...........o15\n\
         2d 30 30 30 36 66 66 30 31 07 65 78 61 6d 70 6c          -0006ff01.exampl\n"
    );
    assert_eq!(
        hex_dump(&[0x65, 0]),
        format!("65 00 {}         e.\n", " ".repeat(42))
    );
}
