//! What every zone of a node shares, whatever its role: identity, randomness, the connection
//! table, the incoming-transfer quota slots with the zones waiting for one, and the queues of
//! outputs the driver drains.
//!
//! A leaf below the roles: it knows connections and quotas, never what a primary or a
//! secondary does with them, so `primary/`, `secondary/` and `node/` all build on it and it on
//! none of them.

use core::time::Duration;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;
use xfrsim_zone::Serial;

use crate::Time;
use crate::event::{Event, EventKind, trace_event};
use crate::profile::Behaviour;
use crate::rng::SeededRng;
use crate::wire::TransferStream;

/// Malformed messages from one source are reported at most once in this interval.
pub const BAD_PACKET_REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// Sources whose malformed messages are being counted at once (the memory the rate limit may
/// take, whatever a flood of spoofed sources sends).
pub const MAX_RATE_LIMITED_SOURCES: usize = 1024;

/// Identifies one TCP connection for the life of a node. The engine allocates every id, for
/// connections it opens and for ones the driver accepted, so ids never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Something the driver must do on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send one datagram from the node's DNS socket on `from` (`None`: its first address).
    Udp { to: SocketAddr, payload: Vec<u8>, from: Option<IpAddr> },
    /// Send a request whose answer the node waits for (an SOA query) from a socket of its own
    /// connected to `to`, bound to `from` when given. Answers are reported through
    /// [`crate::Node::handle_udp`], an ICMP port unreachable through
    /// [`crate::Node::handle_udp_unreachable`]. A second `Query` with the same `to` and `id`
    /// is a resend on the same socket.
    Query { to: SocketAddr, id: u16, payload: Vec<u8>, from: Option<IpAddr> },
    /// Open a TCP connection from `from` (`None`: the system's choice); report
    /// `handle_tcp_connected` or `handle_tcp_connect_failed`.
    Connect { conn: ConnId, to: SocketAddr, from: Option<IpAddr> },
    /// Write one DNS message on a connection, adding the 2-byte length prefix (RFC 1035
    /// §4.2.2); report `handle_tcp_sent` once written.
    Send { conn: ConnId, payload: Vec<u8> },
    /// Close a connection. The engine forgets it; later reports about it are ignored.
    Close { conn: ConnId },
}

/// Why a TCP connect failed, as the driver saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// RST: a host is there, no service listens.
    Refused,
    /// Any other failure the driver detected itself (the engine's own deadline covers silence).
    Unreachable,
}

/// Who a TCP connection belongs to.
pub(crate) enum Conn {
    /// Opened by a secondary zone's refresh round; the round's step holds the details.
    Client { zone: Name },
    /// Opened to send a NOTIFY over TCP after the UDP tries went unanswered.
    Notify { zone: Name },
    /// Accepted from a peer; requests are answered in order, one transfer at a time.
    Server { peer: SocketAddr, idle_deadline: Time, outgoing: Option<Outgoing>, queued: VecDeque<Vec<u8>> },
}

/// A transfer being sent on a served connection: encoded one message per `handle_tcp_sent`,
/// so a peer that stops reading stalls the transfer rather than the node's memory. Started
/// and advanced by `primary::xfrout`; kept here because the connection owns it.
pub(crate) struct Outgoing {
    pub stream: TransferStream,
    pub zone: Name,
}

impl Outgoing {
    pub fn serial(&self) -> Serial {
        self.stream.serial()
    }
}

/// Everything shared by the zones of a node: identity, randomness, connections, and the
/// queues of outputs the driver drains.
pub(crate) struct Ctx {
    pub name: String,
    pub addresses: Vec<SocketAddr>,
    pub behaviour: Behaviour,
    pub rng: SeededRng,
    /// Incoming transfers running now, per master address (for `transfers-in` and
    /// `transfers-per-ns`), and the zones waiting for a slot, in the order they asked.
    pub transfers_in: BTreeMap<IpAddr, u32>,
    pub deferred: VecDeque<Name>,
    /// Per source address: when its last reported malformed message was, and how many have
    /// come since without a report (at most `MAX_RATE_LIMITED_SOURCES` sources).
    bad_packets: BTreeMap<IpAddr, (Time, u64)>,
    next_conn: u64,
    pub conns: BTreeMap<ConnId, Conn>,
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<Event>,
}

impl Ctx {
    pub fn new(name: String, addresses: Vec<SocketAddr>, behaviour: Behaviour, seed: u64) -> Ctx {
        Ctx {
            name,
            addresses,
            behaviour,
            rng: SeededRng::new(seed),
            transfers_in: BTreeMap::new(),
            deferred: VecDeque::new(),
            bad_packets: BTreeMap::new(),
            next_conn: 0,
            conns: BTreeMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn emit(&mut self, at: Time, zone: Option<&Name>, kind: EventKind) {
        let event = Event { at, zone: zone.cloned(), kind };
        trace_event(&self.name, &event);
        self.events.push_back(event);
    }

    pub fn send_udp(&mut self, from: Option<IpAddr>, to: SocketAddr, payload: Vec<u8>) {
        self.transmits.push_back(Transmit::Udp { to, payload, from });
    }

    pub fn send_query(&mut self, from: Option<IpAddr>, to: SocketAddr, id: u16, payload: Vec<u8>) {
        self.transmits.push_back(Transmit::Query { to, id, payload, from });
    }

    pub fn connect(&mut self, from: Option<IpAddr>, to: SocketAddr, owner: Conn) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(conn, owner);
        self.transmits.push_back(Transmit::Connect { conn, to, from });
        conn
    }

    pub fn accept(&mut self, owner: Conn) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(conn, owner);
        conn
    }

    pub fn send_tcp(&mut self, conn: ConnId, payload: Vec<u8>) {
        self.transmits.push_back(Transmit::Send { conn, payload });
    }

    pub fn close(&mut self, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.transmits.push_back(Transmit::Close { conn });
        }
    }

    pub fn is_own_address(&self, addr: SocketAddr) -> bool {
        self.addresses.contains(&addr)
    }

    /// A message from `peer` could not be decoded: reported (5501) at most once per source per
    /// `BAD_PACKET_REPORT_INTERVAL`, the ones in between counted and reported with the next
    /// report, so a flood from one source costs one line a minute, not one per packet.
    pub fn report_bad_packet(&mut self, now: Time, peer: SocketAddr) {
        let source = peer.ip();
        if let Some((last, suppressed)) = self.bad_packets.get_mut(&source) {
            if now < *last + BAD_PACKET_REPORT_INTERVAL {
                *suppressed += 1;
                return;
            }
            let count = std::mem::take(suppressed);
            *last = now;
            if count > 0 {
                self.emit(now, None, EventKind::BadPacketsSuppressed { source, count });
            }
        } else {
            if self.bad_packets.len() >= MAX_RATE_LIMITED_SOURCES {
                // Forget the source reported longest ago (its pending count goes unreported).
                let oldest = self.bad_packets.iter().min_by_key(|(_, (at, _))| *at).map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    self.bad_packets.remove(&oldest);
                }
            }
            self.bad_packets.insert(source, (now, 0));
        }
        self.emit(now, None, EventKind::BadPacket { peer });
    }

    /// Takes an incoming-transfer slot toward `master` if the quotas allow (BIND zone.c
    /// `queue_xfrin`: `transfers-in` over all masters, `transfers-per-ns` per master).
    pub fn take_transfer_slot(&mut self, master: IpAddr) -> Result<(), &'static str> {
        let total: u32 = self.transfers_in.values().sum();
        if self.behaviour.transfers_in.is_some_and(|limit| total >= limit) {
            return Err("transfers-in");
        }
        let here = self.transfers_in.get(&master).copied().unwrap_or(0);
        if self.behaviour.transfers_per_ns.is_some_and(|limit| here >= limit) {
            return Err("transfers-per-ns");
        }
        *self.transfers_in.entry(master).or_insert(0) += 1;
        Ok(())
    }

    pub fn release_transfer_slot(&mut self, master: IpAddr) {
        let count = self.transfers_in.get_mut(&master).expect("a slot released was taken");
        *count -= 1;
        if *count == 0 {
            self.transfers_in.remove(&master);
        }
    }

    /// `base` shortened by a whole number of seconds drawn uniformly below the profile's
    /// `jitter_percent` of it (BIND zone.c `DNS_ZONE_JITTER_ADD`: `b - isc_random_uniform(b / 4)`
    /// in seconds; NSD a tenth; Knot none).
    pub fn jittered(&mut self, base: Duration) -> Duration {
        let spread = base.as_secs() * u64::from(self.behaviour.jitter_percent) / 100;
        base - Duration::from_secs(self.rng.below(spread))
    }
}
