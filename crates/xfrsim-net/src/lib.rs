//! xfrsim's simulated IP network: hosts with addresses, links with faults, and UDP and TCP as
//! Linux 6.1 behaves and times them (the constants, with their sysctl names, are in
//! [`linux`]). Deterministic and clock-free: the harness says what time it is
//! ([`Network::advance`]) and asks when something is next due ([`Network::next_due`]); every
//! packet in flight and every TCP timer is one entry in the network's time index, so nothing
//! runs between instants and the cost of a packet does not depend on how many hosts there are.
//!
//! Processes use the sockets of [`UdpSocket`], [`TcpListener`] and [`TcpStream`] while the
//! harness has entered their host ([`Network::enter`]); [`Processes`] runs them so.

mod link;
pub mod linux;
mod packet;
mod processes;
mod socket;
mod state;
mod tcp;

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use xfrsim_engine::Time;

pub use link::{Filter, Protocols};
pub use packet::{Body, Datagram, Flags, Packet, Segment};
pub use processes::Processes;
pub use socket::{TcpListener, TcpStream, UdpSocket};
pub use state::MAX_HELD_PACKETS;
pub use tcp::TcpState;

/// Counters of the network over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Packets handed to a destination host.
    pub packets: u64,
    /// Octets of TCP payload delivered (DNS messages with their 2-byte length prefix; a
    /// retransmitted segment counts again): what `bytes=` on a PASS/FAIL line reports.
    pub tcp_payload_bytes: u64,
    /// SYNs and handshake ACKs dropped because a listener's accept queue was full.
    pub listen_overflows: u64,
    /// Datagrams dropped because a UDP socket's receive buffer was full.
    pub udp_receive_drops: u64,
}

/// The network. Cloning gives another handle to the same one.
#[derive(Clone)]
pub struct Network(Rc<RefCell<state::State>>);

/// While alive, socket calls on this thread act on the host it was made for.
pub struct Entered {
    previous: Option<(Rc<RefCell<state::State>>, usize)>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        socket::set_current(self.previous.take());
    }
}

impl Network {
    /// A network of `hosts`, each a list of addresses; packets to any other address vanish.
    /// `seed` drives every random choice (latency, loss, sequence numbers, ports).
    pub fn new(hosts: &[Vec<IpAddr>], seed: u64, default_latency: (Duration, Duration)) -> Network {
        Network(Rc::new(RefCell::new(state::State::new(hosts, seed, default_latency))))
    }

    /// Socket calls on this thread now act on `host` (until the guard drops).
    pub fn enter(&self, host: usize) -> Entered {
        Entered { previous: socket::set_current(Some((self.0.clone(), host))) }
    }

    pub fn host_of(&self, ip: IpAddr) -> Option<usize> {
        self.0.borrow().host_of(ip)
    }

    /// Sets the time and handles every arrival and timer due by then. True if any was due.
    pub fn advance(&self, now: Time) -> bool {
        self.0.borrow_mut().advance(now)
    }

    /// When the next packet arrives or the next timer fires.
    pub fn next_due(&self) -> Option<Time> {
        self.0.borrow().next_due()
    }

    pub fn stats(&self) -> NetworkStats {
        self.0.borrow().stats
    }

    /// Sockets a process holds open on `host` (a dead process holds none).
    pub fn open_sockets(&self, host: usize) -> usize {
        self.0.borrow().open_sockets(host)
    }

    // ----- faults --------------------------------------------------------------------------

    pub fn set_filter(&self, from: IpAddr, to: IpAddr, protocols: Protocols, filter: Filter) {
        self.0.borrow_mut().set_filter(from, to, protocols, filter);
    }

    /// A link's latency range (its own, or the network's default).
    pub fn latency(&self, from: IpAddr, to: IpAddr) -> (Duration, Duration) {
        self.0.borrow().latency(from, to)
    }

    pub fn set_latency(&self, from: IpAddr, to: IpAddr, min: Duration, max: Duration) {
        self.0.borrow_mut().link_mut(from, to).latency = Some((min, max));
    }

    pub fn set_loss(&self, from: IpAddr, to: IpAddr, loss: f64) {
        self.0.borrow_mut().link_mut(from, to).loss = loss;
    }

    pub fn set_bandwidth(&self, from: IpAddr, to: IpAddr, bps: Option<u64>) {
        self.0.borrow_mut().link_mut(from, to).bandwidth_bps = bps;
    }

    /// Packets from `from` to `to` wait until [`Network::release`].
    pub fn hold(&self, from: IpAddr, to: IpAddr) {
        self.0.borrow_mut().link_mut(from, to).held.get_or_insert_with(Vec::new);
    }

    pub fn release(&self, from: IpAddr, to: IpAddr) {
        self.0.borrow_mut().release(from, to);
    }
}
