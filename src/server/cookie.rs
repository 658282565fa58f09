//! DNS Cookies on the client side of tern (RFC 7873 §5.2), with server
//! cookies made as RFC 9018 §4 specifies, so any server sharing the secret
//! can verify them: Version 1, three reserved bytes, a 32-bit timestamp and
//! SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP)
//! keyed with the 16-byte secret.
//!
//! A query's first COOKIE option is answered with one COOKIE option: the
//! client cookie and a fresh server cookie. An option whose length is not
//! 8 (client cookie alone) or 16..=40 (with a server cookie) is malformed:
//! FORMERR (RFC 7873 §5.2.2). Queries without cookies are answered as
//! before, except from `allow_cookie` clients over UDP, which must show a
//! valid server cookie (`server_cookie_valid`; RFC 7873 §5.2.3–5.2.4:
//! BADCOOKIE otherwise, REFUSED with TC when they sent none).

use std::net::IpAddr;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

/// The COOKIE option code (RFC 7873 §4).
pub const COOKIE_CODE: u16 = 10;

/// The length of a client cookie (RFC 7873 §4).
const CLIENT_LEN: usize = 8;

/// What a query's cookie option asks of the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCookie {
    /// No COOKIE option.
    None,
    /// A COOKIE option of a length RFC 7873 §4 does not allow.
    Malformed,
    /// The client cookie of a well-formed option.
    Client([u8; CLIENT_LEN]),
}

/// Reads the first COOKIE option of `query`.
pub fn client_cookie(query: &Message) -> ClientCookie {
    let Some(opt) = query
        .edns
        .as_ref()
        .and_then(|e| e.option(EdnsCode::from(COOKIE_CODE)))
    else {
        return ClientCookie::None;
    };
    let EdnsOption::Unknown(_, data) = opt else {
        return ClientCookie::Malformed;
    };
    let len = data.len();
    if len != CLIENT_LEN && !(16..=40).contains(&len) {
        return ClientCookie::Malformed;
    }
    let mut client = [0u8; CLIENT_LEN];
    match data.get(..CLIENT_LEN) {
        Some(c) => client.copy_from_slice(c),
        None => return ClientCookie::Malformed,
    }
    ClientCookie::Client(client)
}

/// The 16-byte server cookie of RFC 9018 §4 for `client` from `ip` at
/// `unix_secs`.
pub fn server_cookie(
    secret: &[u8; 16],
    client: &[u8; CLIENT_LEN],
    ip: IpAddr,
    unix_secs: u64,
) -> [u8; 16] {
    // RFC 9018 §4.3: serial-number arithmetic over 32 bits.
    let [t0, t1, t2, t3] = ((unix_secs & 0xffff_ffff) as u32).to_be_bytes();
    // Version 1, three reserved bytes, the timestamp.
    let head = [1, 0, 0, 0, t0, t1, t2, t3];
    let mut input = Vec::with_capacity(CLIENT_LEN + 8 + 16);
    input.extend_from_slice(client);
    input.extend_from_slice(&head);
    match ip {
        IpAddr::V4(v4) => input.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => input.extend_from_slice(&v6.octets()),
    }
    let hash = siphash24(secret, &input).to_le_bytes();
    let mut out = [0u8; 16];
    for (d, s) in out.iter_mut().zip(head.iter().chain(hash.iter())) {
        *d = *s;
    }
    out
}

/// Puts one COOKIE option (client + server cookie) in `reply`, replacing
/// any other, if the reply has EDNS.
pub fn answer(reply: &mut Message, client: &[u8; CLIENT_LEN], server: &[u8; 16]) {
    let Some(edns) = reply.edns.as_mut() else {
        return;
    };
    let mut data = client.to_vec();
    data.extend_from_slice(server);
    edns.options_mut().remove(EdnsCode::from(COOKIE_CODE));
    edns.options_mut()
        .insert(EdnsOption::Unknown(COOKIE_CODE, data));
}

/// How far a server cookie's timestamp may lie in the past (RFC 9018
/// §4.3: one hour) or in the future (five minutes).
const MAX_AGE_SECS: i64 = 3600;
const MAX_AHEAD_SECS: i64 = 300;

/// Whether a query carries a server cookie we made for this client, at
/// most an hour ago (RFC 9018 §4.3, timestamps compared in serial-number
/// arithmetic): what an `allow_cookie` client must show over UDP.
pub fn server_cookie_valid(query: &Message, secret: &[u8; 16], ip: IpAddr, unix_secs: u64) -> bool {
    let Some(EdnsOption::Unknown(_, data)) = query
        .edns
        .as_ref()
        .and_then(|e| e.option(EdnsCode::from(COOKIE_CODE)))
    else {
        return false;
    };
    // Client cookie, then Version 1, three reserved bytes, timestamp, hash.
    let (Some(client), Some(server)) = (data.get(..CLIENT_LEN), data.get(CLIENT_LEN..)) else {
        return false;
    };
    let (Ok(client), Ok(server)) = (
        <[u8; CLIENT_LEN]>::try_from(client),
        <[u8; 16]>::try_from(server),
    ) else {
        return false;
    };
    let [version, _, _, _, t0, t1, t2, t3, ..] = server;
    if version != 1 {
        return false;
    }
    let stamp = u32::from_be_bytes([t0, t1, t2, t3]);
    let now = (unix_secs & 0xffff_ffff) as u32;
    // Serial-number difference (RFC 1982): positive when the stamp is old.
    let age = i64::from(now.wrapping_sub(stamp) as i32);
    if !(-MAX_AHEAD_SECS..=MAX_AGE_SECS).contains(&age) {
        return false;
    }
    server_cookie(secret, &client, ip, u64::from(stamp)) == server
}

/// Parses the `cookie_secret` syntax: 32 hex digits.
pub fn parse_secret(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// SipHash-2-4 with a 128-bit key (Aumasson & Bernstein, 2012), 64-bit
/// output; the function RFC 9018 §4.4 names.
fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let (a, b) = key.split_at(8);
    let k0 = u64::from_le_bytes(a.try_into().unwrap_or_default());
    let k1 = u64::from_le_bytes(b.try_into().unwrap_or_default());
    let mut v = Sip {
        v0: k0 ^ 0x736f_6d65_7073_6575,
        v1: k1 ^ 0x646f_7261_6e64_6f6d,
        v2: k0 ^ 0x6c79_6765_6e65_7261,
        v3: k1 ^ 0x7465_6462_7974_6573,
    };
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        v.compress(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
    }
    // The last block: the remaining bytes, then the length's low byte.
    let mut last = [0u8; 8];
    for (d, s) in last.iter_mut().zip(chunks.remainder()) {
        *d = *s;
    }
    if let Some(top) = last.last_mut() {
        *top = (data.len() & 0xff) as u8;
    }
    v.compress(u64::from_le_bytes(last));
    v.v2 ^= 0xff;
    for _ in 0..4 {
        v.round();
    }
    v.v0 ^ v.v1 ^ v.v2 ^ v.v3
}

/// SipHash state.
struct Sip {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl Sip {
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// Two compression rounds over one message word (SipHash-2-x).
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use hickory_proto::op::{Edns, MessageType, OpCode};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The reference test vector of the SipHash paper (Appendix A): key
    /// 00..0f, message 00..0e.
    #[test]
    fn siphash_reference_vector() {
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let msg: Vec<u8> = (0..15u8).collect();
        assert_eq!(siphash24(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    /// RFC 9018 Appendix A.1: the first exchange with a new server.
    #[test]
    fn rfc9018_example() {
        let secret = parse_secret("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap();
        let client: [u8; 8] = hex("2464c4abcf10c957").try_into().unwrap();
        let ip: IpAddr = "198.51.100.100".parse().unwrap();
        let cookie = server_cookie(&secret, &client, ip, 1_559_731_985);
        assert_eq!(cookie.to_vec(), hex("010000005cf79f111f8130c3eee29480"));
    }

    fn query(option: Option<Vec<u8>>) -> Message {
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        let mut e = Edns::new();
        if let Some(d) = option {
            e.options_mut().insert(EdnsOption::Unknown(COOKIE_CODE, d));
        }
        m.set_edns(e);
        m
    }

    #[test]
    fn option_lengths() {
        assert_eq!(client_cookie(&query(None)), ClientCookie::None);
        assert_eq!(
            client_cookie(&query(Some(vec![1; 8]))),
            ClientCookie::Client([1; 8])
        );
        assert_eq!(
            client_cookie(&query(Some(vec![2; 24]))),
            ClientCookie::Client([2; 8])
        );
        for bad in [0, 7, 9, 15, 41] {
            assert_eq!(
                client_cookie(&query(Some(vec![3; bad]))),
                ClientCookie::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_answer_holds_one_cookie() {
        let mut r = query(Some(vec![9; 8]));
        r.edns
            .as_mut()
            .unwrap()
            .options_mut()
            .insert(EdnsOption::Unknown(COOKIE_CODE, vec![9; 8]));
        answer(&mut r, &[1; 8], &[2; 16]);
        let opts = &r.edns.as_ref().unwrap().options().options;
        let cookies: Vec<_> = opts
            .iter()
            .filter(|(c, _)| *c == EdnsCode::from(COOKIE_CODE))
            .collect();
        assert_eq!(cookies.len(), 1);
        let mut want = vec![1; 8];
        want.extend([2; 16]);
        assert_eq!(cookies[0].1, EdnsOption::Unknown(COOKIE_CODE, want));
    }

    #[test]
    fn secrets_are_32_hex_digits() {
        assert_eq!(
            parse_secret("000102030405060708090a0b0c0d0e0f").unwrap()[15],
            15
        );
        assert!(parse_secret("00010203").is_none());
        assert!(parse_secret("zz0102030405060708090a0b0c0d0e0f").is_none());
    }

    #[test]
    fn server_cookies_are_checked_for_hash_and_age() {
        let secret = [7u8; 16];
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let client = [1, 2, 3, 4, 5, 6, 7, 8];
        let made = 1_000_000u64;
        let with = |server: &[u8]| {
            let mut d = client.to_vec();
            d.extend_from_slice(server);
            query(Some(d))
        };
        let good = server_cookie(&secret, &client, ip, made);
        let q = with(&good);
        assert!(server_cookie_valid(&q, &secret, ip, made));
        assert!(server_cookie_valid(&q, &secret, ip, made + 3600));
        assert!(
            !server_cookie_valid(&q, &secret, ip, made + 3601),
            "too old"
        );
        assert!(server_cookie_valid(&q, &secret, ip, made - 300));
        assert!(
            !server_cookie_valid(&q, &secret, ip, made - 301),
            "too far ahead"
        );
        assert!(!server_cookie_valid(
            &q,
            &secret,
            "192.0.2.2".parse().unwrap(),
            made
        ));
        assert!(!server_cookie_valid(&q, &[8u8; 16], ip, made));
        let mut bad = good;
        bad[15] ^= 1;
        assert!(!server_cookie_valid(&with(&bad), &secret, ip, made));
        assert!(!server_cookie_valid(
            &query(Some(client.to_vec())),
            &secret,
            ip,
            made
        ));
        assert!(!server_cookie_valid(&query(None), &secret, ip, made));
    }

    /// The server cookie Unbound's edns_nsid_repeat scenario expects for
    /// client cookie 0102030405060708 from 127.0.0.1 at time 0.
    #[test]
    fn matches_the_cookie_unbound_makes() {
        let secret = parse_secret("000102030405060708090a0b0c0d0e0f").unwrap();
        let c = server_cookie(
            &secret,
            &[1, 2, 3, 4, 5, 6, 7, 8],
            "127.0.0.1".parse().unwrap(),
            0,
        );
        assert_eq!(
            c,
            [1, 0, 0, 0, 0, 0, 0, 0, 0x9f, 0xd0, 0xc2, 0x9f, 0xda, 0x3e, 0x95, 0xbe]
        );
    }
}
