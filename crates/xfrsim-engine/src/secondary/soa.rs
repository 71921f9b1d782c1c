//! Asking a master for its serial (over UDP then TCP, or TCP only, as the profile says) and
//! what the answer means for the round: newer (transfer), equal (in sync), older, or unusable.

use std::net::SocketAddr;

use xfrsim_zone::wire::{
    Message, OPCODE_QUERY, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_REFUSED, RCODE_SERVFAIL,
};
use xfrsim_zone::{SOA, Serial};

use super::{LastAnswer, SecondaryZone, SoaTimers, Step, StepEnd};
use crate::Time;
use crate::ctx::{Conn, Ctx};
use crate::event::{BadResponse, EventKind, Unreachable};
use crate::profile::EqualSerial;
use crate::timer::TimerName;

impl SecondaryZone {
    /// Asks `master` for the SOA over UDP, with EDNS (and its EXPIRE option) or without.
    pub(super) fn soa_over_udp(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, edns: bool) {
        let id = ctx.rng.next_id();
        let query = crate::wire::query_asking_expire(id, &self.core.origin, SOA, edns);
        ctx.send_query(self.transfer_source, master, id, query);
        self.enter_step(Step::SoaUdp { id, sends: 1, edns });
        self.core.timers.set(TimerName::SoaQuery, now + ctx.behaviour.timeouts.udp_query);
    }

    pub(super) fn soa_over_tcp(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr) {
        let conn = ctx.connect(self.transfer_source, master, Conn::Client { zone: self.core.origin.clone() });
        let id = ctx.rng.next_id();
        self.enter_step(Step::SoaTcp { conn, id });
        self.core.timers.set(TimerName::Connect, now + ctx.behaviour.timeouts.tcp_connect);
    }

    /// The SOA query to the current master was answered by ICMP port unreachable: nothing
    /// listens there. BIND's `refresh_callback` (lib/dns/zone.c) logs "failure trying primary
    /// ...: connection refused" and moves to the next primary without trying TCP. True if it
    /// was ours.
    pub(crate) fn on_udp_unreachable(&mut self, ctx: &mut Ctx, now: Time, to: SocketAddr, id: u16) -> bool {
        let ours = self.current_master() == Some(to)
            && matches!(self.round.as_ref().map(|r| &r.step), Some(Step::SoaUdp { id: sent, .. }) if *sent == id);
        if !ours {
            return false;
        }
        let origin = self.core.origin.clone();
        ctx.emit(
            now,
            Some(&origin),
            EventKind::XfrMasterUnavailable { master: to, reason: Unreachable::ConnectionRefused },
        );
        self.master_failed(ctx, now);
        true
    }

    /// A UDP response: ours if it answers the SOA query in flight (same master, id, question).
    pub(crate) fn on_udp_response(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, message: &Message) -> bool {
        let Some(Step::SoaUdp { id, .. }) = self.round.as_ref().map(|r| &r.step) else { return false };
        if self.current_master() != Some(from) || message.id != *id || !self.echoes_soa_question(message) {
            return false;
        }
        if message.is_truncated() {
            // RFC 1035 §4.2.1: a truncated answer is retried over TCP.
            self.soa_over_tcp(ctx, now, from);
            return true;
        }
        self.on_soa_answer(ctx, now, from, message);
        true
    }

    pub(super) fn echoes_soa_question(&self, message: &Message) -> bool {
        message.opcode() == OPCODE_QUERY
            && matches!(message.questions.as_slice(), [q] if q.name == self.core.apex && q.qtype == SOA)
    }

    /// Decides on an SOA answer from `master` (BIND zone.c `refresh_callback`; Knot refresh.c
    /// `soa_query_consume`).
    pub(super) fn on_soa_answer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, message: &Message) {
        let origin = self.core.origin.clone();
        let rcode = message.rcode();
        let with_edns = matches!(self.round_mut().step, Step::SoaUdp { edns: true, .. });
        let edns_suspect = rcode == u16::from(RCODE_SERVFAIL)
            || rcode == u16::from(RCODE_NOTIMP)
            || (rcode == u16::from(RCODE_FORMERR) && message.edns_payload.is_none());
        if with_edns && edns_suspect && self.core.behaviour.soa_retry_without_edns {
            // BIND zone.c `refresh_callback`: "refresh: rcode (...) retrying without EDNS".
            return self.soa_over_udp(ctx, now, master, false);
        }
        if rcode == u16::from(RCODE_REFUSED) && self.core.behaviour.refused_soa_tries_transfer {
            // BIND: "perhaps AXFR/IXFR is allowed even if SOA queries aren't" — try a transfer.
            self.start_transfer(ctx, now, master);
            return;
        }
        let bad = if rcode != u16::from(RCODE_NOERROR) {
            Some(BadResponse::Rcode(rcode))
        } else if !message.is_authoritative() {
            Some(BadResponse::NotAuthoritative)
        } else {
            None
        };
        let soas: Vec<Serial> = message
            .answers
            .iter()
            .filter(|r| r.rtype == SOA && message.owner_is(r, &self.core.apex))
            .filter_map(|r| message.soa_serial(r).map(Serial))
            .collect();
        let theirs = match (bad, soas.as_slice()) {
            (Some(reason), _) => {
                ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason });
                return self.master_failed(ctx, now);
            }
            (None, [serial]) => *serial,
            (None, _) => {
                ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason: BadResponse::NoSoaAnswer });
                return self.master_failed(ctx, now);
            }
        };
        match self.core.serial() {
            // No copy (never loaded, or expired): any serial is taken (RFC 1034 §4.3.5; after
            // expiry even a lower one, as BIND, Knot and NSD `zone_expire_serial` do).
            None => {
                ctx.emit(now, Some(&origin), EventKind::ZoneTransferInProgress { serial: theirs, master });
                self.start_transfer(ctx, now, master);
            }
            Some(ours) if self.core.behaviour.is_newer(theirs, ours) => {
                ctx.emit(now, Some(&origin), EventKind::ZoneTransferInProgress { serial: theirs, master });
                self.start_transfer(ctx, now, master);
            }
            Some(ours) if theirs == ours => {
                ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial: ours, master });
                self.master_equal(ctx, now, master, message.edns_expire);
            }
            Some(ours) => {
                if !self.core.behaviour.multi_master {
                    ctx.emit(now, Some(&origin), EventKind::ZoneNewerThanServerVersion { ours, theirs, master });
                }
                self.master_older(ctx, now);
            }
        }
    }

    /// The master holds our serial: REFRESH restarts and expire moves forward now (BIND
    /// `refresh_callback`: `DNS_REMOTE_MARKOK`, refreshtime and expiretime set at once).
    pub(super) fn master_equal(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, edns_expire: Option<u32>) {
        // The planted bug `keep-expire-on-equal-serial` skips this.
        if self.core.behaviour.canary != Some(crate::Canary::KeepExpireOnEqualSerial) {
            self.extend_expire(now, edns_expire, true);
        }
        let equal_serial = self.core.behaviour.equal_serial;
        let round = self.round_mut();
        round.in_sync_at = Some(now);
        round.last = LastAnswer::Equal;
        let from_notifier = round.notifier == Some(master);
        match equal_serial {
            EqualSerial::EndsRound => self.finish_step(ctx, now, StepEnd::Success),
            EqualSerial::NextMasterUnlessNotifier if from_notifier => self.finish_step(ctx, now, StepEnd::Success),
            EqualSerial::NextMaster | EqualSerial::NextMasterUnlessNotifier => {
                self.finish_step(ctx, now, StepEnd::NextMaster)
            }
        }
    }

    /// The master is behind us: no transfer, on to the next (BIND "< ours"; Knot "remote is
    /// outdated", which ends the round when the notifier says it; NSD "ignoring old serial").
    pub(super) fn master_older(&mut self, ctx: &mut Ctx, now: Time) {
        let equal_serial = self.core.behaviour.equal_serial;
        let round = self.round_mut();
        round.last = LastAnswer::Older;
        let master = round.order.get(round.index).copied();
        let from_notifier = round.notifier.is_some() && round.notifier == master;
        match equal_serial {
            // Knot: "NOTIFYing master is outdated" ends the round, unsuccessfully.
            EqualSerial::NextMasterUnlessNotifier if from_notifier => {
                self.leave_step(ctx);
                self.end_round(ctx, now, false);
            }
            _ => self.finish_step(ctx, now, StepEnd::NextMaster),
        }
    }

    /// Pushes expire forward to now + EXPIRE, or to now + the master's EDNS EXPIRE when that
    /// is smaller (RFC 7314 §4). After an "equal" answer only if later than the current expire
    /// time (BIND `refresh_callback`; Knot takes the larger of the option and the time left);
    /// after a transfer too where the profile says so, unless the SOA's EXPIRE changed (BIND
    /// `dns__zone_xfrdone`: `oldexpire != zone->expire` or later).
    pub(super) fn extend_expire(&mut self, now: Time, edns_expire: Option<u32>, in_sync: bool) {
        let transfer_only_later = self.core.behaviour.transfer_expire_only_later;
        let timers = self.core.data.as_ref().map(|h| SoaTimers::of(h.zone(), &self.core.behaviour));
        let old_expire = self.soa_timers.map(|t| t.expire);
        if let Some(t) = timers {
            self.soa_timers = Some(t);
        }
        let Some(t) = self.soa_timers else { return };
        let only_later = in_sync || (transfer_only_later && old_expire == Some(t.expire));
        let at = now + self.core.behaviour.expire_after_answer(t.expire, edns_expire);
        if !only_later || self.expire_at().is_none_or(|current| at > current) {
            self.core.timers.set(TimerName::Expire, at);
        }
    }
}
