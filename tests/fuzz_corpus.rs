//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) and every
//! crash kept as a regression (`fuzz/regressions/<target>/`) through the
//! same entry points the fuzz targets call, so stable `cargo test` checks
//! each known input against its target's invariants. Each test prints how
//! many files it replayed.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use tern::testkit::fuzz::TARGETS;

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    out.sort();
    out
}

fn replay(target: &str) {
    let run = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no entry point for {target}"));
    let corpus = files("corpus", target);
    let regressions = files("regressions", target);
    assert!(!corpus.is_empty(), "empty corpus for {target}");
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap();
        // Name the file if it fails.
        eprintln!("replaying {}", path.display());
        run(&data);
    }
    println!(
        "{target}: replayed {} corpus and {} regression files",
        corpus.len(),
        regressions.len()
    );
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        /// Every target has a test here (a new one cannot be forgotten).
        #[test]
        fn every_target_is_replayed() {
            let listed = [$(stringify!($name)),*];
            for (target, _) in TARGETS {
                assert!(listed.contains(target), "{target} has no replay test");
            }
        }
    };
}

corpus_tests!(
    message_roundtrip,
    client_query,
    upstream_reply,
    engine_replay,
    cache_ops,
    tcp_framing,
    zone_file,
    config,
    dig_args,
    dnssec_verify,
);

/// A script recorded from the small test tree, played back, gives the
/// answer the tree holds: the replay target drives a real resolution, not
/// only the failure paths.
#[test]
fn engine_seed_replays_to_the_answer() {
    let seed = tern::testkit::fuzz::engine_seed(0, 0);
    assert!(seed.len() > 100, "nothing recorded");
    // Every exchange recorded as a reply (control byte 0x1e).
    assert_eq!(seed.get(2), Some(&0x1e));
    let reply = tern::testkit::fuzz::engine_play(&seed).unwrap();
    let addrs: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(addrs, ["192.0.2.80"]);
}

/// The DNSSEC seed verifies, so the target starts from the success path.
#[test]
fn dnssec_seed_is_valid() {
    use hickory_proto::op::Message;
    let seed = tern::testkit::fuzz::dnssec_seed().unwrap();
    let m = Message::from_vec(&seed).unwrap();
    assert_eq!(m.answers.len(), 2);
    assert_eq!(tern::testkit::fuzz::dnssec_check(&seed), Some((true, true)));
}
