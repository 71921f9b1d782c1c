//! What a master file can be refused for, and what BIND warns about and loads anyway.

use std::fmt;

use super::{FileKind, LexError};
use crate::ZoneError;
use crate::name::NameError;
use crate::rdata::{RdataError, TypeName};

fn io_reason(kind: std::io::ErrorKind) -> String {
    match kind {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        other => other.to_string(),
    }
}

/// Why a zone file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneFileErrorKind {
    #[error("cannot read zone file: {}", io_reason(*.0))]
    Io(std::io::ErrorKind),
    #[error("zone file is {0}, not a regular file")]
    NotRegularFile(FileKind),
    #[error("zone file larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("more than {limit} $INCLUDEs")]
    TooManyIncludes { limit: usize },
    #[error("$INCLUDEs nested deeper than {limit}")]
    IncludeTooDeep { limit: usize },
    #[error("zone file outside {dir} (files must stay inside the scenario's directory)")]
    OutsideDirectory { dir: String },
    #[error("absolute path `{0}`: scenario zone files are named relative to the scenario")]
    AbsolutePath(String),
    #[error("$INCLUDE is not available in zone text given inline")]
    IncludeInline,
    #[error("{0}")]
    Lex(LexError),
    #[error("bad owner name: {0}")]
    Owner(NameError),
    #[error("no owner name: the first record must name its owner")]
    NoOwner,
    #[error("bad TTL `{0}` (seconds, or units like 1h30m)")]
    BadTtl(String),
    #[error("no TTL: give one, or set $TTL before this record")]
    NoTtl,
    #[error("class {0} is not the zone's class IN")]
    Class(String),
    #[error("missing record type")]
    MissingType,
    #[error("unknown record type `{0}` (write unknown types as TYPEnnn \\# <length> <hex>)")]
    UnknownType(String),
    #[error("{0} is a meta type and cannot appear in a zone")]
    MetaType(TypeName),
    #[error("{rtype} RDATA: {error}")]
    Rdata { rtype: TypeName, error: RdataError },
    #[error("unknown directive `{0}`")]
    UnknownDirective(String),
    #[error("{directive} expects {expected}")]
    DirectiveArgs { directive: &'static str, expected: &'static str },
    #[error("{0}")]
    Zone(ZoneError),
}

/// A zone file that could not be loaded: which file, where in it, and why. `line` is 0 when
/// the fault is the zone as a whole (no SOA, no apex NS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFileError {
    pub path: String,
    pub line: u32,
    pub col: u32,
    pub kind: ZoneFileErrorKind,
}

impl fmt::Display for ZoneFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path, self.kind),
            line => write!(f, "{}:{}:{}: {}", self.path, line, self.col, self.kind),
        }
    }
}

impl std::error::Error for ZoneFileError {}

/// Something BIND warns about and loads anyway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarningKind {
    #[error("ignoring out-of-zone data ({0})")]
    OutOfZone(String),
    #[error("TTL set to prior TTL ({0})")]
    TtlSetToPrior(u32),
    #[error("TTL mismatch, TTL set to {0}")]
    TtlSetToLast(u32),
    #[error("TTL {0} does not match TTL {1} of the RRset; kept")]
    TtlDiffers(u32, u32),
    #[error("no TTL specified; using SOA MINIMUM ({0}) instead")]
    TtlFromSoaMinimum(u32),
    #[error("no $TTL: records without a TTL take the last one given (RFC 1035 TTL semantics)")]
    Rfc1035TtlSemantics,
    #[error("TTL {0} above the maximum 2147483647, set to 0")]
    TtlTooLarge(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFileWarning {
    pub path: String,
    pub line: u32,
    pub col: u32,
    pub kind: WarningKind,
}

impl fmt::Display for ZoneFileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: warning: {}", self.path, self.line, self.col, self.kind)
    }
}
