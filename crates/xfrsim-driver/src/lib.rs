//! The async shell around a sans-IO [`Node`]: one loop that feeds it datagrams, TCP
//! connections and messages, performs its [`Transmit`]s, and reports its [`Event`]s.
//!
//! The same loop runs in simulation (turmoil-net sockets, harness-owned time) and on real sockets
//! (tokio, wall time); [`transport`] is the only module that knows which.

pub mod transport;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use xfrsim_engine::{ConnId, ConnectFailure, Event, Node, Transmit};

pub use transport::{Clock, HarnessClock, Tokio, Transport, TurmoilNet, WallClock};

/// Where a node lives while it runs: shared by the driver and whoever owns the node (the
/// simulation harness, which fires deadlines and commands between steps, or `serve`).
pub struct NodeSlot {
    /// `None` while the server is down.
    pub node: RefCell<Option<Node>>,
    /// Wakes the driver to drain output the owner caused (a fired deadline, a command).
    pub wake: Notify,
    /// Receives every event the node emits, in order.
    pub on_event: Box<dyn Fn(&Event)>,
    /// Fault injection: when set, every accepted TCP connection is cut (closed) after this many
    /// messages have been written on it — a master whose transfers abort mid-stream.
    pub cut_transfers_after: Rc<Cell<Option<usize>>>,
}

impl NodeSlot {
    pub fn new(node: Option<Node>, on_event: Box<dyn Fn(&Event)>) -> Rc<Self> {
        Rc::new(NodeSlot {
            node: RefCell::new(node),
            wake: Notify::new(),
            on_event,
            cut_transfers_after: Rc::default(),
        })
    }

    /// Runs `f` on the node, then hands every event it produced to `on_event`. `None` when the
    /// server is down.
    pub fn with<R>(&self, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
        let mut guard = self.node.borrow_mut();
        let node = guard.as_mut()?;
        let result = f(node);
        let mut events = Vec::new();
        while let Some(event) = node.poll_event() {
            events.push(event);
        }
        drop(guard);
        for event in &events {
            (self.on_event)(event);
        }
        Some(result)
    }

    /// True when the node has transmits the driver has not performed yet.
    pub fn has_pending_output(&self) -> bool {
        self.node.borrow().as_ref().is_some_and(Node::has_pending_transmits)
    }
}

enum ConnEvent<S> {
    Connected(ConnId, S),
    ConnectFailed(ConnId, ConnectFailure),
    Message(ConnId, Vec<u8>),
    Sent(ConnId),
    Closed(ConnId),
}

/// The tasks serving one TCP connection.
struct ConnHandle {
    writer: Option<mpsc::UnboundedSender<Vec<u8>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Runs a node on `listen` (UDP and TCP) until the task is dropped or a socket fails to bind.
///
/// Must run inside a tokio `LocalSet` (in simulation each host is one). Tasks are spawned with
/// `spawn_local` only, so they stay on the host whose kernel their sockets live in.
pub async fn run<T: Transport, C: Clock>(slot: Rc<NodeSlot>, listen: SocketAddr, clock: C) -> io::Result<()> {
    let udp = T::bind_udp(listen).await?;
    let listener = T::bind_tcp(listen).await?;
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel::<ConnEvent<T::Stream>>();
    let mut conns: BTreeMap<ConnId, ConnHandle> = BTreeMap::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        perform::<T>(&slot, &udp, &mut conns, &conn_tx).await;
        let deadline = if C::SLEEPS { slot.with(|n| n.poll_timeout()).flatten() } else { None };
        tokio::select! {
            biased;
            () = slot.wake.notified() => {}
            Some(event) = conn_rx.recv() => {
                let now = clock.now();
                match event {
                    ConnEvent::Connected(conn, stream) => {
                        if let Some(handle) = conns.get_mut(&conn) {
                            let (writer, tasks) = spawn_stream::<T>(conn, stream, conn_tx.clone(), None);
                            handle.writer = Some(writer);
                            handle.tasks.extend(tasks);
                            slot.with(|n| n.handle_tcp_connected(now, conn));
                        }
                    }
                    ConnEvent::ConnectFailed(conn, failure) => {
                        conns.remove(&conn);
                        slot.with(|n| n.handle_tcp_connect_failed(now, conn, failure));
                    }
                    ConnEvent::Message(conn, payload) => {
                        slot.with(|n| n.handle_tcp_message(now, conn, &payload));
                    }
                    ConnEvent::Sent(conn) => {
                        slot.with(|n| n.handle_tcp_sent(now, conn));
                    }
                    ConnEvent::Closed(conn) => {
                        if conns.remove(&conn).is_some() {
                            slot.with(|n| n.handle_tcp_closed(now, conn));
                        }
                    }
                }
            }
            received = T::recv_from(&udp, &mut buf) => {
                if let Ok((len, from)) = received {
                    let now = clock.now();
                    slot.with(|n| n.handle_udp(now, from, &buf[..len]));
                }
            }
            accepted = T::accept(&listener) => {
                if let Ok((stream, peer)) = accepted {
                    let now = clock.now();
                    if let Some(conn) = slot.with(|n| n.handle_tcp_accepted(now, peer)) {
                        let cut = Some(slot.cut_transfers_after.clone());
                        let (writer, tasks) = spawn_stream::<T>(conn, stream, conn_tx.clone(), cut);
                        conns.insert(conn, ConnHandle { writer: Some(writer), tasks });
                    }
                }
            }
            () = clock.sleep_until(deadline) => {
                let now = clock.now();
                slot.with(|n| n.handle_timeout(now));
            }
        }
    }
}

/// Performs every pending transmit of the node.
async fn perform<T: Transport>(
    slot: &NodeSlot,
    udp: &T::Udp,
    conns: &mut BTreeMap<ConnId, ConnHandle>,
    conn_tx: &mpsc::UnboundedSender<ConnEvent<T::Stream>>,
) {
    loop {
        let Some(Some(transmit)) = slot.with(Node::poll_transmit) else { return };
        match transmit {
            Transmit::Udp { to, payload } => {
                // A datagram that cannot be sent is a lost datagram; the engine's deadline
                // covers it, as it covers loss on the wire.
                if let Err(error) = T::send_to(udp, &payload, to).await {
                    tracing::debug!(%to, %error, "udp send failed");
                }
            }
            Transmit::Connect { conn, to } => {
                let tx = conn_tx.clone();
                let task = tokio::task::spawn_local(async move {
                    let event = match T::connect(to).await {
                        Ok(stream) => ConnEvent::Connected(conn, stream),
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                            ConnEvent::ConnectFailed(conn, ConnectFailure::Refused)
                        }
                        Err(_) => ConnEvent::ConnectFailed(conn, ConnectFailure::Unreachable),
                    };
                    let _ = tx.send(event);
                });
                conns.insert(conn, ConnHandle { writer: None, tasks: vec![task] });
            }
            Transmit::Send { conn, payload } => {
                if let Some(writer) = conns.get(&conn).and_then(|h| h.writer.as_ref()) {
                    let _ = writer.send(payload);
                }
            }
            Transmit::Close { conn } => {
                conns.remove(&conn);
            }
        }
    }
}

/// How much the reader of a TCP connection takes from the socket at once (a 64 KiB window).
const RECV_BUFFER_BYTES: usize = 65_536;

/// Spawns the reader (2-byte length-prefixed messages in, RFC 1035 §4.2.2) and writer of a
/// connection; returns the writer's queue. `cut` is the fault-injection limit of
/// [`NodeSlot::cut_transfers_after`] (accepted connections only).
fn spawn_stream<T: Transport>(
    conn: ConnId,
    stream: T::Stream,
    tx: mpsc::UnboundedSender<ConnEvent<T::Stream>>,
    cut: Option<Rc<Cell<Option<usize>>>>,
) -> (mpsc::UnboundedSender<Vec<u8>>, Vec<JoinHandle<()>>) {
    let (reader, mut writer) = tokio::io::split(stream);
    // Read through a buffer as large as a TCP receive window: one read then drains whatever
    // arrived. Reading each 2-byte length alone would leave turmoil-net's window closed (it
    // reopens it only on a read that frees half the buffer) and stall a large transfer.
    let mut reader = tokio::io::BufReader::with_capacity(RECV_BUFFER_BYTES, reader);
    let (write_tx, mut write_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let read_events = tx.clone();
    let read_task = tokio::task::spawn_local(async move {
        while let Ok(len) = reader.read_u16().await {
            let mut message = vec![0u8; usize::from(len)];
            if reader.read_exact(&mut message).await.is_err() {
                break;
            }
            if read_events.send(ConnEvent::Message(conn, message)).is_err() {
                return;
            }
        }
        let _ = read_events.send(ConnEvent::Closed(conn));
    });
    let write_task = tokio::task::spawn_local(async move {
        let mut written = 0usize;
        while let Some(message) = write_rx.recv().await {
            if cut.as_ref().and_then(|c| c.get()).is_some_and(|limit| written >= limit) {
                let _ = writer.shutdown().await;
                let _ = tx.send(ConnEvent::Closed(conn));
                return;
            }
            written += 1;
            let Ok(len) = u16::try_from(message.len()) else {
                // The engine never builds a message over 65,535 bytes; if it did, that is a bug.
                panic!("DNS message of {} bytes cannot be framed for TCP", message.len());
            };
            let mut frame = Vec::with_capacity(message.len() + 2);
            frame.extend_from_slice(&len.to_be_bytes());
            frame.extend_from_slice(&message);
            if writer.write_all(&frame).await.is_err() {
                let _ = tx.send(ConnEvent::Closed(conn));
                return;
            }
            if tx.send(ConnEvent::Sent(conn)).is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    (write_tx, vec![read_task, write_task])
}
