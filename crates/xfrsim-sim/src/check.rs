//! Judging a recording against a scenario's expectations. Each failure says what was expected
//! and what was seen, with the nearest events.

use std::collections::BTreeMap;
use std::time::Duration;

use xfrsim_engine::Time;
use xfrsim_scenario::{Count, EventMatch, Expectation, Scenario, ZoneState, fmt_duration};
use xfrsim_zone::Serial;

use crate::record::{Observed, Recording, Status, status_in};

/// One unmet expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation, in words.
    pub expected: String,
    /// What happened instead.
    pub seen: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}\n    seen: {}", self.expected, self.seen)
    }
}

fn t(d: Duration) -> Time {
    Time::from_duration(d)
}

fn matches(recording: &Recording, e: &Observed, m: &EventMatch) -> bool {
    recording.servers[usize::from(e.server)] == m.on
        && (e.kind.name() == m.event || e.kind.windows_id().is_some_and(|id| id.to_string() == m.event))
        && m.zone.as_ref().is_none_or(|z| e.zone.is_some_and(|ez| recording.zones[usize::from(ez)] == *z))
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

fn describe(m: &EventMatch) -> String {
    let mut text = format!("{} on {}", m.event, m.on);
    if let Some(zone) = &m.zone {
        text.push_str(&format!(" zone={zone}"));
    }
    for (k, v) in &m.params {
        text.push_str(&format!(" {k}={v}"));
    }
    match (m.from, m.until) {
        (Some(from), Some(until)) => {
            text.push_str(&format!(" between {} and {}", fmt_duration(from), fmt_duration(until)))
        }
        (Some(from), None) => text.push_str(&format!(" after {}", fmt_duration(from))),
        (None, Some(until)) => text.push_str(&format!(" by {}", fmt_duration(until))),
        (None, None) => {}
    }
    text
}

/// Up to three events of the same kind on the same server, nearest the window: what the
/// operator would look at next.
fn nearest(recording: &Recording, m: &EventMatch) -> String {
    let loose = EventMatch { from: None, until: None, params: BTreeMap::new(), zone: None, ..m.clone() };
    let anchor = m.from.map_or(Time::ZERO, t);
    let mut candidates: Vec<&Observed> = recording.events.iter().filter(|o| matches(recording, o, &loose)).collect();
    candidates
        .sort_by_key(|o| if o.at >= anchor { o.at.saturating_since(anchor) } else { anchor.saturating_since(o.at) });
    if candidates.is_empty() {
        return format!("no {} on {} at all", m.event, m.on);
    }
    let shown: Vec<String> = candidates.iter().take(3).map(|o| recording.line_of(o)).collect();
    format!("nearest: {}", shown.join(" | "))
}

pub(crate) fn check(scenario: &Scenario, recording: &Recording, end: Time) -> Vec<Failure> {
    let mut failures = Vec::new();
    for expectation in &scenario.expect {
        if let Some(failure) = check_one(scenario, recording, end, expectation) {
            failures.push(failure);
        }
    }
    failures
}

fn check_one(scenario: &Scenario, recording: &Recording, end: Time, expectation: &Expectation) -> Option<Failure> {
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
            (!ok).then(|| Failure {
                expected: format!("{wanted} {}", describe(&m)),
                seen: format!("{n}×; {}", nearest(recording, &m)),
            })
        }
        Expectation::Before { first, then } => {
            let a = recording.events.iter().find(|o| matches(recording, o, first)).map(|o| o.at);
            let b = recording.events.iter().find(|o| matches(recording, o, then)).map(|o| o.at);
            let expected = format!("{} before {}", describe(first), describe(then));
            match (a, b) {
                (Some(a), Some(b)) if a < b => None,
                (Some(a), Some(b)) => Some(Failure { expected, seen: format!("first at {a}, then at {b}") }),
                (None, _) => {
                    Some(Failure { expected, seen: format!("first never happened; {}", nearest(recording, first)) })
                }
                (Some(_), None) => {
                    Some(Failure { expected, seen: format!("then never happened; {}", nearest(recording, then)) })
                }
            }
        }
        Expectation::Converged { zone, by } => {
            let since = converged_since(scenario, recording, zone, end);
            let expected = format!(
                "every server holding {zone} on the same serial and content by {} and from then on",
                fmt_duration(*by)
            );
            match since {
                Some(at) if at <= t(*by) => None,
                Some(at) => Some(Failure { expected, seen: format!("converged only at {at}") }),
                None => Some(Failure {
                    expected,
                    seen: format!("not converged at the end: {}", states_at(scenario, recording, zone, end)),
                }),
            }
        }
        Expectation::Lag { zone, from, until, max_serials, max_lag } => {
            check_lag(scenario, recording, zone, t(*from), t(*until), *max_serials, *max_lag)
        }
        Expectation::State { on, zone, at, state } => {
            let seen = recording.status_at(on, zone, t(*at));
            let ok = match (state, seen) {
                (ZoneState::Serving(serial), Status::Serving { serial: s, .. }) => *serial == s,
                (ZoneState::Expired, Status::Expired) => true,
                _ => false,
            };
            (!ok).then(|| Failure {
                expected: format!("{zone} on {on} at {} to be {}", fmt_duration(*at), show_state(state)),
                seen: show_status(seen),
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

/// The servers holding a zone, by name.
fn holders<'s>(scenario: &'s Scenario, zone: &str) -> Vec<&'s str> {
    scenario.servers.iter().filter(|s| s.zones.iter().any(|z| z.zone() == zone)).map(|s| s.name.as_str()).collect()
}

fn states_at(scenario: &Scenario, recording: &Recording, zone: &str, at: Time) -> String {
    holders(scenario, zone)
        .iter()
        .map(|server| format!("{server} {}", show_status(recording.status_at(server, zone, at))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The start of the final stretch during which every holder served the same (serial, digest).
fn converged_since(scenario: &Scenario, recording: &Recording, zone: &str, end: Time) -> Option<Time> {
    let servers = holders(scenario, zone);
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
pub(crate) fn converged_at(scenario: &Scenario, recording: &Recording, end: Time) -> Option<Time> {
    let mut latest = Time::ZERO;
    for zone in &scenario.zones {
        latest = latest.max(converged_since(scenario, recording, &zone.origin, end)?);
    }
    Some(latest)
}

fn primary_of<'s>(scenario: &'s Scenario, zone: &str) -> Option<&'s str> {
    scenario
        .servers
        .iter()
        .find(|s| s.zones.iter().any(|z| z.zone() == zone && matches!(z, xfrsim_scenario::ServerZone::Primary { .. })))
        .map(|s| s.name.as_str())
}

fn check_lag(
    scenario: &Scenario,
    recording: &Recording,
    zone: &str,
    from: Time,
    until: Time,
    max_serials: Option<u32>,
    max_lag: Option<Duration>,
) -> Option<Failure> {
    let Some(primary) = primary_of(scenario, zone) else {
        return Some(Failure { expected: format!("a primary for {zone} to measure lag against"), seen: "none".into() });
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
        return Some(Failure { expected, seen: format!("{primary} never served {zone}") });
    };
    for secondary in holders(scenario, zone).into_iter().filter(|s| *s != primary) {
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
                return Some(Failure { expected, seen: format!("{secondary} not serving at {at}") });
            };
            let behind = p.wrapping_sub(s);
            if let Some(n) = max_serials
                && Serial(p).is_newer_than(Serial(s))
                && behind > n
            {
                return Some(Failure {
                    expected,
                    seen: format!("{secondary} {behind} serials behind at {at} ({s} vs {p})"),
                });
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
                    return Some(Failure {
                        expected,
                        seen: format!("{secondary} behind since {since} at {at} (serial {s} vs {p})"),
                    });
                }
            }
        }
    }
    None
}
