//! Loading a zone from an RFC 1035 §5 master file.

use std::path::Path;

use hickory_proto::rr::Name;
use hickory_proto::serialize::txt::Parser;

use crate::{Zone, ZoneError};

/// A zone file that could not be loaded: which file, which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ZoneFileError {
    pub path: String,
    /// 1-based line of the entry at fault (0 when the fault is the file as a whole).
    pub line: usize,
    pub message: String,
}

/// Reads and parses a master file. `origin` is the zone name, used for `@` and relative names
/// until a `$ORIGIN` directive changes it.
pub fn load_zone_file(path: &Path, origin: &Name) -> Result<Zone, ZoneFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ZoneFileError {
        path: path.display().to_string(),
        line: 0,
        message: format!("cannot read zone file: {e}"),
    })?;
    parse_zone_text(&text, &path.display().to_string(), origin)
}

/// Parses master-file text; `source` names it in errors.
pub fn parse_zone_text(text: &str, source: &str, origin: &Name) -> Result<Zone, ZoneFileError> {
    let error = |line: usize, message: String| ZoneFileError { path: source.to_string(), line, message };
    let records = match parse_records(text, origin) {
        Ok(records) => records,
        Err(message) => {
            // hickory's parser reports no position; find the first entry whose inclusion makes
            // parsing fail. Only the error path pays for this.
            let line = first_failing_entry_line(text, origin);
            return Err(error(line, message));
        }
    };
    Zone::new(origin.clone(), records).map_err(|e: ZoneError| {
        let line = match &e {
            ZoneError::NoSoa { .. } => 0,
            other => line_mentioning(text, other).unwrap_or(0),
        };
        error(line, e.to_string())
    })
}

fn parse_records(text: &str, origin: &Name) -> Result<Vec<hickory_proto::rr::Record>, String> {
    let (_, rrsets) = Parser::new(text, None, Some(origin.clone())).parse().map_err(|e| e.to_string())?;
    Ok(rrsets
        .into_values()
        .flat_map(|rrset| rrset.records_without_rrsigs().cloned().collect::<Vec<_>>())
        .collect())
}

/// Line numbers (1-based) at which each entry of the file starts, where an entry ends at a line
/// break outside parentheses (RFC 1035 §5.1), ignoring comments and quoted strings.
fn entry_ends(text: &str) -> Vec<(usize, usize)> {
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut entry_start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let mut quoted = false;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => break,
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        offset += line.len();
        if depth == 0 {
            entries.push((entry_start_line, offset));
            entry_start_line = index + 2;
        }
    }
    if depth > 0 {
        entries.push((entry_start_line, text.len()));
    }
    entries
}

fn first_failing_entry_line(text: &str, origin: &Name) -> usize {
    let entries = entry_ends(text);
    // Invariant of the search: the prefix ending before `low` parses, the one ending at `high` fails.
    let (mut low, mut high) = (0usize, entries.len());
    while low < high {
        let mid = (low + high) / 2;
        let prefix = &text[..entries[mid].1];
        if parse_records(prefix, origin).is_ok() {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    entries.get(low).map_or(0, |&(line, _)| line)
}

/// For semantic errors found after parsing (an SOA off the apex, an out-of-zone name), the
/// first line that mentions the offending owner, as a best effort.
fn line_mentioning(text: &str, error: &ZoneError) -> Option<usize> {
    let name = match error {
        ZoneError::OutOfZone { name, .. } | ZoneError::SoaNotAtApex { name } | ZoneError::NotClassIn { name } => name,
        ZoneError::SeveralSoa { .. } => {
            return text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.split(';').next().unwrap_or("").split_whitespace().any(|w| w.eq_ignore_ascii_case("SOA")))
                .nth(1)
                .map(|(i, _)| i + 1);
        }
        _ => return None,
    };
    let first_label = name.split('.').next().filter(|l| !l.is_empty())?;
    text.lines()
        .position(|l| l.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(first_label) || w.eq_ignore_ascii_case(name)))
        .map(|i| i + 1)
}
