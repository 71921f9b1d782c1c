//! A scenario on the simulated network: one host per server, each running the engine through
//! the driver; the harness owns time, applies the timeline and fires engine deadlines.
//!
//! # Scheduling
//! Time advances from instant to instant. The next instant is the earliest of: the next packet
//! arrival ([`Network::next_arrival`]), the next engine deadline, the next scripted action, and
//! the next millisecond while a host is runnable or a TCP connection waits for an
//! acknowledgement (its retransmission clock, see [`crate::network`]). Nothing is polled in
//! between, so nothing can happen in between: the jump is exact by construction. With the warp
//! off the harness visits every millisecond instead and does nothing at the instants where
//! nothing is due, which makes it the oracle the warp is tested against.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use xfrsim_driver::{HarnessClock, NodeSlot, TurmoilNet};
use xfrsim_engine::{Acl, Command, Node, NodeConfig, Role, Time, Timeouts, ZoneConfig};
use xfrsim_scenario::{Action, LoadedScenario, Protocol, ServerZone, Step};
use xfrsim_zone::{Change, Serial, Zone, ZoneRecord, mix64};

use crate::SimError;
use crate::network::{Filter, Network, PortUnreachable, Protocols};
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
    net: Network,
    loaded: LoadedScenario,
    seed: u64,
    clock: HarnessClock,
    now: Time,
    warp: bool,
    servers: Vec<Server>,
    /// Host index in the network of each server.
    hosts: Vec<usize>,
    zones: Vec<(Name, Zone)>,
    update_counter: u32,
    pub(crate) recording: Rc<RefCell<Recording>>,
}

/// The zones of a scenario as their primaries load them (built when the scenario loaded).
pub(crate) fn build_zones(loaded: &LoadedScenario) -> Vec<(Name, Zone)> {
    loaded.zones.iter().map(|zone| (zone.origin().clone(), zone.clone())).collect()
}

impl Harness {
    pub(crate) fn new(
        loaded: LoadedScenario,
        seed: u64,
        warp: bool,
        recording: Recording,
    ) -> Result<Harness, SimError> {
        let zones = build_zones(&loaded);
        let scenario = &loaded.scenario;
        // One host per server, then one per closed host (a machine with no DNS service: its
        // kernel answers RST and port unreachable). Silent hosts are no host at all: nothing
        // routes to them, so packets vanish.
        // A server's host lists its transfer source first: turmoil-net opens TCP connections
        // from a host's first address.
        let mut host_ips: Vec<Vec<IpAddr>> = scenario
            .servers
            .iter()
            .map(|spec| {
                let source = spec.zones.iter().find_map(|z| z.sources().1);
                let mut ips: Vec<IpAddr> = Vec::new();
                for ip in source.into_iter().chain(spec.addresses()) {
                    if !ips.contains(&ip) {
                        ips.push(ip);
                    }
                }
                ips
            })
            .collect();
        host_ips.extend(scenario.closed_hosts.iter().map(|ip| vec![*ip]));
        let latency = (scenario.network.min_latency, scenario.network.max_latency);
        let net = Network::new(&host_ips, mix64(seed ^ 0x6e65_7477_6f72_6b00), latency);
        let recording = Rc::new(RefCell::new(recording));
        let clock = HarnessClock::default();
        let mut servers = Vec::new();
        for (index, spec) in scenario.servers.iter().enumerate() {
            let recording_for_events = recording.clone();
            let server = u16::try_from(index).map_err(|_| SimError::Config("more than 65,535 servers".into()))?;
            let slot =
                NodeSlot::new(None, Box::new(move |event| recording_for_events.borrow_mut().event_line(server, event)));
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
                    let acl = acl.as_ref().map(|peers| peers.iter().flat_map(|p| peer_ips(scenario, p)).collect());
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
        let hosts = (0..servers.len()).collect();
        let mut harness = Harness {
            net,
            loaded,
            seed,
            clock,
            now: Time::ZERO,
            warp,
            servers,
            hosts,
            zones,
            update_counter: 0,
            recording,
        };
        for index in 0..harness.servers.len() {
            harness.start_server(index, Time::ZERO)?;
        }
        Ok(harness)
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
            let (notify_source, transfer_source) = zone_spec.sources();
            zones.push(ZoneConfig {
                origin,
                role,
                notify,
                allow_transfer: acl,
                allow_update: Acl::None,
                journal_max_diffs: journal,
                notify_source,
                transfer_source,
            });
        }
        Ok(NodeConfig {
            name: spec.name.clone(),
            addresses: spec.addresses().map(|ip| SocketAddr::new(ip, 53)).collect(),
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
        // Events emitted by `Node::new` (503, ...) are drained by the next `with`.
        server.slot.with(|_| ());
        let listen: Vec<SocketAddr> =
            self.loaded.scenario.servers[index].addresses().map(|ip| SocketAddr::new(ip, 53)).collect();
        let (slot, clock) = (server.slot.clone(), self.clock.clone());
        self.net.spawn(self.hosts[index], async move {
            // Binding the server's own addresses on a fresh host (or a freed port) cannot fail;
            // if it does, the network model is broken: crash the run.
            if let Err(error) = xfrsim_driver::run::<TurmoilNet, HarnessClock>(slot, listen.clone(), clock).await {
                panic!("server on {listen:?} failed to start: {error}");
            }
        });
        Ok(())
    }

    /// The server process dies: its tasks and sockets go (connections close as the kernel
    /// closes a dead process's sockets), the machine stays up, so its DNS port now answers RST
    /// and ICMP port unreachable. What survives is what a real server keeps on disk.
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
        self.net.stop(self.hosts[index]);
    }

    fn restart_server(&mut self, index: usize, now: Time) -> Result<(), SimError> {
        if self.servers[index].up {
            return Ok(());
        }
        self.servers[index].restarts += 1;
        self.net.free_port(self.hosts[index], 53, now);
        self.start_server(index, now)
    }

    /// Every host address except `ip` and the silent ones (which have no links).
    fn others(&self, ip: IpAddr) -> Vec<IpAddr> {
        let scenario = &self.loaded.scenario;
        scenario.host_addresses().into_iter().filter(|o| *o != ip && !scenario.silent_hosts.contains(o)).collect()
    }

    fn filter_both(&mut self, a: IpAddr, b: IpAddr, protocols: Protocols, filter: Filter) {
        self.net.set_filter(a, b, protocols, filter);
        self.net.set_filter(b, a, protocols, filter);
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
        let lines_before = self.recording.borrow().pending_len();
        let (target, text) = match &step.action {
            Action::Partition(a, b) | Action::Reject(a, b) => {
                let reject = matches!(step.action, Action::Reject(..));
                let filter = if reject { Filter::Reject } else { Filter::Drop };
                self.filter_both(self.ip_of(a), self.ip_of(b), Protocols::Both, filter);
                ("*".to_string(), format!("{} {a} {b}", if reject { "Reject" } else { "Partition" }))
            }
            Action::PartitionOneway(a, b) | Action::RejectOneway(a, b) => {
                let reject = matches!(step.action, Action::RejectOneway(..));
                let filter = if reject { Filter::Reject } else { Filter::Drop };
                self.net.set_filter(self.ip_of(a), self.ip_of(b), Protocols::Both, filter);
                ("*".to_string(), format!("{} {a} {b}", if reject { "RejectOneway" } else { "PartitionOneway" }))
            }
            Action::Heal(a, b) => {
                self.filter_both(self.ip_of(a), self.ip_of(b), Protocols::Both, Filter::Open);
                ("*".to_string(), format!("Heal {a} {b}"))
            }
            Action::HealOneway(a, b) => {
                self.net.set_filter(self.ip_of(a), self.ip_of(b), Protocols::Both, Filter::Open);
                ("*".to_string(), format!("HealOneway {a} {b}"))
            }
            Action::Isolate(s) | Action::Rejoin(s) => {
                let isolate = matches!(step.action, Action::Isolate(_));
                let ip = self.ip_of(s);
                for other in self.others(ip) {
                    self.filter_both(ip, other, Protocols::Both, if isolate { Filter::Drop } else { Filter::Open });
                }
                (s.clone(), if isolate { "Isolate" } else { "Rejoin" }.to_string())
            }
            Action::Block { from, to, protocol, oneway, .. } | Action::Unblock { from, to, protocol, oneway } => {
                let block = matches!(step.action, Action::Block { .. });
                let reject = matches!(step.action, Action::Block { reject: true, .. });
                let filter = match (block, reject) {
                    (false, _) => Filter::Open,
                    (true, false) => Filter::Drop,
                    (true, true) => Filter::Reject,
                };
                let protocols = match protocol {
                    Protocol::Tcp => Protocols::Tcp,
                    Protocol::Udp => Protocols::Udp,
                };
                let (x, y) = (self.ip_of(from), self.ip_of(to));
                self.net.set_filter(x, y, protocols, filter);
                if !oneway {
                    self.net.set_filter(y, x, protocols, filter);
                }
                let verb = if block { "Block" } else { "Unblock" };
                let how = match (reject, *oneway) {
                    (true, true) => " reject oneway",
                    (true, false) => " reject",
                    (false, true) => " oneway",
                    (false, false) => "",
                };
                ("*".to_string(), format!("{verb} {protocol:?} {from} {to}{how}"))
            }
            Action::Hold(a, b) | Action::Release(a, b) => {
                let hold = matches!(step.action, Action::Hold(..));
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    if hold { self.net.hold(from, to) } else { self.net.release(from, to, now) }
                }
                ("*".to_string(), format!("{} {a} {b}", if hold { "Hold" } else { "Release" }))
            }
            Action::Latency(a, b, latency) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    self.net.set_latency(from, to, *latency, *latency);
                }
                ("*".to_string(), format!("Latency {a} {b} {}", xfrsim_scenario::fmt_duration(*latency)))
            }
            Action::Loss(a, b, rate) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    self.net.set_loss(from, to, *rate);
                }
                ("*".to_string(), format!("Loss {a} {b} {rate}"))
            }
            Action::Link { a, b, latency, jitter, loss, bandwidth } => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                let mut text = format!("Link {a} {b}");
                let fmt = xfrsim_scenario::fmt_duration;
                for (from, to) in [(x, y), (y, x)] {
                    if latency.is_some() || jitter.is_some() {
                        let (base, _) = self.net.latency(from, to);
                        let base = latency.unwrap_or(base);
                        self.net.set_latency(from, to, base, base + jitter.unwrap_or_default());
                    }
                    if let Some(rate) = loss {
                        self.net.set_loss(from, to, *rate);
                    }
                    if let Some(bandwidth) = bandwidth {
                        self.net.set_bandwidth(from, to, xfrsim_scenario::parse_bandwidth(bandwidth));
                    }
                }
                if let Some(latency) = latency {
                    text.push_str(&format!(" latency={}", fmt(*latency)));
                }
                if let Some(jitter) = jitter {
                    text.push_str(&format!(" jitter={}", fmt(*jitter)));
                }
                if let Some(loss) = loss {
                    text.push_str(&format!(" loss={loss}"));
                }
                if let Some(bandwidth) = bandwidth {
                    text.push_str(&format!(" bandwidth={bandwidth}"));
                }
                ("*".to_string(), text)
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
                let peer_addresses = peer_ips(&self.loaded.scenario, peer);
                let everyone: Vec<IpAddr> = self.loaded.scenario.host_addresses().into_iter().collect();
                let entry =
                    self.servers[index].acls.iter_mut().find(|(o, _)| *o == origin).expect("validated zone on server");
                let mut list = entry.1.clone().unwrap_or(everyone);
                list.retain(|ip| !peer_addresses.contains(ip));
                if !deny {
                    list.extend(peer_addresses);
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
        self.recording.borrow_mut().insert_line(lines_before, format!("{now} {target} action {text}"));
        Ok(())
    }
}

/// The addresses a peer reference stands for in an ACL: all of a server's, or the one given.
fn peer_ips(scenario: &xfrsim_scenario::Scenario, reference: &str) -> Vec<IpAddr> {
    match scenario.server_index(reference) {
        Some(i) => scenario.servers[i].addresses().collect(),
        None => scenario.resolve(reference).map(|a| a.ip()).into_iter().collect(),
    }
}

/// The harness's resolution: every instant is a whole millisecond.
const TICK: Duration = Duration::from_millis(1);

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
        // Set when the last instant left a host runnable or a TCP retransmission clock running:
        // the next millisecond is then an instant too.
        let mut tick_next = false;
        let mut icmp = Vec::new();
        // Servers touched at this instant (their deadline may have moved), and since the last
        // status sample. Everything here costs what happened, not how many servers there are.
        let mut touched: Vec<usize> = (0..self.servers.len()).collect();
        let mut unsampled: BTreeSet<usize> = BTreeSet::new();
        let mut deadlines = Deadlines::new(self.servers.len());
        for (index, server) in self.servers.iter().enumerate() {
            deadlines.set(index, server.slot.node.borrow().as_ref().and_then(Node::poll_timeout));
        }
        loop {
            let now = self.now;
            self.clock.set(now);
            self.net.stats.instants += 1;
            let grid = std::mem::take(&mut tick_next);
            let mut active = false;
            // 1. Packets (and ICMP errors) that arrive now.
            active |= self.net.deliver_due(now, &mut icmp);
            for unreachable in icmp.drain(..) {
                touched.extend(self.port_unreachable(now, unreachable));
            }
            // 2. Scripted actions (rare: they may touch any server).
            while next_step < steps.len() && Time::from_duration(steps[next_step].at) <= now {
                let step = steps[next_step].clone();
                self.apply(&step, now)?;
                next_step += 1;
                active = true;
                touched.extend(0..self.servers.len());
            }
            // 3. Engine deadlines, including those the steps above just set to now.
            for &index in &touched {
                deadlines.set(index, self.servers[index].slot.node.borrow().as_ref().and_then(Node::poll_timeout));
            }
            while let Some(index) = deadlines.pop_due(now) {
                let slot = &self.servers[index].slot;
                slot.with(|n| n.handle_timeout(now));
                slot.wake.notify_one();
                touched.push(index);
                active = true;
            }
            // 4. Hosts run until none is runnable; one egress pass carries what they sent. An
            //    instant reached only for the retransmission clock just makes the pass, unless
            //    it put something on the wire or woke a task (a connection given up on).
            active |= self.net.poll_hosts(&mut touched);
            if active || grid {
                // The pass runs every millisecond the retransmission clock needs it, and
                // otherwise only when a kernel may hold a packet to collect.
                let sent = (grid || self.net.may_have_output()) && self.net.egress(now);
                let woke = self.net.poll_hosts(&mut touched);
                // Whether a connection still waits for an acknowledgement changes only when
                // something moved; a connection that the kernel gave up on without waking
                // anyone is noticed at the next whole second. A host that ran after the pass
                // and sent something has it collected at the next millisecond.
                let recheck = active || sent || woke || now.as_millis().is_multiple_of(1000);
                tick_next = self.net.runnable() || self.net.may_have_output() || !recheck || self.net.tcp_busy();
            }
            for &index in &touched {
                let deadline = self.servers[index].slot.node.borrow().as_ref().and_then(Node::poll_timeout);
                deadlines.set(index, deadline);
                unsampled.insert(index);
            }
            touched.clear();
            let lines = self.recording.borrow().line_count();
            if lines != seen_lines {
                seen_lines = lines;
                self.sample(now, std::mem::take(&mut unsampled));
            }
            self.recording.borrow_mut().flush();
            if now >= end {
                return Ok(());
            }
            self.now = if self.warp {
                let tick = tick_next.then_some(now + TICK);
                let action = steps.get(next_step).map(|s| Time::from_duration(s.at));
                let next = [tick, self.net.next_arrival(), deadlines.first(), action, Some(end)];
                // Anything due at or before `now` was handled; time never stands still.
                next.into_iter().flatten().min().expect("end is there").max(now + TICK)
            } else {
                now + TICK
            };
        }
    }

    pub(crate) fn network_stats(&self) -> crate::NetworkStats {
        self.net.stats
    }

    /// An ICMP port unreachable reached the server that sent the datagram; returns that server.
    fn port_unreachable(&self, now: Time, unreachable: PortUnreachable) -> Option<usize> {
        let host = self.net.host_of(unreachable.sender)?;
        let index = self.hosts.iter().position(|h| *h == host)?;
        let slot = &self.servers[index].slot;
        slot.with(|n| n.handle_udp_unreachable(now, unreachable.to, unreachable.id))?;
        slot.wake.notify_one();
        Some(index)
    }

    /// Records the status of every zone copy on the given servers (called whenever the timeline
    /// grew, with the servers touched since the last call: no other copy can have changed).
    fn sample(&self, now: Time, servers: BTreeSet<usize>) {
        let mut recording = self.recording.borrow_mut();
        for index in servers {
            let (server, spec) = (&self.servers[index], &self.loaded.scenario.servers[index]);
            for zone in &spec.zones {
                let origin = Name::from_ascii(zone.zone()).expect("validated zone name");
                let status = server.slot.node.borrow().as_ref().map(|n| n.zone_status(&origin));
                recording.sample(now, &server.name, zone.zone(), Status::of(status.flatten()));
            }
        }
    }
}

/// Each server's next engine deadline, indexed by time: the earliest is found without looking
/// at every server.
struct Deadlines {
    by_time: BTreeSet<(Time, usize)>,
    of: Vec<Option<Time>>,
}

impl Deadlines {
    fn new(servers: usize) -> Self {
        Deadlines { by_time: BTreeSet::new(), of: vec![None; servers] }
    }

    fn set(&mut self, index: usize, deadline: Option<Time>) {
        if let Some(old) = self.of[index].take() {
            self.by_time.remove(&(old, index));
        }
        if let Some(at) = deadline {
            self.by_time.insert((at, index));
        }
        self.of[index] = deadline;
    }

    fn first(&self) -> Option<Time> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// A server whose deadline is due at `now`, taken out of the index (it is set again after
    /// the server has run).
    fn pop_due(&mut self, now: Time) -> Option<usize> {
        let (at, index) = *self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.remove(&(at, index));
        self.of[index] = None;
        Some(index)
    }
}
