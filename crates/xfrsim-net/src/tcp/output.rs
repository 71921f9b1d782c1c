//! Segments out and timers: what the windows let through, retransmission, zero-window probes,
//! and what each timer does when it fires.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use xfrsim_engine::Time;

use super::{Effects, Next, Tcb, TcpState, TimerKind, ts_clock};
use crate::linux::{
    MSS_BYTES, TCP_ORPHAN_RETRIES, TCP_RECEIVE_WINDOW_BYTES, TCP_RETRIES2, TCP_RTO_MAX, TCP_RTO_MIN, TCP_SYN_RETRIES,
    TCP_SYNACK_RETRIES, TCP_TIMEOUT_INIT, tcp_model_timeout,
};
use crate::packet::{Body, Flags, Packet, Segment, seq_lt};

impl Tcb {
    pub(super) fn data_end(&self) -> u32 {
        self.snd_una.wrapping_add(self.send_buf.len() as u32)
    }

    pub(super) fn fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max == self.data_end().wrapping_add(1)
    }

    /// The window to offer now: free receive buffer, or nothing below one segment (receiver
    /// silly-window avoidance, RFC 9293 §3.8.6.2.2).
    pub(super) fn window_now(&self) -> u32 {
        let free = TCP_RECEIVE_WINDOW_BYTES.saturating_sub(self.recv_buf.len() as u32);
        if free < MSS_BYTES { 0 } else { free }
    }

    /// After the application read: tell the peer when the window has at least doubled from
    /// what it may still send and that was at most half the buffer (net/ipv4/tcp.c
    /// `tcp_cleanup_rbuf`), which reopens a closed window.
    pub(super) fn window_update(&mut self, now: Time, fx: &mut Effects) {
        if !matches!(self.state, TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2) {
            return;
        }
        let remaining = self.offered();
        let new = self.window_now();
        if 2 * remaining <= TCP_RECEIVE_WINDOW_BYTES && new > 0 && new >= 2 * remaining {
            self.send_ack(now, fx);
        }
    }

    pub(super) fn send_packet(&mut self, now: Time, seq: u32, flags: Flags, payload: Bytes, fx: &mut Effects) {
        // The right edge never moves left (RFC 9293 §3.8.6: a receiver SHOULD NOT shrink the
        // window; net/ipv4/tcp_output.c `tcp_select_window` keeps what it offered): data the
        // peer was allowed to send must not be dropped.
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

    pub(super) fn send_syn(&mut self, now: Time, fx: &mut Effects) {
        let ack = self.state == TcpState::SynReceived;
        self.send_packet(now, self.iss, Flags { syn: true, ack, ..Flags::default() }, Bytes::new(), fx);
    }

    /// A pure ACK (and below, a RST) carries the highest sequence number sent: Linux's
    /// `snd_nxt` never moves back, ours does after an RTO (go-back-N), and a segment numbered
    /// below the peer's `rcv_nxt` would be dropped there.
    pub(super) fn send_ack(&mut self, now: Time, fx: &mut Effects) {
        self.send_packet(now, self.snd_max, Flags { ack: true, ..Flags::default() }, Bytes::new(), fx);
    }

    pub(super) fn send_reset(&mut self, now: Time, fx: &mut Effects) {
        self.send_packet(now, self.snd_max, Flags { rst: true, ack: true, ..Flags::default() }, Bytes::new(), fx);
    }

    pub(super) fn payload(&self, seq: u32, len: u32) -> Bytes {
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
    pub(super) fn retransmit_head(&mut self, now: Time, fx: &mut Effects) -> u32 {
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
    pub(super) fn transmit(&mut self, now: Time, fx: &mut Effects) {
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
            } else if self.fin_queued
                && self.snd_nxt == data_end
                && in_flight < self.cwnd * MSS_BYTES
                && (self.snd_wnd > 0 || seq_lt(data_end, self.snd_max))
            {
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
        // A FIN counts as data here: Linux sends it only within the window (`tcp_snd_wnd_test`).
        let unsent = seq_lt(self.snd_nxt, data_end) || (self.fin_queued && !self.fin_sent());
        let probe = self.snd_una == self.snd_max && unsent && self.snd_wnd == 0;
        let interval = self.probe_interval();
        let persist = &mut self.deadline[TimerKind::Persist as usize];
        if !probe {
            *persist = None;
        } else if persist.is_none() {
            *persist = Some(now + interval);
        }
    }

    /// `tcp_probe0_when`: max(RTO, `TCP_RTO_MIN`) doubled per backoff, at most `TCP_RTO_MAX`.
    pub(super) fn probe_interval(&self) -> Duration {
        let base = self.rto.max(TCP_RTO_MIN);
        let shift = self.backoff.min(10);
        (base * (1u32 << shift)).min(TCP_RTO_MAX)
    }

    // ----- timers ---------------------------------------------------------------------------

    /// A timer fired (the network only calls this at the deadline it was given).
    pub(crate) fn on_timer(&mut self, kind: TimerKind, now: Time, fx: &mut Effects) -> Next {
        self.deadline[kind as usize] = None;
        match kind {
            TimerKind::Linger => {
                self.state = TcpState::Closed;
                Next::Remove
            }
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

    pub(super) fn on_retransmit(&mut self, now: Time, fx: &mut Effects) -> Next {
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

    pub(super) fn on_persist(&mut self, now: Time, fx: &mut Effects) -> Next {
        if self.snd_wnd > 0 {
            self.transmit(now, fx);
            return Next::Keep;
        }
        let limit = if self.orphan { TCP_ORPHAN_RETRIES } else { TCP_RETRIES2 };
        // A closed socket whose probes have backed off to the maximum gives up even though the
        // peer answers (net/ipv4/tcp_timer.c `tcp_probe_timer`, SOCK_DEAD branch).
        let dead_and_stuck = self.orphan && self.probe_interval() >= TCP_RTO_MAX && self.backoff >= TCP_ORPHAN_RETRIES;
        if self.probes_out >= limit || dead_and_stuck {
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
    pub(super) fn time_out(&mut self, fx: &mut Effects) -> Next {
        self.error = Some(io::ErrorKind::TimedOut);
        self.reset = true;
        self.state = TcpState::Closed;
        self.wake_all(fx);
        Next::Remove
    }
}
