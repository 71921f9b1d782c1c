//! Timeline lines read back into their fields, for `replay`'s filters and JSON. The line format
//! is a contract (`<time> <server> <id|-> <NAME> zone=<zone|-> k=v ...`, or
//! `<time> <server|*> action <text>`), so reading it is as stable as writing it, and the
//! simulation keeps streaming plain lines without holding anything for us.

use std::time::Duration;

use anyhow::{Result, bail};

/// One timeline line, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub at_ms: u64,
    /// The time as printed.
    pub at_text: &'a str,
    /// A server name, or `*` for a network action.
    pub server: &'a str,
    pub what: What<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What<'a> {
    Event {
        windows_id: Option<u16>,
        name: &'a str,
        /// `None` for node-wide events (`zone=-`).
        zone: Option<&'a str>,
        params: Vec<(&'a str, &'a str)>,
    },
    Action(&'a str),
}

/// Splits a timeline line; `None` for anything else (a line this version does not know).
pub fn parse(line: &str) -> Option<Entry<'_>> {
    let (at_text, rest) = line.split_once(' ')?;
    let (server, rest) = rest.split_once(' ')?;
    let at_ms = parse_time(at_text)?;
    if let Some(text) = rest.strip_prefix("action ") {
        return Some(Entry { at_ms, at_text, server, what: What::Action(text) });
    }
    let (id, rest) = rest.split_once(' ')?;
    let windows_id = if id == "-" { None } else { Some(id.parse().ok()?) };
    let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (zone, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let zone = zone.strip_prefix("zone=")?;
    let zone = (zone != "-").then_some(zone);
    let mut params = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        // Values with spaces are quoted, and never hold a quote themselves.
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (value, after) = quoted.split_once('"')?;
                (value, after.strip_prefix(' ').unwrap_or(after))
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        params.push((key, value));
        rest = after;
    }
    Some(Entry { at_ms, at_text, server, what: What::Event { windows_id, name, zone, params } })
}

/// `[Nd]hh:mm:ss.mmm` (the engine's `Time` display) to milliseconds.
fn parse_time(text: &str) -> Option<u64> {
    let (days, clock) = match text.split_once('d') {
        Some((days, clock)) => (days.parse::<u64>().ok()?, clock),
        None => (0, text),
    };
    let mut parts = clock.split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let (seconds, millis) = parts.next()?.split_once('.')?;
    let (seconds, millis): (u64, u64) = (seconds.parse().ok()?, millis.parse().ok()?);
    Some((((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

/// A duration as users write them in scenarios (`"90s"`, `"2h"`, `"1d 6h"`), for `--from` and
/// `--until`: a bad one is a one-line error.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    match humantime::parse_duration(text) {
        Ok(duration) => Ok(duration),
        Err(e) => bail!("{flag} `{text}`: {e} (write a duration such as 90s, 10m, 2h, 1d 6h)"),
    }
}

/// Which lines `replay` shows.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub server: Option<String>,
    /// Zone origin, compared without a trailing dot and without case.
    pub zone: Option<String>,
    /// A Windows ID or symbolic name, already checked against the catalog.
    pub event: Option<&'static xfrsim_engine::EventInfo>,
    pub from_ms: Option<u64>,
    pub until_ms: Option<u64>,
}

impl Filter {
    /// Whether a line is shown. Action lines are context: kept when they concern the server
    /// (run on it, or name it) and the zone (name it, or no zone at all), dropped when one
    /// event is asked for.
    pub fn keeps(&self, entry: &Entry<'_>) -> bool {
        if self.from_ms.is_some_and(|from| entry.at_ms < from) || self.until_ms.is_some_and(|until| entry.at_ms > until)
        {
            return false;
        }
        match &entry.what {
            What::Event { name, zone, .. } => {
                self.server.as_deref().is_none_or(|s| s == entry.server)
                    && self.zone.as_deref().is_none_or(|z| zone.is_some_and(|zone| same_zone(zone, z)))
                    && self.event.is_none_or(|info| info.name == *name)
            }
            What::Action(text) => {
                let words: Vec<&str> = text.split([' ', '[', ']', ',']).filter(|w| !w.is_empty()).collect();
                self.event.is_none()
                    && self.server.as_deref().is_none_or(|s| s == entry.server || words.contains(&s))
                    && self.zone.as_deref().is_none_or(|z| {
                        let zones: Vec<&&str> = words.iter().filter(|w| w.ends_with('.')).collect();
                        zones.is_empty() || zones.iter().any(|w| same_zone(w, z))
                    })
            }
        }
    }
}

pub fn same_zone(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}
