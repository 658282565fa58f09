//! The client-facing front end: UDP and TCP listeners (RFC 7766 framing,
//! idle timeout, connection cap), access control, graceful drain.

pub mod acl;
pub mod handler;

pub use handler::Handler;
