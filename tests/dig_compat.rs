//! `tern dig` against Debian's `dig`: both query the same loopback NSD
//! (127.66.0.1) with the same arguments and must print the same lines once
//! IDs, timings, dates, the banner version and cookies are masked. Also:
//! `+json` parses with RFC 8427 member names, usage errors match dig's, and
//! a silent server ends in exit code 9 after timeout x tries.

mod dig_common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dig_common::{assert_same, real_dig, tern_dig, Nsd};

const IP: &str = "127.66.0.1";
const PORT: u16 = 5300;

const EXAMPLE_ZONE: &str = r#"$ORIGIN example.
$TTL 3600
@ IN SOA ns1.example. hostmaster.example. 2024010101 7200 900 1209600 300
@ IN NS ns1.example.
ns1 IN A 127.66.0.1
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
@ IN MX 10 mail.example.
@ IN MX 20 mail2.example.
mail IN A 192.0.2.25
txt IN TXT "hello world" "with \"quotes\" inside" "semi;colon" "back\\slash" "tab\009"
a IN CNAME b
b IN CNAME c
c IN A 192.0.2.3
averyveryverylongname-for-padding-tests IN A 192.0.2.9
abcdefghijklmno IN A 192.0.2.15
x IN A 192.0.2.10
a\032b IN A 192.0.2.11
_sip._udp IN SRV 10 60 5060 sip.example.
@ IN CAA 0 issue "ca.example.net"
host IN HINFO "PC" "Linux 6"
salt IN NSEC3PARAM 1 0 10 AABBCCDD
zsk IN DNSKEY 256 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
ds1 IN DS 1234 13 1 0123456789ABCDEF0123456789ABCDEF01234567
longunk IN TYPE65535 \# 60 000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B
sig IN A 192.0.2.50
sig IN RRSIG A 13 2 3600 20261201000000 20261101000000 2370 example. mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
nsec IN NSEC sig.example. A MX RRSIG NSEC TYPE65534
svc IN HTTPS 1 . alpn="h3,h2" ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1 port=8443 ech=AEX+DQBB
svc2 IN SVCB 0 svc.example.
svc3 IN HTTPS 16 foo.example. mandatory=alpn,port alpn=h2 port=443 no-default-alpn key65333="ab\"c"
uri IN URI 10 1 "https://example.com/a b"
rp IN RP hostmaster.example. txt.example.
zero 0 IN A 192.0.2.99
odd 90061 IN A 192.0.2.98
key IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=
sub IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
unk IN TYPE65534 \# 3 010203
ssh IN SSHFP 1 1 0123456789ABCDEF0123456789ABCDEF01234567
_443._tcp IN TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
naptr IN NAPTR 100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.com!" _sip._udp.example.
loc IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
big IN TXT "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
"#;

const REVERSE_ZONE: &str = r#"$ORIGIN 2.0.192.in-addr.arpa.
$TTL 3600
@ IN SOA ns1.example. hostmaster.example. 1 7200 900 1209600 300
@ IN NS ns1.example.
1 IN PTR www.example.
"#;

fn server() -> Nsd {
    Nsd::start(
        "compat",
        IP,
        PORT,
        &[
            ("example.", EXAMPLE_ZONE),
            ("2.0.192.in-addr.arpa.", REVERSE_ZONE),
        ],
        "  nsid: \"ascii_tern-test\"\n",
    )
}

/// Query shapes compared with dig (arguments after `@IP -p PORT`).
const SHAPES: &[&str] = &[
    "www.example",
    "www.example AAAA",
    "-t MX example",
    "txt.example TXT",
    "a.example",
    "nope.example",
    "www.example TXT",
    "+short a.example",
    "+short txt.example txt",
    "+norecurse www.example",
    "+norec -x 192.0.2.1",
    "+noall +answer example MX",
    "+tcp www.example",
    "+nsid www.example",
    "www.example x.example +noall +answer",
    "+noedns mx example",
    "averyveryverylongname-for-padding-tests.example",
    "abcdefghijklmno.example",
    "a\\032b.example",
    "_sip._udp.example SRV",
    "example CAA +nocomments",
    "host.example HINFO +noquestion +nostats",
    "salt.example NSEC3PARAM",
    "+qr www.example",
    "+dnssec +cd +noad www.example",
    "example SOA +nocmd +noadditional",
    "www.other",
    "@127.66.0.1 -p 5300 +nocmd www.example",
    "key.example DNSKEY",
    "sub.example DS",
    "unk.example TYPE65534",
    "ssh.example SSHFP",
    "_443._tcp.example TLSA",
    "naptr.example NAPTR",
    "loc.example LOC",
    "big.example TXT +bufsize=512",
    "big.example TXT +noedns +short",
    "big.example TXT +bufsize=512 +qr",
    "big.example TXT +bufsize=512 +noall +stats +qr",
    "www.example x.example +short",
    "+nottlid www.example",
    "+noclass mx example",
    "+nottlid +nocl abcdefghijklmno.example",
    "+ttlunits odd.example zero.example",
    "+unknownformat mx example",
    "+unknownformat txt.example txt",
    "+short +identify a.example",
    "+aaflag +qr www.example",
    "+ignore big.example TXT +bufsize=512",
    "+norecurse +rd www.example",
    "+fail +besteffort +search +keepopen www.example",
    "+multi example SOA",
    "+multi nope.example",
    "+multi key.example DNSKEY",
    "+multi zsk.example DNSKEY",
    "+multi sub.example DS",
    "+multi ds1.example DS",
    "+multi ssh.example SSHFP",
    "+multi _443._tcp.example TLSA",
    "+multi unk.example TYPE65534",
    "+multi longunk.example TYPE65535",
    "+multi +unknownformat www.example",
    "+multi +nottlid abcdefghijklmno.example",
    "+multi a.example",
    "+multi example CAA",
    "+multi _sip._udp.example SRV",
    "+multi host.example HINFO",
    "+multi salt.example NSEC3PARAM",
    "+multi loc.example LOC",
    "sig.example RRSIG",
    "+multi sig.example RRSIG",
    "nsec.example NSEC",
    "+multi nsec.example NSEC",
    "-t ANY sig.example",
    "svc.example HTTPS",
    "+multi svc.example HTTPS",
    "svc2.example SVCB",
    "svc3.example HTTPS",
    "+unknownformat svc.example HTTPS",
    "uri.example URI",
    "rp.example RP",
    "-u www.example",
    "-r -m www.example",
    "+qid=4242 +qr www.example",
    "+raflag +tcflag +qr www.example",
    "+qr www.example +ednsopt=65001:abcd +expire +keepalive +nsid +subnet=192.0.2.0/24 +padding=64",
    "+qr +header-only www.example",
    "+qr +zflag www.example",
    "+qr +opcode=4 www.example",
    "+qr +ednsopt=65001:abcd +noednsopt www.example",
    "+qr +padding=128 +nocookie www.example",
    "www.example +edns=0",
    "www.example +edns=1 +qr +nocookie",
    "www.example +short x.example +noshort",
];

#[test]
fn output_matches_debian_dig_line_by_line() {
    let nsd = server();
    let port = nsd.addr.port().to_string();
    for shape in SHAPES {
        let mut args = vec!["@127.66.0.1", "-p", port.as_str()];
        args.extend(shape.split_whitespace());
        let want = real_dig(&args);
        let got = tern_dig(&args);
        assert_eq!(
            want.status.code(),
            got.status.code(),
            "{shape}: exit codes differ"
        );
        let (w, g) = (
            String::from_utf8_lossy(&want.stdout),
            String::from_utf8_lossy(&got.stdout),
        );
        assert!(w.lines().count() > 0, "{shape}: dig printed nothing");
        assert_same(shape, &w, &g);
    }
}

/// Batch files (`-f`), family options and TCP-for-ANY, compared likewise
/// (exit codes and both output streams).
#[test]
fn batch_and_transport_choices_match_dig() {
    let nsd = Nsd::start(
        "batch",
        "127.66.0.3",
        PORT,
        &[("example.", EXAMPLE_ZONE)],
        "",
    );
    let port = nsd.addr.port().to_string();
    let dir = dig_common::temp_dir("batch-file");
    let file = dir.join("queries.txt");
    std::fs::write(
        &file,
        "www.example\nexample MX +short\n\nx.example +noall +answer\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let shapes: &[&[&str]] = &[
        &["-f", &file],
        &["-f", &file, "a.example"],
        &["+noall", "+answer", "-f", &file],
        &["-t", "ANY", "example"],
        &["-t", "ANY", "example", "+notcp"],
        &["-6", "www.example"],
        &["-4", "@::1", "www.example"],
        &["-4", "www.example", "-6"],
        &["-c", "FOO", "x.example", "+noall", "+answer"],
        &["-t", "FOO", "x.example", "+noall", "+answer"],
        &["example", "mx", "txt", "+noall", "+answer"],
        &["-x", "192.0.2.1", "-t", "A", "+noall", "+answer"],
    ];
    for shape in shapes {
        let mut args = vec!["@127.66.0.3", "-p", port.as_str()];
        args.extend_from_slice(shape);
        let (want, got) = (real_dig(&args), tern_dig(&args));
        assert_eq!(
            want.status.code(),
            got.status.code(),
            "{shape:?}: exit codes differ"
        );
        let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
        assert_same(&format!("{shape:?}"), &stdout(&want), &stdout(&got));
        assert_eq!(stderr(&want), stderr(&got), "{shape:?}: stderr differs");
    }
}

/// ~/.digrc is read first, as by dig, and skipped with -r.
#[test]
fn digrc_is_honoured_like_dig() {
    let nsd = Nsd::start(
        "digrc",
        "127.66.0.4",
        PORT,
        &[("example.", EXAMPLE_ZONE)],
        "",
    );
    let port = nsd.addr.port().to_string();
    let home = dig_common::temp_dir("digrc-home");
    std::fs::write(home.join(".digrc"), "+short +nocookie\n").unwrap();
    for extra in [None, Some("-r")] {
        let mut args = vec!["@127.66.0.4", "-p", port.as_str(), "a.example"];
        args.extend(extra);
        let run = |program: &str, sub: Option<&str>| {
            std::process::Command::new(program)
                .args(sub)
                .args(&args)
                .env("HOME", &*home)
                .output()
                .unwrap()
        };
        let want = run("dig", None);
        let got = run(env!("CARGO_BIN_EXE_tern"), Some("dig"));
        let w = String::from_utf8_lossy(&want.stdout);
        assert_eq!(w.lines().count() == 3, extra.is_none(), "{w}");
        assert_same(
            &format!("{extra:?}"),
            &w,
            &String::from_utf8_lossy(&got.stdout),
        );
    }
}

#[test]
fn json_uses_rfc8427_member_names() {
    let nsd = Nsd::start(
        "json",
        "127.66.0.2",
        PORT,
        &[("example.", EXAMPLE_ZONE)],
        "",
    );
    let port = nsd.addr.port().to_string();
    let out = tern_dig(&["@127.66.0.2", "-p", &port, "a.example", "+json"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    for key in [
        "ID",
        "QR",
        "Opcode",
        "AA",
        "TC",
        "RD",
        "RA",
        "AD",
        "CD",
        "RCODE",
        "QDCOUNT",
        "ANCOUNT",
        "NSCOUNT",
        "ARCOUNT",
        "QNAME",
        "QTYPE",
        "QCLASS",
        "answerRRs",
        "authorityRRs",
        "additionalRRs",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["QNAME"], "a.example.");
    assert_eq!(v["QR"], true);
    assert_eq!(v["AA"], true);
    assert_eq!(v["ANCOUNT"], 3);
    let answers = v["answerRRs"].as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["NAME"], "a.example.");
    assert_eq!(answers[0]["TYPE"], 5);
    assert_eq!(answers[0]["rdataCNAME"], "b.example.");
    assert_eq!(answers[2]["rdataA"], "192.0.2.3");
    assert_eq!(answers[2]["RDATAHEX"], "C0000203");
    assert_eq!(answers[2]["TTL"], 3600);
    // Two lookups give two JSON objects, one per line.
    let out = tern_dig(&[
        "@127.66.0.2",
        "-p",
        &port,
        "+json",
        "www.example",
        "nope.example",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let objs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[1]["RCODE"], 3);
    assert_eq!(objs[1]["authorityRRs"][0]["TYPE"], 6);
}

#[test]
fn usage_errors_match_dig() {
    // -h lists the options, dig's way, with ours among them.
    let help = tern_dig(&["-h"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for opt in [
        "+[no]json",
        "+[no]trace",
        "+[no]multiline",
        "-x dot-notation",
        "--hints file",
    ] {
        assert!(text.contains(opt), "{opt} missing from:\n{text}");
    }
    for args in [
        &["+foo"][..],
        &["-z"],
        &["www", "+timeout=x"],
        &["-p", "abc", "x"],
        &["+bufsize=70000"],
        &["+subnet=abc"],
        &["-b", "1.2.3.999", "x"],
        &["+qid=70000", "x"],
        &["-f", "/nonexistent/tern-dig-batch"],
    ] {
        let want = real_dig(args);
        let got = tern_dig(args);
        assert_eq!(want.status.code(), got.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&want.stderr),
            String::from_utf8_lossy(&got.stderr),
            "{args:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&want.stdout),
            String::from_utf8_lossy(&got.stdout),
            "{args:?}"
        );
    }
}

#[test]
fn silent_server_gives_exit_9_after_timeout_times_tries() {
    let silent = UdpSocket::bind("127.66.2.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let start = Instant::now();
    let out = tern_dig(&[
        "@127.66.2.1",
        "-p",
        &port,
        "www.example",
        "+timeout=1",
        "+tries=2",
    ]);
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(9));
    assert!(
        elapsed >= Duration::from_millis(1500),
        "gave up after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // Debian's dig prints the same lines in the same order.
    let args = [
        "@127.66.2.1",
        "-p",
        &port,
        "www.example",
        "+timeout=1",
        "+tries=2",
    ];
    let want = real_dig(&args);
    assert_eq!(want.status.code(), Some(9));
    assert_same(
        "silent server",
        &String::from_utf8_lossy(&want.stdout),
        &text,
    );
    let expect = format!(";; communications error to 127.66.2.1#{port}: timed out");
    assert_eq!(text.lines().filter(|l| *l == expect).count(), 2, "{text}");
    assert!(text.ends_with(";; no servers could be reached\n"), "{text}");
    // The silent socket saw both tries.
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 512];
    let mut seen = 0;
    while silent.recv_from(&mut buf).is_ok() {
        seen += 1;
    }
    assert_eq!(seen, 4); // two from tern dig, two from dig

    // With +json, standard output holds only JSON, even on failure.
    let args = [
        "@127.66.2.1",
        "-p",
        &port,
        "x.example",
        "+timeout=1",
        "+tries=1",
        "+json",
    ];
    let got = tern_dig(&args);
    assert_eq!(got.status.code(), Some(9));
    let doc: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(doc["error"], "no servers could be reached");
    assert!(String::from_utf8_lossy(&got.stderr).contains(": timed out"));

    // dig prints its banner on failure even with +noall or +short.
    for extra in ["+noall", "+short"] {
        let args = [
            "@127.66.2.1",
            "-p",
            &port,
            "x.example",
            "+timeout=1",
            "+tries=1",
            extra,
        ];
        let want = real_dig(&args);
        let got = tern_dig(&args);
        assert_eq!(got.status.code(), Some(9));
        assert_same(
            extra,
            &String::from_utf8_lossy(&want.stdout),
            &String::from_utf8_lossy(&got.stdout),
        );
    }
}
