//! Transfers out (AXFR, RFC 5936; IXFR, RFC 1995): who may transfer, the quota, which stream
//! answers the request, and sending it one message per `handle_tcp_sent`. Any zone holding a
//! copy serves them, a secondary's included. The served connection itself (idle deadline,
//! requests queued behind a transfer) is the node's.

use std::net::SocketAddr;

use xfrsim_zone::wire::{
    Message, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTAUTH, RCODE_SERVFAIL, RecordRef, Section, TYPE_IXFR,
};
use xfrsim_zone::{SOA, Serial};

use crate::Time;
use crate::ctx::{Conn, ConnId, Ctx, Outgoing};
use crate::event::EventKind;
use crate::wire::{self, TransferStream};
use crate::zone_core::ZoneCore;

/// Answers the AXFR or IXFR `request` from `peer` on served connection `conn`. `zone` is the
/// held zone the question names, with what its copy has left before it expires (a
/// secondary's, RFC 7314 §3; `None` for a primary).
pub(crate) fn start(
    ctx: &mut Ctx,
    now: Time,
    conn: ConnId,
    peer: SocketAddr,
    request: &Message,
    zone: Option<(&ZoneCore, Option<u32>)>,
) {
    let q = &request.questions[0];
    let qname = q.name.to_hickory();
    let reply_error = |ctx: &mut Ctx, rcode| {
        ctx.send_tcp(conn, wire::error_response(request, rcode));
    };
    let Some((zone, expire_left)) = zone else {
        // RFC 5936 §2.2.1: not authoritative for that zone → NOTAUTH.
        ctx.emit(now, Some(&qname), EventKind::BadZoneTransferRequest { client: peer });
        return reply_error(ctx, RCODE_NOTAUTH);
    };
    if !zone.allow_transfer.allows(peer.ip()) {
        // REFUSED (BIND, NSD) or NOTAUTH (Knot): the profile's.
        ctx.emit(now, Some(&qname), EventKind::TransferDenied { client: peer });
        return reply_error(ctx, ctx.behaviour.transfer_denied_rcode);
    }
    let Some(history) = zone.data.clone() else {
        return reply_error(ctx, RCODE_SERVFAIL);
    };
    // The quota is checked after the ACL (BIND GL #3859: denied clients take no slot).
    let running = ctx.conns.values().filter(|c| matches!(c, Conn::Server { outgoing: Some(_), .. })).count();
    if ctx.behaviour.transfers_out.is_some_and(|limit| running >= limit as usize) {
        ctx.emit(now, Some(&qname), EventKind::TransferQuotaRefused { client: peer });
        return reply_error(ctx, ctx.behaviour.transfers_out_rcode);
    }
    // RFC 7314 §3 in a transfer: only a secondary zone gives what its copy has left (BIND
    // lib/ns/xfrout.c; a primary's transfers carry no EXPIRE).
    let expire_left = expire_left.filter(|_| request.asks_expire && zone.behaviour.request_expire);
    let origin = zone.origin.clone();
    let serial = history.zone().serial();
    let stream = if q.qtype == TYPE_IXFR {
        let client_soas: Vec<&RecordRef> = request.authority.iter().filter(|r| r.rtype == SOA).collect();
        // BIND xfrout: IXFR without exactly one well-formed SOA in authority → FORMERR.
        let [client_soa] = client_soas.as_slice() else {
            return reply_error(ctx, RCODE_FORMERR);
        };
        let Some(client_serial) = request.soa_serial(client_soa).map(Serial) else {
            return reply_error(ctx, RCODE_FORMERR);
        };
        if !serial.is_newer_than(client_serial) {
            // RFC 1995 §2: the client is current — one SOA.
            let mut reply = wire::response_to(request, RCODE_NOERROR, true);
            reply.push(Section::Answer, history.zone().soa_record());
            if let Some(left) = expire_left {
                reply.push_opt(wire::EDNS_UDP_PAYLOAD, Some(Some(left)));
            }
            ctx.send_tcp(conn, reply.finish());
            return;
        }
        // Incremental when the journal reaches the client's serial and the profile
        // provides IXFR, else AXFR-style (§4; NSD without `store-ixfr`).
        match history.diff_chain_start(client_serial).filter(|_| zone.behaviour.provide_ixfr) {
            Some(start) => TransferStream::incremental(request, history, start, expire_left),
            None => TransferStream::full(request, history, expire_left),
        }
    } else {
        TransferStream::full(request, history, expire_left)
    };
    let incremental = stream.is_incremental();
    ctx.emit(now, Some(&origin), EventKind::ZoneXfrStart { serial, secondary: peer, incremental });
    let mut outgoing = Outgoing { stream, zone: origin };
    match outgoing.stream.next_message() {
        Ok(Some(first)) => {
            ctx.send_tcp(conn, first);
            if let Some(Conn::Server { outgoing: slot, .. }) = ctx.conns.get_mut(&conn) {
                *slot = Some(outgoing);
            }
        }
        Ok(None) => unreachable!("a transfer has at least one message"),
        Err(_) => abort(ctx, now, conn, peer, &outgoing),
    }
}

/// The last message on served connection `conn` was written: sends the transfer's next one.
/// True when no transfer is in progress on it any more (none was, or this one just ended), so
/// the next queued request may be answered.
pub(crate) fn advance(ctx: &mut Ctx, now: Time, conn: ConnId) -> bool {
    let Some(Conn::Server { peer, outgoing, .. }) = ctx.conns.get_mut(&conn) else { return false };
    let peer = *peer;
    let Some(out) = outgoing else { return true };
    match out.stream.next_message() {
        Ok(Some(next)) => {
            ctx.send_tcp(conn, next);
            false
        }
        Ok(None) => {
            let (serial, zone, records) = (out.serial(), out.zone.clone(), out.stream.records);
            *outgoing = None;
            ctx.emit(now, Some(&zone), EventKind::ZoneXfrSuccessful { serial, secondary: peer, records });
            true
        }
        Err(_) => {
            let out = outgoing.take().expect("matched above");
            abort(ctx, now, conn, peer, &out);
            false
        }
    }
}

/// A transfer that cannot go on (a record too large for any message): as BIND's xfrout
/// does, the transfer fails (6002) and the connection is closed.
fn abort(ctx: &mut Ctx, now: Time, conn: ConnId, peer: SocketAddr, out: &Outgoing) {
    cut(ctx, now, peer, out);
    ctx.close(conn);
}

/// A transfer ended before its last message: the connection closed or went idle (6002).
pub(crate) fn cut(ctx: &mut Ctx, now: Time, peer: SocketAddr, out: &Outgoing) {
    ctx.emit(now, Some(&out.zone), EventKind::ZoneXfrAborted { serial: out.serial(), secondary: peer });
}
