//! The async shell around a sans-IO [`Node`]: one loop that feeds it datagrams, TCP
//! connections and messages, performs its [`Transmit`]s, and reports its [`Event`]s.
//!
//! The same loop runs in simulation (xfrsim-net sockets, harness-owned time) and on real sockets
//! (tokio, wall time); [`transport`] is the only module that knows which.

mod flow;
pub mod transport;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use xfrsim_engine::{ConnId, ConnectFailure, Event, Node, Transmit};

use crate::flow::{Flow, raise};

pub use flow::{DriverStats, MAX_UNWRITTEN_BYTES};
pub use transport::{Clock, HarnessClock, SimNet, Tokio, Transport, WallClock};

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
    /// What the driver holds for the node's inbound connections, for tests and diagnostics.
    pub stats: Rc<DriverStats>,
}

impl NodeSlot {
    pub fn new(node: Option<Node>, on_event: Box<dyn Fn(&Event)>) -> Rc<Self> {
        Rc::new(NodeSlot {
            node: RefCell::new(node),
            wake: Notify::new(),
            on_event,
            cut_transfers_after: Rc::default(),
            stats: Rc::default(),
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
    /// A connection accepted on one of the listeners, holding one of the node's TCP client
    /// slots while it is open.
    Accepted(S, SocketAddr, OwnedSemaphorePermit),
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
    /// Inbound connections only: their backpressure, and their TCP client slot.
    flow: Option<Rc<Flow>>,
    _slot: Option<OwnedSemaphorePermit>,
}

/// After `accept` fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
/// the listeners rest this long (NSD server.c `SLOW_ACCEPT_TIMEOUT`), so the loop neither
/// spins nor starves the node's timers; other failures (a client gone before `accept`) pause
/// for [`ACCEPT_ERROR_PAUSE`].
pub const ACCEPT_EXHAUSTED_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);
pub const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// At most one warning about failing `accept` calls per this interval; the rest are counted.
pub const ACCEPT_WARNING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Sockets of SOA queries kept open at once (each waits for its answer or ICMP error); the
/// oldest is closed beyond this. A secondary has one query in flight per zone being refreshed.
pub const MAX_QUERY_SOCKETS: usize = 256;

/// Receive buffer of a query socket. Our SOA queries advertise 1232 octets with EDNS (the
/// engine's `EDNS_UDP_PAYLOAD`, RFC 6891 §6.2.5), or 512 without it (RFC 1035 §4.2.1), well
/// under this; a longer datagram is cut and then refused as malformed.
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
    /// Inbound connections whose backlog may have changed since it was last read.
    touched: Vec<ConnId>,
}

/// Runs a node on every `listen` address (UDP and TCP on each, bound separately so an answer
/// leaves from the address its question went to) until the task is dropped or a socket fails
/// to bind.
///
/// Must run inside a tokio `LocalSet` (in simulation each host is one). Tasks are spawned with
/// `spawn_local` only, so they stay on the host whose kernel their sockets live in.
pub async fn run<T: Transport, C: Clock>(slot: Rc<NodeSlot>, listen: Vec<SocketAddr>, clock: C) -> io::Result<()> {
    let (events, mut inbox) = mpsc::unbounded_channel::<ConnEvent<T::Stream>>();
    let mut shell = Shell::<T> {
        udp: Vec::new(),
        conns: BTreeMap::new(),
        queries: BTreeMap::new(),
        next_query: 0,
        events,
        touched: Vec::new(),
    };
    let mut socket_tasks = Vec::new();
    // One pool of TCP client slots for every listener: the limit is the node's.
    // (A driver started for a node that is down serves nobody until it is restarted with it.)
    let tcp_clients = slot.with(|n| n.behaviour().tcp_clients.resolve(T::fd_limit())).unwrap_or(1);
    let listen_queue = slot.with(|n| n.behaviour().tcp_listen_queue).unwrap_or(1);
    let client_slots = std::sync::Arc::new(Semaphore::new(tcp_clients as usize));
    let accept_warnings = Rc::new(AcceptWarnings::default());
    for addr in &listen {
        let udp = Rc::new(T::bind_udp(*addr).await?);
        let listener = T::bind_tcp(*addr, listen_queue).await?;
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
        let (tx, slots, warnings, stats) =
            (shell.events.clone(), client_slots.clone(), accept_warnings.clone(), slot.stats.clone());
        socket_tasks.push(tokio::task::spawn_local(async move {
            loop {
                // Past the limit, connections wait in the kernel's listen queue (BIND's quota
                // callback, NSD and Knot stop polling the listener).
                let Ok(client_slot) = slots.clone().acquire_owned().await else { return };
                match T::accept(&listener).await {
                    Ok((stream, peer)) => {
                        if tx.send(ConnEvent::Accepted(stream, peer, client_slot)).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        drop(client_slot);
                        stats.accept_errors.set(stats.accept_errors.get() + 1);
                        let pause = if is_exhaustion(&error) { ACCEPT_EXHAUSTED_PAUSE } else { ACCEPT_ERROR_PAUSE };
                        warnings.warn(local, &error, pause);
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }));
        shell.udp.push((local, udp));
    }
    let _socket_tasks = Tasks(socket_tasks);
    loop {
        shell.perform(&slot).await;
        shell.update_flows(&slot);
        let deadline = if C::SLEEPS { slot.with(|n| n.poll_timeout()).flatten() } else { None };
        // The node's deadline comes first: a flood of datagrams or connections must never
        // keep its timers (refresh, expire, idle closes) from firing.
        tokio::select! {
            biased;
            () = clock.sleep_until(deadline) => {
                let now = clock.now();
                slot.with(|n| n.handle_timeout(now));
            }
            () = slot.wake.notified() => {}
            Some(event) = inbox.recv() => shell.handle(&slot, clock.now(), event),
        }
    }
}

/// Whether an `accept` error means the process or system is out of descriptors or memory.
fn is_exhaustion(error: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux; elsewhere the kinds that map.
    matches!(error.raw_os_error(), Some(23 | 24 | 105 | 12)) || error.kind() == io::ErrorKind::OutOfMemory
}

/// Rate limit of the warnings about failing `accept` calls, shared by the listeners.
#[derive(Default)]
struct AcceptWarnings {
    last: Cell<Option<tokio::time::Instant>>,
    suppressed: Cell<u64>,
}

impl AcceptWarnings {
    fn warn(&self, local: IpAddr, error: &io::Error, pause: std::time::Duration) {
        let now = tokio::time::Instant::now();
        if self.last.get().is_some_and(|at| now.duration_since(at) < ACCEPT_WARNING_INTERVAL) {
            self.suppressed.set(self.suppressed.get() + 1);
            return;
        }
        let suppressed = self.suppressed.replace(0);
        self.last.set(Some(now));
        tracing::warn!(
            %local,
            %error,
            pause_ms = pause.as_millis() as u64,
            suppressed,
            "accepting TCP connections failed; pausing accepts"
        );
    }
}

impl<T: Transport> Shell<T> {
    fn handle(&mut self, slot: &NodeSlot, now: xfrsim_engine::Time, event: ConnEvent<T::Stream>) {
        match event {
            ConnEvent::Connected(conn, stream) => {
                if let Some(handle) = self.conns.get_mut(&conn) {
                    let io = StreamIo { conn, events: self.events.clone(), cut: None, flow: None };
                    let (writer, tasks) = spawn_stream::<T>(stream, io);
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
                let flow = self.conns.get(&conn).and_then(|h| h.flow.clone());
                let backlog = slot.with(|n| {
                    n.handle_tcp_message(now, conn, &payload);
                    n.server_backlog(conn)
                });
                if let Some(flow) = flow {
                    // Taken over by the node in one step, so the count never dips between.
                    flow.unhandled.set(flow.unhandled.get().saturating_sub(1));
                    flow.backlog.set(backlog.unwrap_or(0));
                    self.touched.push(conn);
                }
            }
            ConnEvent::Sent(conn) => {
                slot.with(|n| n.handle_tcp_sent(now, conn));
                if self.conns.get(&conn).is_some_and(|h| h.flow.is_some()) {
                    self.touched.push(conn);
                }
            }
            ConnEvent::Closed(conn) => {
                if let Some(handle) = self.conns.remove(&conn) {
                    self.closed(slot, &handle);
                    slot.with(|n| n.handle_tcp_closed(now, conn));
                }
            }
            ConnEvent::Datagram { local, from, payload } => {
                slot.with(|n| n.handle_udp_on(now, Some(local), from, &payload));
            }
            ConnEvent::Accepted(stream, peer, client_slot) => {
                let accepted = slot.with(|n| (n.handle_tcp_accepted(now, peer), n.behaviour().tcp_pipelined));
                if let Some((conn, pipelined)) = accepted {
                    let flow = Flow::new(pipelined as usize);
                    let io = StreamIo {
                        conn,
                        events: self.events.clone(),
                        cut: Some(slot.cut_transfers_after.clone()),
                        flow: Some((flow.clone(), slot.stats.clone())),
                    };
                    let (writer, tasks) = spawn_stream::<T>(stream, io);
                    self.conns.insert(
                        conn,
                        ConnHandle {
                            writer: Some(writer),
                            tasks: Tasks(tasks),
                            flow: Some(flow),
                            _slot: Some(client_slot),
                        },
                    );
                    let stats = &slot.stats;
                    stats.tcp_clients.set(stats.tcp_clients.get() + 1);
                    raise(&stats.max_tcp_clients, stats.tcp_clients.get());
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

    /// A connection is gone: its client slot is freed with its handle.
    fn closed(&self, slot: &NodeSlot, handle: &ConnHandle) {
        if handle.flow.is_some() {
            let stats = &slot.stats;
            stats.tcp_clients.set(stats.tcp_clients.get().saturating_sub(1));
        }
    }

    /// Reads again the node's backlog of every inbound connection touched since the last
    /// call (its answers now handed to the writers), and lets readers go on where it fell.
    fn update_flows(&mut self, slot: &NodeSlot) {
        if self.touched.is_empty() {
            return;
        }
        let touched = std::mem::take(&mut self.touched);
        slot.with(|n| {
            for conn in &touched {
                if let Some(flow) = self.conns.get(conn).and_then(|h| h.flow.as_ref()) {
                    flow.backlog.set(n.server_backlog(*conn));
                    flow.wake();
                }
            }
        });
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
                    self.conns
                        .insert(conn, ConnHandle { writer: None, tasks: Tasks(vec![task]), flow: None, _slot: None });
                }
                Transmit::Send { conn, payload } => {
                    let Some(handle) = self.conns.get(&conn) else { continue };
                    let Some(writer) = handle.writer.as_ref() else { continue };
                    if let Some(flow) = &handle.flow {
                        flow.unwritten.set(flow.unwritten.get() + 1);
                        flow.unwritten_bytes.set(flow.unwritten_bytes.get() + payload.len());
                        raise(&slot.stats.max_unwritten_bytes, flow.unwritten_bytes.get());
                        self.touched.push(conn);
                    }
                    let _ = writer.send(payload);
                }
                Transmit::Close { conn } => {
                    if let Some(handle) = self.conns.remove(&conn) {
                        self.closed(slot, &handle);
                    }
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

/// How much the reader of a TCP connection takes from the socket at once: a page, which holds
/// many small messages (SOA answers, IXFR deltas); a message longer than that is read straight
/// into its own buffer. (tokio's `BufReader` zeroes its buffer, so a 64 KiB one cost a 64 KiB
/// memset per connection.)
const RECV_BUFFER_BYTES: usize = 4096;

/// What the reader and writer of one connection share with the loop.
struct StreamIo<S> {
    conn: ConnId,
    events: mpsc::UnboundedSender<ConnEvent<S>>,
    /// The fault-injection limit of [`NodeSlot::cut_transfers_after`] (accepted connections).
    cut: Option<Rc<Cell<Option<usize>>>>,
    /// Backpressure of an accepted connection, and the node's stats it raises.
    flow: Option<(Rc<Flow>, Rc<DriverStats>)>,
}

/// Spawns the reader (2-byte length-prefixed messages in, RFC 1035 §4.2.2) and writer of a
/// connection; returns the writer's queue, which holds what [`Flow`] lets in: at most the
/// node's `tcp_pipelined` answers on an accepted connection (one message of a transfer at a
/// time, the node making the next when one is written).
fn spawn_stream<T: Transport>(
    stream: T::Stream,
    io: StreamIo<T::Stream>,
) -> (mpsc::UnboundedSender<Vec<u8>>, Vec<JoinHandle<()>>) {
    let StreamIo { conn, events: tx, cut, flow } = io;
    let write_flow = flow.as_ref().map(|(flow, _)| flow.clone());
    let (reader, mut writer) = tokio::io::split(stream);
    // Length prefixes and short messages come through the buffer, two reads per message at
    // most; the kernel reopens its window as the reads free it.
    let mut reader = tokio::io::BufReader::with_capacity(RECV_BUFFER_BYTES, reader);
    let (write_tx, mut write_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let read_events = tx.clone();
    let read_task = tokio::task::spawn_local(async move {
        loop {
            if let Some((flow, _)) = &flow {
                while flow.paused() {
                    flow.resume.notified().await;
                }
            }
            let Ok(len) = reader.read_u16().await else { break };
            let mut message = vec![0u8; usize::from(len)];
            if reader.read_exact(&mut message).await.is_err() {
                break;
            }
            if let Some((flow, stats)) = &flow {
                flow.unhandled.set(flow.unhandled.get() + 1);
                stats.messages_read.set(stats.messages_read.get() + 1);
                raise(&stats.max_in_progress, flow.in_progress());
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
            if let Some(flow) = &write_flow {
                flow.unwritten.set(flow.unwritten.get().saturating_sub(1));
                flow.unwritten_bytes.set(flow.unwritten_bytes.get().saturating_sub(message.len()));
                flow.wake();
            }
            if tx.send(ConnEvent::Sent(conn)).is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    (write_tx, vec![read_task, write_task])
}
