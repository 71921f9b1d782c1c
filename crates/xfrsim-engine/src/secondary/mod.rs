//! The secondary side: SOA refresh, retry and expire (RFC 1034 §4.3.5), rounds over the
//! master list, and pulling transfers (`transfer.rs`: IXFR first, RFC 1995; AXFR, RFC 5936),
//! installed atomically.
//!
//! A refresh *round* walks the master list in the profile's order (`MasterOrder`), asking each
//! master's serial as the profile does (`SoaQuery`). The first master with a newer serial is
//! transferred from; an older serial (6526) or an unreachable master (6523) moves the round
//! on; an equal serial (6521) ends it or moves it on (`EqualSerial`). A round that runs out of
//! masters is judged by `RoundVerdict`. Every choice here reads the node's `Behaviour`; none
//! asks which server it is.

mod soa;
mod transfer;

use core::time::Duration;
use std::net::SocketAddr;

use std::sync::Arc;
use xfrsim_zone::wire::Message;

use xfrsim_zone::{SOA, Serial, Zone, ZoneHistory};

use crate::Time;
use crate::ctx::{ConnId, ConnectFailure, Ctx};
use crate::event::{BadResponse, EventKind, Unreachable};
use crate::node::HeldZone;
use crate::profile::{Backoff, Behaviour, MasterOrder, RoundVerdict, SoaQuery};
use crate::wire::{self, TransferReceiver};

/// The SOA timers of the version held, clamped as the profile clamps them.
#[derive(Debug, Clone, Copy)]
struct SoaTimers {
    refresh: Duration,
    retry: Duration,
    expire: Duration,
}

impl SoaTimers {
    fn of(zone: &Zone, behaviour: &Behaviour) -> Self {
        let soa = zone.soa();
        let (refresh, retry, expire) = behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire);
        SoaTimers { refresh, retry, expire }
    }
}

pub(crate) struct SecondaryState {
    masters: Vec<SocketAddr>,
    /// Set by 6527; cleared by the next successful transfer.
    pub expired: bool,
    /// `None` before the first load, and after expiry where the profile forgets them.
    timers: Option<SoaTimers>,
    next_refresh: Option<Time>,
    pub expire_at: Option<Time>,
    round: Option<Round>,
    /// A NOTIFY that arrived during a round, to be honoured when it ends (RFC 1996 §4.4: one
    /// pending refresh, whatever the number of NOTIFYs).
    queued_notify: Option<SocketAddr>,
    /// Failed rounds in a row, for the backoffs.
    failed_rounds: u32,
    /// The expired copy, kept (not served) where the profile does (NSD).
    stale: Option<Arc<ZoneHistory>>,
    /// The SOA timers (seconds) last reported as clamped, so the report comes once per zone.
    clamp_reported: Option<(u32, u32, u32)>,
}

struct Round {
    order: Vec<SocketAddr>,
    index: usize,
    step: Step,
    /// The master whose NOTIFY started the round.
    notifier: Option<SocketAddr>,
    started: Time,
    /// When a master last said "equal" in this round (BIND restarts REFRESH from then).
    in_sync_at: Option<Time>,
    /// The last master's verdict, for `RoundVerdict::LastMaster`.
    last: LastAnswer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LastAnswer {
    Nothing,
    Equal,
    Older,
    Failed,
}

enum Step {
    /// Between masters (never observed outside `try_master`).
    Idle,
    SoaUdp {
        id: u16,
        sends: u32,
        deadline: Time,
        /// The query carries EDNS (the first try; BIND then tries once more without it).
        edns: bool,
    },
    SoaTcp {
        conn: ConnId,
        id: u16,
        deadline: Time,
    },
    /// A transfer from the current master waits for a quota slot (`transfers-in`,
    /// `transfers-per-ns`); no deadline of its own.
    Deferred {
        qtype: u16,
    },
    Transfer(Box<transfer::Transfer>),
}

impl SecondaryState {
    pub fn new(masters: Vec<SocketAddr>, restored: Option<(&Zone, Time)>, behaviour: &Behaviour) -> Self {
        SecondaryState {
            masters,
            expired: false,
            timers: restored.map(|(zone, _)| SoaTimers::of(zone, behaviour)),
            next_refresh: None,
            expire_at: restored.map(|(_, at)| at),
            round: None,
            queued_notify: None,
            failed_rounds: 0,
            stale: None,
            clamp_reported: None,
        }
    }

    pub fn expiry(&self) -> Option<(Time, Duration)> {
        if self.expired {
            return None;
        }
        Some((self.expire_at?, self.timers?.expire))
    }

    pub fn next_deadline(&self) -> Option<Time> {
        let step = self.round.as_ref().and_then(|r| r.step.deadline());
        let refresh = if self.round.is_none() { self.next_refresh } else { None };
        let expire = if self.expired { None } else { self.expire_at };
        [step, refresh, expire].into_iter().flatten().min()
    }

    fn step_conn(&self) -> Option<ConnId> {
        match self.round.as_ref().map(|r| &r.step) {
            Some(Step::SoaTcp { conn, .. }) => Some(*conn),
            Some(Step::Transfer(t)) => Some(t.conn),
            _ => None,
        }
    }

    fn current_master(&self) -> Option<SocketAddr> {
        let round = self.round.as_ref()?;
        round.order.get(round.index).copied()
    }

    fn round_mut(&mut self) -> &mut Round {
        self.round.as_mut().expect("in a round")
    }
}

impl Step {
    fn deadline(&self) -> Option<Time> {
        match self {
            Step::Idle | Step::Deferred { .. } => None,
            Step::SoaUdp { deadline, .. } | Step::SoaTcp { deadline, .. } => Some(*deadline),
            Step::Transfer(t) => Some(t.deadline),
        }
    }
}

/// How a step ended, for deciding what comes next.
enum StepEnd {
    /// A transfer was installed, or the zone is current and the profile ends the round there.
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
        if restored {
            self.report_clamp(ctx, now);
        }
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

    /// Reports SOA timers the profile clamps, once per distinct SOA timers (BIND zone.c
    /// `dns__zone_xfrdone` RANGE; Knot refresh.c `limit_timer`).
    fn report_clamp(&mut self, ctx: &mut Ctx, now: Time) {
        let Some(history) = self.data.as_ref() else { return };
        let soa = history.zone().soa();
        let raw = (soa.refresh, soa.retry, soa.expire);
        let (refresh, retry, expire) = self.behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire);
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let clamped = (secs(refresh), secs(retry), secs(expire));
        let origin = self.origin.clone();
        let sec = self.sec();
        if clamped != raw && sec.clamp_reported != Some(raw) {
            sec.clamp_reported = Some(raw);
            let (refresh_secs, retry_secs, expire_secs) = clamped;
            ctx.emit(now, Some(&origin), EventKind::TimersClamped { refresh_secs, retry_secs, expire_secs });
        }
    }

    pub(crate) fn set_masters(
        &mut self,
        ctx: &mut Ctx,
        now: Time,
        masters: Vec<SocketAddr>,
    ) -> Result<(), crate::command::CommandError> {
        let origin = self.origin.clone();
        let Some(sec) = self.secondary.as_mut() else {
            return Err(crate::command::CommandError::NotSecondary(origin.to_string()));
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

    pub(crate) fn refresh_now(&mut self, ctx: &mut Ctx, now: Time) -> Result<(), crate::command::CommandError> {
        if self.secondary.is_none() {
            return Err(crate::command::CommandError::NotSecondary(self.origin.to_string()));
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
        let Some(round) = sec.round.as_ref() else {
            if sec.next_refresh.is_some_and(|at| at <= now) {
                self.start_round(ctx, now, None);
            }
            return;
        };
        if round.step.deadline().is_some_and(|at| at <= now) {
            self.on_step_deadline(ctx, now);
        }
    }

    /// RFC 1034 §4.3.5: no successful check for EXPIRE seconds — the copy is obsolete. It is
    /// dropped (SERVFAIL from now on, RFC 1035 §6.3) and refreshing goes on at once (BIND
    /// `zone_maintenance` sets refreshtime = now; Knot `zone_perform_expire`).
    fn expire(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        let stale = self.data.take().filter(|_| self.behaviour.expired_keeps_copy);
        let forget_timers = self.behaviour.backoff_after_expiry;
        let sec = self.sec();
        sec.expired = true;
        sec.stale = stale;
        sec.expire_at = None;
        if forget_timers {
            // BIND `zone_expire` clears HAVETIMERS: retries back off again from the start.
            sec.timers = None;
            sec.failed_rounds = 0;
        }
        ctx.emit(now, Some(&origin), EventKind::ZoneExpiration);
        if sec.round.is_none() {
            self.start_round(ctx, now, None);
        }
    }

    pub(crate) fn start_round(&mut self, ctx: &mut Ctx, now: Time, notifier: Option<SocketAddr>) {
        let master_order = self.behaviour.master_order;
        let sec = self.sec();
        if sec.masters.is_empty() {
            // Nothing to ask (503 was reported); no refresh stays due, or the node would be
            // woken for it at once, forever.
            sec.next_refresh = None;
            return;
        }
        let notifier = notifier.and_then(|n| sec.masters.iter().position(|m| m.ip() == n.ip()));
        let order: Vec<SocketAddr> = match (master_order, notifier) {
            (MasterOrder::Configured, _) | (_, None) => sec.masters.clone(),
            (MasterOrder::NotifierThenConfigured, Some(first)) => std::iter::once(sec.masters[first])
                .chain(sec.masters.iter().enumerate().filter(|(i, _)| *i != first).map(|(_, m)| *m))
                .collect(),
            (MasterOrder::NotifierThenOnwards, Some(first)) => sec.masters[first..].to_vec(),
        };
        let notifier = notifier.map(|i| sec.masters[i]);
        sec.round = Some(Round {
            order,
            index: 0,
            step: Step::Idle,
            notifier,
            started: now,
            in_sync_at: None,
            last: LastAnswer::Nothing,
        });
        sec.next_refresh = None;
        self.try_master(ctx, now);
    }

    /// Starts on the round's current master, skipping our own addresses (7062), or ends the
    /// round when the list is exhausted.
    fn try_master(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        loop {
            let Some(master) = self.sec().current_master() else {
                self.end_round(ctx, now, false);
                return;
            };
            if ctx.is_own_address(master) {
                ctx.emit(now, Some(&origin), EventKind::SelfSend { master });
                self.sec().round_mut().index += 1;
                continue;
            }
            match self.behaviour.soa_query {
                SoaQuery::UdpThenTcp => self.soa_over_udp(ctx, now, master, self.behaviour.request_expire),
                SoaQuery::Tcp => self.soa_over_tcp(ctx, now, master),
                SoaQuery::IxfrDirect => self.start_transfer(ctx, now, master),
            }
            return;
        }
    }

    fn on_step_deadline(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        let ask_expire = self.behaviour.request_expire;
        let round = self.sec().round_mut();
        match &mut round.step {
            Step::Idle | Step::Deferred { .. } => {}
            Step::SoaUdp { id, sends, deadline, edns } => {
                let edns = *edns;
                if *sends < ctx.behaviour.timeouts.udp_sends {
                    *sends += 1;
                    *deadline = now + ctx.behaviour.timeouts.udp_query;
                    let id = *id;
                    let query = wire::query_asking_expire(id, &origin, SOA, ask_expire && edns);
                    ctx.send_query(self.transfer_source, master, id, query);
                } else if edns && self.behaviour.soa_retry_without_edns {
                    // BIND zone.c `refresh_callback`: "refresh: timeout retrying without EDNS".
                    self.soa_over_udp(ctx, now, master, false);
                } else {
                    // BIND `try-tcp-refresh`: "refresh: retry limit for primary ... exceeded",
                    // then the SOA over TCP before the transfer.
                    self.soa_over_tcp(ctx, now, master);
                }
            }
            Step::SoaTcp { .. } => {
                ctx.emit(now, Some(&origin), EventKind::XfrMasterUnavailable { master, reason: Unreachable::Timeout });
                self.master_failed(ctx, now);
            }
            Step::Transfer(_) => self.on_transfer_deadline(ctx, now, master),
        }
    }

    pub(crate) fn on_connected(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        let origin = self.origin.clone();
        let ask_expire = self.behaviour.request_expire;
        let Some(round) = self.sec().round.as_mut() else { return };
        match &mut round.step {
            Step::SoaTcp { conn: c, id, deadline } if *c == conn => {
                *deadline = now + ctx.behaviour.timeouts.tcp_idle;
                ctx.send_tcp(conn, wire::query_asking_expire(*id, &origin, SOA, ask_expire));
            }
            Step::Transfer(t) if t.conn == conn => self.on_transfer_connected(ctx, now),
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
        self.master_failed(ctx, now);
    }

    pub(crate) fn on_closed(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        if self.sec().step_conn() != Some(conn) {
            return;
        }
        // The peer closed first: forget the connection without emitting a Close for it.
        ctx.conns.remove(&conn);
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        match &self.sec().round_mut().step {
            Step::SoaTcp { .. } => {
                ctx.emit(
                    now,
                    Some(&origin),
                    EventKind::XfrMasterUnavailable { master, reason: Unreachable::ClosedBeforeAnswer },
                );
                self.master_failed(ctx, now);
            }
            Step::Transfer(_) => self.on_transfer_closed(ctx, now, master),
            _ => {}
        }
    }

    pub(crate) fn on_tcp_message(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId, payload: &[u8]) {
        if self.sec().step_conn() != Some(conn) {
            return;
        }
        let origin = self.origin.clone();
        let master = self.sec().current_master().expect("a step runs against a master");
        let message = Message::parse(payload);
        match &self.sec().round_mut().step {
            Step::SoaTcp { id, .. } => {
                let id = *id;
                match message {
                    Ok(m) if m.id == id && m.is_response() && self.echoes_soa_question(&m) => {
                        self.on_soa_answer(ctx, now, master, &m);
                    }
                    other => {
                        let reason = if other.is_ok() { BadResponse::WrongId } else { BadResponse::Malformed };
                        ctx.emit(now, Some(&origin), EventKind::AxfrBadResponse { master, reason });
                        self.master_failed(ctx, now);
                    }
                }
            }
            Step::Transfer(_) => self.on_transfer_message(ctx, now, master, message, payload.len()),
            _ => {}
        }
    }

    /// The master could not be used (unreachable, bad answer, failed transfer).
    fn master_failed(&mut self, ctx: &mut Ctx, now: Time) {
        self.sec().round_mut().last = LastAnswer::Failed;
        self.finish_step(ctx, now, StepEnd::NextMaster);
    }

    fn finish_step(&mut self, ctx: &mut Ctx, now: Time, end: StepEnd) {
        self.leave_step(ctx);
        match end {
            StepEnd::Success => self.end_round(ctx, now, true),
            StepEnd::NextMaster => {
                self.sec().round_mut().index += 1;
                self.try_master(ctx, now);
            }
        }
    }

    /// Ends the round. A success (installed, or current and the round ends there) restarts
    /// REFRESH; a round that ran out of masters is judged by the profile's `RoundVerdict`;
    /// failure waits RETRY, or the backoff while no SOA timers are known.
    fn end_round(&mut self, ctx: &mut Ctx, now: Time, success: bool) {
        let timers = self.data.as_ref().map(|h| SoaTimers::of(h.zone(), &self.behaviour));
        let behaviour = self.behaviour.clone();
        let sec = self.sec();
        let round = sec.round.take().expect("in a round");
        if let Some(t) = timers {
            sec.timers = Some(t);
        }
        // When REFRESH restarts from, if the round counts as current (expire was already
        // pushed forward where the profile does that).
        let refresh_from = match (success, behaviour.round_verdict) {
            (true, _) => Some(round.in_sync_at.unwrap_or(now)),
            (false, RoundVerdict::AnyEqual) => round.in_sync_at,
            (false, RoundVerdict::LastMaster) => match round.last {
                LastAnswer::Equal => Some(now),
                LastAnswer::Older | LastAnswer::Failed | LastAnswer::Nothing => None,
            },
        };
        let wait = match (refresh_from, sec.timers) {
            (Some(from), Some(t)) => {
                sec.failed_rounds = 0;
                Some((from, t.refresh))
            }
            _ => None,
        };
        match wait {
            Some((from, refresh)) => {
                let at = from + ctx.jittered(refresh);
                self.sec().next_refresh = Some(at.max(now));
            }
            None => {
                let sec = self.sec();
                let failed = sec.failed_rounds;
                sec.failed_rounds = failed.saturating_add(1);
                let wait = match sec.timers {
                    Some(t) if behaviour.retry_backoff => {
                        // NSD: RETRY × 1, 2, 4, ... (capped with the wait at a day).
                        let factor = 1u32 << failed.min(16);
                        (t.retry * factor).min(Duration::from_secs(86_400))
                    }
                    Some(t) => t.retry,
                    None => backoff_wait(&behaviour.backoff, failed, ctx),
                };
                let wait = ctx.jittered(wait);
                let from = if behaviour.retry_from_round_start { round.started } else { now };
                self.sec().next_refresh = Some((from + wait).max(now));
            }
        }
        if let Some(notifier) = self.sec().queued_notify.take() {
            self.start_round(ctx, now, Some(notifier));
        }
    }

    /// A NOTIFY from a configured master (checked by the caller): refresh now, asking the
    /// notifier first where the profile does, or queue it behind the round in progress
    /// (RFC 1996 §3.11, §4.4).
    pub(crate) fn on_master_notify(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, hinted: Option<Serial>) {
        if let (Some(ours), Some(hint)) = (self.serial(), hinted)
            && self.behaviour.ignores_notify(hint, ours)
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

    /// Seconds this copy has left before it expires, for EDNS EXPIRE answers (RFC 7314 §3).
    pub(crate) fn expire_left_secs(&self, now: Time) -> Option<u32> {
        let at = self.secondary.as_ref()?.expire_at?;
        let left = at.saturating_since(now).as_secs();
        Some(u32::try_from(left).unwrap_or(u32::MAX))
    }
}

/// The wait after `failed` failed rounds in a row while no SOA timers are known.
fn backoff_wait(backoff: &Backoff, failed: u32, ctx: &mut Ctx) -> Duration {
    match *backoff {
        Backoff::Doubling { first, max } => first.saturating_mul(1u32 << failed.min(20)).min(max),
        Backoff::Squares { unit, max, random } => {
            let n = failed.min(1_000);
            let base = unit.saturating_mul(n * n).min(max);
            let random_ms = u64::try_from(random.as_millis()).unwrap_or(0);
            base + Duration::from_millis(ctx.rng.below(random_ms.max(1)))
        }
    }
}

/// Why a transfer step failed.
pub(super) enum Failure {
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
