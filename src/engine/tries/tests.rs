//! Table tests for a zone step's tries of its servers.

use super::*;

fn a(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i], 53))
}

#[test]
fn glueless_names_are_looked_up_once_when_needed() {
    // (best server, set aside, what comes first, then after the lookup)
    let rows = [
        (Some(a(1)), false, Pick::Ask(a(1)), None),
        (None, false, Pick::ResolveNames, Some(Pick::OutOfServers)),
        (Some(a(1)), true, Pick::ResolveNames, Some(Pick::Ask(a(1)))),
    ];
    for (best, set_aside, first, then) in rows {
        let mut t = Tries::default();
        assert_eq!(t.pick(best, set_aside), first, "{best:?} {set_aside}");
        if let Some(then) = then {
            assert_eq!(t.pick(best, set_aside), then, "{best:?} {set_aside}");
        }
    }
}

#[test]
fn a_step_gives_up_after_a_handful_of_tries() {
    let mut t = Tries::default();
    for _ in 0..MAX_TRIES_PER_STEP {
        assert_eq!(t.pick(Some(a(1)), false), Pick::Ask(a(1)));
    }
    assert_eq!(t.pick(Some(a(1)), false), Pick::TooManyTries);
}

/// Which servers are counted out after timeouts: (servers in the zone,
/// probe, retries, the timeouts in order, the failed set after each).
#[test]
fn timeouts_count_servers_out() {
    type Row = (usize, bool, usize, &'static [u8], &'static [&'static [u8]]);
    let rows: [Row; 4] = [
        // Several servers: each counted out, and a new round once all are.
        (2, false, 3, &[1, 2], &[&[1], &[]]),
        // The only server: asked again until `retries` timeouts.
        (1, false, 3, &[1, 1, 1], &[&[], &[], &[1]]),
        // A failed probe is not asked again, even as the only server.
        (1, true, 3, &[1], &[&[1]]),
        (3, false, 3, &[1, 3], &[&[1], &[1, 3]]),
    ];
    for (total, probe, retries, timeouts, after) in rows {
        let mut t = Tries::default();
        let mut failed = HashSet::new();
        for (i, want) in timeouts.iter().zip(after) {
            t.timed_out(a(*i), total, probe, retries, &mut failed);
            let want: HashSet<SocketAddr> = want.iter().map(|i| a(*i)).collect();
            assert_eq!(failed, want, "{total} servers, {timeouts:?}");
        }
    }
}

#[test]
fn why_a_step_runs_out_of_servers() {
    let all = [a(1), a(2)];
    let none: [SocketAddr; 0] = [];
    let mut t = Tries::default();
    let mut failed = HashSet::new();
    assert_eq!(t.out_of_servers(&none, &failed), Failure::NoNsAddress);
    t.unusable(a(1), &mut failed);
    t.unusable(a(2), &mut failed);
    assert_eq!(t.out_of_servers(&all, &failed), Failure::AllLame);
    // A server that replied keeps the others from being held down.
    t.timed_out(a(1), 2, false, 3, &mut failed);
    assert_eq!(
        t.out_of_servers(&all, &failed),
        Failure::NoReachableAuthority
    );
    assert_eq!(t.to_hold_down().count(), 0);
}

#[test]
fn a_silent_zone_holds_down_the_servers_that_timed_out() {
    let mut t = Tries::default();
    let mut failed = HashSet::new();
    t.timed_out(a(1), 2, false, 3, &mut failed);
    t.timed_out(a(2), 2, false, 3, &mut failed);
    let mut down: Vec<SocketAddr> = t.to_hold_down().copied().collect();
    down.sort();
    assert_eq!(down, [a(1), a(2)]);
    assert_eq!(
        t.out_of_servers(&[a(1), a(2)], &failed),
        Failure::NoReachableAuthority
    );
}

#[test]
fn how_an_exchange_that_brought_nothing_moves_the_step() {
    let asked = |i| Asked {
        addr: a(i),
        probe: false,
        retries: 3,
        budget: 200,
    };
    // (how it ended, the step's end if any, servers counted out)
    let rows: [(ExchangeError, Option<Failure>, &[u8]); 4] = [
        (ExchangeError::Timeout, None, &[1]),
        (ExchangeError::Other, None, &[1]),
        (ExchangeError::Deadline, Some(Failure::Timeout), &[]),
        (ExchangeError::Budget, Some(Failure::QueryBudget(200)), &[]),
    ];
    for (how, end, out) in rows {
        let mut t = Tries::default();
        let mut failed = HashSet::new();
        assert_eq!(t.ended(asked(1), how, || 2, &mut failed), end, "{how:?}");
        let out: HashSet<SocketAddr> = out.iter().map(|i| a(*i)).collect();
        assert_eq!(failed, out, "{how:?}");
    }
    // An unusable reply makes the zone "all lame", not given up; a
    // timeout gives it up, as do too many tries.
    let all = [a(1)];
    let mut t = Tries::default();
    let mut failed = HashSet::new();
    t.ended(asked(1), ExchangeError::Other, || 1, &mut failed);
    let lame = t.give_up(Pick::OutOfServers, &all, &failed);
    assert_eq!((lame.failure, lame.zone_down), (Failure::AllLame, false));
    let many = t.give_up(Pick::TooManyTries, &all, &failed);
    assert_eq!(
        (many.failure, many.zone_down),
        (Failure::NoReachableAuthority, true)
    );
    let mut t = Tries::default();
    let mut failed = HashSet::new();
    for _ in 0..3 {
        t.ended(asked(1), ExchangeError::Timeout, || 1, &mut failed);
    }
    let silent = t.give_up(Pick::OutOfServers, &all, &failed);
    assert_eq!(
        (silent.failure, silent.zone_down),
        (Failure::NoReachableAuthority, true)
    );
    assert_eq!(t.to_hold_down().copied().collect::<Vec<_>>(), all);
}

#[test]
fn glueless_names_are_looked_up_where_they_can_be_told() {
    let n = |s: &str| Name::from_ascii(s).unwrap();
    let ip: std::net::IpAddr = "192.0.2.9".parse().unwrap();
    let zs = |zone: &str| ZoneServers {
        zone: n(zone),
        ns: vec![
            (Some(n("ns1.example.com.")), vec![]),
            (Some(n("ns.example.net.")), vec![]),
            (Some(n("glued.example.com.")), vec![ip]),
            (Some(n("ns2.example.com.")), vec![]),
            (None, vec![]),
        ],
        ..ZoneServers::default()
    };
    let none = |_: &Name| false;
    use NsLookup::{FromParent, Resolve};
    // (zone, limit, names on the way here, what is looked up)
    let rows: Vec<(&str, usize, &[&str], Vec<NsLookup>)> = vec![
        (
            "example.com.",
            5,
            &[],
            vec![
                FromParent(n("ns1.example.com.")),
                Resolve(n("ns.example.net.")),
                FromParent(n("ns2.example.com.")),
            ],
        ),
        // Names outside the zone, and the root's, are resolved as any.
        (
            ".",
            5,
            &[],
            vec![
                Resolve(n("ns1.example.com.")),
                Resolve(n("ns.example.net.")),
                Resolve(n("ns2.example.com.")),
            ],
        ),
        (
            "example.com.",
            1,
            &[],
            vec![FromParent(n("ns1.example.com."))],
        ),
        // A name being looked up on the way here is a loop: skipped.
        (
            "example.com.",
            5,
            &["ns1.example.com.", "ns2.example.com."],
            vec![Resolve(n("ns.example.net."))],
        ),
    ];
    for (zone, limit, on_path, want) in rows {
        let path = |x: &Name| on_path.iter().any(|p| n(p) == *x);
        assert_eq!(glueless(&zs(zone), limit, path), want, "{zone} {limit}");
    }
    assert_eq!(glueless(&zs("example.com."), 0, none), vec![]);
}
