//! One client question through the engine: the subnet cache, the cache
//! peek (the hit path, which sends nothing), merging identical questions
//! in flight, remembered failures (RFC 9520), and following the question
//! through CNAMEs (RFC 1034 §3.6.2), each step from cache or by iteration.

use hashbrown::HashSet;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::clock::Clock;
use crate::engine::inflight::{self, InflightKey, Role};
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::Step;
use crate::engine::{failures, Failure, Fetch, Request, Resolution, Resolver};
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The answer kept for the client's subnet (RFC 7871 §7.3.1), if any.
    fn subnet_hit(&self, request: &Request) -> Option<Resolution> {
        let net = request.subnet?;
        if self.subnet_cache.is_empty() {
            return None;
        }
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        let hit = self
            .subnet_cache
            .get(name, t, c, net.addr, net.prefix, self.clock.now())?;
        Some(Resolution {
            rcode: hit.rcode,
            answers: hit.answers,
            authorities: hit.authorities,
            from_cache: true,
            failure: None,
            ecs_scope: hit.scope,
            ..Resolution::failed(Failure::Internal("unused"), Vec::new())
        })
    }

    /// Keeps an answer given for one client subnet in the subnet cache.
    fn keep_scoped(&self, request: &Request, res: &Resolution) {
        let Some(net) = request.subnet else { return };
        if res.ecs_scope == 0 || res.failure.is_some() || res.from_cache {
            return;
        }
        let answer = crate::cache::subnet::ScopedAnswer {
            rcode: res.rcode,
            answers: res.answers.clone(),
            authorities: res.authorities.clone(),
            scope: res.ecs_scope,
        };
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        self.subnet_cache
            .insert(name, t, c, net.addr, answer, self.clock.now());
    }

    /// Answers held for single client subnets now.
    pub fn subnet_entries(&self) -> usize {
        self.subnet_cache.len()
    }

    /// Resolves one client question. Identical questions in flight at the
    /// same time share one resolution.
    /// The answer is validated (`validate.rs`) unless the request has CD=1.
    pub async fn resolve(&self, request: &Request) -> Resolution {
        if !request.full_trace {
            if let Some(hit) = self.resolve_cached(request).await {
                return hit;
            }
        }
        self.resolve_after_miss(request).await
    }

    /// `resolve` without the validation layer: what iteration and the
    /// cache give.
    pub(crate) async fn resolve_inner(&self, request: &Request) -> Resolution {
        if request.full_trace {
            return self.resolve_now(request).await;
        }
        if let Some(hit) = self.resolve_cached_inner(request).await {
            return hit;
        }
        self.resolve_after_miss_inner(request).await
    }

    /// `resolve` for a caller that has just seen `resolve_cached` miss (the
    /// front end does, to fill its packet cache): skips that second peek.
    pub async fn resolve_after_miss(&self, request: &Request) -> Resolution {
        if let Some(Some(res)) = self.dns64_ptr(request, false).await {
            return res;
        }
        let res = match self.synthesized(request) {
            Some(res) => res,
            None => {
                let res = self.resolve_after_miss_inner(request).await;
                self.validated(request, res).await
            }
        };
        self.keep_scoped(request, &res);
        match self.dns64(request, res.clone(), false).await {
            Some(r) => r,
            None => res,
        }
    }

    pub(super) async fn resolve_after_miss_inner(&self, request: &Request) -> Resolution {
        if request.full_trace {
            return self.resolve_now(request).await;
        }
        if self.config.cache.serve_expired {
            return self.resolve_or_stale(request).await;
        }
        if request.recursion_desired {
            let now = self.clock.now();
            let (name, t, c) = (&request.name, request.qtype, request.qclass);
            if let Some((f, causes)) = self.failures.check(name, t, c, now) {
                tracing::debug!(qname = %name, qtype = %t, failure = %f, "remembered failure");
                return Resolution {
                    causes,
                    ..Resolution::failed(f, Vec::new())
                };
            }
        }
        self.resolve_merged(request, Fetch::default()).await
    }

    /// Remembers a failed question, or forgets its failures once it is
    /// answered (RFC 9520 §3). Called once per resolution, by its leader,
    /// so that merged clients count as one failure.
    fn note_question(&self, request: &Request, res: &Resolution) {
        let (name, t, c) = (&request.name, request.qtype, request.qclass);
        match &res.failure {
            None => self.failures.answered(name, t, c),
            Some(f) if failures::worth_remembering(f) && request.recursion_desired => {
                let ttl = self
                    .failures
                    .failed((name, t, c), f, &res.causes, self.clock.now());
                tracing::debug!(qname = %name, qtype = %t, failure = %f, ttl_ms = ttl.as_millis() as u64, "failure remembered");
            }
            Some(_) => {}
        }
    }

    /// The key under which identical resolutions are merged.
    pub(super) fn inflight_key(request: &Request, bounded: bool) -> InflightKey {
        InflightKey {
            request: Request {
                name: request.name.to_lowercase(),
                ..request.clone()
            },
            bounded,
        }
    }

    /// The server a running resolution of `request` waits on now, and the
    /// zone it serves.
    pub fn waiting_on(&self, request: &Request) -> Option<(std::net::SocketAddr, Name)> {
        [false, true]
            .into_iter()
            .find_map(|b| self.inflight.asking(&Self::inflight_key(request, b)))
    }

    /// Resolves, sharing the work with an identical question in flight.
    pub(super) async fn resolve_merged(&self, request: &Request, fetch: Fetch) -> Resolution {
        match self
            .inflight
            .join(Self::inflight_key(request, fetch.deadline.is_some()))
        {
            Role::Leader(guard) => {
                let mut st = self.query_state(request);
                st.asking = guard.asking();
                st.refresh = fetch.refresh;
                st.deadline = fetch.deadline;
                st.leeway = fetch.leeway;
                let res = self
                    .resolve_steps_in(request, false, &st)
                    .await
                    .unwrap_or_else(|| {
                        Resolution::failed(
                            Failure::Internal("cache peek in iterative mode"),
                            Vec::new(),
                        )
                    });
                if !fetch.refresh && fetch.deadline.is_none() && !self.config.cache.serve_expired {
                    self.note_question(request, &res);
                }
                let res = Arc::new(res);
                guard.publish(res.clone());
                Arc::unwrap_or_clone(res)
            }
            Role::Follower(rx) => match inflight::follow(rx).await {
                Some(res) => {
                    let mut r = (*res).clone();
                    r.from_cache = true;
                    r
                }
                None => self.resolve_now(request).await,
            },
        }
    }

    /// Resolves without merging: follows CNAMEs across zones (up to the
    /// configured hop limit), each step from cache or by iteration.
    async fn resolve_now(&self, request: &Request) -> Resolution {
        match self.resolve_steps(request, false).await {
            Some(r) => r,
            None => Resolution::failed(
                Failure::Internal("cache peek in iterative mode"),
                Vec::new(),
            ),
        }
    }

    /// The answer from cache alone, or None at the first miss: the hit
    /// path, which takes no lock beyond the cache shard's and sends nothing.
    pub async fn resolve_cached(&self, request: &Request) -> Option<Resolution> {
        if let Some(hit) = self.subnet_hit(request) {
            return Some(hit);
        }
        if let Some(ptr) = self.dns64_ptr(request, true).await {
            return ptr;
        }
        let hit = self.resolve_cached_inner(request).await?;
        let res = self.validated_cached(request, hit)?;
        self.dns64(request, res, true).await
    }

    async fn resolve_cached_inner(&self, request: &Request) -> Option<Resolution> {
        let mut hit = self.resolve_steps(request, true).await?;
        if hit.refresh && self.failed_recently(request) {
            // A prefetch failed moments ago: not again yet.
            hit.refresh = false;
        }
        Some(hit)
    }

    /// Follows the question through CNAMEs, each step from cache, else (not
    /// `peek`) by iteration or, for RD=0, a referral from cache.
    async fn resolve_steps(&self, request: &Request, peek: bool) -> Option<Resolution> {
        let st = self.query_state(request);
        self.resolve_steps_in(request, peek, &st).await
    }

    /// A fresh `QueryState` for one client question.
    pub(super) fn query_state(&self, request: &Request) -> QueryState {
        let mut st = QueryState::new(
            self.config.resolver.max_upstream_queries,
            self.clock.now(),
            request.full_trace,
        );
        st.subnet = request.subnet;
        st
    }

    /// `resolve_steps` with a state the caller set up (stale reads allowed,
    /// a refresh, a deadline).
    pub(super) async fn resolve_steps_in(
        &self,
        request: &Request,
        peek: bool,
        st: &QueryState,
    ) -> Option<Resolution> {
        if let Some(refused) = not_served(request) {
            return Some(refused);
        }
        let mut chain = Chain {
            records: Vec::new(),
            cur: request.name.clone(),
            seen: HashSet::from([request.name.clone()]),
            hops: 0,
        };
        loop {
            let (cur, t, c) = (&chain.cur, request.qtype, request.qclass);
            let step = if peek {
                self.cached_step_in(cur, t, c, Some(st))?
            } else if request.recursion_desired {
                self.lookup(cur, t, c, st, LookupPath::default()).await
            } else {
                self.cached_step_in(cur, t, c, Some(st))
                    .unwrap_or(Step::Fail(Failure::NotCached))
            };
            let (records, next) = match step {
                Step::Answer(rs) => (rs, None),
                Step::Alias(rs, target) => (rs, Some(target)),
                ended => return Some(self.chain_ended(ended, chain, request.qtype, st)),
            };
            for r in &records {
                if let RData::CNAME(_) = r.data {
                    chain.hops += 1;
                    chain.seen.insert(r.name.clone());
                }
            }
            chain.records.extend(records);
            let Some(target) = next else {
                let last = (&chain.cur, request.qtype);
                return Some(self.finish(
                    ResponseCode::NoError,
                    chain.records,
                    Vec::new(),
                    last,
                    st,
                ));
            };
            if let Some(stop) = self.alias_stop(&mut chain, &target, st) {
                return Some(stop);
            }
            chain.cur = target;
        }
    }

    /// The resolution when a chain ends with anything but data or an
    /// alias: a negative answer, a failure, or (RD=0) what is cached.
    fn chain_ended(
        &self,
        step: Step,
        chain: Chain,
        qtype: RecordType,
        st: &QueryState,
    ) -> Resolution {
        let Chain {
            records: mut answers,
            cur,
            ..
        } = chain;
        let last = (&cur, qtype);
        match step {
            Step::NxDomain(rs, soa) => {
                answers.extend(rs);
                self.finish(ResponseCode::NXDomain, answers, soa, last, st)
            }
            Step::NoData(rs, soa) => {
                answers.extend(rs);
                self.finish(ResponseCode::NoError, answers, soa, last, st)
            }
            Step::YxDomain(rs) => {
                answers.extend(rs);
                self.finish(ResponseCode::YXDomain, answers, Vec::new(), last, st)
            }
            Step::Fail(Failure::NotCached) if !answers.is_empty() => {
                // RD=0: the part of the chain we have is the answer.
                self.finish(ResponseCode::NoError, answers, Vec::new(), last, st)
            }
            Step::Fail(Failure::NotCached) => self.cache_referral_answer(&cur, st),
            Step::Fail(f @ Failure::Policy(_)) => {
                // The server applies the policy to the chain so far.
                let mut res = Resolution::failed(f, st.take_trace());
                res.answers = answers;
                res
            }
            Step::Fail(f) => Resolution {
                // A held-down server is due for its probe: the front end
                // sends it from a background refresh.
                refresh: st.probe_due(),
                causes: st.causes(),
                ..Resolution::failed(f, st.take_trace())
            },
            // Data and aliases go on along the chain.
            Step::Answer(_) | Step::Alias(..) => Resolution::failed(
                Failure::Internal("chain step taken as an end"),
                st.take_trace(),
            ),
        }
    }

    /// Why the chain may not go on to `target`: too many CNAMEs, a loop,
    /// or a response policy at the target.
    fn alias_stop(&self, chain: &mut Chain, target: &Name, st: &QueryState) -> Option<Resolution> {
        let max = self.config.resolver.max_cname_hops;
        if chain.hops > max {
            return Some(Resolution::failed(
                Failure::CnameChain(max),
                st.take_trace(),
            ));
        }
        if !chain.seen.insert(target.clone()) {
            return Some(Resolution::failed(Failure::CnameLoop, st.take_trace()));
        }
        if self.policy().is_some_and(|p| p.stops_at(target)) {
            let mut res = Resolution::failed(Failure::PolicyAlias(target.clone()), st.take_trace());
            res.answers = std::mem::take(&mut chain.records);
            return Some(res);
        }
        None
    }
}

/// A CNAME chain being followed: its records so far, the name it has
/// reached, the names met (against loops), and the CNAMEs followed.
struct Chain {
    records: Vec<Record>,
    cur: Name,
    seen: HashSet<Name>,
    hops: u32,
}

/// Questions a resolver does not serve. Zone transfers are not a
/// resolver's business; as Unbound does, AXFR is refused and IXFR (which
/// needs an SOA) is malformed here. Classes other than IN are refused.
fn not_served(request: &Request) -> Option<Resolution> {
    if matches!(request.qtype, RecordType::AXFR | RecordType::IXFR) {
        return Some(Resolution {
            rcode: if request.qtype == RecordType::AXFR {
                ResponseCode::Refused
            } else {
                ResponseCode::FormErr
            },
            ..Resolution::failed(
                Failure::Internal("zone transfer asked of a resolver"),
                Vec::new(),
            )
        });
    }
    if request.qclass != DNSClass::IN {
        return Some(Resolution {
            rcode: ResponseCode::Refused,
            ..Resolution::failed(Failure::Internal("class not served"), Vec::new())
        });
    }
    None
}
