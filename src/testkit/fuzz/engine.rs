//! Fuzz entry point for a whole resolution: a client question answered by
//! the front-end handler while every upstream exchange takes the next step
//! of a script (a timeout, a failure, or reply bytes, with time passing on
//! a manual clock). The resolution ends within its upstream-query budget
//! and the client always gets a reply to its question.
//!
//! Script, after two bytes choosing the question: per exchange one control
//! byte (low two bits: 0 timeout, 1 malformed, 2 reply, 3 wrong question;
//! 0x04 sets the reply's ID and QR to match, 0x08 its question; the high
//! nibble is the round trip in tens of milliseconds), and for a reply a
//! two-byte length and that many bytes. A used-up script times out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::clock::ManualClock;
use crate::config::Config;
use crate::engine::Resolver;
use crate::server::Handler;
use crate::upstream::{Protocol, ReplyBytes, Transport, UpstreamFailure, UpstreamQuery};

const QNAMES: &[&str] = &[
    "www.example.test.",
    "web.example.test.",
    "far.example.test.",
    "host.glueless.test.",
    "nx.example.test.",
    "example.test.",
    "loop1.other.test.",
    "www.",
];

const QTYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::NS,
    RecordType::TXT,
    RecordType::CNAME,
    RecordType::DS,
    RecordType::ANY,
];

/// A transport that plays a script of upstream outcomes.
struct Scripted {
    script: Mutex<(Vec<u8>, usize)>,
    clock: Arc<ManualClock>,
    exchanges: AtomicU32,
}

impl Scripted {
    fn take(&self, n: usize) -> Option<Vec<u8>> {
        let mut s = self.script.lock().ok()?;
        let (data, pos) = &mut *s;
        let out = data.get(*pos..pos.checked_add(n)?)?.to_vec();
        *pos += n;
        Some(out)
    }

    fn step(&self, q: &UpstreamQuery) -> ReplyBytes {
        let timeout = || {
            self.clock.advance(q.timeout);
            Err(UpstreamFailure::Timeout)
        };
        let Some(&[c]) = self.take(1).as_deref() else {
            return timeout();
        };
        self.clock
            .advance(Duration::from_millis(u64::from(c >> 4) * 10));
        match c & 3 {
            0 => return timeout(),
            1 => return Err(UpstreamFailure::Malformed),
            3 => return Err(UpstreamFailure::WrongQuestion),
            _ => {}
        }
        let Some(&[hi, lo]) = self.take(2).as_deref() else {
            return timeout();
        };
        let want = usize::from(u16::from_be_bytes([hi, lo]));
        let bytes = {
            let Ok(mut s) = self.script.lock() else {
                return timeout();
            };
            let (data, pos) = &mut *s;
            let end = pos.saturating_add(want).min(data.len());
            let out = data.get(*pos..end).unwrap_or(&[]).to_vec();
            *pos = end;
            out
        };
        let mut bytes = if c & 8 != 0 {
            with_question(bytes, &q.bytes)
        } else {
            bytes
        };
        if let (true, [hi, lo, flags, ..]) = (c & 4 != 0, bytes.as_mut_slice()) {
            [*hi, *lo] = q.id().to_be_bytes();
            *flags |= 0x80;
        }
        // As the real transports: a datagram without our ID and QR=1 is
        // waited past; the engine judges the rest.
        if crate::upstream::answers_header(&q.bytes, &bytes) {
            Ok(bytes)
        } else {
            timeout()
        }
    }
}

/// `reply` with the question of `query`, when both parse.
fn with_question(reply: Vec<u8>, query: &[u8]) -> Vec<u8> {
    let (Ok(parsed), Ok(asked)) = (crate::wire::parse_reply(&reply), Message::from_vec(query))
    else {
        return reply;
    };
    let mut m = parsed.message;
    m.queries = asked.queries;
    crate::wire::encode(&m).unwrap_or(reply)
}

impl Transport for Scripted {
    async fn exchange(&self, q: UpstreamQuery) -> ReplyBytes {
        self.exchanges.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.step(&q)
    }
}

type Shared = (
    Handler<Arc<Scripted>, Arc<ManualClock>>,
    Arc<Scripted>,
    Arc<ManualClock>,
);

static ENGINE_LOCK: Mutex<()> = Mutex::new(());

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let net = Arc::new(Scripted {
            script: Mutex::new((Vec::new(), 0)),
            clock: clock.clone(),
            exchanges: AtomicU32::new(0),
        });
        let config = Arc::new(Config::without_validation());
        let resolver =
            Resolver::with_hints(config, super::small_hints(), net.clone(), clock.clone());
        (Handler::new(Arc::new(resolver)), net, clock)
    })
}

/// The client query the first two bytes choose.
fn client_query(sel: u8, flags: u8) -> Option<Vec<u8>> {
    let name = QNAMES.get(usize::from(sel) % QNAMES.len())?;
    let qtype = *QTYPES.get(usize::from(sel >> 4) % QTYPES.len())?;
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = flags & 1 == 0;
    m.metadata.checking_disabled = flags & 2 != 0;
    if flags & 4 != 0 {
        let mut edns = hickory_proto::op::Edns::new();
        edns.set_dnssec_ok(true);
        m.edns = Some(edns);
    }
    m.add_query(Query::query(Name::from_ascii(name).ok()?, qtype));
    crate::wire::encode(&m)
}

/// Plays `data` (see the module text) and checks the outcome.
pub fn engine_replay(data: &[u8]) {
    let _ = engine_play(data);
}

/// `engine_replay`, returning the client's reply.
pub fn engine_play(data: &[u8]) -> Option<Message> {
    let (Some(&sel), Some(&flags), Some(script)) = (data.first(), data.get(1), data.get(2..))
    else {
        return None;
    };
    let rt = super::runtime()?;
    let query = client_query(sel, flags)?;
    // One resolver for the whole run (building the front end's local
    // zones costs more than a resolution), its state reset per input: the
    // cache and server selection cleared, and a day passed on the clock
    // (remembered failures and hold-downs expire). A lock keeps inputs
    // replayed from parallel tests apart.
    let (handler, net, clock) = shared();
    let _one_at_a_time = ENGINE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    clock.advance(Duration::from_secs(86_400));
    handler.resolver().cache().clear();
    handler.resolver().selection().clear();
    if let Ok(mut s) = net.script.lock() {
        *s = (script.to_vec(), 0);
    }
    net.exchanges.store(0, Ordering::SeqCst);
    let budget = handler.resolver().config().resolver.max_upstream_queries;
    let client = SocketAddr::from(([127, 0, 0, 1], 5353));
    let reply = rt.block_on(handler.handle(&query, client, Protocol::Udp));
    let sent = net.exchanges.load(Ordering::SeqCst);
    assert!(sent <= budget, "{sent} upstream queries, budget {budget}");
    assert!(reply.is_some(), "client not answered");
    let parsed = crate::wire::parse(&reply?);
    assert!(parsed.is_ok(), "reply does not parse");
    let m = parsed.ok()?;
    {
        assert_eq!(m.metadata.id, 0x1234, "reply with another ID");
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(
            matches!(
                m.metadata.response_code,
                ResponseCode::NoError
                    | ResponseCode::NXDomain
                    | ResponseCode::ServFail
                    | ResponseCode::Refused
            ),
            "rcode {}",
            m.metadata.response_code
        );
        let q = Message::from_vec(&query).ok();
        let asked = q.as_ref().map(|q| &q.queries);
        assert_eq!(Some(&m.queries), asked, "reply to another question");
    }
    Some(m)
}

/// A transport that passes exchanges to the small test tree and writes
/// down what came back as an `engine_replay` script: seeds from a network
/// that answers properly.
struct Recording {
    inner: Arc<super::TestNet>,
    script: Mutex<Vec<u8>>,
}

impl Transport for Recording {
    async fn exchange(&self, q: UpstreamQuery) -> ReplyBytes {
        let out = self.inner.exchange(q).await;
        if let Ok(mut s) = self.script.lock() {
            match &out {
                Ok(b) => match u16::try_from(b.len()) {
                    Ok(len) => {
                        s.push(0x1e);
                        s.extend_from_slice(&len.to_be_bytes());
                        s.extend_from_slice(b);
                    }
                    Err(_) => s.push(1),
                },
                Err(UpstreamFailure::Timeout) => s.push(0),
                Err(_) => s.push(1),
            }
        }
        out
    }
}

/// An `engine_replay` input for question `sel` (and `flags`) as the small
/// test tree answers it, for seeding the corpus.
pub fn engine_seed(sel: u8, flags: u8) -> Vec<u8> {
    let mut out = vec![sel, flags];
    let (Some(rt), Some(query)) = (super::runtime(), client_query(sel, flags)) else {
        return out;
    };
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let inner = Arc::new(super::small_net(Some(clock.clone())));
    let net = Arc::new(Recording {
        inner,
        script: Mutex::new(Vec::new()),
    });
    let config = Arc::new(Config::without_validation());
    let resolver = Resolver::with_hints(config, super::small_hints(), net.clone(), clock);
    let handler = Handler::new(Arc::new(resolver));
    let client = SocketAddr::from(([127, 0, 0, 1], 5353));
    let _ = rt.block_on(handler.handle(&query, client, Protocol::Udp));
    if let Ok(s) = net.script.lock() {
        out.extend_from_slice(&s);
    }
    out
}
