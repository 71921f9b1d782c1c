//! DNS messages on the wire: queries and responses built with explicit ids, transfers encoded
//! one message at a time from a fixed version, and a transfer stream parsed back
//! (RFC 5936 §2.2, RFC 1995 §4). Every message goes through `xfrsim_zone::wire`, so records
//! leave and arrive byte for byte, case included.

use std::sync::Arc;

use hickory_proto::rr::Name;
use xfrsim_zone::wire::{
    FLAG_RD, Message, MessageWriter, OPCODE_NOTIFY, OPCODE_QUERY, Question, RCODE_NOERROR, Section, TYPE_IXFR,
};
use xfrsim_zone::{CLASS_IN, Diff, Dname, SOA, Serial, Zone, ZoneBuilder, ZoneHistory, ZoneRecord};

use crate::event::BadResponse;

/// Largest DNS message over TCP: the 2-byte length prefix (RFC 1035 §4.2.2, RFC 5936 §2).
pub const MAX_TCP_MESSAGE: usize = 65_535;

/// How large one transfer message grows, uncompressed: BIND's `transfer-message-size` default
/// (20480, chosen "to improve message compression": names in a message this size can point
/// at every earlier one, within the 14-bit pointer range). As BIND `xfrout.c` (1511-1519) does,
/// records are added until the uncompressed size reaches it (the last one may overshoot), and
/// a record that would take the message past 65,535 octets starts the next one.
pub const TRANSFER_MESSAGE_SIZE: usize = 20_480;

/// Why an outgoing transfer cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// One record alone does not fit in a DNS message (BIND: "RR too large for zone transfer").
    #[error("a record at {owner} is too large for a DNS message")]
    RecordTooLarge { owner: String },
}

fn question(zone: &Name, qtype: u16) -> Question {
    Question { name: Dname::from_hickory(zone), qtype, qclass: CLASS_IN }
}

/// The UDP payload size advertised with EDNS (BIND's and Knot's default since DNS Flag Day
/// 2020: 1232).
pub const EDNS_UDP_PAYLOAD: u16 = 1232;

/// A query (RD clear: servers of a zone are asked authoritatively).
pub fn query(id: u16, zone: &Name, qtype: u16) -> Vec<u8> {
    query_asking_expire(id, zone, qtype, false)
}

/// A query, with an empty EDNS EXPIRE option when `ask_expire` (RFC 7314 §2).
pub fn query_asking_expire(id: u16, zone: &Name, qtype: u16, ask_expire: bool) -> Vec<u8> {
    let flags = MessageWriter::flags(false, OPCODE_QUERY, false, false, RCODE_NOERROR);
    let mut writer = MessageWriter::new(id, flags, Some(&question(zone, qtype)));
    if ask_expire {
        writer.push_opt(EDNS_UDP_PAYLOAD, Some(None));
    }
    writer.finish()
}

/// RFC 1995 §3: IXFR carries the client's current SOA in the authority section.
pub fn ixfr_query(id: u16, zone: &Name, current_soa: &ZoneRecord, ask_expire: bool) -> Vec<u8> {
    let flags = MessageWriter::flags(false, OPCODE_QUERY, false, false, RCODE_NOERROR);
    let mut writer = MessageWriter::new(id, flags, Some(&question(zone, TYPE_IXFR)));
    writer.push(Section::Authority, current_soa);
    if ask_expire {
        writer.push_opt(EDNS_UDP_PAYLOAD, Some(None));
    }
    writer.finish()
}

/// RFC 1996 §3.7: opcode NOTIFY, AA set, question zone/SOA, the new SOA as a hint.
pub fn notify(id: u16, zone: &Name, soa: &ZoneRecord) -> Vec<u8> {
    let flags = MessageWriter::flags(false, OPCODE_NOTIFY, true, false, RCODE_NOERROR);
    let mut writer = MessageWriter::new(id, flags, Some(&question(zone, SOA)));
    writer.push(Section::Answer, soa);
    writer.finish()
}

/// A response to `request`: its id, opcode, RD bit (RFC 1035 §4.1.1: copied) and question.
pub fn response_to(request: &Message, rcode: u8, authoritative: bool) -> MessageWriter {
    let rd = request.flags & FLAG_RD != 0;
    let flags = MessageWriter::flags(true, request.opcode(), authoritative, rd, rcode);
    MessageWriter::new(request.id, flags, request.questions.first())
}

/// An error response (no records) to `request`.
pub fn error_response(request: &Message, rcode: u8) -> Vec<u8> {
    response_to(request, rcode, false).finish()
}

/// The serial of the first SOA for `zone` among `records`, when it is well-formed.
pub fn soa_serial_in(message: &Message, records: &[xfrsim_zone::wire::RecordRef], zone: &Dname) -> Option<Serial> {
    records
        .iter()
        .filter(|r| r.rtype == SOA && message.owner_is(r, zone))
        .find_map(|r| message.soa_serial(r))
        .map(Serial)
}

/// Where an outgoing transfer stands.
#[derive(Debug)]
enum Position {
    /// The opening SOA (both AXFR and IXFR start with the current SOA).
    Opening,
    /// AXFR: the records after this one (none sent yet: `None`).
    Records(Option<ZoneRecord>),
    /// IXFR: diff `index` of the journal, part `part`, item `item` within the part.
    Diff {
        index: usize,
        part: DiffPart,
        item: usize,
    },
    /// The closing SOA.
    Closing,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiffPart {
    OldSoa,
    Deleted,
    NewSoa,
    Added,
}

/// An outgoing AXFR or incremental IXFR, encoded lazily: one message per call of
/// [`TransferStream::next_message`], always from the version the request saw (held by the
/// `Arc`, so no transfer ever mixes versions), so a reader that stalls costs one message.
pub struct TransferStream {
    history: Arc<ZoneHistory>,
    id: u16,
    flags: u16,
    question: Option<Question>,
    position: Position,
    /// Where the stream goes after the opening SOA.
    after_opening: Option<Position>,
    incremental: bool,
    /// EDNS EXPIRE for the first message, when the client asked (RFC 7314 §3).
    expire: Option<u32>,
    /// Records put in messages so far.
    pub records: usize,
}

impl TransferStream {
    /// A full zone (AXFR, or the AXFR-style answer to an IXFR, RFC 1995 §4).
    pub fn full(request: &Message, history: Arc<ZoneHistory>, expire: Option<u32>) -> Self {
        Self::new(request, history, Position::Records(None), expire)
    }

    /// The journal's diffs from `start` on (RFC 1995 §4 incremental answer).
    pub fn incremental(request: &Message, history: Arc<ZoneHistory>, start: usize, expire: Option<u32>) -> Self {
        Self::new(request, history, Position::Diff { index: start, part: DiffPart::OldSoa, item: 0 }, expire)
    }

    fn new(request: &Message, history: Arc<ZoneHistory>, after_opening: Position, expire: Option<u32>) -> Self {
        let flags = MessageWriter::flags(true, request.opcode(), true, request.flags & FLAG_RD != 0, RCODE_NOERROR);
        let incremental = matches!(after_opening, Position::Diff { .. });
        TransferStream {
            incremental,
            history,
            id: request.id,
            flags,
            question: request.questions.first().cloned(),
            position: Position::Opening,
            after_opening: Some(after_opening),
            expire,
            records: 0,
        }
    }

    pub fn serial(&self) -> Serial {
        self.history.zone().serial()
    }

    /// True for an incremental IXFR answer (RFC 1995 §4), false for a full zone.
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// The next message, `None` once the closing SOA has gone.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, TransferError> {
        if matches!(self.position, Position::Done) {
            return Ok(None);
        }
        // RFC 5936 §2.2.1: the question goes in the first message only (as BIND sends it).
        let mut writer = MessageWriter::new(self.id, self.flags, self.question.take().as_ref());
        let history = Arc::clone(&self.history);
        let zone = history.zone();
        loop {
            match &mut self.position {
                Position::Opening => {
                    if !push_if_fits(&mut writer, zone.soa_record(), &mut self.records)? {
                        break;
                    }
                    self.position = self.after_opening.take().unwrap_or(Position::Closing);
                }
                Position::Records(last) => {
                    let mut sent_last: Option<&ZoneRecord> = None;
                    let mut full = false;
                    for record in zone.records_after(last.as_ref()) {
                        if !push_if_fits(&mut writer, record, &mut self.records)? {
                            full = true;
                            break;
                        }
                        sent_last = Some(record);
                    }
                    if let Some(sent) = sent_last {
                        *last = Some(sent.clone());
                    }
                    if full {
                        break;
                    }
                    self.position = Position::Closing;
                }
                Position::Diff { index, part, item } => {
                    let Some(diff) = history.diff(*index) else {
                        self.position = Position::Closing;
                        continue;
                    };
                    let record = match part {
                        DiffPart::OldSoa => Some(&diff.old_soa),
                        DiffPart::Deleted => diff.deleted.get(*item),
                        DiffPart::NewSoa => Some(&diff.new_soa),
                        DiffPart::Added => diff.added.get(*item),
                    };
                    match record {
                        Some(record) => {
                            if !push_if_fits(&mut writer, record, &mut self.records)? {
                                break;
                            }
                            match part {
                                DiffPart::OldSoa => *part = DiffPart::Deleted,
                                DiffPart::NewSoa => *part = DiffPart::Added,
                                DiffPart::Deleted | DiffPart::Added => *item += 1,
                            }
                        }
                        None => {
                            // The end of a list of deletions or additions.
                            *item = 0;
                            match part {
                                DiffPart::Deleted => *part = DiffPart::NewSoa,
                                _ => {
                                    *index += 1;
                                    *part = DiffPart::OldSoa;
                                }
                            }
                        }
                    }
                }
                Position::Closing => {
                    if !push_if_fits(&mut writer, zone.soa_record(), &mut self.records)? {
                        break;
                    }
                    self.position = Position::Done;
                    break;
                }
                Position::Done => break,
            }
        }
        if let Some(left) = self.expire.take() {
            writer.push_opt(EDNS_UDP_PAYLOAD, Some(Some(left)));
        }
        Ok(Some(writer.finish()))
    }
}

/// Adds `record` unless the message is done: BIND's rule (see [`TRANSFER_MESSAGE_SIZE`]). A
/// message always takes its first record.
fn push_if_fits(writer: &mut MessageWriter, record: &ZoneRecord, count: &mut usize) -> Result<bool, TransferError> {
    if !writer.is_empty() {
        let size = record.owner().len() + 10 + record.rdata().len();
        if writer.uncompressed_len() >= TRANSFER_MESSAGE_SIZE || writer.uncompressed_len() + size > MAX_TCP_MESSAGE {
            return Ok(false);
        }
    }
    writer.push(Section::Answer, record);
    // Every message stops short of 65,535 octets but for a lone record too large for any.
    if writer.len() > MAX_TCP_MESSAGE {
        return Err(TransferError::RecordTooLarge { owner: record.owner_name().to_string() });
    }
    *count += 1;
    Ok(true)
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

/// A diff being received: its new SOA is not known until it arrives.
struct DiffInProgress {
    old_soa: ZoneRecord,
    deleted: Vec<ZoneRecord>,
    new_soa: Option<ZoneRecord>,
    added: Vec<ZoneRecord>,
}

/// Parses a transfer stream message by message. Checks each message against the request (id,
/// question, rcode) and the record sequence against RFC 5936 §2.2 / RFC 1995 §4; every record
/// must be class IN, inside the zone, and parse for its type.
pub struct TransferReceiver {
    zone: Name,
    apex: Dname,
    id: u16,
    qtype: u16,
    our_serial: Option<Serial>,
    phase: Phase,
    opening_soa: Option<ZoneRecord>,
    /// The zone of a full transfer, built as records arrive.
    full: ZoneBuilder,
    diffs: Vec<Diff>,
    current_diff: Option<DiffInProgress>,
    messages: usize,
}

impl TransferReceiver {
    /// `our_serial` is the serial sent in an IXFR request (`None` for AXFR).
    pub fn new(zone: Name, id: u16, qtype: u16, our_serial: Option<Serial>) -> Self {
        TransferReceiver {
            full: ZoneBuilder::new(zone.clone()),
            apex: Dname::from_hickory(&zone),
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

    /// The records of a full transfer received so far, as a zone (for the canaries that
    /// install or serve a transfer before its end); `None` before the opening SOA.
    pub fn partial_zone(&self) -> Option<Zone> {
        if !matches!(self.phase, Phase::Full) {
            return None;
        }
        let mut builder = self.full.clone();
        builder.push(self.opening_soa.clone()?).ok()?;
        builder.finish().ok()
    }

    pub fn started(&self) -> bool {
        self.messages > 0
    }

    /// Feeds one message. `Ok(None)`: more to come. `Ok(Some(outcome))`: complete.
    pub fn on_message(&mut self, message: &Message) -> Result<Option<TransferOutcome>, BadResponse> {
        if message.id != self.id || !message.is_response() {
            return Err(BadResponse::WrongId);
        }
        if message.opcode() != OPCODE_QUERY {
            return Err(BadResponse::Malformed);
        }
        // RFC 5936 §2.2: the first message echoes the question; later ones may omit it.
        match message.questions.as_slice() {
            [] if self.messages > 0 => {}
            [q] if q.name == self.apex && q.qtype == self.qtype => {}
            _ => return Err(BadResponse::WrongQuestion),
        }
        let rcode = message.rcode();
        if rcode != u16::from(RCODE_NOERROR) {
            return Err(BadResponse::Rcode(rcode));
        }
        self.messages += 1;
        let count = message.answers.len();
        for record in &message.answers {
            if record.class != CLASS_IN || !message.owner_within(record, &self.apex) {
                return Err(BadResponse::BadZoneData);
            }
            let record = message.zone_record(record);
            self.on_record(record)?;
        }
        // A lone SOA in a single message is "up to date" for IXFR (RFC 1995 §2) — only when the
        // message ends right after it; otherwise more records would have followed in it.
        if matches!(self.phase, Phase::OpeningSoa) && self.qtype == TYPE_IXFR && count == 1 && self.messages == 1 {
            let serial = self.opening_soa.as_ref().and_then(ZoneRecord::soa_serial).ok_or(BadResponse::FirstNotSoa)?;
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

    fn on_record(&mut self, record: ZoneRecord) -> Result<(), BadResponse> {
        let is_soa = record.rtype() == SOA;
        if is_soa && record.owner_name() != self.apex {
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
                let opening = self.opening_soa.as_ref().and_then(ZoneRecord::soa_serial);
                let second_is_ours = is_soa && record.soa_serial() == self.our_serial && self.qtype == TYPE_IXFR;
                if second_is_ours && opening != self.our_serial {
                    // RFC 1995 §4: a second SOA carrying the client's serial means incremental.
                    self.current_diff =
                        Some(DiffInProgress { old_soa: record, deleted: vec![], new_soa: None, added: vec![] });
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
                    diff.new_soa = Some(record);
                    self.phase = Phase::Adding;
                } else {
                    diff.deleted.push(record);
                }
            }
            Phase::Adding => {
                if is_soa {
                    let diff = self.current_diff.take().expect("Adding always has a current diff");
                    let new_soa = diff.new_soa.expect("Adding follows the new SOA");
                    let reached = new_soa.soa_serial();
                    let final_serial = self.opening_soa.as_ref().and_then(ZoneRecord::soa_serial);
                    if record.soa_serial() != reached {
                        return Err(BadResponse::IxfrOutOfSync);
                    }
                    self.diffs.push(Diff { old_soa: diff.old_soa, deleted: diff.deleted, new_soa, added: diff.added });
                    if reached == final_serial {
                        if !self.opening_soa.as_ref().is_some_and(|o| o.same_bytes(&record)) {
                            return Err(BadResponse::SoaMismatch);
                        }
                        self.phase = Phase::Done;
                    } else {
                        self.current_diff =
                            Some(DiffInProgress { old_soa: record, deleted: vec![], new_soa: None, added: vec![] });
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

    fn close_full(&mut self, closing: &ZoneRecord) -> Result<(), BadResponse> {
        let opening = self.opening_soa.as_ref().ok_or(BadResponse::FirstNotSoa)?;
        // RFC 5936 §2.2: the last record is the same SOA as the first, byte for byte.
        if !closing.same_bytes(opening) {
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
        full.finish().map(|zone| TransferOutcome::Full { zone: Box::new(zone) }).map_err(BadResponse::from_zone_error)
    }
}
