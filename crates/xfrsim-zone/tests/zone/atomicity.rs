//! RFC 1995 §4 / RFC 5936 §6: a client that cannot apply an incremental transfer must keep
//! serving the version it had, never a mixture.

use proptest::prelude::*;
use xfrsim_zone::{Change, Diff, Serial, ZoneError, ZoneHistory};

use crate::support::*;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The diff deletes a record that was never in the zone.
    DeletesAbsentRecord,
    /// The diff deletes the same record twice (the first deletion is legitimate).
    DeletesTwice,
    /// The diff claims to start at a serial the zone is not at.
    WrongStartSerial,
    /// An earlier diff is missing from the chain (a gap).
    Gap,
    /// The diff adds a record outside the zone.
    AddsOutOfZone,
}

fn arb_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::DeletesAbsentRecord),
        Just(Fault::DeletesTwice),
        Just(Fault::WrongStartSerial),
        Just(Fault::Gap),
        Just(Fault::AddsOutOfZone),
    ]
}

/// Corrupts `chain[at]` (or the chain around it); returns the error variant expected.
fn corrupt(chain: &mut Vec<Diff>, at: usize, fault: Fault) -> fn(&ZoneError) -> bool {
    match fault {
        Fault::DeletesAbsentRecord => {
            chain[at].deleted.push(a("ghost", 300, [203, 0, 113, 66]));
            |e| matches!(e, ZoneError::DeletedRecordAbsent { .. })
        }
        Fault::DeletesTwice => {
            // Every chain diff adds a fresh `u<i>` record: delete the previous diff's twice.
            let earlier = chain[at - 1].added.iter().find(|r| r.owner_name().to_string().starts_with('u')).cloned();
            let earlier = earlier.expect("every batch adds a fresh record");
            chain[at].deleted.push(earlier.clone());
            chain[at].deleted.push(earlier);
            |e| matches!(e, ZoneError::DeletedRecordAbsent { .. })
        }
        Fault::WrongStartSerial => {
            let from = chain[at].from_serial().0;
            chain[at].old_soa = soa(from.wrapping_add(1));
            |e| matches!(e, ZoneError::DiffDoesNotStartHere { .. })
        }
        Fault::Gap => {
            // Drop a diff that has a successor, so the successor starts at the wrong serial.
            let dropped = if at + 1 < chain.len() { at } else { at - 1 };
            chain.remove(dropped);
            |e| matches!(e, ZoneError::DiffDoesNotStartHere { .. })
        }
        Fault::AddsOutOfZone => {
            chain[at].added.push(a("www.example.net.", 300, [198, 51, 100, 1]));
            |e| matches!(e, ZoneError::OutOfZone { .. })
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 64, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    /// A chain that breaks at a later diff is refused, and the zone is exactly as before:
    /// same digest, serial, records and record text. The intact chain still applies afterwards.
    #[test]
    fn failing_chain_leaves_the_zone_untouched(
        spec in arb_zone_spec(),
        batches in proptest::collection::vec(proptest::collection::vec(arb_op(), 0..4), 3..7),
        start in any::<proptest::sample::Index>(),
        at in any::<proptest::sample::Index>(),
        fault in arb_fault(),
    ) {
        let run = run_committing(&spec, &batches, 100);
        prop_assume!(run.pushed.len() >= 2);
        // Start somewhere that leaves at least two diffs, and break one after the first.
        let start = start.index(run.pushed.len() - 1);
        let good: Vec<Diff> = run.pushed[start..].to_vec();
        let at = 1 + at.index(good.len() - 1);
        let mut bad = good.clone();
        let expected_error = corrupt(&mut bad, at, fault);

        let before = run.versions[start].clone();
        let mut zone = before.clone();
        let error = zone.apply_diffs(&bad).expect_err("a broken chain is refused");
        prop_assert!(expected_error(&error), "{:?} gave {:?}", fault, error);
        assert_untouched(&zone, &before, "after a refused chain");

        // The same through a ZoneHistory: neither the zone nor the journal moves.
        let mut history = ZoneHistory::new(before.clone(), 100);
        prop_assert!(history.apply_diffs(bad).is_err());
        assert_untouched(history.zone(), &before, "history after a refused chain");
        prop_assert_eq!(history.journal().count(), 0);

        // Nothing was left half-applied: the intact chain brings the zone to the newest version.
        zone.apply_diffs(&good).expect("the intact chain applies");
        assert_same_zone(&zone, run.versions.last().unwrap(), "intact chain after the refusal");
    }
}

/// The same guarantee on a fixed example, failing on the very last diff of three, so a
/// rollback has to undo two fully applied diffs (deletions, additions and a TTL change).
#[test]
fn last_diff_failing_rolls_back_the_whole_chain() {
    let spec = ZoneSpec {
        soa: soa(41),
        records: vec![
            ns("@", 3600, "ns1"),
            ns("@", 3600, "ns2"),
            a("www", 300, [192, 0, 2, 1]),
            a("www", 300, [192, 0, 2, 2]),
            txt("www", 300, "hello"),
            mx("@", 3600, 10, "mail"),
        ]
        .into_iter()
        .chain(fillers(20))
        .collect(),
    };
    let mut history = ZoneHistory::new(spec.build(), 10);
    let before = history.zone().clone();
    let a_type = u16::from(hickory_proto::rr::RecordType::A);
    history.update(&[Change::DeleteRrset { name: dname("www"), rtype: a_type }]).unwrap();
    history.update(&[Change::Add(txt("www", 60, "hello")), Change::Add(a("new", 60, [192, 0, 2, 9]))]).unwrap();
    history.update(&[Change::DeleteRecord(ns("@", 3600, "ns2"))]).unwrap();
    let good: Vec<Diff> = history.diffs_since(Serial(41)).unwrap().cloned().collect();
    assert_eq!(good.len(), 3);

    let mut absent = good.clone();
    absent[2].deleted.push(a("www", 300, [192, 0, 2, 1])); // deleted by diff 0 already
    let mut zone = before.clone();
    assert!(matches!(zone.apply_diffs(&absent), Err(ZoneError::DeletedRecordAbsent { .. })));
    assert_untouched(&zone, &before, "absent delete in the last diff");

    let mut wrong_start = good.clone();
    wrong_start[2].old_soa = soa(7);
    let mut zone = before.clone();
    assert_eq!(
        zone.apply_diffs(&wrong_start),
        Err(ZoneError::DiffDoesNotStartHere { diff_from: Serial(7), zone_serial: Serial(43) })
    );
    assert_untouched(&zone, &before, "wrong start serial in the last diff");

    // A chain that starts at the wrong serial is refused before anything happens.
    let mut zone = before.clone();
    assert!(matches!(zone.apply_diffs(&good[1..]), Err(ZoneError::DiffDoesNotStartHere { .. })));
    assert_untouched(&zone, &before, "chain starting at the wrong version");

    let mut zone = before.clone();
    zone.apply_diffs(&good).unwrap();
    assert_same_zone(&zone, history.zone(), "intact chain");
}
