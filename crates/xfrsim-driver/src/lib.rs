//! The async shell around a sans-IO [`Node`]: one loop that feeds it datagrams, TCP
//! connections and messages, performs its [`Transmit`]s, and reports its [`Event`]s.
//!
//! The same loop runs in simulation (turmoil-net sockets, harness-owned time) and on real sockets
//! (tokio, wall time); [`transport`] is the only module that knows which.

pub mod transport;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use xfrsim_engine::{ConnId, ConnectFailure, Event, Node, Transmit};

pub use transport::{Clock, HarnessClock, Tokio, Transport, TurmoilNet, WallClock, socket_calls};

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
}

enum ConnEvent<S> {
    Connected(ConnId, S),
    ConnectFailed(ConnId, ConnectFailure),
    Message(ConnId, Vec<u8>),
    Sent(ConnId),
    Closed(ConnId),
    /// A datagram on the DNS socket bound to `local`.
    Datagram {
        local: IpAddr,
        from: SocketAddr,
        payload: Vec<u8>,
    },
    /// A connection accepted on one of the listeners.
    Accepted(S, SocketAddr),
    /// An answer on a query's own socket (which then closes, as BIND's dispatch entry does).
    Answer {
        to: SocketAddr,
        id: u16,
        payload: Vec<u8>,
    },
    /// The query's socket reported ECONNREFUSED: an ICMP port unreachable came back.
    Refused {
        to: SocketAddr,
        id: u16,
    },
}

/// Tasks that stop when dropped.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The tasks serving one TCP connection.
struct ConnHandle {
    writer: Option<mpsc::UnboundedSender<Vec<u8>>>,
    tasks: Tasks,
}

/// Sockets of SOA queries kept open at once (each waits for its answer or ICMP error); the
/// oldest is closed beyond this. A secondary has one query in flight per zone being refreshed.
pub const MAX_QUERY_SOCKETS: usize = 256;

/// Receive buffer of a query socket. Our SOA queries carry no EDNS, so an answer is at most 512
/// octets (RFC 1035 §4.2.1); a longer datagram is cut and then refused as malformed.
const QUERY_ANSWER_BYTES: usize = 4096;

/// An open query socket: its receiving task, and a queue to send on it again (a retry).
struct QuerySocket {
    resend: mpsc::UnboundedSender<Vec<u8>>,
    _task: Tasks,
}

/// What the loop owns besides the node.
struct Shell<T: Transport> {
    /// The DNS sockets, one per listen address, the first being the default source.
    udp: Vec<(IpAddr, Rc<T::Udp>)>,
    conns: BTreeMap<ConnId, ConnHandle>,
    /// Open query sockets by (server, message id), oldest first by insertion number.
    queries: BTreeMap<(SocketAddr, u16), (u64, QuerySocket)>,
    next_query: u64,
    events: mpsc::UnboundedSender<ConnEvent<T::Stream>>,
}

/// Runs a node on every `listen` address (UDP and TCP on each, bound separately so an answer
/// leaves from the address its question went to) until the task is dropped or a socket fails
/// to bind.
///
/// Must run inside a tokio `LocalSet` (in simulation each host is one). Tasks are spawned with
/// `spawn_local` only, so they stay on the host whose kernel their sockets live in.
pub async fn run<T: Transport, C: Clock>(slot: Rc<NodeSlot>, listen: Vec<SocketAddr>, clock: C) -> io::Result<()> {
    let (events, mut inbox) = mpsc::unbounded_channel::<ConnEvent<T::Stream>>();
    let mut shell =
        Shell::<T> { udp: Vec::new(), conns: BTreeMap::new(), queries: BTreeMap::new(), next_query: 0, events };
    let mut socket_tasks = Vec::new();
    for addr in &listen {
        let udp = Rc::new(T::bind_udp(*addr).await?);
        let listener = T::bind_tcp(*addr).await?;
        let (socket, tx) = (udp.clone(), shell.events.clone());
        let local = addr.ip();
        socket_tasks.push(tokio::task::spawn_local(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                // A receive error on an unconnected socket concerns one datagram; keep going.
                if let Ok((len, from)) = T::recv_from(&socket, &mut buf).await {
                    let payload = buf[..len].to_vec();
                    if tx.send(ConnEvent::Datagram { local, from, payload }).is_err() {
                        return;
                    }
                }
            }
        }));
        let tx = shell.events.clone();
        socket_tasks.push(tokio::task::spawn_local(async move {
            loop {
                if let Ok((stream, peer)) = T::accept(&listener).await
                    && tx.send(ConnEvent::Accepted(stream, peer)).is_err()
                {
                    return;
                }
            }
        }));
        shell.udp.push((local, udp));
    }
    let _socket_tasks = Tasks(socket_tasks);
    loop {
        shell.perform(&slot).await;
        let deadline = if C::SLEEPS { slot.with(|n| n.poll_timeout()).flatten() } else { None };
        tokio::select! {
            biased;
            () = slot.wake.notified() => {}
            Some(event) = inbox.recv() => shell.handle(&slot, clock.now(), event),
            () = clock.sleep_until(deadline) => {
                let now = clock.now();
                slot.with(|n| n.handle_timeout(now));
            }
        }
    }
}

impl<T: Transport> Shell<T> {
    fn handle(&mut self, slot: &NodeSlot, now: xfrsim_engine::Time, event: ConnEvent<T::Stream>) {
        match event {
            ConnEvent::Connected(conn, stream) => {
                if let Some(handle) = self.conns.get_mut(&conn) {
                    let (writer, tasks) = spawn_stream::<T>(conn, stream, self.events.clone(), None);
                    handle.writer = Some(writer);
                    handle.tasks.0.extend(tasks);
                    slot.with(|n| n.handle_tcp_connected(now, conn));
                }
            }
            ConnEvent::ConnectFailed(conn, failure) => {
                self.conns.remove(&conn);
                slot.with(|n| n.handle_tcp_connect_failed(now, conn, failure));
            }
            ConnEvent::Message(conn, payload) => {
                slot.with(|n| n.handle_tcp_message(now, conn, &payload));
            }
            ConnEvent::Sent(conn) => {
                slot.with(|n| n.handle_tcp_sent(now, conn));
            }
            ConnEvent::Closed(conn) => {
                if self.conns.remove(&conn).is_some() {
                    slot.with(|n| n.handle_tcp_closed(now, conn));
                }
            }
            ConnEvent::Datagram { local, from, payload } => {
                slot.with(|n| n.handle_udp_on(now, Some(local), from, &payload));
            }
            ConnEvent::Accepted(stream, peer) => {
                if let Some(conn) = slot.with(|n| n.handle_tcp_accepted(now, peer)) {
                    let cut = Some(slot.cut_transfers_after.clone());
                    let (writer, tasks) = spawn_stream::<T>(conn, stream, self.events.clone(), cut);
                    self.conns.insert(conn, ConnHandle { writer: Some(writer), tasks: Tasks(tasks) });
                }
            }
            ConnEvent::Answer { to, id, payload } => {
                self.queries.remove(&(to, id));
                slot.with(|n| n.handle_udp(now, to, &payload));
            }
            ConnEvent::Refused { to, id } => {
                self.queries.remove(&(to, id));
                slot.with(|n| n.handle_udp_unreachable(now, to, id));
            }
        }
    }

    /// Performs every pending transmit of the node.
    async fn perform(&mut self, slot: &NodeSlot) {
        loop {
            let Some(Some(transmit)) = slot.with(Node::poll_transmit) else { return };
            match transmit {
                Transmit::Udp { to, payload, from } => {
                    let socket = from.and_then(|ip| self.udp.iter().find(|(own, _)| *own == ip)).or(self.udp.first());
                    let Some((_, socket)) = socket else { continue };
                    // A datagram that cannot be sent is a lost datagram; the engine's deadline
                    // covers it, as it covers loss on the wire.
                    if let Err(error) = T::send_to(socket, &payload, to).await {
                        tracing::debug!(%to, %error, "udp send failed");
                    }
                }
                Transmit::Query { to, id, payload, from } => self.query(to, id, payload, from),
                Transmit::Connect { conn, to, from } => {
                    let tx = self.events.clone();
                    let task = tokio::task::spawn_local(async move {
                        let event = match T::connect(to, from).await {
                            Ok(stream) => ConnEvent::Connected(conn, stream),
                            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                                ConnEvent::ConnectFailed(conn, ConnectFailure::Refused)
                            }
                            Err(_) => ConnEvent::ConnectFailed(conn, ConnectFailure::Unreachable),
                        };
                        let _ = tx.send(event);
                    });
                    self.conns.insert(conn, ConnHandle { writer: None, tasks: Tasks(vec![task]) });
                }
                Transmit::Send { conn, payload } => {
                    if let Some(writer) = self.conns.get(&conn).and_then(|h| h.writer.as_ref()) {
                        let _ = writer.send(payload);
                    }
                }
                Transmit::Close { conn } => {
                    self.conns.remove(&conn);
                }
            }
        }
    }

    /// Sends a query from its own socket connected to the server (BIND's dispatch and Knot's
    /// requestor do the same), so the kernel hands an ICMP port unreachable to us as
    /// ECONNREFUSED instead of dropping it. A resend of the same query uses the same socket.
    fn query(&mut self, to: SocketAddr, id: u16, payload: Vec<u8>, from: Option<IpAddr>) {
        if let Some((_, open)) = self.queries.get(&(to, id))
            && open.resend.send(payload.clone()).is_ok()
        {
            return;
        }
        while self.queries.len() >= MAX_QUERY_SOCKETS {
            let oldest = self.queries.iter().min_by_key(|(_, (order, _))| *order).map(|(key, _)| *key);
            let Some(oldest) = oldest else { break };
            self.queries.remove(&oldest);
        }
        let (resend, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
        let _ = resend.send(payload);
        let tx = self.events.clone();
        let bind = SocketAddr::new(
            from.unwrap_or(if to.is_ipv4() { IpAddr::from([0u8; 4]) } else { IpAddr::from([0u16; 8]) }),
            0,
        );
        let task = tokio::task::spawn_local(async move {
            let Ok(socket) = T::bind_udp(bind).await else { return };
            if T::connect_udp(&socket, to).await.is_err() {
                return;
            }
            let mut buf = vec![0u8; QUERY_ANSWER_BYTES];
            loop {
                tokio::select! {
                    biased;
                    Some(payload) = outgoing.recv() => {
                        let _ = T::send_to(&socket, &payload, to).await;
                    }
                    received = T::recv_from(&socket, &mut buf) => match received {
                        Ok((len, _)) => {
                            let _ = tx.send(ConnEvent::Answer { to, id, payload: buf[..len].to_vec() });
                            return;
                        }
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                            let _ = tx.send(ConnEvent::Refused { to, id });
                            return;
                        }
                        Err(_) => return,
                    },
                }
            }
        });
        self.queries.insert((to, id), (self.next_query, QuerySocket { resend, _task: Tasks(vec![task]) }));
        self.next_query += 1;
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
