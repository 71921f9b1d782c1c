//! The zone model of xfrsim: pure data, no transfers, no I/O beyond reading master files.
//!
//! - [`Serial`]: RFC 1982 sequence-space serials (partial order; distance 2^31 is "neither").
//! - [`Dname`], [`ZoneRecord`]: names and records byte-faithful (case as written), compact,
//!   compared and ordered canonically (RFC 4034 §6).
//! - [`rdata`]: the RDATA grammar of every type BIND, Knot or NSD load, from text and wire.
//! - [`Zone`]: apex SOA plus records in canonical order, with an O(1) content [`ZoneDigest`]
//!   and BIND's integrity rules (one SOA, apex NS, no CNAME beside other data).
//! - [`Diff`], [`ZoneHistory`]: versions, atomic diff application, a bounded IXFR journal, and
//!   RFC 2136 dynamic-update [`Change`]s.
//! - [`zonefile`]: RFC 1035 master files as BIND reads them, errors naming file, line, column.
//! - [`wire`]: DNS messages read and written byte for byte, with name compression.

mod digest;
mod journal;
pub mod name;
pub mod rdata;
mod record;
mod serial;
pub mod wire;
mod zone;
pub mod zonefile;

pub use digest::{StableHasher, fnv1a64, mix64};
pub use journal::{Change, Diff, UpdateOutcome, ZoneHistory};
pub use name::{Dname, NameError, NameKey};
pub use rdata::{RdataError, TypeName, type_from_text};
pub use record::{CLASS_IN, CNAME, DNAME, NS, SOA, Soa, ZoneRecord, soa_record, with_serial};
pub use serial::{MAX_SERIAL_INCREMENT, Serial};
pub use zone::{Zone, ZoneBuilder, ZoneDigest, allowed_beside_cname, is_singleton};
pub use zonefile::{
    Confinement, LoadedZone, ReadOptions, RrsetTtl, ZoneFileError, ZoneFileErrorKind, ZoneFileWarning, load_zone_file,
    parse_records, parse_zone_text,
};

/// Why a zone, a record, a diff or an update was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("zone {origin} has no SOA record at its apex")]
    NoSoa { origin: String },
    #[error("zone {origin} has more than one SOA record")]
    SeveralSoa { origin: String },
    #[error("SOA record at {name} is not at the zone apex")]
    SoaNotAtApex { name: String },
    #[error("zone {origin} has no NS records at its apex")]
    NoApexNs { origin: String },
    #[error("{name}: CNAME and other data")]
    CnameAndOtherData { name: String },
    #[error("{name}: more than one {rtype} record (a singleton type)")]
    SeveralOfSingleton { name: String, rtype: TypeName },
    #[error("record {name} is not of class IN")]
    NotClassIn { name: String },
    #[error("record {name} is outside zone {origin}")]
    OutOfZone { name: String, origin: String },
    #[error("record at {name} should be an SOA")]
    NotAnSoa { name: String },
    #[error("bad owner name: {0}")]
    BadOwner(String),
    #[error("{name} {rtype}: {error}")]
    BadRdata { name: String, rtype: TypeName, error: RdataError },
    #[error("record at {name} cannot be encoded: {reason}")]
    Unencodable { name: String, reason: String },
    #[error("diff starts at serial {diff_from} but the zone is at serial {zone_serial}")]
    DiffDoesNotStartHere { diff_from: Serial, zone_serial: Serial },
    #[error("diff deletes a record the zone does not hold: {record}")]
    DeletedRecordAbsent { record: String },
}
