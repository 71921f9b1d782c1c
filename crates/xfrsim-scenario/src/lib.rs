//! The xfrsim scenario format: one RON file describing servers, zones, a timeline of faults and
//! operator actions, and expectations. See `docs/scenarios.md` for the user's guide.
//!
//! [`load`] parses and validates; every error renders as `path:line:col: message`.

mod model;
mod node;
mod zones;

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use model::*;
pub use node::{
    LoadedNode, NodeFile, NodeZone, NodeZoneError, ZoneFileData, load_node, parse_node, parse_peer, read_zone_file,
};
pub use zones::{ZoneLoadError, build_zone, generated_zone};

/// The seed used when neither the command line nor the file gives one.
pub const DEFAULT_SEED: u64 = 6523;

// Limits on what one scenario file may ask for, checked when it loads, before anything is
// built: what a run costs grows with each of them (docs/scenarios.md, "Limits").

/// The largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// The longest simulated duration: a year. Every time in the file is bounded by it, so no
/// time arithmetic can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);
/// Timeline steps once `Updates` are expanded into single updates.
pub const MAX_TIMELINE_STEPS: u64 = 1_000_000;
/// Servers in one scenario.
pub const MAX_SERVERS: usize = 1_000;
/// Generated hosts in one zone (each is two records).
pub const MAX_GENERATED_HOSTS: u32 = 1_000_000;
/// One-way latency or jitter of a link (a geostationary satellite hop is 0.6 s).
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

/// A scenario that loaded and passed every check, with what it was loaded from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    pub scenario: Scenario,
    pub path: PathBuf,
    pub name: String,
    /// Each zone of `scenario.zones`, in order, as its primaries load it.
    pub zones: Vec<xfrsim_zone::Zone>,
    /// What loading the zone files warned about (BIND's warnings: out-of-zone data skipped,
    /// TTLs unified within an RRset).
    pub zone_warnings: Vec<xfrsim_zone::ZoneFileWarning>,
}

/// A scenario that cannot run, with the position of the fault in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            // Not a position in the text (the file could not be read at all).
            0 => write!(f, "{}: {}", self.path, self.message),
            line => write!(f, "{}:{line}:{}: {}", self.path, self.col, self.message),
        }
    }
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let error = |message: String| ScenarioError { path: path.display().to_string(), line: 0, col: 0, message };
    // A FIFO or a device named `x.ron` would block the read, or never end: regular files only.
    let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read scenario: {e}")))?;
    if !meta.is_file() {
        return Err(error("cannot read scenario: not a regular file".into()));
    }
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err(error(format!("scenario is {} bytes; the limit is {MAX_SCENARIO_BYTES}", meta.len())));
    }
    let source = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read scenario: {e}")))?;
    parse(&source, path)
}

/// Parses and validates scenario text; `path` names it in errors and anchors relative paths.
pub fn parse(source: &str, path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let shown = path.display().to_string();
    let scenario: Scenario = ron_options().from_str(source).map_err(|e| ScenarioError {
        path: shown.clone(),
        line: e.span.start.line,
        col: e.span.start.col,
        message: lower_first(&e.code.to_string()),
    })?;
    let name = scenario.name.clone().unwrap_or_else(|| {
        path.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
    });
    let checker = Checker { source, path: &shown, scenario: &scenario, anchor: std::cell::Cell::new(0) };
    checker.check()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A zone file is read as the server holding the zone as primary reads it.
    let rrset_ttl = |origin: &str| {
        let primary = scenario
            .servers
            .iter()
            .find(|s| s.zones.iter().any(|z| matches!(z, model::ServerZone::Primary { zone, .. } if zone == origin)));
        xfrsim_engine::Behaviour::of(primary.map_or(ServerProfile::Bind, |s| s.profile).engine()).rrset_ttl
    };
    let (zones, zone_warnings) = zones::build_all(&scenario.zones, dir, rrset_ttl).map_err(|(index, e)| {
        // Point at this zone's `file:` value (the same file may serve several zones).
        let spec = &scenario.zones[index];
        checker.anchor_nth(&format!("\"{}\"", spec.origin), 0, "zones");
        checker.error_at(spec.file.as_deref().unwrap_or(&spec.origin), format!("zone `{}`: {e}", spec.origin))
    })?;
    Ok(LoadedScenario { scenario, path: path.to_path_buf(), name, zones, zone_warnings })
}

/// RON as every xfrsim file is read: `Some` implied, newtype variants unwrapped.
fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Line and column (1-based) of the first occurrence of `needle` (quoted first) at or after
/// byte `from`, falling back to the whole text, then to 1:1.
fn locate(source: &str, needle: &str, from: usize) -> (usize, usize) {
    let quoted = format!("\"{needle}\"");
    let find = |text: &str| source[from..].find(text).map(|o| o + from).or_else(|| source.find(text));
    match find(&quoted).or_else(|| find(needle)) {
        Some(offset) => {
            let before = &source[..offset];
            let line = before.matches('\n').count() + 1;
            let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
            (line, col)
        }
        None => (1, 1),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a peer reference points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Server(usize),
    Address(SocketAddr),
}

impl Scenario {
    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Resolves a peer reference (server name, `IP` or `IP:port`) to a socket address.
    pub fn resolve(&self, reference: &str) -> Option<SocketAddr> {
        if let Some(i) = self.server_index(reference) {
            return Some(SocketAddr::new(self.servers[i].address, 53));
        }
        reference
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| reference.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
    }

    /// Every address a host exists at: servers, silent hosts, closed hosts.
    pub fn host_addresses(&self) -> BTreeSet<IpAddr> {
        self.servers
            .iter()
            .flat_map(ServerSpec::addresses)
            .chain(self.silent_hosts.iter().copied())
            .chain(self.closed_hosts.iter().copied())
            .collect()
    }

    /// The timeline with `Updates` expanded into single updates, in time order (stable).
    pub fn expanded_timeline(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for step in &self.timeline {
            match &step.action {
                Action::Updates { server, zone, every, until } => {
                    let mut at = step.at;
                    while at <= *until {
                        steps.push(Step { at, action: Action::Update { server: server.clone(), zone: zone.clone() } });
                        at += *every;
                    }
                }
                _ => steps.push(step.clone()),
            }
        }
        steps.sort_by_key(|s| s.at);
        steps
    }
}

struct Checker<'a> {
    source: &'a str,
    path: &'a str,
    scenario: &'a Scenario,
    /// Where in the source the item being checked starts: errors point at the first
    /// occurrence of their needle from here on (a name can appear in many places).
    anchor: std::cell::Cell<usize>,
}

impl Checker<'_> {
    /// An error placed at the first occurrence of `needle` (quoted when it is a name).
    fn error_at(&self, needle: &str, message: String) -> ScenarioError {
        let (line, col) = locate(self.source, needle, self.anchor.get());
        ScenarioError { path: self.path.to_string(), line, col, message }
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let s = self.scenario;
        let end = s.duration;
        if end.is_zero() {
            return Err(self.error_at("duration", "duration must be greater than zero".into()));
        }
        if end > MAX_DURATION {
            let days = MAX_DURATION.as_secs() / 86_400;
            return Err(self.error_at(
                "duration:",
                format!("duration {} is longer than the limit of {days} days", fmt_duration(end)),
            ));
        }
        for (field, value) in [("min_latency", s.network.min_latency), ("max_latency", s.network.max_latency)] {
            self.check_latency(field, value)?;
        }
        if s.servers.len() > MAX_SERVERS {
            return Err(self.error_at("servers", format!("{} servers; the limit is {MAX_SERVERS}", s.servers.len())));
        }
        self.check_ms("duration", end)?;
        if s.network.min_latency > s.network.max_latency {
            return Err(self.error_at("min_latency", "min_latency is greater than max_latency".into()));
        }
        // Zones.
        let mut origins = BTreeSet::new();
        for zone in &s.zones {
            if !zone.origin.ends_with('.') {
                return Err(self
                    .error_at(&zone.origin, format!("zone origin `{}` must be absolute (end with `.`)", zone.origin)));
            }
            if !origins.insert(zone.origin.as_str()) {
                return Err(self.error_at(&zone.origin, format!("zone `{}` is defined twice", zone.origin)));
            }
            if let Err(e) = hickory_proto::rr::Name::from_ascii(&zone.origin) {
                return Err(
                    self.error_at(&zone.origin, format!("zone origin `{}` is not a domain name: {e}", zone.origin))
                );
            }
            if zone.hosts > MAX_GENERATED_HOSTS {
                return Err(self.error_at(
                    "hosts",
                    format!("zone `{}`: {} hosts; the limit is {MAX_GENERATED_HOSTS}", zone.origin, zone.hosts),
                ));
            }
            for (what, value) in [("refresh", zone.refresh), ("retry", zone.retry), ("expire", zone.expire)] {
                if value.as_secs() == 0 || value.subsec_nanos() != 0 || value.as_secs() > u64::from(i32::MAX as u32) {
                    return Err(self
                        .error_at(what, format!("zone `{}`: {what} must be whole seconds, at least 1s", zone.origin)));
                }
            }
        }
        // Hosts and servers.
        let mut names = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for server in &s.servers {
            if !names.insert(server.name.as_str()) {
                return Err(self.error_at(&server.name, format!("server `{}` is defined twice", server.name)));
            }
            if server.name.parse::<IpAddr>().is_ok() || server.name.contains(':') || server.name.contains(' ') {
                return Err(self.error_at(
                    &server.name,
                    format!("server name `{}` must not be an address or contain spaces", server.name),
                ));
            }
            let behaviour = match server.options.behaviour(server.profile) {
                Ok(behaviour) => behaviour,
                Err(e) => return Err(self.error_at(&server.name, format!("server `{}` options: {e}", server.name))),
            };
            for zone in &server.zones {
                if let Err(e) = zone.options().check_zone(server.profile, &behaviour) {
                    return Err(self.error_at(
                        &server.name,
                        format!("server `{}`, zone `{}` options: {e}", server.name, zone.zone()),
                    ));
                }
            }
            for ip in server.addresses() {
                if !addresses.insert(ip) {
                    return Err(self.error_at(&ip.to_string(), format!("address {ip} is used twice")));
                }
            }
            let mut transfer_source = None;
            for zone in &server.zones {
                let (notify_source, zone_transfer_source) = zone.sources();
                for (option, ip) in [("notify_source", notify_source), ("transfer_source", zone_transfer_source)] {
                    if let Some(ip) = ip.filter(|ip| !server.addresses().any(|own| own == *ip)) {
                        return Err(self.error_at(
                            &ip.to_string(),
                            format!("server `{}`: {option} {ip} is not one of its addresses", server.name),
                        ));
                    }
                }
                // turmoil-net opens every TCP connection of a host from the host's first
                // address, so one transfer source per server is what the simulation can honour.
                if let Some(ip) = zone_transfer_source {
                    if transfer_source.is_some_and(|other| other != ip) {
                        return Err(self.error_at(
                            &ip.to_string(),
                            format!(
                                "server `{}`: zones with different transfer_source addresses; the simulated network opens every TCP connection of a server from one address",
                                server.name
                            ),
                        ));
                    }
                    transfer_source = Some(ip);
                }
            }
        }
        for ip in s.silent_hosts.iter().chain(&s.closed_hosts) {
            if !addresses.insert(*ip) {
                return Err(self.error_at(&ip.to_string(), format!("address {ip} is used twice")));
            }
        }
        let expected_503: BTreeSet<&str> = s
            .expect
            .iter()
            .filter_map(|e| match e {
                Expectation::Event { on, event, .. }
                    if event == "503" || event == "DNS_EVENT_SECONDARY_REQUIRES_MASTERS" =>
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
                if !origins.contains(zone.zone()) {
                    return Err(self.error_at(
                        zone.zone(),
                        format!("server `{}`: zone `{}` is not in `zones`", server.name, zone.zone()),
                    ));
                }
                if !held.insert(zone.zone()) {
                    return Err(self.error_at(
                        zone.zone(),
                        format!("server `{}` holds zone `{}` twice", server.name, zone.zone()),
                    ));
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
                            ));
                        }
                        (masters, notify, allow_transfer)
                    }
                };
                for peer in masters.iter().chain(notify).chain(acl.iter().flatten()) {
                    self.check_peer(peer)?;
                }
            }
        }
        // Timeline. Each step's errors point at its own `action:` (found by moving on from the
        // last one, so loading stays linear in the number of steps).
        self.anchor_at("timeline", 0);
        self.check_holds()?;
        let positions = self.action_positions();
        let mut expanded: u64 = 0;
        for (i, step) in s.timeline.iter().enumerate() {
            if let Some(&at) = positions.get(i) {
                self.anchor.set(at);
            }
            self.check_ms("at", step.at)?;
            if step.at > end {
                return Err(self.error_at(
                    &humantime_serde::re::humantime::format_duration(step.at).to_string(),
                    format!(
                        "timeline step at {} is past the end of the scenario ({})",
                        fmt_duration(step.at),
                        fmt_duration(end)
                    ),
                ));
            }
            self.check_action(&step.action)?;
            expanded = expanded.saturating_add(match &step.action {
                Action::Updates { every, until, .. } if *until >= step.at => {
                    let span = until.saturating_sub(step.at).as_millis();
                    u64::try_from(span / every.as_millis().max(1)).unwrap_or(u64::MAX).saturating_add(1)
                }
                Action::Updates { .. } => 0,
                _ => 1,
            });
            if expanded > MAX_TIMELINE_STEPS {
                return Err(self.error_at(
                    "action:",
                    format!("the timeline expands to more than {MAX_TIMELINE_STEPS} steps (Updates count one each)"),
                ));
            }
        }
        // Expectations.
        self.anchor_at("expect", 0);
        for expectation in &s.expect {
            self.check_expectation(expectation)?;
        }
        Ok(())
    }

    /// Where each timeline step's `action:` is in the source, in order (one pass: errors about
    /// step `i` point at `positions[i]`, and loading stays linear in the number of steps).
    fn action_positions(&self) -> Vec<usize> {
        let start = self.source.find("timeline").unwrap_or(0);
        self.source[start..].match_indices("action:").map(|(offset, _)| start + offset).collect()
    }

    /// Moves the anchor to the first occurrence of `token` at or after `from`.
    fn anchor_at(&self, token: &str, from: usize) {
        if let Some(offset) = self.source[from..].find(token) {
            self.anchor.set(from + offset);
        }
    }

    /// Moves the anchor to the `n`-th occurrence of `token` after the first `section`.
    fn anchor_nth(&self, token: &str, n: usize, section: &str) {
        let start = self.source.find(section).unwrap_or(0);
        if let Some((offset, _)) = self.source[start..].match_indices(token).nth(n) {
            self.anchor.set(start + offset);
        }
    }

    /// A held link keeps its queued traffic until `Release`; cutting or healing it meanwhile
    /// would leave that traffic in limbo, so the timeline must release it first. Links to
    /// silent hosts are held for good and cannot be touched at all.
    fn check_holds(&self) -> Result<(), ScenarioError> {
        let s = self.scenario;
        let ip = |reference: &str| s.resolve(reference).map(|a| a.ip());
        let silent = |reference: &str| ip(reference).is_some_and(|a| s.silent_hosts.contains(&a));
        let positions = self.action_positions();
        let mut steps: Vec<(usize, &Step)> = s.timeline.iter().enumerate().collect();
        steps.sort_by_key(|(_, step)| step.at);
        let mut held: BTreeSet<(String, String)> = BTreeSet::new();
        // Links are keyed by address, so `Hold("ns1", "192.0.2.2")` and `Isolate("ns2")` meet.
        let addr = |reference: &str| ip(reference).map_or_else(|| reference.to_string(), |a| a.to_string());
        let key = |a: &str, b: &str| {
            let (a, b) = (addr(a), addr(b));
            if a <= b { (a, b) } else { (b, a) }
        };
        for (i, step) in steps {
            if let Some(&at) = positions.get(i) {
                self.anchor.set(at);
            }
            let ends: Vec<(&str, Option<&str>)> = match &step.action {
                Action::Partition(a, b)
                | Action::PartitionOneway(a, b)
                | Action::Reject(a, b)
                | Action::RejectOneway(a, b)
                | Action::Heal(a, b)
                | Action::HealOneway(a, b)
                | Action::Block { from: a, to: b, .. }
                | Action::Unblock { from: a, to: b, .. }
                | Action::Link { a, b, .. } => {
                    vec![(a.as_str(), Some(b.as_str()))]
                }
                Action::Hold(a, b) | Action::Release(a, b) | Action::Latency(a, b, _) | Action::Loss(a, b, _) => {
                    vec![(a.as_str(), Some(b.as_str()))]
                }
                Action::Isolate(a) | Action::Rejoin(a) => vec![(a.as_str(), None)],
                _ => continue,
            };
            for (a, b) in ends {
                if let Some(host) = [Some(a), b].into_iter().flatten().find(|h| silent(h)) {
                    return Err(self.error_at(
                        host,
                        format!("`{host}` is a silent host: nothing routes to it, so it has no link to change"),
                    ));
                }
                let touches_held = match b {
                    Some(b) => held.contains(&key(a, b)),
                    None => held.iter().any(|(x, y)| *x == addr(a) || *y == addr(a)),
                };
                match &step.action {
                    Action::Hold(_, b) => {
                        held.insert(key(a, b));
                    }
                    Action::Release(_, b) => {
                        held.remove(&key(a, b));
                    }
                    _ if touches_held => {
                        return Err(self.error_at(
                            a,
                            format!(
                                "a link of `{a}` is held at {}; Release it before changing it",
                                fmt_duration(step.at)
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn link_ends(&self, a: &str, b: &str) -> Result<(), ScenarioError> {
        self.link_end(a)?;
        self.link_end(b)?;
        if a == b {
            return Err(self.error_at(a, format!("a link needs two different ends, got `{a}` twice")));
        }
        Ok(())
    }

    fn check_latency(&self, field: &str, value: Duration) -> Result<(), ScenarioError> {
        if value > MAX_LATENCY {
            return Err(self.error_at(
                field,
                format!("{field} {} is longer than the limit, {}", fmt_duration(value), fmt_duration(MAX_LATENCY)),
            ));
        }
        self.check_ms(field, value)
    }

    fn check_ms(&self, field: &str, value: Duration) -> Result<(), ScenarioError> {
        if !value.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(self.error_at(
                field,
                format!("{field}: {} is finer than the simulation's 1 ms resolution", fmt_duration(value)),
            ));
        }
        Ok(())
    }

    fn check_peer(&self, reference: &str) -> Result<(), ScenarioError> {
        let s = self.scenario;
        let Some(addr) = s.resolve(reference) else {
            return Err(self.error_at(reference, format!("`{reference}` is neither a server name nor an IP address")));
        };
        if !s.host_addresses().contains(&addr.ip()) {
            return Err(self.error_at(
                reference,
                format!(
                    "address {} is not a host of this scenario; add it to `silent_hosts` (nothing answers) or `closed_hosts` (no DNS service)",
                    addr.ip()
                ),
            ));
        }
        Ok(())
    }

    fn server(&self, name: &str) -> Result<&ServerSpec, ScenarioError> {
        self.scenario
            .servers
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| self.error_at(name, format!("`{name}` is not a server (servers: {})", self.server_names())))
    }

    fn server_names(&self) -> String {
        self.scenario.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    fn link_end(&self, reference: &str) -> Result<(), ScenarioError> {
        if self.scenario.server_index(reference).is_some() {
            return Ok(());
        }
        match reference.parse::<IpAddr>() {
            Ok(ip) if self.scenario.host_addresses().contains(&ip) => Ok(()),
            _ => Err(self.error_at(
                reference,
                format!("`{reference}` is not a server or host (servers: {})", self.server_names()),
            )),
        }
    }

    fn zone_on(&self, server: &str, zone: &str, want_primary: Option<bool>) -> Result<(), ScenarioError> {
        let spec = self.server(server)?;
        let Some(held) = spec.zones.iter().find(|z| z.zone() == zone) else {
            return Err(self.error_at(zone, format!("server `{server}` does not hold zone `{zone}`")));
        };
        match (want_primary, held) {
            (Some(true), ServerZone::Secondary { .. }) => Err(self
                .error_at(zone, format!("zone `{zone}` is a secondary on `{server}`; this action needs its primary"))),
            (Some(false), ServerZone::Primary { .. }) => {
                Err(self
                    .error_at(zone, format!("zone `{zone}` is a primary on `{server}`; this action needs a secondary")))
            }
            _ => Ok(()),
        }
    }

    fn check_action(&self, action: &Action) -> Result<(), ScenarioError> {
        match action {
            Action::Partition(a, b)
            | Action::PartitionOneway(a, b)
            | Action::Reject(a, b)
            | Action::RejectOneway(a, b)
            | Action::Heal(a, b)
            | Action::HealOneway(a, b)
            | Action::Block { from: a, to: b, .. }
            | Action::Unblock { from: a, to: b, .. }
            | Action::Hold(a, b)
            | Action::Release(a, b) => self.link_ends(a, b)?,
            Action::Latency(a, b, latency) => {
                self.link_ends(a, b)?;
                self.check_latency("Latency", *latency)?;
            }
            Action::Link { a, b, latency, jitter, loss, bandwidth } => {
                self.link_ends(a, b)?;
                for (field, value) in [("latency", latency), ("jitter", jitter)] {
                    if let Some(value) = value {
                        self.check_latency(field, *value)?;
                    }
                }
                if let Some(rate) = loss.filter(|r| !(0.0..=1.0).contains(r)) {
                    return Err(self.error_at(a, format!("loss rate {rate} is not between 0 and 1")));
                }
                if let Some(text) = bandwidth.as_deref().filter(|t| model::parse_bandwidth(t).is_none()) {
                    return Err(self.error_at(
                        "bandwidth:",
                        format!("bandwidth `{text}` is not a positive number with a unit bit, kbit, Mbit or Gbit"),
                    ));
                }
            }
            Action::Loss(a, b, rate) => {
                self.link_end(a)?;
                self.link_end(b)?;
                if !(0.0..=1.0).contains(rate) {
                    return Err(self.error_at(a, format!("loss rate {rate} is not between 0 and 1")));
                }
            }
            Action::Isolate(server)
            | Action::Rejoin(server)
            | Action::Crash(server)
            | Action::Restart(server)
            | Action::StopCutting(server)
            | Action::CutTransfers { server, .. } => {
                self.server(server)?;
            }
            Action::RestartWithSerial { server, zone, .. } | Action::Rollback { server, zone, .. } => {
                self.zone_on(server, zone, Some(true))?;
            }
            Action::Update { server, zone } => self.zone_on(server, zone, Some(true))?,
            Action::Updates { server, zone, every, until } => {
                self.zone_on(server, zone, Some(true))?;
                if every.is_zero() {
                    return Err(self.error_at("every", "Updates: `every` must be greater than zero".into()));
                }
                self.check_ms("every", *every)?;
                if *until > self.scenario.duration {
                    return Err(self.error_at(
                        "until",
                        format!("Updates: `until` {} is past the end of the scenario", fmt_duration(*until)),
                    ));
                }
            }
            Action::SetMasters { server, zone, masters } => {
                self.zone_on(server, zone, Some(false))?;
                for m in masters {
                    self.check_peer(m)?;
                }
            }
            Action::DenyTransfer { server, zone, peer } | Action::AllowTransfer { server, zone, peer } => {
                self.zone_on(server, zone, None)?;
                self.check_peer(peer)?;
            }
            Action::Refresh { server, zone } => self.zone_on(server, zone, Some(false))?,
        }
        Ok(())
    }

    fn check_event_name(&self, event: &str) -> Result<(), ScenarioError> {
        let known = xfrsim_engine::CATALOG
            .iter()
            .any(|(id, name, _)| *name == event || id.is_some_and(|id| id.to_string() == event));
        if !known {
            return Err(self.error_at(event, format!("unknown event `{event}`; `cargo xtask events` lists them")));
        }
        Ok(())
    }

    fn check_window(&self, from: Option<Duration>, until: Option<Duration>) -> Result<(), ScenarioError> {
        for (field, value) in [("from", from), ("until", until)] {
            if let Some(value) = value
                && value > self.scenario.duration
            {
                return Err(
                    self.error_at(field, format!("{field} {} is past the end of the scenario", fmt_duration(value)))
                );
            }
        }
        if let (Some(from), Some(until)) = (from, until)
            && from > until
        {
            return Err(self.error_at(
                "from",
                format!("window from {} until {} is empty", fmt_duration(from), fmt_duration(until)),
            ));
        }
        Ok(())
    }

    fn check_match(&self, m: &EventMatch) -> Result<(), ScenarioError> {
        self.server(&m.on)?;
        self.check_event_name(&m.event)?;
        if let Some(zone) = &m.zone {
            self.zone_exists(zone)?;
        }
        self.check_window(m.from, m.until)
    }

    fn zone_exists(&self, zone: &str) -> Result<(), ScenarioError> {
        if self.scenario.zones.iter().any(|z| z.origin == zone) {
            Ok(())
        } else {
            Err(self.error_at(zone, format!("zone `{zone}` is not in `zones`")))
        }
    }

    fn check_expectation(&self, expectation: &Expectation) -> Result<(), ScenarioError> {
        match expectation {
            Expectation::Event { on, event, zone, from, until, .. } => {
                self.server(on)?;
                self.check_event_name(event)?;
                if let Some(zone) = zone {
                    self.zone_exists(zone)?;
                }
                self.check_window(*from, *until)
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
                    .filter(|s| s.zones.iter().any(|z| z.zone() == zone && matches!(z, ServerZone::Primary { .. })))
                    .count();
                if primaries != 1 {
                    return Err(self.error_at(
                        zone,
                        format!(
                            "Lag: zone `{zone}` needs exactly one primary server to lag behind, it has {primaries}"
                        ),
                    ));
                }
                self.check_window(Some(*from), Some(*until))?;
                if max_serials.is_none() && max_lag.is_none() {
                    return Err(self.error_at(zone, "Lag: give max_serials, max_lag, or both".into()));
                }
                Ok(())
            }
            Expectation::State { on, zone, at, .. } => {
                self.zone_on(on, zone, None)?;
                self.check_window(Some(*at), None)
            }
        }
    }
}

/// A duration as scenario files write it (`1d 2h 3m 4s 5ms`).
pub fn fmt_duration(d: Duration) -> String {
    humantime_serde::re::humantime::format_duration(d).to_string()
}
