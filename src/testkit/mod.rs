//! testkit (to be built).
