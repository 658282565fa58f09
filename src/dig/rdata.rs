//! Presentation format of names and RDATA as dig prints them: RFC 1035 §5.1
//! escapes (`\X`, `\DDD`), quoted character-strings, per-type layouts of
//! common types (RFC 1035 §3.3, RFC 3596, RFC 2782, RFC 4034 §2.2/§5.3,
//! RFC 8659) and RFC 3597 §5 `\# len hex` for everything else.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::msg::{read_name, u16_at, u32_at, Name};

/// A name in presentation format, with dig's escapes.
pub fn name_text(name: &Name) -> String {
    if name.0.is_empty() {
        return ".".to_string();
    }
    let mut s = String::new();
    for label in &name.0 {
        for &b in label {
            match b {
                b'.' | b'"' | b'(' | b')' | b';' | b'\\' | b'@' | b'$' => {
                    s.push('\\');
                    s.push(char::from(b));
                }
                0x21..=0x7e => s.push(char::from(b)),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
    }
    s
}

/// A character-string in double quotes (RFC 1035 §5.1).
pub fn quoted(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

/// Base64 (RFC 4648 §4), used for keys and signatures.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn hex_upper(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02X}")).collect()
}

/// Splits long base64 text into space-separated chunks as dig does on
/// one line.
pub(crate) fn chunked(text: &str, width: usize) -> String {
    let chunks: Vec<&str> = text
        .as_bytes()
        .chunks(width)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    chunks.join(" ")
}

/// Reads consecutive character-strings.
fn strings(data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let len = usize::from(*data.get(at)?);
        out.push(data.get(at + 1..at + 1 + len)?);
        at += 1 + len;
    }
    Some(out)
}

pub(crate) fn name_at(msg: &[u8], pos: usize, end: usize) -> Option<(String, usize)> {
    let (n, next) = read_name(msg, pos).ok()?;
    (next <= end).then(|| (name_text(&n), next))
}

/// RDATA of a record in presentation format; `msg` is the whole message
/// (names inside RDATA may be compressed).
pub fn rdata_text(msg: &[u8], rtype: u16, offset: usize, len: usize) -> String {
    let end = offset + len;
    let data = msg.get(offset..end).unwrap_or(&[]);
    known(msg, rtype, offset, end, data).unwrap_or_else(|| generic(data))
}

/// RFC 3597 §5 unknown-type form (hex in dig's 56-character chunks).
pub fn generic(data: &[u8]) -> String {
    if data.is_empty() {
        "\\# 0".to_string()
    } else {
        format!("\\# {} {}", data.len(), chunked(&hex_upper(data), 56))
    }
}

/// RDATA with any compressed names expanded (RFC 3597 §4 lists the types
/// whose names may be compressed), as `+unknownformat` and JSON show it.
pub fn wire_rdata(msg: &[u8], rtype: u16, offset: usize, len: usize) -> Vec<u8> {
    let end = offset + len;
    let raw = msg.get(offset..end).unwrap_or(&[]).to_vec();
    // (bytes before the names, number of names, bytes after them)
    let layout: Option<(usize, usize)> = match rtype {
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => Some((0, 1)),
        15 | 18 | 21 | 36 => Some((2, 1)),
        6 | 14 | 17 => Some((0, 2)),
        33 => Some((6, 1)),
        _ => None,
    };
    let Some((fixed, names)) = layout else {
        return raw;
    };
    let expand = || -> Option<Vec<u8>> {
        let mut out = msg.get(offset..offset + fixed)?.to_vec();
        let mut at = offset + fixed;
        for _ in 0..names {
            let (name, next) = read_name(msg, at).ok()?;
            for label in &name.0 {
                out.push(u8::try_from(label.len()).ok()?);
                out.extend_from_slice(label);
            }
            out.push(0);
            at = next;
        }
        out.extend_from_slice(msg.get(at..end)?);
        Some(out)
    };
    expand().unwrap_or(raw)
}

fn known(msg: &[u8], rtype: u16, offset: usize, end: usize, data: &[u8]) -> Option<String> {
    let whole = |(s, next): (String, usize)| (next == end).then_some(s);
    Some(match rtype {
        1 => {
            let o: [u8; 4] = data.try_into().ok()?;
            Ipv4Addr::from(o).to_string()
        }
        28 => {
            let o: [u8; 16] = data.try_into().ok()?;
            Ipv6Addr::from(o).to_string()
        }
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => whole(name_at(msg, offset, end)?)?,
        // MX, AFSDB, RT, KX: preference + name
        15 | 18 | 21 | 36 => {
            let pref = u16_at(msg, offset)?;
            let n = whole(name_at(msg, offset + 2, end)?)?;
            format!("{pref} {n}")
        }
        6 => {
            let (mname, at) = name_at(msg, offset, end)?;
            let (rname, at) = name_at(msg, at, end)?;
            if at + 20 != end {
                return None;
            }
            let n: Vec<String> = (0..5)
                .map(|i| u32_at(msg, at + 4 * i).map(|v| v.to_string()))
                .collect::<Option<_>>()?;
            format!("{mname} {rname} {}", n.join(" "))
        }
        // TXT, SPF
        16 | 99 => {
            let parts = strings(data)?;
            if parts.is_empty() {
                return None;
            }
            parts
                .iter()
                .map(|p| quoted(p))
                .collect::<Vec<_>>()
                .join(" ")
        }
        13 => {
            let parts = strings(data)?;
            if parts.len() != 2 {
                return None;
            }
            parts
                .iter()
                .map(|p| quoted(p))
                .collect::<Vec<_>>()
                .join(" ")
        }
        33 => {
            let p = u16_at(msg, offset)?;
            let w = u16_at(msg, offset + 2)?;
            let port = u16_at(msg, offset + 4)?;
            let n = whole(name_at(msg, offset + 6, end)?)?;
            format!("{p} {w} {port} {n}")
        }
        43 | 44 | 46..=48 | 50..=53 | 59 | 60 => {
            super::dnssec::dnssec_text(msg, rtype, offset, end)?
        }
        64 | 65 => super::svcb::svcb_text(msg, offset, end)?,
        // URI (RFC 7553 §4.5)
        256 => {
            let prio = u16_at(data, 0)?;
            let weight = u16_at(data, 2)?;
            format!("{prio} {weight} {}", quoted(data.get(4..)?))
        }
        // MINFO, RP: two names
        14 | 17 => {
            let (a, at) = name_at(msg, offset, end)?;
            let b = whole(name_at(msg, at, end)?)?;
            format!("{a} {b}")
        }
        // NAPTR (RFC 3403 §4.1)
        35 => {
            let order = u16_at(data, 0)?;
            let pref = u16_at(data, 2)?;
            let mut at = 4;
            let mut texts = Vec::new();
            for _ in 0..3 {
                let len = usize::from(*data.get(at)?);
                texts.push(quoted(data.get(at + 1..at + 1 + len)?));
                at += 1 + len;
            }
            let replacement = whole(name_at(msg, offset + at, end)?)?;
            format!("{order} {pref} {} {replacement}", texts.join(" "))
        }
        29 => loc_text(data)?,
        257 => {
            let flags = data.first()?;
            let tag_len = usize::from(*data.get(1)?);
            let tag = data.get(2..2 + tag_len)?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            let value = data.get(2 + tag_len..)?;
            format!("{flags} {} {}", String::from_utf8_lossy(tag), quoted(value))
        }
        _ => return None,
    })
}

/// LOC (RFC 1876 §3): degrees, minutes, seconds, altitude and sizes.
fn loc_text(data: &[u8]) -> Option<String> {
    if data.len() != 16 || *data.first()? != 0 {
        return None;
    }
    let size = loc_size(*data.get(1)?)?;
    let hp = loc_size(*data.get(2)?)?;
    let vp = loc_size(*data.get(3)?)?;
    let angle = |raw: u32, pos: char, neg: char| {
        let v = i64::from(raw) - (1i64 << 31);
        let dir = if v < 0 { neg } else { pos };
        let a = v.unsigned_abs();
        format!(
            "{} {} {}.{:03} {dir}",
            a / 3_600_000,
            a / 60_000 % 60,
            a / 1000 % 60,
            a % 1000
        )
    };
    let lat = angle(u32_at(data, 4)?, 'N', 'S');
    let lon = angle(u32_at(data, 8)?, 'E', 'W');
    let alt = i64::from(u32_at(data, 12)?) - 10_000_000;
    let sign = if alt < 0 { "-" } else { "" };
    let a = alt.unsigned_abs();
    Some(format!(
        "{lat} {lon} {sign}{}.{:02}m {size} {hp} {vp}",
        a / 100,
        a % 100
    ))
}

/// A LOC size/precision byte (mantissa, power of ten, in cm) in metres.
fn loc_size(b: u8) -> Option<String> {
    let (mantissa, exp) = (u64::from(b >> 4), u32::from(b & 0x0f));
    if mantissa > 9 || exp > 9 {
        return None;
    }
    let cm = mantissa * 10u64.pow(exp);
    Some(if cm >= 100 {
        format!("{}m", cm / 100)
    } else {
        format!("0.{cm:02}m")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name(s.split('.').map(|l| l.as_bytes().to_vec()).collect())
    }

    #[test]
    fn names_escape_like_dig() {
        assert_eq!(name_text(&Name::default()), ".");
        assert_eq!(name_text(&n("www.example")), "www.example.");
        let odd = Name(vec![
            b"a b".to_vec(),
            b"c.d".to_vec(),
            b"\"q\"".to_vec(),
            vec![0xff],
        ]);
        assert_eq!(name_text(&odd), "a\\032b.c\\.d.\\\"q\\\".\\255.");
    }

    #[test]
    fn txt_like_dig() {
        let data = b"\x0bhello world\x0awith \"q\" \\\x02\x01\x7f";
        assert_eq!(
            rdata_text(data, 16, 0, data.len()),
            "\"hello world\" \"with \\\"q\\\" \\\\\" \"\\001\\127\""
        );
        assert_eq!(rdata_text(b"\x05ab", 16, 0, 3), "\\# 3 056162");
    }

    #[test]
    fn fixed_types() {
        assert_eq!(rdata_text(&[192, 0, 2, 1], 1, 0, 4), "192.0.2.1");
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[15] = 1;
        assert_eq!(rdata_text(&v6, 28, 0, 16), "2001::1");
        let mx = b"\x00\x0a\x04mail\x07example\x00";
        assert_eq!(rdata_text(mx, 15, 0, mx.len()), "10 mail.example.");
        assert_eq!(rdata_text(&[1, 2, 3], 1, 0, 3), "\\# 3 010203");
        assert_eq!(rdata_text(&[], 65000, 0, 0), "\\# 0");
        let caa = b"\x00\x05issueca.example";
        assert_eq!(rdata_text(caa, 257, 0, caa.len()), "0 issue \"ca.example\"");
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hell"), "aGVsbA==");
        assert_eq!(base64(b"hel"), "aGVs");
    }
}
