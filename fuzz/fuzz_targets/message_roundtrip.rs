//! Fuzz target: `tern::testkit::fuzz::message_roundtrip` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::message_roundtrip(data);
});
