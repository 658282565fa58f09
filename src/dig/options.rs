//! One EDNS option as dig 9.18 prints it in the OPT pseudosection: NSID
//! (RFC 5001), COOKIE with (good)/(bad) (RFC 7873), CLIENT-SUBNET
//! (RFC 7871), EXPIRE (RFC 7314), TCP KEEPALIVE (RFC 7828), PAD (RFC 7830),
//! KEY-TAG (RFC 8145), CLIENT-/SERVER-TAG, EDE (RFC 8914) and `OPT=N`.

use super::msg::{u16_at, u32_at};

pub const OPT_NSID: u16 = 3;
pub const OPT_SUBNET: u16 = 8;
pub const OPT_EXPIRE: u16 = 9;
pub const OPT_COOKIE: u16 = 10;
pub const OPT_KEEPALIVE: u16 = 11;
pub const OPT_PADDING: u16 = 12;
pub const OPT_KEY_TAG: u16 = 14;
pub const OPT_EDE: u16 = 15;
pub const OPT_CLIENT_TAG: u16 = 16;
pub const OPT_SERVER_TAG: u16 = 17;

/// Extended DNS error names (RFC 8914 §4 and the IANA registry).
pub fn ede_name(code: u16) -> Option<&'static str> {
    const NAMES: [&str; 25] = [
        "Other",
        "Unsupported DNSKEY Algorithm",
        "Unsupported DS Digest Type",
        "Stale Answer",
        "Forged Answer",
        "DNSSEC Indeterminate",
        "DNSSEC Bogus",
        "Signature Expired",
        "Signature Not Yet Valid",
        "DNSKEY Missing",
        "RRSIGs Missing",
        "No Zone Key Bit Set",
        "NSEC Missing",
        "Cached Error",
        "Not Ready",
        "Blocked",
        "Censored",
        "Filtered",
        "Prohibited",
        "Stale NXDOMAIN Answer",
        "Not Authoritative",
        "Not Supported",
        "No Reachable Authority",
        "Network Error",
        "Invalid Data",
    ];
    NAMES.get(usize::from(code)).copied()
}

fn printable(data: &[u8]) -> String {
    data.iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}

fn hex_spaced(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x} ")).collect()
}

/// One OPT option line as dig 9.18 prints it.
pub fn option_line(code: u16, data: &[u8], cookie_sent: Option<&[u8; 8]>) -> String {
    match code {
        OPT_NSID if data.is_empty() => "; NSID:".into(),
        OPT_NSID => format!("; NSID: {}(\"{}\")", hex_spaced(data), printable(data)),
        OPT_COOKIE => {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            let status = match cookie_sent {
                Some(sent) if data.len() > 8 && data.get(..8) == Some(sent.as_slice()) => " (good)",
                Some(_) if data.len() > 8 => " (bad)",
                Some(sent) if data == sent.as_slice() => " (echoed)",
                _ => "",
            };
            format!("; COOKIE: {hex}{status}")
        }
        OPT_EXPIRE if data.is_empty() => "; EXPIRE:".into(),
        OPT_EXPIRE => match u32_at(data, 0).filter(|_| data.len() == 4) {
            Some(secs) => format!("; EXPIRE: {secs} ({})", ttl_words(secs)),
            None => generic("EXPIRE", data),
        },
        OPT_KEEPALIVE => match u16_at(data, 0).filter(|_| data.len() == 2) {
            Some(v) => format!("; TCP KEEPALIVE: {}.{} secs", v / 10, v % 10),
            None if data.is_empty() => "; TCP KEEPALIVE:".into(),
            None => generic("TCP KEEPALIVE", data),
        },
        OPT_PADDING if data.is_empty() => "; PAD:".into(),
        OPT_PADDING => format!("; PAD: ({} bytes)", data.len()),
        OPT_KEY_TAG if !data.is_empty() && data.len().is_multiple_of(2) => {
            let tags: Vec<String> = data
                .chunks(2)
                .filter_map(|c| u16_at(c, 0).map(|t| t.to_string()))
                .collect();
            format!("; KEY-TAG: {}", tags.join(", "))
        }
        OPT_CLIENT_TAG | OPT_SERVER_TAG if data.len() == 2 => {
            let name = if code == OPT_CLIENT_TAG {
                "CLIENT-TAG"
            } else {
                "SERVER-TAG"
            };
            format!("; {name}: {}", u16_at(data, 0).unwrap_or(0))
        }
        OPT_SUBNET => match subnet_text(data) {
            Some(t) => format!("; CLIENT-SUBNET: {t}"),
            None => format!("; CLIENT-SUBNET: {}", hex_spaced(data).trim_end()),
        },
        OPT_EDE => {
            let Some(info) = u16_at(data, 0) else {
                return format!("; EDE: {}", hex_spaced(data).trim_end());
            };
            let mut s = format!("; EDE: {info}");
            if let Some(n) = ede_name(info) {
                s.push_str(&format!(" ({n})"));
            }
            let text = data.get(2..).unwrap_or(&[]);
            if !text.is_empty() {
                match std::str::from_utf8(text) {
                    Ok(t) => {
                        s.push_str(&format!(": ({})", t.replace(|c: char| c.is_control(), ".")))
                    }
                    Err(_) => s.push_str(&format!(": {}({})", hex_spaced(text), printable(text))),
                }
            }
            s
        }
        _ if data.is_empty() => format!("; OPT={code}:"),
        _ => format!(
            "; OPT={code}: {}(\"{}\")",
            hex_spaced(data),
            printable(data)
        ),
    }
}

/// ECS payload as `ADDR/SOURCE/SCOPE` (RFC 7871 §6).
fn subnet_text(data: &[u8]) -> Option<String> {
    let family = u16_at(data, 0)?;
    let source = *data.get(2)?;
    let scope = *data.get(3)?;
    let addr = data.get(4..)?;
    let ip = match family {
        1 => {
            let mut o = [0u8; 4];
            o.get_mut(..addr.len())?.copy_from_slice(addr);
            std::net::IpAddr::from(o).to_string()
        }
        2 => {
            let mut o = [0u8; 16];
            o.get_mut(..addr.len())?.copy_from_slice(addr);
            std::net::IpAddr::from(o).to_string()
        }
        _ => return None,
    };
    Some(format!("{ip}/{source}/{scope}"))
}

/// A known option with an unexpected length: name, hex and text.
fn generic(name: &str, data: &[u8]) -> String {
    format!("; {name}: {}(\"{}\")", hex_spaced(data), printable(data))
}

/// A duration in BIND's verbose words: `1 hour 1 minute 1 second`.
pub fn ttl_words(secs: u32) -> String {
    let units = [
        (604_800, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut left = secs;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = left / size;
        left %= size;
        if n > 0 {
            let plural = if n == 1 { "" } else { "s" };
            parts.push(format!("{n} {name}{plural}"));
        }
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_like_dig_918() {
        let cases: &[(u16, &[u8], &str)] = &[
            (
                3,
                b"tern-test",
                "; NSID: 74 65 72 6e 2d 74 65 73 74 (\"tern-test\")",
            ),
            (15, &[0, 20], "; EDE: 20 (Not Authoritative)"),
            (
                15,
                b"\x00\x16no servers",
                "; EDE: 22 (No Reachable Authority): (no servers)",
            ),
            (15, &[0, 99], "; EDE: 99"),
            (10, &[1, 2, 3, 4, 5, 6, 7, 8], "; COOKIE: 0102030405060708"),
            (
                8,
                &[0, 1, 24, 0, 192, 0, 2],
                "; CLIENT-SUBNET: 192.0.2.0/24/0",
            ),
            (65001, b"A\x01", "; OPT=65001: 41 01 (\"A.\")"),
            (65002, b"", "; OPT=65002:"),
            (3, b"", "; NSID:"),
            (
                9,
                &[0, 0, 0x0e, 0x4d],
                "; EXPIRE: 3661 (1 hour 1 minute 1 second)",
            ),
            (9, &[0, 0, 0, 0], "; EXPIRE: 0 (0 seconds)"),
            (9, &[], "; EXPIRE:"),
            (11, &[1, 0x2c], "; TCP KEEPALIVE: 30.0 secs"),
            (11, &[], "; TCP KEEPALIVE:"),
            (12, &[0; 5], "; PAD: (5 bytes)"),
            (12, &[], "; PAD:"),
            (14, &[0, 1, 0, 2], "; KEY-TAG: 1, 2"),
            (17, b"st", "; SERVER-TAG: 29556"),
        ];
        for (code, data, want) in cases {
            assert_eq!(option_line(*code, data, None), *want);
        }
        let sent = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let mut good = sent.to_vec();
        good.extend_from_slice(&[0xaa; 16]);
        assert_eq!(
            option_line(10, &good, Some(&sent)),
            format!("; COOKIE: 0102030405060708{} (good)", "aa".repeat(16))
        );
        assert_eq!(
            option_line(10, &sent, Some(&sent)),
            "; COOKIE: 0102030405060708 (echoed)"
        );
        good[0] = 9;
        assert!(option_line(10, &good, Some(&sent)).ends_with(" (bad)"));
        assert_eq!(ttl_words(90_061), "1 day 1 hour 1 minute 1 second");
        assert_eq!(ttl_words(1_209_600), "2 weeks");
    }
}
