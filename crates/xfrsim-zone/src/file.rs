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
            let line =
                first_failing_entry(text, |prefix| parse_records(prefix, origin).is_err()).map_or(0, |(line, _)| line);
            return Err(error(line, message));
        }
    };
    if let Err((line, message)) = check_field_counts(text) {
        return Err(error(line, message));
    }
    Zone::new(origin.clone(), records).map_err(|e: ZoneError| match e {
        ZoneError::NoSoa { .. } => error(0, e.to_string()),
        e => {
            // A record-level fault (out of zone, SOA off the apex, not class IN). `Zone::new`
            // meets records in canonical order, not file order, so find the first entry whose
            // inclusion makes the zone invalid for a reason other than a still-missing SOA, and
            // report that entry's line and its own error.
            let invalid = |prefix: &str| {
                let records = parse_records(prefix, origin).ok()?;
                match Zone::new(origin.clone(), records) {
                    Ok(_) | Err(ZoneError::NoSoa { .. }) => None,
                    Err(e) => Some(e),
                }
            };
            match first_failing_entry(text, |prefix| invalid(prefix).is_some())
                .and_then(|(line, prefix)| Some((line, invalid(prefix)?)))
            {
                Some((line, first)) => error(line, first.to_string()),
                None => error(0, e.to_string()),
            }
        }
    })
}

fn parse_records(text: &str, origin: &Name) -> Result<Vec<hickory_proto::rr::Record>, String> {
    let (_, rrsets) = Parser::new(text, None, Some(origin.clone())).parse().map_err(|e| e.to_string())?;
    Ok(rrsets.into_values().flat_map(|rrset| rrset.records_without_rrsigs().cloned().collect::<Vec<_>>()).collect())
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

/// RDATA field counts of types whose presentation format has a fixed number of fields.
fn fixed_field_count(rtype: &str) -> Option<usize> {
    Some(match rtype.to_ascii_uppercase().as_str() {
        "A" | "AAAA" | "NS" | "CNAME" | "PTR" | "DNAME" | "ANAME" => 1,
        "MX" => 2,
        "SRV" => 4,
        "SOA" => 7,
        _ => return None,
    })
}

fn is_ttl_or_class(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit())
        || ["IN", "CH", "CHAOS", "HS", "HESIOD", "NONE", "ANY"].iter().any(|c| token.eq_ignore_ascii_case(c))
}

/// hickory's RDATA parsers ignore tokens past the fields they need: `www A 192.0.2.1 192.0.2.2`
/// loads one address, and an SOA whose `)` is missing silently swallows every record up to the
/// next `)` in the file. BIND refuses both ("extra input text"); so do we, for the types whose
/// field count is fixed. Returns the line of the first such entry and why.
fn check_field_counts(text: &str) -> Result<(), (usize, String)> {
    let mut start = 0;
    for (line, end) in entry_ends(text) {
        let entry = &text[start..end];
        start = end;
        let tokens = entry_tokens(entry);
        if tokens.first().is_none_or(|t| t.starts_with('$')) {
            continue;
        }
        // An entry starting with a blank has no owner; otherwise the first token is the owner.
        let has_owner = !entry.starts_with(|c: char| c.is_whitespace());
        let mut rest = tokens.iter().skip(usize::from(has_owner)).skip_while(|t| is_ttl_or_class(t));
        let Some(rtype) = rest.next() else { continue };
        let fields: Vec<&String> = rest.collect();
        if fields.first().is_some_and(|f| *f == "\\#") {
            continue; // RFC 3597 generic encoding: `\# <length> <hex>...`
        }
        if let Some(expected) = fixed_field_count(rtype)
            && fields.len() > expected
        {
            return Err((
                line,
                format!(
                    "{rtype} record has {} RDATA fields where {expected} are expected \
                     (extra text, or a parenthesis left open)",
                    fields.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The tokens of one entry: whitespace-separated, `"..."` strings as one token, `\X` escapes
/// kept inside their token, parentheses and `;` comments dropped (RFC 1035 §5.1).
fn entry_tokens(entry: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = entry.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let token = current.get_or_insert_with(String::new);
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => token.extend(chars.next()),
                        _ => token.push(q),
                    }
                }
            }
            '\\' => {
                let token = current.get_or_insert_with(String::new);
                token.push(c);
                token.extend(chars.next());
            }
            ';' => {
                tokens.extend(current.take());
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        break;
                    }
                }
            }
            '(' | ')' => tokens.extend(current.take()),
            c if c.is_whitespace() => tokens.extend(current.take()),
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    tokens.extend(current);
    tokens
}

/// The first entry whose inclusion makes `fails` true: its starting line (1-based) and the text
/// up to and including it. `fails` must be monotonic in the prefix (once a prefix fails, every
/// longer one does), which holds for parse errors and for records that are invalid on their own.
fn first_failing_entry(text: &str, fails: impl Fn(&str) -> bool) -> Option<(usize, &str)> {
    let entries = entry_ends(text);
    // Invariant of the search: the prefix ending before `low` passes, the one ending at `high` fails.
    let (mut low, mut high) = (0usize, entries.len());
    while low < high {
        let mid = (low + high) / 2;
        if fails(&text[..entries[mid].1]) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    entries.get(low).map(|&(line, end)| (line, &text[..end]))
}
