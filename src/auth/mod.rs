//! Authoritative DNS from zone files (RFC 1034 §4.3.2, RFC 1035 §5): zone
//! loading and checks, pure answering, the UDP/TCP server with fault
//! injection for the lab, and CDN-style redirection policies.

pub mod answer;
pub mod faults;
pub mod server;
pub mod zone;
pub mod zonefile;

pub use zone::{Zone, ZoneError, ZoneErrorKind, ZoneSet};

/// The dynamic (CDN) source for a policy file, if one is given.
pub fn load_dynamic(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<dyn answer::DynamicSource>>, String> {
    match path {
        None => Ok(None),
        Some(p) => Err(format!("{}: CDN policies are not built yet", p.display())),
    }
}
