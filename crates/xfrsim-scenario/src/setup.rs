//! The scenario lowered once, at load: what the harness runs. Servers and zones are indexes,
//! names are [`Dname`]s read with RFC 1035's escapes (the same reader as zone files), peers are
//! socket addresses, each server's behaviour is built, and the timeline is typed
//! ([`Fault`]) and expanded. Nothing downstream parses a name or looks one up by scanning.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::Name;
use xfrsim_engine::{Behaviour, Overrides};
use xfrsim_zone::{Dname, NameKey, Zone};

use crate::fault::{AclPeer, Endpoint, Fault, LinkShape, Names, TimedFault};
pub use crate::ids::{ServerId, ZoneId};
use crate::model::{Action, Expectation, Scenario, ServerProfile, ServerZone};

/// Why a scenario that passed its checks could not be lowered. Each is a check the loader
/// makes first, so meeting one here means the two disagree: the message names the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("`{0}` names no server")]
    UnknownServer(String),
    #[error("`{0}` names no zone of the scenario")]
    UnknownZone(String),
    #[error("`{0}` is neither a server name nor an address")]
    UnknownPeer(String),
    #[error("zone `{0}` is not absolute: it must end with `.`")]
    Relative(String),
    #[error("zone `{0}` is not a domain name: {1}")]
    BadOrigin(String, xfrsim_zone::NameError),
    #[error("server `{0}` does not hold zone `{1}`")]
    NotHeld(String, String),
    #[error("server `{0}`: {1}")]
    Options(String, xfrsim_engine::ProfileError),
    #[error("bandwidth `{0}` is not a bandwidth")]
    Bandwidth(String),
}

/// A zone: its origin, the same name in the engine's type, as timelines print it, and its data
/// as its primary loads it.
#[derive(Debug, Clone)]
pub struct SetupZone {
    pub origin: Dname,
    /// `origin` as the engine takes it (the same labels, byte for byte).
    pub name: Name,
    /// `origin` in presentation form, RFC 1035 escapes included: what timelines print.
    pub text: String,
    pub data: Zone,
}

/// What a server is for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneRole {
    Primary,
    Secondary { masters: Vec<SocketAddr> },
}

/// A zone as one server holds it.
#[derive(Debug, Clone)]
pub struct HeldZone {
    pub zone: ZoneId,
    pub role: ZoneRole,
    pub notify: Vec<SocketAddr>,
    /// Addresses allowed to transfer; `None`: anyone.
    pub allow_transfer: Option<Vec<IpAddr>>,
    pub journal: usize,
    pub notify_source: Option<IpAddr>,
    pub transfer_source: Option<IpAddr>,
    pub overrides: Overrides,
}

/// A server: its name, addresses (its `address` first), behaviour and zones.
#[derive(Debug, Clone)]
pub struct SetupServer {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub profile: ServerProfile,
    /// The profile with the server's options over it.
    pub behaviour: Behaviour,
    pub zones: Vec<HeldZone>,
    /// Where each zone is in `zones`.
    slot_of: BTreeMap<ZoneId, usize>,
}

impl SetupServer {
    /// The address the server's name stands for in master and notify lists.
    pub fn address(&self) -> IpAddr {
        self.addresses[0]
    }

    /// The place of `zone` in [`SetupServer::zones`], if the server holds it.
    pub fn slot(&self, zone: ZoneId) -> Option<usize> {
        self.slot_of.get(&zone).copied()
    }
}

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct Setup {
    pub duration: Duration,
    /// Each packet's latency is drawn between these (whole milliseconds).
    pub min_latency: Duration,
    pub max_latency: Duration,
    pub zones: Vec<SetupZone>,
    pub servers: Vec<SetupServer>,
    pub silent_hosts: Vec<IpAddr>,
    pub closed_hosts: Vec<IpAddr>,
    /// The timeline as written, typed, in file order.
    pub timeline: Vec<TimedFault>,
    /// What the harness applies: the timeline in time order (stable), `Updates` expanded into
    /// one `Update` per instant.
    pub schedule: Vec<TimedFault>,
    server_by_name: BTreeMap<String, ServerId>,
    zone_by_origin: BTreeMap<NameKey, ZoneId>,
    /// Per zone, the servers holding it, in server order.
    holders: Vec<Vec<ServerId>>,
}

impl Names for Setup {
    fn server_name(&self, id: ServerId) -> &str {
        &self.server(id).name
    }

    fn zone_text(&self, id: ZoneId) -> &str {
        &self.zone(id).text
    }
}

impl Setup {
    /// The servers holding a zone, in server order.
    pub fn holders(&self, zone: ZoneId) -> &[ServerId] {
        &self.holders[zone.index()]
    }

    /// The first server holding a zone as primary.
    pub fn primary_of(&self, zone: ZoneId) -> Option<ServerId> {
        self.holders(zone).iter().copied().find(|s| {
            let server = self.server(*s);
            server.slot(zone).is_some_and(|slot| server.zones[slot].role == ZoneRole::Primary)
        })
    }

    /// The zone a name written in the scenario stands for.
    pub fn zone_named(&self, text: &str) -> Option<ZoneId> {
        parse_origin(text).ok().and_then(|origin| self.zone_id(&origin))
    }

    pub fn server(&self, id: ServerId) -> &SetupServer {
        &self.servers[id.index()]
    }

    pub fn zone(&self, id: ZoneId) -> &SetupZone {
        &self.zones[id.index()]
    }

    pub fn server_id(&self, name: &str) -> Option<ServerId> {
        self.server_by_name.get(name).copied()
    }

    pub fn zone_id(&self, origin: &Dname) -> Option<ZoneId> {
        self.zone_by_origin.get(&origin.key()).copied()
    }

    /// Every address a host exists at (servers, then silent and closed hosts), silent ones
    /// excluded when `with_silent` is false.
    pub fn host_addresses(&self, with_silent: bool) -> BTreeSet<IpAddr> {
        let silent = self.silent_hosts.iter().filter(|_| with_silent);
        self.servers.iter().flat_map(|s| s.addresses.iter()).chain(silent).chain(&self.closed_hosts).copied().collect()
    }

    /// Ends the run at `end`: later steps are dropped, an `Updates` run stops there (benchmarks
    /// and the warp check run a prefix of a long scenario).
    pub fn end_at(&mut self, end: Duration) {
        self.duration = self.duration.min(end);
        let end = self.duration;
        self.timeline.retain(|t| t.at <= end);
        for timed in &mut self.timeline {
            if let Fault::Updates { until, .. } = &mut timed.fault {
                *until = (*until).min(end);
            }
        }
        self.schedule.retain(|t| t.at <= end);
    }

    /// Rewrites the zone names in expectations to the text timelines print for them, so a zone
    /// written with other case or escapes (`a\\065b.example.`) matches by plain comparison.
    pub(crate) fn normalise_zones(&self, scenario: &mut Scenario) {
        let normal = |zone: &mut String| {
            if let Some(id) = self.zone_named(zone) {
                zone.clone_from(&self.zone(id).text);
            }
        };
        for expectation in &mut scenario.expect {
            match expectation {
                Expectation::Event { zone, .. } => zone.iter_mut().for_each(normal),
                Expectation::Before { first, then } => {
                    first.zone.iter_mut().for_each(normal);
                    then.zone.iter_mut().for_each(normal);
                }
                Expectation::Converged { zone, .. }
                | Expectation::Lag { zone, .. }
                | Expectation::State { zone, .. } => normal(zone),
            }
        }
    }

    /// Lowers a scenario that passed its checks, with its zones as loaded (in `zones` order)
    /// and its timeline as [`lower_timeline`] lowered it.
    pub(crate) fn lower(scenario: &Scenario, data: Vec<Zone>, timeline: Vec<TimedFault>) -> Result<Setup, LowerError> {
        let resolver = Resolver::new(scenario)?;
        let zones: Vec<SetupZone> = resolver
            .origins
            .iter()
            .zip(data)
            .map(|(origin, data)| SetupZone {
                text: origin.to_string(),
                name: origin.to_hickory(),
                origin: origin.clone(),
                data,
            })
            .collect();
        let mut servers = Vec::with_capacity(scenario.servers.len());
        for spec in &scenario.servers {
            let behaviour =
                spec.options.behaviour(spec.profile).map_err(|e| LowerError::Options(spec.name.clone(), e))?;
            let mut held = Vec::with_capacity(spec.zones.len());
            let mut slot_of = BTreeMap::new();
            for zone in &spec.zones {
                let id = resolver.zone(zone.zone())?;
                slot_of.insert(id, held.len());
                let (role, notify, acl, journal) = match zone {
                    ServerZone::Primary { notify, allow_transfer, journal, .. } => {
                        (ZoneRole::Primary, notify, allow_transfer, *journal)
                    }
                    ServerZone::Secondary { masters, notify, allow_transfer, journal, .. } => {
                        (ZoneRole::Secondary { masters: resolver.peers(masters)? }, notify, allow_transfer, *journal)
                    }
                };
                let allow_transfer = match acl {
                    Some(peers) => {
                        let mut ips = Vec::new();
                        for peer in peers {
                            ips.extend(resolver.acl_peer(peer)?.addresses);
                        }
                        Some(ips)
                    }
                    None => None,
                };
                let (notify_source, transfer_source) = zone.sources();
                held.push(HeldZone {
                    zone: id,
                    role,
                    notify: resolver.peers(notify)?,
                    allow_transfer,
                    journal,
                    notify_source,
                    transfer_source,
                    overrides: zone.options().overrides(),
                });
            }
            servers.push(SetupServer {
                name: spec.name.clone(),
                addresses: spec.addresses().collect(),
                profile: spec.profile,
                behaviour,
                zones: held,
                slot_of,
            });
        }
        let schedule = expand(&timeline);
        let mut holders = vec![Vec::new(); zones.len()];
        for (index, server) in servers.iter().enumerate() {
            for held in &server.zones {
                holders[held.zone.index()].push(ServerId::new(index));
            }
        }
        Ok(Setup {
            duration: scenario.duration,
            min_latency: scenario.network.min_latency,
            max_latency: scenario.network.max_latency,
            zones,
            servers,
            silent_hosts: scenario.silent_hosts.clone(),
            closed_hosts: scenario.closed_hosts.clone(),
            timeline,
            schedule,
            server_by_name: resolver.server_by_name,
            zone_by_origin: resolver.zone_by_origin,
            holders,
        })
    }
}

/// A zone origin as scenario files write it: absolute, RFC 1035 §5.1 escapes (`\DDD` decimal).
pub fn parse_origin(text: &str) -> Result<Dname, LowerError> {
    // Absolute: the last character is a dot no backslash escapes (`a\.` ends inside a label).
    let escapes = text.strip_suffix('.').map(|rest| rest.len() - rest.trim_end_matches('\\').len());
    if text != "." && escapes.is_none_or(|n| n % 2 != 0) {
        return Err(LowerError::Relative(text.to_string()));
    }
    Dname::from_text(text.as_bytes(), &Dname::root()).map_err(|e| LowerError::BadOrigin(text.to_string(), e))
}

/// The timeline in time order (stable: steps at one instant keep their file order), each
/// `Updates` run expanded into its single updates.
fn expand(timeline: &[TimedFault]) -> Vec<TimedFault> {
    let mut schedule = Vec::new();
    for timed in timeline {
        match &timed.fault {
            Fault::Updates { server, zone, every, until } => {
                let mut at = timed.at;
                while at <= *until {
                    let fault = Fault::Update { server: *server, zone: *zone };
                    schedule.push(TimedFault { at, fault, step: timed.step });
                    at += *every;
                }
            }
            _ => schedule.push(timed.clone()),
        }
    }
    schedule.sort_by_key(|t| t.at);
    schedule
}

/// Lowers a scenario's timeline (every name resolved): the loader checks it (held links) before
/// the zones are built, then hands it to [`Setup::lower`].
pub(crate) fn lower_timeline(scenario: &Scenario) -> Result<Vec<TimedFault>, LowerError> {
    let resolver = Resolver::new(scenario)?;
    let mut timeline = Vec::with_capacity(scenario.timeline.len());
    for (step, written) in scenario.timeline.iter().enumerate() {
        timeline.push(TimedFault { at: written.at, fault: resolver.fault(&written.action)?, step });
    }
    Ok(timeline)
}

/// Name lookups while lowering, each by map, built from the file alone.
struct Resolver<'a> {
    scenario: &'a Scenario,
    /// Each zone's origin, in `zones` order.
    origins: Vec<Dname>,
    server_by_name: BTreeMap<String, ServerId>,
    zone_by_origin: BTreeMap<NameKey, ZoneId>,
    /// (server, zone) for every zone a server holds.
    holds: BTreeSet<(ServerId, ZoneId)>,
}

impl<'a> Resolver<'a> {
    fn new(scenario: &'a Scenario) -> Result<Resolver<'a>, LowerError> {
        let origins = scenario.zones.iter().map(|z| parse_origin(&z.origin)).collect::<Result<Vec<_>, _>>()?;
        let zone_by_origin = origins.iter().enumerate().map(|(i, o)| (o.key(), ZoneId::new(i))).collect();
        let server_by_name =
            scenario.servers.iter().enumerate().map(|(i, s)| (s.name.clone(), ServerId::new(i))).collect();
        let mut resolver = Resolver { scenario, origins, server_by_name, zone_by_origin, holds: BTreeSet::new() };
        for (index, spec) in scenario.servers.iter().enumerate() {
            for zone in &spec.zones {
                let id = resolver.zone(zone.zone())?;
                resolver.holds.insert((ServerId::new(index), id));
            }
        }
        Ok(resolver)
    }

    fn server(&self, name: &str) -> Result<ServerId, LowerError> {
        self.server_by_name.get(name).copied().ok_or_else(|| LowerError::UnknownServer(name.to_string()))
    }

    fn zone(&self, text: &str) -> Result<ZoneId, LowerError> {
        let origin = parse_origin(text)?;
        self.zone_by_origin.get(&origin.key()).copied().ok_or_else(|| LowerError::UnknownZone(text.to_string()))
    }

    /// A zone a server holds.
    fn held(&self, server: &str, zone: &str) -> Result<(ServerId, ZoneId), LowerError> {
        let (id, zone_id) = (self.server(server)?, self.zone(zone)?);
        match self.holds.contains(&(id, zone_id)) {
            true => Ok((id, zone_id)),
            false => Err(LowerError::NotHeld(server.to_string(), zone.to_string())),
        }
    }

    /// A peer reference (server name, `IP` or `IP:port`) as a socket address: a server's name
    /// stands for its `address`, port 53.
    fn peer(&self, reference: &str) -> Result<SocketAddr, LowerError> {
        if let Some(id) = self.server_by_name.get(reference) {
            return Ok(SocketAddr::new(self.scenario.servers[id.index()].address, 53));
        }
        crate::parse_peer(reference).ok_or_else(|| LowerError::UnknownPeer(reference.to_string()))
    }

    fn peers(&self, references: &[String]) -> Result<Vec<SocketAddr>, LowerError> {
        references.iter().map(|r| self.peer(r)).collect()
    }

    /// The addresses a peer stands for in an ACL: all of a server's, or the one given.
    fn acl_peer(&self, reference: &str) -> Result<AclPeer, LowerError> {
        let addresses = match self.server_by_name.get(reference) {
            Some(id) => self.scenario.servers[id.index()].addresses().collect(),
            None => vec![self.peer(reference)?.ip()],
        };
        Ok(AclPeer { addresses, written: reference.to_string() })
    }

    /// A link end: a server (its `address`) or a host address.
    fn end(&self, reference: &str) -> Result<Endpoint, LowerError> {
        let addr = match self.server_by_name.get(reference) {
            Some(id) => self.scenario.servers[id.index()].address,
            None => reference.parse().map_err(|_| LowerError::UnknownPeer(reference.to_string()))?,
        };
        Ok(Endpoint { addr, written: reference.to_string() })
    }

    /// What an action means. The one translation of the file's vocabulary.
    fn fault(&self, action: &Action) -> Result<Fault, LowerError> {
        let ends = |a: &str, b: &str| -> Result<(Endpoint, Endpoint), LowerError> { Ok((self.end(a)?, self.end(b)?)) };
        Ok(match action {
            Action::Partition(a, b) => ends(a, b).map(|(a, b)| Fault::Partition(a, b))?,
            Action::PartitionOneway(a, b) => ends(a, b).map(|(a, b)| Fault::PartitionOneway(a, b))?,
            Action::Reject(a, b) => ends(a, b).map(|(a, b)| Fault::Reject(a, b))?,
            Action::RejectOneway(a, b) => ends(a, b).map(|(a, b)| Fault::RejectOneway(a, b))?,
            Action::Heal(a, b) => ends(a, b).map(|(a, b)| Fault::Heal(a, b))?,
            Action::HealOneway(a, b) => ends(a, b).map(|(a, b)| Fault::HealOneway(a, b))?,
            Action::Isolate(s) => Fault::Isolate(self.server(s)?),
            Action::Rejoin(s) => Fault::Rejoin(self.server(s)?),
            Action::Block { from, to, protocol, reject, oneway } => {
                let (from, to) = ends(from, to)?;
                Fault::Block { from, to, protocol: *protocol, reject: *reject, oneway: *oneway }
            }
            Action::Unblock { from, to, protocol, oneway } => {
                let (from, to) = ends(from, to)?;
                Fault::Unblock { from, to, protocol: *protocol, oneway: *oneway }
            }
            Action::Hold(a, b) => ends(a, b).map(|(a, b)| Fault::Hold(a, b))?,
            Action::Release(a, b) => ends(a, b).map(|(a, b)| Fault::Release(a, b))?,
            Action::Latency(a, b, latency) => ends(a, b).map(|(a, b)| Fault::Latency(a, b, *latency))?,
            Action::Loss(a, b, rate) => ends(a, b).map(|(a, b)| Fault::Loss(a, b, *rate))?,
            Action::Link { a, b, latency, jitter, loss, bandwidth } => {
                let (a, b) = ends(a, b)?;
                let bandwidth = match bandwidth {
                    Some(text) => Some((
                        crate::model::parse_bandwidth(text).ok_or_else(|| LowerError::Bandwidth(text.clone()))?,
                        text.clone(),
                    )),
                    None => None,
                };
                Fault::Link(LinkShape { a, b, latency: *latency, jitter: *jitter, loss: *loss, bandwidth })
            }
            Action::Crash(s) => Fault::Crash(self.server(s)?),
            Action::Restart(s) => Fault::Restart(self.server(s)?),
            Action::RestartWithSerial { server, zone, serial } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::RestartWithSerial { server, zone, serial: *serial }
            }
            Action::SetMasters { server, zone, masters } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::SetMasters { server, zone, masters: self.peers(masters)?, written: masters.clone() }
            }
            Action::DenyTransfer { server, zone, peer } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::DenyTransfer { server, zone, peer: self.acl_peer(peer)? }
            }
            Action::AllowTransfer { server, zone, peer } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::AllowTransfer { server, zone, peer: self.acl_peer(peer)? }
            }
            Action::Update { server, zone } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::Update { server, zone }
            }
            Action::Updates { server, zone, every, until } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::Updates { server, zone, every: *every, until: *until }
            }
            Action::Rollback { server, zone, serial } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::Rollback { server, zone, serial: *serial }
            }
            Action::Refresh { server, zone } => {
                let (server, zone) = self.held(server, zone)?;
                Fault::Refresh { server, zone }
            }
            Action::CutTransfers { server, after_messages } => {
                Fault::CutTransfers { server: self.server(server)?, after_messages: *after_messages }
            }
            Action::StopCutting(s) => Fault::StopCutting(self.server(s)?),
        })
    }
}
