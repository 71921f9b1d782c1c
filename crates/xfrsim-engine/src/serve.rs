//! The serving side of a node: answering queries, NOTIFY and UPDATE, and sending transfers
//! (AXFR, RFC 5936; IXFR, RFC 1995) one message at a time over TCP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use xfrsim_zone::{Change, Serial, ZoneHistory};

use crate::Time;
use crate::event::EventKind;
use crate::node::{Conn, ConnId, Node};
use crate::wire;

/// A transfer being sent: the remaining messages, released one per `handle_tcp_sent`, so a
/// peer that stops reading stalls the transfer rather than the node's memory.
pub(crate) struct Outgoing {
    serial: Serial,
    records: usize,
    zone: Name,
    messages: VecDeque<Vec<u8>>,
}

/// RFC 1035 §4.2.1 / RFC 6891 §6.2.5: a UDP answer larger than the requester can take is
/// replaced by an empty one with TC set.
pub(crate) fn fit_udp(request: &Message, reply: Message) -> Message {
    let limit = usize::from(request.max_payload());
    if reply.to_vec().is_ok_and(|bytes| bytes.len() <= limit) {
        return reply;
    }
    let mut truncated = reply.truncate();
    truncated.metadata.truncation = true;
    truncated
}

impl Node {
    /// Answers a request that takes one response message (everything but a TCP transfer).
    pub(crate) fn answer_request(
        &mut self,
        now: Time,
        from: SocketAddr,
        request: &Message,
        over_tcp: bool,
    ) -> Option<Message> {
        match request.metadata.op_code {
            OpCode::Query => Some(self.answer_query(now, from, request, over_tcp)),
            OpCode::Notify => Some(self.answer_notify(now, from, request)),
            OpCode::Update => Some(self.answer_update(now, from, request)),
            _ => Some(wire::response_to(request, ResponseCode::NotImp)),
        }
    }

    fn answer_query(&mut self, now: Time, from: SocketAddr, request: &Message, over_tcp: bool) -> Message {
        let [q] = request.queries.as_slice() else {
            return wire::response_to(request, ResponseCode::FormErr);
        };
        let qtype = q.query_type();
        if qtype == RecordType::AXFR && !over_tcp {
            // RFC 5936 §4.2: AXFR is TCP only.
            self.ctx.emit(now, self.zone_for(q.name()).cloned().as_ref(), EventKind::UdpZoneTransfer { client: from });
            return wire::response_to(request, ResponseCode::Refused);
        }
        let Some(origin) = self.zone_for(q.name()).cloned() else {
            if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
                self.ctx.emit(now, Some(q.name()), EventKind::BadZoneTransferRequest { client: from });
                return wire::response_to(request, ResponseCode::NotAuth);
            }
            // Not authoritative and no recursion: REFUSED, as BIND and Knot answer.
            return wire::response_to(request, ResponseCode::Refused);
        };
        let zone = &self.zones[&origin];
        let Some(history) = zone.data.as_ref() else {
            // Configured but not loaded, or expired: SERVFAIL (BIND: EDE 24 "zone expired").
            return wire::response_to(request, ResponseCode::ServFail);
        };
        let data = history.zone();
        let mut reply = wire::response_to(request, ResponseCode::NoError);
        reply.metadata.authoritative = true;
        if qtype == RecordType::IXFR {
            // RFC 1995 §2: over UDP, a single SOA tells the client to come back over TCP (BIND
            // never sends IXFR diffs over UDP).
            reply.add_answer(data.soa_record().clone());
            return reply;
        }
        let answers: Vec<Record> = data.lookup(q.name(), qtype).collect();
        if answers.is_empty() {
            // RFC 2308 §3: NXDOMAIN or NODATA, with the SOA for negative caching.
            if !data.has_name(q.name()) {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            reply.add_authority(data.soa_record().clone());
        } else {
            reply.add_answers(answers);
        }
        reply
    }

    fn answer_notify(&mut self, now: Time, from: SocketAddr, request: &Message) -> Message {
        let [q] = request.queries.as_slice() else {
            return wire::response_to(request, ResponseCode::FormErr);
        };
        if q.query_type() != RecordType::SOA {
            return wire::response_to(request, ResponseCode::FormErr);
        }
        let origin = q.name().clone();
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::response_to(request, ResponseCode::NotAuth);
        };
        if zone.secondary.is_none() {
            // A primary has nothing to pull; acknowledge so the sender stops.
            let mut ack = wire::response_to(request, ResponseCode::NoError);
            ack.metadata.authoritative = true;
            return ack;
        }
        if !zone.is_master(from) {
            // RFC 1996 §3.10: a NOTIFY from a non-master is ignored and logged; BIND refuses it.
            self.ctx.emit(now, Some(&origin), EventKind::NotifyRefused { from });
            return wire::response_to(request, ResponseCode::Refused);
        }
        let hinted = request.answers.iter().find(|r| r.name == origin).and_then(wire::soa_serial);
        self.ctx.emit(now, Some(&origin), EventKind::NotifyReceived { from, serial: hinted });
        zone.on_master_notify(&mut self.ctx, now, from, hinted);
        let mut ack = wire::response_to(request, ResponseCode::NoError);
        ack.metadata.authoritative = true;
        ack
    }

    /// RFC 2136 §3, a subset: zone section check, no prerequisites, add / delete RR / delete
    /// RRset / delete name. A secondary does not forward (§6); it refuses.
    fn answer_update(&mut self, now: Time, from: SocketAddr, request: &Message) -> Message {
        let [zq] = request.queries.as_slice() else {
            return wire::response_to(request, ResponseCode::FormErr);
        };
        if zq.query_type() != RecordType::SOA {
            return wire::response_to(request, ResponseCode::FormErr);
        }
        let origin = zq.name().clone();
        let Some(zone) = self.zones.get_mut(&origin) else {
            return wire::response_to(request, ResponseCode::NotAuth);
        };
        if zone.secondary.is_some() || !zone.allow_update.allows(from.ip()) {
            return wire::response_to(request, ResponseCode::Refused);
        }
        if !request.answers.is_empty() {
            // Prerequisites (§2.4) are not implemented: say so rather than ignore them.
            return wire::response_to(request, ResponseCode::NotImp);
        }
        let changes = match decode_changes(&origin, &request.authorities) {
            Ok(changes) => changes,
            Err(rcode) => return wire::response_to(request, rcode),
        };
        match zone.update_from_wire(&mut self.ctx, now, &changes) {
            Ok(()) => wire::response_to(request, ResponseCode::NoError),
            Err(_) => wire::response_to(request, ResponseCode::FormErr),
        }
    }

    // ----- TCP server connections -------------------------------------------------------

    pub(crate) fn on_server_message(&mut self, now: Time, conn: ConnId, payload: Vec<u8>) {
        let tcp_idle = self.ctx.timeouts.tcp_server_idle;
        let Some(Conn::Server { idle_deadline, outgoing, queued, .. }) = self.ctx.conns.get_mut(&conn) else { return };
        *idle_deadline = now + tcp_idle;
        if outgoing.is_some() {
            // Pipelined behind a transfer in progress: answered in order once it is sent.
            queued.push_back(payload);
            return;
        }
        self.serve_tcp_request(now, conn, &payload);
    }

    fn serve_tcp_request(&mut self, now: Time, conn: ConnId, payload: &[u8]) {
        let Some(Conn::Server { peer, .. }) = self.ctx.conns.get(&conn) else { return };
        let peer = *peer;
        let Ok(request) = Message::from_vec(payload) else {
            self.ctx.emit(now, None, EventKind::BadPacket { peer });
            self.ctx.close(conn);
            return;
        };
        if request.metadata.message_type == MessageType::Response {
            return;
        }
        let is_transfer = request.metadata.op_code == OpCode::Query
            && matches!(request.queries.as_slice(), [q] if matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR));
        if is_transfer {
            self.start_outgoing(now, conn, peer, &request);
        } else if let Some(reply) = self.answer_request(now, peer, &request, true) {
            self.ctx.send_tcp(conn, wire::encode_reply(&request, &reply));
        }
    }

    fn start_outgoing(&mut self, now: Time, conn: ConnId, peer: SocketAddr, request: &Message) {
        let q = &request.queries[0];
        let qtype = q.query_type();
        let reply_error = |node: &mut Node, rcode| {
            node.ctx.send_tcp(conn, wire::encode(&wire::response_to(request, rcode)));
        };
        let Some(zone) = self.zones.get(q.name()) else {
            // RFC 5936 §2.2.1: not authoritative for that zone → NOTAUTH.
            self.ctx.emit(now, Some(q.name()), EventKind::BadZoneTransferRequest { client: peer });
            return reply_error(self, ResponseCode::NotAuth);
        };
        if !zone.allow_transfer.allows(peer.ip()) {
            return reply_error(self, ResponseCode::Refused);
        }
        let Some(history) = zone.data.clone() else {
            return reply_error(self, ResponseCode::ServFail);
        };
        let origin = zone.origin.clone();
        let serial = history.zone().serial();
        let (messages, incremental, records) = if qtype == RecordType::IXFR {
            let client_soa: Vec<&Record> =
                request.authorities.iter().filter(|r| r.record_type() == RecordType::SOA).collect();
            let [client_soa] = client_soa.as_slice() else {
                // BIND xfrout: IXFR without exactly one SOA in authority → FORMERR.
                return reply_error(self, ResponseCode::FormErr);
            };
            let Some(client_serial) = wire::soa_serial(client_soa) else {
                return reply_error(self, ResponseCode::FormErr);
            };
            if !serial.is_newer_than(client_serial) {
                // RFC 1995 §2: the client is current — one SOA.
                let mut reply = wire::response_to(request, ResponseCode::NoError);
                reply.metadata.authoritative = true;
                reply.add_answer(history.zone().soa_record().clone());
                self.ctx.send_tcp(conn, wire::encode(&reply));
                return;
            }
            ixfr_messages(request, &history, client_serial)
        } else {
            (wire::transfer_messages(request, history.zone().axfr_records()), false, history.zone().len() + 1)
        };
        self.ctx.emit(now, Some(&origin), EventKind::ZoneXfrStart { serial, secondary: peer, incremental });
        let mut messages: VecDeque<Vec<u8>> = messages.into();
        let first = messages.pop_front().expect("a transfer has at least one message");
        self.ctx.send_tcp(conn, first);
        if let Some(Conn::Server { outgoing, .. }) = self.ctx.conns.get_mut(&conn) {
            *outgoing = Some(Outgoing { serial, records, zone: origin, messages });
        }
    }

    pub(crate) fn on_server_sent(&mut self, now: Time, conn: ConnId) {
        let tcp_idle = self.ctx.timeouts.tcp_server_idle;
        let Some(Conn::Server { peer, outgoing, idle_deadline, .. }) = self.ctx.conns.get_mut(&conn) else { return };
        // A transfer still being written is not an idle connection.
        *idle_deadline = now + tcp_idle;
        let peer = *peer;
        if let Some(out) = outgoing {
            if let Some(next) = out.messages.pop_front() {
                self.ctx.send_tcp(conn, next);
                return;
            }
            let (serial, zone, records) = (out.serial, out.zone.clone(), out.records);
            *outgoing = None;
            self.ctx.emit(now, Some(&zone), EventKind::ZoneXfrSuccessful { serial, secondary: peer, records });
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
            self.ctx.emit(now, Some(&out.zone), EventKind::ZoneXfrAborted { serial: out.serial, secondary: peer });
        }
    }

    pub(crate) fn on_server_idle(&mut self, now: Time, conn: ConnId) {
        if let Some(Conn::Server { peer, outgoing: Some(out), .. }) = self.ctx.conns.get(&conn) {
            let (peer, serial, zone) = (*peer, out.serial, out.zone.clone());
            self.ctx.emit(now, Some(&zone), EventKind::ZoneXfrAborted { serial, secondary: peer });
        }
        self.ctx.close(conn);
    }
}

/// Incremental when the journal reaches the client's serial, else AXFR-style (RFC 1995 §4).
/// Returns the messages, whether they are incremental, and how many records they carry.
fn ixfr_messages(request: &Message, history: &Arc<ZoneHistory>, client_serial: Serial) -> (Vec<Vec<u8>>, bool, usize) {
    let zone = history.zone();
    match history.diffs_since(client_serial) {
        Some(diffs) => {
            let records = wire::ixfr_records(zone.soa_record(), diffs);
            let count = records.len();
            (wire::transfer_messages(request, records.into_iter().cloned()), true, count)
        }
        None => (wire::transfer_messages(request, zone.axfr_records()), false, zone.len() + 1),
    }
}

/// RFC 2136 §2.5: the class and TTL of each update RR say what it does.
fn decode_changes(origin: &Name, updates: &[Record]) -> Result<Vec<Change>, ResponseCode> {
    let mut changes = Vec::with_capacity(updates.len());
    for record in updates {
        if !origin.zone_of(&record.name) {
            return Err(ResponseCode::NotZone);
        }
        let rtype = record.record_type();
        let meta = matches!(rtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT);
        let empty = matches!(record.data, RData::Update0(_));
        let change = match record.dns_class {
            DNSClass::IN if !meta && !empty && rtype != RecordType::ANY => Change::Add(record.clone()),
            DNSClass::ANY if record.ttl == 0 && empty && rtype == RecordType::ANY => {
                Change::DeleteName(record.name.clone())
            }
            DNSClass::ANY if record.ttl == 0 && empty && !meta => {
                Change::DeleteRrset { name: record.name.clone(), rtype }
            }
            DNSClass::NONE if record.ttl == 0 && !empty && !meta && rtype != RecordType::ANY => {
                let mut rr = record.clone();
                rr.dns_class = DNSClass::IN;
                Change::DeleteRecord(rr)
            }
            _ => return Err(ResponseCode::FormErr),
        };
        changes.push(change);
    }
    Ok(changes)
}
