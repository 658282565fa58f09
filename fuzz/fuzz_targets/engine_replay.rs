//! Fuzz target: `tern::testkit::fuzz::engine_replay` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::engine_replay(data);
});
