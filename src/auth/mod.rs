//! Authoritative DNS from zone files (RFC 1034 §4.3.2, RFC 1035 §5): the
//! UDP/TCP server with fault injection for the lab, and CDN-style
//! redirection policies. Zone loading and answering live in `zone/`.

pub mod cdn;
pub mod faults;
pub mod server;

/// The dynamic (CDN) source for a policy file, with its health checks
/// started (call inside a tokio runtime).
pub fn load_dynamic(
    path: Option<&std::path::Path>,
) -> Result<Option<std::sync::Arc<dyn crate::zone::answer::DynamicSource>>, String> {
    let Some(p) = path else {
        return Ok(None);
    };
    let src = std::sync::Arc::new(cdn::CdnSource::load(p).map_err(|e| e.to_string())?);
    src.start_background();
    Ok(Some(src))
}
