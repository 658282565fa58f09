//! Fuzz target: `tern::testkit::fuzz::zone_file` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::zone_file(data);
});
