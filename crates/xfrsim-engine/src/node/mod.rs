//! The node: one DNS server's zones behind a sans-IO interface. This file is the public
//! surface (construction, the drive contract's inputs and outputs, inspection) and routes
//! each input to the zone and role it concerns (`zones.rs`); answering requests and the
//! served TCP connections are `serve.rs`.

mod serve;
mod zones;

use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::Name;
use xfrsim_zone::wire::Message;
use xfrsim_zone::{Serial, Zone, ZoneDigest, ZoneHistory};

use crate::Time;
use crate::command::{Command, CommandError};
use crate::config::{ConfigError, NodeConfig, Role};
use crate::ctx::{Conn, ConnId, ConnectFailure, Ctx, Transmit};
use crate::event::Event;
use crate::primary::PrimaryZone;
use crate::profile::Behaviour;
use crate::secondary::SecondaryZone;
use crate::zone_core::ZoneCore;
use zones::HeldZone;

/// What a zone looks like from outside right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneStatus {
    /// Answering authoritatively with this version.
    Serving { serial: Serial, digest: ZoneDigest },
    /// Configured but answering SERVFAIL: never loaded, or expired (`expired: true`).
    NotServing { expired: bool },
}

/// What a secondary keeps across a crash (a real one keeps it on disk): its copy and the time
/// that copy expires.
#[derive(Debug, Clone)]
pub struct PersistedZone {
    pub origin: Name,
    pub zone: Zone,
    pub expire_at: Time,
}

/// The zone a client connection was opened for, as the role that opened it.
enum ClientOf<'a> {
    /// A secondary's refresh round (SOA over TCP, or a transfer).
    Refresh(&'a mut SecondaryZone),
    /// NOTIFY over TCP, for either role.
    Notify(&'a mut ZoneCore),
}

/// A DNS server's zone-transfer engine: primaries and secondaries for any number of zones,
/// as a sans-IO state machine.
///
/// # Drive contract
///
/// The engine never reads a clock, opens a socket or draws OS randomness. A driver:
/// 1. creates the node with [`Node::new`], passing the current time and a seed;
/// 2. feeds every input with the current time: datagrams ([`Node::handle_udp`]), TCP
///    lifecycle and messages ([`Node::handle_tcp_accepted`], [`Node::handle_tcp_connected`],
///    [`Node::handle_tcp_connect_failed`], [`Node::handle_tcp_message`],
///    [`Node::handle_tcp_sent`], [`Node::handle_tcp_closed`]), operator [`Command`]s;
/// 3. after each input, drains [`Node::poll_transmit`] and [`Node::poll_event`] until `None`;
/// 4. calls [`Node::handle_timeout`] when the time from [`Node::poll_timeout`] is reached
///    (calling it early is harmless), then drains again.
///
/// Time passed in must never go backwards. Given the same inputs at the same times and the
/// same seed, a node produces the same outputs, byte for byte.
pub struct Node {
    pub(crate) ctx: Ctx,
    pub(crate) zones: BTreeMap<Name, HeldZone>,
    /// Each zone's next deadline, indexed by time, so the earliest is found and the due zones
    /// are visited without walking every zone (a secondary may hold a hundred thousand).
    /// Kept by [`Node::reindex`] after every call that can change a zone's timers.
    deadlines: BTreeSet<(Time, u32)>,
    /// By slot (`ZoneCore::slot`): each zone's deadline in the index, and its origin.
    deadline_of: Vec<Option<Time>>,
    slot_origins: Vec<Name>,
}

impl Node {
    pub fn new(config: NodeConfig, seed: u64, now: Time) -> Result<Node, ConfigError> {
        if let Some(name) = config.behaviour.zero_setting() {
            return Err(ConfigError::ZeroTimeout(name));
        }
        let mut node = Node {
            ctx: Ctx::new(config.name, config.addresses, config.behaviour, seed),
            zones: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            deadline_of: Vec::new(),
            slot_origins: Vec::new(),
        };
        for zone_config in config.zones {
            let mut origin = zone_config.origin.clone();
            origin.set_fqdn(true);
            if node.zones.contains_key(&origin) {
                return Err(ConfigError::DuplicateZone(origin.to_string()));
            }
            let sources =
                [("notify_source", zone_config.notify_source), ("transfer_source", zone_config.transfer_source)];
            for (option, address) in sources {
                if let Some(address) = address.filter(|a| !node.ctx.addresses.iter().any(|own| own.ip() == *a)) {
                    return Err(ConfigError::ForeignSource { zone: origin.to_string(), option, address });
                }
            }
            let behaviour = node
                .ctx
                .behaviour
                .clone()
                .with(&zone_config.overrides)
                .map_err(|error| ConfigError::ZoneOption { zone: origin.to_string(), error })?;
            let mut core = ZoneCore::new(origin.clone(), &zone_config, behaviour);
            let held = match zone_config.role {
                Role::Primary { zone } => {
                    if *zone.origin() != origin {
                        return Err(ConfigError::OriginMismatch {
                            configured: origin.to_string(),
                            loaded: zone.origin().to_string(),
                        });
                    }
                    core.data = Some(Arc::new(ZoneHistory::new(zone, core.journal_max_diffs)));
                    HeldZone::Primary(PrimaryZone::new(core, zone_config.allow_update))
                }
                Role::PrimaryNotLoaded => HeldZone::Primary(PrimaryZone::new(core, zone_config.allow_update)),
                Role::Secondary { masters, restored } => {
                    let expire_at = restored.map(|(zone, at)| {
                        core.data = Some(Arc::new(ZoneHistory::new(zone, core.journal_max_diffs)));
                        at
                    });
                    HeldZone::Secondary(SecondaryZone::new(core, zone_config.transfer_source, masters, expire_at))
                }
            };
            let zone = node.zones.entry(origin).or_insert(held);
            zone.start(&mut node.ctx, now);
        }
        // Slots in name order, so the due zones of an instant run in name order.
        for (slot, zone) in node.zones.values_mut().enumerate() {
            zone.core_mut().slot = u32::try_from(slot).expect("fewer zones than u32::MAX");
        }
        node.slot_origins = node.zones.keys().cloned().collect();
        node.deadline_of = vec![None; node.zones.len()];
        for origin in node.slot_origins.clone() {
            node.reindex(&origin);
        }
        Ok(node)
    }

    /// Brings the deadline index up to date for one zone.
    fn reindex(&mut self, origin: &Name) {
        let Some(zone) = self.zones.get(origin) else { return };
        let slot = zone.core().slot;
        let at = zone.next_deadline();
        let entry = &mut self.deadline_of[slot as usize];
        if *entry == at {
            return;
        }
        if let Some(old) = entry.take() {
            self.deadlines.remove(&(old, slot));
        }
        if let Some(at) = at {
            self.deadlines.insert((at, slot));
        }
        *entry = at;
    }

    /// The zone a message is about: its question's name, when the node holds that zone.
    fn question_zone(message: &Message) -> Option<Name> {
        message.questions.first().map(|q| q.name.to_hickory())
    }

    /// The zone owning client connection `conn`, if any.
    fn reindex_owner(&mut self, owner: Option<Name>) {
        if let Some(origin) = owner {
            self.reindex(&origin);
        }
    }

    fn conn_zone(&self, conn: ConnId) -> Option<Name> {
        match self.ctx.conns.get(&conn)? {
            Conn::Client { zone } | Conn::Notify { zone } => Some(zone.clone()),
            Conn::Server { .. } => None,
        }
    }

    /// The node's server-wide behaviour (zones may override some rows).
    pub fn behaviour(&self) -> &Behaviour {
        &self.ctx.behaviour
    }

    /// Requests of inbound connection `conn` taken but not yet answered in full: those queued
    /// behind a transfer, the transfer being written, and answers waiting to be polled. The
    /// driver reads no more from the connection while this (with the answers it has not
    /// written yet) reaches [`Behaviour::tcp_pipelined`].
    pub fn server_backlog(&self, conn: ConnId) -> usize {
        let Some(Conn::Server { outgoing, queued, .. }) = self.ctx.conns.get(&conn) else { return 0 };
        let unpolled =
            self.ctx.transmits.iter().filter(|t| matches!(t, Transmit::Send { conn: c, .. } if *c == conn)).count();
        queued.len() + usize::from(outgoing.is_some()) + unpolled
    }

    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    // ----- inputs -----------------------------------------------------------------------

    /// A datagram arrived on the node's DNS socket (on its first address: see
    /// [`Node::handle_udp_on`]).
    pub fn handle_udp(&mut self, now: Time, from: SocketAddr, payload: &[u8]) {
        self.handle_udp_on(now, None, from, payload);
    }

    /// A datagram arrived on the node's DNS socket bound to `local`: an answer leaves from the
    /// address the request was sent to, as a client that connected its socket expects.
    pub fn handle_udp_on(&mut self, now: Time, local: Option<IpAddr>, from: SocketAddr, payload: &[u8]) {
        let Ok(message) = Message::parse(payload) else {
            self.ctx.report_bad_packet(now, from);
            return;
        };
        if message.is_response() {
            self.on_udp_response(now, from, &message);
        } else if let Some(reply) = self.answer_request(now, from, &message, false) {
            self.ctx.send_udp(local, from, reply);
        }
        if let Some(origin) = Self::question_zone(&message) {
            self.reindex(&origin);
        }
        self.resume_deferred(now);
    }

    /// An ICMP port unreachable came back for a datagram this node sent to `to` with message
    /// `id` (ICMP quotes the start of the datagram, RFC 792). On a real host the driver learns
    /// it as ECONNREFUSED on the query's connected socket; the simulated network reports it here.
    pub fn handle_udp_unreachable(&mut self, now: Time, to: SocketAddr, id: u16) {
        let mut claimed = None;
        for (origin, zone) in self.zones.iter_mut() {
            if let HeldZone::Secondary(zone) = zone
                && zone.on_udp_unreachable(&mut self.ctx, now, to, id)
            {
                claimed = Some(origin.clone());
                break;
            }
        }
        if let Some(origin) = claimed {
            self.reindex(&origin);
        }
        self.resume_deferred(now);
    }

    /// The driver accepted an inbound TCP connection; returns the id to report it under.
    pub fn handle_tcp_accepted(&mut self, now: Time, peer: SocketAddr) -> ConnId {
        let idle_deadline = now + self.ctx.behaviour.timeouts.tcp_server_idle;
        self.ctx.accept(Conn::Server { peer, idle_deadline, outgoing: None, queued: VecDeque::new() })
    }

    pub fn handle_tcp_connected(&mut self, now: Time, conn: ConnId) {
        let owner = self.conn_zone(conn);
        match self.client_zone(conn) {
            Some((ClientOf::Refresh(zone), ctx)) => zone.on_connected(ctx, now, conn),
            Some((ClientOf::Notify(zone), ctx)) => zone.on_notify_connected(ctx, conn),
            None => {}
        }
        self.reindex_owner(owner);
        self.resume_deferred(now);
    }

    pub fn handle_tcp_connect_failed(&mut self, now: Time, conn: ConnId, failure: ConnectFailure) {
        let owner = self.conn_zone(conn);
        match self.client_zone(conn) {
            Some((ClientOf::Refresh(zone), ctx)) => zone.on_connect_failed(ctx, now, conn, failure),
            Some((ClientOf::Notify(zone), ctx)) => zone.on_notify_conn_lost(ctx, now, conn),
            None => {}
        }
        self.reindex_owner(owner);
        self.resume_deferred(now);
    }

    /// One complete DNS message (length prefix removed) arrived on a connection.
    pub fn handle_tcp_message(&mut self, now: Time, conn: ConnId, payload: &[u8]) {
        let served = matches!(self.ctx.conns.get(&conn), Some(Conn::Server { .. }));
        let owner = self.conn_zone(conn);
        match self.client_zone(conn) {
            Some((ClientOf::Refresh(zone), ctx)) => zone.on_tcp_message(ctx, now, conn, payload),
            Some((ClientOf::Notify(zone), ctx)) => zone.on_notify_tcp_message(ctx, conn, payload),
            None if served => self.on_server_message(now, conn, payload.to_vec()),
            None => {}
        }
        self.reindex_owner(owner);
        // A request on a served connection (a NOTIFY or an UPDATE over TCP) may start timers
        // of the zone it names.
        if served
            && let Ok(message) = Message::parse(payload)
            && let Some(origin) = Self::question_zone(&message)
        {
            self.reindex(&origin);
        }
        self.resume_deferred(now);
    }

    /// The last `Transmit::Send` on `conn` was written; the next message of a transfer may go.
    pub fn handle_tcp_sent(&mut self, now: Time, conn: ConnId) {
        self.on_server_sent(now, conn);
    }

    /// The peer closed the connection (or it broke).
    pub fn handle_tcp_closed(&mut self, now: Time, conn: ConnId) {
        let served = matches!(self.ctx.conns.get(&conn), Some(Conn::Server { .. }));
        let owner = self.conn_zone(conn);
        match self.client_zone(conn) {
            Some((ClientOf::Refresh(zone), ctx)) => zone.on_closed(ctx, now, conn),
            Some((ClientOf::Notify(zone), ctx)) => zone.on_notify_conn_lost(ctx, now, conn),
            None if served => self.on_server_closed(now, conn),
            None => {}
        }
        self.reindex_owner(owner);
        self.resume_deferred(now);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        // Only zones with a timer due have anything to do; they run in name order, as a walk
        // over every zone would run them.
        let due: BTreeSet<u32> =
            self.deadlines.iter().take_while(|(at, _)| *at <= now).map(|(_, slot)| *slot).collect();
        for slot in due {
            let origin = self.slot_origins[slot as usize].clone();
            if let Some(zone) = self.zones.get_mut(&origin) {
                zone.on_timeout(&mut self.ctx, now);
            }
            self.reindex(&origin);
        }
        let idle: Vec<ConnId> = self
            .ctx
            .conns
            .iter()
            .filter_map(|(id, c)| match c {
                Conn::Server { idle_deadline, .. } if *idle_deadline <= now => Some(*id),
                _ => None,
            })
            .collect();
        for conn in idle {
            self.on_server_idle(now, conn);
        }
        self.resume_deferred(now);
    }

    /// Starts the deferred transfers that fit the quotas now, in the order they were deferred
    /// (BIND zonemgr `zmgr_resume_xfrs` walks its whole waiting list).
    fn resume_deferred(&mut self, now: Time) {
        if self.ctx.deferred.is_empty() {
            return;
        }
        let waiting: Vec<Name> = self.ctx.deferred.drain(..).collect();
        for origin in waiting {
            if let Some(HeldZone::Secondary(zone)) = self.zones.get_mut(&origin) {
                zone.resume_transfer(&mut self.ctx, now);
            }
            self.reindex(&origin);
        }
    }

    pub fn handle_command(&mut self, now: Time, command: Command) -> Result<(), CommandError> {
        let origin = match &command {
            Command::Update { zone, .. }
            | Command::SetMasters { zone, .. }
            | Command::Refresh { zone }
            | Command::SetAllowTransfer { zone, .. } => zone.clone(),
            Command::Reload { zone } => zone.origin().clone(),
        };
        let Some(zone) = self.zones.get_mut(&origin) else {
            return Err(CommandError::UnknownZone(origin.to_string()));
        };
        let ctx = &mut self.ctx;
        let result = match (command, zone) {
            (Command::Update { changes, .. }, HeldZone::Primary(zone)) => zone.apply_update(ctx, now, &changes),
            (Command::Reload { zone: data }, HeldZone::Primary(zone)) => {
                zone.reload(ctx, now, *data);
                Ok(())
            }
            (Command::Update { .. } | Command::Reload { .. }, HeldZone::Secondary(_)) => {
                Err(CommandError::NotPrimary(origin.to_string()))
            }
            (Command::SetMasters { masters, .. }, HeldZone::Secondary(zone)) => {
                zone.set_masters(ctx, now, masters);
                Ok(())
            }
            (Command::Refresh { .. }, HeldZone::Secondary(zone)) => {
                zone.refresh_now(ctx, now);
                Ok(())
            }
            (Command::SetMasters { .. } | Command::Refresh { .. }, HeldZone::Primary(_)) => {
                Err(CommandError::NotSecondary(origin.to_string()))
            }
            (Command::SetAllowTransfer { acl, .. }, zone) => {
                zone.core_mut().allow_transfer = acl;
                Ok(())
            }
        };
        self.reindex(&origin);
        self.resume_deferred(now);
        result
    }

    // ----- outputs ----------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ctx.transmits.pop_front()
    }

    /// True while transmits are queued: the driver has work before the network is idle.
    pub fn has_pending_transmits(&self) -> bool {
        !self.ctx.transmits.is_empty()
    }

    /// Bytes of message payload the node holds for the driver, not yet polled. Outgoing
    /// transfers add nothing here until their next message is due: they are encoded lazily.
    pub fn queued_payload_bytes(&self) -> usize {
        self.ctx
            .transmits
            .iter()
            .map(|t| match t {
                Transmit::Udp { payload, .. } | Transmit::Query { payload, .. } | Transmit::Send { payload, .. } => {
                    payload.len()
                }
                Transmit::Connect { .. } | Transmit::Close { .. } => 0,
            })
            .sum()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.ctx.events.pop_front()
    }

    /// The earliest time at which [`Node::handle_timeout`] has work, if any.
    pub fn poll_timeout(&self) -> Option<Time> {
        let zones = self.deadlines.first().map(|(at, _)| *at);
        debug_assert_eq!(
            zones,
            self.zones.values().filter_map(HeldZone::next_deadline).min(),
            "the deadline index is behind a zone's timers: a path that changes them does not reindex"
        );
        let conns = self
            .ctx
            .conns
            .values()
            .filter_map(|c| match c {
                Conn::Server { idle_deadline, .. } => Some(*idle_deadline),
                Conn::Client { .. } | Conn::Notify { .. } => None,
            })
            .min();
        [zones, conns].into_iter().flatten().min()
    }

    // ----- inspection -------------------------------------------------------------------

    pub fn zone_status(&self, origin: &Name) -> Option<ZoneStatus> {
        let zone = self.zones.get(origin)?;
        Some(match &zone.core().data {
            Some(history) => ZoneStatus::Serving { serial: history.zone().serial(), digest: history.zone().digest() },
            None => ZoneStatus::NotServing { expired: zone.secondary().is_some_and(|s| s.expired) },
        })
    }

    /// The served copy of a zone, if any.
    pub fn zone(&self, origin: &Name) -> Option<&Zone> {
        self.zones.get(origin)?.core().data.as_deref().map(ZoneHistory::zone)
    }

    /// What survives a crash: every secondary copy with its expire time.
    pub fn persisted(&self) -> Vec<PersistedZone> {
        self.zones
            .values()
            .filter_map(HeldZone::secondary)
            .filter_map(|z| {
                let expire_at = z.expire_at()?;
                let zone = z.core.data.as_deref()?.zone().clone();
                Some(PersistedZone { origin: z.core.origin.clone(), zone, expire_at })
            })
            .collect()
    }

    /// When a secondary zone's copy expires, and the EXPIRE (as the profile clamps it) that
    /// time counts from; `None` without a copy or once expired. A driver keeping the copy on
    /// disk stores `expire_at - expire` as the file's modification time, so that the next start
    /// computes the same expiry from it (BIND zone.c `setmodtime`).
    pub fn expiry(&self, origin: &Name) -> Option<(Time, Duration)> {
        self.zones.get(origin)?.secondary()?.expiry()
    }

    /// Splits the node into the zone owning client connection `conn`, as the role that opened
    /// it, and the shared context.
    fn client_zone(&mut self, conn: ConnId) -> Option<(ClientOf<'_>, &mut Ctx)> {
        let client = match self.ctx.conns.get(&conn)? {
            Conn::Client { zone } => match self.zones.get_mut(zone)? {
                HeldZone::Secondary(zone) => ClientOf::Refresh(zone),
                // Only a secondary's refresh round opens client connections.
                HeldZone::Primary(_) => return None,
            },
            Conn::Notify { zone } => ClientOf::Notify(self.zones.get_mut(zone)?.core_mut()),
            Conn::Server { .. } => return None,
        };
        Some((client, &mut self.ctx))
    }

    fn on_udp_response(&mut self, now: Time, from: SocketAddr, message: &Message) {
        // An answer echoes its question (RFC 1035 §4.1.2), which names the zone that asked:
        // that zone first, then (a mangled or stale answer) any zone that claims it.
        if let Some(origin) = Self::question_zone(message)
            && let Some(zone) = self.zones.get_mut(&origin)
            && zone.on_udp_response(&mut self.ctx, now, from, message)
        {
            return;
        }
        let mut claimed = None;
        for (origin, zone) in self.zones.iter_mut() {
            if zone.on_udp_response(&mut self.ctx, now, from, message) {
                claimed = Some(origin.clone());
                break;
            }
        }
        // Unmatched (`None`): a stale or duplicate answer (held traffic, a retransmission), ignored.
        if let Some(origin) = claimed {
            self.reindex(&origin);
        }
    }

    /// The zone a query name falls in: the longest held origin that encloses it.
    pub(crate) fn zone_for(&self, qname: &Name) -> Option<&Name> {
        // From the name itself up to the root: the first held origin is the longest.
        (0..=qname.num_labels()).rev().find_map(|labels| {
            let mut suffix = qname.trim_to(usize::from(labels));
            suffix.set_fqdn(true);
            self.zones.get_key_value(&suffix).map(|(origin, _)| origin)
        })
    }
}
