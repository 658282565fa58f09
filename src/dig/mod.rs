//! dig (to be built).
