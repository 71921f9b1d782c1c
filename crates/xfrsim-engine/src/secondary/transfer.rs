//! One incoming transfer of a refresh round: quota slots, the request, the stream's deadlines,
//! installing the result, and what a failure leads to.

use std::net::SocketAddr;
use std::sync::Arc;

use xfrsim_zone::wire::{Message, TYPE_AXFR, TYPE_IXFR};
use xfrsim_zone::{Serial, ZoneHistory};

use super::{LastAnswer, SecondaryZone, Step, StepEnd};
use crate::Time;
use crate::ctx::{Conn, ConnId, Ctx};
use crate::event::{BadResponse, EventKind};
use crate::timer::TimerName;
use crate::wire::{self, TransferOutcome, TransferReceiver};

pub(super) struct Transfer {
    pub conn: ConnId,
    id: u16,
    qtype: u16,
    /// When the transfer started (its connect included), for `max-transfer-time-in`.
    started: Time,
    receiver: Box<TransferReceiver>,
    /// EDNS EXPIRE from the master's first message (RFC 7314 §4).
    edns_expire: Option<u32>,
    /// Records and message bytes received so far, for `max_records_in` and `max_bytes_in`.
    records: u64,
    bytes: u64,
}

impl SecondaryZone {
    /// IXFR when we hold a copy and the profile asks for it, AXFR otherwise (BIND xfrin: no
    /// database, or `request-ixfr no` → AXFR).
    pub(super) fn start_transfer(&mut self, ctx: &mut Ctx, now: crate::Time, master: SocketAddr) {
        let has_soa = self.core.data.is_some() || self.stale.is_some();
        let qtype = if has_soa && self.core.behaviour.request_ixfr { TYPE_IXFR } else { TYPE_AXFR };
        self.open_transfer(ctx, now, master, qtype);
    }

    /// Takes a quota slot and connects; without a slot the transfer waits (BIND zone.c
    /// `queue_xfrin`: "zone transfer deferred due to quota").
    fn open_transfer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16) {
        self.leave_step(ctx);
        if let Err(quota) = ctx.take_transfer_slot(master.ip()) {
            let origin = self.core.origin.clone();
            ctx.emit(now, Some(&origin), EventKind::TransferDeferred { master, quota });
            ctx.deferred.push_back(origin);
            self.enter_step(Step::Deferred { qtype });
            return;
        }
        self.connect_transfer(ctx, now, master, qtype);
    }

    fn connect_transfer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16) {
        let conn = ctx.connect(self.transfer_source, master, Conn::Client { zone: self.core.origin.clone() });
        let id = ctx.rng.next_id();
        let our_serial = if qtype == TYPE_IXFR { self.request_soa().and_then(|soa| soa.soa_serial()) } else { None };
        let receiver = receiver(&self.core.origin, id, qtype, our_serial);
        let transfer = Transfer { conn, id, qtype, started: now, receiver, edns_expire: None, records: 0, bytes: 0 };
        self.enter_step(Step::Transfer(Box::new(transfer)));
        self.core.timers.set(TimerName::Connect, now + ctx.behaviour.timeouts.tcp_connect);
    }

    /// A quota slot may be free: start the deferred transfer, or wait again (quietly).
    pub(crate) fn resume_transfer(&mut self, ctx: &mut Ctx, now: Time) {
        let Some(Step::Deferred { qtype }) = self.round.as_ref().map(|r| &r.step) else { return };
        let qtype = *qtype;
        let master = self.current_master().expect("a deferred transfer has a master");
        if ctx.take_transfer_slot(master.ip()).is_err() {
            ctx.deferred.push_back(self.core.origin.clone());
            return;
        }
        self.connect_transfer(ctx, now, master, qtype);
    }

    /// Leaves the current step: its timers stopped, its connection closed, its quota slot
    /// given back.
    pub(super) fn leave_step(&mut self, ctx: &mut Ctx) {
        for timer in TimerName::STEP {
            self.core.timers.stop(timer);
        }
        let Some(round) = self.round.as_mut() else { return };
        let master = round.order.get(round.index).copied();
        match std::mem::replace(&mut round.step, Step::Idle) {
            Step::SoaTcp { conn, .. } => ctx.close(conn),
            Step::Transfer(t) => {
                ctx.close(t.conn);
                ctx.release_transfer_slot(master.expect("a transfer has a master").ip());
            }
            Step::Idle | Step::SoaUdp { .. } | Step::Deferred { .. } => {}
        }
    }

    fn transfer(&mut self) -> &mut Transfer {
        match &mut self.round_mut().step {
            Step::Transfer(t) => t,
            _ => unreachable!("called only during a transfer step"),
        }
    }

    /// The SOA an IXFR request carries: our copy's, or the expired copy's where kept.
    fn request_soa(&mut self) -> Option<xfrsim_zone::ZoneRecord> {
        match self.core.data.as_ref() {
            Some(history) => Some(history.zone().soa_record().clone()),
            None => self.stale.as_ref().map(|h| h.zone().soa_record().clone()),
        }
    }

    pub(super) fn on_transfer_connected(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.core.origin.clone();
        let our_soa = self.request_soa();
        let ask_expire = self.core.behaviour.request_expire;
        let idle = self.core.behaviour.max_transfer_idle_in;
        let total = self.core.behaviour.max_transfer_time_in;
        let t = self.transfer();
        let started = t.started;
        let message = match (t.qtype, our_soa) {
            (TYPE_IXFR, Some(soa)) => wire::ixfr_query(t.id, &origin, &soa, ask_expire),
            _ => {
                // No copy (any more: it may have expired since the transfer was chosen).
                t.qtype = TYPE_AXFR;
                t.receiver = receiver(&origin, t.id, TYPE_AXFR, None);
                wire::query_asking_expire(t.id, &origin, TYPE_AXFR, ask_expire)
            }
        };
        ctx.send_tcp(t.conn, message);
        self.core.timers.stop(TimerName::Connect);
        self.core.timers.set(TimerName::TransferIdle, now + idle);
        self.core.timers.set(TimerName::TransferTotal, started + total);
    }

    /// The transfer's idle or total time ran out (its connect timer is the step's, as an SOA
    /// query's). BIND xfrin.c: "maximum idle time exceeded" / "maximum transfer time exceeded".
    pub(super) fn on_transfer_timer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, timer: TimerName) {
        let qtype = self.transfer().qtype;
        let reason =
            if timer == TimerName::TransferTotal { BadResponse::TransferTimeLimit } else { BadResponse::IdleTimeout };
        self.transfer_failed(ctx, now, master, qtype, Failure::Cut(reason));
    }

    pub(super) fn on_transfer_closed(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr) {
        let qtype = self.transfer().qtype;
        if qtype == TYPE_AXFR && self.core.behaviour.canary == Some(crate::Canary::AcceptTruncatedAxfr) {
            // The planted bug: what arrived before the cut is taken as the whole zone.
            if let Some(zone) = self.transfer().receiver.partial_zone() {
                return self.transfer_done(ctx, now, master, qtype, TransferOutcome::Full { zone: Box::new(zone) });
            }
        }
        self.transfer_failed(ctx, now, master, qtype, Failure::Cut(BadResponse::ClosedMidStream));
    }

    pub(super) fn on_transfer_message(
        &mut self,
        ctx: &mut Ctx,
        now: Time,
        master: SocketAddr,
        message: Result<Message, xfrsim_zone::wire::WireError>,
        message_len: usize,
    ) {
        let idle = self.core.behaviour.max_transfer_idle_in;
        self.core.timers.set(TimerName::TransferIdle, now + idle);
        let (max_records, max_bytes) = (self.core.behaviour.max_records_in, self.core.behaviour.max_bytes_in);
        let t = self.transfer();
        let qtype = t.qtype;
        let result = match message {
            Ok(m) => {
                if t.edns_expire.is_none() {
                    t.edns_expire = m.edns_expire;
                }
                // Counted before the records are kept: a master that streams without end is
                // cut off at the limit, not when memory runs out (BIND `max-records`: "too many
                // records").
                t.records += m.answers.len() as u64;
                t.bytes += message_len as u64;
                if t.records > max_records || t.bytes > max_bytes {
                    Err(BadResponse::TransferTooLarge)
                } else {
                    t.receiver.on_message(&m)
                }
            }
            Err(_) => Err(BadResponse::Malformed),
        };
        match result {
            Ok(None)
                if qtype == TYPE_AXFR && self.core.behaviour.canary == Some(crate::Canary::ServeDuringTransfer) =>
            {
                // The planted bug: the records so far are served while the rest is on its way.
                if let Some(zone) = self.transfer().receiver.partial_zone() {
                    self.core.data = Some(Arc::new(ZoneHistory::new(zone, self.core.journal_max_diffs)));
                }
            }
            Ok(None) => {}
            Ok(Some(outcome)) => self.transfer_done(ctx, now, master, qtype, outcome),
            Err(BadResponse::Rcode(code)) => self.transfer_failed(ctx, now, master, qtype, Failure::Rcode(code)),
            Err(reason) => self.transfer_failed(ctx, now, master, qtype, Failure::Bad(reason)),
        }
    }

    fn transfer_done(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16, outcome: TransferOutcome) {
        let origin = self.core.origin.clone();
        let ours = self.core.serial();
        let edns_expire = self.transfer().edns_expire;
        let stale_serial = self.stale.as_ref().map(|h| h.zone().serial());
        if let (None, Some(kept)) = (ours, stale_serial) {
            match &outcome {
                // NSD, expired, asked with its kept copy's SOA (see `expired_keeps_copy`): the
                // same serial makes that copy current again, with no transfer.
                TransferOutcome::UpToDate { serial } if *serial == kept => {
                    self.core.data = self.stale.take();
                    self.expired = false;
                    ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial: kept, master });
                    return self.master_equal(ctx, now, master, edns_expire);
                }
                // Another serial alone is taken as a NOTIFY: the connection waits for the rest.
                TransferOutcome::UpToDate { .. } => return,
                // Diffs from the kept copy apply to it — to a copy of it (copy on write), so a
                // diff that does not apply leaves the kept copy as it was, and unserved.
                TransferOutcome::Incremental { .. } => self.core.data = self.stale.clone(),
                TransferOutcome::Full { .. } => {}
            }
        }
        let ours = self.core.serial();
        if ours.is_none() && !matches!(outcome, TransferOutcome::Full { .. }) {
            // The copy this IXFR was relative to expired while the answer was in flight:
            // the answer no longer applies; take the whole zone instead.
            return self.transfer_failed(ctx, now, master, qtype, Failure::Bad(BadResponse::DiffDoesNotApply));
        }
        match outcome {
            TransferOutcome::UpToDate { serial } => {
                let ours = ours.expect("checked above: IXFR outcomes need a copy");
                if serial == ours {
                    ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial, master });
                    self.master_equal(ctx, now, master, edns_expire);
                } else if self.core.behaviour.is_newer(serial, ours) {
                    // A newer serial with nothing after it (NSD xfrd.c: fewer than two
                    // records): ask for the whole zone.
                    ctx.emit(now, Some(&origin), EventKind::ZoneTransferInProgress { serial, master });
                    self.open_transfer(ctx, now, master, TYPE_AXFR);
                } else {
                    if !self.core.behaviour.multi_master {
                        ctx.emit(
                            now,
                            Some(&origin),
                            EventKind::ZoneNewerThanServerVersion { ours, theirs: serial, master },
                        );
                    }
                    self.master_older(ctx, now);
                }
            }
            TransferOutcome::Full { zone } => {
                let zone = *zone;
                let serial = zone.serial();
                match ours {
                    Some(ours) if serial == ours => {
                        ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial, master });
                        return self.master_equal(ctx, now, master, edns_expire);
                    }
                    Some(ours) if !self.core.behaviour.is_newer(serial, ours) => {
                        if !self.core.behaviour.multi_master {
                            ctx.emit(
                                now,
                                Some(&origin),
                                EventKind::ZoneNewerThanServerVersion { ours, theirs: serial, master },
                            );
                        }
                        return self.master_older(ctx, now);
                    }
                    _ => {}
                }
                match self.core.data.as_mut() {
                    Some(history) => Arc::make_mut(history).replace(zone),
                    None => self.core.data = Some(Arc::new(ZoneHistory::new(zone, self.core.journal_max_diffs))),
                }
                self.installed(ctx, now, master, serial, false, edns_expire);
            }
            TransferOutcome::Incremental { diffs } => {
                let history = Arc::make_mut(self.core.data.as_mut().expect("checked above: IXFR outcomes need a copy"));
                match history.apply_diffs(diffs) {
                    Ok(()) => {
                        let serial = history.zone().serial();
                        self.installed(ctx, now, master, serial, true, edns_expire);
                    }
                    Err(error) => {
                        if self.expired {
                            // The diffs were tried on the expired copy, which stays unserved.
                            self.core.data = None;
                        }
                        // A diff that breaks the zone's integrity is named as such; anything
                        // else means it does not fit our copy.
                        let reason = match BadResponse::from_zone_error(error) {
                            BadResponse::BadZoneData => BadResponse::DiffDoesNotApply,
                            reason => reason,
                        };
                        self.transfer_failed(ctx, now, master, qtype, Failure::Bad(reason))
                    }
                }
            }
        }
    }

    fn installed(
        &mut self,
        ctx: &mut Ctx,
        now: Time,
        master: SocketAddr,
        serial: xfrsim_zone::Serial,
        incremental: bool,
        edns_expire: Option<u32>,
    ) {
        let origin = self.core.origin.clone();
        self.expired = false;
        self.stale = None;
        // REFRESH counts from the install, whatever master said "equal" earlier in the round
        // (BIND zone.c `dns__zone_xfrdone`).
        self.round_mut().in_sync_at = Some(now);
        ctx.emit(now, Some(&origin), EventKind::ZoneUpdate { serial, master, incremental });
        self.report_clamp(ctx, now);
        // RFC 7314 §4: after a transfer the option seeds the expire timer.
        self.extend_expire(now, edns_expire, false);
        self.round_mut().last = LastAnswer::Equal;
        self.finish_step(ctx, now, StepEnd::Success);
        // RFC 1996 §4.1: a secondary that is a master for others notifies after it updated.
        self.core.notify_all(ctx, now);
    }

    /// A transfer failed. An unusable IXFR, or one answered with an error RCODE the profile
    /// falls back on (any for BIND and Knot, NOTIMP and FORMERR for NSD), is retried as AXFR
    /// from the same master (RFC 1995 §2; BIND xfrin.c "got <rcode>, retrying with AXFR"; Knot
    /// "fallback to AXFR"); a cut IXFR too where the profile says so. Anything else moves on
    /// to the next master (BIND `next_primary`).
    fn transfer_failed(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16, failure: Failure) {
        let origin = self.core.origin.clone();
        if qtype == TYPE_IXFR {
            let falls_back = match &failure {
                Failure::Rcode(code) => self.core.behaviour.ixfr_rcode_falls_back(*code),
                Failure::Bad(_) => true,
                Failure::Cut(_) => self.core.behaviour.ixfr_cut_falls_back,
            };
            // The planted bug `no-axfr-fallback` never falls back.
            if falls_back && self.core.behaviour.canary != Some(crate::Canary::NoAxfrFallback) {
                let reason = match failure {
                    Failure::Rcode(code) => BadResponse::Rcode(code),
                    Failure::Bad(reason) | Failure::Cut(reason) => reason,
                };
                ctx.emit(now, Some(&origin), EventKind::IxfrBadResponse { master, reason });
                self.open_transfer(ctx, now, master, TYPE_AXFR);
                return;
            }
            // No fallback: reported as a failed transfer, like an AXFR's, and on to the next master.
        }
        let kind = match failure {
            Failure::Rcode(code) if code == u16::from(xfrsim_zone::wire::RCODE_REFUSED) => {
                EventKind::AxfrRefused { master }
            }
            Failure::Rcode(code) => EventKind::AxfrBadResponse { master, reason: BadResponse::Rcode(code) },
            Failure::Bad(reason) => EventKind::AxfrBadResponse { master, reason },
            Failure::Cut(reason) => EventKind::XfrAbortedByMaster { master, reason },
        };
        ctx.emit(now, Some(&origin), kind);
        self.master_failed(ctx, now);
    }
}

/// Why a transfer step failed.
enum Failure {
    /// The master answered with an error RCODE.
    Rcode(u16),
    /// The answer was unusable.
    Bad(BadResponse),
    /// The stream stopped before its end.
    Cut(BadResponse),
}

/// The receiver for a new transfer of `qtype` (`our_serial` for IXFR).
fn receiver(
    origin: &hickory_proto::rr::Name,
    id: u16,
    qtype: u16,
    our_serial: Option<Serial>,
) -> Box<TransferReceiver> {
    Box::new(TransferReceiver::new(origin.clone(), id, qtype, our_serial))
}
