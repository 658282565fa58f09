//! Zone data every part may use: master-file reading (RFC 1035 §5) with
//! the DNSSEC record text hickory does not parse, loaded and checked zones
//! and zone sets, and pure answering from them (RFC 1034 §4.3.2) with the
//! DNSSEC records of signed zones (RFC 4035 §3.1). The authoritative
//! server (`auth/`), root hints, local zone copies and RPZ read zones here,
//! so none of them depends on another.

pub mod answer;
pub mod dnssec_text;
pub mod file;
pub mod loaded;
pub mod signed;

pub use loaded::{
    label_count, serial_gt, Denial, IncludeChain, Node, ReloadNote, Zone, ZoneError, ZoneErrorKind,
    ZoneSet,
};
