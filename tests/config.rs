//! Config loading: `config/tern.toml` lists every key at its default and
//! loads to `Config::default()`; a typo'd key, an out-of-range value, a
//! broken cross-field rule and a TOML syntax error each name file, line and
//! key; `benches/rig.toml.in` loads once its placeholders are filled in;
//! the `[dnssec]` keys load, and their errors name file, line and key.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use tern::config::{load_file, load_str, AclAction, Config, ConfigError};

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn shipped_file_equals_defaults() {
    let c = load_file(&repo("config/tern.toml")).unwrap();
    let d = Config::default();
    assert_eq!(c.server.listen, d.server.listen);
    assert_eq!(c.server.udp_sockets, d.server.udp_sockets);
    assert_eq!(c.server.max_udp_payload, d.server.max_udp_payload);
    assert_eq!(c.server.tcp_idle_timeout, d.server.tcp_idle_timeout);
    assert_eq!(c.server.tcp_max_connections, d.server.tcp_max_connections);
    assert_eq!(
        c.server.max_concurrent_queries,
        d.server.max_concurrent_queries
    );
    assert_eq!(c.server.access_control, d.server.access_control);
    assert_eq!(c.server.discard_timeout, d.server.discard_timeout);
    assert_eq!(c.server.edns_tcp_keepalive, d.server.edns_tcp_keepalive);
    assert_eq!(c.server.answer_cookie, d.server.answer_cookie);
    assert_eq!(c.server.identity, d.server.identity);
    assert_eq!(c.server.version, d.server.version);
    assert_eq!(c.server.cookie_secret, d.server.cookie_secret);
    assert_eq!(c.resolver.root_hints, d.resolver.root_hints);
    assert_eq!(c.resolver.stub_zones, d.resolver.stub_zones);
    assert_eq!(c.resolver.forward_zones, d.resolver.forward_zones);
    assert_eq!(
        (
            c.upstream.ipv4,
            c.upstream.ipv6,
            c.upstream.tcp,
            c.upstream.retries,
            c.upstream.infra_ttl
        ),
        (
            d.upstream.ipv4,
            d.upstream.ipv6,
            d.upstream.tcp,
            d.upstream.retries,
            d.upstream.infra_ttl
        )
    );
    assert_eq!(c.resolver.qname_minimisation, d.resolver.qname_minimisation);
    assert_eq!(c.resolver.edns_payload, d.resolver.edns_payload);
    assert_eq!(
        c.resolver.max_upstream_queries,
        d.resolver.max_upstream_queries
    );
    assert_eq!(c.resolver.max_cname_hops, d.resolver.max_cname_hops);
    assert_eq!(c.resolver.max_referrals, d.resolver.max_referrals);
    assert_eq!(
        c.resolver.max_ns_lookups_per_delegation,
        d.resolver.max_ns_lookups_per_delegation
    );
    assert_eq!(c.resolver.max_depth, d.resolver.max_depth);
    assert_eq!(c.resolver.query_timeout, d.resolver.query_timeout);
    assert_eq!(c.resolver.harden_glue, d.resolver.harden_glue);
    assert_eq!(c.resolver.max_ns_per_set, d.resolver.max_ns_per_set);
    assert_eq!(c.resolver.private_addresses, d.resolver.private_addresses);
    assert_eq!(c.resolver.private_domains, d.resolver.private_domains);
    assert_eq!(c.resolver.nat64, d.resolver.nat64);
    assert_eq!(c.resolver.do_not_query, d.resolver.do_not_query);
    assert_eq!(
        c.resolver.harden_referral_path,
        d.resolver.harden_referral_path
    );
    assert_eq!(c.resolver.nat64_prefix, d.resolver.nat64_prefix);
    assert_eq!(
        c.resolver.edns_client_strings,
        d.resolver.edns_client_strings
    );
    assert_eq!(
        c.resolver.edns_client_string_code,
        d.resolver.edns_client_string_code
    );
    assert_eq!(
        c.resolver.harden_unverified_glue,
        d.resolver.harden_unverified_glue
    );
    assert_eq!(
        c.resolver.allow_loopback_upstream,
        d.resolver.allow_loopback_upstream
    );
    assert_eq!(c.cache.max_bytes, d.cache.max_bytes);
    assert_eq!(c.cache.min_ttl, d.cache.min_ttl);
    assert_eq!(c.cache.max_ttl, d.cache.max_ttl);
    assert_eq!(c.cache.max_negative_ttl, d.cache.max_negative_ttl);
    assert_eq!(c.cache.min_negative_ttl, d.cache.min_negative_ttl);
    assert_eq!(c.upstream.initial_rto, d.upstream.initial_rto);
    assert_eq!(c.upstream.min_rto, d.upstream.min_rto);
    assert_eq!(c.upstream.max_rto, d.upstream.max_rto);
    assert_eq!(
        c.upstream.holddown_after_timeouts,
        d.upstream.holddown_after_timeouts
    );
    assert_eq!(c.upstream.holddown, d.upstream.holddown);
    assert_eq!(c.upstream.tcp_timeout, d.upstream.tcp_timeout);
    assert_eq!(c.log.level, d.log.level);
    assert_eq!(c.dnssec.validate, d.dnssec.validate);
    assert_eq!(c.dnssec.builtin_root_anchors, d.dnssec.builtin_root_anchors);
    assert_eq!(c.dnssec.trust_anchor_files, d.dnssec.trust_anchor_files);
    assert_eq!(c.dnssec.trust_anchors, d.dnssec.trust_anchors);
    assert_eq!(
        c.dnssec.negative_trust_anchors,
        d.dnssec.negative_trust_anchors
    );
    assert_eq!(c.dnssec.bogus_ttl, d.dnssec.bogus_ttl);
    assert_eq!(c.dnssec.max_nsec3_iterations, d.dnssec.max_nsec3_iterations);
    assert_eq!(c.dnssec.aggressive_nsec, d.dnssec.aggressive_nsec);
    assert_eq!(c.dnssec.legacy_dsa, d.dnssec.legacy_dsa);
    assert_eq!(c.dnssec.max_verifications, d.dnssec.max_verifications);
}

/// Every `key = value` line of the shipped file is a key the loader knows:
/// changing the value to one of the wrong type must be reported for it.
#[test]
fn every_shipped_key_is_read() {
    let text = std::fs::read_to_string(repo("config/tern.toml")).unwrap();
    let mut section = String::new();
    let mut checked = 0;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((key, _)) = t.split_once('=') else {
            continue;
        };
        if t.starts_with('#') || line.starts_with(' ') {
            continue;
        }
        let key = key.trim();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // An object where a scalar or list belongs: a type error at this line.
        lines[i] = format!("{key} = {{ wrong = 1 }}");
        if key == "access_control" {
            // Drop the rest of the multi-line list.
            let end = lines.iter().skip(i).position(|l| l.trim() == "]").unwrap() + i;
            for l in &mut lines[i + 1..=end] {
                l.clear();
            }
        }
        let err = load_str(&lines.join("\n"), "t.toml").unwrap_err();
        assert_eq!(err.line(), Some(i + 1), "{key}: {err}");
        assert_eq!(
            err.key(),
            Some(format!("{section}.{key}").as_str()),
            "{err}"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} keys");
}

fn err(text: &str) -> ConfigError {
    load_str(text, "bad.toml").unwrap_err()
}

#[test]
fn typo_key_names_file_line_key() {
    let e = err("[server]\nlisten = [\"127.0.0.1:53\"]\n\n[cache]\nmax_tll = 5\n");
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::Parse { .. }), "{msg}");
    assert!(msg.starts_with("bad.toml:5: cache.max_tll:"), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");
}

#[test]
fn typo_key_inside_inline_table() {
    let e = err("[server]\naccess_control = [\n  { net = \"::1\", acton = \"allow\" },\n]\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert_eq!(e.key(), Some("server.access_control.acton"), "{e}");
}

#[test]
fn out_of_range_is_rejected_not_clamped() {
    let e = err("[server]\nmax_udp_payload = 511\n");
    assert_eq!(
        e.to_string(),
        "bad.toml:2: server.max_udp_payload: 511 is out of range 512..=4096"
    );
    let e = err("[resolver]\nedns_payload = 4097\n");
    assert_eq!(e.key(), Some("resolver.edns_payload"));
    let e = err("[server]\nudp_sockets = -1\n");
    assert_eq!(e.key(), Some("server.udp_sockets"));
    let e = err("[upstream]\ninfra_ttl = 0\n");
    assert_eq!(
        e.to_string(),
        "bad.toml:2: upstream.infra_ttl: 0 is out of range 1..=86400"
    );
    let c = load_str("[upstream]\ninfra_ttl = 60\n", "ok.toml").unwrap();
    assert_eq!(c.upstream.infra_ttl, Duration::from_secs(60));
    // In range at the edges.
    let c = load_str(
        "[server]\nmax_udp_payload = 512\n[resolver]\nedns_payload = 4096\n",
        "x",
    )
    .unwrap();
    assert_eq!(c.server.max_udp_payload, 512);
    assert_eq!(c.resolver.edns_payload, 4096);
}

#[test]
fn cross_field_rules() {
    let e = err("[cache]\nmin_ttl = 600\nmax_ttl = 300\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert_eq!(e.key(), Some("cache.max_ttl"));
    let e = err("[upstream]\ninitial_rto_ms = 20\n");
    assert_eq!(e.key(), Some("upstream.initial_rto_ms"), "{e}");
    let e = err("[server]\nlisten = []\n");
    assert_eq!((e.line(), e.key()), (Some(2), Some("server.listen")));
    let e = err("[server]\nlisten = [\"127.0.0.1:53\", \"127.0.0.1:53\"]\n");
    assert_eq!(e.key(), Some("server.listen"));
}

#[test]
fn syntax_error_names_line_and_key() {
    let e = err("[server]\nudp_sockets = 1\ntcp_max_connections = = 3\n");
    let msg = e.to_string();
    assert_eq!(e.line(), Some(3), "{msg}");
    assert_eq!(e.key(), Some("server.tcp_max_connections"), "{msg}");
    assert!(
        msg.starts_with("bad.toml:3: server.tcp_max_connections:"),
        "{msg}"
    );
}

#[test]
fn wrong_type_names_key() {
    let e = err("[resolver]\n\nharden_glue = \"yes\"\n");
    assert_eq!(
        (e.line(), e.key()),
        (Some(3), Some("resolver.harden_glue")),
        "{e}"
    );
}

#[test]
fn acl_stub_zones_and_durations() {
    let c = load_str(
        r#"
[server]
listen = ["127.0.0.1:5300", "::1"]
tcp_idle_timeout_ms = 250
access_control = [
    { net = "::1", action = "allow" },
    { net = "127.0.0.0/8", action = "refuse" },
    { net = "0.0.0.0/0", action = "deny" },
]
[resolver]
root_hints = "/tmp/hints.zone"
qname_minimization = false
[[resolver.stub_zone]]
name = "lab.example"
addrs = ["127.0.0.1:5353", "::1"]
"#,
        "x",
    )
    .unwrap();
    assert_eq!(c.server.listen[1], "[::1]:53".parse().unwrap());
    assert_eq!(c.server.tcp_idle_timeout, Duration::from_millis(250));
    assert_eq!(c.server.access_control[1].action, AclAction::Refuse);
    assert_eq!(c.server.access_control[2].action, AclAction::Deny);
    assert_eq!(c.server.access_control[0].net, "::1/128".parse().unwrap());
    assert!(!c.resolver.qname_minimisation);
    assert_eq!(
        c.resolver.root_hints.as_deref(),
        Some(Path::new("/tmp/hints.zone"))
    );
    assert_eq!(c.resolver.stub_zones[0].name.to_ascii(), "lab.example.");
    assert_eq!(
        c.resolver.stub_zones[0].addrs[1],
        "[::1]:53".parse().unwrap()
    );
    let e = err("[server]\naccess_control = [{ net = \"10/8\", action = \"allow\" }]\n");
    assert_eq!(e.key(), Some("server.access_control"), "{e}");
    let e = err("[server]\naccess_control = [{ net = \"10.0.0.0/8\", action = \"permit\" }]\n");
    assert!(e.to_string().contains("permit"), "{e}");
    let e = err("[[resolver.stub_zone]]\nname = \"a.\"\naddrs = []\n");
    assert_eq!(
        (e.line(), e.key()),
        (Some(3), Some("resolver.stub_zone")),
        "{e}"
    );
}

#[test]
fn forward_zones_stub_flags_and_address_families() {
    let c = load_str(
        r#"
[resolver]
[[resolver.stub_zone]]
name = "lab.example"
addrs = ["127.0.0.1:5353"]
first = true
prime = true
[[resolver.forward_zone]]
name = "."
addrs = ["192.0.2.53", "[2001:db8::53]:5353"]
first = true
tcp = true
[[resolver.forward_zone]]
name = "corp.example."
hosts = ["ns.corp.example"]
no_cache = true
[upstream]
ipv6 = false
tcp = true
retries = 2
"#,
        "x",
    )
    .unwrap();
    let s = &c.resolver.stub_zones[0];
    assert!(s.first && s.prime);
    let f = &c.resolver.forward_zones;
    assert_eq!(f.len(), 2);
    assert!(f[0].name.is_root() && f[0].first && f[0].tcp);
    assert_eq!(f[0].addrs[0], "192.0.2.53:53".parse().unwrap());
    assert_eq!(f[0].addrs[1], "[2001:db8::53]:5353".parse().unwrap());
    assert_eq!(f[1].name.to_ascii(), "corp.example.");
    assert!(f[1].addrs.is_empty());
    assert_eq!(f[1].hosts[0].to_ascii(), "ns.corp.example.");
    assert!(!f[1].first && !f[1].tcp && f[1].no_cache && !f[0].no_cache);
    assert!(c.upstream.ipv4 && !c.upstream.ipv6 && c.upstream.tcp);
    assert_eq!(c.upstream.retries, 2);
    let e = err("[upstream]\nretries = 0\n");
    assert_eq!(e.key(), Some("upstream.retries"), "{e}");

    let e = err("[[resolver.forward_zone]]\nname = \"a.\"\naddrs = []\n");
    assert_eq!(
        (e.line(), e.key()),
        (Some(3), Some("resolver.forward_zone")),
        "{e}"
    );
    let e = err(
        "[[resolver.forward_zone]]\nname = \"a.\"\naddrs = [\"1.2.3.4\"]\n\
                 [[resolver.forward_zone]]\nname = \"A.\"\naddrs = [\"1.2.3.5\"]\n",
    );
    assert_eq!(
        (e.line(), e.key()),
        (Some(5), Some("resolver.forward_zone")),
        "{e}"
    );
    let e = err("[[resolver.forward_zone]]\nname = \"a.\"\naddrs = [\"nope\"]\n");
    assert!(e.to_string().contains("nope"), "{e}");
    let e = err("[[resolver.forward_zone]]\nname = \"a.\"\naddrs = [\"1.2.3.4\"]\nfrist = true\n");
    assert_eq!(e.line(), Some(4), "{e}");
    let e = err("[upstream]\nipv4 = false\nipv6 = false\n");
    assert_eq!((e.line(), e.key()), (Some(2), Some("upstream.ipv4")), "{e}");
}

#[test]
fn relative_root_hints_follow_the_file() {
    let dir = std::env::temp_dir().join(format!("tern-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.toml");
    std::fs::write(&f, "[resolver]\nroot_hints = \"hints.zone\"\n").unwrap();
    let c = load_file(&f).unwrap();
    assert_eq!(c.resolver.root_hints, Some(dir.join("hints.zone")));
    let e = load_file(&dir.join("missing.toml")).unwrap_err();
    assert!(e.to_string().contains("missing.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn backoff_bounds_are_checked_together() {
    let e = err("[upstream]\nholddown_initial_ms = 5000\nholddown_ms = 2000\n");
    assert_eq!(e.key(), Some("upstream.holddown_initial_ms"), "{e}");
    assert!(
        e.to_string().contains("holddown_initial_ms <= holddown_ms"),
        "{e}"
    );
    let e = err("[resolver]\nfailure_ttl_initial_ms = 9000\nfailure_ttl_max_ms = 3000\n");
    assert_eq!(e.key(), Some("resolver.failure_ttl_initial_ms"), "{e}");
    let e = err("[resolver]\nfailure_ttl_initial_ms = 500\n");
    assert_eq!(e.key(), Some("resolver.failure_ttl_initial_ms"), "{e}");
    let c = load_str(
        "[server]\nclient_timeout_ms = 0\ntcp_max_connections_per_client = 8\n",
        "t.toml",
    )
    .unwrap();
    assert!(c.server.client_timeout.is_zero());
    assert_eq!(c.server.tcp_max_connections_per_client, 8);
}

#[test]
fn bad_log_filter_is_rejected() {
    let e = err("[log]\nlevel = \"tern=notalevel\"\n");
    assert_eq!((e.line(), e.key()), (Some(2), Some("log.level")), "{e}");
    // A bare word that is no level (the filter syntax would take it for
    // a target name).
    for bad in ["verbose", "tern=debug,loud", "INFO,chatty"] {
        let e = err(&format!("[log]\n\nlevel = \"{bad}\"\n"));
        assert_eq!((e.line(), e.key()), (Some(3), Some("log.level")), "{e}");
        assert!(e.to_string().contains("unknown level"), "{e}");
    }
    for good in [
        "warn",
        "DEBUG",
        "tern=debug,warn",
        "off",
        "tern::engine=trace",
    ] {
        let c = load_str(&format!("[log]\nlevel = \"{good}\"\n"), "t.toml").unwrap();
        assert_eq!(c.log.level, good);
    }
}

#[test]
fn bench_rig_template_loads_after_substitution() {
    let text = std::fs::read_to_string(repo("benches/rig.toml.in")).unwrap();
    for placeholder in ["@LISTEN_ADDR@", "@LISTEN_PORT@", "@ROOT_HINTS@"] {
        assert!(text.contains(placeholder), "{placeholder} missing");
    }
    let text = text
        .replace("@LISTEN_ADDR@", "127.0.0.20")
        .replace("@LISTEN_PORT@", "53")
        .replace("@ROOT_HINTS@", "/work/shared/bench/lab/hints.zone");
    let c = load_str(&text, "rig.toml").unwrap();
    assert_eq!(c.server.listen, vec!["127.0.0.20:53".parse().unwrap()]);
    assert_eq!(
        c.resolver.root_hints.as_deref(),
        Some(Path::new("/work/shared/bench/lab/hints.zone"))
    );
    assert!(c.resolver.allow_loopback_upstream);
    let acl = tern::server::acl::Acl::new(c.server.access_control.clone());
    assert_eq!(acl.check("127.0.0.1".parse().unwrap()), AclAction::Allow);
}

#[test]
fn nsid_accepts_unbound_syntax_and_rejects_bad_hex() {
    let hex = load_str("[server]\nnsid = \"74657231\"\n", "t.toml").unwrap();
    assert_eq!(hex.server.nsid.as_deref(), Some(&b"ter1"[..]));
    let ascii = load_str("[server]\nnsid = \"ascii_tern one\"\n", "t.toml").unwrap();
    assert_eq!(ascii.server.nsid.as_deref(), Some(&b"tern one"[..]));
    assert_eq!(
        load_str("[server]\nnsid = \"\"\n", "t.toml")
            .unwrap()
            .server
            .nsid,
        None
    );
    let e = err("[server]\nnsid = \"abc\"\n");
    assert_eq!((e.line(), e.key()), (Some(2), Some("server.nsid")), "{e}");
}

#[test]
fn negative_ttl_floor_and_rebinding_protection() {
    let c = load_str(
        "[cache]\nmin_negative_ttl = 10\n[resolver]\nmax_ns_per_set = 3\n\
         private_addresses = [\"10.0.0.0/8\", \"fe80::1\"]\nprivate_domains = [\"lan.example\"]\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(c.cache.min_negative_ttl, 10);
    assert_eq!(c.resolver.max_ns_per_set, 3);
    assert_eq!(c.resolver.private_addresses.len(), 2);
    assert_eq!(c.resolver.private_domains[0].to_string(), "lan.example.");
    let e = err("[cache]\nmax_negative_ttl = 5\nmin_negative_ttl = 6\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:3: cache.min_negative_ttl:"),
        "{e}"
    );
    let e = err("[resolver]\nprivate_addresses = [\"10.0.0.0/33\"]\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:2: resolver.private_addresses:"),
        "{e}"
    );
    let e = err("[resolver]\nprivate_domains = [\"\"]\n");
    assert_eq!(e.key(), Some("resolver.private_domains"));
    let e = err("[resolver]\nmax_ns_per_set = 0\n");
    assert_eq!(e.key(), Some("resolver.max_ns_per_set"));
}

#[test]
fn edns_client_strings_load_and_reject_bad_networks() {
    let c = load_str(
        "[resolver]\nedns_client_strings = [{ net = \"192.0.2.0/24\", text = \"abc d\" }]\n\
         edns_client_string_code = 65432\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(c.resolver.edns_client_strings[0].text, b"abc d");
    assert_eq!(c.resolver.edns_client_string_code, 65432);
    let e = err("[resolver]\nedns_client_strings = [{ net = \"nope\", text = \"x\" }]\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:2: resolver.edns_client_strings:"),
        "{e}"
    );
    let e = err("[resolver]\nedns_client_string_code = 0\n");
    assert_eq!(e.key(), Some("resolver.edns_client_string_code"));
}

#[test]
fn nat64_prefix_must_be_an_rfc6052_length() {
    let c = load_str(
        "[resolver]\nnat64 = true\nnat64_prefix = \"2001:db8:1::/48\"\n",
        "t.toml",
    )
    .unwrap();
    assert!(c.resolver.nat64);
    assert_eq!(c.resolver.nat64_prefix.to_string(), "2001:db8:1::/48");
    let e = err("[resolver]\nnat64_prefix = \"2001:db8::/36\"\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:2: resolver.nat64_prefix:"),
        "{e}"
    );
    let e = err("[resolver]\nnat64_prefix = \"10.0.0.0/8\"\n");
    assert_eq!(e.key(), Some("resolver.nat64_prefix"));
}

#[test]
fn cookie_secret_is_32_hex_digits() {
    let c = load_str(
        "[server]\nanswer_cookie = true\ncookie_secret = \"000102030405060708090a0b0c0d0e0f\"\n",
        "t.toml",
    )
    .unwrap();
    assert!(c.server.answer_cookie);
    assert_eq!(c.server.cookie_secret.map(|s| s[15]), Some(15));
    let e = err("[server]\ncookie_secret = \"0001\"\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:2: server.cookie_secret:"),
        "{e}"
    );
}

#[test]
fn chaos_texts_are_one_string_at_most() {
    let c = load_str("[server]\nidentity = \"ns1\"\nversion = \"\"\n", "t.toml").unwrap();
    assert_eq!(c.server.identity.as_deref(), Some("ns1"));
    assert_eq!(c.server.version, None);
    let e = err(&format!("[server]\nversion = \"{}\"\n", "v".repeat(256)));
    assert!(
        e.to_string().starts_with("bad.toml:2: server.version:"),
        "{e}"
    );
}

#[test]
fn stub_zone_first_defaults_to_false() {
    let c = load_str(
        "[[resolver.stub_zone]]\nname = \"a.\"\naddrs = [\"192.0.2.1\"]\n\
         [[resolver.stub_zone]]\nname = \"b.\"\naddrs = [\"192.0.2.2\"]\nfirst = true\nprime = true\n",
        "t.toml",
    )
    .unwrap();
    let firsts: Vec<bool> = c.resolver.stub_zones.iter().map(|s| s.first).collect();
    assert_eq!(firsts, [false, true]);
    let primes: Vec<bool> = c.resolver.stub_zones.iter().map(|s| s.prime).collect();
    assert_eq!(primes, [false, true]);
}

#[test]
fn serve_stale_and_prefetch_keys() {
    let shipped = load_file(&repo("config/tern.toml")).unwrap().cache;
    let d = Config::default().cache;
    assert_eq!(shipped.serve_expired, d.serve_expired);
    assert_eq!(shipped.serve_expired_ttl, d.serve_expired_ttl);
    assert_eq!(shipped.serve_expired_ttl_reset, d.serve_expired_ttl_reset);
    assert_eq!(shipped.serve_expired_reply_ttl, d.serve_expired_reply_ttl);
    assert_eq!(
        shipped.serve_expired_client_timeout,
        d.serve_expired_client_timeout
    );
    assert_eq!(shipped.serve_original_ttl, d.serve_original_ttl);
    assert_eq!(shipped.ede_serve_expired, d.ede_serve_expired);
    assert_eq!(shipped.prefetch, d.prefetch);
    let c = load_str(
        "[cache]\nserve_expired = true\nserve_expired_ttl = 0\nserve_expired_ttl_reset = true\n\
         serve_expired_reply_ttl = 123\nserve_expired_client_timeout_ms = 0\n\
         serve_original_ttl = true\nede_serve_expired = false\nprefetch = true\n",
        "x",
    )
    .unwrap()
    .cache;
    assert!(c.serve_expired && c.serve_expired_ttl_reset && c.serve_original_ttl && c.prefetch);
    assert!(!c.ede_serve_expired);
    assert_eq!(c.serve_expired_ttl, 0);
    assert_eq!(c.serve_expired_reply_ttl, 123);
    assert!(c.serve_expired_client_timeout.is_zero());
    let e = err("[cache]\nserve_expired_client_timeout_ms = 120001\n");
    assert_eq!(
        e.to_string(),
        "bad.toml:2: cache.serve_expired_client_timeout_ms: 120001 is out of range 0..=120000"
    );
    let e = err("[cache]\nserve_expired_ttl = -1\n");
    assert_eq!(e.key(), Some("cache.serve_expired_ttl"));
}

#[test]
fn local_zones_and_local_data_load_and_name_bad_lines() {
    use tern::config::local::LocalZoneType;
    let c = load_str(
        "[resolver]\nlocal_data = [\"printer.lan. A 192.168.1.9\", \"x.lan. 60 CH TXT hi\"]\n\
         [[resolver.local_zone]]\nname = \"lan\"\ntype = \"static\"\n\
         [[resolver.local_zone]]\nname = \"10.in-addr.arpa.\"\ntype = \"nodefault\"\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(c.resolver.local_zones.len(), 2);
    assert_eq!(c.resolver.local_zones[0].name.to_ascii(), "lan.");
    assert_eq!(c.resolver.local_zones[0].kind, LocalZoneType::Static);
    assert_eq!(c.resolver.local_zones[1].kind, LocalZoneType::Nodefault);
    assert_eq!(c.resolver.local_data.len(), 2);
    assert_eq!(c.resolver.local_data[1].ttl, 60);
    // A bad record names its line and key.
    let e = err(
        "[resolver]\nlocal_data = [\n  \"ok.lan. A 10.0.0.1\",\n  \"bad.lan. A 300.1.1.1\",\n]\n",
    );
    assert_eq!(e.line(), Some(4), "{e}");
    assert_eq!(e.key(), Some("resolver.local_data"), "{e}");
    // An unknown type, a bad class and a zone listed twice.
    let e = err("[[resolver.local_zone]]\nname = \"lan.\"\ntype = \"statik\"\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().contains("statik"), "{e}");
    let e = err("[[resolver.local_zone]]\nname = \"lan.\"\ntype = \"static\"\nclass = \"XX\"\n");
    assert_eq!(e.key(), Some("resolver.local_zone"), "{e}");
    let e = err(
        "[[resolver.local_zone]]\nname = \"lan.\"\ntype = \"static\"\n\
         [[resolver.local_zone]]\nname = \"LAN\"\ntype = \"deny\"\n",
    );
    assert!(e.to_string().contains("twice"), "{e}");
    // Per-client overrides.
    let c = load_str(
        "[[resolver.local_zone]]\nname = \"corp.\"\ntype = \"transparent\"\n\
         overrides = [{ net = \"10.0.0.0/8\", type = \"refuse\" }]\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        c.resolver.local_zones[0].overrides,
        vec![("10.0.0.0/8".parse().unwrap(), LocalZoneType::Refuse)]
    );
    let e = err(
        "[[resolver.local_zone]]\nname = \"corp.\"\ntype = \"static\"\n\
         overrides = [{ net = \"10.0.0.0/99\", type = \"refuse\" }]\n",
    );
    assert_eq!(e.line(), Some(4), "{e}");
}

#[test]
fn allow_cookie_without_answer_cookie_is_rejected() {
    let rules = "access_control = [\n  { net = \"10.0.0.0/8\", action = \"allow_cookie\" },\n]\n";
    let e = err(&format!("[server]\n{rules}"));
    assert_eq!(e.line(), Some(3), "{e}");
    assert_eq!(e.key(), Some("server.access_control"), "{e}");
    assert!(e.to_string().contains("answer_cookie"), "{e}");
    load_str(
        &format!("[server]\nanswer_cookie = true\n{rules}"),
        "ok.toml",
    )
    .unwrap();
}

#[test]
fn dnssec_keys_load_and_name_bad_values() {
    let d = Config::default().dnssec;
    assert!(d.validate && d.builtin_root_anchors && !d.legacy_dsa);
    let c = load_str(
        "[dnssec]\nvalidate = false\nbuiltin_root_anchors = false\n\
         trust_anchor_files = [\"/etc/tern/root.anchor\"]\n\
         trust_anchors = [\"corp.example. DS 12345 13 2 0a1b\"]\n\
         negative_trust_anchors = [\"Broken.Example\", \"lab.\"]\n\
         bogus_ttl_ms = 5000\nmax_nsec3_iterations = 0\naggressive_nsec = false\n\
         legacy_dsa = true\nmax_verifications = 100000\n",
        "t.toml",
    )
    .unwrap()
    .dnssec;
    assert!(!c.validate && !c.builtin_root_anchors && !c.aggressive_nsec && c.legacy_dsa);
    assert_eq!(c.trust_anchor_files, [Path::new("/etc/tern/root.anchor")]);
    assert_eq!(c.trust_anchors.len(), 1);
    let ntas: Vec<String> = c
        .negative_trust_anchors
        .iter()
        .map(|n| n.to_ascii())
        .collect();
    assert_eq!(ntas, ["Broken.Example.", "lab."]);
    assert_eq!(c.bogus_ttl, Duration::from_secs(5));
    assert_eq!((c.max_nsec3_iterations, c.max_verifications), (0, 100_000));

    // A name that is no domain name: file, line and key, and the name.
    let e = err(
        "[dnssec]\nvalidate = true\nnegative_trust_anchors = [\"ok.example\", \"bad..name\"]\n",
    );
    assert!(
        e.to_string()
            .starts_with("bad.toml:3: dnssec.negative_trust_anchors:"),
        "{e}"
    );
    assert!(e.to_string().contains("bad..name"), "{e}");
    let e = err("[dnssec]\nnegative_trust_anchors = [\"\"]\n");
    assert_eq!(
        (e.line(), e.key()),
        (Some(2), Some("dnssec.negative_trust_anchors")),
        "{e}"
    );
    // Out of range: rejected, not clamped.
    let e = err("[dnssec]\nmax_nsec3_iterations = 65536\n");
    assert_eq!(
        e.to_string(),
        "bad.toml:2: dnssec.max_nsec3_iterations: 65536 is out of range 0..=65535"
    );
    let e = err("[dnssec]\nmax_nsec3_iterations = -1\n");
    assert_eq!(e.key(), Some("dnssec.max_nsec3_iterations"), "{e}");
    let e = err("[dnssec]\nmax_verifications = 0\n");
    assert_eq!(e.key(), Some("dnssec.max_verifications"), "{e}");
    let e = err("[dnssec]\nbogus_ttl_ms = 86400001\n");
    assert_eq!(e.key(), Some("dnssec.bogus_ttl_ms"), "{e}");
    let e = err("[dnssec]\nvalidate = true\nagressive_nsec = true\n");
    assert_eq!(
        (e.line(), e.key()),
        (Some(3), Some("dnssec.agressive_nsec")),
        "{e}"
    );
}

#[test]
fn relative_trust_anchor_files_follow_the_file() {
    let dir = std::env::temp_dir().join(format!("tern-config-ta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.toml");
    std::fs::write(
        &f,
        "[dnssec]\ntrust_anchor_files = [\"root.anchor\", \"/abs/other.anchor\"]\n",
    )
    .unwrap();
    let c = load_file(&f).unwrap();
    assert_eq!(
        c.dnssec.trust_anchor_files,
        [
            dir.join("root.anchor"),
            Path::new("/abs/other.anchor").to_path_buf()
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rpz_tables_load_and_errors_name_line_and_key() {
    let c = load_str(
        "[server]\naccess_control = [{ net = \"10.0.0.0/8\", action = \"allow\", tags = [\"kids\"] }]\n\
         [[rpz]]\nname = \"rpz.example\"\nzonefile = \"a.zone\"\n\
         action_override = \"cname\"\ncname_override = \"walled.example.\"\ntags = [\"kids\"]\n\
         [[rpz]]\nname = \"second.example.\"\nzonefile = \"b.zone\"\nlog = true\nlog_name = \"b\"\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(c.server.access_control[0].tags, vec!["kids".to_string()]);
    assert_eq!(c.rpz.len(), 2);
    assert_eq!(c.rpz[0].name.to_ascii(), "rpz.example.");
    assert_eq!(c.rpz[0].tags, vec!["kids".to_string()]);
    assert!(c.rpz[1].log && c.rpz[1].action_override.is_none());
    for (text, line, key) in [
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\naction_override = \"block\"\n",
            4,
            "rpz.action_override",
        ),
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\naction_override = \"cname\"\n",
            4,
            "rpz.action_override",
        ),
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\ncname_override = \"x.\"\n",
            4,
            "rpz.cname_override",
        ),
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\n[[rpz]]\nname = \"a.\"\nzonefile = \"y\"\n",
            5,
            "rpz.name",
        ),
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\ntags = [\"no good\"]\n",
            4,
            "rpz.tags",
        ),
        (
            "[[rpz]]\nname = \"a.\"\nzonefile = \"z\"\nlogg = true\n",
            4,
            "rpz.logg",
        ),
    ] {
        let e = err(text);
        assert_eq!(e.line(), Some(line), "{text}: {e}");
        assert_eq!(e.key(), Some(key), "{text}: {e}");
    }
}

#[test]
fn shared_cache_keys_are_read_and_checked() {
    let c = load_str(
        "[cache.shared]\nserver = \"127.0.0.1:6379\"\nlookup_timeout_ms = 15\nusername = \"tern\"\npassword = \"s3cret\"\n",
        "t.toml",
    )
    .unwrap();
    let s = c.cache.shared.unwrap();
    assert_eq!(s.server, "127.0.0.1:6379");
    assert_eq!(s.lookup_timeout, std::time::Duration::from_millis(15));
    assert_eq!(s.username.as_deref(), Some("tern"));
    assert_eq!(s.key_prefix, "tern:");
    assert!(load_str("", "t.toml").unwrap().cache.shared.is_none());

    let e = err("[cache]\nmin_ttl = 0\n\n[cache.shared]\nkey_prefix = \"x:\"\n");
    assert_eq!(e.line(), Some(4), "{e}");
    assert_eq!(e.key(), Some("cache.shared.server"), "{e}");
    let e = err("[cache.shared]\nserver = \"localhost\"\n");
    assert!(
        e.to_string()
            .starts_with("bad.toml:2: cache.shared.server:"),
        "{e}"
    );
    let e = err("[cache.shared]\nserver = \"127.0.0.1:6379\"\nlookup_timeout_ms = 0\n");
    assert_eq!(e.key(), Some("cache.shared.lookup_timeout_ms"), "{e}");
    let e = err("[cache.shared]\nserver = \"127.0.0.1:6379\"\nusername = \"u\"\n");
    assert_eq!(e.key(), Some("cache.shared.username"), "{e}");
    let e = err("[cache.shared]\nserver = \"127.0.0.1:6379\"\nservre = \"x\"\n");
    assert_eq!(e.key(), Some("cache.shared.servre"), "{e}");
}
