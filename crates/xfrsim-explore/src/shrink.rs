//! Shrinking a failing plan: greedily remove faults, then servers, then shorten faults and
//! the safety phase, keeping each change only when the plan still fails the same way (the
//! same [`Verdict::signature`]). Greedy one-at-a-time removal (as in delta debugging's last
//! phase) is enough here: schedules hold at most ten faults.

use std::time::Duration;

use xfrsim_engine::Canary;

use crate::{Plan, judge};

/// Judgements a shrink may spend: each costs two runs.
pub const MAX_TRIES: usize = 150;

/// The smallest plan found that fails as `plan` does (`plan` itself when nothing smaller does).
pub fn shrink(plan: &Plan, canary: Option<Canary>, signature: &str) -> Plan {
    let mut best = plan.clone();
    let mut tries = 0;
    let mut still_fails = |candidate: &Plan| {
        tries += 1;
        tries <= MAX_TRIES && judge(candidate, canary).is_ok_and(|v| v.signature().as_deref() == Some(signature))
    };
    // Faults, one at a time, until none can go.
    let mut i = 0;
    while i < best.faults.len() {
        let mut candidate = best.clone();
        candidate.faults.remove(i);
        if still_fails(&candidate) {
            best = candidate;
        } else {
            i += 1;
        }
    }
    // Secondaries from the last, taking the faults that touch them along.
    while best.profiles.len() > 2 {
        let gone = best.profiles.len() - 1;
        let mut candidate = best.clone();
        candidate.profiles.pop();
        candidate.faults.retain(|f| f.a != gone && f.b != gone);
        if !still_fails(&candidate) {
            break;
        }
        best = candidate;
    }
    // Each fault halved while it still fails, down to 30 s.
    for i in 0..best.faults.len() {
        while best.faults[i].len > Duration::from_secs(60) {
            let mut candidate = best.clone();
            candidate.faults[i].len /= 2;
            if !still_fails(&candidate) {
                break;
            }
            best = candidate;
        }
    }
    // The safety phase cut to just after the last fault ends (whole hours, as generated).
    let last_end = best.faults.iter().map(|f| f.at + f.len).max().unwrap_or_default();
    let hours = last_end.as_secs().div_ceil(3600).max(1);
    let heal_at = Duration::from_secs(hours * 3600);
    if heal_at < best.heal_at {
        let mut candidate = best.clone();
        candidate.heal_at = heal_at;
        if still_fails(&candidate) {
            best = candidate;
        }
    }
    best
}
