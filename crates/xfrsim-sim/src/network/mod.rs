//! The simulated network, owned by the harness: one turmoil-net kernel per host (real TCP with
//! handshake, RST for a closed port, retransmission and flow control), a delivery queue ordered
//! by (time, sequence), and what real networks do to packets on the way (latency, jitter,
//! bandwidth, loss, silence, rejection, one protocol blocked).
//!
//! turmoil-net has no clock. Time here is the harness's: a packet leaving at `t` is queued for
//! `t + delay` and handed to its destination's kernel when the scheduler reaches that instant.
//! Every instant is a whole millisecond, so stepping millisecond by millisecond (`--no-warp`)
//! visits a superset of the instants the scheduler jumps between, and does the same at each.
//!
//! # Retransmission
//! turmoil-net counts its retransmission timeout in egress passes, not in time
//! (turmoil-net 0.1 src/kernel/tcp.rs `check_retx`). The harness makes a pass at most once per
//! millisecond, and every millisecond while any connection has something unacknowledged, so a
//! pass *is* a millisecond: [`RTO_PASSES`] passes are a retransmission timeout of one second.

mod link;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::task::LocalSet;
use turmoil_net::{
    EnterGuard, HostId, KernelConfig, Net, NetstatState, Packet, Proto, TcpFlags, TcpSegment, Transport as Wire,
};
use xfrsim_engine::Time;

use self::link::Link;
pub(crate) use self::link::{Filter, Protocols};

/// Egress passes without acknowledgement progress before TCP retransmits: 1,000 one-millisecond
/// passes, the 1 s RTO of RFC 6298 §2.1 for a sender that has no RTT measurement (turmoil-net
/// measures none, and has no backoff). Linux goes down to 200 ms once it has measured the RTT;
/// a fixed 200 ms would retransmit spuriously on any link where one segment takes longer than
/// that to arrive (below 60 kbit/s), since a whole window is queued at once.
pub(crate) const RTO_PASSES: u32 = 1000;
/// Retransmissions before TCP gives up on a connection: 120 × 1 s = 2 minutes, about Linux's
/// `tcp_syn_retries` = 6 (127 s). Longer than every engine deadline, so the engine's own timers
/// (BIND's connect and idle timeouts) decide, as they do on a real host.
pub(crate) const RETX_MAX: u32 = 120;
/// Packets a held link keeps (per direction) until released; later ones are dropped, as a
/// full router queue drops them. Retransmissions into a hold are bounded by the engine's
/// deadlines (a connection is given up within 30 s), so this is only reached by a runaway.
pub(crate) const MAX_HELD_PACKETS: usize = 100_000;
/// Ethernet MTU: TCP segments carry at most 1,460 bytes.
const MTU_BYTES: u32 = 1500;

/// An ICMP port unreachable on its way back to `sender`, about a datagram it sent to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortUnreachable {
    pub sender: IpAddr,
    pub to: SocketAddr,
    /// The DNS message id: ICMP quotes the first 8 octets after the IP header (RFC 792), which
    /// cover the UDP header and the id.
    pub id: u16,
}

enum Arrival {
    Packet(Packet),
    Icmp(PortUnreachable),
}

/// Counters of the simulated network over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Packets handed to a destination.
    pub packets: u64,
    /// Egress passes (each one millisecond of some TCP connection's retransmission clock).
    pub egress_passes: u64,
    /// Instants the scheduler stopped at.
    pub instants: u64,
    /// Octets of TCP segment payload delivered (DNS messages with their 2-byte length prefix;
    /// a retransmitted segment counts again): what `bytes=` on a PASS/FAIL line reports.
    pub tcp_payload_bytes: u64,
}

/// Hosts woken since they were last polled, in host order (so polling order is deterministic,
/// and finding them costs nothing per idle host).
type Runnable = Arc<Mutex<BTreeSet<usize>>>;

/// A host's waker: puts the host in the runnable set.
struct HostWaker {
    index: usize,
    runnable: Runnable,
}

impl Wake for HostWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.runnable.lock().expect("one thread").insert(self.index);
    }
}

struct Host {
    id: HostId,
    ips: Vec<IpAddr>,
    /// The host's tasks; `None` while nothing runs there.
    tasks: Option<LocalSet>,
    waker: Waker,
}

pub(crate) struct Network {
    hosts: Vec<Host>,
    runnable: Runnable,
    by_ip: BTreeMap<IpAddr, usize>,
    queue: BTreeMap<(Time, u64), Arrival>,
    next_seq: u64,
    links: BTreeMap<(IpAddr, IpAddr), Link>,
    default_latency: (Duration, Duration),
    seed: u64,
    /// Hosts that may hold a TCP connection with something unacknowledged.
    tcp_hosts: BTreeSet<usize>,
    out: Vec<Packet>,
    icmp_due: Vec<PortUnreachable>,
    /// A TCP segment was handed to a kernel since the last egress pass (it may have queued an
    /// ACK, a SYN-ACK or a RST).
    tcp_arrived: bool,
    /// The driver's count of packet-making socket calls at the last egress pass.
    calls_at_egress: u64,
    /// Each host's UDP sockets (local address, connected peer), read from its kernel when first
    /// needed after the host last ran (sockets only change while their host runs).
    udp_sockets: BTreeMap<usize, Vec<(SocketAddr, Option<SocketAddr>)>>,
    pub(crate) stats: NetworkStats,
    runtime: tokio::runtime::Runtime,
    /// Installs the network in this thread; dropped last (see `Drop`).
    guard: Option<EnterGuard>,
}

impl Network {
    /// A network of `hosts` (each a list of addresses, the first one its primary). Addresses
    /// that are no host's are unrouted: packets to them vanish.
    pub(crate) fn new(hosts: &[Vec<IpAddr>], seed: u64, default_latency: (Duration, Duration)) -> Network {
        let config = KernelConfig::default().mtu(MTU_BYTES).retx_threshold(RTO_PASSES).retx_max(RETX_MAX);
        let mut net = Net::with_config(config);
        let mut by_ip = BTreeMap::new();
        let mut list = Vec::new();
        let runnable = Runnable::default();
        for (index, ips) in hosts.iter().enumerate() {
            let id = net.add_host(ips.clone());
            for ip in ips {
                by_ip.insert(*ip, index);
            }
            let waker = Waker::from(Arc::new(HostWaker { index, runnable: runnable.clone() }));
            list.push(Host { id, ips: ips.clone(), tasks: None, waker });
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime builds");
        Network {
            hosts: list,
            runnable,
            by_ip,
            queue: BTreeMap::new(),
            next_seq: 0,
            links: BTreeMap::new(),
            default_latency,
            seed,
            tcp_hosts: BTreeSet::new(),
            out: Vec::new(),
            icmp_due: Vec::new(),
            tcp_arrived: false,
            calls_at_egress: 0,
            udp_sockets: BTreeMap::new(),
            stats: NetworkStats::default(),
            runtime,
            guard: Some(net.enter()),
        }
    }

    fn guard(&self) -> &EnterGuard {
        self.guard.as_ref().expect("the network is installed until dropped")
    }

    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<usize> {
        self.by_ip.get(&ip).copied()
    }

    /// Starts `task` on host `index` (its sockets live in that host's kernel).
    pub(crate) fn spawn(&mut self, index: usize, task: impl Future<Output = ()> + 'static) {
        let host = &mut self.hosts[index];
        let tasks = host.tasks.get_or_insert_with(|| {
            let mut set = LocalSet::new();
            // A panic in a host task is a broken invariant: crash the run so its seed is kept.
            set.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);
            set
        });
        tasks.spawn_local(task);
        self.runnable.lock().expect("one thread").insert(index);
    }

    /// Stops everything running on host `index`, as a process dies: its sockets close (open
    /// connections send FIN, or RST with unread data) and the host's kernel stays up, so the
    /// port answers RST and ICMP port unreachable from now on.
    pub(crate) fn stop(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        if let Some(tasks) = host.tasks.take() {
            // Sockets close in their host's kernel: make it current while the tasks drop.
            self.guard.as_ref().expect("installed").set_current(host.id);
            let _runtime = self.runtime.enter();
            drop(tasks);
        }
        self.udp_sockets.remove(&index);
        self.tcp_hosts.insert(index);
    }

    /// Frees `port` on host `index` for a restarted server: connections the dead process left
    /// closing on it are reset (a real server binds with SO_REUSEADDR, which turmoil-net lacks).
    pub(crate) fn free_port(&mut self, index: usize, port: u16, now: Time) {
        let host = &self.hosts[index];
        let mut resets = Vec::new();
        for ip in &host.ips {
            for entry in turmoil_net::netstat(*ip).entries {
                if let (Proto::Tcp, Some(peer)) = (entry.proto, entry.peer)
                    && entry.local.port() == port
                {
                    resets.push((entry.local, peer));
                }
            }
        }
        if resets.is_empty() {
            return;
        }
        for (local, peer) in resets {
            let rst = TcpSegment {
                src_port: peer.port(),
                dst_port: local.port(),
                seq: 0,
                ack: 0,
                flags: TcpFlags { rst: true, ..TcpFlags::default() },
                window: 0,
                payload: Bytes::new(),
            };
            self.guard().deliver(Packet {
                src: peer.ip(),
                dst: local.ip(),
                ttl: link::FORGED_TTL,
                payload: Wire::Tcp(rst),
            });
        }
        // Reset sockets leave the table at the end of an egress pass.
        let _ = self.egress(now);
    }

    /// Polls runnable hosts until none is; appends each host polled to `polled`.
    pub(crate) fn poll_hosts(&mut self, polled: &mut Vec<usize>) -> bool {
        let start = polled.len();
        let _runtime = self.runtime.enter();
        loop {
            let next = self.runnable.lock().expect("one thread").pop_first();
            let Some(index) = next else { break };
            let host = &mut self.hosts[index];
            let Some(tasks) = host.tasks.as_mut() else { continue };
            polled.push(index);
            self.udp_sockets.remove(&index);
            self.guard.as_ref().expect("installed").set_current(host.id);
            let mut cx = Context::from_waker(&host.waker);
            // A `LocalSet` runs its ready tasks and re-wakes our waker if work remains.
            let _: Poll<()> = Pin::new(tasks).poll(&mut cx);
        }
        polled.len() > start
    }

    /// True when some host was woken and has not been polled yet.
    pub(crate) fn runnable(&self) -> bool {
        !self.runnable.lock().expect("one thread").is_empty()
    }

    /// Hands every packet due by `now` to its destination kernel; returns whether any arrived.
    /// ICMP port unreachables due are returned through `icmp`.
    pub(crate) fn deliver_due(&mut self, now: Time, icmp: &mut Vec<PortUnreachable>) -> bool {
        let mut any = false;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            any = true;
            match entry.remove() {
                Arrival::Packet(packet) => self.arrive(now, packet),
                Arrival::Icmp(unreachable) => icmp.push(unreachable),
            }
        }
        // Datagrams to closed ports found while delivering: their ICMP goes back now.
        let due = std::mem::take(&mut self.icmp_due);
        for unreachable in due {
            self.send_icmp(now, unreachable);
        }
        any
    }

    fn arrive(&mut self, now: Time, packet: Packet) {
        self.stats.packets += 1;
        if let Wire::Tcp(segment) = &packet.payload {
            self.stats.tcp_payload_bytes += segment.payload.len() as u64;
        }
        if let Wire::Udp(datagram) = &packet.payload {
            // turmoil-net drops a datagram for a closed port silently; a real kernel answers
            // ICMP port unreachable (RFC 1122 §3.2.2.1), which is how a resolver learns at once
            // that nothing listens there.
            if !self.udp_port_open(packet.dst, datagram.dst_port, SocketAddr::new(packet.src, datagram.src_port)) {
                let id = datagram.payload.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                self.icmp_due.push(PortUnreachable {
                    sender: packet.src,
                    to: SocketAddr::new(packet.dst, datagram.dst_port),
                    id,
                });
                let _ = now;
                return;
            }
        } else if let Some(index) = self.host_of(packet.dst) {
            self.tcp_hosts.insert(index);
            self.tcp_arrived = true;
        }
        self.guard().deliver(packet);
    }

    fn udp_port_open(&mut self, dst: IpAddr, port: u16, from: SocketAddr) -> bool {
        let Some(index) = self.host_of(dst) else {
            return true; // unrouted: nobody to answer, the datagram just vanishes
        };
        let sockets = self.udp_sockets.entry(index).or_insert_with(|| {
            let entries = turmoil_net::netstat(dst).entries;
            entries.into_iter().filter(|e| e.proto == Proto::Udp).map(|e| (e.local, e.peer)).collect()
        });
        sockets.iter().any(|(local, peer)| {
            local.port() == port && (local.ip() == dst || local.ip().is_unspecified()) && peer.is_none_or(|p| p == from)
        })
    }

    fn send_icmp(&mut self, now: Time, unreachable: PortUnreachable) {
        // ICMP travels the reverse path; a link that silently drops everything drops it too.
        let key = (unreachable.to.ip(), unreachable.sender);
        let link = self.link(key);
        if link.udp == Filter::Drop && link.tcp == Filter::Drop {
            return;
        }
        let at = self.arrival_time(key, now, 56);
        self.schedule(at, Arrival::Icmp(unreachable));
    }

    /// When a packet of `size` bytes leaving at `now` on link `key` arrives.
    fn arrival_time(&mut self, key: (IpAddr, IpAddr), now: Time, size: u32) -> Time {
        let default_latency = self.default_latency;
        self.link(key).arrival(now, size, default_latency)
    }

    fn schedule(&mut self, at: Time, arrival: Arrival) {
        self.queue.insert((at, self.next_seq), arrival);
        self.next_seq += 1;
    }

    /// One egress pass: every kernel's outgoing packets, through the links, into the queue.
    /// True if any packet left.
    pub(crate) fn egress(&mut self, now: Time) -> bool {
        self.stats.egress_passes += 1;
        self.tcp_arrived = false;
        self.calls_at_egress = xfrsim_driver::socket_calls();
        let mut out = std::mem::take(&mut self.out);
        self.guard().egress_all(&mut out);
        let sent = !out.is_empty();
        for packet in out.drain(..) {
            self.route(now, packet);
        }
        self.out = out;
        sent
    }

    fn route(&mut self, now: Time, packet: Packet) {
        let key = (packet.src, packet.dst);
        if let Wire::Tcp(_) = packet.payload
            && let Some(index) = self.host_of(packet.src)
        {
            self.tcp_hosts.insert(index);
        }
        let link = self.link(key);
        let filter = match packet.payload {
            Wire::Udp(_) => link.udp,
            Wire::Tcp(_) => link.tcp,
        };
        match filter {
            Filter::Open => {}
            Filter::Drop => return,
            Filter::Reject => {
                self.reject(now, &packet);
                return;
            }
        }
        if !self.by_ip.contains_key(&packet.dst) {
            return; // no host there: nothing on the segment answers, the packet just vanishes
        }
        let link = self.link(key);
        if let Some(held) = link.held.as_mut() {
            // A held link is a router queue: past its size, what comes is dropped.
            if held.len() < MAX_HELD_PACKETS {
                held.push(packet);
            }
            return;
        }
        if link.loses() {
            return;
        }
        let at = self.arrival_time(key, now, packet.size());
        self.schedule(at, Arrival::Packet(packet));
    }

    /// A rejecting firewall next to the destination answers for it: RST for TCP (RFC 9293
    /// §3.10.7.1 rules for the sequence numbers), ICMP port unreachable for UDP.
    fn reject(&mut self, now: Time, packet: &Packet) {
        match &packet.payload {
            Wire::Udp(datagram) => {
                let id = datagram.payload.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                let unreachable =
                    PortUnreachable { sender: packet.src, to: SocketAddr::new(packet.dst, datagram.dst_port), id };
                let at = self.arrival_time((packet.dst, packet.src), now, 56);
                self.schedule(at, Arrival::Icmp(unreachable));
            }
            Wire::Tcp(segment) => {
                if let Some(reply) = link::rst_answering(packet.src, packet.dst, segment) {
                    let at = self.arrival_time((packet.dst, packet.src), now, reply.size());
                    self.schedule(at, Arrival::Packet(reply));
                }
            }
        }
    }

    /// Whether a kernel may hold a packet not yet collected: a TCP segment arrived, or a host
    /// made a socket call that sends, since the last egress pass. Without either, a pass would
    /// find nothing (and costs as much as there are hosts).
    pub(crate) fn may_have_output(&self) -> bool {
        self.tcp_arrived || xfrsim_driver::socket_calls() != self.calls_at_egress
    }

    /// The earliest queued arrival.
    pub(crate) fn next_arrival(&self) -> Option<Time> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    /// True while some TCP connection waits for an acknowledgement that can come: its
    /// retransmission clock needs an egress pass every millisecond. Hosts found idle are
    /// forgotten until their next TCP packet or a change of the links.
    ///
    /// A connection whose every packet would vanish (its link drops TCP, or leads to no host)
    /// does not keep the clock running: retransmitting into silence changes nothing, and a
    /// partition would otherwise cost a pass per millisecond for as long as it lasts. Its clock
    /// resumes when a link changes. The engine's own deadlines, which end such a connection, do
    /// not depend on it.
    pub(crate) fn tcp_busy(&mut self) -> bool {
        // Idle hosts are dropped as they are found; the first busy one answers. Each host is
        // looked at once per burst of TCP activity, not once per instant.
        while let Some(&index) = self.tcp_hosts.first() {
            let ip = self.hosts[index].ips[0];
            let waiting = turmoil_net::netstat(ip).entries.iter().any(|e| {
                let unacknowledged = match e.state {
                    Some(
                        NetstatState::SynSent
                        | NetstatState::SynReceived
                        | NetstatState::FinWait1
                        | NetstatState::Closing
                        | NetstatState::LastAck,
                    ) => true,
                    Some(NetstatState::Established | NetstatState::CloseWait) => e.send_q > 0,
                    _ => false,
                };
                e.proto == Proto::Tcp
                    && unacknowledged
                    && e.peer.is_some_and(|peer| self.tcp_can_pass(e.local.ip(), peer.ip()))
            });
            if waiting {
                return true;
            }
            self.tcp_hosts.remove(&index);
        }
        false
    }

    /// Whether a TCP segment from `from` to `to` can arrive (or be answered with a RST).
    fn tcp_can_pass(&self, from: IpAddr, to: IpAddr) -> bool {
        self.by_ip.contains_key(&to) && self.links.get(&(from, to)).is_none_or(|l| l.tcp != Filter::Drop)
    }

    /// A link changed: every host's connections may need their retransmission clock again.
    fn links_changed(&mut self) {
        self.tcp_hosts.extend(0..self.hosts.len());
    }

    // ----- faults ------------------------------------------------------------------------

    pub(crate) fn set_filter(&mut self, from: IpAddr, to: IpAddr, protocols: Protocols, filter: Filter) {
        self.links_changed();
        let link = self.link((from, to));
        if matches!(protocols, Protocols::Udp | Protocols::Both) {
            link.udp = filter;
        }
        if matches!(protocols, Protocols::Tcp | Protocols::Both) {
            link.tcp = filter;
        }
    }

    fn link(&mut self, key: (IpAddr, IpAddr)) -> &mut Link {
        let seed = self.seed;
        self.links.entry(key).or_insert_with(|| Link::new(seed, key.0, key.1))
    }

    /// A link's latency range (its own, or the network's default).
    pub(crate) fn latency(&self, from: IpAddr, to: IpAddr) -> (Duration, Duration) {
        self.links.get(&(from, to)).and_then(|l| l.latency).unwrap_or(self.default_latency)
    }

    pub(crate) fn set_latency(&mut self, from: IpAddr, to: IpAddr, min: Duration, max: Duration) {
        self.link((from, to)).latency = Some((min, max));
    }

    pub(crate) fn set_loss(&mut self, from: IpAddr, to: IpAddr, loss: f64) {
        self.link((from, to)).loss = loss;
    }

    pub(crate) fn set_bandwidth(&mut self, from: IpAddr, to: IpAddr, bps: Option<u64>) {
        self.link((from, to)).bandwidth_bps = bps;
    }

    pub(crate) fn hold(&mut self, from: IpAddr, to: IpAddr) {
        self.link((from, to)).held.get_or_insert_with(Vec::new);
    }

    /// Lets held packets go, in the order they were sent, each with its link's latency.
    pub(crate) fn release(&mut self, from: IpAddr, to: IpAddr, now: Time) {
        let held = self.link((from, to)).held.take().unwrap_or_default();
        for packet in held {
            let at = self.arrival_time((from, to), now, packet.size());
            self.schedule(at, Arrival::Packet(packet));
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Each host's sockets must close in its own kernel, while the network is installed.
        for index in 0..self.hosts.len() {
            self.stop(index);
        }
        self.guard = None;
    }
}
