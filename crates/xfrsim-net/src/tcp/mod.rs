//! One TCP connection as a sans-IO state machine (RFC 9293), timed as Linux 6.1 times it:
//! segments in, segments and deadlines out. It never reads a clock: every call takes `now`,
//! and what it wants to happen later is a deadline per timer that the network keeps in its one
//! time index.
//!
//! Modelled: the handshake with Linux's SYN and SYN-ACK retransmission schedules; MSS
//! segmentation; cumulative ACKs with an out-of-order queue; the peer's receive window and a
//! bounded send buffer (a reader that stops reading stops the writer); zero-window probes on
//! the persist timer; RTT from timestamp echoes, the RTO of [`rtt`], exponential backoff and
//! the time-based abort of `tcp_retries2`; slow start from an initial window of 10, NewReno
//! fast retransmit after three duplicate ACKs (RFC 6582); FIN, half-close, TIME_WAIT and
//! FIN_WAIT2 of closed sockets; RST in both directions with the errors Linux reports.
//!
//! Left out, each because DNS-level timing does not depend on it: SACK and what needs it
//! (RACK, tail loss probes: the model behaves as a Linux host with `net.ipv4.tcp_sack` = 0),
//! delayed ACKs (every segment is acknowledged at once, as in Linux's quick-ack mode), Nagle
//! (writes are sent as they come, as with `TCP_NODELAY`), CUBIC (Reno's linear growth stands
//! in for it), receive-buffer autotuning and keepalive.

mod input;
mod output;
mod rtt;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use xfrsim_engine::Time;

use crate::linux::{MAX_CWND_SEGMENTS, TCP_FIN_TIMEOUT, TCP_INIT_CWND, TCP_SEND_BUFFER_BYTES, TCP_TIMEOUT_INIT};
use crate::packet::{Packet, Segment};
pub(crate) use rtt::RttEstimator;

/// RFC 9293 §3.3.2 states (LISTEN is a listener, not a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

/// A connection's timers; each is at most one entry in the network's time index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKind {
    /// Retransmission of SYN, SYN-ACK, data or FIN.
    Retransmit = 0,
    /// Zero-window probes.
    Persist = 1,
    /// TIME_WAIT, or FIN_WAIT2 of a closed socket: the connection goes when it fires.
    Linger = 2,
}

pub(crate) const TIMERS: [TimerKind; 3] = [TimerKind::Retransmit, TimerKind::Persist, TimerKind::Linger];

/// What a call produced besides the connection's own state: packets to send and tasks to wake.
#[derive(Default)]
pub(crate) struct Effects {
    pub(crate) packets: Vec<Packet>,
    pub(crate) wakers: Vec<Waker>,
}

/// What the network does with the connection after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Keep,
    /// A child connection completed its handshake: it joins its listener's accept queue.
    Established,
    /// The connection is over: it leaves the demultiplexing table and its timers go.
    Remove,
}

#[derive(Debug)]
pub(crate) struct Tcb {
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    pub(crate) state: TcpState,
    /// The process closed the socket (or never had it: a child not yet accepted has no owner,
    /// but is not an orphan either until its listener goes).
    pub(crate) orphan: bool,
    // Send side (RFC 9293 §3.3.1 names).
    iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    /// Highest sequence number sent plus one (`snd_nxt` goes back to `snd_una` after an RTO).
    snd_max: u32,
    snd_wnd: u32,
    /// The segment that last updated `snd_wnd`: its sequence and acknowledgement numbers
    /// (RFC 9293 §3.10.7.4 SND.WL1 and SND.WL2), so an older, reordered ACK cannot shrink it.
    snd_wl1: u32,
    snd_wl2: u32,
    /// When a retransmitted SYN last got an immediate SYN-ACK (`tcp_invalid_ratelimit`).
    synack_resent_at: Option<Time>,
    /// Bytes from `snd_una` on: sent and unacknowledged, then unsent.
    send_buf: VecDeque<u8>,
    /// End sequence number and first send time of each segment in flight, oldest first.
    sent_at: VecDeque<(u32, Time)>,
    /// The application shut down its sending side: a FIN follows the data.
    fin_queued: bool,
    // Receive side.
    irs: u32,
    rcv_nxt: u32,
    recv_buf: VecDeque<u8>,
    /// Segments beyond `rcv_nxt`, by offset from `irs` (a connection carries less than 4 GiB).
    ofo: BTreeMap<u32, Bytes>,
    /// Sequence number of the peer's FIN, once seen (it counts when everything before it is in).
    peer_fin: Option<u32>,
    /// The peer's FIN was taken in order: reads end after the buffered data.
    eof: bool,
    /// Right edge of the window last advertised.
    adv_edge: u32,
    /// The peer's latest timestamp, echoed in every segment.
    ts_recent: u32,
    // Congestion control, in segments.
    cwnd: u32,
    ssthresh: u32,
    cwnd_cnt: u32,
    dupacks: u32,
    /// NewReno recovery point: recovery ends when this is acknowledged.
    recover: Option<u32>,
    // Timing.
    rtt: RttEstimator,
    rto: Duration,
    backoff: u32,
    retransmits: u32,
    retrans_stamp: Option<Time>,
    probes_out: u32,
    /// When each timer wants to fire (see [`TimerKind`]).
    pub(crate) deadline: [Option<Time>; 3],
    /// The entry each timer has in the network's time index.
    pub(crate) scheduled: [Option<(Time, u64)>; 3],
    /// An error the next read, write or connect reports (once).
    error: Option<io::ErrorKind>,
    /// Reset or aborted: writes fail with EPIPE once the error was reported.
    reset: bool,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
}

/// The TCP timestamp clock: milliseconds, offset by one so that no segment carries zero (which
/// RFC 7323 reserves for "no echo").
fn ts_clock(now: Time) -> u32 {
    (now.as_millis() as u32).wrapping_add(1)
}

impl Tcb {
    fn new(local: SocketAddr, peer: SocketAddr, state: TcpState, iss: u32) -> Tcb {
        Tcb {
            local,
            peer,
            state,
            orphan: false,
            iss,
            snd_una: iss,
            snd_nxt: iss.wrapping_add(1),
            snd_max: iss.wrapping_add(1),
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            synack_resent_at: None,
            send_buf: VecDeque::new(),
            sent_at: VecDeque::new(),
            fin_queued: false,
            irs: 0,
            rcv_nxt: 0,
            recv_buf: VecDeque::new(),
            ofo: BTreeMap::new(),
            peer_fin: None,
            eof: false,
            adv_edge: 0,
            ts_recent: 0,
            cwnd: TCP_INIT_CWND,
            ssthresh: MAX_CWND_SEGMENTS,
            cwnd_cnt: 0,
            dupacks: 0,
            recover: None,
            rtt: RttEstimator::new(),
            rto: TCP_TIMEOUT_INIT,
            backoff: 0,
            retransmits: 0,
            retrans_stamp: None,
            probes_out: 0,
            deadline: [None; 3],
            scheduled: [None; 3],
            error: None,
            reset: false,
            read_waker: None,
            write_waker: None,
        }
    }

    /// An active open: the connection in SYN_SENT and its SYN.
    pub(crate) fn connect(local: SocketAddr, peer: SocketAddr, iss: u32, now: Time, fx: &mut Effects) -> Tcb {
        let mut tcb = Tcb::new(local, peer, TcpState::SynSent, iss);
        tcb.send_syn(now, fx);
        tcb.deadline[TimerKind::Retransmit as usize] = Some(now + TCP_TIMEOUT_INIT);
        tcb
    }

    /// A passive open: a listener's child in SYN_RECEIVED answering `syn` with a SYN-ACK.
    pub(crate) fn accept_syn(
        local: SocketAddr,
        peer: SocketAddr,
        iss: u32,
        syn: &Segment,
        now: Time,
        fx: &mut Effects,
    ) -> Tcb {
        let mut tcb = Tcb::new(local, peer, TcpState::SynReceived, iss);
        tcb.irs = syn.seq;
        tcb.rcv_nxt = syn.seq.wrapping_add(1);
        tcb.ts_recent = syn.ts_val;
        tcb.snd_wnd = syn.window;
        tcb.snd_wl1 = syn.seq;
        tcb.send_syn(now, fx);
        tcb.deadline[TimerKind::Retransmit as usize] = Some(now + TCP_TIMEOUT_INIT);
        tcb
    }

    // ----- what the application sees ----------------------------------------------------------

    /// Whether the handshake is over: `Ok(true)` connected, `Ok(false)` not yet.
    pub(crate) fn connected(&mut self) -> io::Result<bool> {
        match self.state {
            TcpState::SynSent | TcpState::SynReceived => Ok(false),
            TcpState::Closed if self.error.is_some() => Err(self.take_error()),
            _ => Ok(true),
        }
    }

    fn take_error(&mut self) -> io::Error {
        io::Error::from(self.error.take().unwrap_or(io::ErrorKind::BrokenPipe))
    }

    /// Reads what arrived in order; `Ok(None)` when nothing has yet.
    pub(crate) fn read(&mut self, buf: &mut [u8], now: Time, fx: &mut Effects) -> io::Result<Option<usize>> {
        if !self.recv_buf.is_empty() {
            let n = buf.len().min(self.recv_buf.len());
            let (front, back) = self.recv_buf.as_slices();
            let from_front = n.min(front.len());
            buf[..from_front].copy_from_slice(&front[..from_front]);
            buf[from_front..n].copy_from_slice(&back[..n - from_front]);
            self.recv_buf.drain(..n);
            self.window_update(now, fx);
            return Ok(Some(n));
        }
        if self.error.is_some() {
            return Err(self.take_error());
        }
        if self.eof || self.state == TcpState::Closed {
            return Ok(Some(0));
        }
        Ok(None)
    }

    /// Queues bytes to send; `Ok(None)` while the send buffer is full.
    pub(crate) fn write(&mut self, buf: &[u8], now: Time, fx: &mut Effects) -> io::Result<Option<usize>> {
        if self.error.is_some() {
            return Err(self.take_error());
        }
        if self.reset || self.fin_queued || !matches!(self.state, TcpState::Established | TcpState::CloseWait) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = TCP_SEND_BUFFER_BYTES.saturating_sub(self.send_buf.len());
        if room == 0 {
            return Ok(None);
        }
        let n = room.min(buf.len());
        self.send_buf.extend(&buf[..n]);
        self.transmit(now, fx);
        Ok(Some(n))
    }

    /// `shutdown(SHUT_WR)`: a FIN after the queued data.
    pub(crate) fn shutdown(&mut self, now: Time, fx: &mut Effects) {
        if matches!(self.state, TcpState::Established | TcpState::CloseWait) {
            self.fin_queued = true;
            self.transmit(now, fx);
        }
    }

    /// The process closed the socket (or died): RST if it left data unread (RFC 2525 §2.17,
    /// net/ipv4/tcp.c `tcp_close`), otherwise a FIN after what is queued, and the connection
    /// lives on as an orphan until the exchange ends.
    pub(crate) fn close(&mut self, now: Time, fx: &mut Effects) -> Next {
        self.orphan = true;
        self.read_waker = None;
        self.write_waker = None;
        match self.state {
            TcpState::SynSent | TcpState::SynReceived | TcpState::Closed => Next::Remove,
            // Whatever the state, data left unread resets the connection (`data_was_unread`).
            TcpState::Established
            | TcpState::CloseWait
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::LastAck
                if !self.recv_buf.is_empty() =>
            {
                self.send_reset(now, fx);
                self.state = TcpState::Closed;
                Next::Remove
            }
            TcpState::TimeWait | TcpState::Closing | TcpState::LastAck | TcpState::FinWait1 => Next::Keep,
            TcpState::FinWait2 => {
                self.deadline[TimerKind::Linger as usize] = Some(now + TCP_FIN_TIMEOUT);
                Next::Keep
            }
            TcpState::Established | TcpState::CloseWait => {
                self.fin_queued = true;
                self.transmit(now, fx);
                Next::Keep
            }
        }
    }

    /// Resets the connection (a listener closing with children queued).
    pub(crate) fn abort(&mut self, now: Time, fx: &mut Effects) {
        self.send_reset(now, fx);
        self.state = TcpState::Closed;
    }
}
