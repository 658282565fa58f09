//! What the engine learns of a server from one query. A transport failure
//! or the verdict on a reply is mapped to a typed `Outcome` here, and only
//! here, then handed to selection (`Selection::note`, which keeps it for a
//! while: RTT and backoff, EDNS support, the zones the server is lame
//! for) and, when it is a problem, to the problem log.

use std::net::SocketAddr;

use hickory_proto::rr::{Name, RecordType};

use crate::clock::{Clock, Mono};
use crate::engine::problems::Problem;
use crate::engine::Resolver;
use crate::upstream::selection::{Outcome, QueryKind};
use crate::upstream::{Transport, UpstreamFailure};

impl<T: Transport, C: Clock> Resolver<T, C> {
    /// Notes what a query to `server` for `zone` (of type `qtype`) came
    /// to.
    pub(super) fn learn(
        &self,
        server: SocketAddr,
        zone: &Name,
        qtype: RecordType,
        outcome: Outcome,
        now: Mono,
    ) {
        self.selection
            .note(server, zone, QueryKind::of(qtype), outcome, now);
        if let Some(problem) = problem_of(outcome) {
            self.problems.server(server, zone, problem, now);
        }
    }
}

/// The outcome of an exchange that brought no usable message.
pub(super) fn of_failure(failure: &UpstreamFailure) -> Outcome {
    match failure {
        UpstreamFailure::Timeout => Outcome::Timeout,
        UpstreamFailure::Network(_) | UpstreamFailure::Closed => Outcome::Unreachable,
        UpstreamFailure::Malformed | UpstreamFailure::WrongQuestion => Outcome::Garbage,
    }
}

/// The outcome of a reply judged of no use for the zone's question.
pub(super) fn of_problem(problem: Problem) -> Outcome {
    match problem {
        Problem::TimedOut => Outcome::Timeout,
        Problem::Unreachable | Problem::ZoneUnreachable => Outcome::Unreachable,
        Problem::Unusable => Outcome::Garbage,
        Problem::Lame => Outcome::Lame,
        Problem::Refused => Outcome::Refused,
        Problem::ServFail => Outcome::ServFail,
        Problem::OtherRcode => Outcome::Error,
    }
}

/// The line an outcome leaves in the problem log, if any.
fn problem_of(outcome: Outcome) -> Option<Problem> {
    match outcome {
        Outcome::Replied { .. } | Outcome::Served | Outcome::NoEdns => None,
        Outcome::Timeout => Some(Problem::TimedOut),
        Outcome::Unreachable => Some(Problem::Unreachable),
        Outcome::Garbage => Some(Problem::Unusable),
        Outcome::Lame => Some(Problem::Lame),
        Outcome::Refused => Some(Problem::Refused),
        Outcome::ServFail => Some(Problem::ServFail),
        Outcome::Error => Some(Problem::OtherRcode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_maps_to_an_outcome_that_logs_the_same_problem() {
        for p in [
            Problem::TimedOut,
            Problem::Unreachable,
            Problem::Unusable,
            Problem::Lame,
            Problem::Refused,
            Problem::ServFail,
            Problem::OtherRcode,
        ] {
            assert_eq!(problem_of(of_problem(p)), Some(p));
        }
        assert_eq!(
            of_failure(&UpstreamFailure::WrongQuestion),
            Outcome::Garbage
        );
        assert_eq!(of_failure(&UpstreamFailure::Timeout), Outcome::Timeout);
    }
}
