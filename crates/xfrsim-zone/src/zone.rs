//! A zone: apex SOA plus a canonically ordered set of records, with a content digest.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use crate::digest::{fnv1a64, mix64};
use crate::{Serial, ZoneError};

/// One record of a zone, with its RDATA pre-encoded in DNSSEC canonical form (RFC 4034 §6.2)
/// so that ordering and equality never re-encode.
///
/// Identity (`Eq`, `Ord`) is owner name (case-insensitive), type and RDATA; the TTL is not part
/// of it, as RFC 2181 §5 and RFC 2136 §1.1.1 say RRs differing only in TTL are the same RR.
#[derive(Debug, Clone)]
pub struct ZoneRecord {
    record: Record,
    rdata_canonical: Box<[u8]>,
}

impl ZoneRecord {
    /// Wraps a record, encoding its RDATA canonically.
    pub fn new(record: Record) -> Result<Self, ZoneError> {
        let rdata_canonical = canonical_rdata(&record.data)
            .map_err(|reason| ZoneError::Unencodable { name: record.name.to_string(), reason })?;
        Ok(ZoneRecord { record, rdata_canonical: rdata_canonical.into_boxed_slice() })
    }

    pub fn record(&self) -> &Record {
        &self.record
    }

    /// A probe that sorts before every record owned by `name`: type 0, empty RDATA.
    fn lowest_for(name: &Name) -> Self {
        let record = Record::update0(name.clone(), 0, RecordType::Unknown(0));
        ZoneRecord { record, rdata_canonical: Box::new([]) }
    }

    pub fn into_record(self) -> Record {
        self.record
    }

    pub fn name(&self) -> &Name {
        &self.record.name
    }

    pub fn record_type(&self) -> RecordType {
        self.record.record_type()
    }

    pub fn ttl(&self) -> u32 {
        self.record.ttl
    }

    /// 64-bit hash of the full canonical RR (owner lower-cased, type, class, TTL, RDATA).
    fn content_hash(&self) -> u64 {
        let mut bytes = canonical_owner(&self.record.name);
        bytes.extend_from_slice(&u16::from(self.record_type()).to_be_bytes());
        bytes.extend_from_slice(&u16::from(self.record.dns_class).to_be_bytes());
        bytes.extend_from_slice(&self.record.ttl.to_be_bytes());
        bytes.extend_from_slice(&self.rdata_canonical);
        mix64(fnv1a64(&bytes))
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
    /// RFC 4034 §6.1 name order (hickory's `Name: Ord` is canonical and case-insensitive),
    /// then type, then canonical RDATA bytes (§6.3).
    fn cmp(&self, other: &Self) -> Ordering {
        self.record
            .name
            .cmp(&other.record.name)
            .then_with(|| u16::from(self.record_type()).cmp(&u16::from(other.record_type())))
            .then_with(|| self.rdata_canonical.cmp(&other.rdata_canonical))
    }
}

fn canonical_rdata(rdata: &RData) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_canonical_form(true);
    encoder.set_name_encoding(NameEncoding::UncompressedLowercase);
    rdata.emit(&mut encoder).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn canonical_owner(name: &Name) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_name_encoding(NameEncoding::UncompressedLowercase);
    // A `Name` that exists in memory always encodes: labels were validated on construction.
    name.emit(&mut encoder).expect("a constructed name always encodes");
    buf
}

/// A content digest of a zone: equal digests mean equal SOA and equal record sets (with TTLs),
/// regardless of the order records arrived in. Printed as 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneDigest(pub u64);

impl fmt::Display for ZoneDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A complete version of a zone: apex SOA plus every other record, in canonical order.
///
/// The digest is maintained incrementally (a wrapping sum of per-record hashes), so checking
/// two servers' copies for equality costs O(1) however large the zone.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    soa: ZoneRecord,
    records: BTreeSet<ZoneRecord>,
    records_hash_sum: u64,
}

impl Zone {
    /// Builds a zone from its records. Exactly one SOA, at the apex; every owner inside the
    /// zone; class IN.
    pub fn new(origin: Name, records: impl IntoIterator<Item = Record>) -> Result<Zone, ZoneError> {
        let mut origin = origin;
        origin.set_fqdn(true);
        let mut soa = None;
        let mut others = Vec::new();
        for record in records {
            if record.dns_class != DNSClass::IN {
                return Err(ZoneError::NotClassIn { name: record.name.to_string() });
            }
            if !origin.zone_of(&record.name) {
                return Err(ZoneError::OutOfZone { name: record.name.to_string(), origin: origin.to_string() });
            }
            if record.record_type() == RecordType::SOA {
                if record.name != origin {
                    return Err(ZoneError::SoaNotAtApex { name: record.name.to_string() });
                }
                if soa.replace(record).is_some() {
                    return Err(ZoneError::SeveralSoa { origin: origin.to_string() });
                }
            } else {
                others.push(record);
            }
        }
        let soa = soa.ok_or_else(|| ZoneError::NoSoa { origin: origin.to_string() })?;
        let mut zone = Zone { origin, soa: ZoneRecord::new(soa)?, records: BTreeSet::new(), records_hash_sum: 0 };
        for record in others {
            let record = ZoneRecord::new(record)?;
            // RFC 5936 §2.2 (X4): duplicates are ignored. If they disagree on TTL, keep the
            // lowest (RFC 2181 §5.2), so the result never depends on arrival order.
            if zone.get(&record).is_some_and(|existing| existing.ttl() <= record.ttl()) {
                continue;
            }
            zone.insert(record);
        }
        Ok(zone)
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex SOA record.
    pub fn soa_record(&self) -> &Record {
        self.soa.record()
    }

    /// The apex SOA RDATA.
    pub fn soa(&self) -> &SOA {
        match &self.soa.record().data {
            RData::SOA(soa) => soa,
            _ => unreachable!("Zone::soa holds an SOA record by construction"),
        }
    }

    pub fn serial(&self) -> Serial {
        Serial(self.soa().serial)
    }

    /// Number of records, the SOA included.
    pub fn len(&self) -> usize {
        self.records.len() + 1
    }

    /// A zone always holds its SOA, so it is never empty; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every record except the SOA, in canonical order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().map(ZoneRecord::record)
    }

    /// Records owned by `name` of type `rtype` (`ANY`: every type), the SOA included.
    pub fn lookup<'a>(&'a self, name: &'a Name, rtype: RecordType) -> impl Iterator<Item = &'a Record> {
        let soa =
            (matches!(rtype, RecordType::SOA | RecordType::ANY) && *name == self.origin).then(|| self.soa.record());
        let rest = self
            .owned_by(name)
            .map(ZoneRecord::record)
            .filter(move |r| rtype == RecordType::ANY || r.record_type() == rtype);
        soa.into_iter().chain(rest)
    }

    /// True when some record is owned by `name` (for NXDOMAIN vs NODATA).
    pub fn has_name(&self, name: &Name) -> bool {
        *name == self.origin || self.owned_by(name).next().is_some()
    }

    /// The non-SOA records owned by `name`, found by a range walk (records sort by name first).
    pub(crate) fn owned_by<'a>(&'a self, name: &'a Name) -> impl Iterator<Item = &'a ZoneRecord> {
        let lowest = ZoneRecord::lowest_for(name);
        self.records.range(lowest..).take_while(move |r| r.name() == name)
    }

    pub(crate) fn count(&self, name: &Name, rtype: RecordType) -> usize {
        self.owned_by(name).filter(|r| r.record_type() == rtype).count()
    }

    pub(crate) fn get(&self, record: &ZoneRecord) -> Option<&ZoneRecord> {
        self.records.get(record)
    }

    pub fn digest(&self) -> ZoneDigest {
        ZoneDigest(mix64(self.soa.content_hash() ^ mix64(self.records_hash_sum)))
    }

    pub fn contains(&self, record: &ZoneRecord) -> bool {
        self.records.contains(record)
    }

    /// Inserts a non-SOA record, replacing an identical one (its TTL may differ).
    pub(crate) fn insert(&mut self, record: ZoneRecord) {
        debug_assert_ne!(record.record_type(), RecordType::SOA);
        if let Some(old) = self.records.take(&record) {
            self.records_hash_sum = self.records_hash_sum.wrapping_sub(old.content_hash());
        }
        self.records_hash_sum = self.records_hash_sum.wrapping_add(record.content_hash());
        self.records.insert(record);
    }

    /// Removes a non-SOA record; returns whether it was present.
    pub(crate) fn remove(&mut self, record: &ZoneRecord) -> bool {
        match self.records.take(record) {
            Some(old) => {
                self.records_hash_sum = self.records_hash_sum.wrapping_sub(old.content_hash());
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_soa(&mut self, soa: ZoneRecord) {
        self.soa = soa;
    }

    pub(crate) fn zone_records(&self) -> impl Iterator<Item = &ZoneRecord> {
        self.records.iter()
    }

    pub(crate) fn soa_zone_record(&self) -> &ZoneRecord {
        &self.soa
    }

    /// The zone as an AXFR carries it (RFC 5936 §2.2): SOA, every other record, SOA again.
    pub fn axfr_records(&self) -> impl Iterator<Item = &Record> {
        std::iter::once(self.soa.record()).chain(self.records()).chain(std::iter::once(self.soa.record()))
    }
}

/// Two zones are equal when their origins, SOAs and record sets (with TTLs) are equal.
impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin
            && self.soa.content_hash() == other.soa.content_hash()
            && self.records.len() == other.records.len()
            && self.records.iter().zip(other.records.iter()).all(|(a, b)| a == b && a.ttl() == b.ttl())
    }
}

impl Eq for Zone {}

/// Builds an SOA record at `origin` with the given timers (seconds) — a convenience for tests
/// and generated zones.
pub fn soa_record(origin: &Name, serial: u32, refresh_secs: i32, retry_secs: i32, expire_secs: i32) -> Record {
    let mname = Name::from_ascii("ns1")
        .and_then(|n| n.append_domain(origin))
        .expect("ns1 under a valid origin is a valid name");
    let rname = Name::from_ascii("hostmaster")
        .and_then(|n| n.append_domain(origin))
        .expect("hostmaster under a valid origin is a valid name");
    let soa = SOA::new(mname, rname, serial, refresh_secs, retry_secs, expire_secs, 300);
    Record::from_rdata(origin.clone(), 3600, RData::SOA(soa))
}
