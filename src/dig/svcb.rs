//! SVCB and HTTPS RDATA (RFC 9460 §2.1, §7) as dig 9.18 prints them:
//! priority, target, then each SvcParam in wire order — `mandatory=` key
//! names, `alpn="h3,h2"`, `no-default-alpn`, `port=`, `ipv4hint=`,
//! `ech=` base64, `ipv6hint=`, and `keyNNNNN="..."` for the rest.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::msg::{read_name, u16_at};
use super::rdata::{base64, name_text};

fn key_name(key: u16) -> String {
    match key {
        0 => "mandatory".into(),
        1 => "alpn".into(),
        2 => "no-default-alpn".into(),
        3 => "port".into(),
        4 => "ipv4hint".into(),
        5 => "ech".into(),
        6 => "ipv6hint".into(),
        n => format!("key{n}"),
    }
}

/// Bytes inside a quoted value: `"` and `\` escaped, others as \DDD
/// when not printable; `extra` lists further bytes to escape.
fn escaped(bytes: &[u8], extra: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            _ if extra.contains(&b) => {
                s.push_str("\\\\");
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s
}

fn param(key: u16, v: &[u8]) -> Option<String> {
    let name = key_name(key);
    Some(match key {
        0 => {
            let keys: Vec<String> = v
                .chunks(2)
                .map(|c| u16_at(c, 0).map(key_name))
                .collect::<Option<_>>()?;
            format!("{name}={}", keys.join(","))
        }
        1 => {
            let mut ids = Vec::new();
            let mut at = 0;
            while at < v.len() {
                let len = usize::from(*v.get(at)?);
                // A comma inside an id is escaped twice: once for the
                // list, once for the quoted string (RFC 9460 Appendix A.1).
                ids.push(escaped(v.get(at + 1..at + 1 + len)?, b","));
                at += 1 + len;
            }
            format!("{name}=\"{}\"", ids.join(","))
        }
        2 if v.is_empty() => name,
        3 => format!("{name}={}", u16_at(v, 0).filter(|_| v.len() == 2)?),
        4 if !v.is_empty() && v.len().is_multiple_of(4) => {
            let a: Vec<String> = v
                .chunks(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(|o| Ipv4Addr::from(o).to_string())
                .collect();
            format!("{name}={}", a.join(","))
        }
        5 => format!("{name}={}", base64(v)),
        6 if !v.is_empty() && v.len().is_multiple_of(16) => {
            let a: Vec<String> = v
                .chunks(16)
                .filter_map(|c| <[u8; 16]>::try_from(c).ok())
                .map(|o| Ipv6Addr::from(o).to_string())
                .collect();
            format!("{name}={}", a.join(","))
        }
        2 | 4 | 6 => return None,
        _ if v.is_empty() => name,
        _ => format!("{name}=\"{}\"", escaped(v, b"")),
    })
}

/// The presentation form, or None when malformed.
pub fn svcb_text(msg: &[u8], offset: usize, end: usize) -> Option<String> {
    let priority = u16_at(msg, offset)?;
    let (target, mut at) = read_name(msg, offset + 2).ok()?;
    if at > end {
        return None;
    }
    let mut s = format!("{priority} {}", name_text(&target));
    while at < end {
        let key = u16_at(msg, at)?;
        let len = usize::from(u16_at(msg, at + 2)?);
        let v = msg.get(at + 4..at + 4 + len)?;
        if at + 4 + len > end {
            return None;
        }
        s.push(' ');
        s.push_str(&param(key, v)?);
        at += 4 + len;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_like_dig() {
        let mut m = vec![0, 1, 0];
        let mut p = |key: u16, v: &[u8]| {
            m.extend_from_slice(&key.to_be_bytes());
            m.extend_from_slice(&(v.len() as u16).to_be_bytes());
            m.extend_from_slice(v);
        };
        p(0, &[0, 1, 0, 3]);
        p(1, b"\x02h3\x02h2\x03a,b");
        p(2, b"");
        p(3, &[0x20, 0xfb]);
        p(4, &[192, 0, 2, 1, 192, 0, 2, 2]);
        p(5, &[0, 0x45, 0xfe, 0x0d]);
        p(
            6,
            &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        p(65333, b"ab\"c");
        assert_eq!(
            svcb_text(&m, 0, m.len()).unwrap(),
            "1 . mandatory=alpn,port alpn=\"h3,h2,a\\\\,b\" no-default-alpn port=8443 \
             ipv4hint=192.0.2.1,192.0.2.2 ech=AEX+DQ== ipv6hint=2001:db8::1 key65333=\"ab\\\"c\""
        );
        assert_eq!(svcb_text(&[0, 1, 0, 0, 3, 0, 1, 9], 0, 8), None);
    }
}
