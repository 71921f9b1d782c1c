//! The network's one mutable state: hosts and their sockets, the links, and the time index
//! that holds every packet in flight and every TCP timer. Everything here runs at the instant
//! the harness gives ([`State::now`]); nothing runs between instants.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use xfrsim_engine::Time;
use xfrsim_zone::{fnv1a64, mix64};

mod sockets;

use crate::NetworkStats;
use crate::link::{Filter, Link, Protocols};
use crate::linux::{EPHEMERAL_PORTS, ICMP_RATELIMIT, ICMP_RATELIMIT_BURST, UDP_RECEIVE_BUFFER_BYTES};
use crate::packet::{Body, Datagram, Flags, Packet, Segment};
use crate::tcp::{Effects, Next, TIMERS, Tcb, TimerKind};

/// Packets a held link keeps (per direction) until released; later ones are dropped, as a full
/// router queue drops them.
pub const MAX_HELD_PACKETS: usize = 100_000;

pub(crate) type SocketId = u64;

pub(crate) struct UdpSock {
    host: usize,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    rx: VecDeque<(SocketAddr, Bytes)>,
    rx_bytes: usize,
    /// An ICMP error for a connected socket, reported by the next receive or send (once).
    error: Option<io::ErrorKind>,
    waker: Option<Waker>,
}

pub(crate) struct Listener {
    host: usize,
    local: SocketAddr,
    backlog: u32,
    /// Children whose handshake is under way.
    syn_queue: BTreeSet<SocketId>,
    /// Children established and not yet accepted.
    accept_queue: VecDeque<SocketId>,
    waker: Option<Waker>,
}

pub(crate) struct Conn {
    host: usize,
    /// A process holds the socket (a connected stream, or an accepted child).
    owned: bool,
    /// The listener whose queue holds this child until it is accepted.
    listener: Option<SocketId>,
    tcb: Tcb,
}

pub(crate) enum Socket {
    Udp(UdpSock),
    Listener(Listener),
    Tcp(Box<Conn>),
}

/// Who answers a packet that is refused: the destination host itself, or a rejecting
/// firewall in front of it.
#[derive(Clone, Copy)]
enum Origin {
    Host,
    Firewall,
}

/// What waits in the time index.
enum Due {
    Arrive(Packet),
    Timer(SocketId, TimerKind),
}

struct Host {
    ips: Vec<IpAddr>,
    /// Where the next ephemeral-port search starts.
    next_port: u16,
}

/// `inet_peer_xrlim_allow`'s token bucket for ICMP errors from one address to another.
struct IcmpBucket {
    last: Time,
    tokens: Duration,
}

pub(crate) struct State {
    pub(crate) now: Time,
    seed: u64,
    hosts: Vec<Host>,
    by_ip: BTreeMap<IpAddr, usize>,
    sockets: BTreeMap<SocketId, Socket>,
    next_socket: SocketId,
    udp_ports: BTreeMap<(usize, u16), Vec<SocketId>>,
    listen_ports: BTreeMap<(usize, u16), Vec<SocketId>>,
    /// Connections by (local, peer).
    conns: BTreeMap<(SocketAddr, SocketAddr), SocketId>,
    queue: BTreeMap<(Time, u64), Due>,
    next_seq: u64,
    links: BTreeMap<(IpAddr, IpAddr), Link>,
    default_latency: (Duration, Duration),
    icmp_buckets: BTreeMap<(IpAddr, IpAddr), IcmpBucket>,
    connections_opened: u64,
    pub(crate) stats: NetworkStats,
}

fn addr_hash(a: SocketAddr, b: SocketAddr) -> u64 {
    fnv1a64(format!("{a}>{b}").as_bytes())
}

impl State {
    pub(crate) fn new(hosts: &[Vec<IpAddr>], seed: u64, default_latency: (Duration, Duration)) -> State {
        let span = u64::from(EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) + 1;
        let mut by_ip = BTreeMap::new();
        let mut list = Vec::with_capacity(hosts.len());
        for (index, ips) in hosts.iter().enumerate() {
            for ip in ips {
                by_ip.insert(*ip, index);
            }
            let offset = mix64(seed ^ mix64(index as u64 + 0x706f_7274)) % span;
            list.push(Host { ips: ips.clone(), next_port: EPHEMERAL_PORTS.start() + offset as u16 });
        }
        State {
            now: Time::ZERO,
            seed,
            hosts: list,
            by_ip,
            sockets: BTreeMap::new(),
            next_socket: 1,
            udp_ports: BTreeMap::new(),
            listen_ports: BTreeMap::new(),
            conns: BTreeMap::new(),
            queue: BTreeMap::new(),
            next_seq: 0,
            links: BTreeMap::new(),
            default_latency,
            icmp_buckets: BTreeMap::new(),
            connections_opened: 0,
            stats: NetworkStats::default(),
        }
    }

    pub(crate) fn host_of(&self, ip: IpAddr) -> Option<usize> {
        self.by_ip.get(&ip).copied()
    }

    pub(crate) fn next_due(&self) -> Option<Time> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    fn schedule(&mut self, at: Time, due: Due) -> (Time, u64) {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.queue.insert(key, due);
        key
    }

    /// Handles everything due by `now`: arrivals, then timers, in the order they were
    /// scheduled. True if anything was due.
    pub(crate) fn advance(&mut self, now: Time) -> bool {
        self.now = now;
        let mut any = false;
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            any = true;
            match entry.remove() {
                Due::Arrive(packet) => self.deliver(packet),
                Due::Timer(id, kind) => self.fire(id, kind),
            }
        }
        any
    }

    // ----- links --------------------------------------------------------------------------

    fn link(&mut self, key: (IpAddr, IpAddr)) -> &mut Link {
        let seed = self.seed;
        self.links.entry(key).or_insert_with(|| Link::new(seed, key.0, key.1))
    }

    /// Puts a packet on the wire at `now`: through its link's filters, hold, loss and delay.
    fn send(&mut self, packet: Packet) {
        let (now, seed, default_latency) = (self.now, self.seed, self.default_latency);
        let key = (packet.src, packet.dst);
        let routable = self.by_ip.contains_key(&packet.dst);
        let link = self.links.entry(key).or_insert_with(|| Link::new(seed, key.0, key.1));
        let filter = match packet.body {
            Body::Udp(_) => link.udp,
            Body::Tcp(_) => link.tcp,
            // ICMP takes the reverse path of what it answers; a link that silently drops both
            // protocols (a partition) drops it too.
            Body::PortUnreachable { .. } if link.udp == Filter::Drop && link.tcp == Filter::Drop => Filter::Drop,
            Body::PortUnreachable { .. } => Filter::Open,
        };
        match filter {
            Filter::Open => {}
            Filter::Drop => return,
            Filter::Reject => return self.reject(&packet),
        }
        if !routable {
            return; // no host there: nothing answers, the packet just vanishes
        }
        if let Some(held) = link.held.as_mut() {
            if held.len() < MAX_HELD_PACKETS {
                held.push(packet);
            }
            return;
        }
        if link.loses() {
            return;
        }
        let at = link.arrival(now, packet.size(), default_latency);
        self.schedule(at, Due::Arrive(packet));
    }

    /// A rejecting firewall in front of the destination answers for it: a RST for TCP (with
    /// RFC 9293 §3.10.7.1's numbers), an ICMP port unreachable for UDP.
    fn reject(&mut self, packet: &Packet) {
        match &packet.body {
            Body::Udp(d) => self.port_unreachable(packet.src, packet.dst, d, Origin::Firewall),
            Body::Tcp(seg) => {
                if let Some(reply) = reset_for(packet.src, packet.dst, seg) {
                    self.send_around_filters(reply);
                }
            }
            Body::PortUnreachable { .. } => {}
        }
    }

    /// A packet made by a firewall next to its source: it skips that direction's filters.
    fn send_around_filters(&mut self, packet: Packet) {
        let key = (packet.src, packet.dst);
        let default_latency = self.default_latency;
        let now = self.now;
        let at = self.link(key).arrival(now, packet.size(), default_latency);
        self.schedule(at, Due::Arrive(packet));
    }

    /// ICMP port unreachable from `dst` back to the sender of `datagram`, within Linux's rate
    /// limit per peer. The host's own travels the reverse link like any packet (a partition or
    /// a hold in that direction keeps it); a rejecting firewall's skips that link's filters.
    fn port_unreachable(&mut self, src: IpAddr, dst: IpAddr, datagram: &Datagram, origin: Origin) {
        let now = self.now;
        let bucket = self
            .icmp_buckets
            .entry((dst, src))
            .or_insert(IcmpBucket { last: Time::ZERO, tokens: ICMP_RATELIMIT * ICMP_RATELIMIT_BURST });
        let cap = ICMP_RATELIMIT * ICMP_RATELIMIT_BURST;
        bucket.tokens = (bucket.tokens + now.saturating_since(bucket.last)).min(cap);
        bucket.last = now;
        if bucket.tokens < ICMP_RATELIMIT {
            return;
        }
        bucket.tokens -= ICMP_RATELIMIT;
        let body = Body::PortUnreachable {
            quoted_src: SocketAddr::new(src, datagram.src_port),
            quoted_dst: SocketAddr::new(dst, datagram.dst_port),
        };
        let packet = Packet { src: dst, dst: src, body };
        match origin {
            Origin::Host => self.send(packet),
            Origin::Firewall => self.send_around_filters(packet),
        }
    }

    fn flush(&mut self, fx: Effects) {
        for packet in fx.packets {
            self.send(packet);
        }
        for waker in fx.wakers {
            waker.wake();
        }
    }

    // ----- arrivals -----------------------------------------------------------------------

    fn deliver(&mut self, packet: Packet) {
        self.stats.packets += 1;
        let Some(host) = self.host_of(packet.dst) else { return };
        match packet.body {
            Body::Udp(datagram) => {
                let from = SocketAddr::new(packet.src, datagram.src_port);
                let to = SocketAddr::new(packet.dst, datagram.dst_port);
                let Some(id) = self.udp_lookup(host, to, from) else {
                    // RFC 1122 §3.2.2.1: nothing listens there, say so.
                    return self.port_unreachable(packet.src, packet.dst, &datagram, Origin::Host);
                };
                let Some(Socket::Udp(socket)) = self.sockets.get_mut(&id) else { return };
                if socket.rx_bytes + datagram.payload.len() > UDP_RECEIVE_BUFFER_BYTES {
                    self.stats.udp_receive_drops += 1;
                    return;
                }
                socket.rx_bytes += datagram.payload.len();
                socket.rx.push_back((from, datagram.payload));
                if let Some(waker) = socket.waker.take() {
                    waker.wake();
                }
            }
            Body::Tcp(segment) => {
                self.stats.tcp_payload_bytes += segment.payload.len() as u64;
                self.tcp_arrive(host, packet.src, packet.dst, segment);
            }
            Body::PortUnreachable { quoted_src, quoted_dst } => {
                // Linux reports it to a connected UDP socket only (net/ipv4/udp.c `__udp4_lib_err`,
                // without IP_RECVERR an unconnected socket hears nothing), as ECONNREFUSED on its
                // next call.
                let Some(id) = self.udp_lookup(host, quoted_src, quoted_dst) else { return };
                if let Some(Socket::Udp(socket)) = self.sockets.get_mut(&id)
                    && socket.peer == Some(quoted_dst)
                {
                    socket.error = Some(io::ErrorKind::ConnectionRefused);
                    if let Some(waker) = socket.waker.take() {
                        waker.wake();
                    }
                }
            }
        }
    }

    /// The UDP socket of `host` that receives a datagram to `to` from `from`: a connected
    /// socket before an unconnected one, an exact address before the wildcard.
    fn udp_lookup(&self, host: usize, to: SocketAddr, from: SocketAddr) -> Option<SocketId> {
        let ids = self.udp_ports.get(&(host, to.port()))?;
        let mut best: Option<(u8, SocketId)> = None;
        for id in ids {
            let Some(Socket::Udp(s)) = self.sockets.get(id) else { continue };
            let ip_ok = s.local.ip() == to.ip() || s.local.ip().is_unspecified();
            let peer_ok = s.peer.is_none_or(|p| p == from);
            if !ip_ok || !peer_ok {
                continue;
            }
            let score = u8::from(s.peer.is_some()) * 2 + u8::from(s.local.ip() == to.ip());
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, *id));
            }
        }
        best.map(|(_, id)| id)
    }

    fn tcp_arrive(&mut self, host: usize, src: IpAddr, dst: IpAddr, seg: Segment) {
        let local = SocketAddr::new(dst, seg.dst_port);
        let peer = SocketAddr::new(src, seg.src_port);
        if let Some(&id) = self.conns.get(&(local, peer)) {
            return self.conn_input(id, &seg);
        }
        let listener = self.listener_for(host, local);
        match listener {
            Some(lid) if seg.flags.syn && !seg.flags.ack && !seg.flags.rst => self.syn_arrives(lid, local, peer, &seg),
            Some(lid) if seg.flags.ack && !seg.flags.syn && !seg.flags.rst && self.cookie_ok(local, peer, &seg) => {
                self.cookie_completes(lid, local, peer, &seg);
            }
            _ => {
                // No connection: RST (RFC 9293 §3.10.7.1), which is how a closed port refuses.
                if let Some(reply) = reset_for(src, dst, &seg) {
                    self.send(reply);
                }
            }
        }
    }

    fn listener_for(&self, host: usize, local: SocketAddr) -> Option<SocketId> {
        let ids = self.listen_ports.get(&(host, local.port()))?;
        let exact = ids
            .iter()
            .find(|id| matches!(self.sockets.get(id), Some(Socket::Listener(l)) if l.local.ip() == local.ip()));
        exact
            .or_else(|| {
                ids.iter().find(
                    |id| matches!(self.sockets.get(id), Some(Socket::Listener(l)) if l.local.ip().is_unspecified()),
                )
            })
            .copied()
    }

    /// The listener's host, if it takes another connection now.
    fn admitting(&mut self, lid: SocketId) -> Option<usize> {
        if self.accept_queue_full(lid) {
            return None;
        }
        match self.sockets.get(&lid) {
            Some(Socket::Listener(listener)) => Some(listener.host),
            _ => None,
        }
    }

    /// Whether the listener's accept queue is full (`sk_acceptq_is_full`: backlog + 1 fit),
    /// counting the overflow when it is.
    fn accept_queue_full(&mut self, lid: SocketId) -> bool {
        let full =
            matches!(self.sockets.get(&lid), Some(Socket::Listener(l)) if l.accept_queue.len() > l.backlog as usize);
        if full {
            self.stats.listen_overflows += 1;
        }
        full
    }

    fn isn(&mut self, local: SocketAddr, peer: SocketAddr) -> u32 {
        self.connections_opened += 1;
        mix64(self.seed ^ addr_hash(local, peer) ^ mix64(self.connections_opened)) as u32
    }

    /// The SYN cookie a listener whose SYN queue is full answers with (`tcp_syncookies` = 1):
    /// the connection's state lives in its initial sequence number until the client's ACK.
    fn cookie(&self, local: SocketAddr, peer: SocketAddr, peer_isn: u32) -> u32 {
        mix64(self.seed ^ 0x636f_6f6b_6965 ^ addr_hash(local, peer) ^ u64::from(peer_isn)) as u32
    }

    fn cookie_ok(&self, local: SocketAddr, peer: SocketAddr, seg: &Segment) -> bool {
        seg.ack.wrapping_sub(1) == self.cookie(local, peer, seg.seq.wrapping_sub(1))
    }

    fn syn_arrives(&mut self, lid: SocketId, local: SocketAddr, peer: SocketAddr, seg: &Segment) {
        // A full accept queue drops the SYN; the client retries it on its schedule
        // (net/ipv4/tcp_input.c `tcp_conn_request`).
        let Some(host) = self.admitting(lid) else { return };
        let (now, mut fx) = (self.now, Effects::default());
        let syn_queue_full =
            matches!(self.sockets.get(&lid), Some(Socket::Listener(l)) if l.syn_queue.len() >= l.backlog as usize);
        if syn_queue_full {
            // The SYN queue is full: answer with a cookie and keep nothing.
            let iss = self.cookie(local, peer, seg.seq);
            let _stateless = Tcb::accept_syn(local, peer, iss, seg, now, &mut fx);
            return self.flush(fx);
        }
        let iss = self.isn(local, peer);
        let tcb = Tcb::accept_syn(local, peer, iss, seg, now, &mut fx);
        let id = self.insert_conn(Conn { host, owned: false, listener: Some(lid), tcb });
        if let Some(Socket::Listener(listener)) = self.sockets.get_mut(&lid) {
            listener.syn_queue.insert(id);
        }
        self.sync_timers(id);
        self.flush(fx);
    }

    /// The ACK that returns a SYN cookie: the child is built established and queued.
    fn cookie_completes(&mut self, lid: SocketId, local: SocketAddr, peer: SocketAddr, seg: &Segment) {
        let Some(host) = self.admitting(lid) else { return };
        let (now, mut fx) = (self.now, Effects::default());
        let syn =
            Segment { seq: seg.seq.wrapping_sub(1), flags: Flags { syn: true, ..Flags::default() }, ..seg.clone() };
        let iss = seg.ack.wrapping_sub(1);
        let tcb = Tcb::accept_syn(local, peer, iss, &syn, now, &mut Effects::default());
        let id = self.insert_conn(Conn { host, owned: false, listener: Some(lid), tcb });
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return };
        let next = conn.tcb.input(seg, now, &mut fx);
        self.after(id, next);
        self.flush(fx);
    }

    fn insert_conn(&mut self, conn: Conn) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        self.conns.insert((conn.tcb.local, conn.tcb.peer), id);
        self.sockets.insert(id, Socket::Tcp(Box::new(conn)));
        id
    }

    fn conn_input(&mut self, id: SocketId, seg: &Segment) {
        let now = self.now;
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return };
        // The handshake's last ACK while the accept queue is full is ignored
        // (`tcp_abort_on_overflow` = 0): the SYN-ACK timer keeps the request alive.
        if let Some(lid) = conn.listener
            && conn.tcb.state == crate::tcp::TcpState::SynReceived
            && self.accept_queue_full(lid)
        {
            return;
        }
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return };
        let mut fx = Effects::default();
        let next = conn.tcb.input(seg, now, &mut fx);
        self.after(id, next);
        self.flush(fx);
    }

    fn fire(&mut self, id: SocketId, kind: TimerKind) {
        let now = self.now;
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return };
        conn.tcb.scheduled[kind as usize] = None;
        let mut fx = Effects::default();
        let next = conn.tcb.on_timer(kind, now, &mut fx);
        self.after(id, next);
        self.flush(fx);
    }

    /// Carries out what a connection asked for after a call, and re-files its timers.
    fn after(&mut self, id: SocketId, next: Next) {
        match next {
            Next::Keep => {}
            Next::Established => {
                let Some(Socket::Tcp(conn)) = self.sockets.get(&id) else { return };
                if let Some(lid) = conn.listener
                    && let Some(Socket::Listener(listener)) = self.sockets.get_mut(&lid)
                {
                    listener.syn_queue.remove(&id);
                    listener.accept_queue.push_back(id);
                    if let Some(waker) = listener.waker.take() {
                        waker.wake();
                    }
                }
            }
            Next::Remove => return self.remove_conn(id),
        }
        self.sync_timers(id);
    }

    /// The connection is over: out of the table and the time index; gone entirely unless a
    /// process still holds it (it then reads as closed).
    fn remove_conn(&mut self, id: SocketId) {
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return };
        conn.tcb.deadline = [None; 3];
        let key = (conn.tcb.local, conn.tcb.peer);
        let (owned, listener) = (conn.owned, conn.listener.take());
        if self.conns.get(&key) == Some(&id) {
            self.conns.remove(&key);
        }
        self.sync_timers(id);
        if let Some(lid) = listener
            && let Some(Socket::Listener(l)) = self.sockets.get_mut(&lid)
        {
            l.syn_queue.remove(&id);
            l.accept_queue.retain(|c| *c != id);
        }
        if !owned {
            self.sockets.remove(&id);
        }
    }

    /// Makes the time index hold exactly the deadlines the connection wants.
    fn sync_timers(&mut self, id: SocketId) {
        let State { sockets, queue, next_seq, .. } = self;
        let Some(Socket::Tcp(conn)) = sockets.get_mut(&id) else { return };
        for kind in TIMERS {
            let slot = kind as usize;
            let want = conn.tcb.deadline[slot];
            let have = conn.tcb.scheduled[slot];
            if want == have.map(|(at, _)| at) {
                continue;
            }
            if let Some(key) = have {
                queue.remove(&key);
            }
            conn.tcb.scheduled[slot] = want.map(|at| {
                let key = (at, *next_seq);
                *next_seq += 1;
                queue.insert(key, Due::Timer(id, kind));
                key
            });
        }
    }

    // ----- faults -------------------------------------------------------------------------

    pub(crate) fn set_filter(&mut self, from: IpAddr, to: IpAddr, protocols: Protocols, filter: Filter) {
        let link = self.link((from, to));
        if matches!(protocols, Protocols::Udp | Protocols::Both) {
            link.udp = filter;
        }
        if matches!(protocols, Protocols::Tcp | Protocols::Both) {
            link.tcp = filter;
        }
    }

    pub(crate) fn latency(&self, from: IpAddr, to: IpAddr) -> (Duration, Duration) {
        self.links.get(&(from, to)).and_then(|l| l.latency).unwrap_or(self.default_latency)
    }

    pub(crate) fn link_mut(&mut self, from: IpAddr, to: IpAddr) -> &mut Link {
        self.link((from, to))
    }

    /// Lets held packets go, in the order they were sent, each with its link's latency.
    pub(crate) fn release(&mut self, from: IpAddr, to: IpAddr) {
        let now = self.now;
        let default_latency = self.default_latency;
        let held = self.link((from, to)).held.take().unwrap_or_default();
        for packet in held {
            let at = self.link((from, to)).arrival(now, packet.size(), default_latency);
            self.schedule(at, Due::Arrive(packet));
        }
    }

    /// Sockets open now (for tests: a closed process leaves none).
    pub(crate) fn open_sockets(&self, host: usize) -> usize {
        self.sockets
            .values()
            .filter(|s| match s {
                Socket::Udp(u) => u.host == host,
                Socket::Listener(l) => l.host == host,
                Socket::Tcp(c) => c.host == host && c.owned,
            })
            .count()
    }
}

/// The RST answering `seg` from `src` to `dst` when no connection takes it, with RFC 9293
/// §3.10.7.1's numbers; none for a RST.
pub(crate) fn reset_for(src: IpAddr, dst: IpAddr, seg: &Segment) -> Option<Packet> {
    if seg.flags.rst {
        return None;
    }
    let (seq, ack, ack_flag) =
        if seg.flags.ack { (seg.ack, 0, false) } else { (0, seg.seq.wrapping_add(seg.len()), true) };
    let reply = Segment {
        src_port: seg.dst_port,
        dst_port: seg.src_port,
        seq,
        ack,
        flags: Flags { rst: true, ack: ack_flag, ..Flags::default() },
        window: 0,
        ts_val: 0,
        ts_ecr: 0,
        payload: Bytes::new(),
    };
    Some(Packet { src: dst, dst: src, body: Body::Tcp(reply) })
}
