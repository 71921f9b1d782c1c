//! Bounds on what the driver holds for inbound TCP connections: each connection's
//! backpressure ([`Flow`]) and the high-water marks tests assert on ([`DriverStats`]).

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::Notify;

/// High-water marks of the driver's queues for inbound TCP connections: what bounds memory
/// when clients misbehave.
#[derive(Debug, Default)]
pub struct DriverStats {
    /// Inbound TCP connections open now, and the most open at once.
    pub tcp_clients: Cell<usize>,
    pub max_tcp_clients: Cell<usize>,
    /// The most requests of one connection in progress at once (read, being answered, or
    /// answered and not yet written), and the most answer bytes waiting to be written on one.
    pub max_in_progress: Cell<usize>,
    pub max_unwritten_bytes: Cell<usize>,
    /// DNS messages read from inbound connections.
    pub messages_read: Cell<u64>,
    /// Failed `accept` calls (EMFILE, ENFILE, ...), each followed by a pause.
    pub accept_errors: Cell<u64>,
}

pub(crate) fn raise(mark: &Cell<usize>, value: usize) {
    if value > mark.get() {
        mark.set(value);
    }
}

/// Answer bytes waiting to be written on one connection past which it is read no more: BIND's
/// lib/isc/netmgr/tcp.c stops reading at `ISC_NETMGR_TCP_SENDBUF_SIZE` (a length prefix and
/// one largest message) in the write queue ("the other side is not reading the data").
pub const MAX_UNWRITTEN_BYTES: usize = 2 + 65_535;

/// Backpressure of one inbound connection: the reader takes the next message only while
/// fewer than `limit` requests are in progress and fewer than [`MAX_UNWRITTEN_BYTES`] wait to
/// be written. A client that pipelines without reading its answers stops being read; its
/// idle timer then closes the connection (RFC 7766 §6.2.3).
pub(crate) struct Flow {
    /// Messages read and queued for the loop, not yet given to the node.
    pub(crate) unhandled: Cell<usize>,
    /// The node's [`xfrsim_engine::Node::server_backlog`] for the connection, as last seen.
    pub(crate) backlog: Cell<usize>,
    /// Answers handed to the writer and not yet written, and their bytes.
    pub(crate) unwritten: Cell<usize>,
    pub(crate) unwritten_bytes: Cell<usize>,
    /// The node's `tcp_pipelined`.
    limit: usize,
    /// Wakes the reader when something above went down.
    pub(crate) resume: Notify,
}

impl Flow {
    pub(crate) fn new(limit: usize) -> Rc<Flow> {
        Rc::new(Flow {
            unhandled: Cell::new(0),
            backlog: Cell::new(0),
            unwritten: Cell::new(0),
            unwritten_bytes: Cell::new(0),
            limit: limit.max(1),
            resume: Notify::new(),
        })
    }

    pub(crate) fn in_progress(&self) -> usize {
        self.unhandled.get() + self.backlog.get() + self.unwritten.get()
    }

    pub(crate) fn paused(&self) -> bool {
        self.in_progress() >= self.limit || self.unwritten_bytes.get() >= MAX_UNWRITTEN_BYTES
    }

    /// Lets the reader check again (a stored permit if it is not waiting yet).
    pub(crate) fn wake(&self) {
        if !self.paused() {
            self.resume.notify_one();
        }
    }
}
