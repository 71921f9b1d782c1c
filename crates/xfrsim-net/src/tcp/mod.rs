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

use crate::linux::{
    MAX_CWND_SEGMENTS, MSS_BYTES, TCP_FASTRETRANS_THRESH, TCP_FIN_TIMEOUT, TCP_INIT_CWND, TCP_ORPHAN_RETRIES,
    TCP_RECEIVE_WINDOW_BYTES, TCP_RETRIES2, TCP_RTO_MAX, TCP_RTO_MIN, TCP_SEND_BUFFER_BYTES, TCP_SYN_RETRIES,
    TCP_SYNACK_RETRIES, TCP_TIMEOUT_INIT, TCP_TIMEWAIT_LEN, tcp_model_timeout,
};
use crate::packet::{Body, Flags, Packet, Segment, seq_le, seq_lt};
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
            for (dst, src) in buf.iter_mut().zip(self.recv_buf.drain(..n)) {
                *dst = src;
            }
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
            TcpState::TimeWait | TcpState::Closing | TcpState::LastAck | TcpState::FinWait1 => Next::Keep,
            TcpState::FinWait2 => {
                self.deadline[TimerKind::Linger as usize] = Some(now + TCP_FIN_TIMEOUT);
                Next::Keep
            }
            TcpState::Established | TcpState::CloseWait if !self.recv_buf.is_empty() => {
                self.send_reset(now, fx);
                self.state = TcpState::Closed;
                Next::Remove
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

    // ----- segments in ---------------------------------------------------------------------

    /// Processes one segment addressed to this connection (RFC 9293 §3.10.7).
    pub(crate) fn input(&mut self, seg: &Segment, now: Time, fx: &mut Effects) -> Next {
        match self.state {
            TcpState::SynSent => return self.input_syn_sent(seg, now, fx),
            TcpState::Closed => return Next::Keep,
            _ => {}
        }
        if self.state == TcpState::SynReceived
            && seg.flags.syn
            && !seg.flags.ack
            && !seg.flags.rst
            && seg.seq == self.irs
        {
            // A retransmitted SYN: the SYN-ACK was lost, so it goes again at once and the request
            // timer restarts (net/ipv4/tcp_minisocks.c `tcp_check_req`). The SYN lies left of the
            // window, so the acceptance test below would only ACK it.
            self.send_syn(now, fx);
            let interval = (TCP_TIMEOUT_INIT * (1u32 << self.retransmits)).min(TCP_RTO_MAX);
            self.deadline[TimerKind::Retransmit as usize] = Some(now + interval);
            return Next::Keep;
        }
        if !self.acceptable(seg) {
            // RFC 9293 §3.10.7.4: an unacceptable segment is answered with an ACK (which is how
            // a zero-window probe learns the window), unless it is a RST.
            if !seg.flags.rst {
                self.send_ack(now, fx);
            }
            return Next::Keep;
        }
        if seg.flags.rst {
            return self.reset_by_peer(fx);
        }
        if seg.flags.syn {
            // A SYN in the window: RFC 5961's challenge ACK.
            self.send_ack(now, fx);
            return Next::Keep;
        }
        if !seg.flags.ack {
            return Next::Keep;
        }
        self.note_timestamp(seg);
        let mut next = Next::Keep;
        if self.state == TcpState::SynReceived {
            if seg.ack != self.iss.wrapping_add(1) {
                self.send_packet(now, seg.ack, Flags { rst: true, ..Flags::default() }, Bytes::new(), fx);
                return Next::Keep;
            }
            self.state = TcpState::Established;
            self.retransmits = 0;
            self.deadline[TimerKind::Retransmit as usize] = None;
            next = Next::Established;
        }
        if self.process_ack(seg, now, fx) == Next::Remove {
            return Next::Remove;
        }
        if !seg.payload.is_empty() {
            if self.orphan && matches!(self.state, TcpState::FinWait1 | TcpState::FinWait2) {
                // Data for a socket its process closed: nobody will read it, so the peer is reset
                // (net/ipv4/tcp_input.c `tcp_rcv_state_process`, FIN_WAIT states).
                self.send_reset(now, fx);
                self.state = TcpState::Closed;
                return Next::Remove;
            }
            if matches!(self.state, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2) {
                self.receive_data(seg);
            }
        }
        if seg.flags.fin {
            self.peer_fin.get_or_insert(seg.seq.wrapping_add(seg.payload.len() as u32));
        }
        self.take_fin(now);
        if !seg.is_empty() {
            self.send_ack(now, fx);
            if let Some(waker) = self.read_waker.take() {
                fx.wakers.push(waker);
            }
        }
        self.transmit(now, fx);
        next
    }

    fn input_syn_sent(&mut self, seg: &Segment, now: Time, fx: &mut Effects) -> Next {
        let ack_ok = seg.flags.ack && seg.ack == self.iss.wrapping_add(1);
        if seg.flags.ack && !ack_ok {
            if !seg.flags.rst {
                self.send_packet(now, seg.ack, Flags { rst: true, ..Flags::default() }, Bytes::new(), fx);
            }
            return Next::Keep;
        }
        if seg.flags.rst {
            return if ack_ok { self.reset_by_peer(fx) } else { Next::Keep };
        }
        if !seg.flags.syn || !ack_ok {
            return Next::Keep; // simultaneous open is not modelled: DNS never needs it
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq.wrapping_add(1);
        // Nothing offered yet: the window starts at what the first ACK says.
        self.adv_edge = self.rcv_nxt;
        self.snd_una = seg.ack;
        self.snd_wnd = seg.window;
        self.ts_recent = seg.ts_val;
        self.rtt_sample(seg, now);
        self.retransmits = 0;
        self.deadline[TimerKind::Retransmit as usize] = None;
        self.state = TcpState::Established;
        self.send_ack(now, fx);
        if let Some(waker) = self.write_waker.take() {
            fx.wakers.push(waker);
        }
        Next::Keep
    }

    /// RFC 9293 §3.10.7.4's acceptance test against the receive window.
    fn acceptable(&self, seg: &Segment) -> bool {
        let window = self.offered();
        let in_window = |seq: u32| seq_le(self.rcv_nxt, seq) && seq_lt(seq, self.rcv_nxt.wrapping_add(window));
        match (seg.len(), window) {
            (0, 0) => seg.seq == self.rcv_nxt,
            (0, _) => in_window(seg.seq),
            (_, 0) => false,
            (len, _) => in_window(seg.seq) || in_window(seg.seq.wrapping_add(len - 1)),
        }
    }

    /// What the peer may still send: up to the right edge last advertised.
    fn offered(&self) -> u32 {
        if seq_le(self.rcv_nxt, self.adv_edge) { self.adv_edge.wrapping_sub(self.rcv_nxt) } else { 0 }
    }

    fn note_timestamp(&mut self, seg: &Segment) {
        if seq_le(self.ts_recent, seg.ts_val) {
            self.ts_recent = seg.ts_val;
        }
    }

    fn rtt_sample(&mut self, seg: &Segment, now: Time) {
        if seg.ts_ecr == 0 {
            return;
        }
        let elapsed_ms = ts_clock(now).wrapping_sub(seg.ts_ecr);
        if elapsed_ms > 1 << 30 {
            return; // an echo from the future: not a sample
        }
        self.rtt.sample(Duration::from_millis(u64::from(elapsed_ms)), self.snd_una, self.snd_nxt);
        // A valid sample ends the backoff (net/ipv4/tcp_input.c `tcp_ack_update_rtt`).
        self.backoff = 0;
        self.rto = self.rtt.rto();
    }

    fn reset_by_peer(&mut self, fx: &mut Effects) -> Next {
        // net/ipv4/tcp_input.c `tcp_reset`.
        self.error = match self.state {
            TcpState::SynSent => Some(io::ErrorKind::ConnectionRefused),
            TcpState::CloseWait => Some(io::ErrorKind::BrokenPipe),
            TcpState::TimeWait | TcpState::Closed => None,
            _ => Some(io::ErrorKind::ConnectionReset),
        };
        self.reset = true;
        self.state = TcpState::Closed;
        self.wake_all(fx);
        Next::Remove
    }

    fn wake_all(&mut self, fx: &mut Effects) {
        fx.wakers.extend(self.read_waker.take());
        fx.wakers.extend(self.write_waker.take());
    }

    /// The ACK field of a segment (RFC 9293 §3.10.7.4, fifth check), congestion control
    /// (RFC 5681, RFC 6582) and the RTO (RFC 6298 §5).
    fn process_ack(&mut self, seg: &Segment, now: Time, fx: &mut Effects) -> Next {
        let ack = seg.ack;
        if seq_lt(self.snd_max, ack) {
            self.send_ack(now, fx); // acknowledges what was never sent
            return Next::Keep;
        }
        if seq_lt(ack, self.snd_una) {
            return Next::Keep; // an old duplicate
        }
        let old_wnd = self.snd_wnd;
        self.snd_wnd = seg.window;
        // Any ACK shows the peer alive (net/ipv4/tcp_input.c `tcp_ack`: `icsk_probes_out = 0`).
        self.probes_out = 0;
        if ack != self.snd_una {
            let acked = ack.wrapping_sub(self.snd_una);
            let data_end = self.snd_una.wrapping_add(self.send_buf.len() as u32);
            let data_acked = (acked as usize).min(self.send_buf.len());
            let fin_acked = self.fin_queued && seq_lt(data_end, ack);
            self.send_buf.drain(..data_acked);
            self.snd_una = ack;
            if seq_lt(self.snd_nxt, ack) {
                self.snd_nxt = ack;
            }
            while self.sent_at.front().is_some_and(|(end, _)| seq_le(*end, ack)) {
                self.sent_at.pop_front();
            }
            self.rtt_sample(seg, now);
            self.retransmits = 0;
            self.retrans_stamp = None;
            self.grow_cwnd(data_acked as u32, now, fx);
            self.dupacks = 0;
            self.deadline[TimerKind::Retransmit as usize] = (self.snd_una != self.snd_max).then(|| now + self.rto);
            if let Some(waker) = self.write_waker.take() {
                fx.wakers.push(waker);
            }
            if fin_acked {
                match self.state {
                    TcpState::FinWait1 => {
                        self.state = TcpState::FinWait2;
                        if self.orphan {
                            self.deadline[TimerKind::Linger as usize] = Some(now + TCP_FIN_TIMEOUT);
                        }
                    }
                    TcpState::Closing => self.enter_time_wait(now),
                    TcpState::LastAck => {
                        self.state = TcpState::Closed;
                        self.wake_all(fx);
                        return Next::Remove;
                    }
                    _ => {}
                }
            }
        } else if seg.payload.is_empty() && !seg.flags.fin && seg.window == old_wnd && self.snd_una != self.snd_max {
            self.dupacks += 1;
            if self.dupacks == TCP_FASTRETRANS_THRESH && self.recover.is_none() {
                let flight = self.snd_max.wrapping_sub(self.snd_una).div_ceil(MSS_BYTES);
                self.ssthresh = (flight / 2).max(2);
                self.cwnd = self.ssthresh;
                self.recover = Some(self.snd_max);
                self.retransmit_head(now, fx);
            }
        }
        if old_wnd == 0 && self.snd_wnd > 0 {
            self.deadline[TimerKind::Persist as usize] = None;
            self.backoff = 0;
        }
        Next::Keep
    }

    /// Congestion window after an ACK of `acked` new data bytes.
    fn grow_cwnd(&mut self, acked: u32, now: Time, fx: &mut Effects) {
        if let Some(recover) = self.recover {
            if seq_lt(self.snd_una, recover) {
                // A partial ACK: the next hole is lost too (RFC 6582 §3.2 step 5).
                self.retransmit_head(now, fx);
                return;
            }
            self.recover = None;
            self.cwnd = self.ssthresh;
            return;
        }
        let segments = acked.div_ceil(MSS_BYTES);
        if segments == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = (self.cwnd + segments).min(self.ssthresh.max(self.cwnd + 1));
        } else {
            self.cwnd_cnt += segments;
            if self.cwnd_cnt >= self.cwnd {
                self.cwnd_cnt = 0;
                self.cwnd += 1;
            }
        }
        self.cwnd = self.cwnd.min(MAX_CWND_SEGMENTS);
    }

    fn receive_data(&mut self, seg: &Segment) {
        let capacity = TCP_RECEIVE_WINDOW_BYTES as usize;
        let mut seq = seg.seq;
        let mut payload = seg.payload.clone();
        if seq_lt(seq, self.rcv_nxt) {
            let skip = self.rcv_nxt.wrapping_sub(seq) as usize;
            if skip >= payload.len() {
                return;
            }
            payload = payload.slice(skip..);
            seq = self.rcv_nxt;
        }
        if seq != self.rcv_nxt {
            // Out of order: kept (within the window) until the hole is filled.
            let room = self.adv_edge.wrapping_sub(seq) as usize;
            let keep = payload.len().min(room);
            if keep > 0 {
                let key = seq.wrapping_sub(self.irs);
                let entry = self.ofo.entry(key).or_default();
                if keep > entry.len() {
                    *entry = payload.slice(..keep);
                }
            }
            return;
        }
        // Within the window offered (a segment may overrun it) and the buffer.
        let room = capacity.saturating_sub(self.recv_buf.len()).min(self.offered() as usize);
        let take = payload.len().min(room);
        self.recv_buf.extend(&payload[..take]);
        self.rcv_nxt = self.rcv_nxt.wrapping_add(take as u32);
        // Whatever the hole was holding back follows.
        while let Some((&key, _)) = self.ofo.first_key_value() {
            let start = self.irs.wrapping_add(key);
            if seq_lt(self.rcv_nxt, start) {
                break;
            }
            let (_, data) = self.ofo.pop_first().expect("just seen");
            let skip = self.rcv_nxt.wrapping_sub(start) as usize;
            if skip < data.len() {
                let room = capacity.saturating_sub(self.recv_buf.len()).min(self.offered() as usize);
                let take = (data.len() - skip).min(room);
                self.recv_buf.extend(&data[skip..skip + take]);
                self.rcv_nxt = self.rcv_nxt.wrapping_add(take as u32);
            }
        }
    }

    /// Takes the peer's FIN once everything before it has arrived.
    fn take_fin(&mut self, now: Time) {
        if self.eof || self.peer_fin != Some(self.rcv_nxt) {
            return;
        }
        self.eof = true;
        self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        match self.state {
            TcpState::SynReceived | TcpState::Established => self.state = TcpState::CloseWait,
            // An acknowledged FIN has already moved FIN_WAIT1 on to FIN_WAIT2.
            TcpState::FinWait1 => self.state = TcpState::Closing,
            TcpState::FinWait2 => self.enter_time_wait(now),
            _ => {}
        }
    }

    fn enter_time_wait(&mut self, now: Time) {
        self.state = TcpState::TimeWait;
        self.deadline = [None; 3];
        self.deadline[TimerKind::Linger as usize] = Some(now + TCP_TIMEWAIT_LEN);
    }

    // ----- segments out ---------------------------------------------------------------------

    fn data_end(&self) -> u32 {
        self.snd_una.wrapping_add(self.send_buf.len() as u32)
    }

    fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max == self.data_end().wrapping_add(1)
    }

    /// The window to offer now: free receive buffer, or nothing below one segment (receiver
    /// silly-window avoidance, RFC 9293 §3.8.6.2.2).
    fn window_now(&self) -> u32 {
        let free = TCP_RECEIVE_WINDOW_BYTES.saturating_sub(self.recv_buf.len() as u32);
        if free < MSS_BYTES { 0 } else { free }
    }

    /// After the application read: tell the peer when the window has at least doubled from
    /// what it may still send and that was at most half the buffer (net/ipv4/tcp.c
    /// `tcp_cleanup_rbuf`), which reopens a closed window.
    fn window_update(&mut self, now: Time, fx: &mut Effects) {
        if !matches!(self.state, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2) {
            return;
        }
        let remaining = self.offered();
        let new = self.window_now();
        if 2 * remaining <= TCP_RECEIVE_WINDOW_BYTES && new > 0 && new >= 2 * remaining {
            self.send_ack(now, fx);
        }
    }

    fn send_packet(&mut self, now: Time, seq: u32, flags: Flags, payload: Bytes, fx: &mut Effects) {
        // The right edge never moves left (RFC 9293 §3.8.6: a receiver SHOULD NOT shrink
        // the window; net/ipv4/tcp_output.c `tcp_select_window` keeps what it offered).
        let window = if flags.syn { TCP_RECEIVE_WINDOW_BYTES } else { self.window_now().max(self.offered()) };
        if flags.ack && !flags.rst {
            self.adv_edge = self.rcv_nxt.wrapping_add(window);
        }
        let segment = Segment {
            src_port: self.local.port(),
            dst_port: self.peer.port(),
            seq,
            ack: if flags.ack { self.rcv_nxt } else { 0 },
            flags,
            window,
            ts_val: ts_clock(now),
            ts_ecr: self.ts_recent,
            payload,
        };
        fx.packets.push(Packet { src: self.local.ip(), dst: self.peer.ip(), body: Body::Tcp(segment) });
    }

    fn send_syn(&mut self, now: Time, fx: &mut Effects) {
        let ack = self.state == TcpState::SynReceived;
        self.send_packet(now, self.iss, Flags { syn: true, ack, ..Flags::default() }, Bytes::new(), fx);
    }

    fn send_ack(&mut self, now: Time, fx: &mut Effects) {
        self.send_packet(now, self.snd_nxt, Flags { ack: true, ..Flags::default() }, Bytes::new(), fx);
    }

    fn send_reset(&mut self, now: Time, fx: &mut Effects) {
        self.send_packet(now, self.snd_nxt, Flags { rst: true, ack: true, ..Flags::default() }, Bytes::new(), fx);
    }

    fn payload(&self, seq: u32, len: u32) -> Bytes {
        let start = seq.wrapping_sub(self.snd_una) as usize;
        let (a, b) = self.send_buf.as_slices();
        let mut out = Vec::with_capacity(len as usize);
        let end = start + len as usize;
        if start < a.len() {
            out.extend_from_slice(&a[start..end.min(a.len())]);
        }
        if end > a.len() {
            out.extend_from_slice(&b[start.saturating_sub(a.len())..end - a.len()]);
        }
        Bytes::from(out)
    }

    /// Sends the first unacknowledged segment again (fast retransmit, partial ACK, RTO), never
    /// past what was sent before (a head sent short because the window was small stays that
    /// short, as the kernel resends the same skb); returns the sequence space it covers.
    fn retransmit_head(&mut self, now: Time, fx: &mut Effects) -> u32 {
        let fin_sent = self.fin_sent();
        let sent = self.snd_max.wrapping_sub(self.snd_una).saturating_sub(u32::from(fin_sent));
        let len = (self.send_buf.len() as u32).min(MSS_BYTES).min(sent);
        let fin = fin_sent && self.snd_una.wrapping_add(len) == self.data_end();
        if len == 0 && !fin {
            return 0;
        }
        let payload = self.payload(self.snd_una, len);
        self.send_packet(now, self.snd_una, Flags { ack: true, fin, ..Flags::default() }, payload, fx);
        len + u32::from(fin)
    }

    /// Sends what the congestion and peer windows allow, then sets the retransmission and
    /// persist timers.
    fn transmit(&mut self, now: Time, fx: &mut Effects) {
        if !matches!(
            self.state,
            TcpState::Established | TcpState::CloseWait | TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        ) {
            return;
        }
        let data_end = self.data_end();
        loop {
            let in_flight = self.snd_nxt.wrapping_sub(self.snd_una);
            let usable = (self.cwnd * MSS_BYTES).min(self.snd_wnd).saturating_sub(in_flight);
            if seq_lt(self.snd_nxt, data_end) {
                let len = MSS_BYTES.min(data_end.wrapping_sub(self.snd_nxt)).min(usable);
                if len == 0 {
                    break;
                }
                let end = self.snd_nxt.wrapping_add(len);
                let fin = self.fin_queued && end == data_end;
                let payload = self.payload(self.snd_nxt, len);
                self.send_packet(now, self.snd_nxt, Flags { ack: true, fin, ..Flags::default() }, payload, fx);
                if seq_lt(self.snd_max, end) {
                    self.sent_at.push_back((end, now));
                }
                self.snd_nxt = end.wrapping_add(u32::from(fin));
            } else if self.fin_queued && self.snd_nxt == data_end && in_flight < self.cwnd * MSS_BYTES {
                // A FIN needs no window (RFC 9293 §3.8.6.2.1 lets it through a closed one).
                self.send_packet(
                    now,
                    self.snd_nxt,
                    Flags { ack: true, fin: true, ..Flags::default() },
                    Bytes::new(),
                    fx,
                );
                if seq_lt(self.snd_max, data_end.wrapping_add(1)) {
                    self.sent_at.push_back((data_end.wrapping_add(1), now));
                }
                self.snd_nxt = data_end.wrapping_add(1);
            } else {
                break;
            }
            if seq_lt(self.snd_max, self.snd_nxt) {
                self.snd_max = self.snd_nxt;
            }
        }
        if self.fin_sent() {
            match self.state {
                TcpState::Established => self.state = TcpState::FinWait1,
                TcpState::CloseWait => self.state = TcpState::LastAck,
                _ => {}
            }
        }
        let retransmit = &mut self.deadline[TimerKind::Retransmit as usize];
        if self.snd_una == self.snd_max {
            *retransmit = None;
        } else if retransmit.is_none() {
            *retransmit = Some(now + self.rto);
        }
        // Data waits, nothing is in flight and the window is shut: probe it
        // (include/net/tcp.h `tcp_check_probe_timer`).
        let probe = self.snd_una == self.snd_max && seq_lt(self.snd_nxt, data_end) && self.snd_wnd == 0;
        let interval = self.probe_interval();
        let persist = &mut self.deadline[TimerKind::Persist as usize];
        if !probe {
            *persist = None;
        } else if persist.is_none() {
            *persist = Some(now + interval);
        }
    }

    /// `tcp_probe0_when`: max(RTO, `TCP_RTO_MIN`) doubled per backoff, at most `TCP_RTO_MAX`.
    fn probe_interval(&self) -> Duration {
        let base = self.rto.max(TCP_RTO_MIN);
        let shift = self.backoff.min(10);
        (base * (1u32 << shift)).min(TCP_RTO_MAX)
    }

    // ----- timers ---------------------------------------------------------------------------

    /// A timer fired (the network only calls this at the deadline it was given).
    pub(crate) fn on_timer(&mut self, kind: TimerKind, now: Time, fx: &mut Effects) -> Next {
        self.deadline[kind as usize] = None;
        match kind {
            TimerKind::Linger => Next::Remove,
            TimerKind::Persist => self.on_persist(now, fx),
            TimerKind::Retransmit => match self.state {
                TcpState::SynSent => {
                    if self.retransmits >= TCP_SYN_RETRIES {
                        return self.time_out(fx);
                    }
                    self.send_syn(now, fx);
                    self.retransmits += 1;
                    self.backoff += 1;
                    self.rto = (self.rto * 2).min(TCP_RTO_MAX);
                    self.deadline[kind as usize] = Some(now + self.rto);
                    Next::Keep
                }
                TcpState::SynReceived => {
                    if self.retransmits >= TCP_SYNACK_RETRIES {
                        return Next::Remove; // the request is dropped without a word
                    }
                    self.send_syn(now, fx);
                    self.retransmits += 1;
                    let interval = (TCP_TIMEOUT_INIT * (1u32 << self.retransmits)).min(TCP_RTO_MAX);
                    self.deadline[kind as usize] = Some(now + interval);
                    Next::Keep
                }
                TcpState::Closed | TcpState::TimeWait | TcpState::FinWait2 => Next::Keep,
                _ => self.on_retransmit(now, fx),
            },
        }
    }

    fn on_retransmit(&mut self, now: Time, fx: &mut Effects) -> Next {
        if self.snd_una == self.snd_max {
            return Next::Keep;
        }
        // net/ipv4/tcp_timer.c `tcp_write_timeout`: the limit is a time, counted from the first
        // send of the oldest segment retransmitted, checked when the timer fires.
        let boundary = if self.orphan { TCP_ORPHAN_RETRIES } else { TCP_RETRIES2 };
        if let Some(stamp) = self.retrans_stamp
            && now.saturating_since(stamp) >= tcp_model_timeout(boundary, TCP_RTO_MIN)
        {
            return self.time_out(fx);
        }
        if self.retransmits == 0 {
            self.retrans_stamp = Some(self.sent_at.front().map_or(now, |(_, at)| *at));
        }
        // RFC 5681 §3.1: after an RTO, one segment, slow start from there; every segment after
        // snd_una counts as lost and goes again (go-back-N, as Linux marks them without SACK).
        let flight = self.snd_max.wrapping_sub(self.snd_una).div_ceil(MSS_BYTES);
        self.ssthresh = (flight / 2).max(2);
        self.cwnd = 1;
        self.cwnd_cnt = 0;
        self.recover = None;
        self.dupacks = 0;
        self.snd_nxt = self.snd_una;
        self.retransmits += 1;
        self.backoff += 1;
        self.rto = (self.rto * 2).min(TCP_RTO_MAX);
        // The first unacknowledged segment goes whatever the peer's window: if the peer shrank
        // it to nothing, this is what probes it (net/ipv4/tcp_timer.c `tcp_retransmit_timer`;
        // `tcp_retransmit_skb` sends the head even past the window's edge).
        let covered = self.retransmit_head(now, fx);
        self.snd_nxt = self.snd_una.wrapping_add(covered);
        self.transmit(now, fx);
        Next::Keep
    }

    fn on_persist(&mut self, now: Time, fx: &mut Effects) -> Next {
        if self.snd_wnd > 0 {
            self.transmit(now, fx);
            return Next::Keep;
        }
        let limit = if self.orphan { TCP_ORPHAN_RETRIES } else { TCP_RETRIES2 };
        if self.probes_out >= limit {
            return self.time_out(fx);
        }
        // A zero-window probe: an old sequence number, which the peer must answer with an ACK
        // carrying its window (net/ipv4/tcp_output.c `tcp_write_wakeup`).
        self.send_packet(now, self.snd_una.wrapping_sub(1), Flags { ack: true, ..Flags::default() }, Bytes::new(), fx);
        self.backoff += 1;
        self.probes_out += 1;
        self.deadline[TimerKind::Persist as usize] = Some(now + self.probe_interval());
        Next::Keep
    }

    /// The connection is given up (ETIMEDOUT, no RST: net/ipv4/tcp_timer.c `tcp_write_err`).
    fn time_out(&mut self, fx: &mut Effects) -> Next {
        self.error = Some(io::ErrorKind::TimedOut);
        self.reset = true;
        self.state = TcpState::Closed;
        self.wake_all(fx);
        Next::Remove
    }
}
