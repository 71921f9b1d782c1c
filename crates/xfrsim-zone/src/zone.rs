//! A zone: apex SOA plus a canonically ordered set of records, with a content digest, and the
//! integrity rules every version must keep.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::digest::mix64;
use crate::name::Dname;
use crate::rdata::TypeName;
use crate::record::{CNAME, DNAME, NS, SOA, Soa, ZoneRecord};
use crate::{Serial, ZoneError};

/// A content digest of a zone: equal digests mean equal SOA and equal record sets (with TTLs),
/// regardless of the order records arrived in or the case they were written in. Printed as
/// 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneDigest(pub u64);

impl fmt::Display for ZoneDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Types that may share an owner with a CNAME: the DNSSEC records about the CNAME itself
/// (RFC 4035 §2.5). BIND's load check (`rbtdb.c` `cname_and_other_data`) allows RRSIG, NSEC,
/// SIG and KEY; Knot allows RRSIG and NSEC; NSD RRSIG, NSEC, NSEC3, SIG and NXT.
pub fn allowed_beside_cname(rtype: u16) -> bool {
    matches!(rtype, 46 | 47 | 24 | 25)
}

/// Types of which an owner holds at most one record (BIND `DNS_RDATATYPEATTR_SINGLETON`:
/// SOA, CNAME, DNAME and RESINFO; BIND refuses a second one: "multiple RRs of singleton type").
pub fn is_singleton(rtype: u16) -> bool {
    matches!(rtype, SOA | CNAME | DNAME | 261)
}

/// A broken integrity rule at one owner, and the records that break it (positions within the
/// owner's records): the second record of a singleton type, or the first CNAME and the first
/// other record. A master-file reader blames whichever of them was read last, as BIND does.
pub(crate) type OwnerFault = (Vec<usize>, ZoneError);

/// Checks the records of one owner (canonically ordered, so sorted by type): at most one
/// record of a singleton type, and a CNAME only beside DNSSEC records about it.
pub(crate) fn check_owner<'r>(records: impl Iterator<Item = &'r ZoneRecord>) -> Result<(), OwnerFault> {
    let mut cname: Option<usize> = None;
    let mut other: Option<usize> = None;
    let mut previous: Option<&ZoneRecord> = None;
    for (i, record) in records.enumerate() {
        if let Some(prev) = previous
            && prev.rtype() == record.rtype()
            && is_singleton(record.rtype())
        {
            let error = ZoneError::SeveralOfSingleton {
                name: record.owner_name().to_string(),
                rtype: TypeName(record.rtype()),
            };
            return Err((vec![i - 1, i], error));
        }
        match record.rtype() {
            CNAME => {
                cname.get_or_insert(i);
            }
            t if !allowed_beside_cname(t) => {
                other.get_or_insert(i);
            }
            _ => {}
        }
        if let (Some(c), Some(o)) = (cname, other) {
            return Err((vec![c, o], ZoneError::CnameAndOtherData { name: record.owner_name().to_string() }));
        }
        previous = Some(record);
    }
    Ok(())
}

/// A complete version of a zone: apex SOA plus every other record, in canonical order.
///
/// The digest is maintained incrementally (a wrapping sum of per-record hashes), so checking
/// two servers' copies for equality costs O(1) however large the zone.
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    apex: Dname,
    soa: ZoneRecord,
    /// `soa`'s fields, read once: they are read far more often than any other record.
    soa_fields: Soa,
    /// Shared between clones until one of them changes (copy on write): restarts, crash
    /// images and snapshots held by outgoing transfers cost nothing until the zone changes.
    records: Arc<BTreeSet<ZoneRecord>>,
    records_hash_sum: u64,
}

impl Zone {
    /// Builds a zone from its records (checked as [`ZoneBuilder`] checks them).
    pub fn new(origin: Name, records: impl IntoIterator<Item = ZoneRecord>) -> Result<Zone, ZoneError> {
        let mut builder = ZoneBuilder::new(origin);
        for record in records {
            builder.push(record)?;
        }
        builder.finish()
    }

    /// A zone from records already sorted, free of duplicates and checked by the caller
    /// (the master-file reader, which reports faults with their file positions).
    pub(crate) fn from_sorted(origin: Name, apex: Dname, soa: ZoneRecord, records: Vec<ZoneRecord>) -> Zone {
        debug_assert!(records.windows(2).all(|w| w[0] < w[1]));
        let records_hash_sum = records.iter().fold(0u64, |sum, r| sum.wrapping_add(r.content_hash()));
        let soa_fields = soa.soa().expect("an SOA record");
        Zone { origin, apex, soa, soa_fields, records: Arc::new(records.into_iter().collect()), records_hash_sum }
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The apex name in wire form.
    pub fn apex(&self) -> &Dname {
        &self.apex
    }

    /// The apex SOA record.
    pub fn soa_record(&self) -> &ZoneRecord {
        &self.soa
    }

    /// The apex SOA's fields.
    pub fn soa(&self) -> &Soa {
        &self.soa_fields
    }

    pub fn serial(&self) -> Serial {
        Serial(self.soa_fields.serial)
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
    pub fn records(&self) -> impl Iterator<Item = &ZoneRecord> + '_ {
        self.records.iter()
    }

    /// The records after `last` in canonical order (all of them for `None`), the SOA excluded:
    /// where a transfer sent message by message picks up.
    pub fn records_after(&self, last: Option<&ZoneRecord>) -> impl Iterator<Item = &ZoneRecord> + '_ {
        let lower = match last {
            Some(record) => Bound::Excluded(record),
            None => Bound::Unbounded,
        };
        self.records.range((lower, Bound::Unbounded))
    }

    /// Records owned by `name` of type `rtype` (255, ANY: every type), the SOA included.
    pub fn lookup<'z>(&'z self, name: &Dname, rtype: u16) -> impl Iterator<Item = &'z ZoneRecord> + 'z {
        let soa = (matches!(rtype, SOA | 255) && *name == self.apex).then_some(&self.soa);
        let rest = self.owned_by(name).filter(move |r| rtype == 255 || r.rtype() == rtype);
        soa.into_iter().chain(rest)
    }

    /// True when some record is owned by `name` (for NXDOMAIN vs NODATA).
    pub fn has_name(&self, name: &Dname) -> bool {
        *name == self.apex || self.owned_by(name).next().is_some()
    }

    /// The non-SOA records owned by `name`, found by a range walk (records sort by name first).
    pub fn owned_by<'z>(&'z self, name: &Dname) -> impl Iterator<Item = &'z ZoneRecord> + 'z {
        let probe = ZoneRecord::probe(name.as_wire());
        let key = probe.key().to_vec();
        self.records.range(probe..).take_while(move |r| r.key() == key.as_slice())
    }

    pub(crate) fn count(&self, name: &Dname, rtype: u16) -> usize {
        self.owned_by(name).filter(|r| r.rtype() == rtype).count()
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

    /// Inserts a non-SOA record, replacing an identical one (its TTL or case may differ).
    pub(crate) fn insert(&mut self, record: ZoneRecord) {
        debug_assert_ne!(record.rtype(), SOA);
        let records = Arc::make_mut(&mut self.records);
        if let Some(old) = records.take(&record) {
            self.records_hash_sum = self.records_hash_sum.wrapping_sub(old.content_hash());
        }
        self.records_hash_sum = self.records_hash_sum.wrapping_add(record.content_hash());
        records.insert(record);
    }

    /// Removes a non-SOA record; returns whether it was present.
    pub(crate) fn remove(&mut self, record: &ZoneRecord) -> bool {
        if !self.records.contains(record) {
            return false;
        }
        match Arc::make_mut(&mut self.records).take(record) {
            Some(old) => {
                self.records_hash_sum = self.records_hash_sum.wrapping_sub(old.content_hash());
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_soa(&mut self, soa: ZoneRecord) -> Result<(), ZoneError> {
        if soa.rtype() != SOA {
            return Err(ZoneError::NotAnSoa { name: soa.owner_name().to_string() });
        }
        if soa.owner_name() != self.apex {
            return Err(ZoneError::SoaNotAtApex { name: soa.owner_name().to_string() });
        }
        self.soa_fields = soa.soa().expect("checked: an SOA");
        self.soa = soa;
        Ok(())
    }

    /// The integrity rules for the records owned by `name` (and, at the apex, at least one
    /// NS): what every installed version must satisfy.
    pub(crate) fn check_name(&self, name: &Dname) -> Result<(), ZoneError> {
        check_owner(self.owned_by(name)).map_err(|(_, e)| e)?;
        if *name == self.apex && self.count(name, NS) == 0 {
            return Err(ZoneError::NoApexNs { origin: self.apex.to_string() });
        }
        Ok(())
    }

    /// The zone as an AXFR carries it (RFC 5936 §2.2): SOA, every other record, SOA again.
    pub fn axfr_records(&self) -> impl Iterator<Item = &ZoneRecord> + '_ {
        std::iter::once(&self.soa).chain(self.records.iter()).chain(std::iter::once(&self.soa))
    }

    /// The same zone with another SOA serial (a restore from an older backup, a serial reset).
    pub fn with_serial(&self, serial: Serial) -> Zone {
        let mut zone = self.clone();
        zone.set_soa(crate::record::with_serial(&self.soa, serial)).expect("the same SOA with another serial");
        zone
    }

    /// The zone in master-file syntax, one record per line, SOA first.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for record in std::iter::once(&self.soa).chain(self.records.iter()) {
            record.write_text(&mut out);
            out.push('\n');
        }
        out
    }
}

/// Builds a zone from records in any order (a transfer as it arrives, generated data):
/// collected, then sorted once.
#[derive(Debug, Clone)]
pub struct ZoneBuilder {
    origin: Name,
    apex: Dname,
    soa: Option<ZoneRecord>,
    records: Vec<ZoneRecord>,
}

impl ZoneBuilder {
    pub fn new(mut origin: Name) -> Self {
        origin.set_fqdn(true);
        let apex = Dname::from_hickory(&origin);
        ZoneBuilder { origin, apex, soa: None, records: Vec::new() }
    }

    /// Adds a record: inside the zone, at most one SOA and only at the apex.
    pub fn push(&mut self, record: ZoneRecord) -> Result<(), ZoneError> {
        if !crate::name::is_at_or_below(record.owner(), self.apex.as_wire()) {
            let name = record.owner_name().to_string();
            return Err(ZoneError::OutOfZone { name, origin: self.apex.to_string() });
        }
        if record.rtype() == SOA {
            let owner = record.owner_name();
            if owner != self.apex {
                return Err(ZoneError::SoaNotAtApex { name: owner.to_string() });
            }
            if self.soa.is_some() {
                return Err(ZoneError::SeveralSoa { origin: self.apex.to_string() });
            }
            self.soa = Some(record);
            return Ok(());
        }
        self.records.push(record);
        Ok(())
    }

    /// Sorts, merges duplicates and checks the zone's integrity: one SOA, at least one apex
    /// NS, no CNAME beside other data, no second record of a singleton type.
    pub fn finish(self) -> Result<Zone, ZoneError> {
        let soa = self.soa.ok_or_else(|| ZoneError::NoSoa { origin: self.apex.to_string() })?;
        let mut records = self.records;
        records.sort_unstable();
        // RFC 5936 §2.2 (X4): duplicates are ignored. If they disagree on TTL, keep the
        // lowest (RFC 2181 §5.2), so the result never depends on arrival order.
        records.dedup_by(|later, kept| {
            if later != kept {
                return false;
            }
            if later.ttl() < kept.ttl() {
                std::mem::swap(later, kept);
            }
            true
        });
        check_sorted(&self.apex, &records).map_err(|(_, e)| e)?;
        Ok(Zone::from_sorted(self.origin, self.apex, soa, records))
    }
}

/// Checks sorted, duplicate-free records; on failure names the indices of the records at
/// fault (none: the zone as a whole).
pub(crate) fn check_sorted(apex: &Dname, records: &[ZoneRecord]) -> Result<(), (Vec<usize>, ZoneError)> {
    let mut start = 0;
    let mut apex_ns = false;
    while start < records.len() {
        let key = records[start].key();
        let end = start + records[start..].iter().take_while(|r| r.key() == key).count();
        let group = &records[start..end];
        check_owner(group.iter()).map_err(|(at, e)| (at.into_iter().map(|i| start + i).collect(), e))?;
        if !apex_ns && group[0].owner_name() == *apex {
            apex_ns = group.iter().any(|r| r.rtype() == NS);
        }
        start = end;
    }
    if !apex_ns {
        return Err((Vec::new(), ZoneError::NoApexNs { origin: apex.to_string() }));
    }
    Ok(())
}

/// Two zones are equal when their origins, SOAs and record sets (with TTLs) are equal.
impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.apex == other.apex
            && self.soa.content_hash() == other.soa.content_hash()
            && self.records.len() == other.records.len()
            && self.records.iter().zip(other.records.iter()).all(|(a, b)| a == b && a.ttl() == b.ttl())
    }
}

impl Eq for Zone {}
