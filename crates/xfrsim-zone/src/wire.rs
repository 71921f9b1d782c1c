//! DNS messages (RFC 1035 §4.1) read and written byte-faithfully.
//!
//! Reading keeps every record's owner and RDATA exactly as sent (case included), decompressing
//! names only where the record type allows it (RFC 3597 §4), and checks RDATA against its
//! type's grammar. Writing compresses owner names and the RDATA names of the RFC 1035 types
//! against every earlier name in the message, case-sensitively (so case survives, as BIND's
//! transfers do with `dns_compress_setsensitive`), within the 14-bit pointer range.

use crate::digest::fnv1a64;
use crate::name::{Dname, NameError};
use crate::rdata::wire::{read_name, read_rdata};
use crate::rdata::{Field, RdataError, type_info};
use crate::record::ZoneRecord;

/// Header flag bits (RFC 1035 §4.1.1).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;

/// Opcodes (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_NOTIFY: u8 = 4;
pub const OPCODE_UPDATE: u8 = 5;

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2).
pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;
pub const RCODE_NOTAUTH: u8 = 9;
pub const RCODE_NOTZONE: u8 = 10;

/// Query types (RFC 1995, RFC 5936, RFC 1035 §3.2.3).
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;
pub const TYPE_OPT: u16 = 41;
/// EDNS option code of EXPIRE (RFC 7314 §2).
pub const EDNS_EXPIRE: u16 = 9;
/// Classes used by dynamic update (RFC 2136 §2.5).
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;

/// The smallest message size every resolver takes over UDP (RFC 1035 §2.3.4).
pub const MIN_UDP_PAYLOAD: usize = 512;
/// Largest DNS message: a TCP message's 2-byte length prefix (RFC 1035 §4.2.2).
pub const MAX_MESSAGE_LEN: usize = 65_535;
/// Pointers are 14 bits: names written past this offset cannot be pointed at.
const MAX_POINTER_TARGET: usize = 0x3FFF;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message shorter than its header")]
    ShortHeader,
    #[error("message ends inside a section")]
    Truncated,
    #[error("bad name: {0}")]
    Name(#[from] NameError),
    #[error("bad RDATA: {0}")]
    Rdata(#[from] RdataError),
    #[error("more than one OPT record, or OPT outside the additional section")]
    BadOpt,
}

/// One question (RFC 1035 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Dname,
    pub qtype: u16,
    pub qclass: u16,
}

/// A record as found in a message: type, class, TTL, and where its owner and RDATA lie,
/// decompressed, in the message's buffer (see [`Message::owner`], [`Message::rdata`]).
#[derive(Debug, Clone)]
pub struct RecordRef {
    owner_at: u32,
    owner_len: u8,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    rdata_at: u32,
    rdata_len: u32,
}

impl RecordRef {
    /// Length of the RDATA, decompressed (0 exactly when RDLENGTH was 0).
    pub fn rdata_len(&self) -> usize {
        self.rdata_len as usize
    }
}

/// A whole message, every section read and every record's RDATA checked against its type
/// (as BIND's message parser does: a record that does not parse makes the message FORMERR).
/// Owners and RDATA are kept decompressed in one buffer.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
    pub answers: Vec<RecordRef>,
    pub authority: Vec<RecordRef>,
    pub additional: Vec<RecordRef>,
    /// The requester's UDP payload size from OPT (RFC 6891 §6.2.3), when present.
    pub edns_payload: Option<u16>,
    /// The upper eight bits of the RCODE from OPT (RFC 6891 §6.1.3).
    extended_rcode: u8,
    /// An EDNS EXPIRE option was present (RFC 7314 §2: empty in a query), and its value when
    /// it carried one (in a response).
    pub asks_expire: bool,
    pub edns_expire: Option<u32>,
    /// Decompressed owners and RDATA, referred to by the records.
    decoded: Vec<u8>,
}

impl Message {
    /// Reads every section. Record counts larger than what the message can hold are refused
    /// before anything is allocated for them.
    pub fn parse(bytes: &[u8]) -> Result<Message, WireError> {
        let header = bytes.get(..12).ok_or(WireError::ShortHeader)?;
        let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let counts = [word(4), word(6), word(8), word(10)];
        // Every question takes at least 5 octets and every record at least 11.
        let minimum = usize::from(counts[0]) * 5 + counts[1..].iter().map(|&c| usize::from(c) * 11).sum::<usize>();
        if 12 + minimum > bytes.len() {
            return Err(WireError::Truncated);
        }
        let mut message = Message {
            id: word(0),
            flags: word(2),
            questions: Vec::with_capacity(usize::from(counts[0])),
            answers: Vec::with_capacity(usize::from(counts[1])),
            authority: Vec::with_capacity(usize::from(counts[2])),
            additional: Vec::with_capacity(usize::from(counts[3])),
            edns_payload: None,
            extended_rcode: 0,
            asks_expire: false,
            edns_expire: None,
            decoded: Vec::with_capacity(bytes.len() * 2),
        };
        let mut pos = 12;
        let mut scratch = Vec::with_capacity(255);
        for _ in 0..counts[0] {
            scratch.clear();
            pos = read_name(bytes, pos, true, &mut scratch)?;
            let fixed = bytes.get(pos..pos + 4).ok_or(WireError::Truncated)?;
            message.questions.push(Question {
                name: Dname::from_wire_unchecked(&scratch),
                qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
                qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
            });
            pos += 4;
        }
        for (section, &count) in counts[1..].iter().enumerate() {
            for _ in 0..count {
                let owner_at = message.decoded.len();
                pos = read_name(bytes, pos, true, &mut message.decoded)?;
                let owner_len = message.decoded.len() - owner_at;
                let fixed = bytes.get(pos..pos + 10).ok_or(WireError::Truncated)?;
                let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
                let class = u16::from_be_bytes([fixed[2], fixed[3]]);
                let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
                let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
                let (start, end) = (pos + 10, pos + 10 + rdlength);
                if end > bytes.len() {
                    return Err(WireError::Truncated);
                }
                pos = end;
                if rtype == TYPE_OPT {
                    // RFC 6891 §6.1.1: at most one OPT, in the additional section, owner root.
                    if section != 2 || message.edns_payload.is_some() || owner_len != 1 {
                        return Err(WireError::BadOpt);
                    }
                    message.edns_payload = Some(class);
                    message.extended_rcode = (ttl >> 24) as u8;
                    message.read_edns_options(&bytes[start..end])?;
                    message.decoded.truncate(owner_at);
                    continue;
                }
                let rdata_at = message.decoded.len();
                // RFC 2136 §2.5.2/2.5.3: a delete of an RRset or name carries no RDATA,
                // whatever its type's grammar.
                let info =
                    if rdlength == 0 && matches!(class, CLASS_ANY | CLASS_NONE) { None } else { type_info(rtype) };
                read_rdata(info, bytes, start, end, true, &mut message.decoded)?;
                let record = RecordRef {
                    owner_at: owner_at as u32,
                    owner_len: owner_len as u8,
                    rtype,
                    class,
                    ttl,
                    rdata_at: rdata_at as u32,
                    rdata_len: (message.decoded.len() - rdata_at) as u32,
                };
                match section {
                    0 => message.answers.push(record),
                    1 => message.authority.push(record),
                    _ => message.additional.push(record),
                }
            }
        }
        Ok(message)
    }

    /// RFC 6891 §6.1.2: the OPT RDATA is a list of (code, length, value). Only EXPIRE is
    /// kept; a list that overruns its RDATA is malformed.
    fn read_edns_options(&mut self, mut rdata: &[u8]) -> Result<(), WireError> {
        while !rdata.is_empty() {
            let header = rdata.get(..4).ok_or(WireError::BadOpt)?;
            let code = u16::from_be_bytes([header[0], header[1]]);
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let value = rdata.get(4..4 + len).ok_or(WireError::BadOpt)?;
            if code == EDNS_EXPIRE {
                self.asks_expire = true;
                if let Ok(bytes) = <[u8; 4]>::try_from(value) {
                    self.edns_expire = Some(u32::from_be_bytes(bytes));
                }
            }
            rdata = &rdata[4 + len..];
        }
        Ok(())
    }

    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }

    pub fn is_authoritative(&self) -> bool {
        self.flags & FLAG_AA != 0
    }

    pub fn is_truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    /// The full RCODE (12 bits with EDNS, RFC 6891 §6.1.3).
    pub fn rcode(&self) -> u16 {
        u16::from(self.extended_rcode) << 4 | (self.flags & 0xF)
    }

    /// The record's owner, uncompressed wire form, case as sent.
    pub fn owner(&self, record: &RecordRef) -> &[u8] {
        &self.decoded[record.owner_at as usize..record.owner_at as usize + usize::from(record.owner_len)]
    }

    pub fn owner_name(&self, record: &RecordRef) -> Dname {
        Dname::from_wire_unchecked(self.owner(record))
    }

    /// True when the record's owner is `name` (case-insensitive).
    pub fn owner_is(&self, record: &RecordRef, name: &Dname) -> bool {
        self.owner(record).eq_ignore_ascii_case(name.as_wire())
    }

    /// True when the record's owner is `apex` or below it.
    pub fn owner_within(&self, record: &RecordRef, apex: &Dname) -> bool {
        crate::name::is_at_or_below(self.owner(record), apex.as_wire())
    }

    /// The record's RDATA, uncompressed, checked against its type (unknown types opaque).
    pub fn rdata(&self, record: &RecordRef) -> &[u8] {
        &self.decoded[record.rdata_at as usize..record.rdata_at as usize + record.rdata_len as usize]
    }

    /// The record as zone data (its class is the caller's business: zone data is IN).
    pub fn zone_record(&self, record: &RecordRef) -> ZoneRecord {
        ZoneRecord::from_checked(self.owner(record), record.rtype, record.ttl, self.rdata(record))
    }

    /// The SOA serial in `record`'s RDATA, if it is an SOA with RDATA.
    pub fn soa_serial(&self, record: &RecordRef) -> Option<u32> {
        let rdata = self.rdata(record);
        if record.rtype != crate::record::SOA || rdata.len() < 20 {
            return None;
        }
        Some(u32::from_be_bytes(rdata[rdata.len() - 20..rdata.len() - 16].try_into().expect("four octets")))
    }
}

/// Compression table (RFC 1035 §4.1.4): for every name suffix written at an offset a pointer
/// can reach, its hash and offset, in an open-addressing table (linear probing, grown at half
/// full). Candidates are verified against the message bytes, so a hash collision never
/// produces a wrong pointer.
struct Compressor {
    /// (hash | 1, offset); a zero hash marks an empty slot.
    slots: Vec<(u64, u16)>,
    used: usize,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor { slots: vec![(0, 0); 256], used: 0 }
    }
}

impl Compressor {
    fn find(&self, buf: &[u8], hash: u64, suffix: &[u8]) -> Option<u16> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let (h, offset) = self.slots[i];
            if h == 0 {
                return None;
            }
            if h == hash && name_at_equals(buf, usize::from(offset), suffix) {
                return Some(offset);
            }
            i = (i + 1) & mask;
        }
    }

    fn insert(&mut self, hash: u64, offset: u16) {
        if (self.used + 1) * 2 > self.slots.len() {
            let grown = vec![(0, 0); self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, grown);
            self.used = 0;
            for (h, o) in old.into_iter().filter(|(h, _)| *h != 0) {
                self.insert(h, o);
            }
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].0 != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (hash, offset);
        self.used += 1;
    }

    /// Writes uncompressed wire name `name` at the end of `buf`, pointing at the longest
    /// suffix already in the message when `compress` is set, and remembering the new
    /// suffixes it writes.
    fn write_name(&mut self, buf: &mut Vec<u8>, name: &[u8], compress: bool) {
        let mut starts = [0u8; 128];
        let mut n = 0;
        let mut at = 0;
        while name[at] != 0 {
            starts[n] = at as u8;
            n += 1;
            at += 1 + usize::from(name[at]);
        }
        let hash_of = |start: u8| fnv1a64(&name[usize::from(start)..]) | 1;
        let mut found: Option<(usize, u16)> = None;
        if compress {
            for &start in &starts[..n] {
                if let Some(offset) = self.find(buf, hash_of(start), &name[usize::from(start)..]) {
                    found = Some((usize::from(start), offset));
                    break;
                }
            }
        }
        let literal_end = found.map_or(name.len() - 1, |(start, _)| start);
        for &start in starts[..n].iter().take_while(|&&s| usize::from(s) < literal_end) {
            let offset = buf.len() + usize::from(start);
            if compress && offset <= MAX_POINTER_TARGET {
                self.insert(hash_of(start), offset as u16);
            }
        }
        buf.extend_from_slice(&name[..literal_end]);
        match found {
            Some((_, offset)) => buf.extend_from_slice(&(0xC000 | offset).to_be_bytes()),
            None => buf.push(0),
        }
    }
}

/// True when the (possibly compressed) name at `buf[offset..]` is exactly `suffix`.
fn name_at_equals(buf: &[u8], mut offset: usize, suffix: &[u8]) -> bool {
    let mut at = 0;
    loop {
        let Some(&len) = buf.get(offset) else { return false };
        if len & 0xC0 == 0xC0 {
            let Some(&low) = buf.get(offset + 1) else { return false };
            let target = usize::from(len & 0x3F) << 8 | usize::from(low);
            if target >= offset {
                return false;
            }
            offset = target;
            continue;
        }
        let end = offset + 1 + usize::from(len);
        if suffix.get(at..at + 1 + usize::from(len)) != buf.get(offset..end) {
            return false;
        }
        if len == 0 {
            return at + 1 == suffix.len();
        }
        at += 1 + usize::from(len);
        offset = end;
    }
}

/// Which section a record goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// Writes one message: header, questions, then records section by section (answers first).
pub struct MessageWriter {
    buf: Vec<u8>,
    compressor: Compressor,
    counts: [u16; 4],
    section: Section,
    /// Uncompressed size of header, question and records: the measure BIND's
    /// `transfer-message-size` limits.
    uncompressed_len: usize,
}

impl MessageWriter {
    /// A message with `id`, header flags (QR, opcode, AA, RD, RCODE ...) and an optional
    /// question.
    pub fn new(id: u16, flags: u16, question: Option<&Question>) -> Self {
        let mut writer = MessageWriter {
            buf: Vec::with_capacity(512),
            compressor: Compressor::default(),
            counts: [0; 4],
            section: Section::Answer,
            uncompressed_len: 12,
        };
        writer.buf.extend_from_slice(&id.to_be_bytes());
        writer.buf.extend_from_slice(&flags.to_be_bytes());
        writer.buf.extend_from_slice(&[0; 8]);
        if let Some(q) = question {
            writer.compressor.write_name(&mut writer.buf, q.name.as_wire(), true);
            writer.buf.extend_from_slice(&q.qtype.to_be_bytes());
            writer.buf.extend_from_slice(&q.qclass.to_be_bytes());
            writer.counts[0] = 1;
            writer.uncompressed_len += q.name.as_wire().len() + 4;
        }
        writer
    }

    /// Flags for a message: QR, opcode, AA, RD and RCODE (low four bits).
    pub fn flags(response: bool, opcode: u8, authoritative: bool, recursion_desired: bool, rcode: u8) -> u16 {
        let mut flags = u16::from(opcode & 0xF) << 11 | u16::from(rcode & 0xF);
        if response {
            flags |= FLAG_QR;
        }
        if authoritative {
            flags |= FLAG_AA;
        }
        if recursion_desired {
            flags |= FLAG_RD;
        }
        flags
    }

    /// Appends a record of class IN to `section` (sections must be written in order).
    pub fn push(&mut self, section: Section, record: &ZoneRecord) {
        self.push_parts(section, record.owner(), record.rtype(), crate::record::CLASS_IN, record.ttl(), record.rdata());
    }

    /// Appends a record given by parts (dynamic-update encodings use other classes and may
    /// carry empty RDATA).
    pub fn push_parts(&mut self, section: Section, owner: &[u8], rtype: u16, class: u16, ttl: u32, rdata: &[u8]) {
        assert!(section.rank() >= self.section.rank(), "message sections are written in order");
        self.section = section;
        self.compressor.write_name(&mut self.buf, owner, true);
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.write_rdata(rtype, rdata);
        let length = self.buf.len() - length_at - 2;
        self.buf[length_at..length_at + 2].copy_from_slice(&(length as u16).to_be_bytes());
        let index = match section {
            Section::Answer => 1,
            Section::Authority => 2,
            Section::Additional => 3,
        };
        self.counts[index] += 1;
        self.uncompressed_len += owner.len() + 10 + rdata.len();
    }

    /// RDATA, with its names compressed when the type is one of RFC 1035's. RDATA that does
    /// not follow its grammar (only a test writes such) goes out as it is from there on.
    fn write_rdata(&mut self, rtype: u16, rdata: &[u8]) {
        let Some(info) = type_info(rtype).filter(|t| t.compresses() && !rdata.is_empty()) else {
            self.buf.extend_from_slice(rdata);
            return;
        };
        let mut at = 0;
        for &field in info.fields {
            let rest = &rdata[at.min(rdata.len())..];
            let width = match field {
                Field::Name => crate::name::wire_len(rest).ok(),
                Field::U16 => Some(2),
                // SOA's five numbers: the only other fields of the RFC 1035 types.
                _ => Some(4),
            };
            match width.filter(|&w| w <= rest.len()) {
                Some(len) if field == Field::Name => self.compressor.write_name(&mut self.buf, &rest[..len], true),
                Some(len) => self.buf.extend_from_slice(&rest[..len]),
                None => break,
            }
            at += width.unwrap_or(0);
        }
        self.buf.extend_from_slice(&rdata[at.min(rdata.len())..]);
    }

    /// Records written so far (all sections).
    pub fn record_count(&self) -> usize {
        self.counts[1..].iter().map(|&c| usize::from(c)).sum()
    }

    /// What the message would measure uncompressed: header, question, records.
    pub fn uncompressed_len(&self) -> usize {
        self.uncompressed_len
    }

    /// Bytes written so far (compressed), header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.record_count() == 0
    }

    /// Appends an OPT record (RFC 6891 §6.1.2) advertising `udp_payload`, with an EDNS EXPIRE
    /// option when `expire` is given: empty (`Some(None)`, a query) or with a value.
    pub fn push_opt(&mut self, udp_payload: u16, expire: Option<Option<u32>>) {
        let mut rdata = Vec::with_capacity(8);
        if let Some(value) = expire {
            rdata.extend_from_slice(&EDNS_EXPIRE.to_be_bytes());
            let value = value.map(u32::to_be_bytes);
            let bytes: &[u8] = value.as_ref().map_or(&[], |v| v.as_slice());
            rdata.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            rdata.extend_from_slice(bytes);
        }
        self.push_parts(Section::Additional, &[0], TYPE_OPT, udp_payload, 0, &rdata);
    }

    /// Sets the TC bit (RFC 1035 §4.1.1).
    pub fn set_truncated(&mut self) {
        self.buf[2] |= (FLAG_TC >> 8) as u8;
    }

    pub fn finish(mut self) -> Vec<u8> {
        for (i, count) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&count.to_be_bytes());
        }
        self.buf
    }
}

impl Section {
    fn rank(self) -> u8 {
        match self {
            Section::Answer => 0,
            Section::Authority => 1,
            Section::Additional => 2,
        }
    }
}
