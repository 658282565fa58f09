//! tern: a caching, iterative DNS resolver, a dig-compatible client, an
//! authoritative server and a miniature-internet lab. The binary only parses
//! arguments; all behaviour lives here so tests, benches and fuzz targets
//! call it directly. See ARCHITECTURE.md in the shared folder for the map.

pub mod auth;
pub mod authzone;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dig;
pub mod dnssec;
pub mod engine;
pub mod experiment;
pub mod lab;
pub mod names;
pub mod rpz;
pub mod server;
pub mod shared_cache;
pub mod testkit;
pub mod upstream;
pub mod wire;
pub mod zone;
