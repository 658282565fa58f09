//! Table tests for the fallback ladder of a walk whose zone's servers
//! all failed, and the look-ups it asks for.

use super::*;

/// A walk's situation when every server of its zone failed, and the
/// rungs of the fallback ladder offered, one call after another.
struct Ladder {
    what: &'static str,
    zone: &'static str,
    failure: Failure,
    configured: bool,
    keep: Option<Keep>,
    local: bool,
    rungs: Vec<Fallback>,
}

impl Ladder {
    fn new(what: &'static str, failure: Failure, rungs: &[Fallback]) -> Self {
        Self {
            what,
            zone: "example.com.",
            failure,
            configured: false,
            keep: None,
            local: false,
            rungs: rungs.to_vec(),
        }
    }

    /// The rungs the walk offers.
    fn climb(&self) -> Vec<Fallback> {
        let mut zs = zone(self.zone);
        zs.local = self.local;
        let mut w = Walk::new(zs, true);
        if let Some(keep) = self.keep {
            let verdict = Verdict::ServerFailed {
                problem: Problem::Lame,
                keep,
            };
            w.take(verdict, reply(), "192.0.2.1:53".parse().unwrap(), 30);
        }
        self.rungs
            .iter()
            .map(|_| w.fallback(&self.failure, self.configured))
            .collect()
    }
}

#[test]
fn zone_failures_climb_the_fallback_ladder() {
    use Fallback::*;
    let lame = Failure::AllLame;
    let rows = [
        Ladder::new(
            "lame servers: the parent's delegation, then the parent again",
            lame.clone(),
            &[ParentSide, AskParentAgain, Fail, Fail],
        ),
        Ladder {
            keep: Some(Keep::EmptyAa),
            ..Ladder::new("a kept AA reply answers", lame.clone(), &[LastResort])
        },
        Ladder {
            keep: Some(Keep::RecursiveAnswer),
            ..Ladder::new("so does a recursive answer", lame.clone(), &[LastResort])
        },
        Ladder::new(
            "unreachable servers: only the parent's delegation",
            Failure::NoReachableAuthority,
            &[ParentSide, Fail],
        ),
        Ladder::new("out of time: nothing", Failure::Timeout, &[Fail]),
        Ladder::new("out of budget: nothing", Failure::QueryBudget(200), &[Fail]),
        Ladder {
            configured: true,
            ..Ladder::new(
                "a configured zone is never asked of its parent",
                Failure::NoNsAddress,
                &[ParentSide, Fail],
            )
        },
        Ladder {
            zone: ".",
            ..Ladder::new("the root has no parent", lame.clone(), &[ParentSide, Fail])
        },
        Ladder {
            local: true,
            ..Ladder::new(
                "a local copy has no parent-side servers",
                Failure::NoNsAddress,
                &[AskParentAgain, Fail],
            )
        },
    ];
    for row in rows {
        assert_eq!(row.climb(), row.rungs, "{}", row.what);
    }
}

#[test]
fn a_rung_taken_is_not_offered_again_after_new_servers() {
    let mut w = Walk::new(zone("example.com."), true);
    assert_eq!(w.fallback(&Failure::AllLame, false), Fallback::ParentSide);
    w.switch_servers(zone("example.com."));
    assert_eq!(
        w.fallback(&Failure::AllLame, false),
        Fallback::AskParentAgain
    );
    w.enter(zone("com."), &n("com."));
    assert_eq!(w.fallback(&Failure::AllLame, false), Fallback::Fail);
}

/// What `zone_failed` and `on_lookup` do, one look-up's result after
/// another: (what, failure, what is found for each look-up asked, what
/// the walk does at each turn, the walk's zone at the end).
type RecoverRow = (
    &'static str,
    Failure,
    Vec<Found>,
    Vec<Recover>,
    &'static str,
);

fn recover_rows() -> Vec<RecoverRow> {
    use Recover::{Fail, Need};
    let parent = || Need(Lookup::ParentSide);
    let above = || Need(Lookup::CutAbove(n("com.")));
    let lame = Failure::AllLame;
    vec![
        (
            "the parent's delegation serves: go on with it",
            lame.clone(),
            vec![Found::ParentSide(Some(zone("example.com.")))],
            vec![parent()],
            "example.com.",
        ),
        (
            "no parent's delegation: the parent is asked again",
            lame.clone(),
            vec![Found::ParentSide(None), Found::CutAbove(Some(zone("com.")))],
            vec![parent(), above()],
            "com.",
        ),
        (
            "no parent found: the zone's failure",
            Failure::NoNsAddress,
            vec![Found::ParentSide(None), Found::CutAbove(None)],
            vec![parent(), above(), Fail(Failure::NoNsAddress)],
            "example.com.",
        ),
        (
            "unreachable servers: the parent's delegation only",
            Failure::NoReachableAuthority,
            vec![Found::ParentSide(None)],
            vec![parent(), Fail(Failure::NoReachableAuthority)],
            "example.com.",
        ),
        (
            "out of time: nothing to look up",
            Failure::Timeout,
            vec![],
            vec![Fail(Failure::Timeout)],
            "example.com.",
        ),
    ]
}

#[test]
fn a_failed_zone_asks_for_what_its_fallbacks_need() {
    for (what, failure, found, want, end) in recover_rows() {
        let mut w = Walk::new(zone("example.com."), true);
        let mut got = vec![w.zone_failed(failure, false)];
        for f in found {
            match w.on_lookup(f, false) {
                Some(next) => got.push(next),
                None => break,
            }
        }
        assert_eq!(got, want, "{what}");
        assert_eq!(w.zs.zone, n(end), "{what}");
    }
}

#[test]
fn a_lame_zone_ends_with_its_last_resort() {
    let from: SocketAddr = "192.0.2.1:53".parse().unwrap();
    let mut w = Walk::new(zone("example.com."), true);
    let lame = Verdict::ServerFailed {
        problem: Problem::Lame,
        keep: Keep::RecursiveAnswer,
    };
    w.take(lame, answered(), from, 5);
    assert_eq!(
        w.zone_failed(Failure::AllLame, false),
        Recover::Resort(Resort::RecursiveAnswer(answered()))
    );
    // Given once: the ladder goes on after it.
    assert_eq!(
        w.zone_failed(Failure::AllLame, false),
        Recover::Need(Lookup::ParentSide)
    );
}
