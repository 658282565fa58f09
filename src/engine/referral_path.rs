//! Hardened referral path (Unbound's `harden-referral-path`): after a
//! referral, the child zone's NS set is asked of the child's own servers
//! and, when they answer it, believed over the parent's copy (RFC 2181
//! §5.4.1: authoritative data outranks referral data). A spoofed or stale
//! delegation then lasts one query, and the servers used from then on are
//! those the zone itself names. Without DNSSEC this is the whole effect;
//! costs one query per newly seen zone.

use std::collections::HashSet;

use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::store::Taking;
use crate::cache::{Cached, Key, Rank};
use crate::clock::Clock;
use crate::engine::classify::{classify, scrub, Kind};
use crate::engine::harden::limit_ns_sets;
use crate::engine::state::{LookupPath, QueryState};
use crate::engine::step::{Question, ZoneServers};
use crate::engine::Resolver;
use crate::upstream::Transport;

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// The child's servers from its own NS set, asked of `zs` (the servers
    /// the referral gave); None when that set is already cached from the
    /// zone itself, or the child does not answer it usefully.
    pub(super) async fn child_ns_set(
        &self,
        zs: &mut ZoneServers,
        class: DNSClass,
        st: &QueryState,
        path: &LookupPath,
    ) -> Option<ZoneServers> {
        let child: Name = zs.zone.clone();
        let key = Key::RRset(child.clone(), RecordType::NS, class);
        if let Some((Cached::RRset(_), rank)) = self.cache.get_ranked(&key, self.clock.now()) {
            if rank >= Rank::AnswerNonAuth {
                return None;
            }
        }
        st.note(|| format!("hardened referral path: asking {child} for its own NS set"));
        let mut failed = HashSet::new();
        let (mut msg, _) = self
            .query_zone(
                zs,
                Question::new(&child, RecordType::NS, class),
                st,
                path,
                &mut failed,
            )
            .await
            .ok()?;
        limit_ns_sets(&mut msg, self.config.resolver.max_ns_per_set as usize);
        scrub(
            &mut msg,
            &child,
            &child,
            RecordType::NS,
            self.config.resolver.harden_glue,
        );
        if classify(&msg, &child, &child, RecordType::NS) != Kind::Answer {
            return None;
        }
        let _ = self.take_answer(&msg, Taking::of(&child, RecordType::NS, class, st.leeway));
        let mut m = msg.clone();
        m.authorities = m.answers.clone();
        let servers = self.servers_from_referral(&m, &child, class);
        (!servers.addrs().is_empty()).then_some(servers)
    }
}
