//! RON's syntax and shape errors, said in terms of the scenario format: what is missing, what
//! the field wants, the names it knows. RON stops at its first error, so there is one.

use ron::error::{Error, SpannedError};

/// How to write a duration (BIND's TTL syntax, see `duration.rs`).
const DURATION_HINT: &str = "numbers with units w, d, h, m, s in any case, as BIND writes TTLs (\"1h30m\"; \"15M\" is 15 minutes), or ms; a bare number is seconds";

use crate::diagnostics::{Diagnostic, did_you_mean, line_col, offset_of, one_of};

/// Variant names that start an item in a list (an expectation, an action, a zone on a
/// server): seen where a field name was wanted, the item before was not closed.
const ITEM_STARTS: &[&str] = &[
    "Event",
    "Before",
    "Converged",
    "Lag",
    "State",
    "Primary",
    "Secondary",
    "Partition",
    "PartitionOneway",
    "Reject",
    "RejectOneway",
    "Heal",
    "HealOneway",
    "Isolate",
    "Rejoin",
    "Block",
    "Unblock",
    "Hold",
    "Release",
    "Latency",
    "Loss",
    "Link",
    "Crash",
    "Restart",
    "RestartWithSerial",
    "SetMasters",
    "DenyTransfer",
    "AllowTransfer",
    "Update",
    "Updates",
    "Rollback",
    "Refresh",
    "CutTransfers",
    "StopCutting",
];

/// Fields whose value is a duration string.
const DURATION_FIELDS: &[&str] = &[
    "duration",
    "min_latency",
    "max_latency",
    "refresh",
    "retry",
    "expire",
    "at",
    "every",
    "until",
    "from",
    "by",
    "max_lag",
    "latency",
    "jitter",
    "notify_delay",
    "min_refresh",
    "max_refresh",
    "min_retry",
    "max_retry",
    "min_expire",
    "max_expire",
    "max_transfer_time_in",
    "max_transfer_idle_in",
];

/// What `Type` is called in the guide.
fn thing(outer: Option<&str>) -> String {
    match outer {
        Some("Scenario") | None => "the scenario".to_string(),
        Some("ZoneSpec") => "a zone".to_string(),
        Some("ServerSpec") => "a server".to_string(),
        Some("Step") => "a timeline step".to_string(),
        Some("Network") => "`network`".to_string(),
        Some("Options") => "`options`".to_string(),
        Some("EventMatch") => "an event match".to_string(),
        Some("Action") => "action".to_string(),
        Some("Expectation") => "expectation".to_string(),
        Some("ServerZone") => "zone role".to_string(),
        Some("ServerProfile") => "profile".to_string(),
        Some("Protocol") => "protocol".to_string(),
        Some("Count") => "count".to_string(),
        Some("ZoneState") => "state".to_string(),
        Some(other) => format!("`{other}`"),
    }
}

/// The field name whose value starts at `offset` (`name:` just before it), if any.
fn field_before(source: &str, offset: usize) -> Option<&str> {
    let before = source[..offset].trim_end();
    let before = before.strip_suffix(':')?.trim_end();
    // The byte after the last non-identifier character, which may be several bytes long.
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    Some(&before[start..]).filter(|name| !name.is_empty())
}

/// The token at `offset`: a run of identifier characters, or one character.
fn token_at(source: &str, offset: usize) -> std::ops::Range<usize> {
    let rest = &source[offset..];
    if let Some(quoted) = rest.strip_prefix('"') {
        // A whole string, quotes included (escapes aside: this is only for underlining).
        let len = quoted.find(['"', '\n']).map_or(rest.len(), |end| end + 2);
        return offset..offset + len.min(rest.len());
    }
    let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
    let len = if len == 0 { rest.chars().next().map_or(0, char::len_utf8) } else { len };
    offset..offset + len
}

/// The end of the last token before `offset`, skipping blanks and `//` comments.
fn end_of_previous_token(source: &str, offset: usize) -> usize {
    let mut end = offset;
    loop {
        let text = &source[..end];
        let trimmed = text.trim_end();
        let line_start = trimmed.rfind('\n').map_or(0, |nl| nl + 1);
        match trimmed[line_start..].find("//") {
            // A comment ends this line: look before it.
            Some(comment) if !trimmed[line_start..line_start + comment].contains('"') => {
                end = line_start + comment;
            }
            _ => return trimmed.len(),
        }
    }
}

/// `n` seconds the way a scenario writes a duration (`8h`, `1h 30m`).
fn as_duration(n: u64) -> String {
    crate::fmt_duration(std::time::Duration::from_secs(n))
}

/// The scenario-format reading of one RON error.
pub(crate) fn translate(source: &str, error: &SpannedError) -> Diagnostic {
    let start = offset_of(source, error.span.start.line, error.span.start.col);
    // RON's position can sit before the blanks that precede the offending value.
    let start = start + (source[start..].len() - source[start..].trim_start().len());
    // ...or inside the string it objects to: point at the whole string.
    let start = match &error.code {
        Error::Message(_) | Error::InvalidValueForType { .. } if source[..start].ends_with('"') => start - 1,
        _ => start,
    };
    let end = offset_of(source, error.span.end.line, error.span.end.col).max(start);
    let token = token_at(source, start);
    let text = &source[token.clone()];
    let field = field_before(source, start);
    match &error.code {
        Error::NoSuchStructField { found, .. } if ITEM_STARTS.contains(&found.as_str()) => {
            // `Event(..., count: Never,` then `State(...` on the next line: RON reads `State`
            // as one more field of the unclosed `Event`.
            let found_at = source[..end].rfind(found.as_str()).unwrap_or(start);
            let prev = end_of_previous_token(source, found_at);
            let (line, _) = line_col(source, found_at);
            Diagnostic::at(source, prev.saturating_sub(1)..prev, format!("missing `)` before `{found}` on line {line}"))
                .label("the item is not closed here")
                .note(source, found_at..found_at + found.len(), format!("`{found}(` starts the next item"))
                .hint("close each item with `)` before the next one begins: `Event(...),` then `State(...)`")
        }
        Error::NoSuchStructField { expected, found, outer } => {
            let at = source[start..end.max(start)].find(found.as_str()).map_or(start, |o| start + o);
            Diagnostic::at(
                source,
                at..at + found.len(),
                format!("unknown field `{found}` in {}", thing(outer.as_deref())),
            )
            .label("not a field here")
            .hint(match did_you_mean(found, expected.iter().copied()) {
                Some(dym) => format!("{dym} the fields are {}", one_of(expected)),
                None => format!("the fields are {}", one_of(expected)),
            })
        }
        Error::NoSuchEnumVariant { expected, found, outer } => {
            let at = source[start..].find(found.as_str()).map_or(start, |o| start + o);
            Diagnostic::at(source, at..at + found.len(), format!("unknown {} `{found}`", thing(outer.as_deref())))
                .label("not known")
                .hint(match did_you_mean(found, expected.iter().copied()) {
                    Some(dym) => format!("{dym} known: {}", one_of(expected)),
                    None => format!("known: {}", one_of(expected)),
                })
        }
        Error::MissingStructField { field, outer } => {
            Diagnostic::at(source, start..end, format!("missing field `{field}` in {}", thing(outer.as_deref())))
                .label(format!("`{field}: ...` is needed in here"))
                .hint(format!("add `{field}: ...`; docs/scenarios.md shows a complete file"))
        }
        Error::DuplicateStructField { field, outer } => {
            Diagnostic::at(source, token, format!("field `{field}` is given twice in {}", thing(outer.as_deref())))
                .label("second time")
        }
        Error::SuggestRawIdentifier(found) | Error::InvalidIdentifier(found)
            if found.chars().all(|c| c.is_ascii_digit()) =>
        {
            let (message, hint) = match field {
                Some("count") => (
                    format!("a count is a word, not the number {found}"),
                    format!("write `count: Exactly({found})`, `AtLeast({found})` or `AtMost({found})`, or `Never`"),
                ),
                Some("state") => (
                    format!("a state is a word, not the number {found}"),
                    format!("write `state: Serving({found})` for a serial, or `Expired`"),
                ),
                Some(name) => (
                    format!("`{name}` takes a name, not the number {found}"),
                    "see docs/scenarios.md for what this field takes".to_string(),
                ),
                None => (format!("a name was expected, not the number {found}"), String::new()),
            };
            Diagnostic::at(source, token, message).label("a number").hint_opt(Some(hint).filter(|h| !h.is_empty()))
        }
        Error::ExpectedString if field.is_some_and(|f| DURATION_FIELDS.contains(&f)) => {
            let name = field.unwrap_or("duration");
            let hint = match text.parse::<u64>() {
                Ok(n) => format!(
                    "durations are strings with a unit: `{name}: \"{}\"` if you meant {n} seconds (units: ms, s, m, h, d, w)",
                    as_duration(n)
                ),
                Err(_) => format!("durations are strings with a unit, like `{name}: \"8h\"` or `\"1h 30m\"`"),
            };
            Diagnostic::at(source, token, format!("`{name}` is a duration in double quotes, found `{text}`"))
                .label("expected a string like \"8h\"")
                .hint(hint)
        }
        Error::ExpectedString => {
            Diagnostic::at(source, token, format!("expected a string in double quotes, found `{text}`"))
                .label("expected \"...\"")
        }
        Error::ExpectedComma => {
            let prev = end_of_previous_token(source, start);
            Diagnostic::at(source, prev.saturating_sub(1)..prev, "missing `,`")
                .label("a `,` is needed after this")
                .note(source, token, "the next item starts here")
                .hint("separate fields and list items with `,`; close an item with `)` before the next begins")
        }
        Error::ExpectedStructLikeEnd | Error::ExpectedArrayEnd | Error::ExpectedMapEnd => {
            let close = match &error.code {
                Error::ExpectedArrayEnd => "]",
                Error::ExpectedMapEnd => "}",
                _ => ")",
            };
            Diagnostic::at(source, token, format!("expected `{close}`, found `{text}`"))
                .label(format!("`{close}` expected here"))
                .hint("a bracket is missing or a `,` is misplaced")
        }
        Error::Eof => Diagnostic::at(source, source.len()..source.len(), "the file ends before the scenario does")
            .label("end of file")
            .hint("a closing `)`, `]` or `}` is missing"),
        Error::InvalidValueForType { found, .. } if field.is_some_and(|f| DURATION_FIELDS.contains(&f)) => {
            Diagnostic::at(source, token, format!("`{}` is not a duration: found {found}", field.unwrap_or("duration")))
                .label("not a duration")
                .hint(DURATION_HINT)
        }
        Error::Message(message) if field.is_some_and(|f| DURATION_FIELDS.contains(&f)) => {
            // The duration reader's own words (`DurationError`).
            Diagnostic::at(
                source,
                start..end,
                format!("`{}` is not a duration: {message}", field.unwrap_or("duration")),
            )
            .label("not a duration")
            .hint(DURATION_HINT)
        }
        Error::Message(message) if message.contains("socket address") => {
            Diagnostic::at(source, token, crate::lower_first(message))
                .label("not an address with a port")
                .hint("write `IP:port`, e.g. \"127.0.0.1:5300\" or \"[::1]:5300\"")
        }
        Error::Message(message) if message.contains("IP address") => {
            Diagnostic::at(source, token, crate::lower_first(message))
                .label("not an IP address")
                .hint("write an IPv4 or IPv6 address, e.g. \"192.0.2.1\" or \"2001:db8::1\"")
        }
        other => Diagnostic::at(source, token, crate::lower_first(&other.to_string())).label("here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_and_previous_token() {
        let source = "(\n  count: 16, // c\n  x";
        let at = source.find("16").unwrap_or(0);
        assert_eq!(field_before(source, at), Some("count"));
        let x = source.rfind('x').unwrap_or(0);
        assert_eq!(&source[..end_of_previous_token(source, x)], "(\n  count: 16,");
    }
}
