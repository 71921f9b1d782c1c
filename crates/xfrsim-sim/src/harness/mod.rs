//! A scenario on the simulated network: one host per server, each running the engine through
//! the driver; the harness owns time, applies the timeline and fires engine deadlines.
//!
//! # Scheduling
//! Time advances from instant to instant. The next instant is the earliest of: the network's
//! next due entry (a packet's arrival or one of its TCP timers, [`Network::next_due`]), the
//! next engine deadline and the next scripted action. Nothing is polled in between, so nothing
//! can happen in between: the jump is exact by construction. With the warp off the harness
//! visits every millisecond instead and does nothing at the instants where nothing is due,
//! which makes it the oracle the warp is tested against.

mod actions;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::rr::Name;
use xfrsim_driver::{HarnessClock, NodeSlot, SimNet};
use xfrsim_engine::{Acl, Node, NodeConfig, PersistedZone, Role, Time, ZoneConfig};
use xfrsim_scenario::{LoadedScenario, ServerId, Setup, ZoneRole};
use xfrsim_zone::{Zone, mix64};

use crate::SimError;
use crate::network::Network;
use crate::record::{Recording, Status};

/// One server of the scenario while it runs. Its zones are in the order of its
/// [`xfrsim_scenario::SetupServer::zones`].
struct Server {
    slot: Rc<NodeSlot>,
    /// Per zone: the data a primary zone restarts with (what it had on disk); `None` for a
    /// secondary zone.
    primary_data: Vec<Option<Zone>>,
    /// Per zone: who may transfer it now (`None`: anyone), as the timeline changed it.
    acls: Vec<Option<Vec<std::net::IpAddr>>>,
    /// Secondary copies and expire times that survive a crash, by origin.
    persisted: BTreeMap<Name, PersistedZone>,
    restarts: u64,
    up: bool,
}

pub(crate) struct Harness {
    net: Network,
    setup: Setup,
    seed: u64,
    clock: HarnessClock,
    now: Time,
    warp: bool,
    servers: Vec<Server>,
    /// Host index in the network of each server.
    hosts: Vec<usize>,
    update_counter: u32,
    /// A planted bug in every server (explore's canaries), normally `None`.
    canary: Option<xfrsim_engine::Canary>,
    pub(crate) recording: Rc<RefCell<Recording>>,
}

impl Harness {
    pub(crate) fn new(
        loaded: &LoadedScenario,
        seed: u64,
        warp: bool,
        recording: Recording,
        canary: Option<xfrsim_engine::Canary>,
    ) -> Result<Harness, SimError> {
        let setup = loaded.setup.clone();
        // One host per server, then one per closed host (a machine with no DNS service: its
        // kernel answers RST and port unreachable). Silent hosts are no host at all: nothing
        // routes to them, so packets vanish.
        let mut host_ips: Vec<Vec<std::net::IpAddr>> =
            setup.servers.iter().map(|server| server.addresses.clone()).collect();
        host_ips.extend(setup.closed_hosts.iter().map(|ip| vec![*ip]));
        let latency = (setup.min_latency, setup.max_latency);
        let net = Network::new(&host_ips, mix64(seed ^ 0x6e65_7477_6f72_6b00), latency);
        let recording = Rc::new(RefCell::new(recording));
        let clock = HarnessClock::default();
        let mut servers = Vec::with_capacity(setup.servers.len());
        for (index, spec) in setup.servers.iter().enumerate() {
            let recording_for_events = recording.clone();
            let server = u16::try_from(index).map_err(|_| SimError::Config("more than 65,535 servers".into()))?;
            let slot =
                NodeSlot::new(None, Box::new(move |event| recording_for_events.borrow_mut().event_line(server, event)));
            let primary_data = spec
                .zones
                .iter()
                .map(|held| match held.role {
                    ZoneRole::Primary => Some(setup.zone(held.zone).data.clone()),
                    ZoneRole::Secondary { .. } => None,
                })
                .collect();
            let acls = spec.zones.iter().map(|held| held.allow_transfer.clone()).collect();
            servers.push(Server { slot, primary_data, acls, persisted: BTreeMap::new(), restarts: 0, up: false });
        }
        let hosts = (0..servers.len()).collect();
        let mut harness = Harness {
            net,
            setup,
            seed,
            clock,
            now: Time::ZERO,
            warp,
            servers,
            hosts,
            update_counter: 0,
            canary,
            recording,
        };
        for index in 0..harness.servers.len() {
            harness.start_server(index, Time::ZERO)?;
        }
        Ok(harness)
    }

    fn node_config(&self, index: usize) -> NodeConfig {
        let spec = &self.setup.servers[index];
        let server = &self.servers[index];
        let zones = spec
            .zones
            .iter()
            .enumerate()
            .map(|(slot, held)| {
                let zone = self.setup.zone(held.zone);
                let role = match (&held.role, &server.primary_data[slot]) {
                    (ZoneRole::Primary, Some(data)) => Role::Primary { zone: data.clone() },
                    (ZoneRole::Secondary { masters }, _) => {
                        let restored = server.persisted.get(&zone.name).map(|p| (p.zone.clone(), p.expire_at));
                        Role::Secondary { masters: masters.clone(), restored }
                    }
                    (ZoneRole::Primary, None) => unreachable!("every primary zone of a server keeps its data"),
                };
                ZoneConfig {
                    origin: zone.name.clone(),
                    role,
                    notify: held.notify.clone(),
                    allow_transfer: server.acls[slot].clone().map_or(Acl::Any, Acl::hosts),
                    allow_update: Acl::None,
                    journal_max_diffs: held.journal,
                    notify_source: held.notify_source,
                    transfer_source: held.transfer_source,
                    overrides: held.overrides.clone(),
                }
            })
            .collect();
        let mut behaviour = spec.behaviour.clone();
        behaviour.canary = self.canary;
        NodeConfig {
            name: spec.name.clone(),
            addresses: spec.addresses.iter().map(|ip| SocketAddr::new(*ip, 53)).collect(),
            zones,
            behaviour,
        }
    }

    fn node_seed(&self, index: usize) -> u64 {
        let server = &self.servers[index];
        mix64(self.seed ^ mix64(index as u64 + 1) ^ mix64(server.restarts.wrapping_mul(0x9e37_79b9)))
    }

    fn start_server(&mut self, index: usize, now: Time) -> Result<(), SimError> {
        let config = self.node_config(index);
        let seed = self.node_seed(index);
        let node = Node::new(config, seed, now)
            .map_err(|e| SimError::Config(format!("server `{}`: {e}", self.setup.servers[index].name)))?;
        let server = &mut self.servers[index];
        *server.slot.node.borrow_mut() = Some(node);
        server.up = true;
        // Events emitted by `Node::new` (503, ...) are drained by the next `with`.
        server.slot.with(|_| ());
        let listen: Vec<SocketAddr> =
            self.setup.servers[index].addresses.iter().map(|ip| SocketAddr::new(*ip, 53)).collect();
        let (slot, clock) = (server.slot.clone(), self.clock.clone());
        self.net.spawn(self.hosts[index], async move {
            // Binding the server's own addresses on a fresh host (or a freed port) cannot fail;
            // if it does, the network model is broken: crash the run.
            if let Err(error) = xfrsim_driver::run::<SimNet, HarnessClock>(slot, listen.clone(), clock).await {
                panic!("server on {listen:?} failed to start: {error}");
            }
        });
        Ok(())
    }

    /// The server process dies: its tasks and sockets go (connections close as the kernel
    /// closes a dead process's sockets), the machine stays up, so its DNS port now answers RST
    /// and ICMP port unreachable. What survives is what a real server keeps on disk.
    fn crash_server(&mut self, index: usize) {
        let spec = &self.setup.servers[index];
        let server = &mut self.servers[index];
        if let Some(node) = server.slot.node.borrow_mut().take() {
            server.persisted = node.persisted().into_iter().map(|p| (p.origin.clone(), p)).collect();
            for (held, data) in spec.zones.iter().zip(&mut server.primary_data) {
                if let (Some(data), Some(zone)) = (data.as_mut(), node.zone(&self.setup.zone(held.zone).name)) {
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
        self.start_server(index, now)
    }

    fn slot(&self, server: ServerId) -> &Rc<NodeSlot> {
        &self.servers[server.index()].slot
    }
}

/// The harness's resolution: every instant is a whole millisecond.
const TICK: Duration = Duration::from_millis(1);

impl Harness {
    /// Runs the scenario to its end.
    pub(crate) fn run(&mut self) -> Result<(), SimError> {
        let end = Time::from_duration(self.setup.duration);
        let steps = std::mem::take(&mut self.setup.schedule);
        let mut next_step = 0;
        let mut seen_lines = usize::MAX;
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
            self.net.instants += 1;
            // 1. Packets that arrive now and the network's own timers (TCP retransmissions,
            //    probes, TIME_WAIT) due now.
            self.net.advance(now);
            // 2. Scripted actions (rare: they may touch any server).
            while next_step < steps.len() && Time::from_duration(steps[next_step].at) <= now {
                self.apply(&steps[next_step], now)?;
                next_step += 1;
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
            }
            // 4. Hosts run until nothing is left for now (what they send at this instant may
            //    arrive at it too).
            self.net.settle(now, &mut touched);
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
                let action = steps.get(next_step).map(|s| Time::from_duration(s.at));
                let next = [self.net.next_due(), deadlines.first(), action, Some(end)];
                // Anything due at or before `now` was handled; time never stands still.
                next.into_iter().flatten().min().expect("end is there").max(now + TICK)
            } else {
                now + TICK
            };
        }
    }

    pub(crate) fn network_stats(&self) -> crate::NetworkStats {
        self.net.stats()
    }

    /// Records the status of every zone copy on the given servers (called whenever the timeline
    /// grew, with the servers touched since the last call: no other copy can have changed).
    fn sample(&self, now: Time, servers: BTreeSet<usize>) {
        let mut recording = self.recording.borrow_mut();
        for index in servers {
            let (server, spec) = (&self.servers[index], &self.setup.servers[index]);
            let node = server.slot.node.borrow();
            for held in &spec.zones {
                let zone = self.setup.zone(held.zone);
                let status = node.as_ref().and_then(|n| n.zone_status(&zone.name));
                recording.sample(now, &spec.name, &zone.text, Status::of(status));
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
