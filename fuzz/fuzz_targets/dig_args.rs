//! Fuzz target: `tern::testkit::fuzz::dig_args` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::dig_args(data);
});
