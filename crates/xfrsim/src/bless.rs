//! `cargo xtask bless`: writes the timeline snapshots that `crates/xfrsim-sim/tests/scenarios.rs`
//! compares, for scenarios that meet their expectations — never for one that does not, so a
//! snapshot always records a run that passed.
//!
//! The snapshot is written as insta writes it (a metadata header, then the timeline and its
//! digest), so `cargo test` reads it as its own; the test's seeds are repeated here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use xfrsim_scenario::{DEFAULT_SEED, LoadedScenario};
use xfrsim_sim::RunOptions;

use crate::{Invocation, shown};

/// The seeds the snapshot test checks a scenario's expectations with, from its own seed (see
/// `scenario_test` in crates/xfrsim-sim/tests/scenarios.rs).
fn test_seeds(seed: u64) -> [u64; 3] {
    [seed, seed.wrapping_add(1), seed.wrapping_add(2)]
}

pub fn bless(context: &Invocation, targets: &[PathBuf]) -> Result<ExitCode> {
    let files = crate::targets::scenario_files(context, targets)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files found");
    }
    let scenarios_dir =
        crate::targets::scenarios_dir(context, "bless writes the snapshots of a checkout's scenarios, and")?;
    let mut refused = 0;
    for file in &files {
        // The snapshot test covers scenarios/ only: a snapshot for a file elsewhere would never
        // be compared.
        let canonical = file.canonicalize().with_context(|| format!("{}", file.display()))?;
        if canonical.parent() != Some(scenarios_dir.canonicalize()?.as_path()) {
            anyhow::bail!("{}: only files in scenarios/ have snapshots", shown(file));
        }
        if !bless_one(context, file)? {
            refused += 1;
        }
    }
    let blessed = files.len() - refused;
    println!("{blessed} blessed, {refused} refused");
    Ok(if refused == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Blesses one file; `false` when it was refused (and why is printed).
fn bless_one(context: &Invocation, file: &Path) -> Result<bool> {
    let loaded = match xfrsim_scenario::load(file) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("REFUSED {} error: {e}", stem(file));
            return Ok(false);
        }
    };
    let seed = loaded.scenario.seed.unwrap_or(DEFAULT_SEED);
    let mut timeline = None;
    for run_seed in test_seeds(seed) {
        let outcome = match xfrsim_sim::run(&loaded, RunOptions { seed: run_seed, warp: true }) {
            Ok(outcome) => outcome,
            Err(e) => {
                println!("REFUSED {} seed={run_seed} error: {e}", loaded.name);
                println!("  reproduce: {}", xfrsim_report::reproduce_line(context.program, &shown(file), run_seed));
                return Ok(false);
            }
        };
        if !outcome.passed() {
            println!("REFUSED {}: expectations unmet at seed {run_seed}", loaded.name);
            for failure in &outcome.failures {
                println!("  {failure}");
            }
            println!("  reproduce: {}", xfrsim_report::reproduce_line(context.program, &shown(file), run_seed));
            return Ok(false);
        }
        if run_seed == seed {
            let mut text = outcome.recording.lines.join("\n");
            text.push_str(&format!("\ndigest={}", outcome.digest_hex()));
            timeline = Some(text);
        }
    }
    let timeline = timeline.context("the scenario's own seed is among the test seeds")?;
    let status = write_snapshot(&scenarios_root(context)?, &loaded, file, &timeline)?;
    println!("blessed {} seeds={} {status}", loaded.name, test_seeds(seed).map(|s| s.to_string()).join(","));
    Ok(true)
}

/// The checkout whose `tests/snapshots/` a blessing writes.
fn scenarios_root(context: &Invocation) -> Result<PathBuf> {
    context.workspace.clone().context("bless writes the snapshots of a checkout: run it inside one")
}

fn stem(file: &Path) -> String {
    file.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// Writes `tests/snapshots/<name>.snap` as insta does (header, then the contents with trailing
/// whitespace trimmed and one newline); says whether it was new, updated or unchanged.
fn write_snapshot(root: &Path, loaded: &LoadedScenario, file: &Path, timeline: &str) -> Result<&'static str> {
    let path = root.join("tests/snapshots").join(format!("{}.snap", loaded.name));
    let input = file.canonicalize()?;
    let input = input.strip_prefix(root.canonicalize()?).unwrap_or(&input);
    let text = format!(
        "---\nsource: crates/xfrsim-sim/tests/scenarios.rs\ninput_file: {}\n---\n{}\n",
        input.display(),
        timeline.trim_end()
    );
    let status = match std::fs::read_to_string(&path) {
        Ok(old) if old == text => "unchanged",
        Ok(_) => "updated",
        Err(_) => "new",
    };
    if status != "unchanged" {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // insta's pending file from a failed `cargo test` is stale once the snapshot is written.
    let pending = path.with_extension("snap.new");
    if pending.exists() {
        std::fs::remove_file(&pending).with_context(|| format!("removing {}", pending.display()))?;
    }
    Ok(status)
}
