//! `+multiline`: dig's long form of RDATA. SOA timers one per line with
//! their meaning (RFC 1035 §3.3.13), keys and digests in 44-character
//! lines inside parentheses, DNSKEY lines closed with the key's role,
//! algorithm and key tag (RFC 4034 §2.1.1, Appendix B), RFC 3597 data in
//! parentheses. Other types keep their one-line form.

use super::msg::{read_name, u16_at, u32_at};
use super::options::ttl_words;
use super::rdata::{base64, hex_upper, name_text};

/// Continuation lines start at dig's rdata column: four tabs.
const CONT: &str = "\n\t\t\t\t";
const WIDTH: usize = 44;

fn chunks(text: &str) -> Vec<&str> {
    text.as_bytes()
        .chunks(WIDTH)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect()
}

/// `( \n\t\t\t\tchunk\n\t\t\t\tchunk )`: every chunk on its own line.
fn block(text: &str) -> String {
    let mut s = String::from("(");
    for c in chunks(text) {
        s.push_str(CONT);
        s.push_str(c);
    }
    s.push_str(" )");
    s
}

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers").
pub fn algorithm_name(alg: u8) -> String {
    match alg {
        1 => "RSAMD5".into(),
        3 => "DSA".into(),
        5 => "RSASHA1".into(),
        6 => "NSEC3DSA".into(),
        7 => "NSEC3RSASHA1".into(),
        8 => "RSASHA256".into(),
        10 => "RSASHA512".into(),
        12 => "ECCGOST".into(),
        13 => "ECDSAP256SHA256".into(),
        14 => "ECDSAP384SHA384".into(),
        15 => "ED25519".into(),
        16 => "ED448".into(),
        n => n.to_string(),
    }
}

/// The key tag of DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 uses the
/// key's low bits instead).
pub fn key_tag(rdata: &[u8]) -> u16 {
    if rdata.get(3) == Some(&1) {
        let n = rdata.len();
        return match (
            n.checked_sub(3).and_then(|i| rdata.get(i)),
            rdata.get(n.saturating_sub(2)),
        ) {
            (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
    }
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i % 2 == 0 {
            u32::from(*b) << 8
        } else {
            u32::from(*b)
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// The multi-line form, or None to keep the one-line form.
pub fn rdata_multi(msg: &[u8], rtype: u16, offset: usize, len: usize) -> Option<String> {
    let end = offset + len;
    let data = msg.get(offset..end)?;
    Some(match rtype {
        6 => {
            let (mname, at) = read_name(msg, offset).ok()?;
            let (rname, at) = read_name(msg, at).ok()?;
            if at + 20 != end {
                return None;
            }
            let serial = u32_at(msg, at)?;
            let mut s = format!("{} {} (", name_text(&mname), name_text(&rname));
            s.push_str(&format!("{CONT}{:<10} ; serial", serial));
            for (i, what) in ["refresh", "retry", "expire", "minimum"].iter().enumerate() {
                let v = u32_at(msg, at + 4 + 4 * i)?;
                s.push_str(&format!("{CONT}{v:<10} ; {what} ({})", ttl_words(v)));
            }
            s.push_str(CONT);
            s.push(')');
            s
        }
        46 => {
            let (head, times, signer, sig_at) = super::dnssec::rrsig_head(msg, offset, end)?;
            let mut s = format!("{head} ({CONT}{times} {signer}");
            for c in chunks(&base64(msg.get(sig_at..end)?)) {
                s.push_str(CONT);
                s.push_str(c);
            }
            s.push_str(" )");
            s
        }
        50 => {
            let one = super::rdata::rdata_text(msg, rtype, offset, len);
            let mut words = one.splitn(6, ' ');
            let head: Vec<&str> = words.by_ref().take(4).collect();
            let hash = words.next()?;
            if head.len() != 4 || hash.starts_with('\\') {
                return None;
            }
            let mut s = format!("{} ({CONT}{hash}", head.join(" "));
            if let Some(types) = words.next() {
                s.push_str(CONT);
                s.push_str(types);
            }
            s.push_str(" )");
            s
        }
        // DNSKEY, CDNSKEY
        48 | 60 => {
            let flags = u16_at(data, 0)?;
            let (proto, alg) = (data.get(2)?, data.get(3)?);
            let mut s = format!("{flags} {proto} {alg} (");
            for c in chunks(&base64(data.get(4..)?)) {
                s.push_str(CONT);
                s.push_str(c);
            }
            let role = if flags & 1 == 1 { "KSK" } else { "ZSK" };
            s.push_str(&format!(
                "{CONT}) ; {role}; alg = {} ; key id = {}",
                algorithm_name(*alg),
                key_tag(data)
            ));
            s
        }
        // DS, CDS
        43 | 59 => {
            let tag = u16_at(data, 0)?;
            let (alg, dt) = (data.get(2)?, data.get(3)?);
            format!("{tag} {alg} {dt} {}", block(&hex_upper(data.get(4..)?)))
        }
        44 => {
            let (alg, t) = (data.first()?, data.get(1)?);
            format!("{alg} {t} {}", block(&hex_upper(data.get(2..)?)))
        }
        // TLSA, SMIMEA
        52 | 53 => {
            let (u, sel, m) = (data.first()?, data.get(1)?, data.get(2)?);
            format!("{u} {sel} {m} {}", block(&hex_upper(data.get(3..)?)))
        }
        _ => return None,
    })
}

/// RFC 3597 form on several lines: the first chunk stays on the first line.
pub fn generic_multi(data: &[u8]) -> String {
    if data.is_empty() {
        return "\\# 0".into();
    }
    let hex = hex_upper(data);
    format!("\\# {} ( {} )", data.len(), chunks(&hex).join(CONT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_like_dig() {
        let mut m = b"\x03ns1\x07example\x00\x0ahostmaster\xc0\x04".to_vec();
        for v in [2_024_010_101u32, 7200, 900, 1_209_600, 300] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(
            rdata_multi(&m, 6, 0, m.len()).unwrap(),
            "ns1.example. hostmaster.example. (\n\
             \t\t\t\t2024010101 ; serial\n\
             \t\t\t\t7200       ; refresh (2 hours)\n\
             \t\t\t\t900        ; retry (15 minutes)\n\
             \t\t\t\t1209600    ; expire (2 weeks)\n\
             \t\t\t\t300        ; minimum (5 minutes)\n\
             \t\t\t\t)"
        );
    }

    #[test]
    fn keys_and_digests_like_dig() {
        // The ZSK dig shows as "key id = 2370".
        let key = "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
        let raw: Vec<u8> = decode64(key);
        let mut rdata = vec![1, 0, 3, 13];
        rdata.extend_from_slice(&raw);
        assert_eq!(key_tag(&rdata), 2370);
        assert_eq!(
            rdata_multi(&rdata, 48, 0, rdata.len()).unwrap(),
            "256 3 13 (\n\t\t\t\tmdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+Gq\n\
             \t\t\t\tJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n\
             \t\t\t\t) ; ZSK; alg = ECDSAP256SHA256 ; key id = 2370"
        );
        let ds = [
            &[0x04, 0xd2, 13, 1][..],
            &[0x01, 0x23, 0x45, 0x67].repeat(5),
        ]
        .concat();
        assert_eq!(
            rdata_multi(&ds, 43, 0, ds.len()).unwrap(),
            "1234 13 1 (\n\t\t\t\t0123456701234567012345670123456701234567 )"
        );
        assert_eq!(generic_multi(&[1, 2, 3]), "\\# 3 ( 010203 )");
        let long: Vec<u8> = (0..30).collect();
        assert_eq!(
            generic_multi(&long),
            "\\# 30 ( 000102030405060708090A0B0C0D0E0F101112131415\n\t\t\t\t161718191A1B1C1D )"
        );
    }

    fn decode64(s: &str) -> Vec<u8> {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes().filter(|c| *c != b'=') {
            bits = (bits << 6) | alphabet.iter().position(|a| *a == c).unwrap() as u32;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
            }
        }
        out
    }
}
