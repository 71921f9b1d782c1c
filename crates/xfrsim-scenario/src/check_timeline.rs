//! The timeline's checks: each action names what exists and fits the simulation, and no held
//! link is changed before it is released.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::checker::Checker;
use crate::diagnostics::Diagnostic;
use crate::fault::{Endpoint, Fault, LinkChange, TimedFault};
use crate::fmt_duration;
use crate::model::{self, Action};

impl Checker<'_> {
    /// A held link keeps its queued traffic until `Release`; cutting or healing it meanwhile
    /// would leave that traffic in limbo, so the timeline must release it first. Links to
    /// silent hosts are held for good and cannot be touched at all. Checked on the lowered
    /// timeline, where every link end is an address ([`Fault::link`] says which links a step
    /// changes), so `Hold("ns1", "192.0.2.2")` and `Isolate("ns2")` meet.
    pub(crate) fn check_holds(&self, timeline: &[TimedFault]) -> Result<(), Diagnostic> {
        let silent: BTreeSet<IpAddr> = self.scenario.silent_hosts.iter().copied().collect();
        let positions = self.action_positions();
        let mut steps: Vec<&TimedFault> = timeline.iter().collect();
        steps.sort_by_key(|timed| timed.at);
        let key = |a: IpAddr, b: IpAddr| if a <= b { (a, b) } else { (b, a) };
        let mut held: BTreeSet<(IpAddr, IpAddr)> = BTreeSet::new();
        for timed in steps {
            if let Some(&at) = positions.get(timed.step) {
                self.anchor.set(at);
            }
            let Some(link) = timed.fault.link() else { continue };
            let (a, b) = match link {
                LinkChange::Between(a, b) => (a.clone(), Some(b)),
                LinkChange::AllOf(server) => {
                    let server = &self.scenario.servers[server.index()];
                    (Endpoint { addr: server.address, written: server.name.clone() }, None)
                }
            };
            if let Some(host) = [Some(&a), b].into_iter().flatten().find(|h| silent.contains(&h.addr)) {
                let host = &host.written;
                return Err(self
                    .error_at(
                        host,
                        format!("`{host}` is a silent host: nothing routes to it, so it has no link to change"),
                    )
                    .label("silent host")
                    .hint("a silent host has no links; change the links of the server that talks to it"));
            }
            let touches_held = match b {
                Some(b) => held.contains(&key(a.addr, b.addr)),
                None => held.iter().any(|(x, y)| *x == a.addr || *y == a.addr),
            };
            match (&timed.fault, b) {
                (Fault::Hold(..), Some(b)) => {
                    held.insert(key(a.addr, b.addr));
                }
                (Fault::Release(..), Some(b)) => {
                    held.remove(&key(a.addr, b.addr));
                }
                _ if touches_held => {
                    let a = &a.written;
                    return Err(self
                        .error_at(
                            a,
                            format!(
                                "a link of `{a}` is held at {}; Release it before changing it",
                                fmt_duration(timed.at)
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
