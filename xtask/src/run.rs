//! `cargo xtask run`: scenarios checked against their expectations, one PASS/FAIL line each
//! (a contract users' CI parses).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use xfrsim_scenario::DEFAULT_SEED;
use xfrsim_sim::RunOptions;

use crate::{scenario_files, shown};

pub fn run(paths: &[PathBuf], seed: Option<u64>) -> Result<ExitCode> {
    let files = scenario_files(paths)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files found");
    }
    let mut all_passed = true;
    for file in files {
        let loaded = match xfrsim_scenario::load(&file) {
            Ok(loaded) => loaded,
            Err(e) => {
                println!("FAIL {} error: {e}", shown(&file));
                all_passed = false;
                continue;
            }
        };
        // On stderr: the PASS/FAIL lines on stdout are a contract.
        for warning in &loaded.zone_warnings {
            eprintln!("{warning}");
        }
        let seed = seed.or(loaded.scenario.seed).unwrap_or(DEFAULT_SEED);
        match xfrsim_sim::run_streaming(&loaded, RunOptions { seed, warp: true }, |_| {}) {
            Ok(outcome) => {
                println!("{}", outcome.summary_line());
                if !outcome.passed() {
                    all_passed = false;
                    for failure in &outcome.failures {
                        println!("  {failure}");
                    }
                    println!("  reproduce: cargo xtask replay {} --seed {seed}", shown(&file));
                }
            }
            Err(e) => {
                all_passed = false;
                println!("FAIL {} seed={seed} error: {e}", loaded.name);
                println!("  reproduce: cargo xtask replay {} --seed {seed}", shown(&file));
            }
        }
    }
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
