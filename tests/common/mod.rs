//! Helpers shared by the integration tests: the NSD fixture (`nsd`) that
//! serves a small DNS tree on loopback for end-to-end tests.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod nsd;
