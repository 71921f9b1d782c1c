//! A zone as the role it has on this node. The node looks a zone up and hands each input to
//! the role that handles it; what both roles do goes to their shared `ZoneCore`.

use std::net::SocketAddr;

use xfrsim_zone::wire::{Message, OPCODE_NOTIFY};

use crate::Time;
use crate::ctx::Ctx;
use crate::primary::PrimaryZone;
use crate::secondary::SecondaryZone;
use crate::zone_core::ZoneCore;

/// One zone held by the node: a primary or a secondary, never both, never neither.
#[allow(
    clippy::large_enum_variant,
    reason = "both roles carry a ZoneCore of some 600 bytes; boxing the secondary's refresh state would \
              save little on a value held once per zone, and add a pointer chase on every input"
)]
pub(crate) enum HeldZone {
    Primary(PrimaryZone),
    Secondary(SecondaryZone),
}

impl HeldZone {
    pub fn core(&self) -> &ZoneCore {
        match self {
            HeldZone::Primary(zone) => &zone.core,
            HeldZone::Secondary(zone) => &zone.core,
        }
    }

    pub fn core_mut(&mut self) -> &mut ZoneCore {
        match self {
            HeldZone::Primary(zone) => &mut zone.core,
            HeldZone::Secondary(zone) => &mut zone.core,
        }
    }

    pub fn secondary(&self) -> Option<&SecondaryZone> {
        match self {
            HeldZone::Primary(_) => None,
            HeldZone::Secondary(zone) => Some(zone),
        }
    }

    pub fn start(&mut self, ctx: &mut Ctx, now: Time) {
        match self {
            HeldZone::Primary(zone) => zone.start(ctx, now),
            HeldZone::Secondary(zone) => zone.start(ctx, now),
        }
    }

    /// Runs the zone's timers due at `now`: NOTIFY out first (both roles), then refresh.
    pub fn on_timeout(&mut self, ctx: &mut Ctx, now: Time) {
        self.core_mut().notify_timeouts(ctx, now);
        if let HeldZone::Secondary(zone) = self {
            zone.on_timeout(ctx, now);
        }
    }

    /// When the zone's earliest timer is due.
    pub fn next_deadline(&self) -> Option<Time> {
        self.core().timers.next().map(|(at, _)| at)
    }

    /// A UDP response: an answer to one of our NOTIFYs, or to a secondary's SOA query. True
    /// if it was this zone's.
    pub fn on_udp_response(&mut self, ctx: &mut Ctx, now: Time, from: SocketAddr, message: &Message) -> bool {
        if message.opcode() == OPCODE_NOTIFY {
            return self.core_mut().on_notify_response(ctx, from, message);
        }
        match self {
            HeldZone::Primary(_) => false,
            HeldZone::Secondary(zone) => zone.on_udp_response(ctx, now, from, message),
        }
    }

    /// Seconds the copy has left before it expires (RFC 7314): a secondary's only.
    pub fn expire_left_secs(&self, now: Time) -> Option<u32> {
        self.secondary()?.expire_left_secs(now)
    }
}
