//! A tiny deterministic network for driving engine nodes in virtual time: fixed latency,
//! ordered delivery queue, TCP as paired connection ids, and a few faults. Not the simulated network (xfrsim-net) — just
//! enough to test the engine's behaviour without any runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use xfrsim_engine::{ConnId, ConnectFailure, Event, Node, NodeConfig, Time, Transmit};

pub const LATENCY: Duration = Duration::from_millis(10);
/// TCP throughput of every link: 10 Mbit/s, so a multi-message transfer takes real time.
pub const BYTES_PER_SEC: u64 = 1_250_000;

fn transmission_time(bytes: usize) -> Duration {
    Duration::from_micros(bytes as u64 * 1_000_000 / BYTES_PER_SEC)
}

pub fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

pub fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(ip(last), 53)
}

#[derive(Debug, Clone)]
enum Delivery {
    Udp { from: SocketAddr, to: SocketAddr, payload: Vec<u8> },
    Connect { client: IpAddr, conn: ConnId, to: SocketAddr },
    Connected { client: IpAddr, conn: ConnId },
    ConnectFailed { client: IpAddr, conn: ConnId },
    Data { to: IpAddr, conn: ConnId, payload: Vec<u8> },
    Sent { at: IpAddr, conn: ConnId },
    Closed { to: IpAddr, conn: ConnId },
}

/// What sits at an address.
enum Host {
    Node(Box<Node>),
    /// A host that answers TCP with RST and drops UDP (no DNS service).
    NoService,
}

pub struct Net {
    pub now: Time,
    hosts: BTreeMap<IpAddr, Host>,
    queue: BTreeMap<(Time, u64), Delivery>,
    seq: u64,
    /// (ip, conn) → (peer ip, peer conn)
    links: BTreeMap<(IpAddr, ConnId), (IpAddr, ConnId)>,
    /// Hosts cut off from everyone (both directions).
    isolated: BTreeSet<IpAddr>,
    /// Hosts whose UDP traffic is dropped (TCP still passes), like a UDP-hostile firewall.
    udp_blocked: BTreeSet<IpAddr>,
    /// Server ip → messages it may still send on each transfer connection before the
    /// connection is cut (the client sees a close).
    cut_after: BTreeMap<IpAddr, usize>,
    sent_on_conn: BTreeMap<(IpAddr, ConnId), usize>,
    pub log: Vec<(String, Event)>,
    /// Replies received by the test client at 192.0.2.250.
    pub client_inbox: Vec<Vec<u8>>,
}

pub const CLIENT: u8 = 250;

impl Net {
    pub fn new() -> Self {
        Net {
            now: Time::ZERO,
            hosts: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            links: BTreeMap::new(),
            isolated: BTreeSet::new(),
            udp_blocked: BTreeSet::new(),
            cut_after: BTreeMap::new(),
            sent_on_conn: BTreeMap::new(),
            log: Vec::new(),
            client_inbox: Vec::new(),
        }
    }

    pub fn add(&mut self, config: NodeConfig, seed: u64) {
        let ip = config.addresses[0].ip();
        let node = Node::new(config, seed, self.now).expect("test configs are valid");
        self.hosts.insert(ip, Host::Node(Box::new(node)));
        self.drain_all();
    }

    pub fn add_no_service(&mut self, ip: IpAddr) {
        self.hosts.insert(ip, Host::NoService);
    }

    pub fn node(&mut self, ip: IpAddr) -> &mut Node {
        match self.hosts.get_mut(&ip) {
            Some(Host::Node(node)) => node,
            _ => panic!("no node at {ip}"),
        }
    }

    pub fn isolate(&mut self, ip: IpAddr) {
        self.isolated.insert(ip);
    }

    pub fn heal(&mut self, ip: IpAddr) {
        self.isolated.remove(&ip);
    }

    pub fn block_udp(&mut self, ip: IpAddr) {
        self.udp_blocked.insert(ip);
    }

    pub fn cut_transfers_from(&mut self, server: IpAddr, after_messages: usize) {
        self.cut_after.insert(server, after_messages);
    }

    pub fn stop_cutting(&mut self, server: IpAddr) {
        self.cut_after.remove(&server);
    }

    fn passes(&self, from: IpAddr, to: IpAddr) -> bool {
        !self.isolated.contains(&from) && !self.isolated.contains(&to)
    }

    fn schedule(&mut self, at: Time, delivery: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), delivery);
    }

    /// Sends a datagram from the test client.
    pub fn client_send(&mut self, to: SocketAddr, payload: Vec<u8>) {
        let from = addr(CLIENT);
        self.schedule(self.now + LATENCY, Delivery::Udp { from, to, payload });
    }

    /// Applies an operator command at the current time.
    pub fn command(&mut self, ip: IpAddr, command: xfrsim_engine::Command) -> Result<(), xfrsim_engine::CommandError> {
        let now = self.now;
        let result = self.node(ip).handle_command(now, command);
        self.drain_all();
        result
    }

    /// Runs until `end`, jumping from one delivery or deadline to the next.
    pub fn run_until(&mut self, end: Time) {
        loop {
            let next_delivery = self.queue.keys().next().map(|(t, _)| *t);
            let next_deadline = self
                .hosts
                .values()
                .filter_map(|h| match h {
                    Host::Node(n) => n.poll_timeout(),
                    Host::NoService => None,
                })
                .min();
            let Some(next) = [next_delivery, next_deadline].into_iter().flatten().min() else {
                self.now = end;
                return;
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            while let Some(entry) = self.queue.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let delivery = entry.remove();
                self.deliver(delivery);
                self.drain_all();
            }
            let now = self.now;
            let due: Vec<IpAddr> = self
                .hosts
                .iter()
                .filter_map(|(ip, h)| match h {
                    Host::Node(n) if n.poll_timeout().is_some_and(|t| t <= now) => Some(*ip),
                    _ => None,
                })
                .collect();
            for ip in due {
                self.node(ip).handle_timeout(now);
            }
            self.drain_all();
        }
    }

    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        self.run_until(end);
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Udp { from, to, payload } => {
                if to.ip() == ip(CLIENT) {
                    self.client_inbox.push(payload);
                    return;
                }
                if let Some(Host::Node(node)) = self.hosts.get_mut(&to.ip()) {
                    node.handle_udp(now, from, &payload);
                }
            }
            Delivery::Connect { client, conn, to } => match self.hosts.get_mut(&to.ip()) {
                Some(Host::Node(node)) => {
                    let server_conn = node.handle_tcp_accepted(now, SocketAddr::new(client, 40000 + conn.0 as u16));
                    self.links.insert((client, conn), (to.ip(), server_conn));
                    self.links.insert((to.ip(), server_conn), (client, conn));
                    self.schedule(now + LATENCY, Delivery::Connected { client, conn });
                }
                Some(Host::NoService) => self.schedule(now + LATENCY, Delivery::ConnectFailed { client, conn }),
                // Nothing at that address: the SYN goes nowhere, the client's deadline decides.
                None => {}
            },
            Delivery::Connected { client, conn } => {
                if let Some(Host::Node(node)) = self.hosts.get_mut(&client) {
                    node.handle_tcp_connected(now, conn);
                }
            }
            Delivery::ConnectFailed { client, conn } => {
                if let Some(Host::Node(node)) = self.hosts.get_mut(&client) {
                    node.handle_tcp_connect_failed(now, conn, ConnectFailure::Refused);
                }
            }
            Delivery::Data { to, conn, payload } => {
                if let Some(Host::Node(node)) = self.hosts.get_mut(&to) {
                    node.handle_tcp_message(now, conn, &payload);
                }
            }
            Delivery::Sent { at, conn } => {
                if let Some(Host::Node(node)) = self.hosts.get_mut(&at) {
                    node.handle_tcp_sent(now, conn);
                }
            }
            Delivery::Closed { to, conn } => {
                self.links.remove(&(to, conn));
                if let Some(Host::Node(node)) = self.hosts.get_mut(&to) {
                    node.handle_tcp_closed(now, conn);
                }
            }
        }
    }

    fn drain_all(&mut self) {
        let ips: Vec<IpAddr> = self.hosts.keys().copied().collect();
        for ip in ips {
            while let Some(Host::Node(node)) = self.hosts.get_mut(&ip) {
                let name = node.name().to_string();
                while let Some(event) = node.poll_event() {
                    self.log.push((name.clone(), event));
                }
                let Some(Host::Node(node)) = self.hosts.get_mut(&ip) else { break };
                let Some(transmit) = node.poll_transmit() else { break };
                self.transmit(ip, transmit);
            }
        }
    }

    fn transmit(&mut self, from_ip: IpAddr, transmit: Transmit) {
        let now = self.now;
        match transmit {
            Transmit::Udp { to, payload, .. } | Transmit::Query { to, payload, .. } => {
                let from = SocketAddr::new(from_ip, 53);
                if !self.passes(from_ip, to.ip())
                    || self.udp_blocked.contains(&from_ip)
                    || self.udp_blocked.contains(&to.ip())
                {
                    return;
                }
                self.schedule(now + LATENCY, Delivery::Udp { from, to, payload });
            }
            Transmit::Connect { conn, to, .. } => {
                if self.passes(from_ip, to.ip()) {
                    self.schedule(now + LATENCY, Delivery::Connect { client: from_ip, conn, to });
                }
            }
            Transmit::Send { conn, payload } => {
                let Some(&(peer, peer_conn)) = self.links.get(&(from_ip, conn)) else {
                    self.schedule(now, Delivery::Sent { at: from_ip, conn });
                    return;
                };
                let sent = self.sent_on_conn.entry((from_ip, conn)).or_insert(0);
                *sent += 1;
                if self.cut_after.get(&from_ip).is_some_and(|&limit| *sent > limit) {
                    // The connection breaks: both ends see it closed, the sender at once.
                    self.links.remove(&(from_ip, conn));
                    self.links.remove(&(peer, peer_conn));
                    self.schedule(now, Delivery::Closed { to: from_ip, conn });
                    self.schedule(now + LATENCY, Delivery::Closed { to: peer, conn: peer_conn });
                    return;
                }
                let written = now + transmission_time(payload.len());
                self.schedule(written, Delivery::Sent { at: from_ip, conn });
                if self.passes(from_ip, peer) {
                    self.schedule(written + LATENCY, Delivery::Data { to: peer, conn: peer_conn, payload });
                }
            }
            Transmit::Close { conn } => {
                if let Some((peer, peer_conn)) = self.links.remove(&(from_ip, conn)) {
                    self.schedule(now + LATENCY, Delivery::Closed { to: peer, conn: peer_conn });
                }
            }
        }
    }

    // ----- log queries ------------------------------------------------------------------

    /// Events of `node` with Windows id or xfrsim name `what`, in order.
    pub fn events(&self, node: &str, what: &str) -> Vec<Event> {
        self.log
            .iter()
            .filter(|(n, e)| {
                n == node
                    && (e.kind.windows_id().map(|id| id.to_string()).as_deref() == Some(what) || e.kind.name() == what)
            })
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn count(&self, node: &str, what: &str) -> usize {
        self.events(node, what).len()
    }

    /// The whole log as text, for failure messages.
    pub fn dump(&self) -> String {
        self.log.iter().map(|(n, e)| format!("{n}: {e}\n")).collect()
    }
}
