//! One resource record of a zone, byte-faithful and compact.

use std::cmp::Ordering;
use std::fmt;

use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use crate::digest::{StableHasher, mix64};
use crate::name::{Dname, push_sort_key, wire_len, write_name_text};
use crate::rdata::wire::{each_name, read_rdata};
use crate::rdata::{TypeName, present, type_info};
use crate::{ZoneError, serial::Serial};

/// RR type code of SOA (RFC 1035 §3.2.2).
pub const SOA: u16 = 6;
/// RR type code of NS.
pub const NS: u16 = 2;
/// RR type code of CNAME.
pub const CNAME: u16 = 5;
/// RR type code of DNAME (RFC 6672).
pub const DNAME: u16 = 39;
/// Class IN, the only class xfrsim serves (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;

/// One record of a zone: owner name and RDATA exactly as written or received (case included,
/// names uncompressed), type and TTL; class is always IN (checked on entry).
///
/// Stored in one allocation — `[sort key | owner | RDATA | canonical RDATA?]` — so a
/// 100,000-record zone costs a few megabytes per server, and ordering is one `memcmp` of
/// precomputed RFC 4034 §6.1 keys instead of a label-by-label walk per comparison.
///
/// Identity (`Eq`, `Ord`) is owner (canonical order, case-insensitive), type and canonical
/// RDATA (RFC 4034 §6.2, §6.3). The TTL is not part of it: RRs differing only in TTL are the
/// same RR (RFC 2181 §5.2, RFC 2136 §1.1.1).
#[derive(Clone)]
pub struct ZoneRecord {
    bytes: Box<[u8]>,
    key_len: u16,
    owner_len: u8,
    /// The canonical RDATA differs from the RDATA and follows it in `bytes`.
    has_canonical: bool,
    rtype: u16,
    ttl: u32,
}

impl ZoneRecord {
    /// A record from wire parts: `owner` an uncompressed wire name, `rdata` uncompressed.
    /// The RDATA must parse for its type (unknown types are opaque), as BIND's `fromwire`
    /// requires before anything is stored.
    pub fn new(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Result<ZoneRecord, ZoneError> {
        let owner_len = wire_len(owner).map_err(|e| ZoneError::BadOwner(e.to_string()))?;
        if owner_len != owner.len() {
            return Err(ZoneError::BadOwner("octets after the root label".into()));
        }
        let mut checked = Vec::with_capacity(rdata.len());
        read_rdata(type_info(rtype), rdata, 0, rdata.len(), false, &mut checked).map_err(|error| {
            ZoneError::BadRdata { name: Dname::from_wire_unchecked(owner).to_string(), rtype: TypeName(rtype), error }
        })?;
        Ok(ZoneRecord::from_checked(owner, rtype, ttl, &checked))
    }

    /// A record whose owner and RDATA were checked by the caller (RDATA by `read_rdata`).
    pub(crate) fn from_checked(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> ZoneRecord {
        // The canonical form lower-cases the names of the RFC 4034 §6.2 types; kept only when
        // it differs from the RDATA as written.
        let mut canonical: Option<Vec<u8>> = None;
        if let Some(info) = type_info(rtype).filter(|t| t.lowercases()) {
            each_name(info, rdata, |at, len| {
                if rdata[at..at + len].iter().any(u8::is_ascii_uppercase) {
                    canonical.get_or_insert_with(|| rdata.to_vec())[at..at + len].make_ascii_lowercase();
                }
            });
        }
        // Exactly sized, so the boxed slice below is the same allocation.
        let key_len = crate::name::sort_key_len(owner);
        let mut bytes =
            Vec::with_capacity(key_len + owner.len() + rdata.len() * (1 + usize::from(canonical.is_some())));
        push_sort_key(owner, &mut bytes);
        debug_assert_eq!(bytes.len(), key_len);
        let key_len = bytes.len() as u16;
        bytes.extend_from_slice(owner);
        bytes.extend_from_slice(rdata);
        let has_canonical = canonical.is_some();
        if let Some(canonical) = canonical {
            bytes.extend_from_slice(&canonical);
        }
        ZoneRecord { bytes: bytes.into_boxed_slice(), key_len, owner_len: owner.len() as u8, has_canonical, rtype, ttl }
    }

    /// A probe that sorts before every record owned by `owner`: type 0, empty RDATA.
    pub(crate) fn probe(owner: &[u8]) -> ZoneRecord {
        let mut bytes = Vec::with_capacity(owner.len() * 2 + 2);
        push_sort_key(owner, &mut bytes);
        let key_len = bytes.len() as u16;
        bytes.extend_from_slice(owner);
        ZoneRecord {
            bytes: bytes.into_boxed_slice(),
            key_len,
            owner_len: owner.len() as u8,
            has_canonical: false,
            rtype: 0,
            ttl: 0,
        }
    }

    /// Converts a hickory record (tests, generated zones, operator commands). Class must be IN.
    pub fn from_hickory(record: &Record) -> Result<ZoneRecord, ZoneError> {
        if record.dns_class != DNSClass::IN {
            return Err(ZoneError::NotClassIn { name: record.name.to_string() });
        }
        let fail = |e: hickory_proto::ProtoError| ZoneError::Unencodable {
            name: record.name.to_string(),
            reason: e.to_string(),
        };
        let mut owner = Vec::with_capacity(64);
        let mut encoder = BinEncoder::new(&mut owner);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        let mut name = record.name.clone();
        name.set_fqdn(true);
        name.emit(&mut encoder).map_err(fail)?;
        let mut rdata = Vec::with_capacity(64);
        let mut encoder = BinEncoder::new(&mut rdata);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        record.data.emit(&mut encoder).map_err(fail)?;
        ZoneRecord::new(&owner, u16::from(record.record_type()), record.ttl, &rdata)
    }

    /// The record as hickory sees it, when hickory can decode it (not every type it can).
    pub fn to_hickory(&self) -> Option<Record> {
        use hickory_proto::rr::RData;
        use hickory_proto::serialize::binary::{BinDecoder, Restrict};
        let name = self.owner_name().to_hickory();
        let mut decoder = BinDecoder::new(self.rdata());
        let length = u16::try_from(self.rdata().len()).ok()?;
        let data = RData::read(&mut decoder, RecordType::from(self.rtype), Restrict::new(length)).ok()?;
        Some(Record::from_rdata(name, self.ttl, data))
    }

    /// The owner name, uncompressed wire form, case as written.
    pub fn owner(&self) -> &[u8] {
        let key = usize::from(self.key_len);
        &self.bytes[key..key + usize::from(self.owner_len)]
    }

    pub fn owner_name(&self) -> Dname {
        Dname::from_wire_unchecked(self.owner())
    }

    /// RFC 4034 §6.1 sort key of the owner (see [`crate::name::sort_key`]).
    pub(crate) fn key(&self) -> &[u8] {
        &self.bytes[..usize::from(self.key_len)]
    }

    pub fn rtype(&self) -> u16 {
        self.rtype
    }

    /// The type as hickory names it.
    pub fn record_type(&self) -> RecordType {
        RecordType::from(self.rtype)
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    fn rdata_len(&self) -> usize {
        let rest = self.bytes.len() - usize::from(self.key_len) - usize::from(self.owner_len);
        if self.has_canonical { rest / 2 } else { rest }
    }

    /// The RDATA, uncompressed, case as written.
    pub fn rdata(&self) -> &[u8] {
        let start = usize::from(self.key_len) + usize::from(self.owner_len);
        &self.bytes[start..start + self.rdata_len()]
    }

    /// The RDATA in canonical form (RFC 4034 §6.2: names of the listed types lower-cased).
    pub fn canonical_rdata(&self) -> &[u8] {
        if self.has_canonical { &self.bytes[self.bytes.len() - self.rdata_len()..] } else { self.rdata() }
    }

    /// The same record with another TTL.
    pub fn with_ttl(&self, ttl: u32) -> ZoneRecord {
        ZoneRecord { ttl, ..self.clone() }
    }

    /// The same record with the owner spelt as `owner` (which must be the same name, case
    /// aside): BIND gives every record of an RRset the case of the first one loaded.
    pub(crate) fn with_owner_case(&self, owner: &[u8]) -> ZoneRecord {
        debug_assert!(owner.eq_ignore_ascii_case(self.owner()));
        let mut bytes = self.bytes.clone();
        let key = usize::from(self.key_len);
        bytes[key..key + owner.len()].copy_from_slice(owner);
        ZoneRecord { bytes, ..*self }
    }

    /// The serial, when this is an SOA.
    pub fn soa_serial(&self) -> Option<Serial> {
        (self.rtype == SOA).then(|| Soa::parse(self.rdata()).serial).map(Serial)
    }

    /// The SOA fields, when this is an SOA.
    pub fn soa(&self) -> Option<Soa> {
        (self.rtype == SOA).then(|| Soa::parse(self.rdata()))
    }

    /// 64-bit hash of the canonical RR (owner lower-cased, type, class, TTL, canonical RDATA).
    pub(crate) fn content_hash(&self) -> u64 {
        let mut hash = StableHasher::default();
        for &b in self.owner() {
            hash.write(&[b.to_ascii_lowercase()]);
        }
        hash.write(&self.rtype.to_be_bytes());
        hash.write(&CLASS_IN.to_be_bytes());
        hash.write(&self.ttl.to_be_bytes());
        hash.write(self.canonical_rdata());
        mix64(hash.finish())
    }

    /// Exact equality: owner bytes (case included), type, TTL and RDATA bytes.
    pub fn same_bytes(&self, other: &ZoneRecord) -> bool {
        self.rtype == other.rtype
            && self.ttl == other.ttl
            && self.owner() == other.owner()
            && self.rdata() == other.rdata()
    }

    /// Appends `owner TTL IN TYPE rdata` (master-file syntax) to `out`.
    pub fn write_text(&self, out: &mut String) {
        write_name_text(self.owner(), out);
        use fmt::Write;
        let _ = write!(out, " {} IN {} ", self.ttl, TypeName(self.rtype));
        present::write_rdata(self.rtype, self.rdata(), out);
    }
}

impl fmt::Display for ZoneRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_text(&mut text);
        f.write_str(&text)
    }
}

impl fmt::Debug for ZoneRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZoneRecord({self})")
    }
}

impl PartialEq for ZoneRecord {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ZoneRecord {}

impl PartialOrd for ZoneRecord {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ZoneRecord {
    /// Owner in RFC 4034 §6.1 order, then type, then canonical RDATA (§6.3).
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(other.key())
            .then_with(|| self.rtype.cmp(&other.rtype))
            .then_with(|| self.canonical_rdata().cmp(other.canonical_rdata()))
    }
}

/// The same SOA record with another serial.
pub fn with_serial(soa: &ZoneRecord, serial: Serial) -> ZoneRecord {
    let mut fields = soa.soa().expect("an SOA record");
    fields.serial = serial.0;
    ZoneRecord::new(soa.owner(), SOA, soa.ttl(), &fields.to_rdata()).expect("an SOA with another serial is an SOA")
}

/// The fields of an SOA (RFC 1035 §3.3.13). Timers are unsigned 32-bit seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Dname,
    pub rname: Dname,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

impl Soa {
    /// Reads checked SOA RDATA (two names, five 32-bit numbers).
    pub(crate) fn parse(rdata: &[u8]) -> Soa {
        let m = wire_len(rdata).expect("checked SOA RDATA");
        let r = wire_len(&rdata[m..]).expect("checked SOA RDATA");
        let numbers = &rdata[m + r..];
        let word = |i: usize| u32::from_be_bytes(numbers[i * 4..i * 4 + 4].try_into().expect("checked SOA RDATA"));
        Soa {
            mname: Dname::from_wire_unchecked(&rdata[..m]),
            rname: Dname::from_wire_unchecked(&rdata[m..m + r]),
            serial: word(0),
            refresh: word(1),
            retry: word(2),
            expire: word(3),
            minimum: word(4),
        }
    }

    pub fn to_rdata(&self) -> Vec<u8> {
        let mut rdata = Vec::with_capacity(64);
        rdata.extend_from_slice(self.mname.as_wire());
        rdata.extend_from_slice(self.rname.as_wire());
        for value in [self.serial, self.refresh, self.retry, self.expire, self.minimum] {
            rdata.extend_from_slice(&value.to_be_bytes());
        }
        rdata
    }
}

/// Builds an apex SOA record at `origin` (`ns1.<origin>`, `hostmaster.<origin>`) with the
/// given serial and timers (seconds), TTL 3600, minimum 300: for tests and generated zones.
pub fn soa_record(
    origin: &hickory_proto::rr::Name,
    serial: u32,
    refresh_secs: u32,
    retry_secs: u32,
    expire_secs: u32,
) -> ZoneRecord {
    let apex = Dname::from_hickory(origin);
    let child = |label: &[u8]| {
        let mut wire = vec![label.len() as u8];
        wire.extend_from_slice(label);
        wire.extend_from_slice(apex.as_wire());
        Dname::from_wire(&wire).expect("a short label under a valid origin")
    };
    let soa = Soa {
        mname: child(b"ns1"),
        rname: child(b"hostmaster"),
        serial,
        refresh: refresh_secs,
        retry: retry_secs,
        expire: expire_secs,
        minimum: 300,
    };
    ZoneRecord::new(apex.as_wire(), SOA, 3600, &soa.to_rdata()).expect("a well-formed SOA")
}
