//! dig's text layout of one message: header and flags lines, the OPT
//! pseudosection (RFC 6891 §6.1, NSID RFC 5001, COOKIE RFC 7873, client
//! subnet RFC 7871, EDE RFC 8914 §4 with dig 9.18's wording), sections with
//! dig's tab columns, the statistics block and `+short`.

use super::args::Flags;
use super::msg::{
    u16_at, Record, View, FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, FLAG_Z,
};
use super::query::{OPT_COOKIE, OPT_NSID, OPT_SUBNET};
use super::rdata::{name_text, rdata_text};
use super::types::{class_name, type_name};

/// dig's column stops (ttl, class, type, rdata) and tab width.
const TTL_COLUMN: usize = 24;
const CLASS_COLUMN: usize = 32;
const TYPE_COLUMN: usize = 40;
const RDATA_COLUMN: usize = 48;
const TAB: usize = 8;

/// Pads from column `from` to column `to` with tabs (then spaces), always
/// at least one character, as BIND's master-file writer does.
fn indent(out: &mut String, from: &mut usize, to: usize) {
    let to = to.max(*from + 1);
    let tabs = to / TAB - *from / TAB;
    if tabs > 0 {
        out.push_str(&"\t".repeat(tabs));
        out.push_str(&" ".repeat(to % TAB));
    } else {
        out.push_str(&" ".repeat(to - *from));
    }
    *from = to;
}

fn push(out: &mut String, col: &mut usize, text: &str) {
    out.push_str(text);
    *col += text.len();
}

/// One record line: name, TTL, class, type, rdata.
pub fn record_line(v: &View, r: &Record) -> String {
    let mut s = String::new();
    let mut col = 0;
    push(&mut s, &mut col, &name_text(&r.name));
    indent(&mut s, &mut col, TTL_COLUMN);
    push(&mut s, &mut col, &r.ttl.to_string());
    indent(&mut s, &mut col, CLASS_COLUMN);
    push(&mut s, &mut col, &class_name(r.class));
    indent(&mut s, &mut col, TYPE_COLUMN);
    push(&mut s, &mut col, &type_name(r.rtype));
    indent(&mut s, &mut col, RDATA_COLUMN);
    s.push_str(&rdata_text(&v.bytes, r.rtype, r.rdata_offset, r.rdata_len));
    s
}

/// The RDATA alone (`+short`).
pub fn rdata_only(v: &View, r: &Record) -> String {
    rdata_text(&v.bytes, r.rtype, r.rdata_offset, r.rdata_len)
}

/// One question line: `;name<tabs>CLASS<tab>TYPE`.
pub fn question_line(q: &super::msg::Question) -> String {
    let mut s = String::new();
    let mut col = 0;
    // BIND writes the ';' outside its column count.
    s.push(';');
    push(&mut s, &mut col, &name_text(&q.name));
    indent(&mut s, &mut col, CLASS_COLUMN);
    push(&mut s, &mut col, &class_name(q.qclass));
    indent(&mut s, &mut col, TYPE_COLUMN);
    push(&mut s, &mut col, &type_name(q.qtype));
    s
}

pub fn opcode_name(op: u8) -> String {
    match op {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        n => format!("RESERVED{n}"),
    }
}

pub fn rcode_name(rcode: u16) -> String {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    match rcode {
        0..=10 => NAMES
            .get(usize::from(rcode))
            .map_or_else(|| rcode.to_string(), |s| (*s).to_string()),
        11..=15 => format!("RESERVED{rcode}"),
        16 => "BADVERS".into(),
        23 => "BADCOOKIE".into(),
        n => n.to_string(),
    }
}

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

/// The header, flags and warning lines, ending with dig's blank line.
pub fn header_lines(v: &View, is_reply: bool, sent_edns: bool) -> String {
    let mut s = format!(
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}\n;; flags:",
        opcode_name(v.opcode()),
        rcode_name(v.rcode()),
        v.id
    );
    for (flag, text) in [
        (FLAG_QR, " qr"),
        (FLAG_AA, " aa"),
        (FLAG_TC, " tc"),
        (FLAG_RD, " rd"),
        (FLAG_RA, " ra"),
        (FLAG_AD, " ad"),
        (FLAG_CD, " cd"),
    ] {
        if v.has(flag) {
            s.push_str(text);
        }
    }
    if v.has(FLAG_Z) {
        s.push_str("; MBZ: 0x4");
    }
    let [qd, an, ns, ar] = v.counts;
    s.push_str(&format!(
        "; QUERY: {qd}, ANSWER: {an}, AUTHORITY: {ns}, ADDITIONAL: {ar}\n"
    ));
    if is_reply {
        if v.has(FLAG_RD) && !v.has(FLAG_RA) {
            s.push_str(";; WARNING: recursion requested but not available\n");
        }
        let rc = v.rcode();
        if sent_edns && v.opt.is_none() && (rc == 1 || rc == 4) {
            s.push_str(&format!(
                "\n;; WARNING: EDNS query returned status {} - retry with '+noedns'\n",
                rcode_name(rc)
            ));
        }
        if v.extra_bytes > 0 {
            let plural = if v.extra_bytes == 1 { "" } else { "s" };
            s.push_str(&format!(
                ";; WARNING: Message has {} extra byte{plural} at end\n",
                v.extra_bytes
            ));
        }
    }
    s.push('\n');
    s
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
        OPT_NSID => format!("; NSID: {}(\"{}\")", hex_spaced(data), printable(data)),
        OPT_COOKIE => {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            let status = match cookie_sent {
                Some(sent) if data.len() > 8 && data.get(..8) == Some(sent.as_slice()) => " (good)",
                Some(_) if data.len() > 8 => " (bad)",
                _ => "",
            };
            format!("; COOKIE: {hex}{status}")
        }
        OPT_SUBNET => match subnet_text(data) {
            Some(t) => format!("; CLIENT-SUBNET: {t}"),
            None => format!("; CLIENT-SUBNET: {}", hex_spaced(data).trim_end()),
        },
        15 => {
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
        _ if data.is_empty() => format!("; OPT={code}"),
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

/// The OPT pseudosection, if the message has an OPT record.
pub fn opt_lines(v: &View, cookie_sent: Option<&[u8; 8]>) -> String {
    let Some(o) = &v.opt else {
        return String::new();
    };
    let mut s = format!(
        ";; OPT PSEUDOSECTION:\n; EDNS: version: {}, flags:",
        o.version
    );
    if o.flags & 0x8000 != 0 {
        s.push_str(" do");
    }
    let mbz = o.flags & 0x7fff;
    if mbz != 0 {
        s.push_str(&format!("; MBZ: 0x{mbz:04x}"));
    }
    s.push_str(&format!("; udp: {}\n", o.udp_size));
    for (code, data) in &o.options {
        s.push_str(&option_line(*code, data, cookie_sent));
        s.push('\n');
    }
    s
}

/// The message body as dig prints it after ";; Got answer:" (or
/// ";; Sending:"), up to but not including the statistics.
pub fn message_text(
    v: &View,
    f: &Flags,
    is_reply: bool,
    sent_edns: bool,
    cookie_sent: Option<&[u8; 8]>,
) -> String {
    let mut s = String::new();
    if f.comments {
        s.push_str(&header_lines(v, is_reply, sent_edns));
        s.push_str(&opt_lines(v, if is_reply { cookie_sent } else { None }));
    }
    if f.question && !v.questions.is_empty() {
        if f.comments {
            s.push_str(";; QUESTION SECTION:\n");
        }
        for q in &v.questions {
            s.push_str(&question_line(q));
            s.push('\n');
        }
        if f.comments {
            s.push('\n');
        }
    }
    for (on, title, records) in [
        (f.answer, "ANSWER", &v.answers),
        (f.authority, "AUTHORITY", &v.authorities),
        (f.additional, "ADDITIONAL", &v.additionals),
    ] {
        if !on || records.is_empty() {
            continue;
        }
        if f.comments {
            s.push_str(&format!(";; {title} SECTION:\n"));
        }
        for r in records {
            s.push_str(&record_line(v, r));
            s.push('\n');
        }
        if f.comments {
            s.push('\n');
        }
    }
    s
}

/// The answer section's RDATA, one per line (`+short`).
pub fn short_text(v: &View) -> String {
    v.answers
        .iter()
        .map(|r| format!("{}\n", rdata_only(v, r)))
        .collect()
}

/// The statistics block, with dig's trailing blank line.
pub fn stats_text(rtt_ms: u128, server: &str, tcp: bool, when: &str, size: usize) -> String {
    format!(
        ";; Query time: {rtt_ms} msec\n;; SERVER: {server} ({})\n;; WHEN: {when}\n;; MSG SIZE  rcvd: {size}\n\n",
        if tcp { "TCP" } else { "UDP" }
    )
}

/// `Mon Nov 23 20:00:00 UTC 2026` for a Unix time (UTC; RFC 3339 civil
/// calendar arithmetic).
pub fn when_text(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let weekday = DAYS.get((days % 7) as usize).copied().unwrap_or("???");
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mname = MONTHS.get((month - 1) as usize).copied().unwrap_or("???");
    format!(
        "{weekday} {mname} {day:02} {:02}:{:02}:{:02} UTC {year}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
