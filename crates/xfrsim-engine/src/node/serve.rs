//! Requests the node answers, whatever the zone's role: queries (answered here), NOTIFY (a
//! secondary's to act on), UPDATE (a primary's), and the served TCP connections that carry
//! them and transfers out (`primary::xfrout`), answered in order.

use std::net::SocketAddr;

use xfrsim_zone::SOA;
use xfrsim_zone::wire::{
    MAX_MESSAGE_LEN, MIN_UDP_PAYLOAD, Message, OPCODE_NOTIFY, OPCODE_QUERY, OPCODE_UPDATE, Question, RCODE_FORMERR,
    RCODE_NOERROR, RCODE_NOTAUTH, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, Section, TYPE_AXFR,
    TYPE_IXFR,
};

use super::Node;
use super::zones::HeldZone;
use crate::Time;
use crate::ctx::{Conn, ConnId};
use crate::event::EventKind;
use crate::primary::xfrout;
use crate::wire;

impl Node {
    /// Answers a request that takes one response message (everything but a TCP transfer).
    pub(crate) fn answer_request(
        &mut self,
        now: Time,
        from: SocketAddr,
        request: &Message,
        over_tcp: bool,
    ) -> Option<Vec<u8>> {
        match request.opcode() {
            OPCODE_QUERY => Some(self.answer_query(now, from, request, over_tcp)),
            OPCODE_NOTIFY => Some(self.answer_notify(now, from, request)),
            OPCODE_UPDATE => Some(self.answer_update(now, from, request)),
            _ => Some(wire::error_response(request, RCODE_NOTIMP)),
        }
    }

    fn answer_query(&mut self, now: Time, from: SocketAddr, request: &Message, over_tcp: bool) -> Vec<u8> {
        let [q] = request.questions.as_slice() else {
            return wire::error_response(request, RCODE_FORMERR);
        };
        let qname = q.name.to_hickory();
        let qtype = q.qtype;
        if qtype == TYPE_AXFR && !over_tcp {
            // RFC 5936 §4.2: AXFR is TCP only; the RCODE is the profile's. BIND looks the zone
            // and the transfer ACL up first: a zone it lacks is NOTAUTH (below), a client the
            // ACL denies gets the denial.
            let held = self.zones.get(&qname);
            let checks_first = !self.ctx.behaviour.axfr_udp_before_acl;
            if checks_first && held.is_some_and(|zone| !zone.core().allow_transfer.allows(from.ip())) {
                self.ctx.emit(now, Some(&qname), EventKind::TransferDenied { client: from });
                return wire::error_response(request, self.ctx.behaviour.transfer_denied_rcode);
            }
            if !checks_first || held.is_some() {
                self.ctx.emit(
                    now,
                    self.zone_for(&qname).cloned().as_ref(),
                    EventKind::UdpZoneTransfer { client: from },
                );
                return wire::error_response(request, self.ctx.behaviour.axfr_udp_rcode);
            }
        }
        let Some(origin) = self.zone_for(&qname).cloned() else {
            if matches!(qtype, TYPE_AXFR | TYPE_IXFR) {
                self.ctx.emit(now, Some(&qname), EventKind::BadZoneTransferRequest { client: from });
                return wire::error_response(request, RCODE_NOTAUTH);
            }
            // Not authoritative and no recursion: REFUSED, as BIND and Knot answer.
            return wire::error_response(request, RCODE_REFUSED);
        };
        let zone = &self.zones[&origin];
        let Some(history) = zone.core().data.as_ref() else {
            // Configured but not loaded, or expired: SERVFAIL (BIND: EDE 24 "zone expired").
            return wire::error_response(request, RCODE_SERVFAIL);
        };
        let data = history.zone();
        let limit = usize::from(request.edns_payload.unwrap_or(0)).max(MIN_UDP_PAYLOAD);
        let answer = |rcode, answers: &mut dyn Iterator<Item = &xfrsim_zone::ZoneRecord>, authority: bool| {
            let mut reply = wire::response_to(request, rcode, true);
            for record in answers {
                reply.push(if authority { Section::Authority } else { Section::Answer }, record);
            }
            reply
        };
        let mut reply = if qtype == TYPE_IXFR {
            // RFC 1995 §2: over UDP, a single SOA tells the client to come back over TCP (BIND
            // never sends IXFR diffs over UDP).
            answer(RCODE_NOERROR, &mut std::iter::once(data.soa_record()), false)
        } else {
            let mut answers = data.lookup(&q.name, qtype).peekable();
            if answers.peek().is_some() {
                answer(RCODE_NOERROR, &mut answers, false)
            } else {
                // RFC 2308 §3: NXDOMAIN or NODATA, with the SOA for negative caching, its TTL
                // the smaller of its own and its MINIMUM field (as BIND's query.c sends it).
                let rcode = if data.has_name(&q.name) { RCODE_NOERROR } else { RCODE_NXDOMAIN };
                let soa = data.soa_record();
                let negative = soa.with_ttl(soa.ttl().min(data.soa().minimum));
                answer(rcode, &mut std::iter::once(&negative), true)
            }
        };
        if qtype == SOA && request.asks_expire && zone.core().behaviour.request_expire {
            // RFC 7314 §3: the SOA answer carries what is left of a secondary copy's expire
            // time, or a primary's SOA EXPIRE (BIND lib/ns/query.c `query_getexpire`).
            let left = zone.expire_left_secs(now).unwrap_or(data.soa().expire);
            reply.push_opt(wire::EDNS_UDP_PAYLOAD, Some(Some(left)));
        }
        if reply.len() > MAX_MESSAGE_LEN {
            // Too large for any DNS message, even over TCP (a huge RRset): SERVFAIL.
            return wire::error_response(request, RCODE_SERVFAIL);
        }
        if over_tcp || reply.len() <= limit {
            return reply.finish();
        }
        // RFC 1035 §4.1.1 / RFC 6891 §6.2.5: too large for the requester over UDP: an empty
        // answer with TC set sends it to TCP.
        let mut truncated = wire::response_to(request, RCODE_NOERROR, true);
        truncated.set_truncated();
        truncated.finish()
    }

    fn answer_notify(&mut self, now: Time, from: SocketAddr, request: &Message) -> Vec<u8> {
        let q = match soa_question(request) {
            Ok(q) => q,
            Err(formerr) => return formerr,
        };
        let origin = q.name.to_hickory();
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::error_response(request, RCODE_NOTAUTH);
        };
        let ack = || wire::response_to(request, RCODE_NOERROR, true).finish();
        let HeldZone::Secondary(zone) = zone else {
            // A primary has nothing to pull; acknowledge so the sender stops.
            return ack();
        };
        if !zone.is_master(from) {
            // RFC 1996 §3.10: a NOTIFY from a non-master is ignored and logged; refused with
            // the profile's RCODE.
            self.ctx.emit(now, Some(&origin), EventKind::NotifyRefused { from });
            return wire::error_response(request, self.ctx.behaviour.notify_refused_rcode);
        }
        let hinted = wire::soa_serial_in(request, &request.answers, &q.name);
        self.ctx.emit(now, Some(&origin), EventKind::NotifyReceived { from, serial: hinted });
        zone.on_master_notify(&mut self.ctx, now, from, hinted);
        ack()
    }

    /// RFC 2136 §3: the zone section checked and the update handed to the primary zone
    /// (`primary/update.rs`). A secondary does not forward (§6); it refuses.
    fn answer_update(&mut self, now: Time, from: SocketAddr, request: &Message) -> Vec<u8> {
        let origin = match soa_question(request) {
            Ok(zq) => zq.name.to_hickory(),
            Err(formerr) => return formerr,
        };
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::error_response(request, RCODE_NOTAUTH);
        };
        match zone {
            HeldZone::Primary(zone) => zone.answer_update(&mut self.ctx, now, from, request, &origin),
            HeldZone::Secondary(_) => {
                // BIND: "update 'zone/IN' denied" (a secondary forwards nothing here: refused).
                self.ctx.emit(now, Some(&origin), EventKind::UpdateDenied { client: from });
                wire::error_response(request, RCODE_REFUSED)
            }
        }
    }

    // ----- TCP server connections -------------------------------------------------------

    pub(crate) fn on_server_message(&mut self, now: Time, conn: ConnId, payload: Vec<u8>) {
        let tcp_idle = self.ctx.behaviour.timeouts.tcp_server_idle;
        let tcp_pipelined = self.ctx.behaviour.tcp_pipelined as usize;
        let Some(Conn::Server { idle_deadline, outgoing, queued, .. }) = self.ctx.conns.get_mut(&conn) else { return };
        *idle_deadline = now + tcp_idle;
        if outgoing.is_some() {
            // Pipelined behind a transfer in progress: answered in order once it is sent. The
            // driver stops reading at `tcp_pipelined` requests in progress, so this queue
            // stays that short; longer means the driver broke its side.
            assert!(
                queued.len() < tcp_pipelined,
                "connection {conn:?}: the driver read past {tcp_pipelined} pipelined requests"
            );
            queued.push_back(payload);
            return;
        }
        self.serve_tcp_request(now, conn, &payload);
    }

    fn serve_tcp_request(&mut self, now: Time, conn: ConnId, payload: &[u8]) {
        let Some(Conn::Server { peer, .. }) = self.ctx.conns.get(&conn) else { return };
        let peer = *peer;
        let Ok(request) = Message::parse(payload) else {
            self.ctx.report_bad_packet(now, peer);
            self.ctx.close(conn);
            return;
        };
        if request.is_response() {
            return;
        }
        let is_transfer = request.opcode() == OPCODE_QUERY
            && matches!(request.questions.as_slice(), [q] if matches!(q.qtype, TYPE_AXFR | TYPE_IXFR));
        if is_transfer {
            let qname = request.questions[0].name.to_hickory();
            let zone = self.zones.get(&qname).map(|zone| (zone.core(), zone.expire_left_secs(now)));
            xfrout::start(&mut self.ctx, now, conn, peer, &request, zone);
        } else if let Some(reply) = self.answer_request(now, peer, &request, true) {
            self.ctx.send_tcp(conn, reply);
        }
    }

    pub(crate) fn on_server_sent(&mut self, now: Time, conn: ConnId) {
        let tcp_idle = self.ctx.behaviour.timeouts.tcp_server_idle;
        let Some(Conn::Server { idle_deadline, .. }) = self.ctx.conns.get_mut(&conn) else { return };
        // A transfer still being written is not an idle connection.
        *idle_deadline = now + tcp_idle;
        if !xfrout::advance(&mut self.ctx, now, conn) {
            return;
        }
        let next = match self.ctx.conns.get_mut(&conn) {
            Some(Conn::Server { queued, .. }) => queued.pop_front(),
            _ => None,
        };
        if let Some(next) = next {
            self.serve_tcp_request(now, conn, &next);
        }
    }

    pub(crate) fn on_server_closed(&mut self, now: Time, conn: ConnId) {
        if let Some(Conn::Server { peer, outgoing: Some(out), .. }) = self.ctx.conns.remove(&conn) {
            xfrout::cut(&mut self.ctx, now, peer, &out);
        }
    }

    pub(crate) fn on_server_idle(&mut self, now: Time, conn: ConnId) {
        if let Some(Conn::Server { peer, outgoing, .. }) = self.ctx.conns.get_mut(&conn)
            && let Some(out) = outgoing.take()
        {
            let peer = *peer;
            xfrout::cut(&mut self.ctx, now, peer, &out);
        }
        self.ctx.close(conn);
    }
}

/// The one question a NOTIFY (RFC 1996 §3.7) or an UPDATE's zone section (RFC 2136 §3.1.1)
/// carries: the zone's name with type SOA; anything else is answered FORMERR.
fn soa_question(request: &Message) -> Result<&Question, Vec<u8>> {
    match request.questions.as_slice() {
        [q] if q.qtype == SOA => Ok(q),
        _ => Err(wire::error_response(request, RCODE_FORMERR)),
    }
}
