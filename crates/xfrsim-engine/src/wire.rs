//! DNS messages on the wire: building queries and responses with explicit ids, splitting a
//! transfer into messages, and parsing a transfer stream back (RFC 5936 §2.2, RFC 1995 §4).

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use xfrsim_zone::{Diff, Serial, Zone, ZoneBuilder};

use crate::event::BadResponse;

/// Largest DNS message over TCP: the 2-byte length prefix (RFC 1035 §4.2.2, RFC 5936 §2).
pub const MAX_TCP_MESSAGE: usize = 65_535;
/// Room kept for header, question and compression slack when filling a transfer message.
const TRANSFER_BUDGET: usize = 64_000;

pub fn question(name: &Name, rtype: RecordType) -> Query {
    let mut q = Query::query(name.clone(), rtype);
    q.set_query_class(DNSClass::IN);
    q
}

pub fn query(id: u16, name: &Name, rtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(question(name, rtype));
    m
}

/// RFC 1995 §3: IXFR carries the client's current SOA in the authority section.
pub fn ixfr_query(id: u16, zone: &Name, current_soa: &Record) -> Message {
    let mut m = query(id, zone, RecordType::IXFR);
    m.add_authority(current_soa.clone());
    m
}

/// RFC 1996 §3.7: opcode NOTIFY, AA set, question zone/SOA, the new SOA as a hint.
pub fn notify(id: u16, zone: &Name, soa: &Record) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(question(zone, RecordType::SOA));
    m.add_answer(soa.clone());
    m
}

/// A response echoing the request's id, opcode and question.
pub fn response_to(request: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, rcode);
    m.add_queries(request.queries.iter().cloned());
    m
}

/// Encodes an answer to `request`; an answer too large for any DNS message (over 65,535
/// bytes, e.g. a huge RRset) becomes SERVFAIL rather than a crash.
pub fn encode_reply(request: &Message, reply: &Message) -> Vec<u8> {
    reply.to_vec().unwrap_or_else(|_| encode(&response_to(request, ResponseCode::ServFail)))
}

pub fn encode(message: &Message) -> Vec<u8> {
    // Messages the engine builds hold only records it decoded or loaded, whose encoding was
    // proven then; a failure here is a bug to be crashed on, keeping the seed.
    message.to_vec().expect("an engine-built message always encodes")
}

fn record_wire_len(record: &Record) -> usize {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    record.emit(&mut encoder).map(|()| buf.len()).unwrap_or(MAX_TCP_MESSAGE)
}

/// Splits a transfer's records into response messages of at most 64 KiB each (RFC 5936 §2.2):
/// the first echoes the question, all carry the request id, AA set.
pub fn transfer_messages(request: &Message, records: impl Iterator<Item = Record>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current = response_to(request, ResponseCode::NoError);
    current.metadata.authoritative = true;
    let mut size = 0;
    for record in records {
        let len = record_wire_len(&record);
        if size + len > TRANSFER_BUDGET && !current.answers.is_empty() {
            out.push(encode(&current));
            current = Message::response(request.metadata.id, request.metadata.op_code);
            current.metadata.authoritative = true;
            size = 0;
        }
        size += len;
        current.add_answer(record);
    }
    out.push(encode(&current));
    out
}

/// The records of an incremental IXFR answer (RFC 1995 §4): current SOA, then per diff
/// old SOA, deletions, new SOA, additions, then the current SOA again.
pub fn ixfr_records<'d>(current_soa: &'d Record, diffs: impl Iterator<Item = &'d Diff>) -> Vec<&'d Record> {
    let mut records = vec![current_soa];
    for diff in diffs {
        records.push(&diff.old_soa);
        records.extend(diff.deleted.iter());
        records.push(&diff.new_soa);
        records.extend(diff.added.iter());
    }
    records.push(current_soa);
    records
}

pub fn soa_serial(record: &Record) -> Option<Serial> {
    match &record.data {
        RData::SOA(soa) => Some(Serial(soa.serial)),
        _ => None,
    }
}

/// What a finished transfer delivered.
#[derive(Debug)]
pub enum TransferOutcome {
    /// A single SOA: the server's version is not newer than ours (IXFR "up to date").
    UpToDate { serial: Serial },
    /// A full zone: AXFR, or an AXFR-style answer to IXFR.
    Full { zone: Box<Zone> },
    /// Incremental diffs, oldest first.
    Incremental { diffs: Vec<Diff> },
}

enum Phase {
    /// Nothing received yet.
    Start,
    /// Saw the opening SOA only (IXFR: could be "up to date", incremental or AXFR-style).
    OpeningSoa,
    Full,
    /// Incremental: collecting deletions after an old SOA.
    Deleting,
    /// Incremental: collecting additions after a new SOA.
    Adding,
    Done,
}

/// Parses a transfer stream message by message. Checks each message against the request (id,
/// question, rcode) and the record sequence against RFC 5936 §2.2 / RFC 1995 §4.
pub struct TransferReceiver {
    zone: Name,
    id: u16,
    qtype: RecordType,
    our_serial: Option<Serial>,
    phase: Phase,
    opening_soa: Option<Record>,
    /// The zone of a full transfer, built as records arrive.
    full: ZoneBuilder,
    diffs: Vec<Diff>,
    current_diff: Option<Diff>,
    messages: usize,
}

impl TransferReceiver {
    /// `our_serial` is the serial sent in an IXFR request (`None` for AXFR).
    pub fn new(zone: Name, id: u16, qtype: RecordType, our_serial: Option<Serial>) -> Self {
        TransferReceiver {
            full: ZoneBuilder::new(zone.clone()),
            zone,
            id,
            qtype,
            our_serial,
            phase: Phase::Start,
            opening_soa: None,
            diffs: Vec::new(),
            current_diff: None,
            messages: 0,
        }
    }

    pub fn started(&self) -> bool {
        self.messages > 0
    }

    /// Feeds one message. `Ok(None)`: more to come. `Ok(Some(outcome))`: complete.
    pub fn on_message(&mut self, message: Message) -> Result<Option<TransferOutcome>, BadResponse> {
        if message.metadata.id != self.id || message.metadata.message_type != MessageType::Response {
            return Err(BadResponse::WrongId);
        }
        if message.metadata.op_code != OpCode::Query {
            return Err(BadResponse::Malformed);
        }
        // RFC 5936 §2.2: the first message echoes the question; later ones may omit it.
        match message.queries.as_slice() {
            [] if self.messages > 0 => {}
            [q] if q.name() == &self.zone && q.query_type() == self.qtype => {}
            _ => return Err(BadResponse::WrongQuestion),
        }
        let rcode = message.metadata.response_code;
        if rcode != ResponseCode::NoError {
            return Err(BadResponse::Rcode(u16::from(rcode)));
        }
        self.messages += 1;
        let count = message.answers.len();
        for record in message.answers {
            self.on_record(record)?;
        }
        // A lone SOA in a single message is "up to date" for IXFR (RFC 1995 §2) — only when the
        // message ends right after it; otherwise more records would have followed in it.
        if matches!(self.phase, Phase::OpeningSoa) && self.qtype == RecordType::IXFR && count == 1 && self.messages == 1
        {
            let serial = self.opening_soa.as_ref().and_then(soa_serial).ok_or(BadResponse::FirstNotSoa)?;
            if self.our_serial.is_some_and(|ours| !serial.is_newer_than(ours)) {
                self.phase = Phase::Done;
                return Ok(Some(TransferOutcome::UpToDate { serial }));
            }
        }
        if matches!(self.phase, Phase::Done) {
            return self.finish().map(Some);
        }
        Ok(None)
    }

    fn on_record(&mut self, record: Record) -> Result<(), BadResponse> {
        if record.dns_class != DNSClass::IN || !self.zone.zone_of(&record.name) {
            return Err(BadResponse::BadZoneData);
        }
        let is_soa = record.record_type() == RecordType::SOA;
        if is_soa && record.name != self.zone {
            return Err(BadResponse::BadZoneData);
        }
        match self.phase {
            Phase::Start => {
                if !is_soa {
                    return Err(BadResponse::FirstNotSoa);
                }
                self.opening_soa = Some(record);
                self.phase = Phase::OpeningSoa;
            }
            Phase::OpeningSoa => {
                let opening = self.opening_soa.as_ref().and_then(soa_serial);
                let second_is_ours = is_soa && soa_serial(&record) == self.our_serial && self.qtype == RecordType::IXFR;
                if second_is_ours && opening != self.our_serial {
                    // RFC 1995 §4: a second SOA carrying the client's serial means incremental.
                    self.current_diff =
                        Some(Diff { old_soa: record, deleted: vec![], new_soa: record_placeholder(), added: vec![] });
                    self.phase = Phase::Deleting;
                } else if is_soa {
                    // AXFR of a zone holding only its SOA: the closing SOA right away.
                    self.close_full(&record)?;
                } else {
                    self.full.push(record).map_err(|_| BadResponse::BadZoneData)?;
                    self.phase = Phase::Full;
                }
            }
            Phase::Full => {
                if is_soa {
                    self.close_full(&record)?;
                } else {
                    self.full.push(record).map_err(|_| BadResponse::BadZoneData)?;
                }
            }
            Phase::Deleting => {
                let diff = self.current_diff.as_mut().expect("Deleting always has a current diff");
                if is_soa {
                    diff.new_soa = record;
                    self.phase = Phase::Adding;
                } else {
                    diff.deleted.push(record);
                }
            }
            Phase::Adding => {
                if is_soa {
                    let diff = self.current_diff.take().expect("Adding always has a current diff");
                    let reached = soa_serial(&diff.new_soa);
                    let final_serial = self.opening_soa.as_ref().and_then(soa_serial);
                    let this = soa_serial(&record);
                    if this != reached {
                        return Err(BadResponse::IxfrOutOfSync);
                    }
                    self.diffs.push(diff);
                    if reached == final_serial {
                        if Some(&record) != self.opening_soa.as_ref() {
                            return Err(BadResponse::SoaMismatch);
                        }
                        self.phase = Phase::Done;
                    } else {
                        self.current_diff = Some(Diff {
                            old_soa: record,
                            deleted: vec![],
                            new_soa: record_placeholder(),
                            added: vec![],
                        });
                        self.phase = Phase::Deleting;
                    }
                } else {
                    let diff = self.current_diff.as_mut().expect("Adding always has a current diff");
                    diff.added.push(record);
                }
            }
            Phase::Done => return Err(BadResponse::DataAfterEnd),
        }
        Ok(())
    }

    fn close_full(&mut self, closing: &Record) -> Result<(), BadResponse> {
        let opening = self.opening_soa.as_ref().ok_or(BadResponse::FirstNotSoa)?;
        // RFC 5936 §2.2: the last record is the same SOA as the first. Record equality in hickory
        // ignores TTL; compare serials explicitly as well.
        if closing != opening || soa_serial(closing) != soa_serial(opening) || !soa_rdata_equal(closing, opening) {
            return Err(BadResponse::SoaMismatch);
        }
        self.phase = Phase::Done;
        Ok(())
    }

    fn finish(&mut self) -> Result<TransferOutcome, BadResponse> {
        if !self.diffs.is_empty() {
            return Ok(TransferOutcome::Incremental { diffs: std::mem::take(&mut self.diffs) });
        }
        let mut full = std::mem::replace(&mut self.full, ZoneBuilder::new(self.zone.clone()));
        if let Some(soa) = self.opening_soa.take() {
            full.push(soa).map_err(|_| BadResponse::BadZoneData)?;
        }
        full.finish().map(|zone| TransferOutcome::Full { zone: Box::new(zone) }).map_err(|_| BadResponse::BadZoneData)
    }
}

fn soa_rdata_equal(a: &Record, b: &Record) -> bool {
    a.data == b.data
}

/// A stand-in until the new SOA of a diff is read; never escapes the receiver.
fn record_placeholder() -> Record {
    Record::update0(Name::root(), 0, RecordType::SOA)
}
