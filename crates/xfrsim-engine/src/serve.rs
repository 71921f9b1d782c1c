//! The serving side of a node: answering queries, NOTIFY and UPDATE, and sending transfers
//! (AXFR, RFC 5936; IXFR, RFC 1995) one message at a time over TCP.

use std::net::SocketAddr;

use xfrsim_zone::wire::{
    CLASS_ANY, CLASS_NONE, MAX_MESSAGE_LEN, MIN_UDP_PAYLOAD, Message, OPCODE_NOTIFY, OPCODE_QUERY, OPCODE_UPDATE,
    RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTAUTH, RCODE_NOTIMP, RCODE_NOTZONE, RCODE_NXDOMAIN, RCODE_REFUSED,
    RCODE_SERVFAIL, RecordRef, Section, TYPE_ANY, TYPE_AXFR, TYPE_IXFR,
};
use xfrsim_zone::{CLASS_IN, Change, Dname, SOA, Serial};

use crate::Time;
use crate::ctx::{Conn, ConnId, Outgoing};
use crate::event::EventKind;
use crate::node::Node;
use crate::wire::{self, TransferStream};

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
            if checks_first && held.is_some_and(|zone| !zone.allow_transfer.allows(from.ip())) {
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
        let Some(history) = zone.data.as_ref() else {
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
                // RFC 2308 §3: NXDOMAIN or NODATA, with the SOA for negative caching.
                let rcode = if data.has_name(&q.name) { RCODE_NOERROR } else { RCODE_NXDOMAIN };
                answer(rcode, &mut std::iter::once(data.soa_record()), true)
            }
        };
        if qtype == SOA && request.asks_expire && zone.behaviour.request_expire {
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
        let [q] = request.questions.as_slice() else {
            return wire::error_response(request, RCODE_FORMERR);
        };
        if q.qtype != SOA {
            return wire::error_response(request, RCODE_FORMERR);
        }
        let origin = q.name.to_hickory();
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::error_response(request, RCODE_NOTAUTH);
        };
        let ack = || wire::response_to(request, RCODE_NOERROR, true).finish();
        if zone.secondary.is_none() {
            // A primary has nothing to pull; acknowledge so the sender stops.
            return ack();
        }
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

    /// RFC 2136 §3, a subset: zone section check, no prerequisites, add / delete RR / delete
    /// RRset / delete name. A secondary does not forward (§6); it refuses.
    fn answer_update(&mut self, now: Time, from: SocketAddr, request: &Message) -> Vec<u8> {
        let [zq] = request.questions.as_slice() else {
            return wire::error_response(request, RCODE_FORMERR);
        };
        if zq.qtype != SOA {
            return wire::error_response(request, RCODE_FORMERR);
        }
        let origin = zq.name.to_hickory();
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::error_response(request, RCODE_NOTAUTH);
        };
        if zone.secondary.is_some() || !zone.allow_update.allows(from.ip()) {
            // BIND: "update 'zone/IN' denied" (a secondary forwards nothing here: refused too).
            self.ctx.emit(now, Some(&origin), EventKind::UpdateDenied { client: from });
            return wire::error_response(request, RCODE_REFUSED);
        }
        if zone.data.is_none() {
            // A primary whose file did not load (BIND answers SERVFAIL: the zone has no database).
            return wire::error_response(request, RCODE_SERVFAIL);
        }
        if !request.answers.is_empty() {
            // Prerequisites (§2.4) are not implemented: say so rather than ignore them.
            return wire::error_response(request, RCODE_NOTIMP);
        }
        let changes = match decode_changes(request, &zq.name, &request.authority) {
            Ok(changes) => changes,
            Err(rcode) => return wire::error_response(request, rcode),
        };
        match zone.update_from_wire(&mut self.ctx, now, &changes) {
            Ok(()) => wire::error_response(request, RCODE_NOERROR),
            Err(_) => wire::error_response(request, RCODE_FORMERR),
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
            self.start_outgoing(now, conn, peer, &request);
        } else if let Some(reply) = self.answer_request(now, peer, &request, true) {
            self.ctx.send_tcp(conn, reply);
        }
    }

    fn start_outgoing(&mut self, now: Time, conn: ConnId, peer: SocketAddr, request: &Message) {
        let q = &request.questions[0];
        let qname = q.name.to_hickory();
        let reply_error = |node: &mut Node, rcode| {
            node.ctx.send_tcp(conn, wire::error_response(request, rcode));
        };
        let Some(zone) = self.zones.get(&qname) else {
            // RFC 5936 §2.2.1: not authoritative for that zone → NOTAUTH.
            self.ctx.emit(now, Some(&qname), EventKind::BadZoneTransferRequest { client: peer });
            return reply_error(self, RCODE_NOTAUTH);
        };
        if !zone.allow_transfer.allows(peer.ip()) {
            // REFUSED (BIND, NSD) or NOTAUTH (Knot): the profile's.
            self.ctx.emit(now, Some(&qname), EventKind::TransferDenied { client: peer });
            return reply_error(self, self.ctx.behaviour.transfer_denied_rcode);
        }
        let Some(history) = zone.data.clone() else {
            return reply_error(self, RCODE_SERVFAIL);
        };
        // The quota is checked after the ACL (BIND GL #3859: denied clients take no slot).
        let running = self.ctx.conns.values().filter(|c| matches!(c, Conn::Server { outgoing: Some(_), .. })).count();
        if self.ctx.behaviour.transfers_out.is_some_and(|limit| running >= limit as usize) {
            self.ctx.emit(now, Some(&qname), EventKind::TransferQuotaRefused { client: peer });
            return reply_error(self, self.ctx.behaviour.transfers_out_rcode);
        }
        // RFC 7314 §3 in a transfer: only a secondary zone gives what its copy has left (BIND
        // lib/ns/xfrout.c; a primary's transfers carry no EXPIRE).
        let expire_left = zone.expire_left_secs(now).filter(|_| request.asks_expire && zone.behaviour.request_expire);
        let origin = zone.origin.clone();
        let serial = history.zone().serial();
        let stream = if q.qtype == TYPE_IXFR {
            let client_soas: Vec<&RecordRef> = request.authority.iter().filter(|r| r.rtype == SOA).collect();
            // BIND xfrout: IXFR without exactly one well-formed SOA in authority → FORMERR.
            let [client_soa] = client_soas.as_slice() else {
                return reply_error(self, RCODE_FORMERR);
            };
            let Some(client_serial) = request.soa_serial(client_soa).map(Serial) else {
                return reply_error(self, RCODE_FORMERR);
            };
            if !serial.is_newer_than(client_serial) {
                // RFC 1995 §2: the client is current — one SOA.
                let mut reply = wire::response_to(request, RCODE_NOERROR, true);
                reply.push(Section::Answer, history.zone().soa_record());
                if let Some(left) = expire_left {
                    reply.push_opt(wire::EDNS_UDP_PAYLOAD, Some(Some(left)));
                }
                self.ctx.send_tcp(conn, reply.finish());
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
        self.ctx.emit(now, Some(&origin), EventKind::ZoneXfrStart { serial, secondary: peer, incremental });
        let mut outgoing = Outgoing { stream, zone: origin };
        match outgoing.stream.next_message() {
            Ok(Some(first)) => {
                self.ctx.send_tcp(conn, first);
                if let Some(Conn::Server { outgoing: slot, .. }) = self.ctx.conns.get_mut(&conn) {
                    *slot = Some(outgoing);
                }
            }
            Ok(None) => unreachable!("a transfer has at least one message"),
            Err(_) => self.abort_outgoing(now, conn, peer, &outgoing),
        }
    }

    pub(crate) fn on_server_sent(&mut self, now: Time, conn: ConnId) {
        let tcp_idle = self.ctx.behaviour.timeouts.tcp_server_idle;
        let Some(Conn::Server { peer, outgoing, idle_deadline, .. }) = self.ctx.conns.get_mut(&conn) else { return };
        // A transfer still being written is not an idle connection.
        *idle_deadline = now + tcp_idle;
        let peer = *peer;
        if let Some(out) = outgoing {
            match out.stream.next_message() {
                Ok(Some(next)) => {
                    self.ctx.send_tcp(conn, next);
                    return;
                }
                Ok(None) => {
                    let (serial, zone, records) = (out.serial(), out.zone.clone(), out.stream.records);
                    *outgoing = None;
                    self.ctx.emit(now, Some(&zone), EventKind::ZoneXfrSuccessful { serial, secondary: peer, records });
                }
                Err(_) => {
                    let out = outgoing.take().expect("matched above");
                    return self.abort_outgoing(now, conn, peer, &out);
                }
            }
        }
        let next = match self.ctx.conns.get_mut(&conn) {
            Some(Conn::Server { queued, .. }) => queued.pop_front(),
            _ => None,
        };
        if let Some(next) = next {
            self.serve_tcp_request(now, conn, &next);
        }
    }

    /// A transfer that cannot go on (a record too large for any message): as BIND's xfrout
    /// does, the transfer fails (6002) and the connection is closed.
    fn abort_outgoing(&mut self, now: Time, conn: ConnId, peer: SocketAddr, out: &Outgoing) {
        self.ctx.emit(now, Some(&out.zone), EventKind::ZoneXfrAborted { serial: out.serial(), secondary: peer });
        self.ctx.close(conn);
    }

    pub(crate) fn on_server_closed(&mut self, now: Time, conn: ConnId) {
        if let Some(Conn::Server { peer, outgoing: Some(out), .. }) = self.ctx.conns.remove(&conn) {
            self.ctx.emit(now, Some(&out.zone), EventKind::ZoneXfrAborted { serial: out.serial(), secondary: peer });
        }
    }

    pub(crate) fn on_server_idle(&mut self, now: Time, conn: ConnId) {
        if let Some(Conn::Server { peer, outgoing: Some(out), .. }) = self.ctx.conns.get(&conn) {
            let (peer, serial, zone) = (*peer, out.serial(), out.zone.clone());
            self.ctx.emit(now, Some(&zone), EventKind::ZoneXfrAborted { serial, secondary: peer });
        }
        self.ctx.close(conn);
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
