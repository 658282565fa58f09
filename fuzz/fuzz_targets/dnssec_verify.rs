//! Fuzz target: `tern::testkit::fuzz::dnssec_verify` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::dnssec_verify(data);
});
