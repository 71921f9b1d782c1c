//! The explorer's own tests: the generator's properties, each canary caught within a small
//! seed budget (and the same seed passing without it), a shrunk file replaying to the same
//! failure.

use std::path::Path;

use proptest::prelude::*;
use xfrsim_engine::Canary;
use xfrsim_explore::{generate, judge, judge_loaded, load, shrink::shrink, to_ron};

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every seed's plan is the same twice, keeps its faults inside the safety phase, gives
    /// liveness at least one full refresh, and renders to a scenario the loader accepts.
    #[test]
    fn every_plan_loads_and_heals_before_liveness(seed in any::<u64>()) {
        let plan = generate(seed);
        prop_assert_eq!(&plan, &generate(seed));
        prop_assert!((3..=4).contains(&plan.profiles.len()));
        prop_assert!(!plan.enabled.is_empty());
        for fault in &plan.faults {
            prop_assert!(plan.enabled.contains(&fault.kind));
            prop_assert!(fault.at + fault.len <= plan.heal_at, "{fault} ends after the heal");
            prop_assert!(fault.a != fault.b && fault.a < plan.profiles.len() && fault.b < plan.profiles.len());
        }
        prop_assert!(plan.converge_by() >= plan.heal_at + plan.refresh.min(plan.retry));
        let loaded = load(&plan);
        prop_assert!(loaded.is_ok(), "{:?}", loaded.err());
    }
}

/// The first seed below `budget` at which `canary` is caught.
fn caught_at(canary: Canary, budget: u64) -> Option<u64> {
    (0..budget).find(|&seed| !judge(&generate(seed), Some(canary)).expect("runs").passed())
}

#[test]
fn each_canary_with_a_checker_is_caught_within_forty_seeds_and_that_seed_passes_without_it() {
    for canary in [
        Canary::IntegerSerialCompare,
        Canary::KeepExpireOnEqualSerial,
        Canary::AcceptTruncatedAxfr,
        Canary::ServeDuringTransfer,
    ] {
        let seed = caught_at(canary, 40).unwrap_or_else(|| panic!("{canary} not caught in seeds 0..40"));
        let clean = judge(&generate(seed), None).expect("runs");
        assert!(clean.passed(), "seed {seed} fails without {canary}: {:?}", clean.failures);
    }
}

#[test]
fn a_shrunk_plan_written_as_ron_replays_to_the_same_failure() {
    let canary = Some(Canary::IntegerSerialCompare);
    let seed = caught_at(Canary::IntegerSerialCompare, 40).expect("caught");
    let plan = generate(seed);
    let verdict = judge(&plan, canary).expect("runs");
    let signature = verdict.signature().expect("failed");
    let shrunk = shrink(&plan, canary, &signature);
    assert!(shrunk.faults.len() <= plan.faults.len() && shrunk.profiles.len() <= plan.profiles.len());
    // What `explore` writes, read back as `cargo xtask replay` reads a file.
    let text = to_ron(&shrunk.scenario()).expect("serialises");
    let loaded = xfrsim_scenario::parse(&text, Path::new("explore-shrunk.ron")).expect("loads");
    let replayed = judge_loaded(&loaded, canary).expect("runs");
    assert_eq!(replayed.signature().as_deref(), Some(signature.as_str()));
    // And it is the planted bug that fails it.
    assert!(judge_loaded(&loaded, None).expect("runs").passed());
}
