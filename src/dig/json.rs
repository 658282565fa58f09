//! `+json` and `+yaml`: one message as an RFC 8427 object (§2.1 message
//! members, §2.2 RR members, §2.3 `rdata<TYPE>` members), with EDNS data,
//! the server and the timing as extra members; YAML renders the same tree.

use serde_json::{json, Map, Value};

use super::format::{opcode_name, rcode_name};
use super::msg::{Record, View, FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC};
use super::options::ede_name;
use super::rdata::{hex_upper, name_text, rdata_text, wire_rdata};
use super::types::{class_name, type_name};

/// One RR object (RFC 8427 §2.2, §2.3).
pub fn rr_object(v: &View, r: &Record) -> Value {
    let data = wire_rdata(&v.bytes, r.rtype, r.rdata_offset, r.rdata_len);
    let tname = type_name(r.rtype);
    let mut m = Map::new();
    m.insert("NAME".into(), json!(name_text(&r.name)));
    m.insert("TYPE".into(), json!(r.rtype));
    m.insert("TYPEname".into(), json!(tname));
    m.insert("CLASS".into(), json!(r.class));
    m.insert("CLASSname".into(), json!(class_name(r.class)));
    m.insert("TTL".into(), json!(r.ttl));
    // Names inside are expanded, so the hex stands on its own.
    m.insert("RDLENGTH".into(), json!(data.len()));
    m.insert("RDATAHEX".into(), json!(hex_upper(&data)));
    let text = rdata_text(&v.bytes, r.rtype, r.rdata_offset, r.rdata_len);
    if !text.starts_with("\\#") {
        m.insert(format!("rdata{tname}"), json!(text));
    }
    Value::Object(m)
}

/// Where and when the message was exchanged.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub server: Option<String>,
    pub protocol: Option<&'static str>,
    pub query_time_ms: Option<u128>,
    pub unix_time: Option<u64>,
    pub date: Option<String>,
}

/// The whole message (RFC 8427 §2.1).
pub fn message_object(v: &View, ctx: &Context) -> Value {
    let mut m = Map::new();
    m.insert("ID".into(), json!(v.id));
    m.insert("QR".into(), json!(v.has(FLAG_QR)));
    m.insert("Opcode".into(), json!(v.opcode()));
    m.insert("OpcodeName".into(), json!(opcode_name(v.opcode())));
    for (key, flag) in [
        ("AA", FLAG_AA),
        ("TC", FLAG_TC),
        ("RD", FLAG_RD),
        ("RA", FLAG_RA),
        ("AD", FLAG_AD),
        ("CD", FLAG_CD),
    ] {
        m.insert(key.into(), json!(v.has(flag)));
    }
    m.insert("RCODE".into(), json!(v.rcode()));
    m.insert("RCODEname".into(), json!(rcode_name(v.rcode())));
    let [qd, an, ns, ar] = v.counts;
    m.insert("QDCOUNT".into(), json!(qd));
    m.insert("ANCOUNT".into(), json!(an));
    m.insert("NSCOUNT".into(), json!(ns));
    m.insert("ARCOUNT".into(), json!(ar));
    if let Some(q) = v.questions.first() {
        m.insert("QNAME".into(), json!(name_text(&q.name)));
        m.insert("QTYPE".into(), json!(q.qtype));
        m.insert("QTYPEname".into(), json!(type_name(q.qtype)));
        m.insert("QCLASS".into(), json!(q.qclass));
        m.insert("QCLASSname".into(), json!(class_name(q.qclass)));
    }
    for (key, records) in [
        ("answerRRs", &v.answers),
        ("authorityRRs", &v.authorities),
        ("additionalRRs", &v.additionals),
    ] {
        let list: Vec<Value> = records.iter().map(|r| rr_object(v, r)).collect();
        m.insert(key.into(), Value::Array(list));
    }
    if let Some(o) = &v.opt {
        let options: Vec<Value> = o
            .options
            .iter()
            .map(|(code, data)| {
                let mut opt = Map::new();
                opt.insert("CODE".into(), json!(code));
                opt.insert("DATAHEX".into(), json!(hex_upper(data)));
                if let (15, Some(info)) = (*code, super::msg::u16_at(data, 0)) {
                    opt.insert("INFO-CODE".into(), json!(info));
                    if let Some(n) = ede_name(info) {
                        opt.insert("INFO-CODEname".into(), json!(n));
                    }
                    let text = String::from_utf8_lossy(data.get(2..).unwrap_or(&[]));
                    opt.insert("EXTRA-TEXT".into(), json!(text));
                }
                if *code == 3 {
                    opt.insert("NSID".into(), json!(String::from_utf8_lossy(data)));
                }
                Value::Object(opt)
            })
            .collect();
        m.insert(
            "EDNS".into(),
            json!({
                "version": o.version,
                "DO": o.flags & 0x8000 != 0,
                "udpPayloadSize": o.udp_size,
                "options": options,
            }),
        );
    }
    m.insert("messageOctetsHEX".into(), json!(hex_upper(&v.bytes)));
    if let Some(s) = &ctx.date {
        m.insert("dateString".into(), json!(s));
    }
    if let Some(t) = ctx.unix_time {
        m.insert("dateSeconds".into(), json!(t));
    }
    if let Some(s) = &ctx.server {
        m.insert("server".into(), json!(s));
    }
    if let Some(p) = ctx.protocol {
        m.insert("protocol".into(), json!(p));
    }
    if let Some(t) = ctx.query_time_ms {
        m.insert("queryTimeMs".into(), json!(t));
    }
    Value::Object(m)
}

/// Renders a JSON tree as block-style YAML 1.2 (strings double-quoted
/// with JSON escapes, which YAML accepts).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    yaml_into(&mut out, v, 0);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn yaml_into(out: &mut String, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                if is_block(val) {
                    out.push_str(&format!("{pad}{k}:\n"));
                    yaml_into(out, val, depth + 1);
                } else {
                    out.push_str(&format!("{pad}{k}: {}\n", scalar(val)));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if is_block(item) {
                    out.push_str(&format!("{pad}-\n"));
                    yaml_into(out, item, depth + 1);
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> View {
        let mut m = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
        m.extend_from_slice(&[
            0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 6, 0, 15, 0, 2, 0, 22,
        ]);
        crate::dig::msg::parse(&m).unwrap()
    }

    #[test]
    fn rfc8427_names() {
        let j = message_object(&sample(), &Context::default());
        assert_eq!(j["ID"], 0x1234);
        assert_eq!(j["QR"], true);
        assert_eq!(j["TC"], false);
        assert_eq!(j["RCODE"], 0);
        assert_eq!(j["QNAME"], "www.example.");
        assert_eq!(j["QTYPE"], 1);
        assert_eq!(j["ARCOUNT"], 1);
        let a = &j["answerRRs"][0];
        assert_eq!(a["NAME"], "www.example.");
        assert_eq!(a["TYPE"], 1);
        assert_eq!(a["TTL"], 3600);
        assert_eq!(a["RDATAHEX"], "C0000201");
        assert_eq!(a["rdataA"], "192.0.2.1");
        assert_eq!(j["EDNS"]["options"][0]["INFO-CODE"], 22);
        assert_eq!(j["EDNS"]["DO"], true);
    }

    #[test]
    fn yaml_shape() {
        let y = to_yaml(&json!({"a": 1, "b": [{"c": "x\"y"}], "d": []}));
        assert_eq!(y, "a: 1\nb:\n  -\n    c: \"x\\\"y\"\nd: []\n");
    }
}
