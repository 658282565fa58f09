//! dig's text layout of one message: header and flags lines, the OPT
//! pseudosection header (RFC 6891 §6.1; options in options.rs), sections
//! with dig's tab columns, the statistics block and `+short`.

use super::args::Flags;
use super::msg::{
    Record, View, FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, FLAG_Z,
};
use super::multiline::{generic_multi, rdata_multi};
use super::options::option_line;
use super::rdata::{generic, name_text, rdata_text, wire_rdata};
use super::types::{class_name, type_name};

/// dig's first column stop (after the owner name) and tab width; the
/// class, type and rdata stops follow 8 columns apart, closing up when the
/// TTL or class column is hidden (+nottlid, +noclass) as dig does.
const TTL_COLUMN: usize = 24;
const TAB: usize = 8;

/// Which columns a record line shows and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub ttl: bool,
    pub class: bool,
    pub ttlunits: bool,
    pub unknown: bool,
    pub multi: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            ttl: true,
            class: true,
            ttlunits: false,
            unknown: false,
            multi: false,
        }
    }
}

impl Style {
    pub fn of(f: &Flags) -> Style {
        Style {
            ttl: f.ttlid,
            class: f.class,
            ttlunits: f.ttlunits,
            unknown: f.unknownformat,
            multi: f.multiline,
        }
    }

    fn class_column(&self) -> usize {
        if self.ttl && self.class && !self.multi {
            TTL_COLUMN + TAB
        } else {
            TTL_COLUMN
        }
    }

    /// Multi-line output packs the columns: type at 24, rdata at 32.
    fn type_column(&self) -> usize {
        if self.multi {
            return TTL_COLUMN;
        }
        TTL_COLUMN + TAB * (usize::from(self.ttl) + usize::from(self.class))
    }

    fn rdata_column(&self) -> usize {
        if self.multi {
            TTL_COLUMN + TAB
        } else {
            self.type_column() + TAB
        }
    }

    fn class_text(&self, class: u16) -> String {
        if self.unknown {
            format!("CLASS{class}")
        } else {
            class_name(class)
        }
    }

    fn type_text(&self, rtype: u16) -> String {
        if self.unknown {
            format!("TYPE{rtype}")
        } else {
            type_name(rtype)
        }
    }
}

/// A TTL as `1d1h1m1s` (`+ttlunits`), `0s` for zero.
pub fn ttl_units(ttl: u32) -> String {
    let mut left = ttl;
    let mut s = String::new();
    for (size, unit) in [
        (604_800, 'w'),
        (86_400, 'd'),
        (3_600, 'h'),
        (60, 'm'),
        (1, 's'),
    ] {
        let n = left / size;
        left %= size;
        if n > 0 {
            s.push_str(&format!("{n}{unit}"));
        }
    }
    if s.is_empty() {
        "0s".into()
    } else {
        s
    }
}

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
pub fn record_line(v: &View, r: &Record, st: &Style) -> String {
    let mut s = String::new();
    let mut col = 0;
    push(&mut s, &mut col, &name_text(&r.name));
    if st.ttl {
        indent(&mut s, &mut col, TTL_COLUMN);
        let ttl = if st.ttlunits {
            ttl_units(r.ttl)
        } else {
            r.ttl.to_string()
        };
        push(&mut s, &mut col, &ttl);
    }
    if st.class {
        indent(&mut s, &mut col, st.class_column());
        push(&mut s, &mut col, &st.class_text(r.class));
    }
    indent(&mut s, &mut col, st.type_column());
    push(&mut s, &mut col, &st.type_text(r.rtype));
    indent(&mut s, &mut col, st.rdata_column());
    let (msg, t, off, len) = (&v.bytes, r.rtype, r.rdata_offset, r.rdata_len);
    let text = match (st.unknown, st.multi) {
        (true, false) => generic(&wire_rdata(msg, t, off, len)),
        (true, true) => generic_multi(&wire_rdata(msg, t, off, len)),
        (false, true) => rdata_multi(msg, t, off, len).unwrap_or_else(|| {
            let one = rdata_text(msg, t, off, len);
            if one.starts_with("\\#") {
                generic_multi(&wire_rdata(msg, t, off, len))
            } else {
                one
            }
        }),
        (false, false) => rdata_text(msg, t, off, len),
    };
    s.push_str(&text);
    s
}

/// The RDATA alone (`+short`).
pub fn rdata_only(v: &View, r: &Record) -> String {
    rdata_text(&v.bytes, r.rtype, r.rdata_offset, r.rdata_len)
}

/// One question line: `;name<tabs>CLASS<tab>TYPE` (the class is always
/// shown; hidden columns only move the stops).
pub fn question_line(q: &super::msg::Question, st: &Style) -> String {
    let mut s = String::new();
    let mut col = 0;
    // BIND writes the ';' outside its column count.
    s.push(';');
    push(&mut s, &mut col, &name_text(&q.name));
    indent(&mut s, &mut col, st.class_column());
    push(&mut s, &mut col, &st.class_text(q.qclass));
    indent(&mut s, &mut col, st.type_column());
    push(&mut s, &mut col, &st.type_text(q.qtype));
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
    match crate::wire::rcode_mnemonic(rcode) {
        Some(name) => name.to_string(),
        None if (11..=15).contains(&rcode) => format!("RESERVED{rcode}"),
        None => rcode.to_string(),
    }
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
            // dig says "bytes" even for one.
            s.push_str(&format!(
                ";; WARNING: Message has {} extra bytes at end\n",
                v.extra_bytes
            ));
        }
    }
    s.push('\n');
    s
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
            s.push_str(&question_line(q, &Style::of(f)));
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
            s.push_str(&record_line(v, r, &Style::of(f)));
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

/// dig's dump of a message it could not parse: 16 bytes a line in hex,
/// then the printable ones.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for line in bytes.chunks(16) {
        for i in 0..16 {
            match line.get(i) {
                Some(b) => s.push_str(&format!("{b:02x} ")),
                None => s.push_str("   "),
            }
        }
        s.push_str("         ");
        // Graphic characters only: dig shows a space as '.'.
        s.extend(line.iter().map(|&b| {
            if (0x21..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            }
        }));
        s.push('\n');
    }
    s
}

/// The statistics block, with dig's trailing blank line.
/// The query time as dig writes it: `N msec`, or `N usec` with -u.
pub fn query_time(rtt: std::time::Duration, usec: bool) -> String {
    if usec {
        format!("{} usec", rtt.as_micros())
    } else {
        format!("{} msec", rtt.as_millis())
    }
}

pub fn stats_text(time: &str, server: &str, proto: &str, when: &str, size: usize) -> String {
    format!(
        ";; Query time: {time}\n;; SERVER: {server} ({proto})\n;; WHEN: {when}\n;; MSG SIZE  rcvd: {size}\n\n"
    )
}

/// `Mon Nov 23 20:00:00 UTC 2026` for a Unix time (UTC; RFC 3339 civil
/// calendar arithmetic).
pub fn when_text(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = DAYS
        .get((unix / 86_400 % 7) as usize)
        .copied()
        .unwrap_or("???");
    let (year, month, day, h, m, sec) = civil(unix);
    let mname = MONTHS.get((month - 1) as usize).copied().unwrap_or("???");
    format!("{weekday} {mname} {day:02} {h:02}:{m:02}:{sec:02} UTC {year}")
}

/// (year, month, day, hour, minute, second) of a Unix time in UTC
/// (Howard Hinnant's days-to-civil algorithm).
pub fn civil(unix: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// An RRSIG time as `YYYYMMDDHHMMSS` (RFC 4034 §3.2).
pub fn sig_time(t: u32) -> String {
    let (y, mo, d, h, mi, s) = civil(u64::from(t));
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
