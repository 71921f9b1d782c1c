//! Timeline faults: what each one does to the network, a server or a zone. The line it leaves
//! in the timeline (before the events it caused) is [`Fault::line`]'s, with a note when the
//! server it acts on is down.

use std::net::IpAddr;

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use xfrsim_engine::{Acl, Command, Time};
use xfrsim_scenario::{Endpoint, Fault, LinkShape, Protocol, ServerId, TimedFault, ZoneId};
use xfrsim_zone::{Change, Serial, ZoneRecord};

use super::Harness;
use crate::SimError;
use crate::network::{Filter, Protocols};

impl Harness {
    /// Every host address except `ip` and the silent ones (which have no links).
    fn others(&self, ip: IpAddr) -> Vec<IpAddr> {
        self.setup.host_addresses(false).into_iter().filter(|o| *o != ip).collect()
    }

    fn filter_both(&mut self, a: &Endpoint, b: &Endpoint, protocols: Protocols, filter: Filter) {
        self.net.net.set_filter(a.addr, b.addr, protocols, filter);
        self.net.net.set_filter(b.addr, a.addr, protocols, filter);
    }

    /// Hands a command to a server's node; `false` when the server is down.
    fn command(&mut self, server: ServerId, now: Time, command: Command) -> Result<bool, SimError> {
        let slot = self.slot(server).clone();
        match slot.with(|n| n.handle_command(now, command)) {
            None => Ok(false),
            Some(Ok(())) => {
                slot.wake.notify_one();
                Ok(true)
            }
            Some(Err(e)) => Err(SimError::Action(format!("{}: {e}", self.setup.server(server).name))),
        }
    }

    fn zone_name(&self, zone: ZoneId) -> Name {
        self.setup.zone(zone).name.clone()
    }

    pub(super) fn apply(&mut self, timed: &TimedFault, now: Time) -> Result<(), SimError> {
        let lines_before = self.recording.borrow().pending_len();
        // Whether the server acted on was up (network faults always apply), and for an
        // update, the owner it added.
        let mut applied = true;
        let mut update_owner = None;
        match &timed.fault {
            Fault::Partition(a, b) => self.filter_both(a, b, Protocols::Both, Filter::Drop),
            Fault::Reject(a, b) => self.filter_both(a, b, Protocols::Both, Filter::Reject),
            Fault::PartitionOneway(a, b) => self.net.net.set_filter(a.addr, b.addr, Protocols::Both, Filter::Drop),
            Fault::RejectOneway(a, b) => self.net.net.set_filter(a.addr, b.addr, Protocols::Both, Filter::Reject),
            Fault::Heal(a, b) => self.filter_both(a, b, Protocols::Both, Filter::Open),
            Fault::HealOneway(a, b) => self.net.net.set_filter(a.addr, b.addr, Protocols::Both, Filter::Open),
            Fault::Isolate(server) | Fault::Rejoin(server) => {
                let filter = if matches!(timed.fault, Fault::Isolate(_)) { Filter::Drop } else { Filter::Open };
                let ip = self.setup.server(*server).address();
                for other in self.others(ip) {
                    self.net.net.set_filter(ip, other, Protocols::Both, filter);
                    self.net.net.set_filter(other, ip, Protocols::Both, filter);
                }
            }
            Fault::Block { from, to, protocol, reject, oneway } => {
                let filter = if *reject { Filter::Reject } else { Filter::Drop };
                self.filter_protocol(from, to, *protocol, *oneway, filter);
            }
            Fault::Unblock { from, to, protocol, oneway } => {
                self.filter_protocol(from, to, *protocol, *oneway, Filter::Open);
            }
            Fault::Hold(a, b) => {
                for (from, to) in [(a.addr, b.addr), (b.addr, a.addr)] {
                    self.net.net.hold(from, to);
                }
            }
            Fault::Release(a, b) => {
                for (from, to) in [(a.addr, b.addr), (b.addr, a.addr)] {
                    self.net.net.release(from, to);
                }
            }
            Fault::Latency(a, b, latency) => {
                for (from, to) in [(a.addr, b.addr), (b.addr, a.addr)] {
                    self.net.net.set_latency(from, to, *latency, *latency);
                }
            }
            Fault::Loss(a, b, rate) => {
                for (from, to) in [(a.addr, b.addr), (b.addr, a.addr)] {
                    self.net.net.set_loss(from, to, *rate);
                }
            }
            Fault::Link(LinkShape { a, b, latency, jitter, loss, bandwidth }) => {
                for (from, to) in [(a.addr, b.addr), (b.addr, a.addr)] {
                    if latency.is_some() || jitter.is_some() {
                        let (base, _) = self.net.net.latency(from, to);
                        let base = latency.unwrap_or(base);
                        self.net.net.set_latency(from, to, base, base + jitter.unwrap_or_default());
                    }
                    if let Some(rate) = loss {
                        self.net.net.set_loss(from, to, *rate);
                    }
                    if let Some((bps, _)) = bandwidth {
                        self.net.net.set_bandwidth(from, to, Some(*bps));
                    }
                }
            }
            Fault::Crash(server) => self.crash_server(server.index()),
            Fault::Restart(server) => self.restart_server(server.index(), now)?,
            Fault::RestartWithSerial { server, zone, serial } => {
                let index = server.index();
                if self.servers[index].up {
                    self.crash_server(index);
                }
                let slot =
                    self.setup.server(*server).slot(*zone).expect("the loader checked the server holds the zone");
                let original = self.setup.zone(*zone).data.with_serial(Serial(*serial));
                self.servers[index].primary_data[slot] = Some(original);
                self.restart_server(index, now)?;
            }
            Fault::SetMasters { server, zone, masters, .. } => {
                let command = Command::SetMasters { zone: self.zone_name(*zone), masters: masters.clone() };
                applied = self.command(*server, now, command)?;
            }
            Fault::DenyTransfer { server, zone, peer } | Fault::AllowTransfer { server, zone, peer } => {
                let deny = matches!(timed.fault, Fault::DenyTransfer { .. });
                let slot =
                    self.setup.server(*server).slot(*zone).expect("the loader checked the server holds the zone");
                let everyone = || self.setup.host_addresses(true).into_iter().collect::<Vec<_>>();
                let mut list = self.servers[server.index()].acls[slot].clone().unwrap_or_else(everyone);
                list.retain(|ip| !peer.addresses.contains(ip));
                if !deny {
                    list.extend(peer.addresses.iter().copied());
                }
                self.servers[server.index()].acls[slot] = Some(list.clone());
                let command = Command::SetAllowTransfer { zone: self.zone_name(*zone), acl: Acl::hosts(list) };
                applied = self.command(*server, now, command)?;
            }
            Fault::Update { server, zone } => {
                self.update_counter += 1;
                let n = self.update_counter;
                let origin = self.zone_name(*zone);
                let owner = Name::from_ascii(format!("upd{n}")).and_then(|l| l.append_domain(&origin));
                let owner = owner.map_err(|e| SimError::Action(e.to_string()))?;
                let [_, _, hi, lo] = n.to_be_bytes();
                let record = ZoneRecord::from_hickory(&Record::from_rdata(
                    owner.clone(),
                    300,
                    RData::A(A::new(198, 51, hi, lo)),
                ))
                .map_err(|e| SimError::Action(e.to_string()))?;
                let command = Command::Update { zone: origin, changes: vec![Change::Add(record)] };
                applied = self.command(*server, now, command)?;
                update_owner = Some(xfrsim_zone::Dname::from_hickory(&owner).to_string());
            }
            Fault::Updates { .. } => unreachable!("the schedule holds single updates"),
            Fault::CutTransfers { server, after_messages } => {
                self.slot(*server).cut_transfers_after.set(Some(*after_messages));
            }
            Fault::StopCutting(server) => self.slot(*server).cut_transfers_after.set(None),
            Fault::Rollback { server, zone, serial } => {
                let original = self.setup.zone(*zone).data.with_serial(Serial(*serial));
                applied = self.command(*server, now, Command::Reload { zone: Box::new(original) })?;
            }
            Fault::Refresh { server, zone } => {
                applied = self.command(*server, now, Command::Refresh { zone: self.zone_name(*zone) })?;
            }
        }
        let target = timed.fault.server().map_or_else(|| "*".to_string(), |s| self.setup.server(s).name.clone());
        let note = if applied { "" } else { " (server down: skipped)" };
        let text = timed.fault.line(&self.setup, update_owner.as_deref());
        // The action line goes before the events it caused (already recorded by `command`).
        self.recording.borrow_mut().insert_line(lines_before, format!("{now} {target} action {text}{note}"));
        Ok(())
    }

    /// One protocol filtered from `from` to `to`, and back unless `oneway`.
    fn filter_protocol(&mut self, from: &Endpoint, to: &Endpoint, protocol: Protocol, oneway: bool, filter: Filter) {
        let protocols = match protocol {
            Protocol::Tcp => Protocols::Tcp,
            Protocol::Udp => Protocols::Udp,
        };
        self.net.net.set_filter(from.addr, to.addr, protocols, filter);
        if !oneway {
            self.net.net.set_filter(to.addr, from.addr, protocols, filter);
        }
    }
}
