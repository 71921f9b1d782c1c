//! Judging a recording against a scenario's expectations. Each failure says what was expected
//! and what was seen, with the nearest events.

use std::collections::BTreeMap;
use std::time::Duration;

use xfrsim_engine::Time;
use xfrsim_scenario::{Count, EventMatch, Expectation, Scenario, Setup, ZoneState, fmt_duration};
use xfrsim_zone::Serial;

use crate::record::{Observed, Recording, Status, status_in};

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation, in words.
    pub expected: String,
    /// What happened instead.
    pub seen: String,
    /// Timeline lines of the events nearest the expectation, in timeline order: what the
    /// operator would look at next.
    pub nearest: Vec<String>,
    /// For `Converged` and `State`: every server holding the zone, as it was at `deadline`.
    pub states: Vec<ServerState>,
    /// The instant `states` describe.
    pub deadline: Option<Time>,
}

/// One server's copy of a zone at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    pub server: String,
    pub status: Status,
}

impl Failure {
    fn new(expected: String, seen: String) -> Failure {
        Failure { expected, seen, nearest: Vec::new(), states: Vec::new(), deadline: None }
    }

    fn with_nearest(mut self, nearest: Vec<String>) -> Failure {
        self.nearest = nearest;
        self
    }
}

/// Several lines: the expectation, what was seen, then one line per nearest event and per
/// server state, indented so that they read as parts of one failure.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}\n    seen: {}", self.expected, self.seen)?;
        if !self.nearest.is_empty() {
            write!(f, "\n    nearest events:")?;
            for line in &self.nearest {
                write!(f, "\n      {line}")?;
            }
        }
        if let Some(deadline) = self.deadline {
            write!(f, "\n    at {deadline}:")?;
            for state in &self.states {
                write!(f, "\n      {} {}", state.server, show_status(state.status))?;
            }
        }
        Ok(())
    }
}

fn t(d: Duration) -> Time {
    Time::from_duration(d)
}

/// Whether an observed event is one `m` asks for. `m.event` is the catalog's symbolic name:
/// the scenario loader rewrote whatever the file wrote (an ID, a name in any form) to it.
fn matches(recording: &Recording, e: &Observed, m: &EventMatch) -> bool {
    recording.servers[usize::from(e.server)] == m.on
        && e.kind.name() == m.event
        && m.zone.as_ref().is_none_or(|z| e.zone.is_some_and(|ez| recording.zones[ez as usize] == *z))
        && m.from.is_none_or(|from| e.at >= t(from))
        && m.until.is_none_or(|until| e.at <= t(until))
        && {
            let params: BTreeMap<&str, String> = e.kind.params().into_iter().collect();
            m.params.iter().all(|(k, v)| params.get(k.as_str()).is_some_and(|seen| param_matches(v, seen)))
        }
}

/// An expected parameter value against a printed one: equal, or a bare IP against `IP:port`
/// (the loader leaves a connecting side's address port-less: its port is the system's pick).
fn param_matches(expected: &str, seen: &str) -> bool {
    expected == seen
        || expected
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| seen.parse::<std::net::SocketAddr>().is_ok_and(|addr| addr.ip() == ip))
}

/// An event as failures name it: its Windows ID when it has one, else its name; the way the
/// timeline's lines start and the way scenario files mostly write it.
fn event_shown(m: &EventMatch) -> String {
    match xfrsim_engine::catalog::info_by_name(&m.event).and_then(|info| info.windows_id) {
        Some(id) => id.to_string(),
        None => m.event.clone(),
    }
}

fn describe(m: &EventMatch) -> String {
    let mut text = format!("{} on {}", event_shown(m), m.on);
    if let Some(zone) = &m.zone {
        text.push_str(&format!(" zone={zone}"));
    }
    for (k, v) in &m.params {
        text.push_str(&format!(" {k}={v}"));
    }
    match (m.from, m.until) {
        (Some(from), Some(until)) => text.push_str(&format!(" between {} and {}", t(from), t(until))),
        (Some(from), None) => text.push_str(&format!(" after {}", t(from))),
        (None, Some(until)) => text.push_str(&format!(" by {}", t(until))),
        (None, None) => {}
    }
    text
}

/// How many events a failure shows.
const NEAREST_EVENTS: usize = 3;

/// Up to three events of the same kind on the same server, nearest the window, as timeline
/// lines in timeline order; `None` when there is no such event at all.
fn nearest(recording: &Recording, m: &EventMatch) -> Vec<String> {
    let loose = EventMatch { from: None, until: None, params: BTreeMap::new(), zone: None, ..m.clone() };
    let anchor = m.from.map_or(Time::ZERO, t);
    closest(recording, anchor, |o| matches(recording, o, &loose))
}

/// The timeline lines of the events nearest `anchor` among those `wanted` picks, in timeline
/// order.
fn closest(recording: &Recording, anchor: Time, wanted: impl Fn(&Observed) -> bool) -> Vec<String> {
    let mut candidates: Vec<(usize, &Observed)> =
        recording.events.iter().enumerate().filter(|(_, o)| wanted(o)).collect();
    candidates.sort_by_key(|(index, o)| {
        (if o.at >= anchor { o.at.saturating_since(anchor) } else { anchor.saturating_since(o.at) }, *index)
    });
    candidates.truncate(NEAREST_EVENTS);
    candidates.sort_by_key(|(index, _)| *index);
    candidates.into_iter().map(|(_, o)| recording.line_of(o)).collect()
}

/// "no X on Y at all" when nothing of that kind happened on that server, so that an empty list
/// of nearest events is not mistaken for a lost one.
fn none_at_all(nearest: &[String], m: &EventMatch) -> String {
    if nearest.is_empty() { format!("; no {} on {} at all", event_shown(m), m.on) } else { String::new() }
}

/// The events of a zone nearest an instant, on any server.
fn nearest_in_zone(recording: &Recording, zone: &str, at: Time) -> Vec<String> {
    closest(recording, at, |o| o.zone.is_some_and(|z| recording.zones[z as usize] == zone))
}

pub(crate) fn check(scenario: &Scenario, setup: &Setup, recording: &Recording, end: Time) -> Vec<Failure> {
    debug_assert!(
        scenario.expect.iter().all(|e| match e {
            Expectation::Event { event, .. } => xfrsim_engine::catalog::info_by_name(event).is_some(),
            Expectation::Before { first, then } =>
                [first, then].iter().all(|m| xfrsim_engine::catalog::info_by_name(&m.event).is_some()),
            _ => true,
        }),
        "expectations name events as the loader writes them: catalog names"
    );
    let mut failures = Vec::new();
    for expectation in &scenario.expect {
        if let Some(failure) = check_one(setup, recording, end, expectation) {
            failures.push(failure);
        }
    }
    failures
}

fn check_one(setup: &Setup, recording: &Recording, end: Time, expectation: &Expectation) -> Option<Failure> {
    match expectation {
        Expectation::Event { on, event, zone, params, from, until, count } => {
            let m = EventMatch {
                on: on.clone(),
                event: event.clone(),
                zone: zone.clone(),
                params: params.clone(),
                from: *from,
                until: *until,
            };
            let n = recording.events.iter().filter(|o| matches(recording, o, &m)).count() as u32;
            let ok = match count {
                Count::Exactly(k) => n == *k,
                Count::AtLeast(k) => n >= *k,
                Count::AtMost(k) => n <= *k,
                Count::Never => n == 0,
            };
            let wanted = match count {
                Count::Exactly(k) => format!("exactly {k}×"),
                Count::AtLeast(k) => format!("at least {k}×"),
                Count::AtMost(k) => format!("at most {k}×"),
                Count::Never => "never".to_string(),
            };
            (!ok).then(|| {
                let nearest = nearest(recording, &m);
                Failure::new(format!("{wanted} {}", describe(&m)), format!("{n}×{}", none_at_all(&nearest, &m)))
                    .with_nearest(nearest)
            })
        }
        Expectation::Before { first, then } => {
            let a = recording.events.iter().find(|o| matches(recording, o, first)).map(|o| o.at);
            let b = recording.events.iter().find(|o| matches(recording, o, then)).map(|o| o.at);
            let expected = format!("{} before {}", describe(first), describe(then));
            match (a, b) {
                (Some(a), Some(b)) if a < b => None,
                (Some(a), Some(b)) => {
                    let mut shown = nearest(recording, first);
                    shown.extend(nearest(recording, then));
                    Some(Failure::new(expected, format!("first at {a}, then at {b}")).with_nearest(shown))
                }
                (None, _) => {
                    let shown = nearest(recording, first);
                    let seen = format!("first never happened{}", none_at_all(&shown, first));
                    Some(Failure::new(expected, seen).with_nearest(shown))
                }
                (Some(_), None) => {
                    let shown = nearest(recording, then);
                    let seen = format!("then never happened{}", none_at_all(&shown, then));
                    Some(Failure::new(expected, seen).with_nearest(shown))
                }
            }
        }
        Expectation::Converged { zone, by } => {
            let since = converged_since(setup, recording, zone, end);
            let deadline = t(*by);
            let expected =
                format!("every server holding {zone} on the same serial and content by {deadline} and from then on");
            let seen = match since {
                Some(at) if at <= deadline => return None,
                Some(at) => format!("converged only at {at}"),
                None => format!("not converged at the end ({end}): {}", states_at(setup, recording, zone, end)),
            };
            Some(with_states(Failure::new(expected, seen), setup, recording, zone, deadline))
        }
        Expectation::Lag { zone, from, until, max_serials, max_lag } => {
            check_lag(setup, recording, zone, t(*from), t(*until), *max_serials, *max_lag)
        }
        Expectation::State { on, zone, at, state } => {
            let seen = recording.status_at(on, zone, t(*at));
            let ok = match (state, seen) {
                (ZoneState::Serving(serial), Status::Serving { serial: s, .. }) => *serial == s,
                (ZoneState::Expired, Status::Expired) => true,
                _ => false,
            };
            (!ok).then(|| {
                let failure = Failure::new(
                    format!("{zone} on {on} at {} to be {}", t(*at), show_state(state)),
                    show_status(seen),
                );
                with_states(failure, setup, recording, zone, t(*at))
            })
        }
    }
}

fn show_state(state: &ZoneState) -> String {
    match state {
        ZoneState::Serving(serial) => format!("serving serial {serial}"),
        ZoneState::Expired => "expired (SERVFAIL)".to_string(),
    }
}

fn show_status(status: Status) -> String {
    match status {
        Status::Serving { serial, digest } => format!("serving serial {serial} (digest {digest:016x})"),
        Status::Expired => "expired (SERVFAIL)".to_string(),
        Status::Absent => "not serving (never loaded, or server down)".to_string(),
    }
}

/// Adds every holder's state at `deadline` and the zone's events nearest it.
fn with_states(mut failure: Failure, setup: &Setup, recording: &Recording, zone: &str, deadline: Time) -> Failure {
    failure.states = holders(setup, zone)
        .into_iter()
        .map(|server| ServerState { server: server.to_string(), status: recording.status_at(server, zone, deadline) })
        .collect();
    failure.deadline = Some(deadline);
    failure.nearest = nearest_in_zone(recording, zone, deadline);
    failure
}

/// The servers holding a zone, by name (none for a name that is no zone of the scenario).
fn holders<'s>(setup: &'s Setup, zone: &str) -> Vec<&'s str> {
    let Some(id) = setup.zone_named(zone) else { return Vec::new() };
    setup.holders(id).iter().map(|s| setup.server(*s).name.as_str()).collect()
}

fn states_at(setup: &Setup, recording: &Recording, zone: &str, at: Time) -> String {
    holders(setup, zone)
        .iter()
        .map(|server| format!("{server} {}", show_status(recording.status_at(server, zone, at))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The start of the final stretch during which every holder served the same (serial, digest).
fn converged_since(setup: &Setup, recording: &Recording, zone: &str, end: Time) -> Option<Time> {
    let servers = holders(setup, zone);
    let mut times: Vec<Time> = servers
        .iter()
        .filter_map(|s| recording.history.get(&(s.to_string(), zone.to_string())))
        .flat_map(|h| h.iter().map(|(t, _)| *t))
        .filter(|t| *t <= end)
        .collect();
    times.sort();
    times.dedup();
    let agree = |at: Time| {
        let statuses: Vec<Status> = servers.iter().map(|s| recording.status_at(s, zone, at)).collect();
        matches!(statuses.first(), Some(Status::Serving { .. })) && statuses.windows(2).all(|w| w[0] == w[1])
    };
    if !agree(end) {
        return None;
    }
    // Walk back from the end while they agree.
    let mut since = end;
    for at in times.iter().rev() {
        if agree(*at) {
            since = *at;
        } else {
            break;
        }
    }
    Some(since)
}

/// When every zone of the scenario had converged for good (the latest of them), if all did.
pub(crate) fn converged_at(setup: &Setup, recording: &Recording, end: Time) -> Option<Time> {
    let mut latest = Time::ZERO;
    for zone in &setup.zones {
        latest = latest.max(converged_since(setup, recording, &zone.text, end)?);
    }
    Some(latest)
}

fn primary_of<'s>(setup: &'s Setup, zone: &str) -> Option<&'s str> {
    let primary = setup.primary_of(setup.zone_named(zone)?)?;
    Some(setup.server(primary).name.as_str())
}

fn check_lag(
    setup: &Setup,
    recording: &Recording,
    zone: &str,
    from: Time,
    until: Time,
    max_serials: Option<u32>,
    max_lag: Option<Duration>,
) -> Option<Failure> {
    let Some(primary) = primary_of(setup, zone) else {
        return Some(Failure::new(format!("a primary for {zone} to measure lag against"), "none".into()));
    };
    let expected = {
        let mut bounds = Vec::new();
        if let Some(n) = max_serials {
            bounds.push(format!("{n} serials"));
        }
        if let Some(d) = max_lag {
            bounds.push(fmt_duration(d));
        }
        format!("every secondary of {zone} within {} of {primary} between {} and {}", bounds.join(" and "), from, until)
    };
    let Some(primary_history) = recording.history.get(&(primary.to_string(), zone.to_string())) else {
        return Some(Failure::new(expected, format!("{primary} never served {zone}")));
    };
    for secondary in holders(setup, zone).into_iter().filter(|s| *s != primary) {
        let Some(history) = recording.history.get(&(secondary.to_string(), zone.to_string())) else { continue };
        // Lag can only peak at a change of either copy or just before one: check those
        // instants, in time order, walking both histories once.
        let mut points: Vec<Time> = vec![from, until];
        for (at, _) in history.iter().chain(primary_history) {
            if *at > from && *at <= until {
                points.push(*at);
                points.push(*at - Duration::from_millis(1));
            }
        }
        points.sort();
        points.dedup();
        // The first primary version newer than the secondary's serial, for the serial it was
        // computed for: it only moves forward while the secondary's serial goes up.
        let mut newer: Option<(u32, usize)> = None;
        for at in points {
            let (Status::Serving { serial: p, .. }, s) = (status_in(primary_history, at), status_in(history, at))
            else {
                continue;
            };
            let Status::Serving { serial: s, .. } = s else {
                return Some(Failure::new(expected, format!("{secondary} not serving at {at}")));
            };
            let behind = p.wrapping_sub(s);
            if let Some(n) = max_serials
                && Serial(p).is_newer_than(Serial(s))
                && behind > n
            {
                return Some(Failure::new(
                    expected,
                    format!("{secondary} {behind} serials behind at {at} ({s} vs {p})"),
                ));
            }
            if let Some(max) = max_lag
                && Serial(p).is_newer_than(Serial(s))
            {
                // Since when has the primary had something newer than the secondary's copy?
                let start = match newer {
                    Some((for_serial, index)) if for_serial == s => index,
                    Some((for_serial, index)) if Serial(s).is_newer_than(Serial(for_serial)) => index,
                    _ => 0,
                };
                let index = start
                    + primary_history[start..].iter().position(|(_, st)| {
                        matches!(st, Status::Serving { serial, .. } if Serial(*serial).is_newer_than(Serial(s)))
                    })?;
                newer = Some((s, index));
                let since = primary_history[index].0;
                if since <= at && at.saturating_since(since) > max {
                    return Some(Failure::new(
                        expected,
                        format!("{secondary} behind since {since} at {at} (serial {s} vs {p})"),
                    ));
                }
            }
        }
    }
    None
}
