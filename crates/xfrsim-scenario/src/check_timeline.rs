//! The timeline's checks: each action names what exists and fits the simulation, and no held
//! link is changed before it is released.

use std::collections::BTreeSet;

use crate::checker::Checker;
use crate::diagnostics::Diagnostic;
use crate::fmt_duration;
use crate::model::{self, Action, Step};

impl Checker<'_> {
    /// A held link keeps its queued traffic until `Release`; cutting or healing it meanwhile
    /// would leave that traffic in limbo, so the timeline must release it first. Links to
    /// silent hosts are held for good and cannot be touched at all.
    pub(crate) fn check_holds(&self) -> Result<(), Diagnostic> {
        let s = self.scenario;
        let ip = |reference: &str| s.resolve(reference).map(|a| a.ip());
        let silent = |reference: &str| ip(reference).is_some_and(|a| s.silent_hosts.contains(&a));
        let positions = self.action_positions();
        let mut steps: Vec<(usize, &Step)> = s.timeline.iter().enumerate().collect();
        steps.sort_by_key(|(_, step)| step.at);
        let mut held: BTreeSet<(String, String)> = BTreeSet::new();
        // Links are keyed by address, so `Hold("ns1", "192.0.2.2")` and `Isolate("ns2")` meet.
        let addr = |reference: &str| ip(reference).map_or_else(|| reference.to_string(), |a| a.to_string());
        let key = |a: &str, b: &str| {
            let (a, b) = (addr(a), addr(b));
            if a <= b { (a, b) } else { (b, a) }
        };
        for (i, step) in steps {
            if let Some(&at) = positions.get(i) {
                self.anchor.set(at);
            }
            let Some((a, b)) = step.action.link_ends() else { continue };
            if let Some(host) = [Some(a), b].into_iter().flatten().find(|h| silent(h)) {
                return Err(self
                    .error_at(
                        host,
                        format!("`{host}` is a silent host: nothing routes to it, so it has no link to change"),
                    )
                    .label("silent host")
                    .hint("a silent host has no links; change the links of the server that talks to it"));
            }
            let touches_held = match b {
                Some(b) => held.contains(&key(a, b)),
                None => held.iter().any(|(x, y)| *x == addr(a) || *y == addr(a)),
            };
            match &step.action {
                Action::Hold(_, b) => {
                    held.insert(key(a, b));
                }
                Action::Release(_, b) => {
                    held.remove(&key(a, b));
                }
                _ if touches_held => {
                    return Err(self
                        .error_at(
                            a,
                            format!(
                                "a link of `{a}` is held at {}; Release it before changing it",
                                fmt_duration(step.at)
                            ),
                        )
                        .label("held link")
                        .hint("add `Release(...)` for this link before this step"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub(crate) fn check_action(&self, action: &Action) -> Result<(), Diagnostic> {
        match action {
            Action::Partition(a, b)
            | Action::PartitionOneway(a, b)
            | Action::Reject(a, b)
            | Action::RejectOneway(a, b)
            | Action::Heal(a, b)
            | Action::HealOneway(a, b)
            | Action::Block { from: a, to: b, .. }
            | Action::Unblock { from: a, to: b, .. }
            | Action::Hold(a, b)
            | Action::Release(a, b) => self.link_ends(a, b)?,
            Action::Latency(a, b, latency) => {
                self.link_ends(a, b)?;
                self.check_latency("Latency", *latency)?;
            }
            Action::Link { a, b, latency, jitter, loss, bandwidth } => {
                self.link_ends(a, b)?;
                for (field, value) in [("latency", latency), ("jitter", jitter)] {
                    if let Some(value) = value {
                        self.check_latency(field, *value)?;
                    }
                }
                if let Some(rate) = loss.filter(|r| !(0.0..=1.0).contains(r)) {
                    return Err(self
                        .error_at(a, format!("loss rate {rate} is not between 0 and 1"))
                        .label("not a probability")
                        .hint("a loss rate is a probability: 0.01 loses one packet in a hundred"));
                }
                if let Some(text) = bandwidth.as_deref().filter(|t| model::parse_bandwidth(t).is_none()) {
                    return Err(self
                        .error_at(
                            "bandwidth:",
                            format!("bandwidth `{text}` is not a positive number with a unit bit, kbit, Mbit or Gbit"),
                        )
                        .label("not a bandwidth")
                        .hint("write e.g. `\"512kbit\"`, `\"10Mbit\"`, `\"1Gbit\"`"));
                }
            }
            Action::Loss(a, b, rate) => {
                self.link_end(a)?;
                self.link_end(b)?;
                if !(0.0..=1.0).contains(rate) {
                    return Err(self
                        .error_at(a, format!("loss rate {rate} is not between 0 and 1"))
                        .label("not a probability")
                        .hint("a loss rate is a probability: 0.01 loses one packet in a hundred"));
                }
            }
            Action::Isolate(server)
            | Action::Rejoin(server)
            | Action::Crash(server)
            | Action::Restart(server)
            | Action::StopCutting(server)
            | Action::CutTransfers { server, .. } => {
                self.server(server)?;
            }
            Action::RestartWithSerial { server, zone, .. } | Action::Rollback { server, zone, .. } => {
                self.zone_on(server, zone, Some(true))?;
            }
            Action::Update { server, zone } => self.zone_on(server, zone, Some(true))?,
            Action::Updates { server, zone, every, until } => {
                self.zone_on(server, zone, Some(true))?;
                if every.is_zero() {
                    return Err(self
                        .error_at("every", "Updates: `every` must be greater than zero".into())
                        .label("zero")
                        .hint("give the interval between updates, e.g. `every: \"5m\"`"));
                }
                self.check_ms("every", *every)?;
                if *until > self.scenario.duration {
                    return Err(self
                        .error_at(
                            "until",
                            format!("Updates: `until` {} is past the end of the scenario", fmt_duration(*until)),
                        )
                        .label("after the end")
                        .hint("end the updates before the scenario ends, or lengthen `duration`"));
                }
            }
            Action::SetMasters { server, zone, masters } => {
                self.zone_on(server, zone, Some(false))?;
                for m in masters {
                    self.check_peer(m)?;
                }
            }
            Action::DenyTransfer { server, zone, peer } | Action::AllowTransfer { server, zone, peer } => {
                self.zone_on(server, zone, None)?;
                self.check_peer(peer)?;
            }
            Action::Refresh { server, zone } => self.zone_on(server, zone, Some(false))?,
        }
        Ok(())
    }
}
