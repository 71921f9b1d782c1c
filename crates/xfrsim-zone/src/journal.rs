//! Zone versions: diffs between them (the unit of IXFR, RFC 1995 §4), atomic application,
//! dynamic-update changes (RFC 2136 §3.4.2) and a bounded journal of past diffs.

use std::collections::{BTreeMap, VecDeque};

use crate::name::Dname;
use crate::record::{CNAME, NS, SOA, ZoneRecord, with_serial};
use crate::zone::{Zone, allowed_beside_cname, is_singleton};
use crate::{Serial, ZoneError};

/// The change from one version of a zone to the next, as one IXFR sequence carries it:
/// old SOA, records deleted, new SOA, records added.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    pub old_soa: ZoneRecord,
    pub deleted: Vec<ZoneRecord>,
    pub new_soa: ZoneRecord,
    pub added: Vec<ZoneRecord>,
}

fn soa_serial(record: &ZoneRecord) -> Result<Serial, ZoneError> {
    record.soa_serial().ok_or_else(|| ZoneError::NotAnSoa { name: record.owner_name().to_string() })
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
    /// by one merge walk over both canonically ordered record sets. A record whose TTL or
    /// spelling changed is deleted and added again, so IXFR reproduces `new` byte for byte.
    pub fn between(old: &Zone, new: &Zone) -> Diff {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        let mut old_iter = old.records().peekable();
        let mut new_iter = new.records().peekable();
        loop {
            match (old_iter.peek(), new_iter.peek()) {
                (None, None) => break,
                (Some(o), None) => {
                    deleted.push((*o).clone());
                    old_iter.next();
                }
                (None, Some(n)) => {
                    added.push((*n).clone());
                    new_iter.next();
                }
                (Some(o), Some(n)) => match o.cmp(n) {
                    std::cmp::Ordering::Less => {
                        deleted.push((*o).clone());
                        old_iter.next();
                    }
                    std::cmp::Ordering::Greater => {
                        added.push((*n).clone());
                        new_iter.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if !o.same_bytes(n) {
                            deleted.push((*o).clone());
                            added.push((*n).clone());
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
    original_soa: ZoneRecord,
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

    /// Checks the integrity rules at every name the edit touched (and the apex): the cost
    /// follows the edit, not the zone.
    fn check(&self) -> Result<(), ZoneError> {
        let mut names: Vec<Dname> = self.originals.keys().map(ZoneRecord::owner_name).collect();
        names.dedup();
        names.push(self.zone.apex().clone());
        for name in &names {
            self.zone.check_name(name)?;
        }
        Ok(())
    }

    fn rollback(self) {
        for (key, before) in self.originals {
            self.zone.remove(&key);
            if let Some(record) = before {
                self.zone.insert(record);
            }
        }
        self.zone.set_soa(self.original_soa).expect("the SOA it had before");
    }

    /// Keeps the edit; returns the net (deleted, added) records.
    fn commit(self) -> (Vec<ZoneRecord>, Vec<ZoneRecord>) {
        let mut deleted = Vec::new();
        let mut added = Vec::new();
        for (key, before) in self.originals {
            let after = self.zone.get(&key);
            match (before, after) {
                (None, None) => {}
                (Some(b), None) => deleted.push(b),
                (None, Some(a)) => added.push(a.clone()),
                (Some(b), Some(a)) => {
                    if !b.same_bytes(a) {
                        added.push(a.clone());
                        deleted.push(b);
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
    /// Each diff must start at the zone's current serial, every record it deletes must be
    /// present (RFC 1995 §4: a client that cannot apply a diff must not serve a mix), and the
    /// result must keep the zone's integrity (apex NS, no CNAME beside other data).
    pub fn apply_diffs<'d>(&mut self, diffs: impl IntoIterator<Item = &'d Diff>) -> Result<(), ZoneError> {
        let mut edit = Edit::new(self);
        for diff in diffs {
            if let Err(e) = apply_one(&mut edit, diff) {
                edit.rollback();
                return Err(e);
            }
        }
        if let Err(e) = edit.check() {
            edit.rollback();
            return Err(e);
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
        if record.rtype() == SOA {
            continue;
        }
        if !edit.remove(record) {
            return Err(ZoneError::DeletedRecordAbsent { record: record.to_string() });
        }
    }
    let apex = edit.zone.apex().clone();
    for record in &diff.added {
        if record.rtype() == SOA {
            continue;
        }
        if !record.owner_name().is_at_or_below(&apex) {
            return Err(ZoneError::OutOfZone { name: record.owner_name().to_string(), origin: apex.to_string() });
        }
        edit.insert(record.clone());
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
    /// (§3.4.2.2). A requested serial of 0 is replaced by the automatic increment. A CNAME
    /// added beside other data, or other data beside a CNAME, is ignored; a CNAME (or another
    /// singleton type) added where one exists replaces it (§3.4.2.2, BIND `update.c`).
    Add(ZoneRecord),
    /// Delete one RR (name, type, RDATA), if present.
    DeleteRecord(ZoneRecord),
    /// Delete an RRset.
    DeleteRrset { name: Dname, rtype: u16 },
    /// Delete every RRset at a name.
    DeleteName(Dname),
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

    /// The position in the journal of the diff chain from `serial` to the current version;
    /// `None` when the journal does not reach back to `serial` (the caller then falls back to
    /// a full transfer), or when `serial` is the current serial (there is nothing to send).
    ///
    /// A serial can recur within the journal (a serial reset steps forward around the ring,
    /// RFC 1982 §7). It then names its most recent version, and the chain starts there.
    pub fn diff_chain_start(&self, serial: Serial) -> Option<usize> {
        if serial == self.zone.serial() {
            return None;
        }
        self.journal.iter().rposition(|d| d.from_serial() == serial)
    }

    /// The diffs from `serial` to the current version, oldest first (see
    /// [`ZoneHistory::diff_chain_start`]).
    pub fn diffs_since(&self, serial: Serial) -> Option<impl Iterator<Item = &Diff>> {
        let start = self.diff_chain_start(serial)?;
        Some(self.journal.iter().skip(start))
    }

    /// The journal's diff at `index` (0: oldest).
    pub fn diff(&self, index: usize) -> Option<&Diff> {
        self.journal.get(index)
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
        let apex = self.zone.apex().clone();
        let old_soa = self.zone.soa_record().clone();
        let old_serial = self.zone.serial();
        let mut new_soa: Option<ZoneRecord> = None;
        let mut edit = Edit::new(&mut self.zone);
        for change in changes {
            if let Err(e) = apply_change(&mut edit, &apex, old_serial, &mut new_soa, change) {
                edit.rollback();
                return Err(e);
            }
        }
        // The rules above never break integrity; a failure here is a bug, crashed on so the
        // seed that found it is kept.
        if let Err(e) = edit.check() {
            panic!("a dynamic update left zone {apex} inconsistent: {e}");
        }
        let (deleted, added) = edit.commit();
        if deleted.is_empty() && added.is_empty() && new_soa.is_none() {
            return Ok(UpdateOutcome::Unchanged);
        }
        let mut soa_record = new_soa.unwrap_or_else(|| old_soa.clone());
        // An explicit SOA asking for serial 0 keeps its other fields but takes the automatic
        // increment: serial 0 is never published (RFC 1982 §7, RFC 2136 §7.11).
        let requested = soa_serial(&soa_record)?;
        if requested.0 == 0 || !requested.is_newer_than(old_serial) {
            soa_record = with_serial(&soa_record, old_serial.next());
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

fn apply_change(
    edit: &mut Edit<'_>,
    apex: &Dname,
    old_serial: Serial,
    new_soa: &mut Option<ZoneRecord>,
    change: &Change,
) -> Result<(), ZoneError> {
    let in_zone = |name: &Dname| {
        if name.is_at_or_below(apex) {
            Ok(())
        } else {
            Err(ZoneError::OutOfZone { name: name.to_string(), origin: apex.to_string() })
        }
    };
    match change {
        Change::Add(record) => {
            let name = record.owner_name();
            in_zone(&name)?;
            let rtype = record.rtype();
            if rtype == SOA {
                // §3.4.2.2: an SOA add replaces the zone's *current* SOA (which an earlier SOA
                // add of this update may already have replaced) only when its serial is newer.
                // It must also be newer than the serial before the update: sequence space is
                // not transitive, so a chain of ever "newer" SOAs could otherwise end at or
                // behind the serial the update started from.
                if name == *apex {
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
            let existing: Vec<ZoneRecord> = edit.zone.owned_by(&name).cloned().collect();
            let at_apex = name == *apex; // the apex always holds the SOA
            if rtype == CNAME {
                // BIND update.c: "attempt to add CNAME alongside non-CNAME ignored".
                if at_apex || existing.iter().any(|r| r.rtype() != CNAME && !allowed_beside_cname(r.rtype())) {
                    return Ok(());
                }
            } else if !allowed_beside_cname(rtype) && existing.iter().any(|r| r.rtype() == CNAME) {
                // BIND update.c: "attempt to add non-CNAME alongside CNAME ignored".
                return Ok(());
            }
            if is_singleton(rtype) {
                // §3.4.2.2: a CNAME added where one exists replaces it; BIND does the same for
                // every singleton type.
                for old in existing.iter().filter(|r| r.rtype() == rtype && **r != *record) {
                    edit.remove(old);
                }
            }
            edit.insert(record.clone());
        }
        Change::DeleteRecord(record) => {
            let name = record.owner_name();
            in_zone(&name)?;
            // §3.4.2.4: the SOA is never deleted; the last apex NS is never deleted.
            if record.rtype() == SOA {
                return Ok(());
            }
            if record.rtype() == NS && name == *apex && edit.zone.count(apex, NS) <= 1 {
                return Ok(());
            }
            edit.remove(record);
        }
        Change::DeleteRrset { name, rtype } => {
            in_zone(name)?;
            if *name == *apex && matches!(*rtype, SOA | NS) {
                return Ok(());
            }
            for record in edit.zone.owned_by(name).filter(|r| r.rtype() == *rtype).cloned().collect::<Vec<_>>() {
                edit.remove(&record);
            }
        }
        Change::DeleteName(name) => {
            in_zone(name)?;
            let at_apex = *name == *apex;
            let doomed: Vec<ZoneRecord> =
                edit.zone.owned_by(name).filter(|r| !(at_apex && r.rtype() == NS)).cloned().collect();
            for record in doomed {
                edit.remove(&record);
            }
        }
    }
    Ok(())
}
