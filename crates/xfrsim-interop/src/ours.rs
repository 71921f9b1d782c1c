//! An xfrsim node on real sockets, in this process: the engine and driver of the simulation
//! with tokio sockets and wall-clock time (the `Tokio`/`WallClock` half of
//! `xfrsim_driver::transport`), on a thread of its own so the checks can block on external
//! programs while it serves them.

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError, mpsc as sync_mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use tokio::sync::mpsc;
use xfrsim_driver::{Clock, NodeSlot, Tokio, WallClock};
use xfrsim_engine::{Behaviour, Command, Event, Node, NodeConfig, Profile, ZoneConfig, ZoneStatus};
use xfrsim_zone::Zone;

use crate::{wait_until, wall_now};

enum Request {
    Zone(Name, sync_mpsc::Sender<Option<(ZoneStatus, Option<Zone>)>>),
    /// An operator command (reload, update, ...); the answer says whether it applied.
    Command(Command, sync_mpsc::Sender<Result<(), String>>),
    /// Stop serving: the sockets close (a master that went down), the thread ends.
    Stop,
}

#[derive(Default)]
struct Shared {
    events: Vec<Event>,
    /// When each event reached us, on the wall clock (same index as `events`).
    arrived: Vec<Instant>,
    /// Set when the driver stopped on its own (a socket failed to bind).
    failed: Option<String>,
}

/// A running node. Dropping it stops the node and joins its thread.
pub struct OurNode {
    pub name: String,
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    requests: Option<mpsc::UnboundedSender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl OurNode {
    /// Starts a node listening on `addr` (UDP and TCP) with `zones`, and waits until it
    /// accepts connections.
    pub fn start(name: &str, addr: SocketAddr, zones: Vec<ZoneConfig>, seed: u64) -> Result<OurNode, String> {
        Self::start_as(name, addr, zones, Behaviour::of(Profile::Bind), seed)
    }

    /// As [`OurNode::start`], behaving as `behaviour` says.
    pub fn start_as(
        name: &str,
        addr: SocketAddr,
        zones: Vec<ZoneConfig>,
        behaviour: Behaviour,
        seed: u64,
    ) -> Result<OurNode, String> {
        let config = NodeConfig { name: name.to_string(), addresses: vec![addr], zones, behaviour };
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (requests, receiver) = mpsc::unbounded_channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("xfrsim-{name}"))
            .spawn(move || serve(config, seed, addr, receiver, thread_shared))
            .map_err(|e| format!("cannot start a thread for {name}: {e}"))?;
        let node = OurNode { name: name.to_string(), addr, shared, requests: Some(requests), thread: Some(thread) };
        wait_until(Duration::from_secs(5), || {
            if let Some(failed) = node.lock().failed.clone() {
                return Some(Err(failed));
            }
            if node.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                // Not a bind error (that sets `failed`): the node panicked; the panic message
                // went to stderr with the rest of the test output.
                return Some(Err(format!("{name}'s thread ended before it listened (it panicked)")));
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok().map(|_| Ok(()))
        })
        .ok_or_else(|| format!("{name} did not listen on {addr} within 5 s"))??;
        Ok(node)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn request<R>(&self, make: impl FnOnce(sync_mpsc::Sender<R>) -> Request) -> Result<R, String> {
        let (reply, answer) = sync_mpsc::channel();
        let sent = self.requests.as_ref().is_some_and(|r| r.send(make(reply)).is_ok());
        let stopped = || format!("{} has stopped", self.name);
        if !sent {
            return Err(stopped());
        }
        answer.recv_timeout(Duration::from_secs(5)).map_err(|_| stopped())
    }

    /// What the zone looks like from outside, and its contents while it is served.
    pub fn zone(&self, origin: &Name) -> Result<(ZoneStatus, Option<Zone>), String> {
        self.request(|reply| Request::Zone(origin.clone(), reply))?
            .ok_or_else(|| format!("{} has no zone {origin}", self.name))
    }

    /// Waits for the first event (from the start) that `matches` picks.
    pub fn wait_event<T>(&self, timeout: Duration, mut matches: impl FnMut(&Event) -> Option<T>) -> Option<T> {
        wait_until(timeout, || self.lock().events.iter().find_map(&mut matches))
    }

    /// Applies an operator command (as `rndc reload`, `rndc refresh` would).
    pub fn command(&self, command: Command) -> Result<(), String> {
        self.request(|reply| Request::Command(command, reply))?
    }

    /// Stops the node while the check goes on: its sockets close, so its port answers TCP with
    /// RST and UDP with ICMP port unreachable. Returns once the thread has ended.
    pub fn stop(&self) -> Result<(), String> {
        if let Some(requests) = &self.requests {
            let _ = requests.send(Request::Stop);
        }
        wait_until(Duration::from_secs(5), || self.thread.as_ref().is_none_or(JoinHandle::is_finished).then_some(()))
            .ok_or_else(|| format!("{} did not stop within 5 s", self.name))
    }

    /// Every event so far with the wall-clock instant it was emitted.
    pub fn stamped_events(&self) -> Vec<(Instant, Event)> {
        let shared = self.lock();
        shared.arrived.iter().copied().zip(shared.events.iter().cloned()).collect()
    }

    /// The node's timeline so far, as `cargo xtask replay` prints it (time since start).
    pub fn timeline(&self) -> String {
        self.lock().events.iter().map(|e| e.timeline_line(&self.name) + "\n").collect()
    }
}

impl Drop for OurNode {
    fn drop(&mut self) {
        // Closing the request channel ends the serving loop; the runtime and its sockets go
        // with the thread.
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    config: NodeConfig,
    seed: u64,
    addr: SocketAddr,
    mut requests: mpsc::UnboundedReceiver<Request>,
    shared: Arc<Mutex<Shared>>,
) {
    let fail = |message: String| shared.lock().unwrap_or_else(PoisonError::into_inner).failed = Some(message);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start tokio: {e}")),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let clock = WallClock::start();
        let node = match Node::new(config, seed, clock.now()) {
            Ok(node) => node,
            Err(e) => return fail(format!("bad node configuration: {e}")),
        };
        let events = shared.clone();
        let slot = NodeSlot::new(
            Some(node),
            Box::new(move |event| {
                let mut shared = events.lock().unwrap_or_else(PoisonError::into_inner);
                shared.events.push(event.clone());
                shared.arrived.push(wall_now());
            }),
        );
        let driver = xfrsim_driver::run::<Tokio, WallClock>(slot.clone(), vec![addr], clock.clone());
        let answer = async {
            while let Some(request) = requests.recv().await {
                match request {
                    Request::Zone(origin, reply) => {
                        let zone =
                            slot.with(|node| Some((node.zone_status(&origin)?, node.zone(&origin).cloned()))).flatten();
                        let _ = reply.send(zone);
                    }
                    Request::Command(command, reply) => {
                        let now = clock.now();
                        let applied = slot
                            .with(|node| node.handle_command(now, command).map_err(|e| e.to_string()))
                            .unwrap_or_else(|| Err("the node is down".to_string()));
                        // What the command queued (NOTIFYs, say) goes out on the driver's next turn.
                        slot.wake.notify_one();
                        let _ = reply.send(applied);
                    }
                    Request::Stop => return,
                }
            }
        };
        tokio::select! {
            ended = driver => {
                if let Err(e) = ended {
                    fail(format!("serving on {addr}: {e}"));
                }
            }
            () = answer => {}
        }
    });
}
