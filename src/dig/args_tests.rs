//! Table tests of dig-style argument parsing (src/dig/args.rs).

use super::*;
use crate::dig::types::{TYPE_AAAA, TYPE_NS, TYPE_PTR};

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn run(line: &str) -> Invocation {
    match parse(&words(line)) {
        Ok(Parsed::Run(inv)) => *inv,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn shapes_of_one_lookup() {
    // (command line, name, type, class, servers, port)
    type Row<'a> = (&'a str, &'a str, u16, u16, &'a [&'a str], u16);
    let table: &[Row] = &[
        ("www.example", "www.example", 1, 1, &[], 53),
        (
            "@127.0.0.1 www.example",
            "www.example",
            1,
            1,
            &["127.0.0.1"],
            53,
        ),
        (
            "www.example @127.0.0.1 -p 5300",
            "www.example",
            1,
            1,
            &["127.0.0.1"],
            5300,
        ),
        ("-p5300 MX example", "example", 15, 1, &[], 5300),
        ("example mx", "example", 15, 1, &[], 53),
        ("-t aaaa www", "www", TYPE_AAAA, 1, &[], 53),
        ("-tAAAA www", "www", TYPE_AAAA, 1, &[], 53),
        ("www -c ch TXT", "www", 16, 3, &[], 53),
        ("www CH txt", "www", 16, 3, &[], 53),
        ("www TYPE65534", "www", 65534, 1, &[], 53),
        ("", ".", TYPE_NS, 1, &[], 53),
        ("@::1", ".", TYPE_NS, 1, &["::1"], 53),
        ("-t MX", ".", 15, 1, &[], 53),
        (
            "-x 192.0.2.1",
            "1.2.0.192.in-addr.arpa.",
            TYPE_PTR,
            1,
            &[],
            53,
        ),
        ("-q mx", "mx", 1, 1, &[], 53),
    ];
    for (line, name, qtype, qclass, servers, port) in table {
        let inv = run(line);
        assert_eq!(inv.lookups.len(), 1, "{line}");
        let l = &inv.lookups[0];
        assert_eq!(l.name.as_deref(), Some(*name), "{line}");
        assert_eq!(l.qtype, *qtype, "{line}");
        assert_eq!(l.qclass, *qclass, "{line}");
        assert_eq!(l.servers, servers.to_vec(), "{line}");
        assert_eq!(l.port, *port, "{line}");
    }
}

#[test]
fn plus_options_and_abbreviations() {
    let inv = run("www +norec +tcp +noall +answer +bufsize=4096 +time=2 +tries=1 +nocookie +nsid");
    let f = &inv.lookups[0].flags;
    assert!(!f.recurse && f.tcp && f.answer && f.nsid && !f.cookie);
    assert!(!f.question && !f.authority && !f.additional && !f.comments && !f.stats);
    assert_eq!((f.bufsize, f.timeout_secs, f.tries), (4096, 2, 1));
    assert!(!inv.print_cmd);

    let inv = run("www +retry=0 +subnet=192.0.2.0/24 +dnssec +cd +noad +noedns");
    let f = &inv.lookups[0].flags;
    assert_eq!(f.tries, 1);
    assert_eq!(
        f.subnet,
        Some(Subnet {
            addr: "192.0.2.0".parse().unwrap(),
            prefix: 24
        })
    );
    assert!(f.dnssec && f.cd && !f.adflag && !f.edns);

    let f = &run("+short x").lookups[0].flags;
    assert!(f.short && f.answer && !f.question && !f.stats && !f.comments);
    let inv = run("+short x");
    assert!(!inv.print_cmd);
    // +short is global: the last one decides for every lookup.
    assert!(run("a +short b").short);
    assert!(!run("a +short b +noshort").short);
    let f = &run("x +trace --hints /tmp/h").lookups[0].flags;
    assert!(f.trace && !f.recurse && f.dnssec);
    assert_eq!(f.hints.as_deref(), Some("/tmp/h"));
    let f = &run("x +json +hints=/h").lookups[0].flags;
    assert!(f.json);
    assert_eq!(f.hints.as_deref(), Some("/h"));
    // +anchor=FILE (tern's own); three letters, so +an stays +answer.
    let f = &run("x +engine +anchor=/a.anchor").lookups[0].flags;
    assert!(f.engine && f.trace);
    assert_eq!(f.anchor.as_deref(), Some("/a.anchor"));
    assert_eq!(
        run("x +anc=/b").lookups[0].flags.anchor.as_deref(),
        Some("/b")
    );
    assert_eq!(run("+anchor=/a x +noanchor").lookups[0].flags.anchor, None);
    assert!(!run("x +noan").lookups[0].flags.answer);
    assert!(parse(&words("x +anchor")).is_err());
}

#[test]
fn globals_apply_to_all_lookups_and_locals_to_one() {
    let inv = run("@10.0.0.1 +tcp a.example b.example MX +norec c.example @10.0.0.2");
    assert_eq!(inv.lookups.len(), 3);
    let [a, b, c] = [&inv.lookups[0], &inv.lookups[1], &inv.lookups[2]];
    assert!(a.flags.tcp && b.flags.tcp && c.flags.tcp);
    assert!(a.flags.recurse && !b.flags.recurse && c.flags.recurse);
    assert_eq!((a.qtype, b.qtype, c.qtype), (1, 15, 1));
    assert_eq!(a.servers, ["10.0.0.1"]);
    assert_eq!(c.servers, ["10.0.0.1", "10.0.0.2"]);
    assert!(a.global_servers && !c.global_servers);
}

#[test]
fn errors_look_like_digs() {
    let table: &[(&str, u8, &str)] = &[
        ("+foo", 1, "Invalid option: +foo\nUsage:  dig"),
        ("-z", 1, "Invalid option: -z\n"),
        ("+norecx", 1, "Invalid option: +norecx"),
        ("+tr", 1, "Invalid option: +tr"),
        ("+timeout=x", 10, "dig: Couldn't parse timeout"),
        ("-p abc x", 1, "dig: Couldn't parse port number"),
        ("-p 70000 x", 1, "dig: Couldn't parse port number"),
        ("x -p", 1, "Invalid option: -p"),
        (
            "+subnet=300.0.0.0/8",
            1,
            "dig: invalid address '300.0.0.0/8'",
        ),
        ("--nope", 1, "Invalid option: --nope"),
        ("-4 x -6", 1, "dig: only one of -4 and -6 allowed"),
        ("-b 1.2.3.999 x", 1, "dig: invalid address 1.2.3.999"),
        ("+qid=70000 x", 10, "dig: Couldn't parse qid"),
    ];
    for (line, exit, start) in table {
        let err = parse(&words(line)).expect_err(line);
        assert_eq!(err.exit, *exit, "{line}");
        assert!(err.stderr.starts_with(start), "{line}: {err:?}");
    }
    let err = parse(&words("+tries=x")).unwrap_err();
    assert_eq!(
        err.stdout.as_deref(),
        Some("invalid tries 'x': not a valid number")
    );
}

#[test]
fn options_dig_has_and_tern_lacks_say_not_supported() {
    let table: &[(&str, &str)] = &[
        ("+tls-certfile=/c.pem x", "+tls-certfile: not supported"),
        ("+notls-keyfile x", "+tls-keyfile: not supported"),
        ("+http-plain x", "+http-plain: not supported"),
        ("+nssearch x", "+nssearch: not supported"),
        ("+split=8 x", "+split: not supported"),
        ("+ednsflags=0x80 x", "+ednsflags: not supported"),
        ("+CRYPTO x", "+crypto: not supported"),
        ("x +idnin", "+idnin: not supported"),
        ("-y hmac-sha256:key:c2VjcmV0 x", "-y: not supported"),
        ("-k /etc/key x", "-k: not supported"),
    ];
    for (line, want) in table {
        let err = parse(&words(line)).expect_err(line);
        assert_eq!(err.exit, 1, "{line}");
        assert_eq!(err.stderr, *want, "{line}");
        assert!(!err.stderr.contains("Invalid option"), "{line}");
    }
    // +tls and +https are tern's now, with their settings and ports.
    let inv = run("@127.0.0.1 +tls +tls-ca=/ca.pem +tls-hostname=dns.example x");
    let e = &inv.lookups[0].flags.encryption;
    assert_eq!(e.mode, Some(crate::dig::encrypted::Mode::Tls));
    assert!(e.verify);
    assert_eq!(e.hostname.as_deref(), Some("dns.example"));
    let inv = run("-p 8443 +https=/q x");
    assert!(inv.lookups[0].port_set);
    assert_eq!(inv.lookups[0].port, 8443);
    let err = parse(&words("+https=q x")).unwrap_err();
    assert!(
        err.stderr.starts_with("Invalid option: +https=q"),
        "{err:?}"
    );
    // Still typos: near misses of those names are not claimed.
    let err = parse(&words("+tlsx x")).unwrap_err();
    assert!(err.stderr.starts_with("Invalid option: +tlsx"), "{err:?}");
    // What dig 9.18 only warns about as deprecated, tern's dig too.
    let inv = run("+sigchase +notopdown x");
    assert_eq!(
        inv.warnings,
        [
            ";; +sigchase option is deprecated",
            ";; +topdown option is deprecated"
        ]
    );
    assert_eq!(inv.lookups.len(), 1);
}

#[test]
fn ixfr_takes_a_serial_as_dig_does() {
    let inv = run("@10.0.0.1 example IXFR=2026120701");
    let l = &inv.lookups[0];
    assert_eq!(l.qtype, 251);
    assert_eq!(l.flags.extra.ixfr_serial, Some(2_026_120_701));
    let inv = run("-t ixfr=7 example");
    assert_eq!(inv.lookups[0].qtype, 251);
    assert_eq!(inv.lookups[0].flags.extra.ixfr_serial, Some(7));
    // A bare IXFR has no serial: dig warns and skips the word.
    let inv = run("example IXFR");
    assert_eq!(inv.warnings, [";; Warning, ixfr requires a serial number"]);
    assert_eq!(inv.lookups[0].qtype, 1);
    let inv = run("-t ixfr example");
    assert_eq!(inv.warnings, [";; Warning, ignoring invalid type ixfr"]);
    assert_eq!(inv.lookups[0].qtype, 1);
    // A serial that is not a number, or too large, is fatal (exit 1).
    for line in ["example ixfr=x", "-t ixfr=4294967296 example"] {
        let err = parse(&words(line)).expect_err(line);
        assert_eq!(err.exit, 1, "{line}");
        assert_eq!(err.stderr, "dig: Couldn't parse serial number", "{line}");
    }
}

#[test]
fn help_and_version() {
    assert_eq!(parse(&words("x -h")), Ok(Parsed::Help));
    assert_eq!(parse(&words("-v")), Ok(Parsed::Version));
}

#[test]
fn batch_lines_start_from_defaults() {
    let inv = run("@127.0.0.1 +tcp -f /tmp/list");
    assert!(inv.lookups.is_empty());
    assert_eq!(inv.batch_file.as_deref(), Some("/tmp/list"));
    let g = Globals {
        print_cmd: true,
        short: false,
    };
    let (ls, after) = parse_batch_line(&inv.defaults, g, "a.example MX +norec b.example").unwrap();
    assert_eq!(after, g);
    let (_, after) = parse_batch_line(&inv.defaults, g, "c.example +noall +short").unwrap();
    assert!(!after.print_cmd && after.short);
    assert_eq!(ls.len(), 2);
    assert!(ls[0].flags.tcp && !ls[0].flags.recurse && ls[1].flags.recurse);
    assert_eq!(ls[0].qtype, 15);
    assert_eq!(ls[1].servers, ["127.0.0.1"]);
}

#[test]
fn reverse_names() {
    assert_eq!(reverse_name("10.1.2.3").unwrap(), "3.2.1.10.in-addr.arpa.");
    assert_eq!(
        reverse_name("2001:db8::1").unwrap(),
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    );
    assert_eq!(reverse_name("nope"), None);
}

#[test]
fn warnings_like_dig() {
    let table: &[(&str, &[&str])] = &[
        ("-c FOO x", &[";; Warning, ignoring invalid class FOO"]),
        ("-t FOO x", &[";; Warning, ignoring invalid type FOO"]),
        ("example mx txt", &[";; Warning, extra type option"]),
        ("-t mx example -t txt", &[";; Warning, extra type option"]),
        ("mx example", &[]),
        ("-x 192.0.2.1 -t A", &[]),
        ("x -t A -t A", &[";; Warning, extra type option"]),
    ];
    for (line, want) in table {
        assert_eq!(run(line).warnings, want.to_vec(), "{line}");
    }
}
