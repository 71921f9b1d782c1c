//! Zone versions: diffs between them (the unit of IXFR, RFC 1995 §4), atomic application,
//! dynamic-update changes (RFC 2136 §3.4.2) and a bounded journal of past diffs.

use std::collections::{BTreeMap, VecDeque};

use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::zone::{Zone, ZoneRecord};
use crate::{Serial, ZoneError};

/// The change from one version of a zone to the next, as one IXFR sequence carries it:
/// old SOA, records deleted, new SOA, records added.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub old_soa: Record,
    pub deleted: Vec<Record>,
    pub new_soa: Record,
    pub added: Vec<Record>,
}

fn soa_serial(record: &Record) -> Result<Serial, ZoneError> {
    match &record.data {
        RData::SOA(soa) => Ok(Serial(soa.serial)),
        _ => Err(ZoneError::NotAnSoa { name: record.name.to_string() }),
    }
}

impl Diff {
    pub fn from_serial(&self) -> Serial {
        soa_serial(&self.old_soa).expect("a diff's old_soa is an SOA (checked when applied)")
    }

    pub fn to_serial(&self) -> Serial {
        soa_serial(&self.new_soa).expect("a diff's new_soa is an SOA (checked when applied)")
    }

    /// Number of records this diff carries on the wire, both SOAs included.
    pub fn wire_records(&self) -> usize {
        self.deleted.len() + self.added.len() + 2
    }

    /// The diff that turns `old` into `new` (what BIND's `ixfr-from-differences` computes),
    /// by one merge walk over both canonically ordered record sets.
    pub fn between(old: &Zone, new: &Zone) -> Diff {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        let mut old_iter = old.zone_records().peekable();
        let mut new_iter = new.zone_records().peekable();
        loop {
            match (old_iter.peek(), new_iter.peek()) {
                (None, None) => break,
                (Some(o), None) => {
                    deleted.push(o.to_record());
                    old_iter.next();
                }
                (None, Some(n)) => {
                    added.push(n.to_record());
                    new_iter.next();
                }
                (Some(o), Some(n)) => match o.cmp(n) {
                    std::cmp::Ordering::Less => {
                        deleted.push(o.to_record());
                        old_iter.next();
                    }
                    std::cmp::Ordering::Greater => {
                        added.push(n.to_record());
                        new_iter.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if o.ttl() != n.ttl() {
                            deleted.push(o.to_record());
                            added.push(n.to_record());
                        }
                        old_iter.next();
                        new_iter.next();
                    }
                },
            }
        }
        Diff { old_soa: old.soa_record().clone(), deleted, new_soa: new.soa_record().clone(), added }
    }
}

/// Edits a zone in place while remembering each touched record's original state, so the whole
/// edit can be rolled back (atomic install, RFC 1995 §4 / RFC 5936 §6) or summarised as a net
/// diff. Cloning a 100,000-record zone per IXFR would make cost follow zone size; this makes it
/// follow diff size.
struct Edit<'z> {
    zone: &'z mut Zone,
    original_soa: Record,
    /// Record identity → its state before the edit (`None`: absent).
    originals: BTreeMap<ZoneRecord, Option<ZoneRecord>>,
}

impl<'z> Edit<'z> {
    fn new(zone: &'z mut Zone) -> Self {
        let original_soa = zone.soa_record().clone();
        Edit { zone, original_soa, originals: BTreeMap::new() }
    }

    fn remember(&mut self, key: &ZoneRecord) {
        if !self.originals.contains_key(key) {
            let before = self.zone.get(key).cloned();
            self.originals.insert(key.clone(), before);
        }
    }

    fn insert(&mut self, record: ZoneRecord) {
        self.remember(&record);
        self.zone.insert(record);
    }

    fn remove(&mut self, record: &ZoneRecord) -> bool {
        self.remember(record);
        self.zone.remove(record)
    }

    fn rollback(self) {
        for (key, before) in self.originals {
            self.zone.remove(&key);
            if let Some(record) = before {
                self.zone.insert(record);
            }
        }
        self.zone.set_soa(self.original_soa).expect("the SOA it had encoded before");
    }

    /// Keeps the edit; returns the net (deleted, added) records.
    fn commit(self) -> (Vec<Record>, Vec<Record>) {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        for (key, before) in self.originals {
            let after = self.zone.get(&key);
            match (before, after) {
                (None, None) => {}
                (Some(b), None) => deleted.push(b.to_record()),
                (None, Some(a)) => added.push(a.to_record()),
                (Some(b), Some(a)) => {
                    if b.ttl() != a.ttl() {
                        added.push(a.to_record());
                        deleted.push(b.to_record());
                    }
                }
            }
        }
        (deleted, added)
    }
}

impl Zone {
    /// Applies a chain of diffs atomically: either every diff applies and the zone ends at the
    /// last diff's version, or the zone is left exactly as it was.
    ///
    /// Each diff must start at the zone's current serial, and every record it deletes must be
    /// present (RFC 1995 §4: a client that cannot apply a diff must not serve a mix).
    pub fn apply_diffs<'d>(&mut self, diffs: impl IntoIterator<Item = &'d Diff>) -> Result<(), ZoneError> {
        let mut edit = Edit::new(self);
        for diff in diffs {
            if let Err(e) = apply_one(&mut edit, diff) {
                edit.rollback();
                return Err(e);
            }
        }
        edit.commit();
        Ok(())
    }
}

fn apply_one(edit: &mut Edit<'_>, diff: &Diff) -> Result<(), ZoneError> {
    let from = soa_serial(&diff.old_soa)?;
    soa_serial(&diff.new_soa)?;
    let current = edit.zone.serial();
    if from != current {
        return Err(ZoneError::DiffDoesNotStartHere { diff_from: from, zone_serial: current });
    }
    for record in &diff.deleted {
        if record.record_type() == RecordType::SOA {
            continue;
        }
        let key = ZoneRecord::new(record.clone())?;
        if !edit.remove(&key) {
            return Err(ZoneError::DeletedRecordAbsent { record: record.to_string() });
        }
    }
    let origin = edit.zone.origin().clone();
    for record in &diff.added {
        if record.record_type() == RecordType::SOA {
            continue;
        }
        if !origin.zone_of(&record.name) {
            return Err(ZoneError::OutOfZone { name: record.name.to_string(), origin: origin.to_string() });
        }
        edit.insert(ZoneRecord::new(record.clone())?);
    }
    if diff.new_soa.name != origin {
        return Err(ZoneError::SoaNotAtApex { name: diff.new_soa.name.to_string() });
    }
    edit.zone.set_soa(diff.new_soa.clone())?;
    Ok(())
}

/// One dynamic-update operation (RFC 2136 §2.5), already decoded from its class/TTL encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add an RR (an identical RR is replaced, taking the new TTL). Adding an SOA whose serial
    /// is newer than the current SOA's (an earlier SOA add of the same update included) and
    /// than the serial before the update replaces the SOA; otherwise the SOA add is ignored
    /// (§3.4.2.2). A requested serial of 0 is replaced by the automatic increment.
    Add(Record),
    /// Delete one RR (name, type, RDATA), if present.
    DeleteRecord(Record),
    /// Delete an RRset.
    DeleteRrset { name: Name, rtype: RecordType },
    /// Delete every RRset at a name.
    DeleteName(Name),
}

/// The outcome of an accepted dynamic update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// Nothing changed; the serial stays (RFC 2136 §3.6 increments only on change).
    Unchanged,
    /// A new version was committed.
    Committed { serial: Serial },
}

/// A zone plus a bounded journal of the diffs that led to it, so IXFR can be answered from any
/// retained version (RFC 1995 §5: history may be purged at any time; we purge when the journal
/// would carry more records than the zone itself, or holds more than `max_diffs` versions).
#[derive(Debug, Clone)]
pub struct ZoneHistory {
    zone: Zone,
    journal: VecDeque<Diff>,
    journal_records: usize,
    max_diffs: usize,
}

impl ZoneHistory {
    pub fn new(zone: Zone, max_diffs: usize) -> Self {
        ZoneHistory { zone, journal: VecDeque::new(), journal_records: 0, max_diffs }
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    pub fn into_zone(self) -> Zone {
        self.zone
    }

    pub fn journal(&self) -> impl Iterator<Item = &Diff> {
        self.journal.iter()
    }

    /// The oldest serial the journal can bring up to date, if any.
    pub fn oldest_retained(&self) -> Option<Serial> {
        self.journal.front().map(Diff::from_serial)
    }

    /// The diffs from `serial` to the current version, oldest first; `None` when the journal
    /// does not reach back to `serial` (the caller then falls back to a full transfer), or when
    /// `serial` is the current serial (there is nothing to send).
    ///
    /// A serial can recur within the journal (a serial reset steps forward around the ring,
    /// RFC 1982 §7). It then names its most recent version, and the chain starts there.
    pub fn diffs_since(&self, serial: Serial) -> Option<impl Iterator<Item = &Diff>> {
        if serial == self.zone.serial() {
            return None;
        }
        let start = self.journal.iter().rposition(|d| d.from_serial() == serial)?;
        Some(self.journal.iter().skip(start))
    }

    /// Applies diffs received by IXFR, atomically, and keeps them in the journal.
    pub fn apply_diffs(&mut self, diffs: Vec<Diff>) -> Result<(), ZoneError> {
        self.zone.apply_diffs(&diffs)?;
        for diff in diffs {
            self.push(diff);
        }
        Ok(())
    }

    /// Installs a complete new version (AXFR, reload). When it is newer, the journal gains the
    /// computed diff so downstream secondaries can still use IXFR; when it is not (a rollback or
    /// an expired copy being replaced), the history no longer leads to it and is dropped.
    pub fn replace(&mut self, zone: Zone) {
        if zone.serial().is_newer_than(self.zone.serial()) {
            let diff = Diff::between(&self.zone, &zone);
            self.zone = zone;
            self.push(diff);
        } else {
            self.zone = zone;
            self.journal.clear();
            self.journal_records = 0;
        }
    }

    /// Applies a dynamic update (RFC 2136 §3.4.2). The serial is incremented automatically
    /// when the update changes data and does not itself set a newer SOA (§3.6); it never moves
    /// back and never becomes 0 (§7.11).
    pub fn update(&mut self, changes: &[Change]) -> Result<UpdateOutcome, ZoneError> {
        let origin = self.zone.origin().clone();
        let old_soa = self.zone.soa_record().clone();
        let old_serial = self.zone.serial();
        let mut new_soa: Option<Record> = None;
        let mut edit = Edit::new(&mut self.zone);
        for change in changes {
            if let Err(e) = apply_change(&mut edit, &origin, old_serial, &mut new_soa, change) {
                edit.rollback();
                return Err(e);
            }
        }
        // Re-apply the SOA the edit may have replaced, then decide the serial.
        let (deleted, added) = edit.commit();
        if deleted.is_empty() && added.is_empty() && new_soa.is_none() {
            return Ok(UpdateOutcome::Unchanged);
        }
        let mut soa_record = new_soa.unwrap_or_else(|| old_soa.clone());
        // An explicit SOA asking for serial 0 keeps its other fields but takes the automatic
        // increment: serial 0 is never published (RFC 1982 §7, RFC 2136 §7.11).
        if let RData::SOA(soa) = &mut soa_record.data
            && (soa.serial == 0 || !Serial(soa.serial).is_newer_than(old_serial))
        {
            set_serial(soa, old_serial.next());
        }
        let serial = soa_serial(&soa_record)?;
        self.zone.set_soa(soa_record.clone())?;
        self.push(Diff { old_soa, deleted, new_soa: soa_record, added });
        Ok(UpdateOutcome::Committed { serial })
    }

    fn push(&mut self, diff: Diff) {
        self.journal_records += diff.wire_records();
        self.journal.push_back(diff);
        while self.journal.len() > self.max_diffs || (self.journal_records > self.zone.len() && self.journal.len() > 1)
        {
            if let Some(old) = self.journal.pop_front() {
                self.journal_records -= old.wire_records();
            }
        }
        if self.max_diffs == 0 {
            self.journal.clear();
            self.journal_records = 0;
        }
    }
}

fn set_serial(soa: &mut SOA, serial: Serial) {
    soa.serial = serial.0;
}

fn apply_change(
    edit: &mut Edit<'_>,
    origin: &Name,
    old_serial: Serial,
    new_soa: &mut Option<Record>,
    change: &Change,
) -> Result<(), ZoneError> {
    let in_zone = |name: &Name| {
        if origin.zone_of(name) {
            Ok(())
        } else {
            Err(ZoneError::OutOfZone { name: name.to_string(), origin: origin.to_string() })
        }
    };
    match change {
        Change::Add(record) => {
            in_zone(&record.name)?;
            if record.record_type() == RecordType::SOA {
                // §3.4.2.2: an SOA add replaces the zone's *current* SOA (which an earlier SOA
                // add of this update may already have replaced) only when its serial is newer.
                // It must also be newer than the serial before the update: sequence space is
                // not transitive, so a chain of ever "newer" SOAs could otherwise end at or
                // behind the serial the update started from.
                if record.name == *origin {
                    let serial = soa_serial(record)?;
                    let current = match new_soa.as_ref() {
                        Some(soa) => soa_serial(soa)?,
                        None => old_serial,
                    };
                    if serial.is_newer_than(current) && serial.is_newer_than(old_serial) {
                        *new_soa = Some(record.clone());
                    }
                }
                return Ok(());
            }
            edit.insert(ZoneRecord::new(record.clone())?);
        }
        Change::DeleteRecord(record) => {
            in_zone(&record.name)?;
            // §3.4.2.4: the SOA is never deleted; the last apex NS is never deleted.
            if record.record_type() == RecordType::SOA {
                return Ok(());
            }
            if record.record_type() == RecordType::NS
                && record.name == *origin
                && edit.zone.count(origin, RecordType::NS) <= 1
            {
                return Ok(());
            }
            edit.remove(&ZoneRecord::new(record.clone())?);
        }
        Change::DeleteRrset { name, rtype } => {
            in_zone(name)?;
            if *name == *origin && matches!(*rtype, RecordType::SOA | RecordType::NS) {
                return Ok(());
            }
            for record in edit.zone.owned_by(name).filter(|r| r.record_type() == *rtype).cloned().collect::<Vec<_>>() {
                edit.remove(&record);
            }
        }
        Change::DeleteName(name) => {
            in_zone(name)?;
            let apex = *name == *origin;
            let doomed: Vec<ZoneRecord> =
                edit.zone.owned_by(name).filter(|r| !(apex && r.record_type() == RecordType::NS)).cloned().collect();
            for record in doomed {
                edit.remove(&record);
            }
        }
    }
    Ok(())
}
