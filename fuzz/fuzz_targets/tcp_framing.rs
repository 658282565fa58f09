//! Fuzz target: `tern::testkit::fuzz::tcp_framing` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::tcp_framing(data);
});
