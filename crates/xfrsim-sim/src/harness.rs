//! A scenario on turmoil: one host per server, each running the engine through the driver;
//! the harness owns time, applies the timeline, fires engine deadlines, and jumps over idle time.
//!
//! # Time warp
//! turmoil advances a fixed tick and polls every host each tick, so an idle simulated day would
//! cost tens of seconds. The harness clock is `turmoil elapsed + offset`. Engines only ever read
//! the harness clock (the driver's [`HarnessClock`]) and their deadlines are fired by the harness,
//! never by tokio timers. When the system is quiescent — no transmit waiting in any engine and no
//! message in flight except on held links or to downed hosts, which cannot arrive before
//! something the harness does — the offset jumps to the next engine deadline or scripted action.
//! Invariant: nothing observable can happen between now and that instant, so the timeline is the
//! same with the warp on or off (a test checks this).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use xfrsim_driver::{HarnessClock, NodeSlot, Turmoil};
use xfrsim_engine::{Acl, Command, Node, NodeConfig, Role, Time, Timeouts, ZoneConfig};
use xfrsim_scenario::{Action, LoadedScenario, ServerZone, Step};
use xfrsim_zone::{Change, Serial, Zone, ZoneRecord, mix64};

use crate::SimError;
use crate::record::{Recording, Status};

/// One server of the scenario while it runs.
struct Server {
    name: String,
    address: IpAddr,
    slot: Rc<NodeSlot>,
    /// Zone data each primary zone restarts with (what it had on disk).
    primary_data: Vec<(Name, Zone)>,
    /// Secondary copies and expire times that survive a crash.
    persisted: Vec<xfrsim_engine::PersistedZone>,
    acls: Vec<(Name, Option<Vec<IpAddr>>)>,
    restarts: u64,
    up: bool,
}

pub(crate) struct Harness {
    sim: turmoil::Sim<'static>,
    loaded: LoadedScenario,
    seed: u64,
    clock: HarnessClock,
    offset: Duration,
    warp: bool,
    servers: Vec<Server>,
    zones: Vec<(Name, Zone)>,
    held: BTreeSet<(IpAddr, IpAddr)>,
    /// Directed links the timeline has cut (from, to): restoring them is the timeline's job.
    cut: BTreeSet<(IpAddr, IpAddr)>,
    update_counter: u32,
    pub(crate) recording: Rc<RefCell<Recording>>,
}

fn pair(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The zones of a scenario as their primaries load them (built when the scenario loaded).
pub(crate) fn build_zones(loaded: &LoadedScenario) -> Vec<(Name, Zone)> {
    loaded.zones.iter().map(|zone| (zone.origin().clone(), zone.clone())).collect()
}

impl Harness {
    pub(crate) fn new(loaded: LoadedScenario, seed: u64, warp: bool) -> Result<Harness, SimError> {
        let zones = build_zones(&loaded);
        let scenario = &loaded.scenario;
        let end = scenario.duration;
        let mut sim = turmoil::Builder::new()
            .rng_seed(seed)
            // turmoil defaults the epoch to the wall clock; fix it so nothing depends on the day.
            .epoch(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
            .tick_duration(Duration::from_millis(1))
            .simulation_duration(end + Duration::from_secs(86_400))
            .min_message_latency(scenario.network.min_latency)
            .max_message_latency(scenario.network.max_latency)
            .build();
        let recording = Rc::new(RefCell::new(Recording::default()));
        let clock = HarnessClock::default();
        let mut servers = Vec::new();
        for spec in &scenario.servers {
            let recording_for_events = recording.clone();
            let name = spec.name.clone();
            let slot =
                NodeSlot::new(None, Box::new(move |event| recording_for_events.borrow_mut().event_line(&name, event)));
            let primary_data = spec
                .zones
                .iter()
                .filter_map(|z| match z {
                    ServerZone::Primary { zone, .. } => zones.iter().find(|(o, _)| o.to_ascii() == *zone).cloned(),
                    ServerZone::Secondary { .. } => None,
                })
                .collect();
            let acls = spec
                .zones
                .iter()
                .map(|z| {
                    let (zone, acl) = match z {
                        ServerZone::Primary { zone, allow_transfer, .. }
                        | ServerZone::Secondary { zone, allow_transfer, .. } => (zone, allow_transfer),
                    };
                    let origin = Name::from_ascii(zone).expect("validated zone name");
                    let acl = acl
                        .as_ref()
                        .map(|peers| peers.iter().filter_map(|p| scenario.resolve(p)).map(|a| a.ip()).collect());
                    (origin, acl)
                })
                .collect();
            servers.push(Server {
                name: spec.name.clone(),
                address: spec.address,
                slot,
                primary_data,
                persisted: Vec::new(),
                acls,
                restarts: 0,
                up: false,
            });
        }
        for server in &servers {
            let slot = server.slot.clone();
            let clock = clock.clone();
            let listen = SocketAddr::new(server.address, 53);
            sim.host(server.address, move || {
                let slot = slot.clone();
                let clock = clock.clone();
                async move {
                    xfrsim_driver::run::<Turmoil, HarnessClock>(slot, listen, clock).await?;
                    Ok(())
                }
            });
        }
        let mut held = BTreeSet::new();
        for ip in &scenario.silent_hosts {
            sim.host(*ip, std::future::pending::<turmoil::Result>);
        }
        for ip in &scenario.closed_hosts {
            sim.host(*ip, || async { Ok(()) });
        }
        // Silent hosts: every link to them holds traffic forever, so nothing ever answers.
        for silent in &scenario.silent_hosts {
            for other in scenario.host_addresses() {
                if other != *silent {
                    sim.hold(*silent, other);
                    held.insert(pair(*silent, other));
                }
            }
        }
        let mut harness = Harness {
            sim,
            loaded,
            seed,
            clock,
            offset: Duration::ZERO,
            warp,
            servers,
            zones,
            held,
            cut: BTreeSet::new(),
            update_counter: 0,
            recording,
        };
        for index in 0..harness.servers.len() {
            harness.start_server(index, Time::ZERO)?;
        }
        Ok(harness)
    }

    fn now(&self) -> Time {
        Time::from_duration(self.sim.elapsed() + self.offset)
    }

    fn node_config(&self, index: usize) -> Result<NodeConfig, SimError> {
        let scenario = &self.loaded.scenario;
        let spec = &scenario.servers[index];
        let server = &self.servers[index];
        let resolve = |peers: &[String]| peers.iter().filter_map(|p| scenario.resolve(p)).collect::<Vec<_>>();
        let mut zones = Vec::new();
        for zone_spec in &spec.zones {
            let origin = Name::from_ascii(zone_spec.zone()).expect("validated zone name");
            let acl = match server.acls.iter().find(|(o, _)| *o == origin).and_then(|(_, acl)| acl.clone()) {
                Some(ips) => Acl::Only(ips),
                None => Acl::Any,
            };
            let (role, notify, journal) = match zone_spec {
                ServerZone::Primary { notify, journal, .. } => {
                    let data = server.primary_data.iter().find(|(o, _)| *o == origin).map(|(_, z)| z.clone());
                    let zone = data.ok_or_else(|| SimError::Zone(format!("no data for primary zone {origin}")))?;
                    (Role::Primary { zone }, resolve(notify), *journal)
                }
                ServerZone::Secondary { masters, notify, journal, .. } => {
                    let restored =
                        server.persisted.iter().find(|p| p.origin == origin).map(|p| (p.zone.clone(), p.expire_at));
                    (Role::Secondary { masters: resolve(masters), restored }, resolve(notify), *journal)
                }
            };
            zones.push(ZoneConfig {
                origin,
                role,
                notify,
                allow_transfer: acl,
                allow_update: Acl::None,
                journal_max_diffs: journal,
            });
        }
        Ok(NodeConfig {
            name: spec.name.clone(),
            addresses: vec![SocketAddr::new(spec.address, 53)],
            zones,
            timeouts: Timeouts::default(),
        })
    }

    fn node_seed(&self, index: usize) -> u64 {
        let server = &self.servers[index];
        mix64(self.seed ^ mix64(index as u64 + 1) ^ mix64(server.restarts.wrapping_mul(0x9e37_79b9)))
    }

    fn start_server(&mut self, index: usize, now: Time) -> Result<(), SimError> {
        let config = self.node_config(index)?;
        let seed = self.node_seed(index);
        let node = Node::new(config, seed, now)
            .map_err(|e| SimError::Config(format!("server `{}`: {e}", self.servers[index].name)))?;
        let server = &mut self.servers[index];
        *server.slot.node.borrow_mut() = Some(node);
        server.up = true;
        server.slot.wake.notify_one();
        // Events emitted by `Node::new` (503, ...) are drained by the next `with`.
        server.slot.with(|_| ());
        Ok(())
    }

    fn crash_server(&mut self, index: usize) {
        let server = &mut self.servers[index];
        if let Some(node) = server.slot.node.borrow_mut().take() {
            server.persisted = node.persisted();
            for (origin, data) in &mut server.primary_data {
                if let Some(zone) = node.zone(origin) {
                    // RFC 2136 §3.5: a primary commits updates to stable storage before answering.
                    *data = zone.clone();
                }
            }
        }
        server.up = false;
        self.sim.crash(server.address);
    }

    fn restart_server(&mut self, index: usize, now: Time) -> Result<(), SimError> {
        if self.servers[index].up {
            return Ok(());
        }
        self.servers[index].restarts += 1;
        self.drop_traffic_to(self.servers[index].address);
        self.start_server(index, now)?;
        self.sim.bounce(self.servers[index].address);
        Ok(())
    }

    /// Drops every message still queued for a host that was down. turmoil would deliver them
    /// on the first step after the restart, at a moment that depends on how far its own clock
    /// moved — which the time warp changes. A down host loses what was sent to it, so drop it.
    fn drop_traffic_to(&mut self, ip: IpAddr) {
        let scenario = &self.loaded.scenario;
        for other in scenario.host_addresses() {
            if other == ip || self.held.contains(&pair(other, ip)) || self.cut.contains(&(other, ip)) {
                continue;
            }
            // A one-way partition clears the messages from `other` on the link; repairing it
            // restores the link as it was (neither cut nor held, checked above).
            self.sim.partition_oneway(other, ip);
            self.sim.repair_oneway(other, ip);
        }
    }

    fn cut_link(&mut self, from: IpAddr, to: IpAddr, both_ways: bool) {
        self.cut.insert((from, to));
        if both_ways {
            self.cut.insert((to, from));
        }
    }

    fn heal_link(&mut self, from: IpAddr, to: IpAddr, both_ways: bool) {
        self.cut.remove(&(from, to));
        if both_ways {
            self.cut.remove(&(to, from));
        }
    }

    fn index(&self, name: &str) -> usize {
        self.loaded.scenario.server_index(name).expect("validated server name")
    }

    fn ip_of(&self, reference: &str) -> IpAddr {
        match self.loaded.scenario.server_index(reference) {
            Some(i) => self.servers[i].address,
            None => reference.parse().expect("validated host address"),
        }
    }

    fn command(&mut self, server: &str, now: Time, command: Command) -> Result<bool, SimError> {
        let index = self.index(server);
        let slot = self.servers[index].slot.clone();
        match slot.with(|n| n.handle_command(now, command)) {
            None => Ok(false),
            Some(Ok(())) => {
                slot.wake.notify_one();
                Ok(true)
            }
            Some(Err(e)) => Err(SimError::Action(format!("{server}: {e}"))),
        }
    }

    fn apply(&mut self, step: &Step, now: Time) -> Result<(), SimError> {
        let lines_before = self.recording.borrow().lines.len();
        let others = |h: &Harness, ip: IpAddr| -> Vec<IpAddr> {
            h.loaded
                .scenario
                .host_addresses()
                .into_iter()
                .filter(|o| *o != ip && !h.loaded.scenario.silent_hosts.contains(o))
                .collect()
        };
        let (target, text) = match &step.action {
            Action::Partition(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.partition(x, y);
                self.cut_link(x, y, true);
                ("*".to_string(), format!("Partition {a} {b}"))
            }
            Action::PartitionOneway(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.partition_oneway(x, y);
                self.cut_link(x, y, false);
                ("*".to_string(), format!("PartitionOneway {a} {b}"))
            }
            Action::Heal(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.repair(x, y);
                self.heal_link(x, y, true);
                ("*".to_string(), format!("Heal {a} {b}"))
            }
            Action::HealOneway(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.repair_oneway(x, y);
                self.heal_link(x, y, false);
                ("*".to_string(), format!("HealOneway {a} {b}"))
            }
            Action::Isolate(s) => {
                let ip = self.ip_of(s);
                for other in others(self, ip) {
                    self.sim.partition(ip, other);
                    self.cut_link(ip, other, true);
                }
                (s.clone(), "Isolate".to_string())
            }
            Action::Rejoin(s) => {
                let ip = self.ip_of(s);
                for other in others(self, ip) {
                    self.sim.repair(ip, other);
                    self.heal_link(ip, other, true);
                }
                (s.clone(), "Rejoin".to_string())
            }
            Action::Hold(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.hold(x, y);
                self.held.insert(pair(x, y));
                ("*".to_string(), format!("Hold {a} {b}"))
            }
            Action::Release(a, b) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                self.sim.release(x, y);
                self.held.remove(&pair(x, y));
                ("*".to_string(), format!("Release {a} {b}"))
            }
            Action::Latency(a, b, latency) => {
                self.sim.set_link_latency(self.ip_of(a), self.ip_of(b), *latency);
                ("*".to_string(), format!("Latency {a} {b} {}", xfrsim_scenario::fmt_duration(*latency)))
            }
            Action::Loss(a, b, rate) => {
                self.sim.set_link_fail_rate(self.ip_of(a), self.ip_of(b), *rate);
                ("*".to_string(), format!("Loss {a} {b} {rate}"))
            }
            Action::Crash(s) => {
                let index = self.index(s);
                self.crash_server(index);
                (s.clone(), "Crash".to_string())
            }
            Action::Restart(s) => {
                let index = self.index(s);
                self.restart_server(index, now)?;
                (s.clone(), "Restart".to_string())
            }
            Action::RestartWithSerial { server, zone, serial } => {
                let index = self.index(server);
                if self.servers[index].up {
                    self.crash_server(index);
                }
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let original =
                    self.zones.iter().find(|(o, _)| *o == origin).map(|(_, z)| z.clone()).expect("validated zone");
                if let Some((_, data)) = self.servers[index].primary_data.iter_mut().find(|(o, _)| *o == origin) {
                    *data = original.with_serial(Serial(*serial));
                }
                self.restart_server(index, now)?;
                (server.clone(), format!("RestartWithSerial {zone} {serial}"))
            }
            Action::SetMasters { server, zone, masters } => {
                let addrs = masters.iter().filter_map(|m| self.loaded.scenario.resolve(m)).collect();
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let applied = self.command(server, now, Command::SetMasters { zone: origin, masters: addrs })?;
                (server.clone(), format!("SetMasters {zone} [{}]{}", masters.join(", "), down_note(applied)))
            }
            Action::DenyTransfer { server, zone, peer } | Action::AllowTransfer { server, zone, peer } => {
                let deny = matches!(step.action, Action::DenyTransfer { .. });
                let index = self.index(server);
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let peer_ip = self.loaded.scenario.resolve(peer).expect("validated peer").ip();
                let everyone: Vec<IpAddr> = self.loaded.scenario.host_addresses().into_iter().collect();
                let entry =
                    self.servers[index].acls.iter_mut().find(|(o, _)| *o == origin).expect("validated zone on server");
                let mut list = entry.1.clone().unwrap_or(everyone);
                list.retain(|ip| *ip != peer_ip);
                if !deny {
                    list.push(peer_ip);
                }
                entry.1 = Some(list.clone());
                let applied =
                    self.command(server, now, Command::SetAllowTransfer { zone: origin, acl: Acl::Only(list) })?;
                let verb = if deny { "DenyTransfer" } else { "AllowTransfer" };
                (server.clone(), format!("{verb} {zone} {peer}{}", down_note(applied)))
            }
            Action::Update { server, zone } => {
                self.update_counter += 1;
                let n = self.update_counter;
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let owner = Name::from_ascii(format!("upd{n}")).and_then(|l| l.append_domain(&origin));
                let owner = owner.map_err(|e| SimError::Action(e.to_string()))?;
                let [_, _, hi, lo] = n.to_be_bytes();
                let record = ZoneRecord::from_hickory(&Record::from_rdata(
                    owner.clone(),
                    300,
                    RData::A(A::new(198, 51, hi, lo)),
                ))
                .map_err(|e| SimError::Action(e.to_string()))?;
                let applied =
                    self.command(server, now, Command::Update { zone: origin, changes: vec![Change::Add(record)] })?;
                (server.clone(), format!("Update {zone} add {owner} A{}", down_note(applied)))
            }
            Action::Updates { .. } => unreachable!("expanded before the run"),
            Action::CutTransfers { server, after_messages } => {
                let index = self.index(server);
                self.servers[index].slot.cut_transfers_after.set(Some(*after_messages));
                (server.clone(), format!("CutTransfers after {after_messages} messages"))
            }
            Action::StopCutting(server) => {
                let index = self.index(server);
                self.servers[index].slot.cut_transfers_after.set(None);
                (server.clone(), "StopCutting".to_string())
            }
            Action::Rollback { server, zone, serial } => {
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let original =
                    self.zones.iter().find(|(o, _)| *o == origin).map(|(_, z)| z.clone()).expect("validated zone");
                let applied = self.command(
                    server,
                    now,
                    Command::Reload { zone: Box::new(original.with_serial(Serial(*serial))) },
                )?;
                (server.clone(), format!("Rollback {zone} {serial}{}", down_note(applied)))
            }
            Action::Refresh { server, zone } => {
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let applied = self.command(server, now, Command::Refresh { zone: origin })?;
                (server.clone(), format!("Refresh {zone}{}", down_note(applied)))
            }
        };
        // The action line goes before the events it caused (already recorded by `command`).
        self.recording.borrow_mut().lines.insert(lines_before, format!("{now} {target} action {text}"));
        Ok(())
    }
}

fn down_note(applied: bool) -> &'static str {
    if applied { "" } else { " (server down: skipped)" }
}

impl Harness {
    /// Runs the scenario to its end.
    pub(crate) fn run(&mut self) -> Result<(), SimError> {
        let end = Time::from_duration(self.loaded.scenario.duration);
        let steps = self.loaded.scenario.expanded_timeline();
        let mut next_step = 0;
        let mut seen_lines = usize::MAX;
        loop {
            let now = self.now();
            self.clock.set(now);
            while next_step < steps.len() && Time::from_duration(steps[next_step].at) <= now {
                let step = steps[next_step].clone();
                self.apply(&step, now)?;
                next_step += 1;
            }
            for server in &self.servers {
                let due = server.slot.node.borrow().as_ref().and_then(Node::poll_timeout).is_some_and(|t| t <= now);
                if due {
                    server.slot.with(|n| n.handle_timeout(now));
                    server.slot.wake.notify_one();
                }
            }
            let lines = self.recording.borrow().lines.len();
            if lines != seen_lines {
                seen_lines = lines;
                self.sample(now);
            }
            if now >= end {
                return Ok(());
            }
            if self.warp && self.quiescent() {
                let next_deadline = self
                    .servers
                    .iter()
                    .filter_map(|s| s.slot.node.borrow().as_ref().and_then(Node::poll_timeout))
                    .min();
                let next_action = steps.get(next_step).map(|s| Time::from_duration(s.at));
                let next =
                    [next_deadline, next_action, Some(end)].into_iter().flatten().min().expect("end is always there");
                if next > now {
                    self.offset += next.saturating_since(now);
                    continue;
                }
            }
            self.sim.step().map_err(|e| SimError::Network(e.to_string()))?;
        }
    }

    /// Nothing can happen before the next deadline or action: no engine has output waiting
    /// and nothing deliverable is on the wire.
    fn quiescent(&self) -> bool {
        if self.servers.iter().any(|s| s.slot.has_pending_output()) {
            return false;
        }
        let down: BTreeSet<IpAddr> = self.servers.iter().filter(|s| !s.up).map(|s| s.address).collect();
        let mut deliverable = 0usize;
        self.sim.links(|links| {
            for link in links {
                let (a, b) = link.pair();
                let stuck = self.held.contains(&pair(a, b));
                for sent in link {
                    let (_, dst) = sent.pair();
                    if !stuck && !down.contains(&dst.ip()) {
                        deliverable += 1;
                    }
                }
            }
        });
        deliverable == 0
    }

    /// Records every zone copy's status (called whenever the timeline grew).
    fn sample(&self, now: Time) {
        let mut recording = self.recording.borrow_mut();
        for (server, spec) in self.servers.iter().zip(&self.loaded.scenario.servers) {
            for zone in &spec.zones {
                let origin = Name::from_ascii(zone.zone()).expect("validated zone name");
                let status = server.slot.node.borrow().as_ref().map(|n| n.zone_status(&origin));
                recording.sample(now, &server.name, zone.zone(), Status::of(status.flatten()));
            }
        }
    }
}
