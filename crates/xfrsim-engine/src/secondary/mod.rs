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
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use xfrsim_zone::wire::Message;
use xfrsim_zone::{SOA, Serial, Zone, ZoneHistory};

use crate::Time;
use crate::ctx::{ConnId, ConnectFailure, Ctx};
use crate::event::{BadResponse, EventKind, Unreachable};
use crate::profile::{Backoff, Behaviour, MasterOrder, RoundVerdict, SoaQuery};
use crate::timer::TimerName;
use crate::wire;
use crate::zone_core::ZoneCore;

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

/// A zone this node pulls from its masters.
pub(crate) struct SecondaryZone {
    pub core: ZoneCore,
    /// The address SOA queries and transfers to the masters leave from (BIND
    /// `transfer-source`); `None`: the node's first.
    transfer_source: Option<IpAddr>,
    masters: Vec<SocketAddr>,
    /// Set by 6527; cleared by the next successful transfer.
    pub expired: bool,
    /// `None` before the first load, and after expiry where the profile forgets them.
    soa_timers: Option<SoaTimers>,
    /// Refreshing as RFC 1034 §4.3.5 says; its timers (refresh, retry or backoff, expire, the
    /// current step's) are in the core's table.
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
    /// Timer: `SoaQuery`, per send.
    SoaUdp {
        id: u16,
        sends: u32,
        /// The query carries EDNS (the first try; BIND then tries once more without it).
        edns: bool,
    },
    /// Timers: `Connect`, then `SoaAnswer`.
    SoaTcp { conn: ConnId, id: u16 },
    /// A transfer from the current master waits for a quota slot (`transfers-in`,
    /// `transfers-per-ns`); no deadline of its own.
    Deferred { qtype: u16 },
    /// Timers: `Connect`, then `TransferIdle` and `TransferTotal`.
    Transfer(Box<transfer::Transfer>),
}

impl SecondaryZone {
    /// A secondary pulling from `masters`; `core` serves the copy restored from disk, if any,
    /// which expires at `restored_expire_at`.
    pub fn new(
        core: ZoneCore,
        transfer_source: Option<IpAddr>,
        masters: Vec<SocketAddr>,
        restored_expire_at: Option<Time>,
    ) -> Self {
        let soa_timers = core.data.as_ref().map(|h| SoaTimers::of(h.zone(), &core.behaviour));
        let mut core = core;
        core.timers.set_or_stop(TimerName::Expire, restored_expire_at);
        SecondaryZone {
            core,
            transfer_source,
            masters,
            expired: false,
            soa_timers,
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
        Some((self.expire_at()?, self.soa_timers?.expire))
    }

    /// When the copy expires (the `Expire` timer); `None` without a copy or once expired.
    pub fn expire_at(&self) -> Option<Time> {
        self.core.timers.get(TimerName::Expire)
    }

    /// Sets the step of the round in progress, stopping the previous step's timers; the
    /// caller arms the new step's.
    fn enter_step(&mut self, step: Step) {
        for timer in TimerName::STEP {
            self.core.timers.stop(timer);
        }
        self.round_mut().step = step;
    }

    /// The next refresh round at `at`, after `after` (a success, a failure, ...).
    fn schedule_round(&mut self, after: TimerName, at: Time) {
        self.stop_round_timers();
        self.core.timers.set(after, at);
    }

    fn stop_round_timers(&mut self) {
        for timer in TimerName::NEXT_ROUND {
            self.core.timers.stop(timer);
        }
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

/// How a step ended, for deciding what comes next.
enum StepEnd {
    /// A transfer was installed, or the zone is current and the profile ends the round there.
    Success,
    /// Try the next master in the round.
    NextMaster,
}

impl SecondaryZone {
    pub(crate) fn start(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.core.origin.clone();
        let restored = self.core.data.is_some();
        if restored {
            self.report_clamp(ctx, now);
        }
        if self.masters.is_empty() {
            ctx.emit(now, Some(&origin), EventKind::SecondaryRequiresMasters);
            return;
        }
        if restored {
            // BIND zone_postload: the first refresh of a zone loaded from disk comes after a
            // random part of RETRY, or at once if that is past expiry.
            let retry = self.soa_timers.map_or(Duration::from_secs(60), |t| t.retry);
            let retry_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            let delay = Duration::from_millis(retry_ms / 4 + ctx.rng.below(retry_ms - retry_ms / 4 + 1));
            let at = now + delay;
            let at = match self.expire_at() {
                Some(expire_at) if expire_at <= at => now,
                _ => at,
            };
            self.schedule_round(TimerName::Refresh, at);
        } else {
            self.schedule_round(TimerName::Refresh, now);
        }
    }

    /// Reports SOA timers the profile clamps, once per distinct SOA timers (BIND zone.c
    /// `dns__zone_xfrdone` RANGE; Knot refresh.c `limit_timer`).
    fn report_clamp(&mut self, ctx: &mut Ctx, now: Time) {
        let Some(history) = self.core.data.as_ref() else { return };
        let soa = history.zone().soa();
        let raw = (soa.refresh, soa.retry, soa.expire);
        let (refresh, retry, expire) = self.core.behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire);
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        let clamped = (secs(refresh), secs(retry), secs(expire));
        let origin = self.core.origin.clone();
        if clamped != raw && self.clamp_reported != Some(raw) {
            self.clamp_reported = Some(raw);
            let (refresh_secs, retry_secs, expire_secs) = clamped;
            ctx.emit(now, Some(&origin), EventKind::TimersClamped { refresh_secs, retry_secs, expire_secs });
        }
    }

    /// A new master list (the operator's fix for 6523).
    pub(crate) fn set_masters(&mut self, ctx: &mut Ctx, now: Time, masters: Vec<SocketAddr>) {
        self.masters = masters;
        if self.masters.is_empty() {
            ctx.emit(now, Some(&self.core.origin), EventKind::SecondaryRequiresMasters);
            return;
        }
        // A new list takes effect at the next round, as `rndc reconfig` does; if nothing is
        // scheduled (the list was empty), start now.
        let scheduled = TimerName::NEXT_ROUND.into_iter().any(|timer| self.core.timers.get(timer).is_some());
        if self.round.is_none() && !scheduled {
            self.schedule_round(TimerName::Refresh, now);
        }
    }

    /// A refresh asked by the operator (`rndc refresh`): a round now, unless one runs.
    pub(crate) fn refresh_now(&mut self, ctx: &mut Ctx, now: Time) {
        if self.round.is_none() {
            self.start_round(ctx, now, None);
        }
    }

    /// Runs the refresh timers due at `now`: expire first, then the next round or the current
    /// step's deadline, at most one of them per call.
    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx, now: Time) {
        // A copy that is already expired (a planted bug can extend it) stays expired.
        if self.core.fire(TimerName::Expire, now, &ctx.name) && !self.expired {
            self.expire(ctx, now);
        }
        if self.round.is_none() {
            if TimerName::NEXT_ROUND.into_iter().any(|timer| self.core.fire(timer, now, &ctx.name)) {
                self.start_round(ctx, now, None);
            }
            return;
        }
        if let Some(timer) = TimerName::STEP.into_iter().find(|&timer| self.core.fire(timer, now, &ctx.name)) {
            self.on_step_timer(ctx, now, timer);
        }
    }

    /// RFC 1034 §4.3.5: no successful check for EXPIRE seconds — the copy is obsolete. It is
    /// dropped (SERVFAIL from now on, RFC 1035 §6.3) and refreshing goes on at once (BIND
    /// `zone_maintenance` sets refreshtime = now; Knot `zone_perform_expire`).
    fn expire(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.core.origin.clone();
        let stale = self.core.data.take().filter(|_| self.core.behaviour.expired_keeps_copy);
        let forget_timers = self.core.behaviour.backoff_after_expiry;
        self.expired = true;
        self.stale = stale;
        self.core.timers.stop(TimerName::Expire);
        if forget_timers {
            // BIND `zone_expire` clears HAVETIMERS: retries back off again from the start.
            self.soa_timers = None;
            self.failed_rounds = 0;
        }
        ctx.emit(now, Some(&origin), EventKind::ZoneExpiration);
        if self.round.is_none() {
            self.start_round(ctx, now, None);
        }
    }

    pub(crate) fn start_round(&mut self, ctx: &mut Ctx, now: Time, notifier: Option<SocketAddr>) {
        let master_order = self.core.behaviour.master_order;
        if self.masters.is_empty() {
            // Nothing to ask (503 was reported); no refresh stays due, or the node would be
            // woken for it at once, forever.
            self.stop_round_timers();
            return;
        }
        let notifier = notifier.and_then(|n| self.masters.iter().position(|m| m.ip() == n.ip()));
        let order: Vec<SocketAddr> = match (master_order, notifier) {
            (MasterOrder::Configured, _) | (_, None) => self.masters.clone(),
            (MasterOrder::NotifierThenConfigured, Some(first)) => std::iter::once(self.masters[first])
                .chain(self.masters.iter().enumerate().filter(|(i, _)| *i != first).map(|(_, m)| *m))
                .collect(),
            (MasterOrder::NotifierThenOnwards, Some(first)) => self.masters[first..].to_vec(),
        };
        let notifier = notifier.map(|i| self.masters[i]);
        self.round = Some(Round {
            order,
            index: 0,
            step: Step::Idle,
            notifier,
            started: now,
            in_sync_at: None,
            last: LastAnswer::Nothing,
        });
        self.stop_round_timers();
        self.try_master(ctx, now);
    }

    /// Starts on the round's current master, skipping our own addresses (7062), or ends the
    /// round when the list is exhausted.
    fn try_master(&mut self, ctx: &mut Ctx, now: Time) {
        let origin = self.core.origin.clone();
        loop {
            let Some(master) = self.current_master() else {
                self.end_round(ctx, now, false);
                return;
            };
            if ctx.is_own_address(master) {
                ctx.emit(now, Some(&origin), EventKind::SelfSend { master });
                self.round_mut().index += 1;
                continue;
            }
            match self.core.behaviour.soa_query {
                SoaQuery::UdpThenTcp => self.soa_over_udp(ctx, now, master, self.core.behaviour.request_expire),
                SoaQuery::Tcp => self.soa_over_tcp(ctx, now, master),
                SoaQuery::IxfrDirect => self.start_transfer(ctx, now, master),
            }
            return;
        }
    }

    /// The current step's `timer` fired: resend or fall back (SOA over UDP), or give up on the
    /// master.
    fn on_step_timer(&mut self, ctx: &mut Ctx, now: Time, timer: TimerName) {
        let origin = self.core.origin.clone();
        let master = self.current_master().expect("a step runs against a master");
        match timer {
            TimerName::SoaQuery => {
                let ask_expire = self.core.behaviour.request_expire;
                let Step::SoaUdp { id, sends, edns } = &mut self.round_mut().step else {
                    unreachable!("the SOA query timer runs only while the query does")
                };
                let (id, edns) = (*id, *edns);
                if *sends < ctx.behaviour.timeouts.udp_sends {
                    *sends += 1;
                    self.core.timers.set(TimerName::SoaQuery, now + ctx.behaviour.timeouts.udp_query);
                    let query = wire::query_asking_expire(id, &origin, SOA, ask_expire && edns);
                    ctx.send_query(self.transfer_source, master, id, query);
                } else if edns && self.core.behaviour.soa_retry_without_edns {
                    // BIND zone.c `refresh_callback`: "refresh: timeout retrying without EDNS".
                    self.soa_over_udp(ctx, now, master, false);
                } else {
                    // BIND `try-tcp-refresh`: "refresh: retry limit for primary ... exceeded",
                    // then the SOA over TCP before the transfer.
                    self.soa_over_tcp(ctx, now, master);
                }
            }
            // No connection, or no SOA answer on it, in time.
            TimerName::Connect | TimerName::SoaAnswer => {
                ctx.emit(now, Some(&origin), EventKind::XfrMasterUnavailable { master, reason: Unreachable::Timeout });
                self.master_failed(ctx, now);
            }
            TimerName::TransferIdle | TimerName::TransferTotal => self.on_transfer_timer(ctx, now, master, timer),
            other => unreachable!("{other} is not a step timer"),
        }
    }

    pub(crate) fn on_connected(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        let origin = self.core.origin.clone();
        let ask_expire = self.core.behaviour.request_expire;
        let Some(round) = self.round.as_mut() else { return };
        match &mut round.step {
            Step::SoaTcp { conn: c, id } if *c == conn => {
                ctx.send_tcp(conn, wire::query_asking_expire(*id, &origin, SOA, ask_expire));
                self.core.timers.stop(TimerName::Connect);
                self.core.timers.set(TimerName::SoaAnswer, now + ctx.behaviour.timeouts.tcp_idle);
            }
            Step::Transfer(t) if t.conn == conn => self.on_transfer_connected(ctx, now),
            _ => {}
        }
    }

    pub(crate) fn on_connect_failed(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId, failure: ConnectFailure) {
        if self.step_conn() != Some(conn) {
            return;
        }
        let origin = self.core.origin.clone();
        let master = self.current_master().expect("a step runs against a master");
        let reason = match failure {
            ConnectFailure::Refused => Unreachable::ConnectionRefused,
            ConnectFailure::Unreachable => Unreachable::Timeout,
        };
        ctx.emit(now, Some(&origin), EventKind::XfrMasterUnavailable { master, reason });
        self.master_failed(ctx, now);
    }

    pub(crate) fn on_closed(&mut self, ctx: &mut Ctx, now: Time, conn: ConnId) {
        if self.step_conn() != Some(conn) {
            return;
        }
        // The peer closed first: forget the connection without emitting a Close for it.
        ctx.conns.remove(&conn);
        let origin = self.core.origin.clone();
        let master = self.current_master().expect("a step runs against a master");
        match &self.round_mut().step {
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
        if self.step_conn() != Some(conn) {
            return;
        }
        let origin = self.core.origin.clone();
        let master = self.current_master().expect("a step runs against a master");
        let message = Message::parse(payload);
        match &self.round_mut().step {
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
        self.round_mut().last = LastAnswer::Failed;
        self.finish_step(ctx, now, StepEnd::NextMaster);
    }

    fn finish_step(&mut self, ctx: &mut Ctx, now: Time, end: StepEnd) {
        self.leave_step(ctx);
        match end {
            StepEnd::Success => self.end_round(ctx, now, true),
            StepEnd::NextMaster => {
                self.round_mut().index += 1;
                self.try_master(ctx, now);
            }
        }
    }

    /// Ends the round. A success (installed, or current and the round ends there) restarts
    /// REFRESH; a round that ran out of masters is judged by the profile's `RoundVerdict`;
    /// failure waits RETRY, or the backoff while no SOA timers are known.
    fn end_round(&mut self, ctx: &mut Ctx, now: Time, success: bool) {
        let timers = self.core.data.as_ref().map(|h| SoaTimers::of(h.zone(), &self.core.behaviour));
        let behaviour = self.core.behaviour.clone();
        let round = self.round.take().expect("in a round");
        for timer in TimerName::STEP {
            self.core.timers.stop(timer);
        }
        if let Some(t) = timers {
            self.soa_timers = Some(t);
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
        let wait = match (refresh_from, self.soa_timers) {
            (Some(from), Some(t)) => {
                self.failed_rounds = 0;
                Some((from, t.refresh))
            }
            _ => None,
        };
        match wait {
            Some((from, refresh)) => {
                let at = from + ctx.jittered(refresh);
                self.schedule_round(TimerName::Refresh, at.max(now));
            }
            None => {
                let failed = self.failed_rounds;
                self.failed_rounds = failed.saturating_add(1);
                let wait = match self.soa_timers {
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
                let after = if self.soa_timers.is_some() { TimerName::Retry } else { TimerName::Backoff };
                self.schedule_round(after, (from + wait).max(now));
            }
        }
        if let Some(notifier) = self.queued_notify.take() {
            self.start_round(ctx, now, Some(notifier));
        }
    }

    /// A NOTIFY from a configured master (checked by the caller): refresh now, asking the
    /// notifier first where the profile does, or queue it behind the round in progress
    /// (RFC 1996 §3.11, §4.4).
    pub(crate) fn on_master_notify(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, hinted: Option<Serial>) {
        if let (Some(ours), Some(hint)) = (self.core.serial(), hinted)
            && self.core.behaviour.ignores_notify(hint, ours)
        {
            return;
        }
        if self.round.is_some() {
            self.queued_notify = Some(from);
        } else {
            self.start_round(ctx, now, Some(from));
        }
    }

    pub(crate) fn is_master(&self, from: SocketAddr) -> bool {
        // RFC 1996 §3.10 matches the source address; the port is ignored (BIND does too).
        self.masters.iter().any(|m| m.ip() == from.ip())
    }

    /// Seconds this copy has left before it expires, for EDNS EXPIRE answers (RFC 7314 §3).
    pub(crate) fn expire_left_secs(&self, now: Time) -> Option<u32> {
        let at = self.expire_at()?;
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
