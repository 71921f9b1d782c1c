//! Expectations checked when the scenario loads, so none can pass by testing nothing: an
//! event's parameters must be ones it prints, with values that can match; the server must be
//! able to emit the event at all; two states at one instant must agree; and a scenario must
//! expect something.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use xfrsim_engine::{Emitter, EventInfo, ParamKind, find_event, suggest_event};

use crate::checker::Checker;
use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::model::{EventMatch, Expectation, ServerSpec, ServerZone, ZoneState};
use crate::{Scenario, fmt_duration, parse_origin};

/// The variants that start an expectation, for finding each one's place in the text.
const EXPECTATION_NAMES: &[&str] = &["Event", "Before", "Converged", "Lag", "State"];

/// `6527 (DNS_EVENT_ZONE_EXPIRATION)` or the name alone.
fn event_title(info: &EventInfo) -> String {
    info.windows_id.map_or_else(|| info.name.to_string(), |id| format!("{id} ({})", info.name))
}

/// Where each item named in `names` (followed by `(`) starts, from byte `from` on, outside
/// strings and comments: the place each expectation's errors point into.
fn item_starts(source: &str, from: usize, names: &[&str]) -> Vec<usize> {
    let bytes = source.as_bytes();
    let mut starts = Vec::new();
    let mut i = from.min(bytes.len());
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |nl| i + nl);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..].find("*/").map_or(bytes.len(), |end| i + 2 + end + 2);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end =
                    source[i..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(bytes.len(), |n| i + n);
                let word = &source[i..end];
                if names.contains(&word) && source[end..].trim_start().starts_with('(') {
                    starts.push(i);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    starts
}

impl Checker<'_> {
    pub(crate) fn check_expectations(&self) {
        let s = self.scenario;
        let field = item_field(self.source, "expect");
        let starts = item_starts(self.source, field.unwrap_or(self.source.len()), EXPECTATION_NAMES);
        // (server, zone, time) → the first state expected there, and where it is written.
        let mut states: BTreeMap<(&str, &str, Duration), (&ZoneState, usize)> = BTreeMap::new();
        for (i, expectation) in s.expect.iter().enumerate() {
            let start = starts.get(i).copied().or(field).unwrap_or(0);
            self.anchor.set(start);
            self.keep(self.check_expectation(expectation));
            if let Expectation::State { on, zone, at, state } = expectation {
                match states.get(&(on.as_str(), zone.as_str(), *at)) {
                    Some((first, first_at)) if *first != state => {
                        let error = self
                            .error_at("state:", format!("`{on}` cannot be both {} and {} for zone `{zone}` at {}", describe(first), describe(state), fmt_duration(*at)))
                            .label("contradicts the earlier State")
                            .note(self.source, *first_at..*first_at + "State".len(), "the earlier State for the same time")
                            .hint("one of these two expectations must fail whatever happens; keep the one you mean, or give them different times");
                        self.keep(Err(error));
                    }
                    Some(_) => {}
                    None => {
                        states.insert((on.as_str(), zone.as_str(), *at), (state, start));
                    }
                }
            }
        }
        // Reported only when nothing else is wrong: a file with faults does not run anyway,
        // and its real fault should not drown under this one.
        if s.expect.is_empty() && self.errors.borrow().is_empty() {
            let zone = s.zones.first().map_or("example.com.", |z| z.origin.as_str());
            let at = field.unwrap_or_else(|| self.source.trim_end().len().saturating_sub(1));
            let len = if field.is_some() { "expect".len() } else { 1 };
            self.keep(Err(Diagnostic::at(self.source, at..at + len, "the scenario expects nothing, so it passes whatever the servers do")
                .label("no expectations")
                .hint(format!("add at least one, e.g. `expect: [Converged(zone: \"{zone}\", by: \"1h\")]`; docs/scenarios.md lists them"))));
        }
    }

    fn check_expectation(&self, expectation: &Expectation) -> Result<(), Diagnostic> {
        match expectation {
            Expectation::Event { on, event, zone, params, from, until, .. } => {
                self.check_event(on, event, zone.as_deref(), params, *from, *until)
            }
            Expectation::Before { first, then } => {
                self.check_match(first)?;
                self.check_match(then)
            }
            Expectation::Converged { zone, by } => {
                self.zone_exists(zone)?;
                self.check_window(Some(*by), None)
            }
            Expectation::Lag { zone, from, until, max_serials, max_lag } => {
                self.zone_exists(zone)?;
                let primaries = self
                    .scenario
                    .servers
                    .iter()
                    .filter(|s| {
                        s.zones
                            .iter()
                            .any(|z| self.same_zone(z.zone(), zone) && matches!(z, ServerZone::Primary { .. }))
                    })
                    .count();
                if primaries != 1 {
                    return Err(self
                        .error_at(
                            zone,
                            format!(
                                "Lag: zone `{zone}` needs exactly one primary server to lag behind, it has {primaries}"
                            ),
                        )
                        .label("no single primary")
                        .hint("Lag measures each secondary against the one server holding the zone as `Primary`"));
                }
                self.check_window(Some(*from), Some(*until))?;
                if max_serials.is_none() && max_lag.is_none() {
                    return Err(self
                        .error_at(zone, "Lag: give max_serials, max_lag, or both".into())
                        .label("no bound")
                        .hint("e.g. `max_serials: 1` (serials behind) or `max_lag: \"5s\"` (time behind)"));
                }
                Ok(())
            }
            Expectation::State { on, zone, at, .. } => {
                self.zone_on(on, zone, None)?;
                self.check_window(Some(*at), None)
            }
        }
    }

    pub(crate) fn check_window(&self, from: Option<Duration>, until: Option<Duration>) -> Result<(), Diagnostic> {
        for (field, value) in [("from", from), ("until", until)] {
            if let Some(value) = value
                && value > self.scenario.duration
            {
                return Err(self
                    .error_at(field, format!("{field} {} is past the end of the scenario", fmt_duration(value)))
                    .label("after the end")
                    .hint(format!("the scenario runs for {}", fmt_duration(self.scenario.duration))));
            }
        }
        if let (Some(from), Some(until)) = (from, until)
            && from > until
        {
            return Err(self
                .error_at("from", format!("window from {} until {} is empty", fmt_duration(from), fmt_duration(until)))
                .label("after `until`")
                .hint("`from` must come before `until`; swap them"));
        }
        Ok(())
    }

    fn check_match(&self, m: &EventMatch) -> Result<(), Diagnostic> {
        self.check_event(&m.on, &m.event, m.zone.as_deref(), &m.params, m.from, m.until)
    }

    fn zone_exists(&self, zone: &str) -> Result<(), Diagnostic> {
        match self.zone_index(zone).is_some() {
            true => Ok(()),
            false => Err(self.unknown_zone(zone, String::new())),
        }
    }

    fn check_event(
        &self,
        on: &str,
        event: &str,
        zone: Option<&str>,
        params: &BTreeMap<String, String>,
        from: Option<Duration>,
        until: Option<Duration>,
    ) -> Result<(), Diagnostic> {
        let server = self.server(on)?;
        let Some(info) = find_event(event) else {
            return Err(self.unknown_event(event));
        };
        if let Some(zone) = zone {
            self.zone_exists(zone)?;
        }
        self.check_role(server, event, info, zone)?;
        self.check_params(info, params)?;
        self.check_client_sources(info, zone, params)?;
        self.check_window(from, until)
    }

    /// A connecting side given as a server name stands for the address the server connects
    /// from; when its zones leave from different addresses and the expectation names no zone
    /// that settles it, the name could mean either, so it is refused rather than guessed.
    fn check_client_sources(
        &self,
        info: &EventInfo,
        zone: Option<&str>,
        params: &BTreeMap<String, String>,
    ) -> Result<(), Diagnostic> {
        for (key, value) in params {
            let is_client = info.params.iter().any(|p| p.name == key && p.kind == ParamKind::Client);
            let Some(index) = self.scenario.server_index(value).filter(|_| is_client) else { continue };
            let server = &self.scenario.servers[index];
            let addresses = client_addresses(server, zone);
            if addresses.len() > 1 {
                let listed: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
                return Err(self
                    .error_at(
                        value,
                        format!(
                            "`{value}` connects from {} (its zones' transfer_source), so parameter `{key}` does not say which",
                            one_of(&listed)
                        ),
                    )
                    .label("more than one address")
                    .hint("give the expectation the `zone` whose transfers it means, or write the address"));
            }
        }
        Ok(())
    }

    fn unknown_event(&self, event: &str) -> Diagnostic {
        let hint = match suggest_event(event) {
            // Said back the way it was asked: an ID as an ID, a name as a name.
            Some(info) if event.trim().bytes().all(|b| b.is_ascii_digit()) => format!(
                "did you mean `{}` ({})? `cargo xtask events` lists every event",
                info.windows_id.map_or_else(String::new, |id| id.to_string()),
                info.name
            ),
            Some(EventInfo { windows_id: Some(id), name, .. }) => {
                format!("did you mean `{name}` ({id})? `cargo xtask events` lists every event")
            }
            Some(info) => format!("did you mean `{}`? `cargo xtask events` lists every event", info.name),
            None => "`cargo xtask events` lists every event, by Windows ID and by name".to_string(),
        };
        self.error_at(event, format!("unknown event `{event}`")).label("not in the event catalog").hint(hint)
    }

    /// An event that only a secondary (or only a primary) emits, expected on a server that is
    /// never one for the zone: the expectation can never see it. `written` is the event as the
    /// file spells it, where the error points.
    fn check_role(
        &self,
        server: &ServerSpec,
        written: &str,
        info: &EventInfo,
        zone: Option<&str>,
    ) -> Result<(), Diagnostic> {
        let (held_as, role_word, why): (fn(&ServerZone) -> bool, _, _) = match info.emitted_by {
            Emitter::Any => return Ok(()),
            Emitter::Secondary => (
                |z| matches!(z, ServerZone::Secondary { .. }),
                "secondary",
                "only a secondary refreshes, transfers a zone in, handles NOTIFY and expires; expect it on a \
                 server that holds the zone as `Secondary`",
            ),
            Emitter::Primary => (
                |z| matches!(z, ServerZone::Primary { .. }),
                "primary",
                "only a primary takes dynamic updates and reloads; expect it on a server that holds the zone \
                 as `Primary`",
            ),
        };
        if server.zones.iter().filter(|z| zone.is_none_or(|zone| self.same_zone(z.zone(), zone))).any(held_as) {
            return Ok(());
        }
        let scope = zone.map_or_else(|| "for any zone".to_string(), |zone| format!("for zone `{zone}`"));
        Err(self
            .error_at(
                written,
                format!("`{}` can never emit {}: it is not a {role_word} {scope}", server.name, event_title(info)),
            )
            .label("never emitted on this server")
            .hint(why))
    }

    fn check_params(&self, info: &EventInfo, params: &BTreeMap<String, String>) -> Result<(), Diagnostic> {
        let known = info.params;
        let names: Vec<&str> = known.iter().map(|p| p.name).collect();
        for (key, value) in params {
            let Some(kind) = known.iter().find(|p| p.name == key).map(|p| p.kind) else {
                let listed = match names.as_slice() {
                    [] => format!("{} has no parameters", event_title(info)),
                    _ => format!("its parameters are {}", one_of(&names)),
                };
                let hint = match did_you_mean(key, names.iter().copied()) {
                    Some(dym) => format!("{dym} {listed}"),
                    None => listed,
                };
                return Err(self
                    .error_at(key, format!("event {} has no parameter `{key}`", event_title(info)))
                    .label("matches nothing")
                    .hint(hint));
            };
            self.check_param_value(key, value, kind)?;
        }
        Ok(())
    }

    fn check_param_value(&self, key: &str, value: &str, kind: ParamKind) -> Result<(), Diagnostic> {
        let s = self.scenario;
        match kind {
            ParamKind::Peer => self.check_peer(value),
            ParamKind::Client | ParamKind::Address => {
                let ok = s.server_index(value).is_some()
                    || value.parse::<IpAddr>().is_ok()
                    || (kind == ParamKind::Client && value.parse::<SocketAddr>().is_ok());
                match ok {
                    true => Ok(()),
                    false => Err(self.not_a_server(value, "is neither a server name nor an IP address")),
                }
            }
            ParamKind::Number => match value.parse::<u64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(self
                    .error_at(value, format!("parameter `{key}` is a number, found `{value}`"))
                    .label("not a number")
                    .hint("write the digits alone, in quotes: `\"2026010102\"`")),
            },
            ParamKind::Text if key == "kind" && !matches!(value, "AXFR" | "IXFR") => Err(self
                .error_at(value, format!("parameter `kind` is `AXFR` or `IXFR`, found `{value}`"))
                .label("never printed")
                .hint_opt(did_you_mean(value, ["AXFR", "IXFR"]))),
            ParamKind::Text => Ok(()),
        }
    }
}

/// The byte position of field `name:` outside strings and comments, if the file has it.
fn item_field(source: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = source.get(from..).and_then(|rest| rest.find(name)) {
        let at = from + offset;
        let after = source[at + name.len()..].trim_start();
        let line_start = source[..at].rfind('\n').map_or(0, |nl| nl + 1);
        let in_comment = source[line_start..at].contains("//");
        let before_ok =
            source[..at].chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '"'));
        if after.starts_with(':') && !in_comment && before_ok {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

fn describe(state: &ZoneState) -> String {
    match state {
        ZoneState::Serving(serial) => format!("Serving({serial})"),
        ZoneState::Expired => "Expired".to_string(),
    }
}

/// The addresses a server's connections for `zone` leave from, as its `client` and
/// `secondary` parameters show them: each zone's `transfer_source`, else the server's address
/// (the network binds each connection to its zone's source before connecting). With no zone
/// named, or one the server does not hold, every zone of the server counts. Sorted, each once.
fn client_addresses(server: &ServerSpec, zone: Option<&str>) -> Vec<IpAddr> {
    let key = |name: &str| parse_origin(name).ok().map(|o| o.key());
    let wanted = zone.and_then(key);
    let holds = |z: &ServerZone| wanted.is_some() && key(z.zone()) == wanted;
    let any_held = server.zones.iter().any(holds);
    let mut addresses: Vec<IpAddr> = server
        .zones
        .iter()
        .filter(|z| !any_held || holds(z))
        .map(|z| z.sources().1.unwrap_or(server.address))
        .collect();
    addresses.sort();
    addresses.dedup();
    if addresses.is_empty() {
        addresses.push(server.address);
    }
    addresses
}

/// An event match as events print it: the catalog's symbolic name and the parameters.
type Normalised = (String, BTreeMap<String, String>);

/// Rewrites expectations' event matches into what events print, so that the harness compares
/// plainly: the event, written by ID or by name in any form [`find_event`] reads, becomes the
/// catalog's symbolic name; in the parameters, a server name or a bare IP becomes `IP:53` for a
/// service address, a server name becomes its IP for a connecting side (whose port the system
/// picks; matching compares its IP) or an address. Runs after the checks, so every event and
/// every reference resolves.
pub(crate) fn normalise_params(scenario: &mut Scenario) {
    let normalised =
        |scenario: &Scenario, event: &str, zone: Option<&str>, params: &BTreeMap<String, String>| -> Normalised {
            let Some(info) = find_event(event) else {
                // Refused by the checks before this runs; left as written if it ever gets here.
                return (event.to_string(), params.clone());
            };
            let params = params
                .iter()
                .map(|(key, value)| {
                    let kind = info.params.iter().find(|p| p.name == key).map(|p| p.kind);
                    let server = scenario.server_index(value).map(|i| &scenario.servers[i]);
                    let value = match (kind, server) {
                        (Some(ParamKind::Peer), _) => {
                            scenario.resolve(value).map_or_else(|| value.clone(), |a| a.to_string())
                        }
                        // The checks refused a server whose zones leave from several addresses.
                        (Some(ParamKind::Client), Some(server)) => client_addresses(server, zone)[0].to_string(),
                        (Some(ParamKind::Address), Some(server)) => server.address.to_string(),
                        _ => value.clone(),
                    };
                    (key.clone(), value)
                })
                .collect();
            (info.name.to_string(), params)
        };
    let rewritten: Vec<Vec<Normalised>> = scenario
        .expect
        .iter()
        .map(|e| match e {
            Expectation::Event { event, zone, params, .. } => {
                vec![normalised(scenario, event, zone.as_deref(), params)]
            }
            Expectation::Before { first, then } => vec![
                normalised(scenario, &first.event, first.zone.as_deref(), &first.params),
                normalised(scenario, &then.event, then.zone.as_deref(), &then.params),
            ],
            _ => vec![],
        })
        .collect();
    for (expectation, new) in scenario.expect.iter_mut().zip(rewritten) {
        let mut new = new.into_iter();
        match expectation {
            Expectation::Event { event, params, .. } => {
                if let Some((name, normalised)) = new.next() {
                    (*event, *params) = (name, normalised);
                }
            }
            Expectation::Before { first, then } => {
                for m in [first, then] {
                    if let Some((name, normalised)) = new.next() {
                        (m.event, m.params) = (name, normalised);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"(
    duration: "2h",
    zones: [(origin: "example.com.", hosts: 1)],
    servers: [
        (name: "ns1", address: "192.0.2.1", zones: [Primary(zone: "example.com.", notify: ["ns2"])]),
        (name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: ["ns1"])]),
    ],
    expect: [
        Event(on: "ns2", event: "6521", params: {"master": "ns1"}),
        Event(on: "ns2", event: "6521", params: {"master": "192.0.2.1"}),
        Event(on: "ns2", event: "6521", params: {"master": "192.0.2.1:5353"}),
        Event(on: "ns1", event: "6001", params: {"secondary": "ns2"}),
        // A comment naming Event( does not move the positions.
        Before(first: (on: "ns2", event: "6522", params: {"master": "ns1"}), then: (on: "ns2", event: "6520")),
    ],
)"#;

    fn params(loaded: &crate::LoadedScenario) -> Vec<String> {
        loaded
            .scenario
            .expect
            .iter()
            .flat_map(|e| match e {
                Expectation::Event { params, .. } => params.values().cloned().collect::<Vec<_>>(),
                Expectation::Before { first, .. } => first.params.values().cloned().collect(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn peers_in_params_are_written_as_everywhere_else() {
        let loaded = match crate::parse(SCENARIO, std::path::Path::new("t.ron")) {
            Ok(loaded) => loaded,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(params(&loaded), ["192.0.2.1:53", "192.0.2.1:53", "192.0.2.1:5353", "192.0.2.2", "192.0.2.1:53"]);
    }

    #[test]
    fn item_starts_skip_strings_and_comments() {
        let source = "[Event(x: \"State(\"), // Lag(\n State (y)]";
        assert_eq!(item_starts(source, 0, EXPECTATION_NAMES), [1, 30]);
    }

    #[test]
    fn events_are_rewritten_to_their_catalog_names() {
        let source = SCENARIO
            .replace(
                r#"event: "6521", params: {"master": "ns1"}"#,
                r#"event: "zone_in_sync", params: {"master": "ns1"}"#,
            )
            .replace(r#"event: "6001""#, r#"event: "Dns_Event_ZoneXfr_Successful""#);
        let loaded = match crate::parse(&source, std::path::Path::new("t.ron")) {
            Ok(loaded) => loaded,
            Err(e) => panic!("{e}"),
        };
        let events: Vec<&str> = loaded
            .scenario
            .expect
            .iter()
            .flat_map(|e| match e {
                Expectation::Event { event, .. } => vec![event.as_str()],
                Expectation::Before { first, then } => vec![first.event.as_str(), then.event.as_str()],
                _ => vec![],
            })
            .collect();
        assert_eq!(
            events,
            [
                "DNS_EVENT_ZONE_IN_SYNC",
                "DNS_EVENT_ZONE_IN_SYNC",
                "DNS_EVENT_ZONE_IN_SYNC",
                "DNS_EVENT_ZONEXFR_SUCCESSFUL",
                "DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS",
                "DNS_EVENT_ZONE_UPDATE",
            ]
        );
        // The parameters of an event written by name are normalised as by ID.
        assert_eq!(params(&loaded), ["192.0.2.1:53", "192.0.2.1:53", "192.0.2.1:5353", "192.0.2.2", "192.0.2.1:53"]);
    }

    #[test]
    fn a_secondary_without_masters_loads_when_503_is_expected_in_any_form() {
        for event in ["503", "DNS_EVENT_SECONDARY_REQUIRES_MASTERS", "secondary_requires_masters"] {
            let source = format!(
                r#"(
    duration: "1h",
    zones: [(origin: "example.com.", hosts: 1)],
    servers: [(name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: [])])],
    expect: [Event(on: "ns2", event: "{event}")],
)"#
            );
            if let Err(e) = crate::parse(&source, std::path::Path::new("t.ron")) {
                panic!("{event}: {e}");
            }
        }
    }

    /// ns2 fetches example.com. from its address and example.org. from its second one, and
    /// example.net. names no source: its own address again.
    fn two_sources(expect: &str) -> Result<crate::LoadedScenario, String> {
        let source = format!(
            r#"(
    duration: "1h",
    zones: [(origin: "example.com."), (origin: "example.org."), (origin: "example.net.")],
    servers: [
        (name: "ns1", address: "192.0.2.1", zones: [
            Primary(zone: "example.com."), Primary(zone: "example.org."), Primary(zone: "example.net."),
        ]),
        (name: "ns2", address: "192.0.2.2", other_addresses: ["198.51.100.2"], zones: [
            Secondary(zone: "example.com.", masters: ["ns1"], transfer_source: "192.0.2.2"),
            Secondary(zone: "example.org.", masters: ["ns1"], transfer_source: "198.51.100.2"),
            Secondary(zone: "example.net.", masters: ["ns1"]),
        ]),
    ],
    expect: [{expect}],
)"#
        );
        crate::parse(&source, std::path::Path::new("t.ron")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_server_name_as_the_connecting_side_is_the_named_zones_source() {
        let loaded = two_sources(
            r#"Event(on: "ns1", event: "6001", zone: "EXAMPLE.org.", params: {"secondary": "ns2"}),
               Event(on: "ns1", event: "6001", zone: "example.net.", params: {"secondary": "ns2"}),
               Before(first: (on: "ns1", event: "6000", zone: "example.org.", params: {"secondary": "ns2"}),
                      then: (on: "ns1", event: "6000", zone: "example.com.", params: {"secondary": "ns2"}))"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<String> = loaded
            .scenario
            .expect
            .iter()
            .flat_map(|e| match e {
                Expectation::Event { params, .. } => params.values().cloned().collect::<Vec<_>>(),
                Expectation::Before { first, then } => {
                    first.params.values().chain(then.params.values()).cloned().collect()
                }
                _ => vec![],
            })
            .collect();
        assert_eq!(all, ["198.51.100.2", "192.0.2.2", "198.51.100.2", "192.0.2.2"]);
    }

    #[test]
    fn a_server_name_leaving_from_several_addresses_needs_a_zone() {
        let Err(error) = two_sources(r#"Event(on: "ns1", event: "6001", params: {"secondary": "ns2"})"#) else {
            panic!("no zone named, yet it loaded");
        };
        assert!(error.contains("`ns2` connects from `192.0.2.2` or `198.51.100.2`"), "{error}");
        // An address written out needs no zone.
        two_sources(r#"Event(on: "ns1", event: "6001", params: {"secondary": "198.51.100.2"})"#)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
