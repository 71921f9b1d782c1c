//! The secondary side: SOA refresh, retry and expire (RFC 1034 §4.3.5), the ordered master
//! list, and pulling transfers (IXFR first, RFC 1995; AXFR, RFC 5936), installed atomically.
//!
//! A refresh *round* walks the master list. BIND semantics (zone.c `refresh_callback`):
//! every round starts at the first master; the first master with a higher serial is
//! transferred from; a lower serial (or one exactly 2^31 away) is logged (6526) and the round
//! goes on to the next master; an unreachable master is logged (6523) and skipped. Unlike BIND,
//! an equal serial ends the round as "in sync" (6521) — Knot does the same — instead of also
//! polling the remaining masters. After a NOTIFY, the notifier is asked first (RFC 1996 §3.11,
//! as Knot and NSD do; BIND does not).

use core::time::Duration;
use std::net::SocketAddr;
use std::sync::Arc;

use xfrsim_zone::wire::{Message, OPCODE_NOTIFY, OPCODE_QUERY, RCODE_NOERROR, RCODE_REFUSED, TYPE_AXFR, TYPE_IXFR};
use xfrsim_zone::{SOA, Serial, Zone, ZoneHistory};

use crate::Time;
use crate::config::Timeouts;
use crate::event::{BadResponse, EventKind, Unreachable};
use crate::node::{Conn, ConnId, ConnectFailure, Ctx, HeldZone};
use crate::wire::{self, TransferOutcome, TransferReceiver};

/// The SOA timers of the last version held, kept after expiry so retries keep their pace.
#[derive(Debug, Clone, Copy)]
struct SoaTimers {
    refresh: Duration,
    retry: Duration,
    expire: Duration,
}

impl SoaTimers {
    fn of(zone: &Zone) -> Self {
        // SOA timers are u32 seconds (RFC 1035 §3.3.13). A zero timer would spin the engine:
        // at least one second.
        let secs = |v: u32| Duration::from_secs(u64::from(v).max(1));
        let soa = zone.soa();
        SoaTimers { refresh: secs(soa.refresh), retry: secs(soa.retry), expire: secs(soa.expire) }
    }
}

pub(crate) struct SecondaryState {
    masters: Vec<SocketAddr>,
    /// Set by 6527; cleared by the next successful transfer.
    pub expired: bool,
    timers: Option<SoaTimers>,
    next_refresh: Option<Time>,
    pub expire_at: Option<Time>,
    round: Option<Round>,
    /// A NOTIFY that arrived during a round, to be honoured when it ends (RFC 1996 §4.4).
    queued_notify: Option<SocketAddr>,
    bootstrap_retry: Duration,
}

struct Round {
    order: Vec<SocketAddr>,
    index: usize,
    step: Step,
}

enum Step {
    /// Between masters (never observed outside `try_master`).
    Idle,
    SoaUdp {
        id: u16,
        sends: u32,
        deadline: Time,
    },
    SoaTcp {
        conn: ConnId,
        id: u16,
        deadline: Time,
    },
    Transfer {
        conn: ConnId,
        id: u16,
        qtype: u16,
        deadline: Time,
        receiver: Box<TransferReceiver>,
        sent: bool,
    },
}

impl SecondaryState {
    pub fn new(masters: Vec<SocketAddr>, restored: Option<(&Zone, Time)>, timeouts: &Timeouts) -> Self {
        SecondaryState {
            masters,
            expired: false,
            timers: restored.map(|(zone, _)| SoaTimers::of(zone)),
            next_refresh: None,
            expire_at: restored.map(|(_, at)| at),
            round: None,
            queued_notify: None,
            bootstrap_retry: timeouts.bootstrap_retry_min,
        }
    }

    pub fn next_deadline(&self) -> Option<Time> {
        let step = self.round.as_ref().and_then(|r| match &r.step {
            Step::Idle => None,
            Step::SoaUdp { deadline, .. } | Step::SoaTcp { deadline, .. } | Step::Transfer { deadline, .. } => {
                Some(*deadline)
            }
        });
        let refresh = if self.round.is_none() { self.next_refresh } else { None };
        let expire = if self.expired { None } else { self.expire_at };
        [step, refresh, expire].into_iter().flatten().min()
    }

    fn step_conn(&self) -> Option<ConnId> {
        match self.round.as_ref().map(|r| &r.step) {
            Some(Step::SoaTcp { conn, .. } | Step::Transfer { conn, .. }) => Some(*conn),
            _ => None,
        }
    }

    fn current_master(&self) -> Option<SocketAddr> {
        let round = self.round.as_ref()?;
        round.order.get(round.index).copied()
    }
}

/// How a step ended, for deciding what comes next.
enum StepEnd {
    /// Round done, zone known good: refresh and expire restart.
    Success,
    /// Try the next master in the round.
    NextMaster,
}

impl HeldZone {
    fn sec(&mut self) -> &mut SecondaryState {
        self.secondary.as_mut().expect("secondary behaviour only runs for secondary zones")
    }

    pub(crate) fn start_secondary(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        let restored = self.data.is_some();
        let sec = self.sec();
        if sec.masters.is_empty() {
            ctx.emit(now, Some(&origin), EventKind::SecondaryRequiresMasters);
            return;
        }
        if restored {
            // BIND zone_postload: the first refresh of a zone loaded from disk comes after a
            // random part of RETRY, or at once if that is past expiry.
            let retry = sec.timers.map_or(Duration::from_secs(60), |t| t.retry);
            let retry_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            let delay = Duration::from_millis(retry_ms / 4 + ctx.rng.below(retry_ms - retry_ms / 4 + 1));
            let at = now + delay;
            let sec = self.sec();
            sec.next_refresh = Some(match sec.expire_at {
                Some(expire_at) if expire_at <= at => now,
                _ => at,
            });
        } else {
            self.sec().next_refresh = Some(now);
        }
    }

    pub(crate) fn set_masters(
        &mut self,
        ctx: &mut Ctx,
        now: Time,
        masters: Vec<SocketAddr>,
    ) -> Result<(), crate::CommandError> {
        let origin = self.origin.clone();
        let Some(sec) = self.secondary.as_mut() else {
            return Err(crate::CommandError::NotSecondary(origin.to_string()));
        };
        sec.masters = masters;
        if sec.masters.is_empty() {
            ctx.emit(now, Some(&origin), EventKind::SecondaryRequiresMasters);
            return Ok(());
        }
        // A new list takes effect at the next round, as `rndc reconfig` does; if nothing is
        // scheduled (the list was empty), start now.
        if sec.round.is_none() && sec.next_refresh.is_none() {
            sec.next_refresh = Some(now);
        }
        Ok(())
    }

    pub(crate) fn refresh_now(&mut self, ctx: &mut Ctx, now: Time) -> Result<(), crate::CommandError> {
        if self.secondary.is_none() {
            return Err(crate::CommandError::NotSecondary(self.origin.to_string()));
        }
        if self.sec().round.is_none() {
            self.start_round(ctx, now, None);
        }
        Ok(())
    }

    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx, now: Time) {
        self.notify_timeouts(ctx, now);
        if self.secondary.is_none() {
            return;
        }
        let sec = self.sec();
        if !sec.expired && sec.expire_at.is_some_and(|at| at <= now) {
            self.expire(ctx, now);
        }
        let sec = self.sec();
        if sec.round.is_none() {
            if sec.next_refresh.is_some_and(|at| at <= now) {
                self.start_round(ctx, now, None);
            }
            return;
        }
        let deadline_passed = sec.next_deadline().is_some_and(|at| at <= now)
            && sec.round.as_ref().is_some_and(|r| match &r.step {
                Step::Idle => false,
                Step::SoaUdp { deadline, .. } | Step::SoaTcp { deadline, .. } | Step::Transfer { deadline, .. } => {
                    *deadline <= now
                }
            });
        if deadline_passed {
            self.on_step_deadline(ctx, now);
        }
    }

    /// RFC 1034 §4.3.5: no successful check for EXPIRE seconds — the copy is obsolete. It is
    /// dropped (SERVFAIL from now on, RFC 1035 §6.3) and refreshing goes on.
    fn expire(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        self.data = None;
        let sec = self.sec();
        sec.expired = true;
        sec.expire_at = None;
        ctx.emit(now, Some(&origin), EventKind::ZoneExpiration);
        // Knot refreshes immediately on expiry; BIND's maintenance does the same (refreshtime = now).
        if sec.round.is_none() {
            self.start_round(ctx, now, None);
        }
    }

    pub(crate) fn start_round(&mut self, ctx: &mut Ctx, now: Time, notifier: Option<SocketAddr>) {
        let sec = self.sec();
        if sec.masters.is_empty() {
            return;
        }
        let mut order = Vec::with_capacity(sec.masters.len());
        if let Some(n) = notifier.and_then(|n| sec.masters.iter().find(|m| m.ip() == n.ip())) {
            order.push(*n);
        }
        for master in &sec.masters {
            if !order.contains(master) {
                order.push(*master);
            }
        }
        sec.round = Some(Round { order, index: 0, step: Step::Idle });
        sec.next_refresh = None;
        self.try_master(ctx, now);
    }

    /// Starts on the round's current master, skipping our own addresses (7062), or ends the
    /// round as failed when the list is exhausted.
    fn try_master(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        loop {
            let Some(master) = self.sec().current_master() else {
                self.end_round(ctx, now, false);
                return;
            };
            if ctx.is_own_address(master) {
                ctx.emit(now, Some(&origin), EventKind::SelfSend { master });
                self.sec().round.as_mut().expect("in a round").index += 1;
                continue;
            }
            let id = ctx.rng.next_id();
            ctx.send_query(self.transfer_source, master, id, wire::query(id, &origin, SOA));
            let deadline = now + ctx.timeouts.udp_query;
            self.sec().round.as_mut().expect("in a round").step = Step::SoaUdp { id, sends: 1, deadline };
            return;
        }
    }

    fn on_step_deadline(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        let round = self.sec().round.as_mut().expect("in a round");
        match &mut round.step {
            Step::Idle => {}
            Step::SoaUdp { id, sends, deadline } => {
                if *sends < ctx.timeouts.udp_sends {
                    *sends += 1;
                    *deadline = now + ctx.timeouts.udp_query;
                    let id = *id;
                    ctx.send_query(self.transfer_source, master, id, wire::query(id, &origin, SOA));
                } else {
                    // BIND `try-tcp-refresh`: after the UDP retries, ask again over TCP.
                    self.soa_over_tcp(ctx, now, master);
                }
            }
            Step::SoaTcp { .. } => {
                ctx.emit(now, Some(&origin), EventKind::XfrMasterUnavailable { master, reason: Unreachable::Timeout });
                self.finish_step(ctx, now, StepEnd::NextMaster);
            }
            Step::Transfer { qtype, sent, .. } => {
                let (qtype, sent) = (*qtype, *sent);
                if !sent {
                    ctx.emit(
                        now,
                        Some(&origin),
                        EventKind::XfrMasterUnavailable { master, reason: Unreachable::Timeout },
                    );
                    self.finish_step(ctx, now, StepEnd::NextMaster);
                } else {
                    self.transfer_failed(ctx, now, master, qtype, Failure::Cut(BadResponse::IdleTimeout));
                }
            }
        }
    }

    fn soa_over_tcp(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr) {
        let conn = ctx.connect(self.transfer_source, master, Conn::Client { zone: self.origin.clone() });
        let id = ctx.rng.next_id();
        let deadline = now + ctx.timeouts.tcp_connect;
        self.sec().round.as_mut().expect("in a round").step = Step::SoaTcp { conn, id, deadline };
    }

    pub(crate) fn on_connected(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        let origin = self.origin.clone();
        let our_soa = self.data.as_ref().map(|h| h.zone().soa_record().clone());
        let Some(round) = self.sec().round.as_mut() else { return };
        match &mut round.step {
            Step::SoaTcp { conn: c, id, deadline } if *c == conn => {
                *deadline = now + ctx.timeouts.tcp_idle;
                ctx.send_tcp(conn, wire::query(*id, &origin, SOA));
            }
            Step::Transfer { conn: c, id, qtype, deadline, sent, receiver } if *c == conn => {
                *deadline = now + ctx.timeouts.tcp_idle;
                *sent = true;
                let message = match (*qtype, our_soa) {
                    (TYPE_IXFR, Some(soa)) => wire::ixfr_query(*id, &origin, &soa),
                    _ => {
                        // No copy (any more: it may have expired since the transfer was chosen).
                        *qtype = TYPE_AXFR;
                        **receiver = TransferReceiver::new(origin.clone(), *id, TYPE_AXFR, None);
                        wire::query(*id, &origin, TYPE_AXFR)
                    }
                };
                ctx.send_tcp(conn, message);
            }
            _ => {}
        }
    }

    pub(crate) fn on_connect_failed(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId, failure: ConnectFailure) {
        if self.sec().step_conn() != Some(conn) {
            return;
        }
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        let reason = match failure {
            ConnectFailure::Refused => Unreachable::ConnectionRefused,
            ConnectFailure::Unreachable => Unreachable::Timeout,
        };
        ctx.emit(now, Some(&origin), EventKind::XfrMasterUnavailable { master, reason });
        self.finish_step(ctx, now, StepEnd::NextMaster);
    }

    pub(crate) fn on_closed(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        if self.sec().step_conn() != Some(conn) {
            return;
        }
        // The peer closed first: forget the connection without emitting a Close for it.
        ctx.conns.remove(&conn);
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        match &self.sec().round.as_ref().expect("in a round").step {
            Step::SoaTcp { .. } => {
                ctx.emit(
                    now,
                    Some(&origin),
                    EventKind::XfrMasterUnavailable { master, reason: Unreachable::ClosedBeforeAnswer },
                );
                self.finish_step(ctx, now, StepEnd::NextMaster);
            }
            Step::Transfer { qtype, .. } => {
                let qtype = *qtype;
                self.transfer_failed(ctx, now, master, qtype, Failure::Cut(BadResponse::ClosedMidStream));
            }
            _ => {}
        }
    }

    /// A UDP response: ours if it answers the SOA query in flight (same master, id, question).
    /// The SOA query to the current master was answered by ICMP port unreachable: nothing
    /// listens there. BIND's `refresh_callback` (lib/dns/zone.c) logs "failure trying primary
    /// ...: connection refused" and moves to the next primary without trying TCP; Knot's
    /// refresh fails the same way. True if it was ours.
    pub(crate) fn on_udp_unreachable(&mut self, ctx: &mut Ctx, now: Time, to: SocketAddr, id: u16) -> bool {
        let Some(sec) = self.secondary.as_ref() else { return false };
        let ours = sec.current_master() == Some(to)
            && matches!(sec.round.as_ref().map(|r| &r.step), Some(Step::SoaUdp { id: sent, .. }) if *sent == id);
        if !ours {
            return false;
        }
        let origin = self.origin.clone();
        ctx.emit(
            now,
            Some(&origin),
            EventKind::XfrMasterUnavailable { master: to, reason: Unreachable::ConnectionRefused },
        );
        self.finish_step(ctx, now, StepEnd::NextMaster);
        true
    }

    pub(crate) fn on_udp_response(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, message: &Message) -> bool {
        if message.opcode() == OPCODE_NOTIFY {
            return self.on_notify_response(from, message);
        }
        let Some(sec) = self.secondary.as_ref() else { return false };
        let Some(Step::SoaUdp { id, .. }) = sec.round.as_ref().map(|r| &r.step) else { return false };
        if sec.current_master() != Some(from) || message.id != *id || !self.echoes_soa_question(message) {
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

    fn echoes_soa_question(&self, message: &Message) -> bool {
        message.opcode() == OPCODE_QUERY
            && matches!(message.questions.as_slice(), [q] if q.name == self.apex && q.qtype == SOA)
    }

    pub(crate) fn on_tcp_message(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId, payload: &[u8]) {
        if self.sec().step_conn() != Some(conn) {
            return;
        }
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        let message = Message::parse(payload);
        let round = self.sec().round.as_mut().expect("in a round");
        match &mut round.step {
            Step::SoaTcp { id, .. } => {
                let id = *id;
                match message {
                    Ok(m) if m.id == id && m.is_response() && self.echoes_soa_question(&m) => {
                        self.on_soa_answer(ctx, now, master, &m);
                    }
                    other => {
                        let reason = if other.is_ok() { BadResponse::WrongId } else { BadResponse::Malformed };
                        ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason });
                        self.finish_step(ctx, now, StepEnd::NextMaster);
                    }
                }
            }
            Step::Transfer { qtype, receiver, deadline, .. } => {
                let qtype = *qtype;
                *deadline = now + ctx.timeouts.tcp_idle;
                let result = match message {
                    Ok(m) => receiver.on_message(&m),
                    Err(_) => Err(BadResponse::Malformed),
                };
                match result {
                    Ok(None) => {}
                    Ok(Some(outcome)) => self.transfer_done(ctx, now, master, qtype, outcome),
                    Err(BadResponse::Rcode(code)) => {
                        self.transfer_failed(ctx, now, master, qtype, Failure::Rcode(code))
                    }
                    Err(reason) => self.transfer_failed(ctx, now, master, qtype, Failure::Bad(reason)),
                }
            }
            Step::SoaUdp { .. } | Step::Idle => {}
        }
    }

    /// Decides on an SOA answer from `master` (zone.c `refresh_callback`).
    fn on_soa_answer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, message: &Message) {
        let origin = self.origin.clone();
        let rcode = message.rcode();
        if rcode == u16::from(RCODE_REFUSED) {
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
            .filter(|r| r.rtype == SOA && message.owner_is(r, &self.apex))
            .filter_map(|r| message.soa_serial(r).map(Serial))
            .collect();
        let theirs = match (bad, soas.as_slice()) {
            (Some(reason), _) => {
                ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason });
                return self.finish_step(ctx, now, StepEnd::NextMaster);
            }
            (None, [serial]) => *serial,
            (None, _) => {
                ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason: BadResponse::NoSoaAnswer });
                return self.finish_step(ctx, now, StepEnd::NextMaster);
            }
        };
        match self.serial() {
            // No copy (never loaded, or expired): any serial is taken (RFC 1034 §4.3.5; after
            // expiry even a lower one, as Knot and NSD `zone_expire_serial` do).
            None => {
                ctx.emit(now, Some(&origin), EventKind::ZoneTransferInProgress { serial: theirs, master });
                self.start_transfer(ctx, now, master);
            }
            Some(ours) if theirs.is_newer_than(ours) => {
                ctx.emit(now, Some(&origin), EventKind::ZoneTransferInProgress { serial: theirs, master });
                self.start_transfer(ctx, now, master);
            }
            Some(ours) if theirs == ours => {
                ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial: ours, master });
                self.finish_step(ctx, now, StepEnd::Success);
            }
            Some(ours) => {
                ctx.emit(now, Some(&origin), EventKind::ZoneNewerThanServerVersion { ours, theirs, master });
                self.finish_step(ctx, now, StepEnd::NextMaster);
            }
        }
    }

    /// IXFR when we hold a copy, AXFR otherwise (BIND xfrin: no database → AXFR).
    fn start_transfer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr) {
        let qtype = if self.data.is_some() { TYPE_IXFR } else { TYPE_AXFR };
        self.open_transfer(ctx, now, master, qtype);
    }

    fn open_transfer(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16) {
        if let Some(old) = self.sec().step_conn() {
            ctx.close(old);
        }
        let conn = ctx.connect(self.transfer_source, master, Conn::Client { zone: self.origin.clone() });
        let id = ctx.rng.next_id();
        let our_serial = if qtype == TYPE_IXFR { self.serial() } else { None };
        let receiver = Box::new(TransferReceiver::new(self.origin.clone(), id, qtype, our_serial));
        let deadline = now + ctx.timeouts.tcp_connect;
        self.sec().round.as_mut().expect("in a round").step =
            Step::Transfer { conn, id, qtype, deadline, receiver, sent: false };
    }

    fn transfer_done(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16, outcome: TransferOutcome) {
        let origin = self.origin.clone();
        let ours = self.serial();
        if ours.is_none() && !matches!(outcome, TransferOutcome::Full { .. }) {
            // The copy this IXFR was relative to expired while the answer was in flight:
            // the answer no longer applies; take the whole zone instead.
            return self.transfer_failed(ctx, now, master, qtype, Failure::Bad(BadResponse::DiffDoesNotApply));
        }
        match outcome {
            TransferOutcome::UpToDate { serial } => {
                if Some(serial) == ours {
                    ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial, master });
                    self.finish_step(ctx, now, StepEnd::Success);
                } else {
                    let ours = ours.expect("checked above: IXFR outcomes need a copy");
                    ctx.emit(
                        now,
                        Some(&origin),
                        EventKind::ZoneNewerThanServerVersion { ours, theirs: serial, master },
                    );
                    self.finish_step(ctx, now, StepEnd::NextMaster);
                }
            }
            TransferOutcome::Full { zone } => {
                let zone = *zone;
                let serial = zone.serial();
                match ours {
                    Some(ours) if serial == ours => {
                        ctx.emit(now, Some(&origin), EventKind::ZoneInSync { serial, master });
                        return self.finish_step(ctx, now, StepEnd::Success);
                    }
                    Some(ours) if !serial.is_newer_than(ours) => {
                        ctx.emit(
                            now,
                            Some(&origin),
                            EventKind::ZoneNewerThanServerVersion { ours, theirs: serial, master },
                        );
                        return self.finish_step(ctx, now, StepEnd::NextMaster);
                    }
                    _ => {}
                }
                match self.data.as_mut() {
                    Some(history) => Arc::make_mut(history).replace(zone),
                    None => self.data = Some(Arc::new(ZoneHistory::new(zone, self.journal_max_diffs))),
                }
                self.installed(ctx, now, master, serial, false);
            }
            TransferOutcome::Incremental { diffs } => {
                let history = Arc::make_mut(self.data.as_mut().expect("checked above: IXFR outcomes need a copy"));
                match history.apply_diffs(diffs) {
                    Ok(()) => {
                        let serial = history.zone().serial();
                        self.installed(ctx, now, master, serial, true);
                    }
                    Err(error) => {
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

    fn installed(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, serial: Serial, incremental: bool) {
        let origin = self.origin.clone();
        self.sec().expired = false;
        ctx.emit(now, Some(&origin), EventKind::ZoneUpdate { serial, master, incremental });
        self.finish_step(ctx, now, StepEnd::Success);
        // RFC 1996 §4.1: a secondary that is a master for others notifies after it updated.
        self.notify_all(ctx, now);
    }

    /// A transfer failed. IXFR failures fall back to AXFR from the same master (RFC 1995 §2,
    /// BIND `DNS_R_BADIXFR`); AXFR failures move on to the next master (BIND `next_primary`).
    fn transfer_failed(&mut self, ctx: &mut Ctx, now: Time, master: SocketAddr, qtype: u16, failure: Failure) {
        let origin = self.origin.clone();
        if qtype == TYPE_IXFR {
            match failure {
                // An error rcode to IXFR (NOTIMP, FORMERR, REFUSED, ...) is the RFC 1995 §2
                // "server does not do IXFR" case: AXFR follows without a complaint of its own.
                Failure::Rcode(_) => {}
                Failure::Bad(reason) | Failure::Cut(reason) => {
                    ctx.emit(now, Some(&origin), EventKind::IxfrBadResponse { master, reason });
                }
            }
            self.open_transfer(ctx, now, master, TYPE_AXFR);
            return;
        }
        let kind = match failure {
            Failure::Rcode(code) if code == u16::from(RCODE_REFUSED) => EventKind::AxfrRefused { master },
            Failure::Rcode(code) => EventKind::AxfrBadResponse { master, reason: BadResponse::Rcode(code) },
            Failure::Bad(reason) => EventKind::AxfrBadResponse { master, reason },
            Failure::Cut(reason) => EventKind::XfrAbortedByMaster { master, reason },
        };
        ctx.emit(now, Some(&origin), kind);
        self.finish_step(ctx, now, StepEnd::NextMaster);
    }

    fn finish_step(&mut self, ctx: &mut Ctx, now: Time, end: StepEnd) {
        if let Some(conn) = self.sec().step_conn() {
            ctx.close(conn);
        }
        match end {
            StepEnd::Success => self.end_round(ctx, now, true),
            StepEnd::NextMaster => {
                let round = self.sec().round.as_mut().expect("in a round");
                round.index += 1;
                round.step = Step::Idle;
                self.try_master(ctx, now);
            }
        }
    }

    /// Ends the round. Success restarts REFRESH and EXPIRE from now (RFC 1034 §4.3.5; an equal
    /// serial counts, S3); failure waits RETRY, or a doubling back-off while no SOA is known.
    fn end_round(&mut self, ctx: &mut Ctx, now: Time, success: bool) {
        let timers = self.data.as_ref().map(|h| SoaTimers::of(h.zone()));
        let sec = self.sec();
        sec.round = None;
        if let Some(t) = timers {
            sec.timers = Some(t);
        }
        if success {
            let t = sec.timers.expect("success means a copy is held");
            sec.expire_at = Some(now + t.expire);
            sec.bootstrap_retry = ctx.timeouts.bootstrap_retry_min;
            sec.next_refresh = Some(now + ctx.jittered(t.refresh));
        } else {
            let wait = match sec.timers {
                Some(t) => t.retry,
                None => {
                    let wait = sec.bootstrap_retry;
                    sec.bootstrap_retry = (wait * 2).min(ctx.timeouts.bootstrap_retry_max);
                    wait
                }
            };
            let wait = ctx.jittered(wait);
            self.sec().next_refresh = Some(now + wait);
        }
        if let Some(notifier) = self.sec().queued_notify.take() {
            self.start_round(ctx, now, Some(notifier));
        }
    }

    /// A NOTIFY from a configured master (checked by the caller): refresh now, asking the
    /// notifier first, or queue it behind the round in progress (RFC 1996 §3.11, §4.4).
    pub(crate) fn on_master_notify(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, hinted: Option<Serial>) {
        // BIND `notify from M: zone is up to date`: a hint not newer than our copy is ignored.
        if let (Some(ours), Some(hint)) = (self.serial(), hinted)
            && !hint.is_newer_than(ours)
        {
            return;
        }
        let sec = self.sec();
        if sec.round.is_some() {
            sec.queued_notify = Some(from);
        } else {
            self.start_round(ctx, now, Some(from));
        }
    }

    pub(crate) fn is_master(&self, from: SocketAddr) -> bool {
        // RFC 1996 §3.10 matches the source address; the port is ignored (BIND does too).
        self.secondary.as_ref().is_some_and(|s| s.masters.iter().any(|m| m.ip() == from.ip()))
    }
}

enum Failure {
    /// The master answered with an error RCODE.
    Rcode(u16),
    /// The answer was unusable.
    Bad(BadResponse),
    /// The stream stopped before its end.
    Cut(BadResponse),
}
