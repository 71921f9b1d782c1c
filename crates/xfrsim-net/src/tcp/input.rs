//! Segments in: RFC 9293 §3.10.7's processing of an arriving segment, the ACK with congestion
//! control and RTT, data into the receive buffer, and the peer's FIN.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use xfrsim_engine::Time;

use super::{Effects, Next, Tcb, TcpState, TimerKind, ts_clock};
use crate::linux::{
    MAX_CWND_SEGMENTS, MSS_BYTES, TCP_FASTRETRANS_THRESH, TCP_FIN_TIMEOUT, TCP_INVALID_RATELIMIT,
    TCP_RECEIVE_WINDOW_BYTES, TCP_RTO_MAX, TCP_TIMEOUT_INIT, TCP_TIMEWAIT_LEN,
};
use crate::packet::{Flags, Segment, seq_le, seq_lt};

impl Tcb {
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
            // timer restarts (net/ipv4/tcp_minisocks.c `tcp_check_req`), at most once per
            // `tcp_invalid_ratelimit` (`tcp_oow_rate_limited`). The SYN lies left of the
            // window, so the acceptance test below would only ACK it.
            if self.synack_resent_at.is_some_and(|at| now.saturating_since(at) < TCP_INVALID_RATELIMIT) {
                return Next::Keep;
            }
            self.synack_resent_at = Some(now);
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
            // RFC 5961 §3.2 (net/ipv4/tcp_input.c `tcp_validate_incoming`): a RST resets only
            // at exactly the next expected sequence number; elsewhere in the window it draws a
            // challenge ACK, which a peer that really lost the connection answers with a RST
            // that fits. A handshake in progress takes any RST in its window (`tcp_check_req`).
            if self.state != TcpState::SynReceived && seg.seq != self.rcv_nxt {
                self.send_ack(now, fx);
                return Next::Keep;
            }
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
        if self.state != TcpState::SynReceived && seq_lt(self.snd_max, seg.ack) {
            // It acknowledges what was never sent: answered with an ACK and otherwise dropped,
            // data and FIN too (RFC 9293 §3.10.7.4; Linux `tcp_ack`, TCP_ACK_UNSENT_DATA).
            self.send_ack(now, fx);
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
            self.after_handshake();
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

    pub(super) fn input_syn_sent(&mut self, seg: &Segment, now: Time, fx: &mut Effects) -> Next {
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
        // Nothing offered yet: the window starts with what the first ACK says.
        self.adv_edge = self.rcv_nxt;
        self.snd_una = seg.ack;
        self.snd_wnd = seg.window;
        (self.snd_wl1, self.snd_wl2) = (seg.seq, seg.ack);
        self.ts_recent = seg.ts_val;
        self.rtt_sample(seg, now);
        self.after_handshake();
        self.state = TcpState::Established;
        self.send_ack(now, fx);
        if let Some(waker) = self.write_waker.take() {
            fx.wakers.push(waker);
        }
        Next::Keep
    }

    /// The handshake is over: its retransmission timer stops, and a handshake that needed more
    /// than one retransmission starts data with a window of one segment
    /// (net/ipv4/tcp_input.c `tcp_init_transfer`; RFC 6298 §5.7's caution).
    pub(super) fn after_handshake(&mut self) {
        if self.retransmits > 1 {
            self.cwnd = 1;
        }
        self.retransmits = 0;
        self.deadline[TimerKind::Retransmit as usize] = None;
    }

    /// RFC 9293 §3.10.7.4's acceptance test against the receive window.
    pub(super) fn acceptable(&self, seg: &Segment) -> bool {
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
    pub(super) fn offered(&self) -> u32 {
        if seq_le(self.rcv_nxt, self.adv_edge) { self.adv_edge.wrapping_sub(self.rcv_nxt) } else { 0 }
    }

    pub(super) fn note_timestamp(&mut self, seg: &Segment) {
        if seq_le(self.ts_recent, seg.ts_val) {
            self.ts_recent = seg.ts_val;
        }
    }

    pub(super) fn rtt_sample(&mut self, seg: &Segment, now: Time) {
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

    pub(super) fn reset_by_peer(&mut self, fx: &mut Effects) -> Next {
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

    pub(super) fn wake_all(&mut self, fx: &mut Effects) {
        fx.wakers.extend(self.read_waker.take());
        fx.wakers.extend(self.write_waker.take());
    }

    /// The ACK field of a segment (RFC 9293 §3.10.7.4, fifth check), congestion control
    /// (RFC 5681, RFC 6582) and the RTO (RFC 6298 §5).
    pub(super) fn process_ack(&mut self, seg: &Segment, now: Time, fx: &mut Effects) -> Next {
        let ack = seg.ack;
        if seq_lt(ack, self.snd_una) {
            return Next::Keep; // an old duplicate
        }
        let old_wnd = self.snd_wnd;
        // RFC 9293 §3.10.7.4: the window comes from the newest segment only (Linux
        // `tcp_may_update_window`), so an older ACK that took longer cannot shrink it.
        if seq_lt(self.snd_wl1, seg.seq) || (self.snd_wl1 == seg.seq && seq_le(self.snd_wl2, ack)) {
            self.snd_wnd = seg.window;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
        }
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
                // The resent head restarts the retransmission timer, as any retransmission
                // does (net/ipv4/tcp_output.c `tcp_xmit_retransmit_queue`).
                self.deadline[TimerKind::Retransmit as usize] = Some(now + self.rto);
            }
        }
        if old_wnd == 0 && self.snd_wnd > 0 {
            self.deadline[TimerKind::Persist as usize] = None;
            self.backoff = 0;
        }
        Next::Keep
    }

    /// Congestion window after an ACK of `acked` new data bytes.
    pub(super) fn grow_cwnd(&mut self, acked: u32, now: Time, fx: &mut Effects) {
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

    pub(super) fn receive_data(&mut self, seg: &Segment) {
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
    pub(super) fn take_fin(&mut self, now: Time) {
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

    pub(super) fn enter_time_wait(&mut self, now: Time) {
        self.state = TcpState::TimeWait;
        self.deadline = [None; 3];
        self.deadline[TimerKind::Linger as usize] = Some(now + TCP_TIMEWAIT_LEN);
    }
}
