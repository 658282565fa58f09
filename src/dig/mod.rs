//! `tern dig`: a dig-compatible DNS client (RFC 1035 §4 messages, RFC 6891
//! EDNS) with dig's arguments and output layout, RFC 8427 JSON output and
//! a `+trace` walk from the root that explains each step.

pub mod args;
pub mod types;
