//! What a run observed: the timeline (text, the contract users parse), the structured events
//! the checkers read, and each zone copy's status over time.

use std::collections::BTreeMap;

use xfrsim_engine::{Event, Time, ZoneStatus};
use xfrsim_zone::StableHasher;

/// One event, attributed to its server.
#[derive(Debug, Clone)]
pub struct Observed {
    pub server: String,
    pub event: Event,
}

/// Everything recorded during a run.
#[derive(Debug, Default)]
pub struct Recording {
    /// The timeline, one line per event or action, in order.
    pub lines: Vec<String>,
    pub events: Vec<Observed>,
    /// (server, zone origin) → status changes, first entry at time 0.
    pub history: BTreeMap<(String, String), Vec<(Time, Status)>>,
}

/// A zone copy's externally visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Serving {
        serial: u32,
        digest: u64,
    },
    Expired,
    /// Configured but never loaded, or the server is down.
    Absent,
}

impl Status {
    pub fn of(status: Option<ZoneStatus>) -> Status {
        match status {
            Some(ZoneStatus::Serving { serial, digest }) => Status::Serving { serial: serial.0, digest: digest.0 },
            Some(ZoneStatus::NotServing { expired: true }) => Status::Expired,
            _ => Status::Absent,
        }
    }
}

impl Recording {
    pub fn event_line(&mut self, server: &str, event: &Event) {
        self.lines.push(event.timeline_line(server));
        self.events.push(Observed { server: server.to_string(), event: event.clone() });
    }

    /// Appends a status sample when it differs from the last one.
    pub fn sample(&mut self, at: Time, server: &str, zone: &str, status: Status) {
        let entries = self.history.entry((server.to_string(), zone.to_string())).or_default();
        if entries.last().is_none_or(|(_, last)| *last != status) {
            entries.push((at, status));
        }
    }

    /// The 64-bit digest of the whole timeline (FNV-1a of its lines, each ending in `\n`).
    pub fn digest(&self) -> u64 {
        let mut hasher = StableHasher::default();
        for line in &self.lines {
            hasher.write(line.as_bytes());
            hasher.write(b"\n");
        }
        hasher.finish()
    }

    /// The status of a copy at `at`.
    pub fn status_at(&self, server: &str, zone: &str, at: Time) -> Status {
        self.history
            .get(&(server.to_string(), zone.to_string()))
            .and_then(|h| h.iter().take_while(|(t, _)| *t <= at).last())
            .map_or(Status::Absent, |(_, s)| *s)
    }
}
