//! The hosts' processes on the simulated network: one tokio `LocalSet` per host, polled only
//! when one of its tasks was woken, with the network entered for that host so its socket
//! calls land there. The network itself (links, UDP, TCP, its timers) is xfrsim-net's.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::task::LocalSet;
use xfrsim_engine::Time;
pub(crate) use xfrsim_net::{Filter, Protocols};
use xfrsim_net::{Network as Net, NetworkStats as NetStats};

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
    /// The host's process; `None` while nothing runs there.
    tasks: Option<LocalSet>,
    waker: Waker,
}

pub(crate) struct Network {
    pub(crate) net: Net,
    hosts: Vec<Host>,
    runnable: Runnable,
    pub(crate) instants: u64,
    runtime: tokio::runtime::Runtime,
}

impl Network {
    /// A network of `hosts` (each a list of addresses). Addresses that are no host's are
    /// unrouted: packets to them vanish.
    pub(crate) fn new(hosts: &[Vec<IpAddr>], seed: u64, default_latency: (Duration, Duration)) -> Network {
        let runnable = Runnable::default();
        let list = (0..hosts.len())
            .map(|index| Host {
                tasks: None,
                waker: Waker::from(Arc::new(HostWaker { index, runnable: runnable.clone() })),
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime builds");
        Network { net: Net::new(hosts, seed, default_latency), hosts: list, runnable, instants: 0, runtime }
    }

    /// Starts `task` on host `index` (its sockets live on that host).
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

    /// The process on host `index` dies: its tasks go, and with them its sockets, which the
    /// kernel closes as it closes a dead process's (FIN, or RST with data unread; a listener
    /// resets the connections it had not accepted). The machine stays up.
    pub(crate) fn stop(&mut self, index: usize) {
        if let Some(tasks) = self.hosts[index].tasks.take() {
            let _entered = self.net.enter(index);
            let _runtime = self.runtime.enter();
            drop(tasks);
        }
        assert_eq!(self.net.open_sockets(index), 0, "a dead process holds no socket");
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
            let _entered = self.net.enter(index);
            let mut cx = Context::from_waker(&host.waker);
            // A `LocalSet` runs its ready tasks and re-wakes our waker if work remains.
            let _: Poll<()> = Pin::new(tasks).poll(&mut cx);
        }
        polled.len() > start
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

impl Drop for Network {
    fn drop(&mut self) {
        // Each host's sockets close on its own host, while the network is still there.
        for index in 0..self.hosts.len() {
            if let Some(tasks) = self.hosts[index].tasks.take() {
                let _entered = self.net.enter(index);
                let _runtime = self.runtime.enter();
                drop(tasks);
            }
        }
    }
}
