//! Does an observed message (an upstream query the engine sent, or an answer
//! it gave a client) match a scenario entry, as its `MATCH` line asks?
//!
//! Semantics follow the replay format: names compare case-insensitively
//! (also inside rdata, like RFC 4034 §6.2 canonical form), records inside a
//! section may come in any order, TTLs count only with `ttl`. With `all`
//! the header flags, rcode, every section and the EDNS presence and DO bit
//! must agree; the OPT payload size and options are compared only through
//! `ednsdata` / `ede=`.

use std::collections::BTreeSet;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Edns, Message, MessageType, Query};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::{RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::parser::{Entry, MatchSpec};
use tern::upstream::Protocol;

/// A record reduced to what matching compares.
type RecordKey = (String, u16, u16, u32, Vec<u8>);

fn canonical_rdata(r: &Record) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut enc = BinEncoder::new(&mut buf);
        enc.set_canonical_form(true);
        let _ = r.data.emit(&mut enc);
    }
    match &r.data {
        // A DNAME target arrives as raw bytes; fold its case too.
        RData::Unknown { code, .. } if *code == RecordType::DNAME => buf.make_ascii_lowercase(),
        // The names inside RRSIG (signer, after 18 fixed bytes) and NSEC
        // (next name, first) fold too: testbound lowercases every name
        // field; signatures, keys and bitmaps stay as they are.
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
            lowercase_name_at(&mut buf, 18, wire_len(&sig.input().signer_name));
        }
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) => {
            lowercase_name_at(&mut buf, 0, wire_len(nsec.next_domain_name()));
        }
        _ => {}
    }
    buf
}

fn wire_len(name: &hickory_proto::rr::Name) -> usize {
    name.to_bytes().map_or(0, |b| b.len())
}

/// Lowercases the uncompressed name of `len` wire bytes at `at` (label
/// lengths are below 64, so they never change).
fn lowercase_name_at(buf: &mut [u8], at: usize, len: usize) {
    if let Some(name) = buf.get_mut(at..at + len) {
        name.make_ascii_lowercase();
    }
}

fn record_key(r: &Record, with_ttl: bool) -> RecordKey {
    (
        r.name.to_lowercase().to_ascii(),
        u16::from(r.record_type()),
        u16::from(r.dns_class),
        if with_ttl { r.ttl } else { 0 },
        canonical_rdata(r),
    )
}

fn show_record(r: &Record) -> String {
    match &r.data {
        RData::Unknown { code, rdata } => format!(
            "{} {} {} {} \\# {}",
            r.name,
            r.ttl,
            r.dns_class,
            code,
            rdata.anything.len()
        ),
        _ => r.to_string(),
    }
}

/// Compares two sections as multisets; Err describes the difference.
fn same_records(what: &str, got: &[Record], want: &[Record], ttl: bool) -> Result<(), String> {
    let key = |rs: &[Record]| {
        let mut v: Vec<(RecordKey, String)> = rs
            .iter()
            .map(|r| (record_key(r, ttl), show_record(r)))
            .collect();
        v.sort();
        v
    };
    let (g, w) = (key(got), key(want));
    if g.iter().map(|x| &x.0).eq(w.iter().map(|x| &x.0)) {
        return Ok(());
    }
    let gk: Vec<&RecordKey> = g.iter().map(|x| &x.0).collect();
    let wk: Vec<&RecordKey> = w.iter().map(|x| &x.0).collect();
    let missing: Vec<&str> = w
        .iter()
        .filter(|x| !gk.contains(&&x.0))
        .map(|x| x.1.as_str())
        .collect();
    let extra: Vec<&str> = g
        .iter()
        .filter(|x| !wk.contains(&&x.0))
        .map(|x| x.1.as_str())
        .collect();
    Err(format!(
        "{what}: missing [{}] unexpected [{}] (got {} want {})",
        missing.join(" | "),
        extra.join(" | "),
        got.len(),
        want.len()
    ))
}

fn question_set(qs: &[Query]) -> BTreeSet<(String, u16, u16)> {
    qs.iter()
        .map(|q| {
            (
                q.name().to_lowercase().to_ascii(),
                u16::from(q.query_type()),
                u16::from(q.query_class()),
            )
        })
        .collect()
}

fn show_questions(qs: &[Query]) -> String {
    qs.iter()
        .map(|q| format!("{} {} {}", q.name(), q.query_class(), q.query_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn flags(m: &Message) -> String {
    let md = &m.metadata;
    let mut f = Vec::new();
    for (on, name) in [
        (md.message_type == MessageType::Response, "QR"),
        (md.authoritative, "AA"),
        (md.truncation, "TC"),
        (md.recursion_desired, "RD"),
        (md.recursion_available, "RA"),
        (md.authentic_data, "AD"),
        (md.checking_disabled, "CD"),
    ] {
        if on {
            f.push(name);
        }
    }
    // The header's four RCODE bits, as testbound compares (an extended
    // RCODE such as BADCOOKIE, 23, is written by its low bits: YXRRSET).
    let rcode = hickory_proto::op::ResponseCode::from_low(md.response_code.low());
    format!("{} {:?} {}", f.join(" "), md.op_code, rcode)
}

fn edns_summary(e: Option<&Edns>) -> String {
    match e {
        None => "no EDNS".to_string(),
        Some(e) => format!(
            "EDNS v{}{}",
            e.version(),
            if e.flags().dnssec_ok { " DO" } else { "" }
        ),
    }
}

/// Whether `m` has a COOKIE option holding a client and a server cookie
/// (16 to 40 bytes, RFC 7873 §4).
fn has_server_cookie(m: &Message) -> bool {
    m.edns.as_ref().is_some_and(|e| {
        e.options().options.iter().any(|(code, opt)| {
            *code == EdnsCode::from(tern::server::cookie::COOKIE_CODE)
                && matches!(opt, hickory_proto::rr::rdata::opt::EdnsOption::Unknown(_, d)
                    if (16..=40).contains(&d.len()))
        })
    })
}

/// OPT rdata bytes, without the options a `MATCH` has already consumed.
fn opt_bytes(m: &Message, drop_ede: bool) -> Vec<u8> {
    let Some(e) = &m.edns else {
        return Vec::new();
    };
    let mut opt = e.options().clone();
    if drop_ede {
        opt.remove(EdnsCode::from(tern::wire::EDE_OPTION_CODE));
    }
    opt.to_bytes().unwrap_or_default()
}

fn first_q(m: &Message) -> Option<&Query> {
    m.queries.first()
}

/// Checks `got` against `entry`; `Err` names the first difference.
pub fn check(entry: &Entry, got: &Message, protocol: Protocol) -> Result<(), String> {
    let spec: &MatchSpec = &entry.spec;
    let want = &entry.msg;
    if let Some(code) = spec.ede {
        match (tern::wire::ede(got), code) {
            (None, _) => return Err("ede: no extended DNS error".to_string()),
            (Some((c, _)), Some(w)) if c != w => return Err(format!("ede: got {c}, want {w}")),
            _ => {}
        }
    }
    if spec.opcode && got.metadata.op_code != want.metadata.op_code {
        return Err(format!(
            "opcode: got {:?}, want {:?}",
            got.metadata.op_code, want.metadata.op_code
        ));
    }
    let (gq, wq) = (first_q(got), first_q(want));
    if spec.qtype && gq.map(|q| q.query_type()) != wq.map(|q| q.query_type()) {
        return Err(format!(
            "qtype: got {:?}, want {:?}",
            gq.map(|q| q.query_type()),
            wq.map(|q| q.query_type())
        ));
    }
    if spec.qname {
        let same = match (gq, wq) {
            (Some(g), Some(w)) => g.name().to_lowercase() == w.name().to_lowercase(),
            _ => false,
        };
        if !same {
            return Err(format!(
                "qname: got {:?}, want {:?}",
                gq.map(|q| q.name().to_string()),
                wq.map(|q| q.name().to_string())
            ));
        }
    }
    if spec.subdomain {
        let below = match (gq, wq) {
            (Some(g), Some(w)) => w.name().zone_of(g.name()),
            _ => false,
        };
        if !below {
            return Err("subdomain: query name not at or below the entry's".to_string());
        }
    }
    if spec.rcode && got.metadata.response_code != want.metadata.response_code {
        return Err(format!(
            "rcode: got {}, want {}",
            got.metadata.response_code, want.metadata.response_code
        ));
    }
    if spec.question && question_set(&got.queries) != question_set(&want.queries) {
        return Err(format!(
            "question: got [{}], want [{}]",
            show_questions(&got.queries),
            show_questions(&want.queries)
        ));
    }
    if spec.answer {
        same_records("answer", &got.answers, &want.answers, spec.ttl)?;
    }
    if spec.do_bit && !got.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok) {
        return Err("DO: bit not set".to_string());
    }
    if spec.noedns && got.edns.is_some() {
        return Err("noedns: OPT present".to_string());
    }
    if spec.ednsdata {
        let g = opt_bytes(got, spec.ede.is_some());
        let w = entry.ednsdata.clone().unwrap_or_default();
        if g != w {
            return Err(format!("ednsdata: got {g:02x?}, want {w:02x?}"));
        }
    }
    if spec.server_cookie && !has_server_cookie(got) {
        return Err("server_cookie: no COOKIE option with a server cookie".to_string());
    }
    if let Some(t) = spec.transport {
        if t != protocol {
            return Err(format!("transport: got {protocol:?}, want {t:?}"));
        }
    }
    if spec.all || spec.all_noedns {
        check_all(got, want, spec.ttl, spec.all)?;
    }
    Ok(())
}

fn check_all(got: &Message, want: &Message, ttl: bool, with_edns: bool) -> Result<(), String> {
    let (gf, wf) = (flags(got), flags(want));
    if gf != wf {
        return Err(format!("header: got [{gf}], want [{wf}]"));
    }
    if question_set(&got.queries) != question_set(&want.queries)
        || got.queries.len() != want.queries.len()
    {
        return Err(format!(
            "question: got [{}], want [{}]",
            show_questions(&got.queries),
            show_questions(&want.queries)
        ));
    }
    same_records("answer", &got.answers, &want.answers, ttl)?;
    same_records("authority", &got.authorities, &want.authorities, ttl)?;
    same_records("additional", &got.additionals, &want.additionals, ttl)?;
    if with_edns {
        // The DO bit is not compared: testbound's `MATCH all` passes
        // Unbound's replies, which echo the query's DO, against entries
        // that say otherwise either way (edns_downstream_cookies writes DO
        // for a query without it, edns_nsid_repeat). `MATCH DO` checks it
        // where a scenario means it.
        let version = |e: Option<&Edns>| e.map(|e| e.version());
        let (ge, we) = (
            edns_summary(got.edns.as_ref()),
            edns_summary(want.edns.as_ref()),
        );
        let (ge, we) = if version(got.edns.as_ref()) == version(want.edns.as_ref()) {
            (ge.replace(" DO", ""), we.replace(" DO", ""))
        } else {
            (ge, we)
        };
        if ge != we {
            return Err(format!("edns: got {ge}, want {we}"));
        }
    }
    Ok(())
}

/// One line describing a message, for verbose logs and failure reasons.
pub fn summary(m: &Message) -> String {
    let q = show_questions(&m.queries);
    let sec = |rs: &[Record]| rs.iter().map(show_record).collect::<Vec<_>>().join(" | ");
    // The extended error's text says why an answer failed (for a bogus
    // one, the zone and record), which is what a failing scenario needs.
    let ede = match tern::wire::ede(m) {
        Some((code, text)) => format!(" EDE {code} {text:?}"),
        None => String::new(),
    };
    format!(
        "[{}] q=[{}] an=[{}] ns=[{}] ar=[{}] {}{ede}",
        flags(m),
        q,
        sec(&m.answers),
        sec(&m.authorities),
        sec(&m.additionals),
        edns_summary(m.edns.as_ref())
    )
}

/// Checks of the matcher itself (run by `main` before any scenario): the
/// rules above, each with a case that must match and one that must not.
pub fn self_check() -> Result<(), String> {
    use super::parser;
    let scenario = |check: &str| {
        format!(
            "server:\nCONFIG_END\nSCENARIO_BEGIN t\nSTEP 1 CHECK_ANSWER\nENTRY_BEGIN\n{check}\nENTRY_END\nSCENARIO_END\n"
        )
    };
    let entry = |text: &str| -> Result<Entry, String> {
        let sc = parser::parse(&scenario(text)).map_err(|e| e.0)?;
        sc.moments
            .into_iter()
            .next()
            .and_then(|m| m.entry)
            .ok_or_else(|| "no entry".to_string())
    };
    let want = entry(
        "MATCH all\nREPLY QR RD RA NOERROR\nSECTION QUESTION\nwww.example.com. IN A\n\
         SECTION ANSWER\nwww.example.com. 300 IN CNAME Host.Example.com.\nhost.example.com. 300 IN A 10.0.0.1",
    )?;
    let got = |answers: &str, flags: &str| -> Result<Message, String> {
        Ok(entry(&format!(
            "REPLY {flags}\nSECTION QUESTION\nWWW.example.COM. IN A\nSECTION ANSWER\n{answers}"
        ))?
        .msg)
    };
    let same_other_order_case_ttl = got(
        "host.example.com. 5 IN A 10.0.0.1\nwww.example.com. 7 IN CNAME host.EXAMPLE.com.",
        "QR RD RA NOERROR",
    )?;
    check(&want, &same_other_order_case_ttl, Protocol::Udp)
        .map_err(|e| format!("order, case and TTL must not matter: {e}"))?;
    let cases = [
        (
            "www.example.com. 300 IN CNAME host.example.com.\nhost.example.com. 300 IN A 10.0.0.2",
            "QR RD RA NOERROR",
            "other rdata",
        ),
        (
            "www.example.com. 300 IN CNAME host.example.com.",
            "QR RD RA NOERROR",
            "missing record",
        ),
        (
            "www.example.com. 300 IN CNAME host.example.com.\nhost.example.com. 300 IN A 10.0.0.1",
            "QR RD NOERROR",
            "RA flag",
        ),
        (
            "www.example.com. 300 IN CNAME host.example.com.\nhost.example.com. 300 IN A 10.0.0.1",
            "QR RD RA SERVFAIL",
            "rcode",
        ),
    ];
    for (answers, flags, what) in cases {
        if check(&want, &got(answers, flags)?, Protocol::Udp).is_ok() {
            return Err(format!("a difference in {what} was not noticed"));
        }
    }
    let mut with_ttl = want.clone();
    with_ttl.spec.ttl = true;
    if check(&with_ttl, &same_other_order_case_ttl, Protocol::Udp).is_ok() {
        return Err("MATCH ttl did not compare TTLs".to_string());
    }
    dnssec_self_check(&entry)
}

/// The DNSSEC side: RRSIG rdata (times, key tag, signature) compares
/// exactly, its signer name and an NSEC's next name without case, the AD
/// bit counts, and `MATCH DO` wants the DO bit.
fn dnssec_self_check(entry: &dyn Fn(&str) -> Result<Entry, String>) -> Result<(), String> {
    let sig = |signer: &str, sig: &str| {
        format!(
            "www.example.com. 3600 IN RRSIG A 8 3 3600 20070926134150 20070829134150 2854 {signer} {sig}"
        )
    };
    let nsec = |next: &str| format!("www.example.com. 3600 IN NSEC {next} A RRSIG NSEC");
    let msg = |flags: &str, records: &[String]| {
        entry(&format!(
            "MATCH all\nREPLY {flags}\nSECTION QUESTION\nwww.example.com. IN A\nSECTION ANSWER\nwww.example.com. 3600 IN A 10.0.0.1\n{}",
            records.join("\n")
        ))
    };
    let want = msg(
        "QR RD RA AD DO NOERROR",
        &[sig("example.com.", "AAAA/w=="), nsec("z.example.com.")],
    )?;
    let same = msg(
        "QR RD RA AD DO NOERROR",
        &[sig("EXAMPLE.com.", "AAAA/w=="), nsec("Z.Example.COM.")],
    )?;
    check(&want, &same.msg, Protocol::Udp)
        .map_err(|e| format!("RRSIG signer / NSEC next name case must not matter: {e}"))?;
    let cases = [
        (
            "QR RD RA AD DO NOERROR",
            sig("example.com.", "AAAA/g=="),
            "RRSIG signature",
        ),
        (
            "QR RD RA AD DO NOERROR",
            sig("example.com.", "AAAA/w==").replace("20070926134150", "20070926134151"),
            "RRSIG expiration",
        ),
        (
            "QR RD RA DO NOERROR",
            sig("example.com.", "AAAA/w=="),
            "AD flag",
        ),
    ];
    for (flags, rrsig, what) in cases {
        let got = msg(flags, &[rrsig, nsec("z.example.com.")])?;
        if check(&want, &got.msg, Protocol::Udp).is_ok() {
            return Err(format!("a difference in {what} was not noticed"));
        }
    }
    let mut no_do = same.msg;
    if let Some(e) = no_do.edns.as_mut() {
        e.set_dnssec_ok(false);
    }
    let mut want_do = want;
    want_do.spec.do_bit = true;
    if check(&want_do, &no_do, Protocol::Udp).is_ok() {
        return Err("MATCH DO did not notice a missing DO bit".to_string());
    }
    Ok(())
}
