//! Shared builders, strategies and checks for the integration tests.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use hickory_proto::rr::rdata::{A, MX, NS, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use xfrsim_zone::{
    Change, Diff, Dname, MAX_SERIAL_INCREMENT, UpdateOutcome, Zone, ZoneHistory, ZoneRecord, soa_record,
};

pub const ORIGIN: &str = "example.com.";

pub fn origin() -> Name {
    Name::from_ascii(ORIGIN).expect("valid origin")
}

/// `@` is the apex, a name ending in `.` is absolute, anything else is relative to the origin.
pub fn name(text: &str) -> Name {
    if text == "@" {
        return origin();
    }
    let parsed = Name::from_ascii(text).expect("valid test name");
    if text.ends_with('.') { parsed } else { parsed.append_domain(&origin()).expect("short enough") }
}

/// [`name`] as the zone model's own name type (case kept).
pub fn dname(text: &str) -> Dname {
    Dname::from_hickory(&name(text))
}

/// A hickory record as a zone record (class IN, RDATA checked by the crate).
pub fn zone_record(record: &Record) -> ZoneRecord {
    ZoneRecord::from_hickory(record).unwrap_or_else(|e| panic!("test record {record} converts: {e}"))
}

/// A zone record as hickory decodes it: the independent view the tests' models reason about.
pub fn hickory(record: &ZoneRecord) -> Record {
    record.to_hickory().unwrap_or_else(|| panic!("hickory decodes the test record {record}"))
}

pub fn a(owner: &str, ttl: u32, addr: [u8; 4]) -> ZoneRecord {
    zone_record(&Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(addr)))))
}

pub fn txt(owner: &str, ttl: u32, text: &str) -> ZoneRecord {
    zone_record(&Record::from_rdata(name(owner), ttl, RData::TXT(TXT::new(vec![text.to_string()]))))
}

pub fn ns(owner: &str, ttl: u32, target: &str) -> ZoneRecord {
    zone_record(&Record::from_rdata(name(owner), ttl, RData::NS(NS(name(target)))))
}

pub fn mx(owner: &str, ttl: u32, preference: u16, exchange: &str) -> ZoneRecord {
    zone_record(&Record::from_rdata(name(owner), ttl, RData::MX(MX::new(preference, name(exchange)))))
}

/// The apex SOA with the standard test timers.
pub fn soa(serial: u32) -> ZoneRecord {
    soa_record(&origin(), serial, 7200, 900, 1_209_600)
}

/// An apex SOA whose refresh timer marks which SOA an update installed.
pub fn soa_marked(serial: u32, refresh: u32) -> ZoneRecord {
    soa_record(&origin(), serial, refresh, 900, 1_209_600)
}

/// The serial of an SOA, read by hickory (not by the crate under test).
pub fn soa_serial_of(record: &ZoneRecord) -> u32 {
    match &hickory(record).data {
        RData::SOA(soa) => soa.serial,
        other => panic!("not an SOA: {other:?}"),
    }
}

/// A record's identity as RFC 2136 §1.1.1 defines it: owner (case-insensitive), type, RDATA
/// (as hickory presents it). The TTL is deliberately not part of it.
pub type Key = (String, u16, String);

pub fn key(record: &ZoneRecord) -> Key {
    let record = hickory(record);
    (record.name.to_lowercase().to_string(), u16::from(record.record_type()), record.data.to_string())
}

/// A zone's non-SOA content as an independent model sees it: identity → TTL.
pub fn content(zone: &Zone) -> BTreeMap<Key, u32> {
    let mut map = BTreeMap::new();
    for record in zone.records() {
        assert!(map.insert(key(record), record.ttl()).is_none(), "zone holds {record} twice");
    }
    map
}

/// What a full zone transfer would put on the wire, record by record, as text: the
/// byte-for-byte view (owner case, TTL, RDATA, both SOAs).
pub fn wire_text(zone: &Zone) -> Vec<String> {
    zone.axfr_records().map(|r| r.to_string()).collect()
}

/// Asserts that two zones are the same version in every way an operator could observe.
#[track_caller]
pub fn assert_same_zone(actual: &Zone, expected: &Zone, context: &str) {
    assert_eq!(actual.serial(), expected.serial(), "{context}: serial");
    assert_eq!(actual.digest(), expected.digest(), "{context}: digest");
    assert_eq!(content(actual), content(expected), "{context}: content");
    assert!(actual == expected, "{context}: Zone::eq");
    assert_eq!(actual.len(), expected.len(), "{context}: len");
}

/// Like [`assert_same_zone`], and also the exact record text (owner case included).
#[track_caller]
pub fn assert_untouched(actual: &Zone, before: &Zone, context: &str) {
    assert_same_zone(actual, before, context);
    assert_eq!(wire_text(actual), wire_text(before), "{context}: wire text");
}

/// The zone an AXFR client builds from `zone.axfr_records()`: everything but the closing SOA.
pub fn axfr_copy(zone: &Zone) -> Zone {
    let records: Vec<ZoneRecord> = zone.axfr_records().take(zone.len()).cloned().collect();
    Zone::new(zone.origin().clone(), records).expect("an AXFR of a valid zone loads")
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

pub const OWNERS: &[&str] = &["@", "www", "mail", "ns1", "ns2", "api", "a.b", "deep.c.d"];
const TEXTS: &[&str] = &["v=spf1 -all", "hello world", "k=v; x", "Mixed Case"];
const TTLS: &[u32] = &[60, 300, 3600];
pub const TYPES: &[RecordType] = &[RecordType::A, RecordType::TXT, RecordType::NS, RecordType::MX, RecordType::SOA];

/// RDATA from a small universe, so random records collide with existing ones often.
pub fn arb_rdata() -> impl Strategy<Value = RData> {
    prop_oneof![
        4 => (1u8..=6).prop_map(|i| RData::A(A(Ipv4Addr::new(192, 0, 2, i)))),
        2 => select(TEXTS).prop_map(|t| RData::TXT(TXT::new(vec![t.to_string()]))),
        1 => (1u8..=3).prop_map(|i| RData::NS(NS(name(&format!("ns{i}"))))),
        1 => (select(&[10u16, 20][..]), select(&["mail", "mx2"][..]))
            .prop_map(|(pref, exchange)| RData::MX(MX::new(pref, name(exchange)))),
    ]
}

pub fn arb_record() -> impl Strategy<Value = ZoneRecord> {
    (select(OWNERS), select(TTLS), arb_rdata())
        .prop_map(|(owner, ttl, data)| zone_record(&Record::from_rdata(name(owner), ttl, data)))
}

/// Serials biased towards the interesting parts of the ring: the wrap at 2^32, the half-way
/// point 2^31, and small values.
pub fn arb_serial() -> BoxedStrategy<u32> {
    prop_oneof![
        3 => any::<u32>(),
        2 => (u32::MAX - 16)..=u32::MAX,
        1 => ((1u32 << 31) - 8)..=((1u32 << 31) + 8),
        1 => 0u32..16,
    ]
    .boxed()
}

/// A zone as its parts: SOA plus distinct non-SOA records (one TTL per identity).
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    pub soa: ZoneRecord,
    pub records: Vec<ZoneRecord>,
}

impl ZoneSpec {
    pub fn all_records(&self) -> Vec<ZoneRecord> {
        std::iter::once(self.soa.clone()).chain(self.records.iter().cloned()).collect()
    }

    pub fn build(&self) -> Zone {
        Zone::new(origin(), self.all_records()).expect("generated zones are valid")
    }
}

/// `count` distinct filler A records, so that a zone is large enough for its journal to keep
/// several small diffs (the journal never carries more records than the zone).
pub fn fillers(count: u8) -> Vec<ZoneRecord> {
    (0..count).map(|i| a(&format!("f{i}"), 3600, [192, 0, 2, i])).collect()
}

/// Keeps the first record of each identity.
pub fn dedup(records: Vec<ZoneRecord>) -> Vec<ZoneRecord> {
    let mut seen = BTreeSet::new();
    records.into_iter().filter(|r| seen.insert(key(r))).collect()
}

pub fn arb_zone_spec_with(serial: BoxedStrategy<u32>) -> impl Strategy<Value = ZoneSpec> {
    (serial, proptest::collection::vec(arb_record(), 12..40)).prop_map(|(serial, records)| {
        let mut records = dedup(records);
        // Every zone needs an apex NS (BIND's integrity rule, enforced by the crate).
        if !records.iter().any(|r| hickory(r).name == origin() && r.record_type() == RecordType::NS) {
            records.push(ns("@", 3600, "ns1"));
        }
        ZoneSpec { soa: soa(serial), records }
    })
}

pub fn arb_zone_spec() -> impl Strategy<Value = ZoneSpec> {
    arb_zone_spec_with(arb_serial())
}

// ---------------------------------------------------------------------------------------------
// Dynamic-update operations
// ---------------------------------------------------------------------------------------------

/// How an SOA add's serial relates to the zone's serial before the update.
#[derive(Debug, Clone, Copy)]
pub enum SoaStep {
    Forward(u32),
    Back(u32),
    Same,
    /// Exactly 2^31 away: neither newer nor older.
    HalfRing,
    Absolute(u32),
}

/// One dynamic-update operation, resolved against the zone when the batch is applied.
#[derive(Debug, Clone)]
pub enum Op {
    Add(ZoneRecord),
    /// Delete a record the zone holds (picked by index when applied).
    DeleteExisting(Index),
    /// Delete a random record, usually absent.
    DeleteRecord(ZoneRecord),
    DeleteRrset(&'static str, RecordType),
    DeleteName(&'static str),
    SoaAdd(SoaStep),
    /// Add a record outside the zone: the whole update must be refused.
    OutOfZone,
}

fn arb_soa_step() -> impl Strategy<Value = SoaStep> {
    prop_oneof![
        3 => (1u32..=1000).prop_map(SoaStep::Forward),
        2 => (1u32..=MAX_SERIAL_INCREMENT).prop_map(SoaStep::Forward),
        1 => Just(SoaStep::Forward(MAX_SERIAL_INCREMENT)),
        2 => (1u32..=1000).prop_map(SoaStep::Back),
        1 => Just(SoaStep::Same),
        1 => Just(SoaStep::HalfRing),
        1 => Just(SoaStep::Absolute(0)),
    ]
}

pub fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => arb_record().prop_map(Op::Add),
        4 => any::<Index>().prop_map(Op::DeleteExisting),
        2 => arb_record().prop_map(Op::DeleteRecord),
        2 => (select(OWNERS), select(TYPES)).prop_map(|(owner, rtype)| Op::DeleteRrset(owner, rtype)),
        1 => select(OWNERS).prop_map(Op::DeleteName),
        3 => arb_soa_step().prop_map(Op::SoaAdd),
        1 => Just(Op::OutOfZone),
    ]
}

pub fn arb_batches(batches: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(arb_op(), 0..6), batches)
}

/// Turns operations into RFC 2136 changes against `zone` (the zone before the update). SOA adds
/// carry a refresh timer of 1000 + their position, so the installed SOA can be identified.
pub fn resolve(zone: &Zone, ops: &[Op]) -> Vec<Change> {
    let existing: Vec<ZoneRecord> = zone.records().cloned().collect();
    let old = zone.serial().0;
    ops.iter()
        .enumerate()
        .map(|(position, op)| match op {
            Op::Add(record) => Change::Add(record.clone()),
            Op::DeleteExisting(_) if existing.is_empty() => Change::DeleteRecord(a("nobody", 60, [203, 0, 113, 1])),
            Op::DeleteExisting(index) => Change::DeleteRecord(existing[index.index(existing.len())].clone()),
            Op::DeleteRecord(record) => Change::DeleteRecord(record.clone()),
            Op::DeleteRrset(owner, rtype) => Change::DeleteRrset { name: dname(owner), rtype: u16::from(*rtype) },
            Op::DeleteName(owner) => Change::DeleteName(dname(owner)),
            Op::SoaAdd(step) => {
                let serial = match *step {
                    SoaStep::Forward(d) => old.wrapping_add(d),
                    SoaStep::Back(d) => old.wrapping_sub(d),
                    SoaStep::Same => old,
                    SoaStep::HalfRing => old.wrapping_add(1 << 31),
                    SoaStep::Absolute(s) => s,
                };
                let marker = 1000 + u32::try_from(position).expect("small batch");
                Change::Add(soa_marked(serial, marker))
            }
            Op::OutOfZone => Change::Add(a("www.example.org.", 300, [198, 51, 100, 9])),
        })
        .collect()
}

/// A sequence of committed versions and the diff the journal received for each commit.
pub struct Run {
    /// `versions[0]` is the starting zone; `versions[i + 1]` is the zone after commit `i`.
    pub versions: Vec<Zone>,
    /// `pushed[i]` turns `versions[i]` into `versions[i + 1]`.
    pub pushed: Vec<Diff>,
}

/// Applies every batch, keeping a snapshot after each committed update. Each batch also adds
/// one record no other batch adds, so every batch without an out-of-zone change commits.
pub fn run_committing(spec: &ZoneSpec, batches: &[Vec<Op>], max_diffs: usize) -> Run {
    let mut history = ZoneHistory::new(spec.build(), max_diffs);
    let mut versions = vec![history.zone().clone()];
    let mut pushed = Vec::new();
    for (i, ops) in batches.iter().enumerate() {
        let mut changes = resolve(history.zone(), ops);
        let octet = u8::try_from(i % 250).expect("fits");
        changes.push(Change::Add(a(&format!("u{i}"), 300, [198, 51, 100, octet])));
        match history.update(&changes) {
            Ok(UpdateOutcome::Committed { .. }) => {
                versions.push(history.zone().clone());
                pushed.push(history.journal().last().expect("a commit is journaled").clone());
            }
            Ok(UpdateOutcome::Unchanged) => panic!("a batch adding a fresh record must commit"),
            Err(_) => {}
        }
    }
    Run { versions, pushed }
}
