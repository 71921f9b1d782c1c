//! What a run observed: the timeline (text, the contract users parse), the events the
//! checkers read, and each zone copy's status over time.
//!
//! Memory follows what the checks need, not the length of the run: timeline lines go to a sink
//! as each instant ends (kept only when asked, for snapshots) and are folded into the digest;
//! events are kept compact (server and zone as indexes, no text).

use std::collections::BTreeMap;
use std::fmt;

use hickory_proto::rr::Name;
use xfrsim_engine::{Event, EventKind, Time, ZoneStatus};
use xfrsim_scenario::Setup;
use xfrsim_zone::{Dname, StableHasher};

/// One event, attributed to its server: what the checkers match on.
#[derive(Debug, Clone)]
pub struct Observed {
    pub at: Time,
    /// Index into [`Recording::servers`].
    pub server: u16,
    /// Index into [`Recording::zones`]; `None` for node-wide events.
    pub zone: Option<u32>,
    pub kind: EventKind,
}

/// Where timeline lines go.
#[derive(Default)]
enum Sink {
    /// Into [`Recording::lines`].
    #[default]
    Keep,
    /// To a function (printed, written), not kept.
    Hand(Box<dyn FnMut(&str)>),
}

/// Everything recorded during a run.
#[derive(Default)]
pub struct Recording {
    /// The timeline, one line per event or action, in order (empty when streamed).
    pub lines: Vec<String>,
    pub events: Vec<Observed>,
    /// Server names, in scenario order.
    pub servers: Vec<String>,
    /// Zone origins: the scenario's, in order, then any other an event named (a request for a
    /// zone no server holds), as timelines print them.
    pub zones: Vec<String>,
    /// Where each origin is in `zones`.
    zone_index: BTreeMap<Name, u32>,
    /// (server, zone origin) → status changes, first entry at time 0.
    pub history: BTreeMap<(String, String), Vec<(Time, Status)>>,
    /// Lines of the instant being simulated (an action line goes before the events it caused).
    pending: Vec<String>,
    sink: Sink,
    digest: StableHasher,
    line_count: usize,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("lines", &self.lines.len())
            .field("events", &self.events.len())
            .field("line_count", &self.line_count)
            .finish_non_exhaustive()
    }
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
    /// A recording that keeps its timeline lines, of a scenario with these servers and zones.
    pub(crate) fn new(setup: &Setup) -> Self {
        let servers = setup.servers.iter().map(|s| s.name.clone()).collect();
        let zones = setup.zones.iter().map(|z| z.text.clone()).collect();
        let zone_index = setup.zones.iter().enumerate().map(|(i, z)| (z.name.clone(), i as u32)).collect();
        Recording { servers, zones, zone_index, ..Recording::default() }
    }

    /// A recording that hands each timeline line to `sink` instead of keeping it.
    pub(crate) fn streaming(setup: &Setup, sink: Box<dyn FnMut(&str)>) -> Self {
        Recording { sink: Sink::Hand(sink), ..Recording::new(setup) }
    }

    pub fn event_line(&mut self, server: u16, event: &Event) {
        let name = &self.servers[usize::from(server)];
        self.pending.push(event.timeline_line(name));
        let zone = event.zone.as_ref().map(|origin| self.zone_index(origin));
        self.events.push(Observed { at: event.at, server, zone, kind: event.kind.clone() });
    }

    fn zone_index(&mut self, origin: &Name) -> u32 {
        if let Some(&index) = self.zone_index.get(origin) {
            return index;
        }
        let index = u32::try_from(self.zones.len()).expect("fewer zones than u32::MAX");
        self.zones.push(Dname::from_hickory(origin).to_string());
        self.zone_index.insert(origin.clone(), index);
        index
    }

    /// Lines recorded so far in the current instant (where an action line is inserted).
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn insert_line(&mut self, at: usize, line: String) {
        self.pending.insert(at, line);
    }

    /// Lines recorded since the start, handed on or not.
    pub(crate) fn line_count(&self) -> usize {
        self.line_count + self.pending.len()
    }

    /// Ends an instant: its lines go into the digest and to the sink.
    pub(crate) fn flush(&mut self) {
        for line in self.pending.drain(..) {
            self.digest.write(line.as_bytes());
            self.digest.write(b"\n");
            self.line_count += 1;
            match &mut self.sink {
                Sink::Keep => self.lines.push(line),
                Sink::Hand(sink) => sink(&line),
            }
        }
    }

    /// The event as the engine emitted it (for showing it).
    pub fn event(&self, observed: &Observed) -> Event {
        let zone = observed.zone.and_then(|z| {
            let text = &self.zones[z as usize];
            Dname::from_text(text.as_bytes(), &Dname::root()).ok().map(|d| d.to_hickory())
        });
        Event { at: observed.at, zone, kind: observed.kind.clone() }
    }

    /// The timeline line of an event.
    pub fn line_of(&self, observed: &Observed) -> String {
        self.event(observed).timeline_line(&self.servers[usize::from(observed.server)])
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
        self.digest.finish()
    }

    /// The status of a copy at `at` (a binary search of its history).
    pub fn status_at(&self, server: &str, zone: &str, at: Time) -> Status {
        self.history.get(&(server.to_string(), zone.to_string())).map_or(Status::Absent, |h| status_in(h, at))
    }
}

/// The status in a history (sorted by time) at `at`.
pub(crate) fn status_in(history: &[(Time, Status)], at: Time) -> Status {
    let after = history.partition_point(|(t, _)| *t <= at);
    after.checked_sub(1).map_or(Status::Absent, |i| history[i].1)
}
