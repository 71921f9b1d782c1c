//! The timeline's vocabulary, typed: what each scenario step does, with every name resolved.
//!
//! A step is written in the file as an [`Action`](crate::Action) of strings; loading lowers it
//! to a [`Fault`], whose servers and zones are indexes and whose link ends are addresses. This
//! is the one definition every consumer reads — the harness applies it, the timeline prints it
//! ([`Fault::line`]), the picture draws it ([`Fault::band`]), the hold check walks its links
//! ([`Fault::link`]) — each through an exhaustive match, so a new fault cannot be forgotten by
//! one of them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::fmt_duration;
use crate::ids::{ServerId, ZoneId};
use crate::model::Protocol;

/// The names behind a fault's indexes, which its timeline line and picture label show
/// ([`crate::Setup`] knows them).
pub trait Names {
    fn server_name(&self, id: ServerId) -> &str;
    /// A zone's origin as timelines print it.
    fn zone_text(&self, id: ZoneId) -> &str;
}

/// One end of a link: the address packets are filtered at, and the reference as the file wrote
/// it (a server name or an address), which is what the timeline prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub written: String,
}

/// The peers an ACL change names: every address of a server, or the one address given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclPeer {
    pub addresses: Vec<IpAddr>,
    pub written: String,
}

/// One timeline step, resolved. Variants follow the file's actions one for one (so each prints
/// as it was written); `Update` is also what an `Updates` run expands to.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Partition(Endpoint, Endpoint),
    PartitionOneway(Endpoint, Endpoint),
    Reject(Endpoint, Endpoint),
    RejectOneway(Endpoint, Endpoint),
    Heal(Endpoint, Endpoint),
    HealOneway(Endpoint, Endpoint),
    Isolate(ServerId),
    Rejoin(ServerId),
    Block {
        from: Endpoint,
        to: Endpoint,
        protocol: Protocol,
        reject: bool,
        oneway: bool,
    },
    Unblock {
        from: Endpoint,
        to: Endpoint,
        protocol: Protocol,
        oneway: bool,
    },
    Hold(Endpoint, Endpoint),
    Release(Endpoint, Endpoint),
    Latency(Endpoint, Endpoint, Duration),
    Loss(Endpoint, Endpoint, f64),
    Link(LinkShape),
    Crash(ServerId),
    Restart(ServerId),
    RestartWithSerial {
        server: ServerId,
        zone: ZoneId,
        serial: u32,
    },
    SetMasters {
        server: ServerId,
        zone: ZoneId,
        masters: Vec<SocketAddr>,
        written: Vec<String>,
    },
    DenyTransfer {
        server: ServerId,
        zone: ZoneId,
        peer: AclPeer,
    },
    AllowTransfer {
        server: ServerId,
        zone: ZoneId,
        peer: AclPeer,
    },
    Update {
        server: ServerId,
        zone: ZoneId,
    },
    /// An update every `every` from the step's time until `until` (the schedule holds one
    /// `Update` per instant instead; see [`crate::Setup::schedule`]).
    Updates {
        server: ServerId,
        zone: ZoneId,
        every: Duration,
        until: Duration,
    },
    Rollback {
        server: ServerId,
        zone: ZoneId,
        serial: u32,
    },
    Refresh {
        server: ServerId,
        zone: ZoneId,
    },
    CutTransfers {
        server: ServerId,
        after_messages: usize,
    },
    StopCutting(ServerId),
}

/// `Link`'s fields: absent ones leave the link as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkShape {
    pub a: Endpoint,
    pub b: Endpoint,
    pub latency: Option<Duration>,
    pub jitter: Option<Duration>,
    pub loss: Option<f64>,
    /// Bits per second, and the text it was written as (`"10Mbit"`).
    pub bandwidth: Option<(u64, String)>,
}

/// A fault at its time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    pub at: Duration,
    pub fault: Fault,
    /// Index of the file's timeline step it comes from.
    pub step: usize,
}

/// The links a fault changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange<'a> {
    /// The link between two ends.
    Between(&'a Endpoint, &'a Endpoint),
    /// Every link of a server.
    AllOf(ServerId),
}

/// How a fault shows in a picture of the run: a band it opens (until a fault that closes the
/// same key, or the end), the keys of bands it closes, and the lanes it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub opens: Option<String>,
    pub closes: Vec<String>,
    /// Lanes, as server names or addresses.
    pub lanes: Vec<String>,
    /// A band with a known end of its own (an `Updates` run), instead of a closing fault.
    pub until: Option<Duration>,
}

impl Fault {
    /// The links this fault changes, or `None` when it changes none.
    pub fn link(&self) -> Option<LinkChange<'_>> {
        match self {
            Fault::Partition(a, b)
            | Fault::PartitionOneway(a, b)
            | Fault::Reject(a, b)
            | Fault::RejectOneway(a, b)
            | Fault::Heal(a, b)
            | Fault::HealOneway(a, b)
            | Fault::Block { from: a, to: b, .. }
            | Fault::Unblock { from: a, to: b, .. }
            | Fault::Hold(a, b)
            | Fault::Release(a, b)
            | Fault::Latency(a, b, _)
            | Fault::Loss(a, b, _)
            | Fault::Link(LinkShape { a, b, .. }) => Some(LinkChange::Between(a, b)),
            Fault::Isolate(server) | Fault::Rejoin(server) => Some(LinkChange::AllOf(*server)),
            Fault::Crash(_)
            | Fault::Restart(_)
            | Fault::RestartWithSerial { .. }
            | Fault::SetMasters { .. }
            | Fault::DenyTransfer { .. }
            | Fault::AllowTransfer { .. }
            | Fault::Update { .. }
            | Fault::Updates { .. }
            | Fault::Rollback { .. }
            | Fault::Refresh { .. }
            | Fault::CutTransfers { .. }
            | Fault::StopCutting(_) => None,
        }
    }

    /// The server a fault acts on, for the timeline's second column (`*` is the network).
    pub fn server(&self) -> Option<ServerId> {
        match self {
            Fault::Isolate(server)
            | Fault::Rejoin(server)
            | Fault::Crash(server)
            | Fault::Restart(server)
            | Fault::StopCutting(server)
            | Fault::RestartWithSerial { server, .. }
            | Fault::SetMasters { server, .. }
            | Fault::DenyTransfer { server, .. }
            | Fault::AllowTransfer { server, .. }
            | Fault::Update { server, .. }
            | Fault::Updates { server, .. }
            | Fault::Rollback { server, .. }
            | Fault::Refresh { server, .. }
            | Fault::CutTransfers { server, .. } => Some(*server),
            Fault::Partition(..)
            | Fault::PartitionOneway(..)
            | Fault::Reject(..)
            | Fault::RejectOneway(..)
            | Fault::Heal(..)
            | Fault::HealOneway(..)
            | Fault::Block { .. }
            | Fault::Unblock { .. }
            | Fault::Hold(..)
            | Fault::Release(..)
            | Fault::Latency(..)
            | Fault::Loss(..)
            | Fault::Link(_) => None,
        }
    }

    /// What the timeline prints after `action ` (before any note the harness adds, such as a
    /// server being down). `update_owner` is the owner name an `Update` adds, which only the
    /// harness knows (updates are numbered across the run).
    pub fn line(&self, names: &impl Names, update_owner: Option<&str>) -> String {
        let zone = |id: &ZoneId| names.zone_text(*id);
        match self {
            Fault::Partition(a, b) => format!("Partition {} {}", a.written, b.written),
            Fault::PartitionOneway(a, b) => format!("PartitionOneway {} {}", a.written, b.written),
            Fault::Reject(a, b) => format!("Reject {} {}", a.written, b.written),
            Fault::RejectOneway(a, b) => format!("RejectOneway {} {}", a.written, b.written),
            Fault::Heal(a, b) => format!("Heal {} {}", a.written, b.written),
            Fault::HealOneway(a, b) => format!("HealOneway {} {}", a.written, b.written),
            Fault::Isolate(_) => "Isolate".to_string(),
            Fault::Rejoin(_) => "Rejoin".to_string(),
            Fault::Block { from, to, protocol, reject, oneway } => {
                let how = match (reject, oneway) {
                    (true, true) => " reject oneway",
                    (true, false) => " reject",
                    (false, true) => " oneway",
                    (false, false) => "",
                };
                format!("Block {protocol:?} {} {}{how}", from.written, to.written)
            }
            Fault::Unblock { from, to, protocol, oneway } => {
                let how = if *oneway { " oneway" } else { "" };
                format!("Unblock {protocol:?} {} {}{how}", from.written, to.written)
            }
            Fault::Hold(a, b) => format!("Hold {} {}", a.written, b.written),
            Fault::Release(a, b) => format!("Release {} {}", a.written, b.written),
            Fault::Latency(a, b, latency) => format!("Latency {} {} {}", a.written, b.written, fmt_duration(*latency)),
            Fault::Loss(a, b, rate) => format!("Loss {} {} {rate}", a.written, b.written),
            Fault::Link(shape) => {
                let mut text = format!("Link {} {}", shape.a.written, shape.b.written);
                if let Some(latency) = shape.latency {
                    text.push_str(&format!(" latency={}", fmt_duration(latency)));
                }
                if let Some(jitter) = shape.jitter {
                    text.push_str(&format!(" jitter={}", fmt_duration(jitter)));
                }
                if let Some(loss) = shape.loss {
                    text.push_str(&format!(" loss={loss}"));
                }
                if let Some((_, written)) = &shape.bandwidth {
                    text.push_str(&format!(" bandwidth={written}"));
                }
                text
            }
            Fault::Crash(_) => "Crash".to_string(),
            Fault::Restart(_) => "Restart".to_string(),
            Fault::RestartWithSerial { zone: z, serial, .. } => format!("RestartWithSerial {} {serial}", zone(z)),
            Fault::SetMasters { zone: z, written, .. } => format!("SetMasters {} [{}]", zone(z), written.join(", ")),
            Fault::DenyTransfer { zone: z, peer, .. } => format!("DenyTransfer {} {}", zone(z), peer.written),
            Fault::AllowTransfer { zone: z, peer, .. } => format!("AllowTransfer {} {}", zone(z), peer.written),
            Fault::Update { zone: z, .. } => match update_owner {
                Some(owner) => format!("Update {} add {owner} A", zone(z)),
                None => format!("Update {}", zone(z)),
            },
            Fault::Updates { zone: z, every, until, .. } => {
                format!("Updates {} every {} until {}", zone(z), fmt_duration(*every), fmt_duration(*until))
            }
            Fault::Rollback { zone: z, serial, .. } => format!("Rollback {} {serial}", zone(z)),
            Fault::Refresh { zone: z, .. } => format!("Refresh {}", zone(z)),
            Fault::CutTransfers { after_messages, .. } => format!("CutTransfers after {after_messages} messages"),
            Fault::StopCutting(_) => "StopCutting".to_string(),
        }
    }

    /// How the fault shows in a picture: which band it opens or closes, which lanes it marks.
    pub fn band(&self, names: &impl Names) -> Band {
        let name = |id: &ServerId| names.server_name(*id).to_string();
        let pair = |a: &Endpoint, b: &Endpoint| {
            let (a, b) = (&a.written, &b.written);
            if a < b { format!("{a} {b}") } else { format!("{b} {a}") }
        };
        let lanes = |a: &Endpoint, b: &Endpoint| vec![a.written.clone(), b.written.clone()];
        let band =
            |opens: Option<String>, closes: Vec<String>, lanes: Vec<String>| Band { opens, closes, lanes, until: None };
        let directed = |oneway: bool, from: &Endpoint, to: &Endpoint| {
            if oneway { format!("oneway {} {}", from.written, to.written) } else { format!("link {}", pair(from, to)) }
        };
        match self {
            Fault::Partition(a, b) | Fault::Reject(a, b) => {
                band(Some(format!("link {}", pair(a, b))), vec![], lanes(a, b))
            }
            Fault::PartitionOneway(a, b) | Fault::RejectOneway(a, b) => {
                band(Some(directed(true, a, b)), vec![], lanes(a, b))
            }
            Fault::Block { from, to, protocol, oneway, .. } => {
                band(Some(format!("{} {protocol:?}", directed(*oneway, from, to))), vec![], lanes(from, to))
            }
            Fault::Unblock { from, to, protocol, oneway } => {
                band(None, vec![format!("{} {protocol:?}", directed(*oneway, from, to))], lanes(from, to))
            }
            // A heal lifts every filter between the two, in both directions.
            Fault::Heal(a, b) => band(
                None,
                vec![format!("link {}", pair(a, b)), directed(true, a, b), directed(true, b, a)],
                lanes(a, b),
            ),
            Fault::HealOneway(a, b) => band(None, vec![directed(true, a, b)], lanes(a, b)),
            Fault::Isolate(s) => band(Some(format!("isolate {}", name(s))), vec![], vec![name(s)]),
            Fault::Rejoin(s) => band(None, vec![format!("isolate {}", name(s))], vec![name(s)]),
            Fault::Hold(a, b) => band(Some(format!("hold {}", pair(a, b))), vec![], lanes(a, b)),
            Fault::Release(a, b) => band(None, vec![format!("hold {}", pair(a, b))], lanes(a, b)),
            Fault::Crash(s) => band(Some(format!("crash {}", name(s))), vec![], vec![name(s)]),
            Fault::Restart(s) | Fault::RestartWithSerial { server: s, .. } => {
                band(None, vec![format!("crash {}", name(s))], vec![name(s)])
            }
            Fault::CutTransfers { server, .. } => {
                band(Some(format!("cut {}", name(server))), vec![], vec![name(server)])
            }
            Fault::StopCutting(s) => band(None, vec![format!("cut {}", name(s))], vec![name(s)]),
            Fault::Updates { server, until, .. } => {
                Band { opens: None, closes: vec![], lanes: vec![name(server)], until: Some(*until) }
            }
            Fault::Latency(a, b, _) | Fault::Loss(a, b, _) | Fault::Link(LinkShape { a, b, .. }) => {
                band(None, vec![], lanes(a, b))
            }
            Fault::SetMasters { server, .. }
            | Fault::DenyTransfer { server, .. }
            | Fault::AllowTransfer { server, .. }
            | Fault::Update { server, .. }
            | Fault::Rollback { server, .. }
            | Fault::Refresh { server, .. } => band(None, vec![], vec![name(server)]),
        }
    }
}
