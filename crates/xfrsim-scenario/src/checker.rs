//! The semantic checks of a scenario that parsed: names that exist, addresses that are hosts,
//! limits, timelines that make sense. Expectations are checked in `check_expectations.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use crate::diagnostics::{Diagnostic, did_you_mean, one_of};
use crate::fault::TimedFault;
use crate::model::{Action, Expectation, ServerSpec, ServerZone};
use crate::setup::{lower_timeline, parse_origin};
use crate::{MAX_DURATION, MAX_GENERATED_HOSTS, MAX_LATENCY, MAX_SERVERS, MAX_TIMELINE_STEPS, MAX_ZONES, Scenario};
use xfrsim_zone::{Dname, NameKey};

/// Byte range of the first occurrence of `needle` (quoted first) at or after byte `from`,
/// falling back to the whole text, then to the start.
fn locate(source: &str, needle: &str, from: usize) -> Range<usize> {
    let from = from.min(source.len());
    let quoted = format!("\"{needle}\"");
    let find = |text: &str| {
        source.get(from..).and_then(|rest| rest.find(text)).map(|o| o + from).or_else(|| source.find(text))
    };
    match find(&quoted).map(|at| at..at + quoted.len()).or_else(|| find(needle).map(|at| at..at + needle.len())) {
        Some(range) => range,
        None => 0..0,
    }
}

/// Line and column (1-based) of the first occurrence of `needle`, as [`locate`] finds it.
pub(crate) fn locate_line_col(source: &str, needle: &str, from: usize) -> (usize, usize) {
    crate::diagnostics::line_col(source, locate(source, needle, from).start)
}

pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    pub(crate) scenario: &'a Scenario,
    /// Lookups built once, so checking stays linear in the size of the file.
    server_by_name: BTreeMap<&'a str, usize>,
    hosts: BTreeSet<IpAddr>,
    /// Each zone origin (as RFC 1035 text reads it: case and escapes do not make another zone),
    /// with its place in `zones`.
    zone_by_origin: BTreeMap<NameKey, usize>,
    /// Origins in `zones` that are no domain name (reported once, where they are defined).
    bad_origins: BTreeSet<&'a str>,
    /// (server, zone) → whether the server holds the zone as primary.
    held: BTreeMap<(usize, usize), bool>,
    /// The lowered timeline, once every name in the file resolved.
    timeline: RefCell<Option<Vec<TimedFault>>>,
    /// Every fault found so far: checking goes on after one, so a file's faults come at once.
    pub(crate) errors: RefCell<Vec<Diagnostic>>,
    /// Where in the source the item being checked starts: errors point at the first
    /// occurrence of their needle from here on (a name can appear in many places).
    pub(crate) anchor: Cell<usize>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(source: &'a str, scenario: &'a Scenario) -> Self {
        let server_by_name = scenario.servers.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let hosts = scenario.host_addresses();
        let mut zone_by_origin = BTreeMap::new();
        let mut bad_origins = BTreeSet::new();
        for (index, zone) in scenario.zones.iter().enumerate() {
            match parse_origin(&zone.origin) {
                Ok(origin) => {
                    zone_by_origin.entry(origin.key()).or_insert(index);
                }
                Err(_) => {
                    bad_origins.insert(zone.origin.as_str());
                }
            }
        }
        let mut held = BTreeMap::new();
        for (server, spec) in scenario.servers.iter().enumerate() {
            for zone in &spec.zones {
                let Some(&index) = parse_origin(zone.zone()).ok().and_then(|o| zone_by_origin.get(&o.key())) else {
                    continue;
                };
                held.entry((server, index)).or_insert(matches!(zone, ServerZone::Primary { .. }));
            }
        }
        Checker {
            source,
            scenario,
            server_by_name,
            hosts,
            zone_by_origin,
            bad_origins,
            held,
            timeline: RefCell::new(None),
            errors: RefCell::new(Vec::new()),
            anchor: Cell::new(0),
        }
    }

    /// An error placed at the first occurrence of `needle` (quoted when it is a name).
    pub(crate) fn error_at(&self, needle: &str, message: String) -> Diagnostic {
        Diagnostic::at(self.source, locate(self.source, needle, self.anchor.get()), message)
    }

    /// Keeps a fault and goes on checking.
    pub(crate) fn keep(&self, result: Result<(), Diagnostic>) {
        if let Err(diagnostic) = result {
            self.errors.borrow_mut().push(diagnostic);
        }
    }

    /// Every fault in the scenario, in file order section by section; one per item at most,
    /// as the first fault of an item often causes the next.
    pub(crate) fn check(&self) -> Vec<Diagnostic> {
        let s = self.scenario;
        let end = s.duration;
        self.keep((|| {
            if end.is_zero() {
                return Err(self
                    .error_at("duration", "duration must be greater than zero".into())
                    .label("zero")
                    .hint("give how long to run, e.g. `duration: \"8h\"`"));
            }
            if end > MAX_DURATION {
                let days = MAX_DURATION.as_secs() / 86_400;
                return Err(self
                    .error_at(
                        "duration:",
                        format!("duration {} is longer than the limit of {days} days", fmt_duration(end)),
                    )
                    .label("too long")
                    .hint("a scenario runs for at most a year of simulated time (MAX_DURATION)"));
            }
            for (field, value) in [("min_latency", s.network.min_latency), ("max_latency", s.network.max_latency)] {
                self.check_latency(field, value)?;
            }
            if s.servers.len() > MAX_SERVERS {
                return Err(self
                    .error_at("servers", format!("{} servers; the limit is {MAX_SERVERS}", s.servers.len()))
                    .label("too many servers")
                    .hint("split the scenario; each server is a node, a host and its sockets"));
            }
            if s.zones.len() > MAX_ZONES {
                return Err(self
                    .error_at("zones", format!("{} zones; the limit is {MAX_ZONES}", s.zones.len()))
                    .label("too many zones")
                    .hint("split the scenario; every zone is built before the run and held by each of its servers (MAX_ZONES)"));
            }
            self.check_ms("duration", end)?;
            if s.network.min_latency > s.network.max_latency {
                return Err(self
                    .error_at("min_latency", "min_latency is greater than max_latency".into())
                    .label("above max_latency")
                    .hint("each packet's latency is drawn between the two: make min_latency at most max_latency"));
            }
            Ok(())
        })());
        // Zones.
        let mut origins = BTreeSet::new();
        for zone in &s.zones {
            if s.zones.len() > MAX_ZONES {
                break;
            }
            self.keep((|| {
            if !zone.origin.ends_with('.') {
                return Err(self
                    .error_at(&zone.origin, format!("zone origin `{}` must be absolute (end with `.`)", zone.origin)).label("not absolute").hint("write the origin with its trailing dot, e.g. `\"example.com.\"`"));
            }
            // Read as zone files read names (RFC 1035 §5.1: `\DDD` is decimal), so a scenario's
            // zone and its file's `$ORIGIN` are the same name.
            let origin = match Dname::from_text(zone.origin.as_bytes(), &Dname::root()) {
                Ok(origin) => origin,
                Err(e) => return Err(
                    self.error_at(&zone.origin, format!("zone origin `{}` is not a domain name: {e}", zone.origin)).label("not a domain name").hint("labels of at most 63 bytes each, 255 in all; `\\.` and `\\DDD` (decimal, RFC 1035 §5.1) escape a byte")
                ),
            };
            if !origins.insert(origin) {
                return Err(self.error_at(&zone.origin, format!("zone `{}` is defined twice", zone.origin)).label("second definition").hint("give each zone once in `zones` (names differing only in case are one zone); several servers can hold the same zone"));
            }
            if zone.hosts > MAX_GENERATED_HOSTS {
                return Err(self.error_at(
                    "hosts",
                    format!("zone `{}`: {} hosts; the limit is {MAX_GENERATED_HOSTS}", zone.origin, zone.hosts),
                ).label("too many hosts").hint("each generated host is two records built before the run; use a master `file:` for more data"));
            }
            for (what, value) in [("refresh", zone.refresh), ("retry", zone.retry), ("expire", zone.expire)] {
                if value.as_secs() == 0 || value.subsec_nanos() != 0 || value.as_secs() > u64::from(i32::MAX as u32) {
                    return Err(self
                        .error_at(what, format!("zone `{}`: {what} must be whole seconds, at least 1s", zone.origin)).label("not whole seconds").hint("SOA timers are 32-bit seconds: write e.g. `\"1h\"`, `\"10m\"`, `\"90s\"`"));
                }
            }
            Ok(())
            })());
        }
        // Hosts and servers.
        let mut names = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for server in &s.servers {
            self.keep((|| {
            if !names.insert(server.name.as_str()) {
                return Err(self.error_at(&server.name, format!("server `{}` is defined twice", server.name)).label("second definition").hint("server names must be unique: rename one of them"));
            }
            if server.name.parse::<IpAddr>().is_ok() || server.name.contains(':') || server.name.contains(' ') {
                return Err(self.error_at(
                    &server.name,
                    format!("server name `{}` must not be an address or contain spaces", server.name),
                ).label("not a name").hint("a server name is a word like `ns1`; its address goes in `address`"));
            }
            let behaviour = match server.options.behaviour(server.profile) {
                Ok(behaviour) => behaviour,
                Err(e) => return Err(self.error_at(&server.name, format!("server `{}` options: {e}", server.name)).label("options out of range").hint("see the profile table in docs/scenarios.md for each option's meaning and limits")),
            };
            for zone in &server.zones {
                if let Err(e) = zone.options().check_zone(&behaviour) {
                    return Err(self.error_at(
                        &server.name,
                        format!("server `{}`, zone `{}` options: {e}", server.name, zone.zone()),
                    ).label("not for this zone").hint("docs/scenarios.md lists the options a zone takes; the others go in the server's `options`"));
                }
            }
            for ip in server.addresses() {
                self.host_address(ip)?;
                if !addresses.insert(ip) {
                    return Err(self.error_at(&ip.to_string(), format!("address {ip} is used twice")).label("used again").hint("each address belongs to one server or host"));
                }
            }
            for zone in &server.zones {
                let (notify_source, transfer_source) = zone.sources();
                for (option, ip) in [("notify_source", notify_source), ("transfer_source", transfer_source)] {
                    if let Some(ip) = ip.filter(|ip| !server.addresses().any(|own| own == *ip)) {
                        return Err(self.error_at(
                            &ip.to_string(),
                            format!("server `{}`: {option} {ip} is not one of its addresses", server.name),
                        ).label("not this server's").hint("list it in the server's `address` or `other_addresses` first"));
                    }
                }
            }
            Ok(())
            })());
        }
        for ip in s.silent_hosts.iter().chain(&s.closed_hosts) {
            self.keep(self.host_address(*ip));
            if !addresses.insert(*ip) {
                self.keep(Err(self
                    .error_at(&ip.to_string(), format!("address {ip} is used twice"))
                    .label("used again")
                    .hint("each address belongs to one server or host")));
            }
        }
        let expected_503: BTreeSet<&str> = s
            .expect
            .iter()
            .filter_map(|e| match e {
                // Read by the catalog's one rule, so `503` and `secondary_requires_masters` count.
                Expectation::Event { on, event, .. }
                    if xfrsim_engine::find_event(event)
                        .is_some_and(|info| info.name == xfrsim_engine::EventKind::SecondaryRequiresMasters.name()) =>
                {
                    Some(on.as_str())
                }
                _ => None,
            })
            .collect();
        for server in &s.servers {
            self.anchor_at(&format!("\"{}\"", server.name), 0);
            let mut held = BTreeSet::new();
            for zone in &server.zones {
                self.keep((|| {
                let Some(index) = self.zone_index(zone.zone()) else {
                    if self.bad_origins.contains(zone.zone()) {
                        return Ok(()); // Reported where the zone is defined.
                    }
                    return Err(self.unknown_zone(zone.zone(), format!("server `{}`: ", server.name)));
                };
                if !held.insert(index) {
                    return Err(self.error_at(
                        zone.zone(),
                        format!("server `{}` holds zone `{}` twice", server.name, zone.zone()),
                    ).label("held twice").hint("list each zone once per server"));
                }
                let (masters, notify, acl): (&[String], &[String], &Option<Vec<String>>) = match zone {
                    ServerZone::Primary { notify, allow_transfer, .. } => (&[], notify, allow_transfer),
                    ServerZone::Secondary { masters, notify, allow_transfer, .. } => {
                        if masters.is_empty() && !expected_503.contains(server.name.as_str()) {
                            return Err(self.error_at(
                                zone.zone(),
                                format!(
                                    "server `{}`: secondary zone `{}` has no masters; list at least one, or expect event 503 on `{}` if that is the point",
                                    server.name,
                                    zone.zone(),
                                    server.name
                                ),
                            ).label("no masters").hint("add `masters: [\"ns1\"]` (a server name, IP or IP:port)"));
                        }
                        (masters, notify, allow_transfer)
                    }
                };
                for peer in masters.iter().chain(notify).chain(acl.iter().flatten()) {
                    self.check_peer(peer)?;
                }
                Ok(())
                })());
            }
        }
        // Timeline. Each step's errors point at its own `action:` (found by moving on from the
        // last one, so loading stays linear in the number of steps).
        self.anchor_at("timeline", 0);
        let positions = self.action_positions();
        let mut expanded: u64 = 0;
        for (i, step) in s.timeline.iter().enumerate() {
            if let Some(&at) = positions.get(i) {
                self.anchor.set(at);
            }
            self.keep((|| {
                self.check_ms("at", step.at)?;
                if step.at > end {
                    return Err(self
                        .error_at(
                            &humantime_serde::re::humantime::format_duration(step.at).to_string(),
                            format!(
                                "timeline step at {} is past the end of the scenario ({})",
                                fmt_duration(step.at),
                                fmt_duration(end)
                            ),
                        )
                        .label("after the end")
                        .hint("move the step before the end, or lengthen `duration`"));
                }
                self.check_action(&step.action)
            })());
            expanded = expanded.saturating_add(match &step.action {
                Action::Updates { every, until, .. } if *until >= step.at => {
                    let span = until.saturating_sub(step.at).as_millis();
                    u64::try_from(span / every.as_millis().max(1)).unwrap_or(u64::MAX).saturating_add(1)
                }
                Action::Updates { .. } => 0,
                _ => 1,
            });
            if expanded > MAX_TIMELINE_STEPS {
                self.keep(Err(self
                    .error_at(
                        "action:",
                        format!(
                            "the timeline expands to more than {MAX_TIMELINE_STEPS} steps (Updates count one each)"
                        ),
                    )
                    .label("too many steps")
                    .hint("make `every` longer or the `Updates` window shorter")));
                break;
            }
        }
        // Held links are followed on the lowered timeline, where every end is an address; it
        // can only be lowered once every name in it resolves.
        if self.errors.borrow().is_empty() {
            match lower_timeline(s) {
                Ok(timeline) => {
                    self.keep(self.check_holds(&timeline));
                    *self.timeline.borrow_mut() = Some(timeline);
                }
                Err(e) => self.keep(Err(self
                    .error_at("timeline", format!("cannot lower the timeline: {e}"))
                    .label("passed the checks, yet does not resolve")
                    .hint("this is a bug in xfrsim's loader: please report it with this file"))),
            }
        }
        self.check_expectations();
        self.errors.take()
    }

    /// The timeline as [`Checker::check`] lowered it (`None` when the file had faults).
    pub(crate) fn take_timeline(&self) -> Option<Vec<TimedFault>> {
        self.timeline.take()
    }

    /// Where each timeline step's `action:` is in the source, in order (one pass: errors about
    /// step `i` point at `positions[i]`, and loading stays linear in the number of steps).
    pub(crate) fn action_positions(&self) -> Vec<usize> {
        let start = self.source.find("timeline").unwrap_or(0);
        self.source[start..].match_indices("action:").map(|(offset, _)| start + offset).collect()
    }

    /// Moves the anchor to the first occurrence of `token` at or after `from`.
    pub(crate) fn anchor_at(&self, token: &str, from: usize) {
        if let Some(offset) = self.source[from..].find(token) {
            self.anchor.set(from + offset);
        }
    }

    /// Moves the anchor to the `n`-th occurrence of `token` after the first `section`.
    pub(crate) fn anchor_nth(&self, token: &str, n: usize, section: &str) {
        let start = self.source.find(section).unwrap_or(0);
        if let Some((offset, _)) = self.source[start..].match_indices(token).nth(n) {
            self.anchor.set(start + offset);
        }
    }

    pub(crate) fn link_ends(&self, a: &str, b: &str) -> Result<(), Diagnostic> {
        self.link_end(a)?;
        self.link_end(b)?;
        if a == b {
            return Err(self
                .error_at(a, format!("a link needs two different ends, got `{a}` twice"))
                .label("same end twice")
                .hint("name two different servers or hosts"));
        }
        Ok(())
    }

    pub(crate) fn check_latency(&self, field: &str, value: Duration) -> Result<(), Diagnostic> {
        if value > MAX_LATENCY {
            return Err(self
                .error_at(
                    field,
                    format!("{field} {} is longer than the limit, {}", fmt_duration(value), fmt_duration(MAX_LATENCY)),
                )
                .label("too long")
                .hint("one-way latency and jitter are at most 60s (a satellite hop is 0.6s)"));
        }
        self.check_ms(field, value)
    }

    pub(crate) fn check_ms(&self, field: &str, value: Duration) -> Result<(), Diagnostic> {
        if !value.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(self
                .error_at(
                    field,
                    format!("{field}: {} is finer than the simulation's 1 ms resolution", fmt_duration(value)),
                )
                .label("below 1 ms")
                .hint("round it to whole milliseconds, e.g. `\"1ms\"`"));
        }
        Ok(())
    }

    /// An address a simulated host can have: one unicast address of a network interface.
    /// Loopback and the unspecified address belong to every host, multicast and broadcast to
    /// groups, so none can tell one machine from another (RFC 1122 §3.2.1.3, RFC 4291 §2.5).
    pub(crate) fn host_address(&self, ip: IpAddr) -> Result<(), Diagnostic> {
        let what = match ip {
            ip if ip.is_loopback() => "a loopback address",
            ip if ip.is_unspecified() => "the unspecified address",
            ip if ip.is_multicast() => "a multicast address",
            IpAddr::V4(v4) if v4.is_broadcast() => "the broadcast address",
            _ => return Ok(()),
        };
        Err(self
            .error_at(&ip.to_string(), format!("{ip} is {what}: no single host has it"))
            .label("not a host's address")
            .hint("give each server and host a unicast address of its own, e.g. from 192.0.2.0/24 or 2001:db8::/32 (documentation ranges)"))
    }

    pub(crate) fn check_peer(&self, reference: &str) -> Result<(), Diagnostic> {
        let addr = match self.server_by_name.get(reference) {
            Some(&index) => self.scenario.servers[index].address,
            None => match crate::parse_peer(reference) {
                Some(addr) => addr.ip(),
                None => return Err(self.not_a_server(reference, "is neither a server name nor an IP address")),
            },
        };
        if !self.hosts.contains(&addr) {
            return Err(self
                .error_at(reference, format!("address {addr} is not a host of this scenario"))
                .label("nothing is at this address")
                .hint(
                    "add it to `silent_hosts` (nothing answers) or `closed_hosts` (no DNS service), or name a server",
                ));
        }
        Ok(())
    }

    pub(crate) fn server(&self, name: &str) -> Result<&ServerSpec, Diagnostic> {
        match self.server_by_name.get(name) {
            Some(&index) => Ok(&self.scenario.servers[index]),
            None => Err(self.not_a_server(name, "is not a server")),
        }
    }

    /// Whether two zone names written in the file name the same zone of the scenario.
    pub(crate) fn same_zone(&self, a: &str, b: &str) -> bool {
        a == b || self.zone_index(a).is_some_and(|z| self.zone_index(b) == Some(z))
    }

    /// The place in `zones` of the zone `text` names (case and escapes as RFC 1035 reads them).
    pub(crate) fn zone_index(&self, text: &str) -> Option<usize> {
        parse_origin(text).ok().and_then(|origin| self.zone_by_origin.get(&origin.key()).copied())
    }

    /// `name` names no server: the error, with the nearest server name when one is close.
    pub(crate) fn not_a_server(&self, name: &str, what: &str) -> Diagnostic {
        let names: Vec<&str> = self.scenario.servers.iter().map(|s| s.name.as_str()).collect();
        let known = format!("the servers are {}", one_of(&names));
        let hint = match did_you_mean(name, names.iter().copied()) {
            Some(dym) => format!("{dym} {known}"),
            None => format!("{known}; a peer may also be an IP address or IP:port"),
        };
        self.error_at(name, format!("`{name}` {what}")).label("unknown name").hint(hint)
    }

    /// `zone` is not a zone of the scenario: the error, with what was probably meant (most
    /// often the trailing dot left out).
    pub(crate) fn unknown_zone(&self, zone: &str, context: String) -> Diagnostic {
        let origins: Vec<&str> = self.scenario.zones.iter().map(|z| z.origin.as_str()).collect();
        let dotted = format!("{zone}.");
        let hint = if origins.contains(&dotted.as_str()) {
            format!("did you mean `{dotted}`? zone names are absolute: they end with `.`")
        } else {
            match did_you_mean(zone, origins.iter().copied()) {
                Some(dym) => format!("{dym} the zones are {}", one_of(&origins)),
                None => format!("the zones are {}", one_of(&origins)),
            }
        };
        self.error_at(zone, format!("{context}zone `{zone}` is not in `zones`")).label("unknown zone").hint(hint)
    }

    pub(crate) fn link_end(&self, reference: &str) -> Result<(), Diagnostic> {
        if self.server_by_name.contains_key(reference) {
            return Ok(());
        }
        match reference.parse::<IpAddr>() {
            Ok(ip) if self.hosts.contains(&ip) => Ok(()),
            _ => Err(self.not_a_server(reference, "is not a server or host")),
        }
    }

    pub(crate) fn zone_on(&self, server: &str, zone: &str, want_primary: Option<bool>) -> Result<(), Diagnostic> {
        let spec = self.server(server)?;
        let index = self.server_by_name[server];
        let held = self.zone_index(zone).and_then(|z| self.held.get(&(index, z)).copied());
        let Some(primary) = held else {
            if self.zone_index(zone).is_none() {
                return Err(self.unknown_zone(zone, String::new()));
            }
            let held: Vec<&str> = spec.zones.iter().map(ServerZone::zone).collect();
            return Err(self
                .error_at(zone, format!("server `{server}` does not hold zone `{zone}`"))
                .label("not on this server")
                .hint(format!("`{server}` holds {}", one_of(&held))));
        };
        match (want_primary, primary) {
            (Some(true), false) => Err(self
                .error_at(zone, format!("zone `{zone}` is a secondary on `{server}`; this action needs its primary"))
                .label("a secondary here")
                .hint(
                    "Update, Updates, Rollback and RestartWithSerial act on the server holding the zone as `Primary`",
                )),
            (Some(false), true) => Err(self
                .error_at(zone, format!("zone `{zone}` is a primary on `{server}`; this action needs a secondary"))
                .label("a primary here")
                .hint("SetMasters and Refresh act on a server holding the zone as `Secondary`")),
            _ => Ok(()),
        }
    }
}

/// A duration as scenario files write it (`1d 2h 3m 4s 5ms`).
pub fn fmt_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}
