//! Zone transfers with `tern dig` against Debian's `dig`, both asking the
//! same loopback NSD (127.66.5.1, transfers allowed): AXFR, IXFR from an
//! older serial (answered in full), IXFR from the current serial (the one
//! SOA), and dig's errors for IXFR without a usable serial.

mod dig_common;

use dig_common::{assert_same, real_dig, tern_dig, Nsd};

const IP: &str = "127.66.5.1";
const PORT: u16 = 5300;

const ZONE: &str = r#"$ORIGIN xfr.example.
$TTL 3600
@ IN SOA ns1.xfr.example. hostmaster.xfr.example. 2026120701 7200 900 1209600 300
@ IN NS ns1.xfr.example.
ns1 IN A 127.66.5.1
www IN A 192.0.2.1
www IN AAAA 2001:db8::1
mail IN MX 10 www.xfr.example.
txt IN TXT "transfer me"
"#;

fn server() -> Nsd {
    Nsd::start_with(
        "xfr",
        IP,
        PORT,
        &[("xfr.example.", ZONE)],
        "",
        "  provide-xfr: 127.0.0.0/8 NOKEY\n",
    )
}

#[test]
fn transfers_match_dig() {
    let nsd = server();
    let port = nsd.addr.port().to_string();
    for shape in [
        "xfr.example AXFR",
        "xfr.example IXFR=2026010101",
        "xfr.example IXFR=2026120701",
        "xfr.example IXFR=2026120799",
        "-t ixfr=1 xfr.example +comments",
        "xfr.example ixfr=1 +short",
    ] {
        let server = format!("@{IP}");
        let mut args = vec![server.as_str(), "-p", port.as_str()];
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
        assert!(
            w.contains("2026120701"),
            "{shape}: dig printed no SOA:\n{w}"
        );
        assert_same(shape, &w, &g);
    }
}

#[test]
fn ixfr_without_a_serial_is_refused_as_dig_does() {
    // Warnings and exit statuses only: no server is asked (a bad serial
    // stops before any query; the bare forms go to a port nobody uses).
    for args in [
        &["@127.66.5.9", "-p", "5309", "xfr.example", "ixfr=x"][..],
        &[
            "@127.66.5.9",
            "-p",
            "5309",
            "-t",
            "ixfr=4294967296",
            "xfr.example",
        ],
    ] {
        let want = real_dig(args);
        let got = tern_dig(args);
        assert_eq!(want.status.code(), got.status.code(), "{args:?}");
        assert_eq!(want.status.code(), Some(1), "{args:?}");
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
    for args in [
        &[
            "@127.66.5.9",
            "-p",
            "5309",
            "+tries=1",
            "+time=1",
            "xfr.example",
            "IXFR",
        ][..],
        &[
            "@127.66.5.9",
            "-p",
            "5309",
            "+tries=1",
            "+time=1",
            "-t",
            "ixfr",
            "xfr.example",
        ],
    ] {
        let want = real_dig(args);
        let got = tern_dig(args);
        let first = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(first(&want), first(&got), "{args:?}");
        assert!(first(&got).starts_with(";; Warning"), "{args:?}");
    }
}
