//! Authoritative DNS from zone files (RFC 1034 §4.3.2, RFC 1035 §5): zone
//! loading and checks, pure answering, the UDP/TCP server with fault
//! injection for the lab, and CDN-style redirection policies.

pub mod answer;
pub mod zone;
pub mod zonefile;

pub use zone::{Zone, ZoneError, ZoneErrorKind, ZoneSet};
