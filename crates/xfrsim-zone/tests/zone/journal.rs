//! Dynamic updates (RFC 2136) and the IXFR journal (RFC 1995): every retained version can be
//! brought up to date by IXFR, and IXFR and AXFR end in the same zone.

use std::collections::BTreeMap;

use hickory_proto::rr::{Name, RData, RecordType};
use proptest::prelude::*;
use xfrsim_zone::{Change, Diff, Serial, UpdateOutcome, Zone, ZoneError, ZoneHistory, ZoneRecord};

use crate::support::*;

/// What RFC 2136 §3.4.2 says an update must do to a zone, computed without the crate.
#[derive(Debug)]
enum Expected {
    /// An operation names something outside the zone: the whole update is refused.
    Refused,
    /// Nothing changes, so the serial must not move (RFC 2136 §3.6).
    Unchanged,
    /// A new version with this SOA (boxed: it dwarfs the other variants) and this content.
    Committed { soa: Box<ZoneRecord>, content: BTreeMap<Key, u32> },
}

fn lower(name: &Name) -> String {
    name.to_lowercase().to_string()
}

fn expected_update(zone: &Zone, changes: &[Change]) -> Expected {
    let apex = origin();
    let apex_key = lower(&apex);
    let ns = u16::from(RecordType::NS);
    let soa_type = u16::from(RecordType::SOA);
    let old = zone.serial();
    let before = content(zone);
    let mut content = before.clone();
    // The SOA as the update goes along: RFC 2136 §3.4.2.2 compares an SOA add against the
    // zone's *current* SOA, which an earlier SOA add in the same update may have replaced; and
    // since sequence space is not transitive, it must also be newer than the serial the update
    // started from, or a chain of "newer" SOAs could end behind it.
    let mut pending: Option<ZoneRecord> = None;
    for change in changes {
        // Names as hickory sees them, so the model does not borrow the crate's name logic.
        let owner = match change {
            Change::Add(r) | Change::DeleteRecord(r) => hickory(r).name,
            Change::DeleteRrset { name, .. } | Change::DeleteName(name) => name.to_hickory(),
        };
        let owner = &owner;
        if !apex.zone_of(owner) {
            return Expected::Refused;
        }
        let at_apex = lower(owner) == apex_key;
        match change {
            Change::Add(r) if r.record_type() == RecordType::SOA => {
                let current = pending.as_ref().map_or(old, |p| Serial(soa_serial_of(p)));
                let requested = Serial(soa_serial_of(r));
                if at_apex && requested.is_newer_than(current) && requested.is_newer_than(old) {
                    pending = Some(r.clone());
                }
            }
            Change::Add(r) => {
                content.insert(key(r), r.ttl());
            }
            Change::DeleteRecord(r) => {
                let apex_ns = content.keys().filter(|k| k.0 == apex_key && k.1 == ns).count();
                let protected = r.record_type() == RecordType::SOA
                    || (r.record_type() == RecordType::NS && at_apex && apex_ns <= 1);
                if !protected {
                    content.remove(&key(r));
                }
            }
            Change::DeleteRrset { rtype, .. } => {
                if !(at_apex && (*rtype == soa_type || *rtype == ns)) {
                    let (owner, rtype) = (lower(owner), *rtype);
                    content.retain(|k, _| !(k.0 == owner && k.1 == rtype));
                }
            }
            Change::DeleteName(_) => {
                let owner = lower(owner);
                content.retain(|k, _| !(k.0 == owner && !(at_apex && k.1 == ns)));
            }
        }
    }
    if content == before && pending.is_none() {
        return Expected::Unchanged;
    }
    // RFC 2136 §3.6 / §7.11: the serial moves forward, and never to 0.
    let mut soa = pending.unwrap_or_else(|| zone.soa_record().clone());
    let requested = Serial(soa_serial_of(&soa));
    if requested.0 == 0 || !requested.is_newer_than(old) {
        let mut record = hickory(&soa);
        let RData::SOA(rdata) = &mut record.data else { panic!("an SOA") };
        rdata.serial = old.next().0;
        soa = zone_record(&record);
    }
    Expected::Committed { soa: Box::new(soa), content }
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 64, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// Random zones, random update batches: each update does what RFC 2136 says, serials only
    /// move forward, and afterwards every retained journal version is brought exactly to the
    /// newest zone by IXFR, which also matches what an AXFR client would build.
    #[test]
    fn journal_brings_every_retained_version_to_the_newest_zone(
        spec in arb_zone_spec(),
        batches in arb_batches(1..14),
        max_diffs in 1usize..12,
    ) {
        let mut history = ZoneHistory::new(spec.build(), max_diffs);
        let mut versions = vec![history.zone().clone()];
        let mut pushed: Vec<Diff> = Vec::new();

        for ops in &batches {
            let before = history.zone().clone();
            let journal_before: Vec<Diff> = history.journal().cloned().collect();
            let changes = resolve(&before, ops);
            let expected = expected_update(&before, &changes);
            let outcome = history.update(&changes);
            match (expected, outcome) {
                (Expected::Refused, Err(ZoneError::OutOfZone { .. })) => {
                    assert_untouched(history.zone(), &before, "refused update");
                    prop_assert_eq!(history.journal().cloned().collect::<Vec<_>>(), journal_before);
                }
                (Expected::Unchanged, Ok(UpdateOutcome::Unchanged)) => {
                    assert_same_zone(history.zone(), &before, "no-op update");
                    prop_assert_eq!(history.journal().cloned().collect::<Vec<_>>(), journal_before);
                }
                (Expected::Committed { soa, content: want }, Ok(UpdateOutcome::Committed { serial })) => {
                    let zone = history.zone();
                    prop_assert_eq!(serial, zone.serial());
                    prop_assert!(serial.is_newer_than(before.serial()), "{} after {}", serial, before.serial());
                    prop_assert_ne!(serial.0, 0, "serial 0 published");
                    prop_assert_eq!(zone.soa_record().to_string(), soa.to_string());
                    prop_assert_eq!(&content(zone), &want);
                    // The journal gained exactly the minimal diff between the two versions.
                    let diff = history.journal().last().expect("a commit is journaled").clone();
                    prop_assert_eq!(&diff, &Diff::between(&before, zone));
                    versions.push(zone.clone());
                    pushed.push(diff);
                }
                (expected, outcome) => {
                    prop_assert!(false, "changes {:?}: expected {:?}, got {:?}", changes, expected, outcome);
                }
            }
        }

        let newest = history.zone();
        let journal: Vec<Diff> = history.journal().cloned().collect();
        let (n, k) = (pushed.len(), journal.len());

        // The journal is the newest k diffs, contiguous, within its size limits.
        prop_assert!(k <= max_diffs && k <= n);
        prop_assert_eq!(&journal[..], &pushed[n - k..]);
        for pair in journal.windows(2) {
            prop_assert_eq!(pair[0].to_serial(), pair[1].from_serial());
        }
        if let Some(last) = journal.last() {
            prop_assert_eq!(last.to_serial(), newest.serial());
        }
        let carried: usize = journal.iter().map(Diff::wire_records).sum();
        prop_assert!(k <= 1 || carried <= newest.len(), "journal carries {} records for a {}-record zone", carried, newest.len());
        prop_assert_eq!(history.oldest_retained(), journal.first().map(Diff::from_serial));

        // Every retained version, brought forward by IXFR, is the newest zone.
        let retained = &versions[n - k..];
        for (j, old) in retained[..k].iter().enumerate() {
            prop_assert_eq!(old.serial(), journal[j].from_serial());
            let mut copy = old.clone();
            copy.apply_diffs(&journal[j..]).expect("a retained chain applies");
            assert_same_zone(&copy, newest, "retained version + its journal suffix");

            // Looking the version up by serial finds the same chain, unless a later version
            // reused the serial (then the serial names the later version).
            if retained[j + 1..].iter().all(|later| later.serial() != old.serial()) {
                let chain: Vec<&Diff> = history.diffs_since(old.serial()).expect("retained serial found").collect();
                prop_assert_eq!(chain.len(), k - j);
                let mut copy = old.clone();
                copy.apply_diffs(chain).expect("diffs_since chain applies");
                assert_same_zone(&copy, newest, "IXFR from a retained serial");
            }
        }
        // An up-to-date client needs nothing; a purged version cannot be served incrementally.
        prop_assert!(history.diffs_since(newest.serial()).is_none());
        for old in &versions[..n - k] {
            if retained.iter().all(|r| r.serial() != old.serial()) {
                prop_assert!(history.diffs_since(old.serial()).is_none(), "purged serial {} still served", old.serial());
            }
        }

        // AXFR path and IXFR path agree.
        let axfr = axfr_copy(newest);
        assert_same_zone(&axfr, newest, "AXFR copy");
        if k > 0 {
            let mut ixfr = retained[0].clone();
            ixfr.apply_diffs(&journal).expect("whole journal applies");
            prop_assert_eq!(ixfr.digest(), axfr.digest());
        }
        // The whole history, diff by diff, from the very first version.
        let mut replay = versions[0].clone();
        replay.apply_diffs(&pushed).expect("every committed diff applies in order");
        assert_same_zone(&replay, newest, "replay of every commit");
    }
}

fn small_zone(serial: u32) -> Zone {
    let mut records = vec![
        soa(serial),
        ns("@", 3600, "ns1"),
        a("ns1", 3600, [192, 0, 2, 1]),
        a("www", 300, [192, 0, 2, 80]),
        txt("www", 300, "hello"),
        mx("@", 3600, 10, "mail"),
        a("mail", 3600, [192, 0, 2, 25]),
    ];
    records.extend(fillers(30));
    Zone::new(origin(), records).unwrap()
}

#[track_caller]
fn assert_unchanged(history: &mut ZoneHistory, changes: Vec<Change>, what: &str) {
    let before = history.zone().clone();
    let journal = history.journal().count();
    assert_eq!(history.update(&changes), Ok(UpdateOutcome::Unchanged), "{what}");
    assert_untouched(history.zone(), &before, what);
    assert_eq!(history.journal().count(), journal, "{what}: journal grew");
}

/// Updates that change nothing keep the serial, so secondaries are not made to transfer.
#[test]
fn updates_that_change_nothing_keep_the_serial() {
    let mut history = ZoneHistory::new(small_zone(100), 10);
    assert_unchanged(&mut history, vec![], "empty update");
    assert_unchanged(&mut history, vec![Change::DeleteRecord(a("www", 300, [192, 0, 2, 99]))], "delete absent record");
    assert_unchanged(
        &mut history,
        vec![Change::DeleteRecord(a("nope", 300, [192, 0, 2, 80]))],
        "delete at absent name",
    );
    assert_unchanged(&mut history, vec![Change::Add(a("www", 300, [192, 0, 2, 80]))], "re-add identical record");
    assert_unchanged(&mut history, vec![Change::DeleteRecord(ns("@", 3600, "ns1"))], "delete the last apex NS");
    assert_unchanged(
        &mut history,
        vec![Change::DeleteRrset { name: dname("@"), rtype: u16::from(RecordType::NS) }],
        "delete apex NS set",
    );
    assert_unchanged(
        &mut history,
        vec![Change::DeleteRrset { name: dname("@"), rtype: u16::from(RecordType::SOA) }],
        "delete SOA set",
    );
    assert_unchanged(&mut history, vec![Change::DeleteRecord(soa(100))], "delete the SOA");
    assert_unchanged(
        &mut history,
        vec![Change::DeleteRrset { name: dname("www"), rtype: u16::from(RecordType::AAAA) }],
        "delete absent set",
    );
    assert_unchanged(&mut history, vec![Change::DeleteName(dname("nothing.here"))], "delete absent name");
    assert_unchanged(&mut history, vec![Change::Add(soa_marked(99, 1))], "SOA add with an older serial");
    assert_unchanged(&mut history, vec![Change::Add(soa_marked(100, 1))], "SOA add with the same serial");
    assert_unchanged(&mut history, vec![Change::Add(soa_marked(100 + (1 << 31), 1))], "SOA add 2^31 away");
    let fresh = a("fresh", 60, [192, 0, 2, 7]);
    assert_unchanged(&mut history, vec![Change::Add(fresh.clone()), Change::DeleteRecord(fresh)], "add then delete");
    assert_eq!(history.zone().serial(), Serial(100));
    assert_eq!(history.journal().count(), 0);

    // A TTL change is a change.
    let outcome = history.update(&[Change::Add(a("www", 600, [192, 0, 2, 80]))]).unwrap();
    assert_eq!(outcome, UpdateOutcome::Committed { serial: Serial(101) });
}

/// Automatic increments wrap past 2^32 - 1 to 1, never publishing 0.
#[test]
fn automatic_increment_wraps_to_one() {
    let mut history = ZoneHistory::new(small_zone(u32::MAX - 1), 10);
    let mut serials = Vec::new();
    for i in 0..3u8 {
        match history.update(&[Change::Add(a("w", 60, [192, 0, 2, i]))]).unwrap() {
            UpdateOutcome::Committed { serial } => serials.push(serial.0),
            UpdateOutcome::Unchanged => panic!("adding a record changes the zone"),
        }
    }
    assert_eq!(serials, vec![u32::MAX, 1, 2]);
}

/// RFC 2136 §3.4.2.2: an SOA add is compared with the zone's current SOA, including one an
/// earlier SOA add in the same update installed; a lower one after a higher one is ignored.
#[test]
fn later_lower_soa_add_in_the_same_update_is_ignored() {
    let mut history = ZoneHistory::new(small_zone(100), 10);
    let outcome = history.update(&[Change::Add(soa_marked(110, 1110)), Change::Add(soa_marked(105, 1105))]).unwrap();
    assert_eq!(outcome, UpdateOutcome::Committed { serial: Serial(110) });
    assert_eq!(history.zone().soa().refresh, 1110, "the SOA of the higher serial stays");

    // A higher one after a lower one wins.
    let outcome = history.update(&[Change::Add(soa_marked(120, 1120)), Change::Add(soa_marked(125, 1125))]).unwrap();
    assert_eq!(outcome, UpdateOutcome::Committed { serial: Serial(125) });
    assert_eq!(history.zone().soa().refresh, 1125);
}

/// Sequence space is not transitive: from serial 0, 2^30 is newer, and 2^31 + 2^29 is newer
/// than 2^30, yet *older* than 0. An update carrying both SOAs must not end behind where it
/// started (secondaries at 0 would never transfer it).
#[test]
fn soa_adds_never_chain_behind_the_starting_serial() {
    let mut history = ZoneHistory::new(small_zone(0), 10);
    let (first, second) = (1u32 << 30, (1u32 << 31) + (1 << 29));
    assert!(Serial(first).is_newer_than(Serial(0)));
    assert!(Serial(second).is_newer_than(Serial(first)));
    assert!(Serial(second).is_older_than(Serial(0)));
    let outcome =
        history.update(&[Change::Add(soa_marked(first, 1001)), Change::Add(soa_marked(second, 1002))]).unwrap();
    assert_eq!(outcome, UpdateOutcome::Committed { serial: Serial(first) });
    assert_eq!(history.zone().soa().refresh, 1001);
}

/// An explicit SOA whose serial is 0 must not publish serial 0 (RFC 2136 §7.11, RFC 1982 §7),
/// even when 0 is "newer" than the current serial.
#[test]
fn explicit_serial_zero_is_never_published() {
    let old = u32::MAX - 10;
    assert!(Serial(0).is_newer_than(Serial(old)));
    let mut history = ZoneHistory::new(small_zone(old), 10);
    let outcome = history.update(&[Change::Add(soa_marked(0, 4242))]).unwrap();
    let UpdateOutcome::Committed { serial } = outcome else { panic!("an SOA change commits") };
    assert_ne!(serial.0, 0);
    assert!(serial.is_newer_than(Serial(old)));
    assert_eq!(history.zone().serial(), serial);
    assert_eq!(history.zone().soa().refresh, 4242, "the rest of the requested SOA is kept");
}

/// After a serial reset (two maximal steps, RFC 1982 §7) the serial can come back to a value
/// the journal still holds. A client holding that serial holds the *latest* version with it,
/// so IXFR must start there, not at the older version that happened to share the number.
#[test]
fn reused_serial_is_served_from_its_latest_version() {
    let start = 1000u32;
    let mut history = ZoneHistory::new(small_zone(start), 100);
    let mut versions = vec![history.zone().clone()];
    let steps = [
        start.wrapping_add(xfrsim_zone::MAX_SERIAL_INCREMENT),
        start.wrapping_add(xfrsim_zone::MAX_SERIAL_INCREMENT).wrapping_add(xfrsim_zone::MAX_SERIAL_INCREMENT),
        start.wrapping_sub(1),
        start,
        start + 1,
    ];
    for (i, serial) in steps.into_iter().enumerate() {
        let octet = u8::try_from(i + 10).unwrap();
        let outcome = history
            .update(&[Change::Add(soa_marked(serial, 7200)), Change::Add(a(&format!("r{i}"), 60, [192, 0, 2, octet]))])
            .unwrap();
        assert_eq!(outcome, UpdateOutcome::Committed { serial: Serial(serial) });
        versions.push(history.zone().clone());
    }
    assert_eq!(history.journal().count(), steps.len(), "nothing purged in this test");
    // While the zone was back at `start` (versions[4]), a client at `start` was up to date;
    // rebuild that moment and check nothing is offered.
    let mut at_reuse = ZoneHistory::new(versions[0].clone(), 100);
    at_reuse.apply_diffs(history.journal().take(4).cloned().collect()).unwrap();
    assert_eq!(at_reuse.zone().serial(), Serial(start));
    assert!(at_reuse.diffs_since(Serial(start)).is_none(), "an up-to-date client is offered a stale chain");

    let newest = history.zone().clone();
    // versions[0] and versions[4] both have serial `start`; versions[4] is the latest.
    assert_eq!(versions[4].serial(), Serial(start));
    let chain: Vec<&Diff> = history.diffs_since(Serial(start)).expect("serial is in the journal").collect();
    assert_eq!(chain.len(), 1, "IXFR from {start} must be the one diff from the latest version with it");
    let mut copy = versions[4].clone();
    copy.apply_diffs(chain).expect("the diff applies to the latest version with that serial");
    assert_same_zone(&copy, &newest, "IXFR from a reused serial");
}

/// `replace` (AXFR, reload): a newer zone extends the journal; an older one drops it.
#[test]
fn replace_extends_or_drops_the_journal() {
    let first = small_zone(100);
    let mut history = ZoneHistory::new(first.clone(), 10);
    let mut second_records: Vec<ZoneRecord> = first.axfr_records().skip(1).take(first.len() - 1).cloned().collect();
    second_records.push(soa(200));
    second_records.push(a("new", 60, [192, 0, 2, 200]));
    second_records.retain(|r| r.owner_name() != dname("www"));
    let second = Zone::new(origin(), second_records).unwrap();

    history.replace(second.clone());
    let mut copy = first.clone();
    copy.apply_diffs(history.diffs_since(Serial(100)).expect("journal reaches 100")).unwrap();
    assert_same_zone(&copy, &second, "IXFR after a reload");

    history.replace(small_zone(150));
    assert_eq!(history.journal().count(), 0, "an older zone breaks the history");
    assert!(history.diffs_since(Serial(100)).is_none());
    assert!(history.diffs_since(Serial(200)).is_none());
}

/// The journal never carries more records than the zone itself (beyond its newest diff): past
/// that, AXFR is cheaper, so old versions are purged and fall back to AXFR.
#[test]
fn journal_never_outgrows_the_zone() {
    let base = vec![soa(10), ns("@", 3600, "ns1"), a("a", 60, [192, 0, 2, 1]), a("b", 60, [192, 0, 2, 2])];
    let mut history = ZoneHistory::new(Zone::new(origin(), base).unwrap(), 100);
    // Each update swaps the two A records' addresses: 2 deleted + 2 added + 2 SOAs on the wire,
    // more than the 4-record zone.
    for (i, (x, y)) in [(3, 4), (5, 6), (7, 8)].into_iter().enumerate() {
        let zone = history.zone().clone();
        let mut changes: Vec<Change> =
            zone.records().filter(|r| r.record_type() == RecordType::A).cloned().map(Change::DeleteRecord).collect();
        changes.push(Change::Add(a("a", 60, [192, 0, 2, x])));
        changes.push(Change::Add(a("b", 60, [192, 0, 2, y])));
        history.update(&changes).unwrap();
        let carried: usize = history.journal().map(Diff::wire_records).sum();
        assert_eq!(history.journal().count(), 1, "after update {i}: {carried} records journaled for a 4-record zone");
        assert_eq!(history.oldest_retained(), Some(zone.serial()));
        assert!(history.diffs_since(Serial(10)).is_none() || i == 0, "purged version still offered IXFR");
    }
}

/// A journal limited to no versions never offers IXFR.
#[test]
fn zero_length_journal_never_offers_ixfr() {
    let mut history = ZoneHistory::new(small_zone(100), 0);
    history.update(&[Change::Add(a("x", 60, [192, 0, 2, 3]))]).unwrap();
    assert_eq!(history.zone().serial(), Serial(101));
    assert_eq!(history.journal().count(), 0);
    assert!(history.diffs_since(Serial(100)).is_none());
}

/// Diffs received by IXFR are applied and journaled, so this server can serve them on.
#[test]
fn applied_diffs_are_journaled_for_downstream() {
    let mut upstream = ZoneHistory::new(small_zone(100), 10);
    upstream.update(&[Change::Add(a("x", 60, [192, 0, 2, 3]))]).unwrap();
    upstream.update(&[Change::DeleteName(dname("www"))]).unwrap();
    let diffs: Vec<Diff> = upstream.diffs_since(Serial(100)).unwrap().cloned().collect();

    let mut downstream = ZoneHistory::new(small_zone(100), 10);
    downstream.apply_diffs(diffs.clone()).unwrap();
    assert_same_zone(downstream.zone(), upstream.zone(), "secondary after IXFR");
    let served: Vec<Diff> = downstream.diffs_since(Serial(100)).unwrap().cloned().collect();
    assert_eq!(served, diffs);
}
