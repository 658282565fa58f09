//! cache (to be built).
