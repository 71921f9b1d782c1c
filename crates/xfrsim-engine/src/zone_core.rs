//! What a zone is in either role: its name, the version it serves, who may take it, whom it
//! notifies, and its behaviour. `PrimaryZone` and `SecondaryZone` each own one; code that
//! works for both roles (answering queries, NOTIFY out, transfers out) takes a `ZoneCore`.
//!
//! Data only, below the roles: the NOTIFY-out state is declared here and driven by
//! `primary/notify.rs`, so that module and `secondary/` both build on this one and it on
//! neither.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::Name;
use xfrsim_zone::{Dname, Serial, ZoneHistory};

use crate::Time;
use crate::config::{Acl, ZoneConfig};
use crate::ctx::ConnId;
use crate::profile::Behaviour;
use crate::timer::{TimerName, TimerTable};

/// The part of a zone both roles share.
pub(crate) struct ZoneCore {
    pub origin: Name,
    /// `origin` in wire form, for comparing with names read from messages.
    pub apex: Dname,
    /// The version served; `None` when never loaded or expired. Shared with outgoing
    /// transfers so a version in flight is never mixed with a newer one (RFC 1035 §6.3).
    pub data: Option<Arc<ZoneHistory>>,
    pub notify_targets: Vec<SocketAddr>,
    pub notify_source: Option<IpAddr>,
    pub allow_transfer: Acl,
    pub journal_max_diffs: usize,
    /// The node's behaviour with this zone's own settings over it; server-wide rows (quotas,
    /// network timers, jitter, rcodes) are read from the node's.
    pub behaviour: Behaviour,
    /// NOTIFYs sent for the current version and not yet answered, per target.
    pub notifies: BTreeMap<SocketAddr, PendingNotify>,
    /// When NOTIFYs last went out, for `notify-delay`.
    pub last_notify_at: Option<Time>,
    /// Every timer of the zone, whatever its role.
    pub timers: TimerTable,
    /// The zone's place among its node's zones in name order, set when the node is built: the
    /// node's deadline index holds slots, not names, so keeping it costs no name comparisons.
    pub slot: u32,
}

/// One NOTIFY transaction toward one target (RFC 1996 §3.6: retransmitted until answered).
pub(crate) struct PendingNotify {
    pub id: u16,
    pub serial: Serial,
    /// Datagrams sent so far, the first included.
    pub sends: u32,
    /// The TCP try, once the datagrams went unanswered.
    pub tcp: Option<ConnId>,
    pub next_at: Time,
}

impl ZoneCore {
    /// The shared part of a zone configured as `config` says (`origin` already made absolute),
    /// with no data yet: the role loads or restores it.
    pub fn new(origin: Name, config: &ZoneConfig, behaviour: Behaviour) -> ZoneCore {
        ZoneCore {
            apex: Dname::from_hickory(&origin),
            origin,
            data: None,
            notify_targets: config.notify.clone(),
            notify_source: config.notify_source,
            allow_transfer: config.allow_transfer.clone(),
            journal_max_diffs: config.journal_max_diffs,
            behaviour,
            notifies: BTreeMap::new(),
            last_notify_at: None,
            timers: TimerTable::default(),
            slot: 0,
        }
    }

    /// Fires `timer` if due at `now` (disarmed and traced, see [`TimerTable::fire`]).
    pub fn fire(&mut self, timer: TimerName, now: Time, node: &str) -> bool {
        self.timers.fire(timer, now, node, &self.origin)
    }

    pub fn serial(&self) -> Option<Serial> {
        self.data.as_ref().map(|h| h.zone().serial())
    }
}
