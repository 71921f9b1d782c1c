//! Where zone files may be read from, and how much of them: confinement to a directory,
//! regular files only, size and `$INCLUDE` limits, each checked before anything is read.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ZoneFileErrorKind;

/// Largest zone file (each file, includes counted separately) read by default: 1 GiB, room
/// for tens of millions of records. Checked before reading.
pub const DEFAULT_MAX_ZONE_FILE_BYTES: u64 = 1 << 30;
/// Most `$INCLUDE`s one zone may use, all files together.
pub const DEFAULT_MAX_INCLUDES: usize = 1024;
/// Deepest nesting of `$INCLUDE`s (a file including itself stops here).
pub const DEFAULT_MAX_INCLUDE_DEPTH: usize = 16;

/// Which files a zone may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// Anywhere the process may read (`cargo xtask serve`: operators keep zones in /etc/bind).
    Anywhere,
    /// Only inside this directory, through relative paths (a scenario run in CI may not read
    /// outside its own directory, whatever its zone files `$INCLUDE`).
    Within(PathBuf),
}

/// Which TTL the records of one RRset get when a file writes them with different TTLs: the
/// servers disagree (observed on BIND 9.18, Knot 3.2 and NSD 4.6 by the interop fixture's
/// `ttl-mismatch` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RrsetTtl {
    /// BIND `master.c`: within a run of lines of one owner the first TTL wins ("TTL set to
    /// prior TTL"); a later run of the same RRset replaces it.
    #[default]
    Bind,
    /// Knot `zone/node.c` `node_add_rrset`: the last TTL read wins ("TTL mismatch").
    LastRead,
    /// NSD `zonec.c` `zonec_accept`: each record keeps its own TTL (with a warning).
    EachOwn,
}

/// Limits, confinement and RRset rules for reading zone files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    pub max_file_bytes: u64,
    pub max_includes: usize,
    pub max_include_depth: usize,
    pub confinement: Confinement,
    pub rrset_ttl: RrsetTtl,
}

impl ReadOptions {
    /// Default limits, with the given confinement.
    pub fn new(confinement: Confinement) -> Self {
        ReadOptions {
            max_file_bytes: DEFAULT_MAX_ZONE_FILE_BYTES,
            max_includes: DEFAULT_MAX_INCLUDES,
            max_include_depth: DEFAULT_MAX_INCLUDE_DEPTH,
            confinement,
            rrset_ttl: RrsetTtl::Bind,
        }
    }
}

/// What kind of non-regular file was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Fifo,
    Socket,
    Device,
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Reads a file after checking what it is: a regular file (a FIFO or device would block or
/// never end), inside the confinement, no larger than the limit.
pub(super) fn read_checked(path: &Path, options: &ReadOptions) -> Result<Vec<u8>, ZoneFileErrorKind> {
    let io = |e: std::io::Error| ZoneFileErrorKind::Io(e.kind());
    if let Confinement::Within(dir) = &options.confinement {
        // Symbolic links and `..` resolved: where the file really is.
        let real_dir = dir.canonicalize().map_err(io)?;
        let real = path.canonicalize().map_err(io)?;
        if !real.starts_with(&real_dir) {
            return Err(ZoneFileErrorKind::OutsideDirectory { dir: dir.display().to_string() });
        }
    }
    let metadata = std::fs::metadata(path).map_err(io)?;
    check_regular(&metadata)?;
    if metadata.len() > options.max_file_bytes {
        return Err(ZoneFileErrorKind::TooLarge { limit: options.max_file_bytes });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // The file may have been replaced since the check: check the opened one again.
    check_regular(&file.metadata().map_err(io)?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(options.max_file_bytes + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > options.max_file_bytes {
        return Err(ZoneFileErrorKind::TooLarge { limit: options.max_file_bytes });
    }
    Ok(bytes)
}

fn check_regular(metadata: &std::fs::Metadata) -> Result<(), ZoneFileErrorKind> {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    Err(ZoneFileErrorKind::NotRegularFile(if kind.is_dir() {
        FileKind::Directory
    } else if kind.is_fifo() {
        FileKind::Fifo
    } else if kind.is_socket() {
        FileKind::Socket
    } else if kind.is_block_device() || kind.is_char_device() {
        FileKind::Device
    } else {
        FileKind::Other
    }))
}
