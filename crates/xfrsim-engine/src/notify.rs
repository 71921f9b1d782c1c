//! Sending NOTIFY (RFC 1996): after each new version, to every target, over UDP, resent until
//! answered or the retransmissions run out (§3.6: 60 s interval, 5 retransmissions by default).

use std::net::SocketAddr;

use xfrsim_zone::Serial;
use xfrsim_zone::wire::Message;

use crate::Time;
use crate::event::EventKind;
use crate::node::{Ctx, HeldZone};
use crate::wire;

pub(crate) struct PendingNotify {
    id: u16,
    serial: Serial,
    /// Datagrams sent so far, the first included.
    sends: u32,
    pub next_at: Time,
}

impl HeldZone {
    /// Notifies every target of the current version. A NOTIFY still outstanding for an older
    /// version is superseded (RFC 1996 §4.6: only the latest matters).
    pub(crate) fn notify_all(&mut self, ctx: &mut Ctx, now: Time) {
        let Some(history) = self.data.as_ref() else { return };
        let soa = history.zone().soa_record().clone();
        let serial = history.zone().serial();
        for target in self.notify_targets.clone() {
            if ctx.is_own_address(target) {
                continue;
            }
            let id = ctx.rng.next_id();
            ctx.send_udp(self.notify_source, target, wire::notify(id, &self.origin, &soa));
            let next_at = now + ctx.timeouts.notify_interval;
            self.notifies.insert(target, PendingNotify { id, serial, sends: 1, next_at });
        }
    }

    pub(crate) fn notify_timeouts(&mut self, ctx: &mut Ctx, now: Time) {
        let due: Vec<SocketAddr> = self.notifies.iter().filter(|(_, n)| n.next_at <= now).map(|(t, _)| *t).collect();
        let soa = self.data.as_ref().map(|h| h.zone().soa_record().clone());
        for target in due {
            let pending = self.notifies.get_mut(&target).expect("listed just above");
            let current = soa.as_ref().filter(|s| s.soa_serial() == Some(pending.serial));
            match current {
                Some(soa) if pending.sends <= ctx.timeouts.notify_retransmits => {
                    pending.sends += 1;
                    pending.next_at = now + ctx.timeouts.notify_interval;
                    ctx.send_udp(self.notify_source, target, wire::notify(pending.id, &self.origin, soa));
                }
                Some(_) => {
                    self.notifies.remove(&target);
                    ctx.emit(now, Some(&self.origin), EventKind::NotifyUnanswered { target });
                }
                // The version changed (or the zone expired) since: nothing left to announce.
                None => {
                    self.notifies.remove(&target);
                }
            }
        }
    }

    /// Any answer with the right id from the target's address ends the transaction (RFC 1996
    /// §3.6 matches id and source; §3.12: even NOTIMP completes it).
    pub(crate) fn on_notify_response(&mut self, from: SocketAddr, message: &Message) -> bool {
        let matched = self
            .notifies
            .iter()
            .find(|(target, pending)| target.ip() == from.ip() && pending.id == message.id)
            .map(|(target, _)| *target);
        match matched {
            Some(target) => {
                self.notifies.remove(&target);
                true
            }
            None => false,
        }
    }
}
