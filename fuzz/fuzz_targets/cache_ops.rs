//! Fuzz target: `tern::testkit::fuzz::cache_ops` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::cache_ops(data);
});
