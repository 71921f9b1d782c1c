//! `replay`'s filters over timeline lines (read by `xfrsim_sim::timeline`, next to their
//! printers), and the durations users give them.

use std::time::Duration;

use anyhow::{Result, bail};
use xfrsim_sim::timeline::{Entry, What};

/// A duration as users write them in scenarios (BIND's TTL syntax: `90s`, `2h`, `1d6h`, `15M`),
/// for `--from` and `--until`: a bad one is a one-line error.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    match xfrsim_scenario::parse_duration(text) {
        Ok(duration) => Ok(duration),
        Err(e) => bail!("{flag} `{text}`: {e} (write a duration such as 90s, 10m, 2h, 1d6h)"),
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
