//! The interop checks under `cargo test`, one test per check (`interop <peer> <check>`).
//!
//! A check whose peer is not installed is skipped with a message naming the Debian packages to
//! install — unless `CI` is set, where a missing peer fails the check: CI must run them all.

use std::collections::BTreeMap;

use libtest_mimic::{Arguments, Failed, Trial};
use xfrsim_interop::{CheckFailure, all_checks};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn main() {
    let args = Arguments::from_args();
    let ci = in_ci();
    let mut skipped: BTreeMap<Vec<&'static str>, usize> = BTreeMap::new();
    let trials = all_checks()
        .into_iter()
        .map(|check| {
            let name = format!("interop {} {}", check.peer_name(), check.name);
            let missing = check.missing_packages();
            let kind = if missing.is_empty() { String::new() } else { format!("needs {}", missing.join(" ")) };
            let skip = !missing.is_empty() && !ci;
            if skip {
                *skipped.entry(missing).or_default() += 1;
            }
            // A skipped check run anyway (`--include-ignored`) fails: it never passes unrun.
            Trial::test(name, move || match check.run() {
                Ok(()) => Ok(()),
                Err(failure @ CheckFailure::NotInstalled { .. }) => Err(Failed::from(failure.why())),
                Err(failure) => Err(Failed::from(format!("{}\n{}", failure.why(), failure.details()))),
            })
            .with_kind(kind)
            .with_ignored_flag(skip)
        })
        .collect::<Vec<_>>();
    for (packages, count) in &skipped {
        let packages = packages.join(" ");
        eprintln!(
            "interop: skipping {count} check(s): not installed; to run them: apt-get install {packages} \
             (with CI set they fail instead)"
        );
    }
    libtest_mimic::run(&args, trials).exit();
}
