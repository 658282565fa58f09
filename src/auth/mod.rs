//! Authoritative DNS from zone files (RFC 1034 §4.3.2, RFC 1035 §5): zone
//! loading and checks, pure answering, the UDP/TCP server with fault
//! injection for the lab, and CDN-style redirection policies.

pub mod answer;
pub mod cdn;
pub mod dnssec_text;
pub mod faults;
pub mod server;
pub mod signed;
pub mod zone;
pub mod zonefile;

pub use zone::{Zone, ZoneError, ZoneErrorKind, ZoneSet};

/// The dynamic (CDN) source for a policy file, with its health checks
/// started (call inside a tokio runtime).
pub fn load_dynamic(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<dyn answer::DynamicSource>>, String> {
    let Some(p) = path else {
        return Ok(None);
    };
    let src = std::sync::Arc::new(cdn::CdnSource::load(p).map_err(|e| e.to_string())?);
    src.start_background();
    Ok(Some(src))
}
