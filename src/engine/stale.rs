//! Serve-stale (RFC 8767) and prefetch, with Unbound's semantics.
//!
//! After a fresh cache read misses, a client question may be answered from
//! expired data still in its stale window (RFC 8767 §4): at once, with a
//! refresh in the background, when no client timeout is configured or when
//! resolving this question failed moments ago; otherwise only when trying
//! afresh fails or runs past the client timeout (RFC 8767 §5). Failures are
//! remembered for five seconds (Unbound's NORR_TTL) so a failing name is
//! not hammered: meanwhile stale data is served without trying, or, with no
//! stale data, the failure itself. A refresh (`resolve_refresh`, also used
//! by prefetch) re-resolves the question bypassing its cache entries; the
//! front end runs it in the background. Nothing here spawns or sleeps: the
//! client timeout is a deadline on the engine's clock that upstream
//! exchanges respect.

use std::time::Duration;

use hickory_proto::rr::{DNSClass, Record};

use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::{Failure, Fetch, Request, Resolution, Resolver};
use crate::upstream::Transport;

/// How long a failure to resolve is remembered (Unbound's NORR_TTL).
pub const FAILURE_TTL: u32 = 5;

/// Added to a prefetched entry's remaining TTL to decide which zone cuts
/// are renewed with it (Unbound's PREFETCH_EXPIRY_ADD).
const PREFETCH_LEEWAY_ADD: Duration = Duration::from_secs(60);

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// `resolve_after_miss` with serve-stale configured.
    pub(super) async fn resolve_or_stale(&self, request: &Request) -> Resolution {
        let failed_recently = self.failed_recently(request);
        let Some(mut stale) = self.resolve_stale(request).await else {
            if failed_recently && request.recursion_desired {
                return Resolution::failed(Failure::RecentlyFailed, Vec::new());
            }
            let res = self.resolve_merged(request, Fetch::default()).await;
            if self.note_outcome(request, &res) && self.config.cache.serve_expired_ttl_reset {
                // The failure reopened the stale window of what is still
                // kept: serve that rather than the failure.
                if let Some(mut stale) = self.resolve_stale(request).await {
                    stale.refresh = false;
                    return stale;
                }
            }
            return res;
        };
        if !stale.stale {
            // Everything was fresh after all (refreshed meanwhile).
            return stale;
        }
        let timeout = self.config.cache.serve_expired_client_timeout;
        if failed_recently || !request.recursion_desired || timeout.is_zero() {
            stale.refresh = !failed_recently;
            tracing::debug!(
                qname = %request.name,
                qtype = %request.qtype,
                failed_recently,
                "answering from expired data"
            );
            return stale;
        }
        let deadline = self.clock.now() + timeout;
        let fetch = Fetch {
            deadline: Some(deadline),
            ..Fetch::default()
        };
        let res = self.resolve_merged(request, fetch).await;
        if res.failure.is_none() {
            return res;
        }
        if res.failure == Some(Failure::Timeout) {
            // Out of time (this client's deadline, or that of the bounded
            // resolution it joined), not failed: keep trying in the
            // background.
            stale.refresh = true;
        } else {
            self.note_outcome(request, &res);
        }
        tracing::debug!(
            qname = %request.name,
            qtype = %request.qtype,
            failure = ?res.failure,
            "fresh data not had in time: answering from expired data"
        );
        stale
    }

    /// The answer from cache alone, expired data allowed; None when some
    /// part is missing altogether.
    async fn resolve_stale(&self, request: &Request) -> Option<Resolution> {
        let mut st = self.query_state(request);
        st.allow_stale = true;
        let res = self.resolve_steps_in(request, true, &st).await?;
        res.failure.is_none().then_some(res)
    }

    /// Re-resolves `request` bypassing the cache for the question itself,
    /// merged with an identical resolution in flight: the background half
    /// of prefetch and of serving stale. A failure is remembered for
    /// `FAILURE_TTL` seconds (and holds off the next prefetch that long).
    pub async fn resolve_refresh(&self, request: &Request) -> Resolution {
        let request = refresh_request(request);
        // A prefetch also renews the zone cuts that would expire before
        // the data it fetches (Unbound: remaining TTL + 60 s).
        let key = Key::RRset(request.name.clone(), request.qtype, request.qclass);
        let leeway = self
            .cache
            .remaining(&key, self.clock.now())
            .map_or(Duration::ZERO, |left| left + PREFETCH_LEEWAY_ADD);
        let fetch = Fetch {
            refresh: true,
            deadline: None,
            leeway,
        };
        let res = self.resolve_merged(&request, fetch).await;
        self.note_outcome(&request, &res);
        res
    }

    /// Whether a background refresh of `request` would only join one
    /// already running (the front end then spawns nothing).
    pub fn refresh_running(&self, request: &Request) -> bool {
        self.inflight
            .contains(&Self::inflight_key(&refresh_request(request), false))
    }

    /// Whether a prefetch of `request` is held off by a recent failure.
    pub(super) fn failed_recently(&self, request: &Request) -> bool {
        let key = failure_key(request);
        self.cache.lookup(&key, self.clock.now(), false).is_some()
    }

    /// Remembers a failed resolution (and, with serve-expired-ttl-reset,
    /// keeps the stale data usable for another window). Returns whether
    /// it was a failure worth remembering.
    fn note_outcome(&self, request: &Request, res: &Resolution) -> bool {
        let real_failure = match &res.failure {
            None
            | Some(
                Failure::NotCached
                | Failure::Internal(_)
                | Failure::RecentlyFailed
                | Failure::Policy(_)
                | Failure::PolicyAlias(_),
            ) => false,
            Some(_) => true,
        };
        if !real_failure || !request.recursion_desired {
            return false;
        }
        let now = self.clock.now();
        self.cache.insert(
            failure_key(request),
            Cached::Failure,
            FAILURE_TTL,
            Rank::AnswerAuth,
            now,
        );
        if self.config.cache.serve_expired_ttl_reset {
            let (name, t, c) = (request.name.clone(), request.qtype, request.qclass);
            for key in [
                Key::RRset(name.clone(), t, c),
                Key::Sections(name.clone(), t, c),
                Key::NxDomain(name, c),
            ] {
                self.cache.reset_stale_window(&key, now);
            }
        }
        true
    }

    /// Records of a stale section with the fresh TTL where the cache holds
    /// their RRset fresh (refreshed by another resolution meanwhile).
    pub(super) fn freshen(&self, records: Vec<Record>) -> Vec<Record> {
        let now = self.clock.now();
        records
            .into_iter()
            .map(|mut r| {
                let key = Key::RRset(r.name.clone(), r.record_type(), DNSClass::IN);
                if let Some(Cached::RRset(fresh)) = self.cache.get(&key, now) {
                    if let Some(f) = fresh.iter().find(|f| f.data == r.data) {
                        r.ttl = f.ttl;
                    }
                }
                r
            })
            .collect()
    }
}

/// The question a refresh asks: as the client's, but recursive.
fn refresh_request(request: &Request) -> Request {
    Request {
        recursion_desired: true,
        full_trace: false,
        ..request.clone()
    }
}

/// Where a failure to resolve `request` is remembered.
fn failure_key(request: &Request) -> Key {
    Key::Failure(request.name.clone(), request.qtype, request.qclass)
}
