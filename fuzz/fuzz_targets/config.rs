//! Fuzz target: `tern::testkit::fuzz::config_text` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern::testkit::fuzz::config_text(data);
});
