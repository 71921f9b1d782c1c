//! A zone's timers, by name: one slot per [`TimerName`] in a fixed table, so what is armed is
//! visible in one place, the node's next deadline is the table's earliest entry, and a timer
//! that fires is traced by its name (target `xfrsim::timer`, at debug level: tracing only, never
//! a timeline line). The shape is quinn-proto's `TimerTable`.
//!
//! A slot is disarmed when it fires; the code it runs arms whatever comes next.

use core::fmt;

use hickory_proto::rr::Name;

use crate::Time;

/// Every timer a zone has. The order is the tie-break of [`TimerTable::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerName {
    /// `notify-delay` is over: the NOTIFY held back for the newest version goes out (BIND ARM
    /// `notify-delay`).
    NotifyDelay,
    /// The earliest NOTIFY retransmission or TCP-try deadline over all targets. The per-target
    /// times stay with each target's transaction (RFC 1996 §3.6); this slot is kept equal to
    /// their minimum.
    NotifyRetransmit,
    /// The copy's EXPIRE is reached without a successful refresh (RFC 1034 §4.3.5).
    Expire,
    /// The next refresh round after a current copy: REFRESH, jittered.
    Refresh,
    /// The next round after a failed one, the SOA timers known: RETRY (backed off where the
    /// profile says so).
    Retry,
    /// The next round after a failed one, no SOA timers known: the profile's backoff.
    Backoff,
    /// One UDP SOA query's wait for an answer, per send.
    SoaQuery,
    /// A TCP connect toward a master, for an SOA query or a transfer.
    Connect,
    /// The SOA answer on a TCP connection that is up.
    SoaAnswer,
    /// No message of an incoming transfer for `max-transfer-idle-in`.
    TransferIdle,
    /// An incoming transfer running past `max-transfer-time-in`.
    TransferTotal,
}

impl TimerName {
    const COUNT: usize = 11;

    pub const ALL: [TimerName; TimerName::COUNT] = [
        TimerName::NotifyDelay,
        TimerName::NotifyRetransmit,
        TimerName::Expire,
        TimerName::Refresh,
        TimerName::Retry,
        TimerName::Backoff,
        TimerName::SoaQuery,
        TimerName::Connect,
        TimerName::SoaAnswer,
        TimerName::TransferIdle,
        TimerName::TransferTotal,
    ];

    /// The timers that schedule the next refresh round; at most one is armed, and none while
    /// a round runs.
    pub const NEXT_ROUND: [TimerName; 3] = [TimerName::Refresh, TimerName::Retry, TimerName::Backoff];

    /// The timers of a round's current step; all are stopped when the step changes. A
    /// transfer's total time comes before its idle time, so a transfer over both limits at
    /// once is reported as over time.
    pub const STEP: [TimerName; 5] = [
        TimerName::TransferTotal,
        TimerName::TransferIdle,
        TimerName::SoaQuery,
        TimerName::Connect,
        TimerName::SoaAnswer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimerName::NotifyDelay => "notify-delay",
            TimerName::NotifyRetransmit => "notify-retransmit",
            TimerName::Expire => "expire",
            TimerName::Refresh => "refresh",
            TimerName::Retry => "retry",
            TimerName::Backoff => "backoff",
            TimerName::SoaQuery => "soa-query",
            TimerName::Connect => "connect",
            TimerName::SoaAnswer => "soa-answer",
            TimerName::TransferIdle => "transfer-idle",
            TimerName::TransferTotal => "transfer-total",
        }
    }
}

impl fmt::Display for TimerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When each of a zone's timers is due; `None`: not armed.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    due: [Option<Time>; TimerName::COUNT],
}

impl TimerTable {
    pub fn set(&mut self, timer: TimerName, at: Time) {
        self.due[timer as usize] = Some(at);
    }

    /// Arms `timer` at `at`, or stops it for `None`.
    pub fn set_or_stop(&mut self, timer: TimerName, at: Option<Time>) {
        self.due[timer as usize] = at;
    }

    pub fn stop(&mut self, timer: TimerName) {
        self.due[timer as usize] = None;
    }

    pub fn get(&self, timer: TimerName) -> Option<Time> {
        self.due[timer as usize]
    }

    /// The earliest armed timer; of timers due at the same time, the first declared.
    pub fn next(&self) -> Option<(Time, TimerName)> {
        TimerName::ALL.into_iter().filter_map(|timer| Some((self.get(timer)?, timer))).min()
    }

    /// Fires `timer` if it is due at `now`: disarms it, traces it with the zone's and the
    /// node's names, and returns true.
    pub fn fire(&mut self, timer: TimerName, now: Time, node: &str, zone: &Name) -> bool {
        let Some(at) = self.get(timer).filter(|at| *at <= now) else { return false };
        self.stop(timer);
        tracing::debug!(target: "xfrsim::timer", node, %zone, timer = timer.as_str(), %at, %now, "timer fired");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{TimerName, TimerTable};
    use crate::Time;

    #[test]
    fn next_is_the_earliest_armed_timer_and_ties_go_to_the_first_declared() {
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(TimerName::Expire, Time::from_secs(50));
        table.set(TimerName::TransferIdle, Time::from_secs(10));
        table.set(TimerName::TransferTotal, Time::from_secs(10));
        assert_eq!(table.next(), Some((Time::from_secs(10), TimerName::TransferIdle)));
        table.stop(TimerName::TransferIdle);
        table.stop(TimerName::TransferTotal);
        assert_eq!(table.next(), Some((Time::from_secs(50), TimerName::Expire)));
    }

    #[test]
    fn a_timer_fires_once_when_due_and_not_before() {
        let zone = hickory_proto::rr::Name::from_ascii("example.com.").unwrap();
        let mut table = TimerTable::default();
        table.set(TimerName::Refresh, Time::from_secs(5));
        assert!(!table.fire(TimerName::Refresh, Time::from_secs(4), "n", &zone));
        assert!(!table.fire(TimerName::Retry, Time::from_secs(5), "n", &zone));
        assert!(table.fire(TimerName::Refresh, Time::from_secs(5), "n", &zone));
        assert!(!table.fire(TimerName::Refresh, Time::from_secs(6), "n", &zone));
        assert_eq!(table.next(), None);
    }

    #[test]
    fn every_timer_has_its_own_slot_and_name() {
        for (index, timer) in TimerName::ALL.into_iter().enumerate() {
            assert_eq!(timer as usize, index);
        }
        let names: std::collections::BTreeSet<&str> = TimerName::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), TimerName::ALL.len());
    }
}
