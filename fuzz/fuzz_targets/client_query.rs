//! Fuzz target: `tern::testkit::fuzz::client_query` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::client_query(data);
});
