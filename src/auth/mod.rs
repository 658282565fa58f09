//! auth (to be built).
