//! Random fault schedules against a primary, a secondary and a chained secondary: whatever
//! happens, a secondary only ever serves a version the primary really held (never a partial or
//! mixed one), and once faults stop every copy converges to the primary's.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use xfrsim_engine::{Command, Time, ZoneStatus};
use xfrsim_zone::{Change, ZoneDigest};

use crate::net::{Net, addr, ip};
use crate::support::*;

#[derive(Debug, Clone)]
enum Fault {
    Isolate(u8),
    Heal(u8),
    Update(u8),
    Rollback,
    CutTransfers(u8),
    StopCutting,
    Refresh(u8),
}

fn fault() -> impl Strategy<Value = Fault> {
    let node = prop::sample::select(vec![1u8, 2, 3]);
    prop_oneof![
        node.clone().prop_map(Fault::Isolate),
        node.clone().prop_map(Fault::Heal),
        any::<u8>().prop_map(Fault::Update),
        Just(Fault::Rollback),
        (0u8..3).prop_map(Fault::CutTransfers),
        Just(Fault::StopCutting),
        prop::sample::select(vec![2u8, 3]).prop_map(Fault::Refresh),
    ]
}

fn schedule() -> impl Strategy<Value = Vec<(u64, Fault)>> {
    prop::collection::vec((0u64..3 * DAY, fault()), 0..25).prop_map(|mut v| {
        v.sort_by_key(|(t, _)| *t);
        v
    })
}

fn digest(net: &mut Net, last: u8) -> Option<ZoneDigest> {
    match net.node(ip(last)).zone_status(&origin()) {
        Some(ZoneStatus::Serving { digest, .. }) => Some(digest),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn secondaries_serve_only_real_versions_and_converge(seed in any::<u64>(), faults in schedule()) {
        let mut net = Net::new();
        // 300 hosts are about 32 KB of records: two messages of BIND's transfer-message-size
        // (20480 bytes uncompressed), so cutting after 0, 1 or 2 messages stops a full
        // transfer before its first message, in the middle, or not at all.
        let big = zone(100, 300);
        prop_assert!((TRANSFER_MESSAGE_SIZE..2 * TRANSFER_MESSAGE_SIZE).contains(&axfr_bytes(&big)));
        let mut p = primary(big, vec![addr(2)]);
        p.journal_max_diffs = 3;
        net.add(node("p", 1, vec![p]), seed);
        let mut mid = secondary(vec![addr(9), addr(1)]);
        mid.notify = vec![addr(3)];
        net.add(node("s", 2, vec![mid]), seed ^ 1);
        net.add(node("leaf", 3, vec![secondary(vec![addr(2), addr(1)])]), seed ^ 2);
        let mut held: BTreeSet<ZoneDigest> = BTreeSet::new();
        held.insert(digest(&mut net, 1).unwrap());
        // Serial → content of every version the primary held. A rollback followed by enough
        // updates gives an old serial new content; a copy holding the old one then looks in
        // sync (equal serials, RFC 1982) and rightly never transfers: no convergence to check.
        let mut versions: BTreeMap<u32, BTreeSet<ZoneDigest>> = BTreeMap::new();
        if let Some(ZoneStatus::Serving { serial, digest }) = net.node(ip(1)).zone_status(&origin()) {
            versions.entry(serial.0).or_default().insert(digest);
        }
        let mut serial = 100u32;
        let mut cutting: Option<u8> = None;

        let check = |net: &mut Net, held: &BTreeSet<ZoneDigest>| -> Result<(), TestCaseError> {
            for last in [2u8, 3] {
                if let Some(d) = digest(net, last) {
                    prop_assert!(held.contains(&d), "node {} serves {} which the primary never held\n{}", last, d, net.dump());
                }
            }
            Ok(())
        };

        for (at, fault) in faults {
            // Run to the fault time in steps, checking the invariant along the way.
            while net.now < Time::from_secs(at) {
                let step = Time::from_secs(at).saturating_since(net.now).min(secs(HOUR));
                net.run_for(step);
                check(&mut net, &held)?;
            }
            match fault {
                Fault::Isolate(n) => net.isolate(ip(n)),
                Fault::Heal(n) => net.heal(ip(n)),
                Fault::Update(v) => {
                    let change = Change::Add(a_record(&format!("u{v}"), v));
                    net.command(ip(1), Command::Update { zone: origin(), changes: vec![change] }).unwrap();
                }
                Fault::Rollback => {
                    serial = serial.wrapping_sub(7).max(1);
                    net.command(ip(1), Command::Reload { zone: Box::new(zone(serial, 290)) }).unwrap();
                }
                Fault::CutTransfers(after) => {
                    net.cut_transfers_from(ip(1), usize::from(after));
                    net.cut_transfers_from(ip(2), usize::from(after));
                    cutting = Some(after);
                }
                Fault::StopCutting => {
                    net.stop_cutting(ip(1));
                    net.stop_cutting(ip(2));
                    cutting = None;
                }
                Fault::Refresh(n) => net.command(ip(n), Command::Refresh { zone: origin() }).unwrap(),
            }
            held.insert(digest(&mut net, 1).unwrap());
            if let Some(ZoneStatus::Serving { serial, digest }) = net.node(ip(1)).zone_status(&origin()) {
                versions.entry(serial.0).or_default().insert(digest);
            }
            check(&mut net, &held)?;
        }
        // Faults end. A rolled-back primary is only followed after expiry (1 day), so allow
        // two expiry periods for every copy to converge.
        for n in [1u8, 2, 3] {
            net.heal(ip(n));
        }
        if cutting.is_some() {
            net.stop_cutting(ip(1));
            net.stop_cutting(ip(2));
        }
        for _ in 0..(3 * DAY / HOUR) {
            net.run_for(secs(HOUR));
            check(&mut net, &held)?;
        }
        if versions.values().any(|contents| contents.len() > 1) {
            return Ok(());
        }
        let primary = digest(&mut net, 1);
        prop_assert_eq!(digest(&mut net, 2), primary, "secondary did not converge\n{}", net.dump());
        prop_assert_eq!(digest(&mut net, 3), primary, "leaf did not converge\n{}", net.dump());
    }
}
