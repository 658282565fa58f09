//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! same entry points the fuzz targets call, so stable `cargo test` checks
//! that no known input panics.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        run(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus for {target}");
}

#[test]
fn client_query_corpus() {
    replay("client_query", tern::testkit::fuzz::client_query);
}

#[test]
fn upstream_reply_corpus() {
    replay("upstream_reply", tern::testkit::fuzz::upstream_reply);
}

#[test]
fn config_text_corpus() {
    replay("config_text", tern::testkit::fuzz::config_text);
}
