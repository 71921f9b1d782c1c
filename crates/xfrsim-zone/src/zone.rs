//! A zone: apex SOA plus a canonically ordered set of records, with a content digest.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict};

use crate::digest::{fnv1a64, mix64};
use crate::{Serial, ZoneError};

/// One record of a zone, stored compactly as wire-format bytes (owner and RDATA uncompressed,
/// original case) and decoded to a hickory [`Record`] only when asked for. A hickory `Record` is
/// 272 bytes before its heap data; this is 56, which is what lets five servers hold a
/// 100,000-record zone each in a few tens of megabytes.
///
/// Identity (`Eq`, `Ord`) is owner name (case-insensitive, RFC 4034 §6.1 order), type and
/// canonical RDATA (§6.2, §6.3); the TTL is not part of it, as RFC 2181 §5 and RFC 2136 §1.1.1
/// say RRs differing only in TTL are the same RR. Class is always IN (checked on entry).
#[derive(Debug, Clone)]
pub struct ZoneRecord {
    owner: Box<[u8]>,
    rtype: u16,
    ttl: u32,
    rdata: Box<[u8]>,
    /// The canonical RDATA when it differs from `rdata` (names inside lower-cased).
    canonical: Option<Box<[u8]>>,
}

/// Encodes into `scratch` (cleared first) with the given name handling.
fn encode_into(
    scratch: &mut Vec<u8>,
    f: impl FnOnce(&mut BinEncoder<'_>) -> Result<(), hickory_proto::ProtoError>,
    canonical: bool,
) -> Result<(), String> {
    scratch.clear();
    let mut encoder = BinEncoder::new(scratch);
    encoder.set_canonical_form(canonical);
    encoder.set_name_encoding(if canonical { NameEncoding::UncompressedLowercase } else { NameEncoding::Uncompressed });
    f(&mut encoder).map_err(|e| e.to_string())
}

impl ZoneRecord {
    /// Encodes a record. Fails only for RDATA hickory cannot encode.
    pub fn new(record: Record) -> Result<Self, ZoneError> {
        let fail = |reason| ZoneError::Unencodable { name: record.name.to_string(), reason };
        // One scratch buffer, then exact-size copies: growing and shrinking a buffer per field
        // left a 100,000-record zone costing ten times its size in fragmented heap.
        let mut scratch = Vec::with_capacity(512);
        encode_into(&mut scratch, |e| record.name.emit(e), false).map_err(fail)?;
        let owner = Box::<[u8]>::from(scratch.as_slice());
        encode_into(&mut scratch, |e| record.data.emit(e), false).map_err(fail)?;
        let rdata = Box::<[u8]>::from(scratch.as_slice());
        encode_into(&mut scratch, |e| record.data.emit(e), true).map_err(fail)?;
        let canonical = (scratch.as_slice() != &*rdata).then(|| Box::<[u8]>::from(scratch.as_slice()));
        let zone_record =
            ZoneRecord { owner, rtype: u16::from(record.record_type()), ttl: record.ttl, rdata, canonical };
        // Only data that decodes again may enter a zone: an empty-RDATA "record" (RFC 2136's
        // delete encoding, which hickory decodes as `Update0` from any message) would otherwise
        // be stored and fail when served.
        if matches!(record.data, RData::Update0(_)) || zone_record.try_to_record().is_none() {
            return Err(ZoneError::Unencodable {
                name: record.name.to_string(),
                reason: "RDATA does not decode".into(),
            });
        }
        Ok(zone_record)
    }

    /// The record, decoded.
    pub fn to_record(&self) -> Record {
        self.try_to_record().expect("ZoneRecord::new admits only records that decode")
    }

    fn try_to_record(&self) -> Option<Record> {
        let mut decoder = BinDecoder::new(&self.owner);
        let name = Name::read(&mut decoder).ok()?;
        let mut decoder = BinDecoder::new(&self.rdata);
        let length = u16::try_from(self.rdata.len()).ok()?;
        let data = RData::read(&mut decoder, RecordType::from(self.rtype), Restrict::new(length)).ok()?;
        Some(Record::from_rdata(name, self.ttl, data))
    }

    /// A probe that sorts before every record owned by `owner`: type 0, empty RDATA.
    fn lowest_for(owner: &[u8]) -> Self {
        ZoneRecord { owner: owner.into(), rtype: 0, ttl: 0, rdata: Box::new([]), canonical: None }
    }

    fn owned_by(&self, owner: &[u8]) -> bool {
        compare_names(&self.owner, owner) == Ordering::Equal
    }

    pub fn record_type(&self) -> RecordType {
        RecordType::from(self.rtype)
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    fn canonical_rdata(&self) -> &[u8] {
        self.canonical.as_deref().unwrap_or(&self.rdata)
    }

    /// 64-bit hash of the full canonical RR (owner lower-cased, type, class, TTL, RDATA).
    pub(crate) fn content_hash(&self) -> u64 {
        let mut bytes: Vec<u8> = self.owner.iter().map(u8::to_ascii_lowercase).collect();
        bytes.extend_from_slice(&self.rtype.to_be_bytes());
        bytes.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        bytes.extend_from_slice(&self.ttl.to_be_bytes());
        bytes.extend_from_slice(self.canonical_rdata());
        mix64(fnv1a64(&bytes))
    }
}

/// The name's wire encoding (uncompressed, original case).
pub(crate) fn name_wire(name: &Name) -> Vec<u8> {
    let mut wire = Vec::with_capacity(64);
    encode_into(&mut wire, |e| name.emit(e), false).expect("a constructed name always encodes");
    wire
}

/// RFC 4034 §6.1 canonical name order on uncompressed wire names: labels compared from the
/// most significant (rightmost), case-insensitively, as unsigned octet strings, a missing octet
/// before any octet; a name that runs out of labels first sorts first.
fn compare_names(a: &[u8], b: &[u8]) -> Ordering {
    // A wire name has at most 127 labels; record where each starts, without allocating.
    fn labels(wire: &[u8], starts: &mut [u8; 128]) -> usize {
        let (mut at, mut n) = (0usize, 0usize);
        while at < wire.len() && wire[at] != 0 && n < starts.len() {
            starts[n] = at as u8;
            n += 1;
            at += 1 + usize::from(wire[at]);
        }
        n
    }
    let (mut sa, mut sb) = ([0u8; 128], [0u8; 128]);
    let (na, nb) = (labels(a, &mut sa), labels(b, &mut sb));
    for i in 1..=na.min(nb) {
        let (ia, ib) = (usize::from(sa[na - i]), usize::from(sb[nb - i]));
        let la = &a[ia + 1..ia + 1 + usize::from(a[ia])];
        let lb = &b[ib + 1..ib + 1 + usize::from(b[ib])];
        let ordering = la.iter().map(u8::to_ascii_lowercase).cmp(lb.iter().map(u8::to_ascii_lowercase));
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    na.cmp(&nb)
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
    /// Owner in RFC 4034 §6.1 order, then type, then canonical RDATA bytes (§6.3).
    fn cmp(&self, other: &Self) -> Ordering {
        compare_names(&self.owner, &other.owner)
            .then_with(|| self.rtype.cmp(&other.rtype))
            .then_with(|| self.canonical_rdata().cmp(other.canonical_rdata()))
    }
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
    /// `soa`, decoded once: it is read far more often than any other record.
    soa_record: Record,
    records: BTreeSet<ZoneRecord>,
    records_hash_sum: u64,
}

impl Zone {
    /// Builds a zone from its records. Exactly one SOA, at the apex; every owner inside the
    /// zone; class IN.
    pub fn new(origin: Name, records: impl IntoIterator<Item = Record>) -> Result<Zone, ZoneError> {
        let mut builder = ZoneBuilder::new(origin);
        for record in records {
            builder.push(record)?;
        }
        builder.finish()
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex SOA record.
    pub fn soa_record(&self) -> &Record {
        &self.soa_record
    }

    /// The apex SOA RDATA.
    pub fn soa(&self) -> &SOA {
        match &self.soa_record.data {
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

    /// Every record except the SOA, in canonical order, decoded.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.records.iter().map(ZoneRecord::to_record)
    }

    /// Records owned by `name` of type `rtype` (`ANY`: every type), the SOA included.
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> impl Iterator<Item = Record> + '_ {
        let soa = (matches!(rtype, RecordType::SOA | RecordType::ANY) && *name == self.origin)
            .then(|| self.soa_record.clone());
        let rest: Vec<Record> = self
            .owned_by(name)
            .filter(|r| rtype == RecordType::ANY || r.record_type() == rtype)
            .map(ZoneRecord::to_record)
            .collect();
        soa.into_iter().chain(rest)
    }

    /// True when some record is owned by `name` (for NXDOMAIN vs NODATA).
    pub fn has_name(&self, name: &Name) -> bool {
        *name == self.origin || self.owned_by(name).next().is_some()
    }

    /// The non-SOA records owned by `name`, found by a range walk (records sort by name first).
    pub(crate) fn owned_by(&self, name: &Name) -> impl Iterator<Item = &ZoneRecord> {
        let owner = name_wire(name);
        let lowest = ZoneRecord::lowest_for(&owner);
        self.records.range(lowest..).take_while(move |r| r.owned_by(&owner))
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

    pub(crate) fn set_soa(&mut self, soa: Record) -> Result<(), ZoneError> {
        self.soa = ZoneRecord::new(soa.clone())?;
        self.soa_record = soa;
        Ok(())
    }

    pub(crate) fn zone_records(&self) -> impl Iterator<Item = &ZoneRecord> {
        self.records.iter()
    }

    /// The zone as an AXFR carries it (RFC 5936 §2.2): SOA, every other record, SOA again.
    pub fn axfr_records(&self) -> impl Iterator<Item = Record> + '_ {
        std::iter::once(self.soa_record.clone()).chain(self.records()).chain(std::iter::once(self.soa_record.clone()))
    }
}

/// Builds a zone one record at a time, so a transfer being received never needs the whole
/// record list and the zone in memory at once.
#[derive(Debug)]
pub struct ZoneBuilder {
    origin: Name,
    soa: Option<(ZoneRecord, Record)>,
    records: BTreeSet<ZoneRecord>,
    records_hash_sum: u64,
}

impl ZoneBuilder {
    pub fn new(mut origin: Name) -> Self {
        origin.set_fqdn(true);
        ZoneBuilder { origin, soa: None, records: BTreeSet::new(), records_hash_sum: 0 }
    }

    /// Adds a record: class IN, inside the zone, at most one SOA and only at the apex.
    pub fn push(&mut self, record: Record) -> Result<(), ZoneError> {
        if record.dns_class != DNSClass::IN {
            return Err(ZoneError::NotClassIn { name: record.name.to_string() });
        }
        if !self.origin.zone_of(&record.name) {
            return Err(ZoneError::OutOfZone { name: record.name.to_string(), origin: self.origin.to_string() });
        }
        if record.record_type() == RecordType::SOA {
            if record.name != self.origin {
                return Err(ZoneError::SoaNotAtApex { name: record.name.to_string() });
            }
            if self.soa.is_some() {
                return Err(ZoneError::SeveralSoa { origin: self.origin.to_string() });
            }
            self.soa = Some((ZoneRecord::new(record.clone())?, record));
            return Ok(());
        }
        let record = ZoneRecord::new(record)?;
        // RFC 5936 §2.2 (X4): duplicates are ignored. If they disagree on TTL, keep the
        // lowest (RFC 2181 §5.2), so the result never depends on arrival order.
        if let Some(existing) = self.records.get(&record) {
            if existing.ttl() <= record.ttl() {
                return Ok(());
            }
            let old = self.records.take(&record).expect("just found");
            self.records_hash_sum = self.records_hash_sum.wrapping_sub(old.content_hash());
        }
        self.records_hash_sum = self.records_hash_sum.wrapping_add(record.content_hash());
        self.records.insert(record);
        Ok(())
    }

    pub fn finish(self) -> Result<Zone, ZoneError> {
        let (soa, soa_record) = self.soa.ok_or_else(|| ZoneError::NoSoa { origin: self.origin.to_string() })?;
        Ok(Zone {
            origin: self.origin,
            soa,
            soa_record,
            records: self.records,
            records_hash_sum: self.records_hash_sum,
        })
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
