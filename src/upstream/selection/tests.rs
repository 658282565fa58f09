use super::*;

fn cfg() -> UpstreamConfig {
    UpstreamConfig::default()
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn secs(v: u64) -> Duration {
    Duration::from_secs(v)
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// The zone the timing tests ask servers of.
fn zone() -> Name {
    name("example.")
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i], 53))
}

fn replied(sel: &Selection, a: SocketAddr, rtt: Duration, now: Mono) {
    let outcome = Outcome::Replied { rtt, edns: true };
    sel.note(a, &zone(), QueryKind::A, outcome, now);
}

fn timed_out(sel: &Selection, a: SocketAddr, kind: QueryKind, now: Mono) {
    sel.note(a, &zone(), kind, Outcome::Timeout, now);
}

#[test]
fn a_seeded_selection_orders_equal_servers_the_same_way_each_time() {
    let servers: Vec<SocketAddr> = (1..=8)
        .map(|i| SocketAddr::from(([192, 0, 2, i], 53)))
        .collect();
    let orders = |seed: u64| -> Vec<Vec<SocketAddr>> {
        let sel = Selection::new(cfg());
        sel.seed(seed);
        (0..4)
            .map(|_| sel.order(&servers, &zone(), Duration::ZERO))
            .collect()
    };
    let first = orders(7);
    assert_eq!(first, orders(7));
    // Ties are still broken (the orders differ), only reproducibly.
    assert!(first.iter().any(|o| *o != servers));
    assert!(first.iter().all(|o| o.len() == servers.len()));
}

#[test]
fn rto_doubles_per_loss_up_to_cap() {
    let c = cfg();
    let mut s = ServerStats::new(&c, Duration::ZERO);
    let mut want = c.initial_rto;
    for _ in 0..10 {
        s.on_timeout(QueryKind::A, &c, Duration::ZERO);
        want = (want * 2).min(c.max_rto);
        assert_eq!(s.rto, want);
    }
    assert_eq!(s.rto, c.max_rto);
}

#[test]
fn srtt_follows_rfc6298() {
    let c = cfg();
    let mut s = ServerStats::new(&c, Duration::ZERO);
    s.on_reply(ms(100), &c, Duration::ZERO);
    assert_eq!(s.srtt, Some(ms(100)));
    assert_eq!(s.rttvar, ms(50));
    assert_eq!(s.rto, ms(300));
    s.on_reply(ms(20), &c, Duration::ZERO);
    // srtt = 7/8·100 + 1/8·20 = 90; rttvar = 3/4·50 + 1/4·80 = 57.5
    assert_eq!(s.srtt, Some(ms(90)));
    assert_eq!(s.rttvar, Duration::from_micros(57_500));
}

#[test]
fn held_down_after_repeated_timeouts_then_one_probe() {
    let c = cfg();
    let sel = Selection::new(c.clone());
    let dead: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let live: SocketAddr = "192.0.2.2:53".parse().unwrap();
    replied(&sel, live, ms(10), Duration::ZERO);
    for _ in 0..c.holddown_after_timeouts {
        timed_out(&sel, dead, QueryKind::A, Duration::ZERO);
    }
    let t1 = c.holddown_initial / 2;
    assert_eq!(sel.order(&[dead, live], &zone(), t1), vec![live]);
    // After the hold-down the dead server may be probed once.
    let t2 = c.holddown_initial + ms(1);
    assert_eq!(sel.order(&[dead, live], &zone(), t2), vec![live, dead]);
    assert!(sel.claim_probe(dead, t2));
    assert!(!sel.claim_probe(dead, t2), "one probe at a time");
    assert_eq!(sel.order(&[dead, live], &zone(), t2 + ms(1)), vec![live]);
    // A reply lifts the hold-down.
    replied(&sel, dead, ms(5), t2 + ms(2));
    assert_eq!(
        sel.order(&[dead, live], &zone(), t2 + ms(3)),
        vec![dead, live]
    );
    assert_eq!(sel.stats(dead).unwrap().down_since, None);
}

#[test]
fn each_failed_probe_doubles_the_holddown_up_to_the_cap() {
    let c = UpstreamConfig {
        holddown_initial: Duration::from_secs(1),
        holddown: Duration::from_secs(10),
        ..cfg()
    };
    let sel = Selection::new(c.clone());
    let dead: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let mut now = Duration::from_secs(100);
    sel.mark_down(dead, QueryKind::A, now);
    let mut lengths = Vec::new();
    for _ in 0..6 {
        let s = sel.stats(dead).unwrap();
        let until = s.held_until.unwrap();
        lengths.push((until - now).as_secs());
        assert_eq!(s.down_since, Some(Duration::from_secs(100)));
        assert_eq!(
            sel.all_down(&[dead], QueryKind::A, now),
            Some((Duration::from_secs(100), until))
        );
        now = until;
        assert!(sel.claim_probe(dead, now));
        timed_out(&sel, dead, QueryKind::A, now);
    }
    assert_eq!(lengths, [1, 2, 4, 8, 10, 10]);
    // Down for A questions, not (yet) for AAAA ones.
    let now = now + ms(1);
    assert!(sel.all_down(&[dead], QueryKind::A, now).is_some());
    assert!(sel.all_down(&[dead], QueryKind::Aaaa, now).is_none());
    assert!(sel.is_held(dead, now));
}

#[test]
fn a_server_that_replied_a_moment_ago_is_not_dead() {
    let c = cfg();
    let sel = Selection::new(c.clone());
    let flaky: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let t0 = Duration::from_secs(100);
    replied(&sel, flaky, ms(5), t0);
    // It drops one name's queries: held down, but not known dead
    // until it has been silent for holddown_initial.
    for _ in 0..c.holddown_after_timeouts {
        timed_out(&sel, flaky, QueryKind::A, t0 + ms(10));
    }
    assert!(sel.is_held(flaky, t0 + ms(20)));
    assert!(sel.all_down(&[flaky], QueryKind::A, t0 + ms(20)).is_none());
    let later = t0 + c.holddown_initial;
    assert!(sel.all_down(&[flaky], QueryKind::A, later).is_some());
}

#[test]
fn fastest_first_unknown_after_measured() {
    let sel = Selection::new(cfg());
    let a: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let b: SocketAddr = "192.0.2.2:53".parse().unwrap();
    let u: SocketAddr = "192.0.2.3:53".parse().unwrap();
    replied(&sel, a, ms(80), Duration::ZERO);
    replied(&sel, b, ms(8), Duration::ZERO);
    assert_eq!(
        sel.order(&[u, a, b], &zone(), Duration::ZERO),
        vec![b, a, u]
    );
}

/// Outcomes that hold a server to a zone.
const FAILS: [Outcome; 4] = [
    Outcome::Lame,
    Outcome::Refused,
    Outcome::ServFail,
    Outcome::Error,
];

#[test]
fn a_server_that_failed_a_zone_goes_last_for_it_until_the_fact_expires() {
    for why in FAILS {
        let c = cfg();
        let sel = Selection::new(c.clone());
        sel.seed(1);
        let (bad, good) = (addr(1), addr(2));
        let t0 = secs(100);
        // The failing server is the faster one: only the fact moves it.
        replied(&sel, bad, ms(5), t0);
        replied(&sel, good, ms(50), t0);
        sel.note(bad, &zone(), QueryKind::A, why, t0);
        assert_eq!(sel.stats(bad).unwrap().lame_for(&zone(), t0), Some(why));
        for _ in 0..4 {
            assert_eq!(
                sel.order(&[bad, good], &zone(), t0),
                vec![good, bad],
                "{why:?}"
            );
        }
        // Still asked when it is the only server.
        assert_eq!(sel.order(&[bad], &zone(), t0), vec![bad]);
        let expiry = t0 + c.infra_ttl;
        assert_eq!(
            sel.order(&[bad, good], &zone(), expiry - ms(1)),
            vec![good, bad]
        );
        assert_eq!(sel.order(&[bad, good], &zone(), expiry), vec![bad, good]);
        assert_eq!(sel.stats(bad).unwrap().lame_for(&zone(), expiry), None);
    }
}

#[test]
fn lameness_is_per_zone_not_per_server() {
    let sel = Selection::new(cfg());
    let (bad, good) = (addr(1), addr(2));
    let other = name("other.example.");
    replied(&sel, bad, ms(5), secs(1));
    replied(&sel, good, ms(50), secs(1));
    sel.note(bad, &zone(), QueryKind::A, Outcome::Refused, secs(1));
    assert_eq!(sel.order(&[bad, good], &zone(), secs(2)), vec![good, bad]);
    // For another zone, even one below, it is still the fastest.
    assert_eq!(sel.order(&[bad, good], &other, secs(2)), vec![bad, good]);
    // Names compare without regard to case.
    assert_eq!(
        sel.order(&[bad, good], &name("EXAMPLE."), secs(2)),
        vec![good, bad]
    );
}

#[test]
fn serving_the_zone_well_clears_the_fact() {
    let sel = Selection::new(cfg());
    let (bad, good) = (addr(1), addr(2));
    let other = name("other.");
    replied(&sel, bad, ms(5), secs(1));
    replied(&sel, good, ms(50), secs(1));
    sel.note(bad, &zone(), QueryKind::A, Outcome::Lame, secs(1));
    sel.note(bad, &other, QueryKind::A, Outcome::ServFail, secs(1));
    // A reply as such (its RTT) clears nothing: it may be the lame one.
    replied(&sel, bad, ms(5), secs(2));
    assert_eq!(sel.order(&[bad, good], &zone(), secs(2)), vec![good, bad]);
    sel.note(bad, &zone(), QueryKind::A, Outcome::Served, secs(3));
    assert_eq!(sel.order(&[bad, good], &zone(), secs(3)), vec![bad, good]);
    // Only for the zone it served.
    assert_eq!(sel.order(&[bad, good], &other, secs(3)), vec![good, bad]);
}

#[test]
fn a_served_note_makes_no_entry_for_an_unknown_server() {
    let sel = Selection::new(cfg());
    sel.note(addr(9), &zone(), QueryKind::A, Outcome::Served, secs(1));
    assert_eq!(sel.stats(addr(9)), None);
}

#[test]
fn zones_kept_per_server_are_bounded_and_the_soonest_to_expire_goes() {
    let sel = Selection::new(cfg());
    let bad = addr(1);
    let zones: Vec<Name> = (0..3 * MAX_LAME_ZONES)
        .map(|i| name(&format!("z{i}.example.")))
        .collect();
    for (i, z) in zones.iter().enumerate() {
        sel.note(bad, z, QueryKind::A, Outcome::Lame, secs(10 + i as u64));
    }
    let s = sel.stats(bad).unwrap();
    assert_eq!(s.lame.len(), MAX_LAME_ZONES);
    let now = secs(100);
    let kept: Vec<bool> = zones.iter().map(|z| s.lame_for(z, now).is_some()).collect();
    let newest = zones.len() - MAX_LAME_ZONES;
    assert!(kept[newest..].iter().all(|k| *k), "{kept:?}");
    assert!(kept[..newest].iter().all(|k| !*k), "{kept:?}");
    // Noting a zone again renews it rather than adding a second fact.
    sel.note(bad, &zones[newest], QueryKind::A, Outcome::Refused, now);
    let s = sel.stats(bad).unwrap();
    assert_eq!(s.lame.len(), MAX_LAME_ZONES);
    assert_eq!(s.lame_for(&zones[newest], now), Some(Outcome::Refused));
}

#[test]
fn no_edns_is_remembered_for_the_infra_ttl_then_expires() {
    let c = UpstreamConfig {
        infra_ttl: secs(60),
        ..cfg()
    };
    let sel = Selection::new(c);
    let old = addr(1);
    assert!(!sel.no_edns(old, secs(1)));
    sel.note(old, &zone(), QueryKind::A, Outcome::NoEdns, secs(1));
    assert!(sel.no_edns(old, secs(1)));
    assert!(sel.no_edns(old, secs(60)));
    assert!(!sel.no_edns(old, secs(61)));
    assert_eq!(
        sel.stats(old).unwrap().edns,
        Edns::Unsupported { until: secs(61) }
    );
    // A reply with OPT shows it does EDNS after all.
    sel.note(old, &zone(), QueryKind::A, Outcome::NoEdns, secs(70));
    replied(&sel, old, ms(5), secs(71));
    assert!(!sel.no_edns(old, secs(72)));
    assert_eq!(sel.stats(old).unwrap().edns, Edns::Supported);
}

#[test]
fn outcomes_that_any_sender_can_fake_hold_nothing_against_the_server() {
    let sel = Selection::new(cfg());
    let a = addr(1);
    replied(&sel, a, ms(5), secs(1));
    let before = sel.stats(a).unwrap();
    for o in [Outcome::Garbage, Outcome::Unreachable] {
        sel.note(a, &zone(), QueryKind::A, o, secs(2));
    }
    let after = sel.stats(a).unwrap();
    assert_eq!(after.lame, before.lame);
    assert_eq!(after.rto, before.rto);
    assert_eq!(after.timeouts_in_row, 0);
    assert_eq!(sel.order(&[a], &zone(), secs(2)), vec![a]);
}
