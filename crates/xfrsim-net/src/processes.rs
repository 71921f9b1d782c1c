//! The processes on the network's hosts, as the simulator runs them: one tokio `LocalSet` per
//! host, polled only when one of its tasks was woken, with the network entered for that host
//! so its socket calls land there. One thread, one host at a time, in host order: the same
//! wake-ups give the same run.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::LocalSet;
use xfrsim_engine::Time;

use crate::Network;

/// Hosts woken since they were last polled, in host order (finding them costs nothing per
/// idle host).
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

pub struct Processes {
    net: Network,
    hosts: Vec<Host>,
    runnable: Runnable,
    runtime: tokio::runtime::Runtime,
}

impl Processes {
    /// Room for a process on each of `hosts` hosts of `net`.
    pub fn new(net: Network, hosts: usize) -> Processes {
        let runnable = Runnable::default();
        let hosts = (0..hosts)
            .map(|index| Host {
                tasks: None,
                waker: Waker::from(Arc::new(HostWaker { index, runnable: runnable.clone() })),
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime builds");
        Processes { net, hosts, runnable, runtime }
    }

    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Starts `task` in the process of host `index` (starting the process if none runs).
    pub fn spawn(&mut self, index: usize, task: impl Future<Output = ()> + 'static) {
        let tasks = self.hosts[index].tasks.get_or_insert_with(|| {
            let mut set = LocalSet::new();
            // A panic in a host task is a broken invariant: crash the run so its seed is kept.
            set.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);
            set
        });
        tasks.spawn_local(task);
        self.runnable.lock().expect("one thread").insert(index);
    }

    /// The process on host `index` dies: its tasks go, and with them its sockets, which the
    /// network closes as a kernel closes a dead process's (FIN, or RST with data unread; a
    /// listener resets the connections it had not accepted). The machine stays up.
    pub fn stop(&mut self, index: usize) {
        if let Some(tasks) = self.hosts[index].tasks.take() {
            let _entered = self.net.enter(index);
            let _runtime = self.runtime.enter();
            drop(tasks);
        }
        assert_eq!(self.net.open_sockets(index), 0, "a dead process holds no socket");
    }

    /// Polls woken hosts until none is; appends each host polled to `polled`.
    pub fn poll(&mut self, polled: &mut Vec<usize>) {
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
    }

    /// Runs the woken hosts at `now` until nothing is left for this instant: what they send
    /// leaves at once, and whatever of it arrives at this same instant (a link with no
    /// latency) is delivered and the hosts it wakes run too.
    pub fn settle(&mut self, now: Time, polled: &mut Vec<usize>) {
        loop {
            self.poll(polled);
            if self.net.next_due().is_none_or(|at| at > now) {
                return;
            }
            self.net.advance(now);
        }
    }
}

impl Drop for Processes {
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
