//! Safety checkers that watch from outside the engine: they read only what the recording
//! holds — each copy's status history (sampled whenever a server's state may have changed)
//! and the events — never the engine's internals.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use xfrsim_engine::{EventKind, Time};
use xfrsim_sim::{Recording, Status};
use xfrsim_zone::Serial;

use crate::bound::ExpireIntervals;

/// One broken invariant, with when and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: Time,
    pub server: String,
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.at, self.server, self.what)
    }
}

/// Every checker over one run of a one-primary scenario: `primary` holds `zone` and the other
/// servers are its secondaries; `expire` gives each secondary's expire intervals (the SOA's, as
/// the engine uses them on that server: [`crate::expire_intervals`]).
pub fn check(
    recording: &Recording,
    primary: &str,
    zone: &str,
    expire: &dyn Fn(&str) -> ExpireIntervals,
) -> Vec<Violation> {
    let mut found = Vec::new();
    served_versions_were_held(recording, primary, zone, &mut found);
    serial_never_goes_back(recording, primary, zone, &mut found);
    no_expiry_while_in_touch(recording, primary, zone, expire, &mut found);
    found
}

/// A server never serves a partial or mixed zone: every (serial, content digest) a secondary
/// serves is one its primary held at some time (the primary's own history).
fn served_versions_were_held(recording: &Recording, primary: &str, zone: &str, found: &mut Vec<Violation>) {
    let key = (primary.to_string(), zone.to_string());
    let held: BTreeSet<(u32, u64)> = recording
        .history
        .get(&key)
        .into_iter()
        .flatten()
        .filter_map(|(_, status)| match status {
            Status::Serving { serial, digest } => Some((*serial, *digest)),
            _ => None,
        })
        .collect();
    for ((server, origin), history) in &recording.history {
        if server == primary || origin != zone {
            continue;
        }
        for (at, status) in history {
            if let Status::Serving { serial, digest } = status
                && !held.contains(&(*serial, *digest))
            {
                found.push(Violation {
                    at: *at,
                    server: server.clone(),
                    what: format!(
                        "serves serial {serial} with digest {digest:016x}, a version the primary {primary} never held"
                    ),
                });
            }
        }
    }
}

/// A secondary's served serial never goes back (RFC 1982 order) unless its copy expired in
/// between: a crash keeps what a disk keeps, so a restart serves the same or newer.
fn serial_never_goes_back(recording: &Recording, primary: &str, zone: &str, found: &mut Vec<Violation>) {
    for ((server, origin), history) in &recording.history {
        if server == primary || origin != zone {
            continue;
        }
        let mut last: Option<u32> = None;
        for (at, status) in history {
            match status {
                Status::Serving { serial, .. } => {
                    if let Some(before) = last
                        && Serial(*serial).is_older_than(Serial(before))
                    {
                        found.push(Violation {
                            at: *at,
                            server: server.clone(),
                            what: format!("served serial went back from {before} to {serial} without expiring"),
                        });
                    }
                    last = Some(*serial);
                }
                Status::Expired => last = None,
                Status::Absent => {}
            }
        }
    }
}

/// A zone never expires while one of its masters answered its SOA query (an equal serial,
/// 6521 ZoneInSync) or gave it a transfer (6520 ZoneUpdate) within the last expire interval
/// (RFC 1034 §4.3.5: expire counts from the last successful refresh), the interval of that
/// kind of answer.
fn no_expiry_while_in_touch(
    recording: &Recording,
    primary: &str,
    zone: &str,
    expire: &dyn Fn(&str) -> ExpireIntervals,
    found: &mut Vec<Violation>,
) {
    let Some(zone_index) = recording.zones.iter().position(|z| z == zone) else { return };
    let primary_index = recording.servers.iter().position(|s| s == primary);
    for (index, server) in recording.servers.iter().enumerate() {
        if Some(index) == primary_index {
            continue;
        }
        let mine = recording
            .events
            .iter()
            .filter(|e| usize::from(e.server) == index && e.zone.map(|z| z as usize) == Some(zone_index));
        let intervals = expire(server);
        let mut last_touch: Option<(Time, Duration)> = None;
        for event in mine {
            match event.kind {
                EventKind::ZoneInSync { .. } => last_touch = Some((event.at, intervals.after_in_sync)),
                EventKind::ZoneUpdate { .. } => last_touch = Some((event.at, intervals.after_transfer)),
                EventKind::ZoneExpiration => {
                    if let Some((touch, expire)) = last_touch
                        && event.at.as_millis()
                            < touch.as_millis().saturating_add(u64::try_from(expire.as_millis()).unwrap_or(u64::MAX))
                    {
                        found.push(Violation {
                            at: event.at,
                            server: server.clone(),
                            what: format!(
                                "expired although a master answered it at {touch}, less than the expire interval ({}s) before",
                                expire.as_secs()
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
    }
}
