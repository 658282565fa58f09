//! CDN-style redirection: names whose A/AAAA answers are chosen per query
//! by a policy over a set of replicas (see `policy.rs`), with active TCP
//! health checks (fail/rise thresholds), measured connect RTTs and load
//! values refreshed from a file. The client is the packet's source, or the
//! EDNS Client Subnet when present (RFC 7871 §7.1); the reply's ECS scope
//! says how widely the choice applies. Every decision is logged.

pub mod config;
pub mod policy;
pub mod probe;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use tokio::task::JoinHandle;

pub use config::{CdnConfig, CdnError, PolicyKind};
use policy::{select, Inputs, PolicyState};

use super::faults::rng;
use crate::zone::answer::{ClientView, DynamicAnswer, DynamicSource};

/// One replica's health as the checker sees it.
#[derive(Debug, Clone)]
struct Health {
    alive: bool,
    ok_run: u32,
    fail_run: u32,
    rtt: Option<Duration>,
}

impl Default for Health {
    fn default() -> Self {
        // Unknown replicas count as alive until checks say otherwise.
        Self {
            alive: true,
            ok_run: 0,
            fail_run: 0,
            rtt: None,
        }
    }
}

/// The dynamic names of one authoritative server.
pub struct CdnSource {
    config: CdnConfig,
    index: HashMap<LowerName, usize>,
    states: Vec<Mutex<PolicyState>>,
    health: RwLock<HashMap<String, Health>>,
    /// Load tables by source (file path or URL).
    loads: RwLock<HashMap<String, HashMap<String, f64>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(l: &RwLock<T>, f: impl FnOnce(&mut T)) {
    match l.write() {
        Ok(mut g) => f(&mut g),
        Err(p) => f(&mut p.into_inner()),
    }
}

impl CdnSource {
    pub fn load(path: &Path) -> Result<CdnSource, CdnError> {
        Ok(CdnSource::new(CdnConfig::load(path)?))
    }

    pub fn new(config: CdnConfig) -> CdnSource {
        let index = config
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (LowerName::from(&n.name), i))
            .collect();
        let states = config
            .names
            .iter()
            .map(|n| {
                Mutex::new(PolicyState {
                    rng: rng(n.seed),
                    next: 0,
                })
            })
            .collect();
        let src = CdnSource {
            config,
            index,
            states,
            health: RwLock::new(HashMap::new()),
            loads: RwLock::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        };
        src.refresh_loads();
        src
    }

    pub fn config(&self) -> &CdnConfig {
        &self.config
    }

    /// Starts health checks and load refreshes (needs a tokio runtime).
    pub fn start_background(self: &Arc<Self>) {
        // A weak handle, so dropping the source ends its checks.
        let weak = Arc::downgrade(self);
        let checker = tokio::spawn(async move {
            while let Some(me) = weak.upgrade() {
                me.check_all().await;
                me.refresh_loads();
                me.refresh_load_urls().await;
                let interval = me.config.health.interval();
                drop(me);
                tokio::time::sleep(interval).await;
            }
        });
        match self.tasks.lock() {
            Ok(mut t) => t.push(checker),
            Err(p) => p.into_inner().push(checker),
        }
    }

    /// Stops background work.
    pub fn stop(&self) {
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for t in tasks {
            t.abort();
        }
    }

    /// One round of checks (TCP connect, or HTTP GET), all replicas at once.
    async fn check_all(&self) {
        let timeout = self.config.health.timeout();
        let path = self.config.health.http_path.clone();
        let probes: Vec<(String, SocketAddr)> = self
            .config
            .replicas
            .iter()
            .filter_map(|r| self.config.health_target(r).map(|a| (r.name.clone(), a)))
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for (name, addr) in probes {
            let path = path.clone();
            set.spawn(async move {
                let (connected, rtt) = probe::tcp_connect(addr, timeout).await;
                let ok = match (connected, path) {
                    (true, Some(path)) => {
                        let url = probe::HttpUrl { addr, path };
                        matches!(probe::http_get(&url, timeout).await, Ok((200..=299, _)))
                    }
                    (c, _) => c,
                };
                (name, ok, rtt)
            });
        }
        while let Some(res) = set.join_next().await {
            if let Ok((name, ok, rtt)) = res {
                self.record_probe(&name, ok, rtt);
            }
        }
    }

    fn record_probe(&self, name: &str, ok: bool, rtt: Duration) {
        let (fail, rise) = (self.config.health.fail, self.config.health.rise);
        write(&self.health, |h| {
            let e = h.entry(name.to_string()).or_default();
            if ok {
                e.ok_run = e.ok_run.saturating_add(1);
                e.fail_run = 0;
                e.rtt = Some(rtt);
                if !e.alive && e.ok_run >= rise {
                    e.alive = true;
                    tracing::info!(replica = name, "cdn: replica alive again");
                }
            } else {
                e.fail_run = e.fail_run.saturating_add(1);
                e.ok_run = 0;
                if e.alive && e.fail_run >= fail {
                    e.alive = false;
                    tracing::info!(replica = name, fails = e.fail_run, "cdn: replica dead");
                }
            }
        });
    }

    /// Re-reads every load file (`"replica" = load` lines in TOML).
    fn refresh_loads(&self) {
        for p in self
            .config
            .names
            .iter()
            .filter_map(|n| n.load_file.as_ref())
        {
            let Ok(text) = std::fs::read_to_string(p) else {
                continue;
            };
            self.store_loads(p.display().to_string(), &text);
        }
    }

    /// Fetches every load URL (same format as a load file).
    async fn refresh_load_urls(&self) {
        let timeout = self.config.health.timeout();
        for u in self.config.names.iter().filter_map(|n| n.load_url.as_ref()) {
            match probe::http_get(u, timeout).await {
                Ok((200..=299, body)) => self.store_loads(u.to_string(), &body),
                Ok((status, _)) => tracing::warn!(url = %u, status, "cdn: load endpoint failed"),
                Err(e) => tracing::warn!(error = %e, "cdn: load endpoint failed"),
            }
        }
    }

    fn store_loads(&self, key: String, text: &str) {
        match toml::from_str::<HashMap<String, f64>>(text) {
            Ok(table) => write(&self.loads, |l| {
                l.insert(key, table);
            }),
            Err(_) => {
                tracing::warn!(source = %key, "cdn: unreadable load table, keeping old values")
            }
        }
    }

    /// Whether health checks currently consider `replica` alive.
    pub fn is_alive(&self, replica: &str) -> bool {
        read(&self.health).get(replica).is_none_or(|h| h.alive)
    }

    fn reflect(
        &self,
        qname: &Name,
        qtype: RecordType,
        ttl: u32,
        client: &ClientView,
    ) -> Vec<Record> {
        let seen = client.steering_address();
        let text = match &client.ecs {
            Some(e) => format!(
                "source={} ecs={}/{}",
                client.source,
                e.addr(),
                e.source_prefix()
            ),
            None => format!("source={}", client.source),
        };
        let data = match (qtype, seen) {
            (RecordType::A, IpAddr::V4(v4)) => RData::A(A(v4)),
            (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(v6)),
            (RecordType::TXT | RecordType::ANY, _) => RData::TXT(TXT::new(vec![text])),
            _ => return Vec::new(),
        };
        vec![Record::from_rdata(qname.clone(), ttl, data)]
    }
}

impl DynamicSource for CdnSource {
    fn answer(
        &self,
        qname: &Name,
        qtype: RecordType,
        client: &ClientView,
    ) -> Option<DynamicAnswer> {
        let i = *self.index.get(&LowerName::from(qname))?;
        let policy = self.config.names.get(i)?;
        let ecs = client.ecs.filter(|e| e.source_prefix() > 0);
        let (steer, source_prefix) = match ecs {
            Some(e) => (e.addr(), e.source_prefix()),
            None => (
                client.source,
                if client.source.is_ipv4() { 32 } else { 128 },
            ),
        };
        // An ECS with source prefix 0 asks us not to tailor (RFC 7871 §7.1.2).
        let cap = client.ecs.map_or(u8::MAX, |e| e.source_prefix());
        if policy.kind == PolicyKind::Reflect {
            let records = self.reflect(qname, qtype, policy.ttl, client);
            return Some(DynamicAnswer {
                records,
                scope_prefix: source_prefix.min(cap),
            });
        }
        if !matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) {
            return Some(DynamicAnswer {
                records: Vec::new(),
                scope_prefix: 0,
            });
        }
        let health = read(&self.health);
        let alive = |n: &str| health.get(n).is_none_or(|h| h.alive);
        let rtts: HashMap<String, Duration> = health
            .iter()
            .filter_map(|(k, v)| v.rtt.map(|r| (k.clone(), r)))
            .collect();
        let key = match (&policy.load_file, &policy.load_url) {
            (Some(p), _) => Some(p.display().to_string()),
            (None, Some(u)) => Some(u.to_string()),
            (None, None) => None,
        };
        let loads = key
            .and_then(|k| read(&self.loads).get(&k).cloned())
            .unwrap_or_default();
        let inputs = Inputs {
            client: steer,
            source_prefix,
            replicas: &self.config.replicas,
            alive: &alive,
            loads: &loads,
            rtts: &rtts,
        };
        let decision = {
            let state = self.states.get(i)?;
            match state.lock() {
                Ok(mut s) => select(policy, &inputs, &mut s),
                Err(p) => select(policy, &inputs, &mut p.into_inner()),
            }
        };
        let candidates: Vec<&str> = policy.replicas.iter().map(String::as_str).collect();
        tracing::info!(
            client = %steer,
            source = %client.source,
            qname = %qname,
            policy = ?policy.kind,
            candidates = ?candidates,
            choice = ?decision.chosen,
            why = %decision.why,
            "cdn decision"
        );
        let mut records = Vec::new();
        for name in &decision.chosen {
            let Some(r) = self.config.replicas.iter().find(|r| &r.name == name) else {
                continue;
            };
            for a in &r.addresses {
                let data = match (qtype, a) {
                    (RecordType::A | RecordType::ANY, IpAddr::V4(v4)) => RData::A(A(*v4)),
                    (RecordType::AAAA | RecordType::ANY, IpAddr::V6(v6)) => RData::AAAA(AAAA(*v6)),
                    _ => continue,
                };
                records.push(Record::from_rdata(qname.clone(), policy.ttl, data));
            }
        }
        Some(DynamicAnswer {
            records,
            scope_prefix: decision.scope.min(cap),
        })
    }
}

impl Drop for CdnSource {
    fn drop(&mut self) {
        self.stop();
    }
}
