//! How long after the heal every server must agree: a bound computed from the zone's own SOA
//! timers and each secondary's profile (its clamps, backoffs and network timeouts), never a
//! constant picked to make runs pass. The formula is in docs/exploring.md.

use std::time::Duration;

use xfrsim_engine::{Backoff, Behaviour};

use crate::plan::Plan;

/// Slack for the messages of one refresh and transfer on a healed link (default latency is at
/// most 20 ms a message; a transfer of the largest explored zone is a few dozen messages).
pub const LATENCY_ALLOWANCE: Duration = Duration::from_secs(60);

fn clamp(value: Duration, low: Duration, high: Duration) -> Duration {
    value.max(low).min(high)
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
pub fn longest_wait(behaviour: &Behaviour, refresh: Duration, retry: Duration) -> Duration {
    let refresh = clamp(refresh, behaviour.min_refresh, behaviour.max_refresh);
    let retry = clamp(retry, behaviour.min_retry, behaviour.max_retry);
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

/// The convergence bound after the heal: the worst secondary's
/// `hung_transfer + round + longest_wait + round + LATENCY_ALLOWANCE`.
///
/// Why each term: a transfer hung when the heal comes is abandoned by `hung_transfer`;
/// a round already under way may still time out against masters that were unreachable when
/// it began (`round`); then the secondary waits at most `longest_wait` and the next round, on
/// healed links, succeeds (`round` again covers the retries inside it).
pub fn convergence_bound(plan: &Plan) -> Duration {
    plan.profiles
        .iter()
        .skip(1)
        .map(|profile| {
            let behaviour = Behaviour::of(profile.engine());
            // A wrong master list at the heal has at most two entries.
            let round = round_time(&behaviour, 2);
            hung_transfer(&behaviour) + round + longest_wait(&behaviour, plan.refresh, plan.retry) + round
        })
        .max()
        .unwrap_or_default()
        + LATENCY_ALLOWANCE
}
