//! Durations as operators write them in BIND's files: a TTL's syntax (BIND 9's
//! `dns_ttl_fromtext`, lib/dns/ttl.c): numbers each followed by a unit `w`, `d`, `h`, `m` or `s`,
//! in any case and any order (`1w2d3h4m5s`, `15M` is fifteen minutes), or a bare number of
//! seconds (`300`). The simulation also takes `ms` for milliseconds, and a space between parts
//! (`1h 30m`). Months and years are no unit: `15M` once read as fifteen months would have
//! clamped a retry to two weeks with no word said, so anything else is an error naming the units.

use std::time::Duration;

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("`{0}` is not a number followed by a unit")]
    Malformed(String),
    #[error(
        "`{0}` is not a duration unit: months and years have no fixed length; the units are w, d, h, m, s (any case) and ms"
    )]
    MonthOrYear(String),
    #[error("`{0}` is not a duration unit; the units are w, d, h, m, s (any case) and ms")]
    UnknownUnit(String),
    #[error("duration too long")]
    Overflow,
}

/// Parses a duration in BIND's TTL syntax, plus `ms` and spaces between parts.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().map(Duration::from_secs).map_err(|_| DurationError::Overflow);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError::Malformed(text.to_string()));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| DurationError::Overflow)?;
        let after = &rest[digits..];
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let unit = &after[..unit_len];
        let part = match unit.to_ascii_lowercase().as_str() {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => minutes(number, 1)?,
            "h" => minutes(number, 60)?,
            "d" => minutes(number, 24 * 60)?,
            "w" => minutes(number, 7 * 24 * 60)?,
            "" => return Err(DurationError::Malformed(text.to_string())),
            "mo" | "mon" | "month" | "months" | "y" | "yr" | "year" | "years" => {
                return Err(DurationError::MonthOrYear(unit.to_string()));
            }
            _ => return Err(DurationError::UnknownUnit(unit.to_string())),
        };
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
        rest = after[unit_len..].trim_start();
    }
    Ok(total)
}

fn minutes(number: u64, per_unit: u64) -> Result<Duration, DurationError> {
    number.checked_mul(per_unit * 60).map(Duration::from_secs).ok_or(DurationError::Overflow)
}

/// A duration written back in the same syntax, largest units first (`1h30m`, `500ms`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut text = String::new();
    let mut secs = duration.as_secs();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            text.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    let millis = duration.subsec_millis();
    if millis > 0 || text.is_empty() {
        text.push_str(&if millis > 0 { format!("{millis}ms") } else { "0s".to_string() });
    }
    text
}

/// `#[serde(with = "crate::duration::required")]` for a `Duration` field.
pub(crate) mod required {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*duration))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "crate::duration::optional")]` for an `Option<Duration>` field.
pub(crate) mod optional {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => serializer.serialize_some(&super::format_duration(*duration)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => super::parse_duration(&text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{DurationError, format_duration, parse_duration};

    #[test]
    fn bind_ttl_syntax_in_any_case() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("15M"), Ok(s(900)), "M is minutes, as in BIND");
        assert_eq!(parse_duration("1W2D3H4M5S"), Ok(s(7 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5)));
        assert_eq!(parse_duration("1w2d3h4m5s"), parse_duration("1W2D3H4M5S"));
        assert_eq!(parse_duration("300"), Ok(s(300)), "a bare number is seconds");
        assert_eq!(parse_duration("1h 30m"), Ok(s(5400)));
        assert_eq!(parse_duration("30m1h"), Ok(s(5400)), "any order, as BIND");
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m500ms"), Ok(Duration::from_millis(120_500)));
    }

    #[test]
    fn months_years_and_other_words_are_errors() {
        assert_eq!(parse_duration("1y"), Err(DurationError::MonthOrYear("y".into())));
        assert_eq!(parse_duration("2mo"), Err(DurationError::MonthOrYear("mo".into())));
        assert_eq!(parse_duration("7days"), Err(DurationError::UnknownUnit("days".into())));
        assert_eq!(parse_duration("1fortnight"), Err(DurationError::UnknownUnit("fortnight".into())));
        assert_eq!(parse_duration("1 fortnight"), Err(DurationError::Malformed("1 fortnight".into())));
        assert_eq!(parse_duration("h"), Err(DurationError::Malformed("h".into())));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("99999999999999999999w"), Err(DurationError::Overflow));
    }

    #[test]
    fn what_is_written_reads_back() {
        for ms in [0u64, 1, 500, 1_000, 61_000, 5_400_000, 90_061_001, 1_209_600_000] {
            let duration = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration), "{}", format_duration(duration));
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
