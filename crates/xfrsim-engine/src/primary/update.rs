//! Dynamic update over the wire (RFC 2136 §3, a subset): zone section checked by the node, no
//! prerequisites, add / delete RR / delete RRset / delete name.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::rr::Name;
use xfrsim_zone::wire::{
    CLASS_ANY, CLASS_NONE, Message, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NOTZONE, RCODE_REFUSED,
    RCODE_SERVFAIL, RecordRef, TYPE_ANY,
};
use xfrsim_zone::{CLASS_IN, Change, Dname};

use super::PrimaryZone;
use crate::Time;
use crate::ctx::Ctx;
use crate::event::EventKind;
use crate::wire;

impl PrimaryZone {
    /// Answers an UPDATE from `from` whose zone section names this zone as `zone_name` (as the
    /// message spells it); the node checked that section and routed it here (a secondary
    /// refuses without forwarding, §6).
    pub fn answer_update(
        &mut self,
        ctx: &mut Ctx,
        now: Time,
        from: SocketAddr,
        request: &Message,
        zone_name: &Name,
    ) -> Vec<u8> {
        if !self.allow_update.allows(from.ip()) {
            // BIND: "update 'zone/IN' denied".
            ctx.emit(now, Some(zone_name), EventKind::UpdateDenied { client: from });
            return wire::error_response(request, RCODE_REFUSED);
        }
        let Some(data) = self.core.data.as_mut() else {
            // A primary whose file did not load (BIND answers SERVFAIL: the zone has no database).
            return wire::error_response(request, RCODE_SERVFAIL);
        };
        if !request.answers.is_empty() {
            // Prerequisites (§2.4) are not implemented: say so rather than ignore them.
            return wire::error_response(request, RCODE_NOTIMP);
        }
        let changes = match decode_changes(request, &self.core.apex, &request.authority) {
            Ok(changes) => changes,
            Err(rcode) => return wire::error_response(request, rcode),
        };
        match Arc::make_mut(data).update(&changes) {
            Ok(outcome) => {
                self.committed(ctx, now, outcome);
                wire::error_response(request, RCODE_NOERROR)
            }
            Err(_) => wire::error_response(request, RCODE_FORMERR),
        }
    }
}

/// RFC 2136 §2.5: the class and TTL of each update RR say what it does. Added RDATA must
/// parse for its type (FORMERR otherwise, as BIND answers).
fn decode_changes(request: &Message, apex: &Dname, updates: &[RecordRef]) -> Result<Vec<Change>, u8> {
    let mut changes = Vec::with_capacity(updates.len());
    for record in updates {
        if !request.owner_within(record, apex) {
            return Err(RCODE_NOTZONE);
        }
        let rtype = record.rtype;
        let meta = xfrsim_zone::rdata::is_meta(rtype);
        let empty = record.rdata_len() == 0;
        let change = match record.class {
            // The message parser checked every RDATA against its type; only deletions of
            // RRsets and names (class ANY) carry none.
            CLASS_IN if !meta => Change::Add(request.zone_record(record)),
            CLASS_ANY if record.ttl == 0 && empty && rtype == TYPE_ANY => {
                Change::DeleteName(request.owner_name(record))
            }
            CLASS_ANY if record.ttl == 0 && empty && !meta => {
                Change::DeleteRrset { name: request.owner_name(record), rtype }
            }
            CLASS_NONE if record.ttl == 0 && !meta && !empty => Change::DeleteRecord(request.zone_record(record)),
            _ => return Err(RCODE_FORMERR),
        };
        changes.push(change);
    }
    Ok(changes)
}
