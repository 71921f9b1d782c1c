//! The content-fidelity fixture (`tests/data/fidelity/`): a zone with one record per master-file
//! feature and type that BIND loads, and the copy each peer is given. Where a peer refuses a
//! record, or loads it differently on purpose, that record is left out of its copy; the list is
//! in `tests/data/fidelity/REFUSED.md` and docs/interop.md.

use std::path::{Path, PathBuf};

use crate::peer::Peer;

pub const ORIGIN: &str = "fidelity.example.";
/// The file the zone is loaded from; it `$INCLUDE`s files under `sub/`.
pub const MAIN: &str = "fidelity.example.zone";

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fidelity")
}

/// The fixture's zone files as `peer` is given them: (path relative to the fixture directory,
/// contents). BIND gets them as they are. Knot and NSD lose the records they refuse (owners
/// `noknot-*` / `nonsd-*`, and `nopeer-*` for both), get the two relative `$ORIGIN`s written out
/// absolute (they take only absolute ones). `ttl-mismatch`, an RRset written with two TTLs,
/// stays for all three: each settles it differently (BIND the first TTL, Knot the last, NSD
/// keeps both), and our primary reads it with the peer's profile.
pub fn files_for(peer: Peer) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = Vec::new();
    collect(&dir(), Path::new(""), &mut files)?;
    files.sort();
    let drop: &[&str] = match peer {
        Peer::Bind => &[],
        Peer::Knot => &["noknot-", "nopeer-"],
        Peer::Nsd => &["nonsd-", "nopeer-"],
    };
    if peer == Peer::Bind {
        return Ok(files);
    }
    for (_, contents) in &mut files {
        let mut out = Vec::with_capacity(contents.len());
        let mut rewrite: Option<Vec<u8>> = None;
        for line in contents.split_inclusive(|&b| b == b'\n') {
            if drop.iter().any(|prefix| line.starts_with(prefix.as_bytes())) {
                continue;
            }
            if let Some(replacement) = line.strip_prefix(b"; PEER-REWRITE: ") {
                rewrite = Some(replacement.to_vec());
                out.extend_from_slice(line);
            } else if line.starts_with(b"$ORIGIN")
                && let Some(replacement) = rewrite.take()
            {
                out.extend_from_slice(&replacement);
            } else {
                out.extend_from_slice(line);
            }
        }
        *contents = out;
    }
    Ok(files)
}

fn collect(base: &Path, relative: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<(), String> {
    let dir = base.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let path = relative.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            collect(base, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "zone") {
            let contents = std::fs::read(base.join(&path)).map_err(|e| format!("reading {}: {e}", path.display()))?;
            files.push((path, contents));
        }
    }
    Ok(())
}
