//! The scenario's network and the processes on its hosts (both xfrsim-net's), and the
//! counters a run reports.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use xfrsim_engine::Time;
pub(crate) use xfrsim_net::{Filter, Protocols};
use xfrsim_net::{Network as Net, NetworkStats as NetStats, Processes};

/// Counters of the simulated network over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Packets handed to a destination.
    pub packets: u64,
    /// Always 0: the network no longer makes egress passes (every packet leaves when it is
    /// sent). Kept because `bench` lines print it.
    pub egress_passes: u64,
    /// Instants the scheduler stopped at.
    pub instants: u64,
    /// Octets of TCP segment payload delivered (DNS messages with their 2-byte length prefix;
    /// a retransmitted segment counts again): what `bytes=` on a PASS/FAIL line reports.
    pub tcp_payload_bytes: u64,
}

pub(crate) struct Network {
    pub(crate) net: Net,
    processes: Processes,
    pub(crate) instants: u64,
}

impl Network {
    /// A network of `hosts` (each a list of addresses). Addresses that are no host's are
    /// unrouted: packets to them vanish.
    pub(crate) fn new(hosts: &[Vec<IpAddr>], seed: u64, default_latency: (Duration, Duration)) -> Network {
        let net = Net::new(hosts, seed, default_latency);
        Network { processes: Processes::new(net.clone(), hosts.len()), net, instants: 0 }
    }

    /// Starts `task` on host `index` (its sockets live on that host).
    pub(crate) fn spawn(&mut self, index: usize, task: impl Future<Output = ()> + 'static) {
        self.processes.spawn(index, task);
    }

    /// The process on host `index` dies (see [`Processes::stop`]).
    pub(crate) fn stop(&mut self, index: usize) {
        self.processes.stop(index);
    }

    /// Runs the woken hosts until nothing is left for `now`; appends each host polled.
    pub(crate) fn settle(&mut self, now: Time, polled: &mut Vec<usize>) {
        self.processes.settle(now, polled);
    }

    /// Handles every arrival and network timer due by `now`; true if any was.
    pub(crate) fn advance(&mut self, now: Time) -> bool {
        self.net.advance(now)
    }

    /// When the network next has something to do.
    pub(crate) fn next_due(&self) -> Option<Time> {
        self.net.next_due()
    }

    pub(crate) fn stats(&self) -> NetworkStats {
        let NetStats { packets, tcp_payload_bytes, .. } = self.net.stats();
        NetworkStats { packets, egress_passes: 0, instants: self.instants, tcp_payload_bytes }
    }
}
