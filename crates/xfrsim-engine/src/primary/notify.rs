//! Sending NOTIFY (RFC 1996): after each new version, to every target, as the profile says
//! (`NotifyTransport`): over UDP, resent until answered or the sends run out, then (BIND) once
//! more over TCP; or over TCP, tried again every RETRY until answered (Knot). A profile's
//! `notify_delay` holds a new version's NOTIFY back while the previous one is recent, so a
//! burst of updates announces itself once (BIND ARM `notify-delay`; zone.c `zone_notify`).

use std::net::SocketAddr;

use xfrsim_zone::wire::Message;

use crate::Time;
use crate::ctx::{Conn, ConnId, Ctx};
use crate::event::EventKind;
use crate::profile::NotifyTransport;
use crate::timer::TimerName;
use crate::wire;
use crate::zone_core::{PendingNotify, ZoneCore};

impl ZoneCore {
    /// Keeps the `NotifyRetransmit` timer at the earliest target's next try; called after
    /// every change to `notifies`.
    fn rearm_notify_retransmit(&mut self) {
        let earliest = self.notifies.values().map(|n| n.next_at).min();
        self.timers.set_or_stop(TimerName::NotifyRetransmit, earliest);
    }

    /// A new version exists: notify now, or when `notify_delay` since the last NOTIFY is over.
    pub(crate) fn notify_all(&mut self, ctx: &mut Ctx, now: Time) {
        let delay = self.behaviour.notify_delay;
        if let Some(until) = self.last_notify_at.map(|at| at + delay).filter(|until| now < *until) {
            // Held: one NOTIFY for the newest version when the delay is over.
            self.timers.set(TimerName::NotifyDelay, until);
            return;
        }
        self.send_notifies(ctx, now);
    }

    /// Notifies every target of the current version. A NOTIFY still outstanding for an older
    /// version is superseded (RFC 1996 §4.6: only the latest matters).
    fn send_notifies(&mut self, ctx: &mut Ctx, now: Time) {
        self.timers.stop(TimerName::NotifyDelay);
        let Some(history) = self.data.as_ref() else { return };
        let soa = history.zone().soa_record().clone();
        let serial = history.zone().serial();
        self.last_notify_at = Some(now);
        for target in self.notify_targets.clone() {
            if ctx.is_own_address(target) {
                continue;
            }
            if let Some(PendingNotify { tcp: Some(conn), .. }) = self.notifies.remove(&target) {
                ctx.close(conn);
            }
            let id = ctx.rng.next_id();
            ctx.emit(now, Some(&self.origin), EventKind::NotifySent { target, serial });
            let pending = match self.behaviour.notify_transport {
                NotifyTransport::Udp { interval, .. } => {
                    ctx.send_udp(self.notify_source, target, wire::notify(id, &self.origin, &soa));
                    PendingNotify { id, serial, sends: 1, tcp: None, next_at: now + interval }
                }
                NotifyTransport::TcpRetryEveryRetry => {
                    let (conn, next_at) = self.notify_connect(ctx, now, target);
                    PendingNotify { id, serial, sends: 1, tcp: Some(conn), next_at }
                }
            };
            self.notifies.insert(target, pending);
        }
        self.rearm_notify_retransmit();
    }

    /// Opens a TCP connection for a NOTIFY; returns it and the deadline of the try.
    fn notify_connect(&self, ctx: &mut Ctx, now: Time, target: SocketAddr) -> (ConnId, Time) {
        let deadline = now + self.behaviour.notify_tcp_timeout;
        let conn = ctx.connect(self.notify_source, target, Conn::Notify { zone: self.origin.clone() });
        (conn, deadline)
    }

    /// Runs NOTIFY out's timers due at `now`: the held NOTIFY, then the targets' retries.
    pub(crate) fn notify_timeouts(&mut self, ctx: &mut Ctx, now: Time) {
        if self.fire(TimerName::NotifyDelay, now, &ctx.name) {
            self.send_notifies(ctx, now);
        }
        if !self.fire(TimerName::NotifyRetransmit, now, &ctx.name) {
            return;
        }
        let due: Vec<SocketAddr> = self.notifies.iter().filter(|(_, n)| n.next_at <= now).map(|(t, _)| *t).collect();
        let soa = self.data.as_ref().map(|h| h.zone().soa_record().clone());
        for target in due {
            let pending = self.notifies.get_mut(&target).expect("listed just above");
            let current = soa.as_ref().filter(|s| s.soa_serial() == Some(pending.serial));
            let (udp_tcp_free, transport) = (pending.tcp.is_none(), self.behaviour.notify_transport);
            match (current, transport) {
                (Some(soa), NotifyTransport::Udp { sends, interval, .. }) if udp_tcp_free && pending.sends < sends => {
                    pending.sends += 1;
                    pending.next_at = now + interval;
                    ctx.send_udp(self.notify_source, target, wire::notify(pending.id, &self.origin, soa));
                }
                (Some(_), NotifyTransport::Udp { tcp_fallback: true, .. }) if udp_tcp_free => {
                    // BIND notify.c: "retrying over TCP", one try within the TCP timeout.
                    let (conn, next_at) = self.notify_connect(ctx, now, target);
                    let pending = self.notifies.get_mut(&target).expect("listed just above");
                    (pending.tcp, pending.next_at) = (Some(conn), next_at);
                }
                (Some(_), NotifyTransport::TcpRetryEveryRetry) if udp_tcp_free => {
                    let (conn, next_at) = self.notify_connect(ctx, now, target);
                    let pending = self.notifies.get_mut(&target).expect("listed just above");
                    (pending.tcp, pending.next_at) = (Some(conn), next_at);
                    pending.sends += 1;
                }
                (Some(_), _) => self.notify_failed(ctx, now, target),
                // The version changed (or the zone expired) since: nothing left to announce.
                (None, _) => {
                    if let Some(PendingNotify { tcp: Some(conn), .. }) = self.notifies.remove(&target) {
                        ctx.close(conn);
                    }
                }
            }
        }
        self.rearm_notify_retransmit();
    }

    /// A try went unanswered. Over UDP the NOTIFY is given up; Knot tries again after the
    /// zone's RETRY (clamped as for refresh), with no limit.
    fn notify_failed(&mut self, ctx: &mut Ctx, now: Time, target: SocketAddr) {
        ctx.emit(now, Some(&self.origin), EventKind::NotifyUnanswered { target });
        let retry = match (self.behaviour.notify_transport, self.data.as_ref()) {
            (NotifyTransport::TcpRetryEveryRetry, Some(history)) => {
                let soa = history.zone().soa();
                Some(self.behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire).1)
            }
            _ => None,
        };
        match (retry, self.notifies.get_mut(&target)) {
            (Some(retry), Some(pending)) => {
                if let Some(conn) = pending.tcp.take() {
                    ctx.close(conn);
                }
                pending.next_at = now + retry;
            }
            _ => {
                if let Some(PendingNotify { tcp: Some(conn), .. }) = self.notifies.remove(&target) {
                    ctx.close(conn);
                }
            }
        }
    }

    /// The NOTIFY's TCP connection is up: send it.
    pub(crate) fn on_notify_connected(&mut self, ctx: &mut Ctx, conn: ConnId) {
        let Some(pending) = self.notifies.values().find(|p| p.tcp == Some(conn)) else { return };
        let Some(soa) = self.data.as_ref().map(|h| h.zone().soa_record().clone()) else { return };
        ctx.send_tcp(conn, wire::notify(pending.id, &self.origin, &soa));
    }

    /// The NOTIFY's TCP try failed (refused, closed before an answer).
    pub(crate) fn on_notify_conn_lost(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        ctx.conns.remove(&conn);
        if let Some(target) = self.notifies.iter().find(|(_, p)| p.tcp == Some(conn)).map(|(t, _)| *t) {
            // Already forgotten by the context: not closed again.
            self.notifies.get_mut(&target).expect("found above").tcp = None;
            self.notify_failed(ctx, now, target);
            self.rearm_notify_retransmit();
        }
    }

    /// An answer on the NOTIFY's TCP connection.
    pub(crate) fn on_notify_tcp_message(&mut self, ctx: &mut Ctx, conn: ConnId, payload: &[u8]) {
        let Some(target) = self.notifies.iter().find(|(_, p)| p.tcp == Some(conn)).map(|(t, _)| *t) else {
            return;
        };
        if Message::parse(payload).is_ok_and(|m| m.is_response() && m.id == self.notifies[&target].id) {
            self.notifies.remove(&target);
            ctx.close(conn);
            self.rearm_notify_retransmit();
        }
    }

    /// Any answer with the right id from the target's address ends the transaction (RFC 1996
    /// §3.6 matches id and source; §3.12: even NOTIMP completes it).
    pub(crate) fn on_notify_response(&mut self, ctx: &mut Ctx, from: SocketAddr, message: &Message) -> bool {
        let matched = self
            .notifies
            .iter()
            .find(|(target, pending)| target.ip() == from.ip() && pending.id == message.id)
            .map(|(target, _)| *target);
        match matched {
            Some(target) => {
                if let Some(PendingNotify { tcp: Some(conn), .. }) = self.notifies.remove(&target) {
                    ctx.close(conn);
                }
                self.rearm_notify_retransmit();
                true
            }
            None => false,
        }
    }
}
