//! `Diff::between` is what a primary with `ixfr-from-differences` serves after a reload: it must
//! turn the old version into exactly the new one, and carry nothing that did not change.

use std::collections::BTreeSet;

use proptest::prelude::*;
use xfrsim_zone::{Diff, MAX_SERIAL_INCREMENT, Zone, ZoneRecord};

use crate::support::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 64, ..ProptestConfig::default() }
}

fn keyed_with_ttl(records: &[ZoneRecord]) -> BTreeSet<(Key, u32)> {
    records.iter().map(|r| (key(r), r.ttl())).collect()
}

fn zone_keyed_with_ttl(zone: &Zone) -> BTreeSet<(Key, u32)> {
    content(zone).into_iter().collect()
}

proptest! {
    #![proptest_config(config())]

    /// Two random versions of example.com (records drawn from one small universe, so they
    /// overlap): the diff applied to the old version gives the new one, and is minimal.
    #[test]
    fn between_applied_to_old_gives_new(
        old_spec in arb_zone_spec(),
        new_spec in arb_zone_spec(),
        step in prop_oneof![1u32..100, 1..=MAX_SERIAL_INCREMENT],
    ) {
        let old = old_spec.build();
        let mut new_spec = new_spec;
        new_spec.soa = soa(soa_serial_of(&old_spec.soa).wrapping_add(step));
        let new = new_spec.build();
        prop_assert!(new.serial().is_newer_than(old.serial()));

        let diff = Diff::between(&old, &new);
        prop_assert_eq!(diff.from_serial(), old.serial());
        prop_assert_eq!(diff.to_serial(), new.serial());
        prop_assert_eq!(diff.wire_records(), diff.deleted.len() + diff.added.len() + 2);

        let mut zone = old.clone();
        zone.apply_diffs([&diff]).expect("the diff applies to the old version");
        assert_same_zone(&zone, &new, "old + between(old, new)");
        prop_assert_eq!(wire_text(&zone).len(), wire_text(&new).len());

        // Minimal: it deletes only what the old version had and the new one lacks (TTL
        // included), and adds only what the new one has and the old one lacked.
        let (old_set, new_set) = (zone_keyed_with_ttl(&old), zone_keyed_with_ttl(&new));
        let deleted = keyed_with_ttl(&diff.deleted);
        let added = keyed_with_ttl(&diff.added);
        prop_assert_eq!(deleted.len(), diff.deleted.len(), "a record deleted twice");
        prop_assert_eq!(added.len(), diff.added.len(), "a record added twice");
        let expected_deleted: BTreeSet<_> = old_set.difference(&new_set).cloned().collect();
        let expected_added: BTreeSet<_> = new_set.difference(&old_set).cloned().collect();
        prop_assert_eq!(deleted, expected_deleted);
        prop_assert_eq!(added, expected_added);
    }

    /// The diff of a version against itself carries no records.
    #[test]
    fn between_identical_versions_is_empty(spec in arb_zone_spec()) {
        let zone = spec.build();
        let diff = Diff::between(&zone, &zone.clone());
        prop_assert!(diff.deleted.is_empty() && diff.added.is_empty());
        prop_assert_eq!(diff.wire_records(), 2);
    }
}
