//! How long after the heal every server must agree: a bound computed from the zone's own SOA
//! timers and each secondary's profile (its clamps, backoffs and network timeouts), never a
//! constant picked to make runs pass. The formula is in docs/exploring.md.
//!
//! The timers a secondary runs by come from the engine's own rules, [`Behaviour::clamp_timers`]
//! and [`Behaviour::expire_after_answer`], never from a copy of them here: a copy drifts (BIND
//! keeps EXPIRE at least REFRESH + RETRY, so SOA timers 1 d, 1 h, 1 d expire after 25 h).
//! The same timers give the expire intervals the outside checkers hold each secondary to.
//!
//! A leaf: it takes the timers and behaviours it needs, not the plan they come from.

use std::time::Duration;

use xfrsim_engine::{Backoff, Behaviour};
use xfrsim_zone::Soa;

/// Slack for the messages of one refresh and transfer on a healed link (default latency is at
/// most 20 ms a message; a transfer of the largest explored zone is a few dozen messages).
pub const LATENCY_ALLOWANCE: Duration = Duration::from_secs(60);

/// A zone's SOA REFRESH, RETRY and EXPIRE as its primary serves them, before any secondary
/// clamps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    pub refresh_secs: u32,
    pub retry_secs: u32,
    pub expire_secs: u32,
}

impl SoaTimers {
    /// From a scenario's durations: whole seconds, at most `u32::MAX` (the SOA fields are 32
    /// bits, RFC 1035 §3.3.13; the scenario loader refuses anything else before a run).
    pub fn from_durations(refresh: Duration, retry: Duration, expire: Duration) -> SoaTimers {
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        SoaTimers { refresh_secs: secs(refresh), retry_secs: secs(retry), expire_secs: secs(expire) }
    }

    /// The REFRESH, RETRY and EXPIRE a secondary with `behaviour` runs the zone by.
    pub fn clamped(self, behaviour: &Behaviour) -> Clamped {
        let (refresh, retry, expire) = behaviour.clamp_timers(self.refresh_secs, self.retry_secs, self.expire_secs);
        Clamped { refresh, retry, expire }
    }
}

impl From<&Soa> for SoaTimers {
    fn from(soa: &Soa) -> SoaTimers {
        SoaTimers { refresh_secs: soa.refresh, retry_secs: soa.retry, expire_secs: soa.expire }
    }
}

/// [`SoaTimers`] as one secondary uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamped {
    pub refresh: Duration,
    pub retry: Duration,
    pub expire: Duration,
}

/// How long a secondary's copy must stay unexpired after each kind of contact with its master
/// (RFC 1034 §4.3.5: expire counts from the last successful refresh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireIntervals {
    /// After a transfer (6520): the clamped EXPIRE (a primary's transfers carry no EDNS
    /// EXPIRE: the engine serves as BIND lib/ns/xfrout.c does).
    pub after_transfer: Duration,
    /// After an answer with our serial (6521): the clamped EXPIRE, or the primary's EDNS
    /// EXPIRE (its own SOA EXPIRE, unclamped) where both use the option and that is smaller.
    pub after_in_sync: Duration,
}

/// The expire intervals of a `secondary` of `primary` for a zone with `timers`, through the
/// secondary's own clamp and EDNS EXPIRE rule ([`Behaviour::expire_after_answer`]).
pub fn expire_intervals(secondary: &Behaviour, primary: &Behaviour, timers: SoaTimers) -> ExpireIntervals {
    let clamped = timers.clamped(secondary).expire;
    let offered = primary.request_expire.then_some(timers.expire_secs);
    ExpireIntervals {
        after_transfer: secondary.expire_after_answer(clamped, None),
        after_in_sync: secondary.expire_after_answer(clamped, offered),
    }
}

/// The longest one refresh round can take against `masters` masters that do not answer: per
/// master, every UDP SOA try times out, then the TCP connect and the TCP answer (the
/// profile's `Timeouts`).
pub fn round_time(behaviour: &Behaviour, masters: u32) -> Duration {
    let t = &behaviour.timeouts;
    let per_master = t.udp_query * t.udp_sends.saturating_mul(2) + t.tcp_connect + t.tcp_idle;
    per_master * masters
}

/// The longest a secondary with this behaviour may wait before its next refresh round:
/// REFRESH after a success, RETRY after a failure (doubled up to a day where the profile backs
/// off RETRY, NSD), the profile's backoff before the first load or after expiry.
pub fn longest_wait(behaviour: &Behaviour, timers: SoaTimers) -> Duration {
    let Clamped { refresh, retry, .. } = timers.clamped(behaviour);
    let retry = if behaviour.retry_backoff { retry.max(Duration::from_secs(86_400)) } else { retry };
    let backoff = match behaviour.backoff {
        Backoff::Doubling { max, .. } => max,
        Backoff::Squares { max, random, .. } => max + random,
    };
    refresh.max(retry).max(backoff)
}

/// How long a transfer under way at the heal may still hold the zone: healed links carry
/// again (TCP retransmits what the fault dropped), so it either finishes or stalls; a stalled
/// one is abandoned after `max_transfer_idle_in`, and in any case after
/// `max_transfer_time_in`.
pub fn hung_transfer(behaviour: &Behaviour) -> Duration {
    behaviour.max_transfer_idle_in.min(behaviour.max_transfer_time_in)
}

/// The convergence bound after the heal for `secondaries` holding a zone with `timers`: the
/// worst secondary's `hung_transfer + round + longest_wait + round + LATENCY_ALLOWANCE`.
///
/// Why each term: a transfer hung when the heal comes is abandoned by `hung_transfer`;
/// a round already under way may still time out against masters that were unreachable when
/// it began (`round`); then the secondary waits at most `longest_wait` and the next round, on
/// healed links, succeeds (`round` again covers the retries inside it).
pub fn convergence_bound<'a>(secondaries: impl IntoIterator<Item = &'a Behaviour>, timers: SoaTimers) -> Duration {
    secondaries
        .into_iter()
        .map(|behaviour| {
            // A wrong master list at the heal has at most two entries.
            let round = round_time(behaviour, 2);
            hung_transfer(behaviour) + round + longest_wait(behaviour, timers) + round
        })
        .max()
        .unwrap_or_default()
        + LATENCY_ALLOWANCE
}
