//! The zone model of xfrsim: pure data, no transfers, no I/O beyond reading a master file.
//!
//! - [`Serial`]: RFC 1982 sequence-space serials (partial order; distance 2^31 is "neither").
//! - [`Zone`]: apex SOA plus records in canonical order, with an O(1) content [`ZoneDigest`].
//! - [`Diff`], [`ZoneHistory`]: versions, atomic diff application, a bounded IXFR journal, and
//!   RFC 2136 dynamic-update [`Change`]s.
//! - [`load_zone_file`]: RFC 1035 master files, errors naming file and line.

mod digest;
mod file;
mod journal;
mod serial;
mod zone;

pub use digest::{StableHasher, fnv1a64, mix64};
pub use file::{ZoneFileError, load_zone_file, parse_zone_text};
pub use journal::{Change, Diff, UpdateOutcome, ZoneHistory};
pub use serial::{MAX_SERIAL_INCREMENT, Serial};
pub use zone::{Zone, ZoneBuilder, ZoneDigest, ZoneRecord, soa_record};

/// Why a zone, a diff or an update was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("zone {origin} has no SOA record at its apex")]
    NoSoa { origin: String },
    #[error("zone {origin} has more than one SOA record")]
    SeveralSoa { origin: String },
    #[error("SOA record at {name} is not at the zone apex")]
    SoaNotAtApex { name: String },
    #[error("record {name} is not of class IN")]
    NotClassIn { name: String },
    #[error("record {name} is outside zone {origin}")]
    OutOfZone { name: String, origin: String },
    #[error("record at {name} should be an SOA")]
    NotAnSoa { name: String },
    #[error("record at {name} cannot be encoded: {reason}")]
    Unencodable { name: String, reason: String },
    #[error("diff starts at serial {diff_from} but the zone is at serial {zone_serial}")]
    DiffDoesNotStartHere { diff_from: Serial, zone_serial: Serial },
    #[error("diff deletes a record the zone does not hold: {record}")]
    DeletedRecordAbsent { record: String },
}
