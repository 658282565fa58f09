//! Building one query (hickory-proto) and exchanging it with one server the
//! way dig does: UDP with a random ID, waiting for a reply with the same ID
//! and question (RFC 5452 §9.1), `timeout` per try and `tries` tries; TCP
//! with a two-byte length prefix (RFC 1035 §4.2.2, RFC 7766) on request or
//! after TC=1. EDNS(0) per RFC 6891 with COOKIE (RFC 7873 §5.1), NSID
//! (RFC 5001) and client subnet (RFC 7871 §6) options.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::args::Subnet;
use super::msg::u16_at;
use super::types::TYPE_IXFR;
use crate::engine::{check_reply, same_first_question, Bare, Head, Mismatch};

/// EDNS option codes (IANA "DNS EDNS0 Option Codes").
pub const OPT_NSID: u16 = 3;
pub const OPT_SUBNET: u16 = 8;
pub const OPT_COOKIE: u16 = 10;
pub const OPT_PADDING: u16 = 12;

/// What goes into the query message.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub recurse: bool,
    pub aaflag: bool,
    pub raflag: bool,
    pub tcflag: bool,
    pub adflag: bool,
    pub cd: bool,
    pub edns: bool,
    pub dnssec: bool,
    pub bufsize: u16,
    pub nsid: bool,
    pub cookie: Option<[u8; 8]>,
    pub subnet: Option<Subnet>,
    pub extra: Extras,
}

/// dig's rarer query knobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// Options after COOKIE, in dig's order: +expire, +keepalive, then
    /// each +ednsopt.
    pub options: Vec<(u16, Vec<u8>)>,
    /// `+padding=N`: pad the query to a multiple of N bytes (RFC 8467
    /// §4.1) with a PADDING option (RFC 7830).
    pub padding: u16,
    /// `+header-only`: no question section.
    pub header_only: bool,
    /// `+zflag`: set the reserved Z bit.
    pub zflag: bool,
    /// `+opcode=N`.
    pub opcode: Option<u8>,
    /// `+edns=N`: the EDNS version.
    pub edns_version: u8,
    /// `IXFR=N`: the serial the transfer starts from, sent as an SOA in
    /// the authority section (RFC 1995 §3).
    pub ixfr_serial: Option<u32>,
}

/// Why a query could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("'{0}' is not a legal name")]
    BadName(String),
    #[error("could not encode the query")]
    Encode,
}

/// Parses a name as typed; relative names are made absolute (dig's
/// default +nosearch).
pub fn parse_name(text: &str) -> Result<Name, BuildError> {
    let bad = || BuildError::BadName(text.to_string());
    let labels = text_labels(text).ok_or_else(bad)?;
    let mut name = Name::from_labels(labels).map_err(|_| bad())?;
    name.set_fqdn(true);
    Ok(name)
}

/// Splits a presentation-format name into raw labels, decoding `\X` and
/// `\DDD` escapes (RFC 1035 §5.1); None when malformed or too long.
pub fn text_labels(text: &str) -> Option<Vec<Vec<u8>>> {
    if text == "." || text.is_empty() {
        return Some(Vec::new());
    }
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut bytes = text.bytes();
    let mut total = 1usize;
    let mut ended_with_dot = false;
    while let Some(b) = bytes.next() {
        ended_with_dot = false;
        match b {
            b'.' => {
                if label.is_empty() || label.len() > 63 {
                    return None;
                }
                total += label.len() + 1;
                labels.push(std::mem::take(&mut label));
                ended_with_dot = true;
            }
            b'\\' => {
                let c = bytes.next()?;
                if c.is_ascii_digit() {
                    let d2 = bytes.next().filter(u8::is_ascii_digit)?;
                    let d3 = bytes.next().filter(u8::is_ascii_digit)?;
                    let v = u16::from(c - b'0') * 100
                        + u16::from(d2 - b'0') * 10
                        + u16::from(d3 - b'0');
                    label.push(u8::try_from(v).ok()?);
                } else {
                    label.push(c);
                }
            }
            _ => label.push(b),
        }
    }
    if !ended_with_dot {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        total += label.len() + 1;
        labels.push(label);
    }
    (total <= 255).then_some(labels)
}

/// The ECS option payload (RFC 7871 §6): family, source prefix, scope 0,
/// and only the bytes the prefix covers, with bits past it cleared.
pub fn subnet_option(s: &Subnet) -> Vec<u8> {
    let (family, octets): (u16, Vec<u8>) = match s.addr {
        IpAddr::V4(a) => (1, a.octets().to_vec()),
        IpAddr::V6(a) => (2, a.octets().to_vec()),
    };
    let nbytes = usize::from(s.prefix).div_ceil(8);
    let mut addr: Vec<u8> = octets.into_iter().take(nbytes).collect();
    let spare = (8 - s.prefix % 8) % 8;
    if let Some(last) = addr.last_mut() {
        *last &= 0xffu8 << spare;
    }
    let mut data = family.to_be_bytes().to_vec();
    data.push(s.prefix);
    data.push(0);
    data.extend(addr);
    data
}

/// Builds the query message bytes.
pub fn build(id: u16, spec: &QuerySpec) -> Result<Vec<u8>, BuildError> {
    let unpadded = build_with_padding(id, spec, 0)?;
    let block = usize::from(spec.extra.padding);
    if block == 0 || !spec.edns {
        return Ok(unpadded);
    }
    let pad = (block - unpadded.len() % block) % block;
    build_with_padding(id, spec, pad)
}

/// The query with `pad` zero bytes in its PADDING option (when +padding).
pub fn build_with_padding(id: u16, spec: &QuerySpec, pad: usize) -> Result<Vec<u8>, BuildError> {
    let name = parse_name(&spec.name)?;
    let opcode = OpCode::from_u8(spec.extra.opcode.unwrap_or(0));
    let mut m = Message::new(id, MessageType::Query, opcode);
    m.metadata.recursion_desired = spec.recurse;
    m.metadata.authoritative = spec.aaflag;
    m.metadata.recursion_available = spec.raflag;
    m.metadata.truncation = spec.tcflag;
    m.metadata.authentic_data = spec.adflag;
    m.metadata.checking_disabled = spec.cd;
    if !spec.extra.header_only {
        let mut q = Query::query(name, RecordType::from(spec.qtype));
        q.set_query_class(DNSClass::from(spec.qclass));
        m.add_query(q);
    }
    if let Some(serial) = spec.extra.ixfr_serial.filter(|_| spec.qtype == TYPE_IXFR) {
        // As dig: the zone's SOA with only the serial filled in.
        let soa = SOA::new(Name::root(), Name::root(), serial, 0, 0, 0, 0);
        m.add_authority(Record::from_rdata(
            parse_name(&spec.name)?,
            0,
            RData::SOA(soa),
        ));
    }
    if spec.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(spec.bufsize);
        edns.set_version(spec.extra.edns_version);
        edns.set_dnssec_ok(spec.dnssec);
        let opts = edns.options_mut();
        if spec.nsid {
            opts.insert(EdnsOption::Unknown(OPT_NSID, Vec::new()));
        }
        if let Some(s) = &spec.subnet {
            opts.insert(EdnsOption::Unknown(OPT_SUBNET, subnet_option(s)));
        }
        if let Some(c) = spec.cookie {
            opts.insert(EdnsOption::Unknown(OPT_COOKIE, c.to_vec()));
        }
        for (code, data) in &spec.extra.options {
            opts.insert(EdnsOption::Unknown(*code, data.clone()));
        }
        if spec.extra.padding > 0 {
            opts.insert(EdnsOption::Unknown(OPT_PADDING, vec![0; pad]));
        }
        m.set_edns(edns);
    }
    let mut bytes = m.to_vec().map_err(|_| BuildError::Encode)?;
    if spec.extra.zflag {
        if let Some(b) = bytes.get_mut(3) {
            *b |= 0x40;
        }
    }
    Ok(bytes)
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct SendOpts {
    pub tcp: bool,
    pub timeout: Duration,
    pub tries: u32,
    pub source: Option<IpAddr>,
}

/// A reply that matched the query.
#[derive(Debug, Clone)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub rtt: Duration,
    pub tcp: bool,
    /// "UDP", "TCP", "TLS" or "HTTPS", as dig names it.
    pub proto: &'static str,
}

/// Why one try failed, in dig's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryFailure {
    TimedOut,
    Refused,
    Other(String),
}

impl std::fmt::Display for TryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryFailure::TimedOut => f.write_str("timed out"),
            TryFailure::Refused => f.write_str("connection refused"),
            TryFailure::Other(s) => f.write_str(s),
        }
    }
}

fn classify(e: &std::io::Error) -> TryFailure {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TryFailure::TimedOut,
        ErrorKind::ConnectionRefused => TryFailure::Refused,
        _ => TryFailure::Other(e.to_string().to_lowercase()),
    }
}

fn local_for(server: &SocketAddr, source: Option<IpAddr>) -> SocketAddr {
    let ip = source.unwrap_or(match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    SocketAddr::new(ip, 0)
}

/// What to do with a message that arrived for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The reply.
    Accept,
    /// The reply, with dig's warning (QR not set: dig still takes it).
    AcceptWarn(String),
    /// Not ours: warn as dig does and keep waiting (RFC 5452 §9.1).
    Ignore(String),
}

/// Checks a message against the query by the resolver's rule
/// (`engine::check_reply`: ID, question, QR), taking a reply without a
/// question as dig does, and words each mismatch as dig does.
pub fn check(query: &[u8], reply: &[u8]) -> Verdict {
    let sent = u16_at(query, 0).unwrap_or(0);
    let checked = Head::of_bytes(reply)
        .and_then(|head| check_reply(sent, &head, Bare::Any, || same_first_question(query, reply)));
    match checked {
        Ok(()) => Verdict::Accept,
        Err(Mismatch::Short) => Verdict::Ignore(";; Warning: short message".into()),
        Err(Mismatch::Id { sent, got }) => Verdict::Ignore(format!(
            ";; Warning: ID mismatch: expected ID {sent}, got {got}"
        )),
        Err(Mismatch::Question | Mismatch::BareHeader) => Verdict::Ignore(format!(
            ";; ;; Question section mismatch: got {}",
            question_text(reply)
        )),
        Err(Mismatch::NotResponse) => {
            Verdict::AcceptWarn(";; Warning: query response not set".into())
        }
    }
}

/// `check` with its warning given: true when `reply` is the answer to
/// keep, false when it is ignored and the next message is to be read.
pub fn takes(query: &[u8], reply: &[u8], warn: &mut dyn FnMut(String)) -> bool {
    match check(query, reply) {
        Verdict::Accept => true,
        Verdict::AcceptWarn(w) => {
            warn(w);
            true
        }
        Verdict::Ignore(w) => {
            warn(w);
            false
        }
    }
}

/// `name/TYPE/CLASS` of a message's first question, as dig's warning
/// writes it (no trailing dot).
fn question_text(m: &[u8]) -> String {
    let Ok((name, end)) = super::msg::read_name(m, 12) else {
        return "?".into();
    };
    let text = super::rdata::name_text(&name);
    let text = if text.len() > 1 {
        text.trim_end_matches('.').to_string()
    } else {
        text
    };
    let t = u16_at(m, end).map_or_else(|| "?".into(), super::types::type_name);
    let c = u16_at(m, end + 2).map_or_else(|| "?".into(), super::types::class_name);
    format!("{text}/{t}/{c}")
}

/// One UDP try: send, then wait until `timeout` for a matching reply.
pub fn udp_try(
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
    source: Option<IpAddr>,
    warn: &mut dyn FnMut(String),
) -> Result<Reply, TryFailure> {
    let sock = UdpSocket::bind(local_for(&server, source)).map_err(|e| classify(&e))?;
    sock.connect(server).map_err(|e| classify(&e))?;
    let start = Instant::now();
    sock.send(query).map_err(|e| classify(&e))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(TryFailure::TimedOut);
        }
        sock.set_read_timeout(Some(left))
            .map_err(|e| classify(&e))?;
        let n = sock.recv(&mut buf).map_err(|e| classify(&e))?;
        let bytes = buf.get(..n).unwrap_or(&[]);
        if takes(query, bytes, warn) {
            return Ok(Reply {
                bytes: bytes.to_vec(),
                rtt: start.elapsed(),
                tcp: false,
                proto: "UDP",
            });
        }
    }
}

/// One TCP try.
pub fn tcp_try(
    server: SocketAddr,
    query: &[u8],
    timeout: Duration,
    warn: &mut dyn FnMut(String),
) -> Result<Reply, TryFailure> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&server, timeout).map_err(|e| classify(&e))?;
    let left = |start: Instant| {
        let l = timeout.saturating_sub(start.elapsed());
        if l.is_zero() {
            Err(TryFailure::TimedOut)
        } else {
            Ok(l)
        }
    };
    s.set_write_timeout(Some(left(start)?))
        .map_err(|e| classify(&e))?;
    let len = u16::try_from(query.len()).map_err(|_| TryFailure::Other("query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).map_err(|e| classify(&e))?;
    loop {
        s.set_read_timeout(Some(left(start)?))
            .map_err(|e| classify(&e))?;
        let mut lenbuf = [0u8; 2];
        s.read_exact(&mut lenbuf).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => TryFailure::Other("end of file".into()),
            _ => classify(&e),
        })?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(lenbuf))];
        s.set_read_timeout(Some(left(start)?))
            .map_err(|e| classify(&e))?;
        s.read_exact(&mut body).map_err(|e| classify(&e))?;
        if takes(query, &body, warn) {
            return Ok(Reply {
                bytes: body,
                rtt: start.elapsed(),
                tcp: true,
                proto: "TCP",
            });
        }
    }
}

/// Sends with retries; `log` receives one line per failed try, in dig's
/// words. Returns None when every try failed.
pub fn exchange(
    server: SocketAddr,
    query: &[u8],
    qname: &str,
    opts: &SendOpts,
    log: &mut dyn FnMut(String),
) -> Option<Reply> {
    for _ in 0..opts.tries.max(1) {
        let result = if opts.tcp {
            tcp_try(server, query, opts.timeout, log)
        } else {
            udp_try(server, query, opts.timeout, opts.source, log)
        };
        match result {
            Ok(r) => return Some(r),
            // dig reports each failed TCP try as a whole failed lookup.
            Err(f) if opts.tcp => {
                log(format!(
                    ";; Connection to {}({}) for {qname} failed: {f}.",
                    hash_addr(&server),
                    server.ip()
                ));
                log(";; no servers could be reached".into());
            }
            Err(f) => log(format!(
                ";; communications error to {}: {f}",
                hash_addr(&server)
            )),
        }
    }
    None
}

/// `ADDR#PORT` as dig writes server addresses.
pub fn hash_addr(a: &SocketAddr) -> String {
    format!("{}#{}", a.ip(), a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> QuerySpec {
        QuerySpec {
            name: name.into(),
            qtype: 1,
            qclass: 1,
            recurse: true,
            aaflag: false,
            raflag: false,
            tcflag: false,
            adflag: true,
            cd: false,
            edns: true,
            dnssec: false,
            bufsize: 1232,
            nsid: true,
            cookie: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            subnet: None,
            extra: Extras::default(),
        }
    }

    #[test]
    fn query_carries_flags_and_options() {
        let bytes = build(0xbeef, &spec("www.example")).unwrap();
        let v = crate::dig::msg::parse(&bytes).unwrap();
        assert_eq!(v.id, 0xbeef);
        assert_eq!(v.flags, 0x0120); // RD + AD
        let o = v.opt.unwrap();
        assert_eq!(o.udp_size, 1232);
        assert_eq!(
            o.options,
            vec![(3, vec![]), (10, vec![1, 2, 3, 4, 5, 6, 7, 8])]
        );
        assert_eq!(v.questions[0].name.0.len(), 2);
        assert!(build(1, &spec("a..b")).is_err());
        assert_eq!(
            text_labels("a\\032b.c\\.d."),
            Some(vec![b"a b".to_vec(), b"c.d".to_vec()])
        );
        assert_eq!(text_labels("."), Some(vec![]));
        assert_eq!(text_labels("x\\256"), None);
        assert_eq!(text_labels(&"a".repeat(64)), None);
        assert_eq!(text_labels(&["a"; 128].join(".")), None);
    }

    #[test]
    fn ixfr_query_carries_the_serial_in_an_authority_soa() {
        let mut sp = spec("example.");
        sp.qtype = TYPE_IXFR;
        sp.extra.ixfr_serial = Some(2026);
        let v = crate::dig::msg::parse(&build(1, &sp).unwrap()).unwrap();
        assert_eq!(v.counts[2], 1);
        let soa = &v.authorities[0];
        assert_eq!(soa.rtype, crate::dig::types::TYPE_SOA);
        assert_eq!(
            crate::dig::msg::u32_at(&v.bytes, soa.rdata_offset + 2),
            Some(2026)
        );
        // Not for other types, even with a serial set.
        sp.qtype = 1;
        let v = crate::dig::msg::parse(&build(1, &sp).unwrap()).unwrap();
        assert_eq!(v.counts[2], 0);
    }

    #[test]
    fn extras_shape_the_query() {
        let mut sp = spec("www.example");
        sp.extra = Extras {
            options: vec![(9, vec![]), (65001, vec![0xab])],
            padding: 128,
            header_only: true,
            zflag: true,
            opcode: Some(4),
            edns_version: 0,
            ixfr_serial: None,
        };
        let bytes = build(9, &sp).unwrap();
        assert_eq!(bytes.len() % 128, 0);
        let v = crate::dig::msg::parse(&bytes).unwrap();
        assert!(v.questions.is_empty());
        assert_eq!(v.opcode(), 4);
        assert!(v.has(crate::dig::msg::FLAG_Z));
        let codes: Vec<u16> = v.opt.unwrap().options.iter().map(|o| o.0).collect();
        assert_eq!(codes, [3, 10, 9, 65001, 12]);
    }

    #[test]
    fn subnet_payload_masks_past_prefix() {
        let s = Subnet {
            addr: "192.0.2.255".parse().unwrap(),
            prefix: 23,
        };
        assert_eq!(subnet_option(&s), vec![0, 1, 23, 0, 192, 0, 2]);
        let s = Subnet {
            addr: "2001:db8::".parse().unwrap(),
            prefix: 0,
        };
        assert_eq!(subnet_option(&s), vec![0, 2, 0, 0]);
    }

    #[test]
    fn replies_must_match_id_and_question() {
        let q = build(7, &spec("www.example")).unwrap();
        let mut r = q.clone();
        r[2] |= 0x80;
        assert_eq!(check(&q, &r), Verdict::Accept);
        let mut other_id = r.clone();
        other_id[1] ^= 1;
        assert_eq!(
            check(&q, &other_id),
            Verdict::Ignore(";; Warning: ID mismatch: expected ID 7, got 6".into())
        );
        // dig takes a message without QR, with a warning.
        assert_eq!(
            check(&q, &q),
            Verdict::AcceptWarn(";; Warning: query response not set".into())
        );
        let other_q = {
            let mut x = build(7, &spec("www.example.net")).unwrap();
            x[2] |= 0x80;
            x
        };
        assert_eq!(
            check(&q, &other_q),
            Verdict::Ignore(";; ;; Question section mismatch: got www.example.net/A/IN".into())
        );
        let mut upper = r.clone();
        upper[13] = b'W';
        assert_eq!(check(&q, &upper), Verdict::Accept);
        assert!(matches!(check(&q, &[1]), Verdict::Ignore(_)));
    }
}
