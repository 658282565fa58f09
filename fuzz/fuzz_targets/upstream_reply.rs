//! Fuzz target: `tern::testkit::fuzz::upstream_reply` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::upstream_reply(data);
});
