//! The primary side: a zone whose data is loaded here and changes by dynamic update (RFC
//! 2136) or reload, and what any zone does for the servers that pull from it — NOTIFY out
//! (`notify.rs`, RFC 1996) and transfers out (`xfrout.rs`, RFC 5936 and RFC 1995). A
//! secondary is a primary to its own secondaries (RFC 1996 §4.1), so those two work on the
//! `ZoneCore` both roles share; updates and reloads are a `PrimaryZone`'s alone.

mod notify;
mod update;
pub(crate) mod xfrout;

use std::sync::Arc;

use xfrsim_zone::{Change, UpdateOutcome, Zone, ZoneHistory};

use crate::Time;
use crate::command::CommandError;
use crate::config::Acl;
use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::zone_core::ZoneCore;

/// A zone this node is the primary for.
pub(crate) struct PrimaryZone {
    pub core: ZoneCore,
    /// Who may send dynamic updates (RFC 2136 §3.3 leaves the policy to the server).
    allow_update: Acl,
}

impl PrimaryZone {
    pub fn new(core: ZoneCore, allow_update: Acl) -> PrimaryZone {
        PrimaryZone { core, allow_update }
    }

    /// RFC 1996 §4.2: notifying every zone's set at startup is reasonable.
    pub fn start(&mut self, ctx: &mut Ctx, now: Time) {
        self.core.notify_all(ctx, now);
    }

    /// An operator's dynamic update (as `nsupdate` would send it).
    pub fn apply_update(&mut self, ctx: &mut Ctx, now: Time, changes: &[Change]) -> Result<(), CommandError> {
        let Some(data) = self.core.data.as_mut() else {
            // A primary whose file did not load has nothing to update yet.
            return Err(CommandError::NotLoaded(self.core.origin.to_string()));
        };
        let outcome = Arc::make_mut(data).update(changes)?;
        self.committed(ctx, now, outcome);
        Ok(())
    }

    /// A committed update is reported and its version notified; an update that changed
    /// nothing is neither.
    fn committed(&mut self, ctx: &mut Ctx, now: Time, outcome: UpdateOutcome) {
        if let UpdateOutcome::Committed { serial } = outcome {
            ctx.emit(now, Some(&self.core.origin), EventKind::DynamicUpdate { serial });
            self.core.notify_all(ctx, now);
        }
    }

    /// New contents from the operator, whatever their serial (a rollback is allowed).
    pub fn reload(&mut self, ctx: &mut Ctx, now: Time, zone: Zone) {
        let serial = zone.serial();
        match self.core.data.as_mut() {
            Some(history) => Arc::make_mut(history).replace(zone),
            None => self.core.data = Some(Arc::new(ZoneHistory::new(zone, self.core.journal_max_diffs))),
        }
        ctx.emit(now, Some(&self.core.origin), EventKind::ZoneReloaded { serial });
        self.core.notify_all(ctx, now);
    }
}
