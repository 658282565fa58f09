//! Maps a scenario's Unbound-syntax config block onto `tern::config::Config`.
//!
//! Three kinds of option: *mapped* onto a tern setting; *ignored* because it
//! changes nothing tern's answers depend on (logging, sizes, threads, knobs
//! of features the scenario does not use; each listed below with why);
//! *unsupported* because it needs a feature tern does not have, in which case
//! the scenario is skipped with the option named. Unknown options are
//! unsupported: a scenario is never run with a setting silently dropped.
//! DNSSEC options (trust anchors, validator knobs, `val-override-date`) are
//! `dnssec_config`'s, which says for each which kind it is.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;
use ipnet::IpNet;
use tern::config::{AclAction, AclRule, AuthZone, Config, ForwardZone, StubZone};

use super::dnssec_config::DnssecOptions;
use super::parser::{ConfigLine, Unsupported};

/// `server:` options that do not change what tern answers here.
const IGNORED: &[(&str, &str)] = &[
    ("verbosity", "logging"),
    ("log-time-ascii", "logging"),
    ("log-servfail", "logging"),
    ("log-queries", "logging"),
    ("log-replies", "logging"),
    ("use-syslog", "logging"),
    ("logfile", "logging"),
    ("directory", "file layout"),
    ("chroot", "file layout"),
    ("username", "privileges"),
    ("pidfile", "file layout"),
    ("num-threads", "threads"),
    ("outgoing-range", "socket pool size"),
    (
        "num-queries-per-thread",
        "concurrency limit, not reached by a scenario",
    ),
    (
        "msg-cache-size",
        "cache memory bound, not reached by a scenario",
    ),
    (
        "rrset-cache-size",
        "cache memory bound, not reached by a scenario",
    ),
    ("msg-cache-slabs", "lock striping"),
    ("rrset-cache-slabs", "lock striping"),
    ("infra-cache-slabs", "lock striping"),
    ("key-cache-slabs", "lock striping"),
    (
        "target-fetch-policy",
        "how many missing NS addresses Unbound fetches ahead; tern fetches on demand",
    ),
    (
        "rrset-roundrobin",
        "record order; matching is order-free inside a section",
    ),
    (
        "ede",
        "tern always attaches extended errors on failure; checked only via MATCH ede=",
    ),
    (
        "interface",
        "listening address; the harness calls the handler directly",
    ),
    (
        "port",
        "listening port; the harness calls the handler directly",
    ),
];

/// Boolean `server:` options tern honours only with this value (tern has no
/// switch for the other).
const FIXED: &[(&str, bool)] = &[
    ("qname-minimisation-strict", false),
    ("udp-upstream-without-downstream", false),
    // RFC 8020: tern always treats names below an NXDOMAIN as nonexistent.
    ("harden-below-nxdomain", true),
    ("do-udp", true),
    ("do-tcp", true),
    // The scrubber keeps only NS addresses in the additional section and
    // NS/SOA/DNSSEC records in the authority section, so records of other
    // types there never reach the cache or a client.
    ("harden-unknown-additional", true),
];

fn yes(l: &ConfigLine) -> Result<bool, Unsupported> {
    match l.value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(Unsupported(format!("{}: {}", l.key, l.value))),
    }
}

/// Unbound's `nsid:` syntax is tern's `server.nsid`: let tern's loader read it.
fn nsid(l: &ConfigLine) -> Result<Vec<u8>, Unsupported> {
    let value = l.value.trim_matches('"');
    let text = format!("[server]\nnsid = {value:?}\n");
    tern::config::load_str(&text, "replay")
        .ok()
        .and_then(|c| c.server.nsid)
        .ok_or_else(|| Unsupported(format!("{}: {}", l.key, l.value)))
}

fn num(l: &ConfigLine) -> Result<u32, Unsupported> {
    l.value
        .parse()
        .map_err(|_| Unsupported(format!("{}: {}", l.key, l.value)))
}

fn socket(l: &ConfigLine) -> Result<SocketAddr, Unsupported> {
    let (ip, port) = match l.value.split_once('@') {
        Some((ip, port)) => (ip, port.parse().ok()),
        None => (l.value.as_str(), Some(53)),
    };
    match (ip.parse::<IpAddr>(), port) {
        (Ok(ip), Some(port)) => Ok(SocketAddr::new(ip, port)),
        _ => Err(Unsupported(format!("{}: {}", l.key, l.value))),
    }
}

fn unsupported<T>(l: &ConfigLine) -> Result<T, Unsupported> {
    let clause = if l.clause.is_empty() || l.clause == "server" {
        String::new()
    } else {
        format!("{}: ", l.clause)
    };
    let value: String = l.value.chars().take(40).collect();
    Err(Unsupported(format!("config {clause}{}: {value}", l.key)))
}

/// `access-control: <netblock> <action>`. Unbound picks the most specific
/// netblock; tern's first match wins, so rules are later sorted longest
/// prefix first. `allow_snoop` (RD=0 from cache) is what tern's `Allow`
/// already does.
fn acl_rule(l: &ConfigLine) -> Result<AclRule, Unsupported> {
    let mut parts = l.value.split_whitespace();
    let (Some(net), Some(action)) = (parts.next(), parts.next()) else {
        return unsupported(l);
    };
    let net: IpNet = match net.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match net.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => return unsupported(l),
        },
    };
    let action = match action {
        "allow" | "allow_snoop" => AclAction::Allow,
        "refuse" => AclAction::Refuse,
        "deny" => AclAction::Deny,
        "allow_cookie" => AclAction::AllowCookie,
        _ => return unsupported(l),
    };
    Ok(AclRule {
        net,
        action,
        tags: Vec::new(),
    })
}

/// A value without its surrounding double or single quotes.
fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// `local-zone: <name> <type>`.
fn local_zone(l: &ConfigLine) -> Result<tern::config::local::LocalZone, Unsupported> {
    let mut words = l.value.split_whitespace();
    let (Some(name), Some(kind), None) = (words.next(), words.next(), words.next()) else {
        return unsupported(l);
    };
    let name = tern::config::local::parse_zone_name(name.trim_matches(['"', '\'']))
        .ok_or_else(|| Unsupported(format!("config {}: {}", l.key, l.value)))?;
    let kind = kind.parse().or_else(|_| unsupported(l))?;
    Ok(tern::config::local::LocalZone {
        name,
        class: hickory_proto::rr::DNSClass::IN,
        kind,
        overrides: Vec::new(),
    })
}

/// `local-zone-override: <zone> <netblock> <type>`.
fn local_override(
    l: &ConfigLine,
) -> Result<(Name, IpNet, tern::config::local::LocalZoneType), Unsupported> {
    let words: Vec<&str> = l.value.split_whitespace().collect();
    let [name, net, kind] = words.as_slice() else {
        return unsupported(l);
    };
    let name = tern::config::local::parse_zone_name(name.trim_matches(['"', '\'']))
        .ok_or_else(|| Unsupported(format!("config {}: {}", l.key, l.value)))?;
    let net = net
        .parse::<IpNet>()
        .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
        .or_else(|_| unsupported(l))?;
    Ok((name, net, kind.parse().or_else(|_| unsupported(l))?))
}

/// A scenario's configuration for tern.
pub struct Mapped {
    pub config: Config,
    /// A `stub-zone` for `.`: Unbound treats its addresses as the root hints
    /// and primes from them (RFC 8109), so they become tern's root hints.
    pub root_hints: Option<Vec<IpAddr>>,
    /// The DNSSEC options (already in `config.dnssec`), kept for the date
    /// signatures are checked against.
    pub dnssec: DnssecOptions,
}

/// Builds tern's config for a scenario, or names the option it lacks.
pub fn build(lines: &[ConfigLine]) -> Result<Mapped, Unsupported> {
    let mut c = Config::default();
    // Unbound's default do-not-query-localhost: yes.
    c.resolver.allow_loopback_upstream = false;
    // Unbound's defaults where tern's differ: no stale-answer EDE unless
    // asked (`ede-serve-expired: no`), answer stale at once.
    c.cache.ede_serve_expired = false;
    c.cache.serve_expired_client_timeout = std::time::Duration::ZERO;
    let mut stubs: Vec<StubZone> = Vec::new();
    let mut rpz: Vec<(tern::config::rpz::RpzZone, Option<Name>)> = Vec::new();
    let mut defined: Vec<String> = Vec::new();
    let mut forwards: Vec<ForwardZone> = Vec::new();
    let mut auths: Vec<AuthZone> = Vec::new();
    let mut zonemd_permissive = false;
    let mut acl: Vec<AclRule> = Vec::new();
    let mut overrides = Vec::new();
    let (mut identity, mut version) = (None, None);
    let (mut hide_identity, mut hide_version) = (None, None);
    let mut dnssec = DnssecOptions::default();
    for l in lines {
        if l.clause == "server" && dnssec.take(l)? {
            continue;
        }
        match (l.clause.as_str(), l.key.as_str()) {
            ("server", "qname-minimisation") => c.resolver.qname_minimisation = yes(l)?,
            ("server", "harden-glue") => c.resolver.harden_glue = yes(l)?,
            ("server", "iter-scrub-promiscuous") => c.resolver.trust_answer_ns = !yes(l)?,
            ("server", "harden-unverified-glue") => {
                c.resolver.harden_unverified_glue = yes(l)?;
            }
            ("server", "minimal-responses") => c.resolver.minimal_responses = yes(l)?,
            ("server", "nsid") => c.server.nsid = Some(nsid(l)?),
            ("server", "cache-min-ttl") => c.cache.min_ttl = num(l)?,
            ("server", "cache-max-ttl") => c.cache.max_ttl = num(l)?,
            ("server", "cache-max-negative-ttl") => c.cache.max_negative_ttl = num(l)?,
            ("server", "cache-min-negative-ttl") => c.cache.min_negative_ttl = num(l)?,
            ("server", "do-not-query-localhost") => {
                c.resolver.allow_loopback_upstream = !yes(l)?;
            }
            ("server", "edns-buffer-size") => {
                c.resolver.edns_payload = u16::try_from(num(l)?).or_else(|_| unsupported(l))?;
            }
            ("server", "max-udp-size") => {
                c.server.max_udp_payload = u16::try_from(num(l)?).or_else(|_| unsupported(l))?;
            }
            ("server", "access-control") => acl.push(acl_rule(l)?),
            // Tag names are declared before use; tern's tags need no
            // declaration, but an undeclared one is still refused here.
            ("server", "define-tag") => {
                defined.extend(l.value.split_whitespace().map(str::to_string));
            }
            ("server", "access-control-tag") => {
                // `<netblock> "<tag> ..."`: the tags of that access-control
                // netblock's clients.
                let (net, tags) = l
                    .value
                    .split_once(char::is_whitespace)
                    .unwrap_or((&l.value, ""));
                let net = net
                    .parse::<IpNet>()
                    .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
                    .or_else(|_| unsupported(l))?;
                let tags: Vec<String> = tags
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                if tags.iter().any(|t| !defined.contains(t)) {
                    return unsupported(l);
                }
                // Unbound's own default netblocks (localhost) may be tagged.
                let rule = acl
                    .iter_mut()
                    .chain(c.server.access_control.iter_mut())
                    .find(|r| r.net == net);
                match rule {
                    Some(r) => r.tags.extend(tags),
                    None => return unsupported(l),
                }
            }
            ("server", "max-query-restarts") => c.resolver.max_cname_hops = num(l)?,
            ("server", "max-global-quota") => c.resolver.max_upstream_queries = num(l)?,
            ("server", "discard-timeout") => {
                c.server.discard_timeout = std::time::Duration::from_millis(num(l)?.into());
            }
            ("server", "edns-client-string") => {
                let (net, text) = l
                    .value
                    .split_once(char::is_whitespace)
                    .unwrap_or((&l.value, ""));
                let net = net
                    .parse::<IpNet>()
                    .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
                    .or_else(|_| unsupported(l))?;
                let text = text.trim().trim_matches('"').as_bytes().to_vec();
                c.resolver
                    .edns_client_strings
                    .push(tern::config::ClientString { net, text });
            }
            ("server", "edns-client-string-opcode") => {
                c.resolver.edns_client_string_code =
                    u16::try_from(num(l)?).or_else(|_| unsupported(l))?;
            }
            ("server", "edns-tcp-keepalive") => c.server.edns_tcp_keepalive = yes(l)?,
            // tern has one idle timeout for every TCP connection, and that
            // is what the keepalive option announces.
            ("server", "edns-tcp-keepalive-timeout") => {
                c.server.tcp_idle_timeout = std::time::Duration::from_millis(num(l)?.into());
            }
            ("server", "do-nat64") => c.resolver.nat64 = yes(l)?,
            ("server", "nat64-prefix") => {
                c.resolver.nat64_prefix = l.value.parse().or_else(|_| unsupported(l))?;
            }
            ("server", "local-zone") => c.resolver.local_zones.push(local_zone(l)?),
            ("server", "local-zone-override") => overrides.push((local_override(l)?, l)),
            ("server", "local-data") => {
                let text = unquote(&l.value);
                let r = tern::config::local::parse_record(text).or_else(|_| unsupported(l))?;
                c.resolver.local_data.push(r);
            }
            ("server", "answer-cookie") => c.server.answer_cookie = yes(l)?,
            ("server", "cookie-secret") => {
                let secret = tern::server::cookie::parse_secret(l.value.trim_matches('"'));
                c.server.cookie_secret = Some(
                    secret.ok_or_else(|| Unsupported(format!("config {}: {}", l.key, l.value)))?,
                );
            }
            ("server", "harden-referral-path") => c.resolver.harden_referral_path = yes(l)?,
            ("server", "do-not-query-address") => {
                let net = l.value.trim_matches('"');
                let net = net
                    .parse::<IpNet>()
                    .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
                    .or_else(|_| unsupported(l))?;
                c.resolver.do_not_query.push(net);
            }
            ("server", "identity") => identity = Some(l.value.trim_matches('"').to_string()),
            ("server", "version") => version = Some(l.value.trim_matches('"').to_string()),
            ("server", "hide-identity") => hide_identity = Some((yes(l)?, l)),
            ("server", "hide-version") => hide_version = Some((yes(l)?, l)),
            ("server", "iter-scrub-ns") => c.resolver.max_ns_per_set = num(l)?,
            ("server", "private-address") => {
                let net = l.value.trim_matches('"');
                let net = net
                    .parse::<IpNet>()
                    .or_else(|_| net.parse::<IpAddr>().map(IpNet::from))
                    .or_else(|_| unsupported(l))?;
                c.resolver.private_addresses.push(net);
            }
            ("server", "private-domain") => {
                let mut name =
                    Name::from_ascii(l.value.trim_matches('"')).or_else(|_| unsupported(l))?;
                name.set_fqdn(true);
                c.resolver.private_domains.push(name);
            }
            ("server", "dns64-prefix") => {
                c.resolver.dns64_prefix = l
                    .value
                    .trim_matches('"')
                    .parse()
                    .or_else(|_| unsupported(l))?;
            }
            ("server", "dns64-synthall") => c.resolver.dns64_synthall = yes(l)?,
            ("server", "dns64-ignore-aaaa") => {
                let mut name =
                    Name::from_ascii(l.value.trim_matches('"')).or_else(|_| unsupported(l))?;
                name.set_fqdn(true);
                c.resolver.dns64_ignore_aaaa.push(name);
            }
            ("server", "serve-expired") => c.cache.serve_expired = yes(l)?,
            ("server", "serve-expired-ttl") => c.cache.serve_expired_ttl = num(l)?,
            ("server", "serve-expired-ttl-reset") => c.cache.serve_expired_ttl_reset = yes(l)?,
            ("server", "serve-expired-reply-ttl") => c.cache.serve_expired_reply_ttl = num(l)?,
            ("server", "serve-expired-client-timeout") => {
                c.cache.serve_expired_client_timeout =
                    std::time::Duration::from_millis(u64::from(num(l)?));
            }
            ("server", "serve-original-ttl") => c.cache.serve_original_ttl = yes(l)?,
            ("server", "ede-serve-expired") => c.cache.ede_serve_expired = yes(l)?,
            ("server", "prefetch") => c.cache.prefetch = yes(l)?,
            // Tries per server after a throwaway reply; tern's fixed
            // handful matches Unbound's default only.
            ("server", "outbound-msg-retry") if num(l)? == 5 => {}
            ("server", "module-config") => {
                let mods: Vec<&str> = l.value.split_whitespace().collect();
                // respip is the module that applies RPZ rpz-ip triggers
                // (and Unbound's response-ip options, which stay
                // unsupported below); tern applies policies in the server.
                if !mods
                    .iter()
                    .all(|m| matches!(*m, "iterator" | "validator" | "respip" | "dns64"))
                {
                    return unsupported(l);
                }
                dnssec.no_validator = !mods.contains(&"validator");
                c.resolver.dns64 = mods.contains(&"dns64");
            }
            ("server", key) if IGNORED.iter().any(|(k, _)| *k == key) => {}
            ("server", key) if FIXED.iter().any(|(k, _)| *k == key) => {
                let want = FIXED.iter().find(|(k, _)| *k == key).map(|x| x.1);
                if Some(yes(l)?) != want {
                    return unsupported(l);
                }
            }
            ("stub-zone", "name") => {
                let mut name = Name::from_ascii(&l.value).or_else(|_| unsupported(l))?;
                name.set_fqdn(true);
                stubs.push(StubZone {
                    name,
                    addrs: Vec::new(),
                    first: false,
                    prime: false,
                });
            }
            ("stub-zone", "stub-addr") => {
                let addr = socket(l)?;
                match stubs.last_mut() {
                    Some(s) => s.addrs.push(addr),
                    None => return unsupported(l),
                }
            }
            ("stub-zone", "stub-prime") => match stubs.last_mut() {
                Some(s) => s.prime = yes(l)?,
                None => return unsupported(l),
            },
            ("stub-zone", "stub-first") => match stubs.last_mut() {
                Some(s) => s.first = yes(l)?,
                None => return unsupported(l),
            },
            ("server", "do-ip4") => c.upstream.ipv4 = yes(l)?,
            ("server", "do-ip6") => c.upstream.ipv6 = yes(l)?,
            ("server", "tcp-upstream") => c.upstream.tcp = yes(l)?,
            ("server", "outbound-msg-retry") => match num(l)? {
                0 => return unsupported(l),
                n => c.upstream.retries = n,
            },
            ("forward-zone", "name") => {
                let mut name = Name::from_ascii(&l.value).or_else(|_| unsupported(l))?;
                name.set_fqdn(true);
                forwards.push(ForwardZone {
                    name,
                    addrs: Vec::new(),
                    hosts: Vec::new(),
                    first: false,
                    tcp: false,
                    no_cache: false,
                    tls: None,
                });
            }
            ("forward-zone", key) => {
                let Some(f) = forwards.last_mut() else {
                    return unsupported(l);
                };
                match key {
                    "forward-addr" => f.addrs.push(socket(l)?),
                    "forward-first" => f.first = yes(l)?,
                    "forward-tcp-upstream" => f.tcp = yes(l)?,
                    "forward-no-cache" => f.no_cache = yes(l)?,
                    "forward-host" => {
                        let mut h = Name::from_ascii(&l.value).or_else(|_| unsupported(l))?;
                        h.set_fqdn(true);
                        f.hosts.push(h);
                    }
                    // Plain DNS is all a scenario can play.
                    "forward-tls-upstream" if !yes(l)? => {}
                    _ => return unsupported(l),
                }
            }
            ("server", "zonemd-permissive-mode") => zonemd_permissive = yes(l)?,
            ("auth-zone", "name") => {
                let mut name = Name::from_ascii(&l.value).or_else(|_| unsupported(l))?;
                name.set_fqdn(true);
                // Unbound's defaults.
                auths.push(AuthZone {
                    name,
                    zonefile: std::path::PathBuf::new(),
                    for_downstream: true,
                    for_upstream: true,
                    fallback_enabled: false,
                    zonemd_check: false,
                    zonemd_reject_absent: false,
                    zonemd_permissive: false,
                });
            }
            ("auth-zone", key) => {
                let Some(a) = auths.last_mut() else {
                    return unsupported(l);
                };
                match key {
                    "zonefile" => a.zonefile = std::path::PathBuf::from(&l.value),
                    "for-downstream" => a.for_downstream = yes(l)?,
                    "for-upstream" => a.for_upstream = yes(l)?,
                    "fallback-enabled" => a.fallback_enabled = yes(l)?,
                    "zonemd-check" => a.zonemd_check = yes(l)?,
                    "zonemd-reject-absence" => a.zonemd_reject_absent = yes(l)?,
                    // Transfers from primaries (master, url, allow-notify)
                    // are not played.
                    _ => return unsupported(l),
                }
            }
            ("rpz", "name") => {
                let name = tern::config::local::parse_zone_name(&l.value)
                    .ok_or_else(|| Unsupported(format!("config rpz: name: {}", l.value)))?;
                rpz.push((
                    tern::config::rpz::RpzZone {
                        name,
                        zonefile: std::path::PathBuf::new(),
                        action_override: None,
                        log: false,
                        log_name: None,
                        signal_nxdomain_ra: false,
                        tags: Vec::new(),
                    },
                    None,
                ));
            }
            ("rpz", key) => {
                let Some((z, cname)) = rpz.last_mut() else {
                    return unsupported(l);
                };
                use tern::config::rpz::RpzOverride as O;
                match key {
                    "zonefile" if !l.value.is_empty() => z.zonefile = l.value.clone().into(),
                    "rpz-action-override" => {
                        z.action_override = Some(match l.value.as_str() {
                            "nxdomain" => O::NxDomain,
                            "nodata" => O::NoData,
                            "passthru" => O::Passthru,
                            "drop" => O::Drop,
                            "disabled" => O::Disabled,
                            // The target comes with rpz-cname-override.
                            "cname" => O::Cname(Name::root()),
                            _ => return unsupported(l),
                        });
                    }
                    "rpz-cname-override" => {
                        *cname = Some(
                            tern::config::local::parse_zone_name(&l.value)
                                .ok_or_else(|| Unsupported(format!("config rpz: {}", l.value)))?,
                        );
                    }
                    "rpz-log" => z.log = yes(l)?,
                    "rpz-log-name" => z.log_name = Some(l.value.clone()),
                    "rpz-signal-nxdomain-ra" => z.signal_nxdomain_ra = yes(l)?,
                    "tags" => {
                        let tags: Vec<String> =
                            l.value.split_whitespace().map(str::to_string).collect();
                        if tags.iter().any(|t| !defined.contains(t)) {
                            return unsupported(l);
                        }
                        z.tags = tags;
                    }
                    "for-downstream" if !yes(l)? => {}
                    // `master`, `url`, `allow-notify` (zone transfers),
                    // `for-downstream: yes`: not in tern.
                    _ => return unsupported(l),
                }
            }
            ("remote-control", _) => {}
            _ => return unsupported(l),
        }
    }
    // Unbound answers identity and version unless hidden, with the host
    // name and its own version when none is configured; tern answers only
    // configured texts.
    for (hide, text, slot) in [
        (hide_identity, identity, &mut c.server.identity),
        (hide_version, version, &mut c.server.version),
    ] {
        match (hide, text) {
            (Some((true, _)), _) => *slot = None,
            (_, Some(t)) => *slot = Some(t),
            (Some((false, l)), None) => return unsupported(l),
            (None, None) => {}
        }
    }
    for ((name, net, kind), l) in overrides {
        match c.resolver.local_zones.iter_mut().find(|z| z.name == name) {
            Some(z) => z.overrides.push((net, kind)),
            None => return unsupported(l),
        }
    }
    let root_hints = stubs
        .iter()
        .position(|s| s.name.is_root())
        .map(|i| stubs.remove(i).addrs.iter().map(|a| a.ip()).collect());
    for mut a in auths {
        a.zonemd_permissive = zonemd_permissive;
        // A zone used neither for clients nor for the resolver changes
        // nothing (tern's config refuses such a zone as a mistake).
        if a.for_downstream || a.for_upstream {
            if a.zonefile.as_os_str().is_empty() {
                return Err(Unsupported(format!(
                    "config auth-zone: {} without a zonefile (transfer)",
                    a.name
                )));
            }
            c.resolver.auth_zones.push(a);
        }
    }
    c.resolver.stub_zones = stubs;
    c.resolver.forward_zones = forwards;
    if !acl.is_empty() {
        acl.sort_by_key(|r| std::cmp::Reverse(r.net.prefix_len()));
        acl.append(&mut c.server.access_control);
        c.server.access_control = acl;
    }
    for (mut z, cname) in rpz {
        if z.zonefile.as_os_str().is_empty() {
            return Err(Unsupported(format!(
                "config rpz: {} without a zonefile",
                z.name
            )));
        }
        if let Some(tern::config::rpz::RpzOverride::Cname(_)) = z.action_override {
            let Some(target) = cname else {
                return Err(Unsupported(format!(
                    "config rpz: {}: cname override without a target",
                    z.name
                )));
            };
            z.action_override = Some(tern::config::rpz::RpzOverride::Cname(target));
        }
        c.rpz.push(z);
    }
    c.dnssec = dnssec.config();
    Ok(Mapped {
        config: c,
        root_hints,
        dnssec,
    })
}
