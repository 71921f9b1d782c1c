//! Timeline actions: what each scenario step does to the network, a server or a zone, and the
//! line it leaves in the timeline (before the events it caused).

use std::net::IpAddr;

use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};
use xfrsim_engine::{Acl, Command, Time};
use xfrsim_scenario::{Action, Protocol, Step};
use xfrsim_zone::{Change, Serial, ZoneRecord};

use super::{Harness, peer_ips};
use crate::SimError;
use crate::network::{Filter, Protocols};

impl Harness {
    /// Every host address except `ip` and the silent ones (which have no links).
    fn others(&self, ip: IpAddr) -> Vec<IpAddr> {
        let scenario = &self.loaded.scenario;
        scenario.host_addresses().into_iter().filter(|o| *o != ip && !scenario.silent_hosts.contains(o)).collect()
    }

    fn filter_both(&mut self, a: IpAddr, b: IpAddr, protocols: Protocols, filter: Filter) {
        self.net.set_filter(a, b, protocols, filter);
        self.net.set_filter(b, a, protocols, filter);
    }

    fn index(&self, name: &str) -> usize {
        self.loaded.scenario.server_index(name).expect("validated server name")
    }

    fn ip_of(&self, reference: &str) -> IpAddr {
        match self.loaded.scenario.server_index(reference) {
            Some(i) => self.servers[i].address,
            None => reference.parse().expect("validated host address"),
        }
    }

    fn command(&mut self, server: &str, now: Time, command: Command) -> Result<bool, SimError> {
        let index = self.index(server);
        let slot = self.servers[index].slot.clone();
        match slot.with(|n| n.handle_command(now, command)) {
            None => Ok(false),
            Some(Ok(())) => {
                slot.wake.notify_one();
                Ok(true)
            }
            Some(Err(e)) => Err(SimError::Action(format!("{server}: {e}"))),
        }
    }

    pub(super) fn apply(&mut self, step: &Step, now: Time) -> Result<(), SimError> {
        let lines_before = self.recording.borrow().pending_len();
        let (target, text) = match &step.action {
            Action::Partition(a, b) | Action::Reject(a, b) => {
                let reject = matches!(step.action, Action::Reject(..));
                let filter = if reject { Filter::Reject } else { Filter::Drop };
                self.filter_both(self.ip_of(a), self.ip_of(b), Protocols::Both, filter);
                ("*".to_string(), format!("{} {a} {b}", if reject { "Reject" } else { "Partition" }))
            }
            Action::PartitionOneway(a, b) | Action::RejectOneway(a, b) => {
                let reject = matches!(step.action, Action::RejectOneway(..));
                let filter = if reject { Filter::Reject } else { Filter::Drop };
                self.net.set_filter(self.ip_of(a), self.ip_of(b), Protocols::Both, filter);
                ("*".to_string(), format!("{} {a} {b}", if reject { "RejectOneway" } else { "PartitionOneway" }))
            }
            Action::Heal(a, b) => {
                self.filter_both(self.ip_of(a), self.ip_of(b), Protocols::Both, Filter::Open);
                ("*".to_string(), format!("Heal {a} {b}"))
            }
            Action::HealOneway(a, b) => {
                self.net.set_filter(self.ip_of(a), self.ip_of(b), Protocols::Both, Filter::Open);
                ("*".to_string(), format!("HealOneway {a} {b}"))
            }
            Action::Isolate(s) | Action::Rejoin(s) => {
                let isolate = matches!(step.action, Action::Isolate(_));
                let ip = self.ip_of(s);
                for other in self.others(ip) {
                    self.filter_both(ip, other, Protocols::Both, if isolate { Filter::Drop } else { Filter::Open });
                }
                (s.clone(), if isolate { "Isolate" } else { "Rejoin" }.to_string())
            }
            Action::Block { from, to, protocol, oneway, .. } | Action::Unblock { from, to, protocol, oneway } => {
                let block = matches!(step.action, Action::Block { .. });
                let reject = matches!(step.action, Action::Block { reject: true, .. });
                let filter = match (block, reject) {
                    (false, _) => Filter::Open,
                    (true, false) => Filter::Drop,
                    (true, true) => Filter::Reject,
                };
                let protocols = match protocol {
                    Protocol::Tcp => Protocols::Tcp,
                    Protocol::Udp => Protocols::Udp,
                };
                let (x, y) = (self.ip_of(from), self.ip_of(to));
                self.net.set_filter(x, y, protocols, filter);
                if !oneway {
                    self.net.set_filter(y, x, protocols, filter);
                }
                let verb = if block { "Block" } else { "Unblock" };
                let how = match (reject, *oneway) {
                    (true, true) => " reject oneway",
                    (true, false) => " reject",
                    (false, true) => " oneway",
                    (false, false) => "",
                };
                ("*".to_string(), format!("{verb} {protocol:?} {from} {to}{how}"))
            }
            Action::Hold(a, b) | Action::Release(a, b) => {
                let hold = matches!(step.action, Action::Hold(..));
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    if hold { self.net.hold(from, to) } else { self.net.release(from, to, now) }
                }
                ("*".to_string(), format!("{} {a} {b}", if hold { "Hold" } else { "Release" }))
            }
            Action::Latency(a, b, latency) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    self.net.set_latency(from, to, *latency, *latency);
                }
                ("*".to_string(), format!("Latency {a} {b} {}", xfrsim_scenario::fmt_duration(*latency)))
            }
            Action::Loss(a, b, rate) => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                for (from, to) in [(x, y), (y, x)] {
                    self.net.set_loss(from, to, *rate);
                }
                ("*".to_string(), format!("Loss {a} {b} {rate}"))
            }
            Action::Link { a, b, latency, jitter, loss, bandwidth } => {
                let (x, y) = (self.ip_of(a), self.ip_of(b));
                let mut text = format!("Link {a} {b}");
                let fmt = xfrsim_scenario::fmt_duration;
                for (from, to) in [(x, y), (y, x)] {
                    if latency.is_some() || jitter.is_some() {
                        let (base, _) = self.net.latency(from, to);
                        let base = latency.unwrap_or(base);
                        self.net.set_latency(from, to, base, base + jitter.unwrap_or_default());
                    }
                    if let Some(rate) = loss {
                        self.net.set_loss(from, to, *rate);
                    }
                    if let Some(bandwidth) = bandwidth {
                        self.net.set_bandwidth(from, to, xfrsim_scenario::parse_bandwidth(bandwidth));
                    }
                }
                if let Some(latency) = latency {
                    text.push_str(&format!(" latency={}", fmt(*latency)));
                }
                if let Some(jitter) = jitter {
                    text.push_str(&format!(" jitter={}", fmt(*jitter)));
                }
                if let Some(loss) = loss {
                    text.push_str(&format!(" loss={loss}"));
                }
                if let Some(bandwidth) = bandwidth {
                    text.push_str(&format!(" bandwidth={bandwidth}"));
                }
                ("*".to_string(), text)
            }
            Action::Crash(s) => {
                let index = self.index(s);
                self.crash_server(index);
                (s.clone(), "Crash".to_string())
            }
            Action::Restart(s) => {
                let index = self.index(s);
                self.restart_server(index, now)?;
                (s.clone(), "Restart".to_string())
            }
            Action::RestartWithSerial { server, zone, serial } => {
                let index = self.index(server);
                if self.servers[index].up {
                    self.crash_server(index);
                }
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let original =
                    self.zones.iter().find(|(o, _)| *o == origin).map(|(_, z)| z.clone()).expect("validated zone");
                if let Some((_, data)) = self.servers[index].primary_data.iter_mut().find(|(o, _)| *o == origin) {
                    *data = original.with_serial(Serial(*serial));
                }
                self.restart_server(index, now)?;
                (server.clone(), format!("RestartWithSerial {zone} {serial}"))
            }
            Action::SetMasters { server, zone, masters } => {
                let addrs = masters.iter().filter_map(|m| self.loaded.scenario.resolve(m)).collect();
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let applied = self.command(server, now, Command::SetMasters { zone: origin, masters: addrs })?;
                (server.clone(), format!("SetMasters {zone} [{}]{}", masters.join(", "), down_note(applied)))
            }
            Action::DenyTransfer { server, zone, peer } | Action::AllowTransfer { server, zone, peer } => {
                let deny = matches!(step.action, Action::DenyTransfer { .. });
                let index = self.index(server);
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let peer_addresses = peer_ips(&self.loaded.scenario, peer);
                let everyone: Vec<IpAddr> = self.loaded.scenario.host_addresses().into_iter().collect();
                let entry =
                    self.servers[index].acls.iter_mut().find(|(o, _)| *o == origin).expect("validated zone on server");
                let mut list = entry.1.clone().unwrap_or(everyone);
                list.retain(|ip| !peer_addresses.contains(ip));
                if !deny {
                    list.extend(peer_addresses);
                }
                entry.1 = Some(list.clone());
                let applied =
                    self.command(server, now, Command::SetAllowTransfer { zone: origin, acl: Acl::hosts(list) })?;
                let verb = if deny { "DenyTransfer" } else { "AllowTransfer" };
                (server.clone(), format!("{verb} {zone} {peer}{}", down_note(applied)))
            }
            Action::Update { server, zone } => {
                self.update_counter += 1;
                let n = self.update_counter;
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let owner = Name::from_ascii(format!("upd{n}")).and_then(|l| l.append_domain(&origin));
                let owner = owner.map_err(|e| SimError::Action(e.to_string()))?;
                let [_, _, hi, lo] = n.to_be_bytes();
                let record = ZoneRecord::from_hickory(&Record::from_rdata(
                    owner.clone(),
                    300,
                    RData::A(A::new(198, 51, hi, lo)),
                ))
                .map_err(|e| SimError::Action(e.to_string()))?;
                let applied =
                    self.command(server, now, Command::Update { zone: origin, changes: vec![Change::Add(record)] })?;
                (server.clone(), format!("Update {zone} add {owner} A{}", down_note(applied)))
            }
            Action::Updates { .. } => unreachable!("expanded before the run"),
            Action::CutTransfers { server, after_messages } => {
                let index = self.index(server);
                self.servers[index].slot.cut_transfers_after.set(Some(*after_messages));
                (server.clone(), format!("CutTransfers after {after_messages} messages"))
            }
            Action::StopCutting(server) => {
                let index = self.index(server);
                self.servers[index].slot.cut_transfers_after.set(None);
                (server.clone(), "StopCutting".to_string())
            }
            Action::Rollback { server, zone, serial } => {
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let original =
                    self.zones.iter().find(|(o, _)| *o == origin).map(|(_, z)| z.clone()).expect("validated zone");
                let applied = self.command(
                    server,
                    now,
                    Command::Reload { zone: Box::new(original.with_serial(Serial(*serial))) },
                )?;
                (server.clone(), format!("Rollback {zone} {serial}{}", down_note(applied)))
            }
            Action::Refresh { server, zone } => {
                let origin = Name::from_ascii(zone).expect("validated zone name");
                let applied = self.command(server, now, Command::Refresh { zone: origin })?;
                (server.clone(), format!("Refresh {zone}{}", down_note(applied)))
            }
        };
        // The action line goes before the events it caused (already recorded by `command`).
        self.recording.borrow_mut().insert_line(lines_before, format!("{now} {target} action {text}"));
        Ok(())
    }
}

fn down_note(applied: bool) -> &'static str {
    if applied { "" } else { " (server down: skipped)" }
}
