//! `+trace +engine`: the same question resolved by tern's own engine
//! (`Resolver::resolve` with `full_trace`, from the root hints, RFC 1034
//! §5.3.3), printing the engine's `TraceEvent`s — where each step starts,
//! every server asked and why, replies in dig's layout with their RTT,
//! failures with the next retransmission timeout, cache hits and notes
//! (the validator's `dnssec:` steps among them) — then the final answer
//! and the DNSSEC verdict (RFC 4035 §4.3; anchors chosen in
//! `engine_validation`). `-p` maps port 53 to a lab port.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::rr::{DNSClass, RecordType};
use serde_json::{json, Value};

use super::args::Lookup;
use super::engine_validation::{self as validation, Validation};
use super::{format, json as j, msg, query, EXIT_INTERNAL, EXIT_NO_REPLY, EXIT_OK};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::dnssec::anchors::TrustAnchors;
use crate::engine::trace::failed_line;
use crate::engine::{Request, Resolution, Resolver, RootHints, TraceEvent};
use crate::upstream::net::NetTransport;
use crate::upstream::{Protocol, ReplyBytes, Transport, UpstreamQuery};

/// Sends what the engine addresses to port 53 to the lab's port instead.
pub struct PortMap<T> {
    pub inner: T,
    pub port: u16,
}

impl<T: Transport> Transport for PortMap<T> {
    fn exchange(
        &self,
        mut query: UpstreamQuery,
    ) -> impl std::future::Future<Output = ReplyBytes> + Send {
        if query.server.port() == 53 {
            query.server.set_port(self.port);
        }
        self.inner.exchange(query)
    }
}

fn shown(addr: SocketAddr, port: u16) -> SocketAddr {
    if addr.port() == 53 {
        SocketAddr::new(addr.ip(), port)
    } else {
        addr
    }
}

/// Runs the engine for one lookup; returns dig's exit status.
pub fn run(l: &Lookup, banner: Option<super::Banner<'_>>, out: &mut dyn Write) -> u8 {
    let name = l.name.clone().unwrap_or_else(|| ".".to_string());
    if let Some(b) = banner {
        let _ = write!(out, "{}", super::banner(b, None));
    }
    let hints = match &l.flags.hints {
        Some(path) => match RootHints::from_file(std::path::Path::new(path)) {
            Ok(h) => h,
            Err(e) => {
                let _ = writeln!(out, ";; cannot use hints: {e}");
                return EXIT_INTERNAL;
            }
        },
        None => RootHints::built_in(),
    };
    let Ok(qname) = query::parse_name(&name) else {
        let _ = writeln!(out, "dig: '{name}' is not a legal name");
        return EXIT_INTERNAL;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return EXIT_INTERNAL;
    };
    let transport = PortMap {
        inner: NetTransport::new(),
        port: l.port,
    };
    let validation = validation::choose(&l.flags);
    let config = Config {
        dnssec: validation.config(),
        ..Config::default()
    };
    // The engine would only log an unusable anchor file and validate
    // nothing; say so and stop, as for unusable hints.
    if config.dnssec.validate {
        if let Err(e) = TrustAnchors::from_config(&config.dnssec) {
            let _ = writeln!(out, ";; cannot use trust anchor: {e}");
            return EXIT_INTERNAL;
        }
    }
    let resolver = Resolver::with_hints(Arc::new(config), hints, transport, SystemClock::new());
    let request = Request {
        name: qname,
        qtype: RecordType::from(l.qtype),
        qclass: DNSClass::from(l.qclass),
        recursion_desired: true,
        checking_disabled: l.flags.cd,
        dnssec_ok: l.flags.dnssec,
        full_trace: true,
        subnet: None,
    };
    let res = runtime.block_on(resolver.resolve(&request));
    if l.flags.json {
        let _ = writeln!(out, "{}", json_steps(&res, l.port, &validation));
    } else {
        let _ = write!(out, "{}", text(&res, l, &validation));
    }
    if res.failure.is_some() {
        EXIT_NO_REPLY
    } else {
        EXIT_OK
    }
}

/// A hickory message in dig's layout, through our own display path.
fn reply_text(m: &hickory_proto::op::Message, l: &Lookup) -> Option<(String, usize)> {
    let bytes = crate::wire::encode(m)?;
    let v = msg::parse(&bytes).ok()?;
    Some((
        format::message_text(&v, &l.flags, true, true, None),
        bytes.len(),
    ))
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Udp => "UDP",
        Protocol::Tcp => "TCP",
    }
}

/// The trace as text: one block per event, then the final answer and
/// the DNSSEC verdict.
pub fn text(res: &Resolution, l: &Lookup, validation: &Validation) -> String {
    let mut names: HashMap<SocketAddr, String> = HashMap::new();
    let mut s = String::new();
    for ev in &res.trace {
        match ev {
            TraceEvent::CacheHit { .. } | TraceEvent::StartAt { .. } | TraceEvent::Note(_) => {
                s.push_str(&format!(";; {ev}\n"));
            }
            TraceEvent::Query {
                zone,
                server,
                server_name,
                qname,
                qtype,
                protocol,
                reason,
            } => {
                let label = server_name
                    .as_ref()
                    .map_or_else(|| server.ip().to_string(), ToString::to_string);
                names.insert(*server, label.clone());
                s.push_str(&format!(
                    ";; asking {label} ({}) for {qname} {qtype} in zone {zone} over {}: {reason}\n",
                    query::hash_addr(&shown(*server, l.port)),
                    proto(*protocol)
                ));
            }
            TraceEvent::Reply {
                server,
                rtt,
                rcode,
                kind,
                message,
            } => {
                let label = names.get(server).cloned().unwrap_or_default();
                let label = label.strip_suffix('.').unwrap_or(&label).to_string();
                let size = match message.as_deref().and_then(|m| reply_text(m, l)) {
                    Some((body, size)) => {
                        s.push_str(&body);
                        size.to_string()
                    }
                    None => "?".into(),
                };
                let _ = rcode; // `kind` already names the rcode
                s.push_str(&format!(
                    ";; Received {size} bytes from {}({label}) in {} ms\n;; {kind}\n\n",
                    query::hash_addr(&shown(*server, l.port)),
                    rtt.as_millis()
                ));
            }
            TraceEvent::Failed {
                server,
                failure,
                rto,
            } => {
                let at = query::hash_addr(&shown(*server, l.port));
                s.push_str(&format!(";; {}\n", failed_line(&at, failure, *rto)));
            }
        }
    }
    match &res.failure {
        Some(f) => s.push_str(&format!(";; resolution failed: {f} (SERVFAIL)\n")),
        None => {
            s.push_str(&format!(
                ";; resolved: {}{}\n",
                res.rcode,
                if res.from_cache { " (from cache)" } else { "" }
            ));
            s.push_str(&answer_lines(res, l));
        }
    }
    s.push_str(&format!(
        ";; validation: {}\n",
        validation::verdict(res, validation)
    ));
    s
}

/// The final answer records in dig's columns.
fn answer_lines(res: &Resolution, l: &Lookup) -> String {
    use hickory_proto::op::{Message, MessageType, OpCode};
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    m.answers = res.answers.clone();
    let Some(v) = crate::wire::encode(&m).and_then(|b| msg::parse(&b).ok()) else {
        return res.answers.iter().map(|r| format!("{r}\n")).collect();
    };
    let style = format::Style::of(&l.flags);
    v.answers
        .iter()
        .map(|r| format!("{}\n", format::record_line(&v, r, &style)))
        .collect()
}

/// The trace as one JSON array of events; the last, `result`, carries
/// the DNSSEC verdict.
pub fn json_steps(res: &Resolution, port: u16, validation: &Validation) -> Value {
    let mut steps: Vec<Value> = res
        .trace
        .iter()
        .map(|ev| match ev {
            TraceEvent::CacheHit { name, qtype } => {
                json!({"event": "cacheHit", "name": name.to_string(), "type": qtype.to_string()})
            }
            TraceEvent::StartAt { zone, servers } => json!({
                "event": "startAt",
                "zone": zone.to_string(),
                "servers": servers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            TraceEvent::Query {
                zone,
                server,
                server_name,
                qname,
                qtype,
                protocol,
                reason,
            } => json!({
                "event": "query",
                "zone": zone.to_string(),
                "server": query::hash_addr(&shown(*server, port)),
                "serverName": server_name.as_ref().map(ToString::to_string),
                "QNAME": qname.to_string(),
                "QTYPEname": qtype.to_string(),
                "protocol": proto(*protocol),
                "why": reason,
            }),
            TraceEvent::Reply {
                server,
                rtt,
                rcode,
                kind,
                message,
            } => {
                let message = message
                    .as_deref()
                    .and_then(crate::wire::encode)
                    .and_then(|b| msg::parse(&b).ok())
                    .map(|v| j::message_object(&v, &j::Context::default()));
                json!({
                    "event": "reply",
                    "server": query::hash_addr(&shown(*server, port)),
                    "rttMs": rtt.as_millis(),
                    "RCODEname": rcode.to_string(),
                    "why": kind,
                    "message": message,
                })
            }
            TraceEvent::Failed {
                server,
                failure,
                rto,
            } => json!({
                "event": "failed",
                "server": query::hash_addr(&shown(*server, port)),
                "why": failure.to_string(),
                "nextTimeoutMs": rto.as_millis(),
            }),
            TraceEvent::Note(n) => json!({"event": "note", "why": n}),
        })
        .collect();
    steps.push(json!({
        "event": "result",
        "RCODEname": res.rcode.to_string(),
        "failure": res.failure.as_ref().map(ToString::to_string),
        "answers": res.answers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "validation": validation::verdict_json(res, validation),
    }));
    Value::Array(steps)
}
