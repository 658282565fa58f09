//! `+trace` (placeholder, replaced below).

use std::io::Write;

use super::args::Lookup;

pub fn run(_l: &Lookup, _banner: Option<&str>, _out: &mut dyn Write) -> u8 {
    super::EXIT_INTERNAL
}
