//! `cargo xtask replay`: one scenario's whole timeline, then `digest=<16 hex>` (a contract);
//! and `cargo xtask events`, the event catalog.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use xfrsim_scenario::DEFAULT_SEED;
use xfrsim_sim::RunOptions;

pub fn replay(path: &Path, seed: Option<u64>, no_warp: bool) -> Result<ExitCode> {
    let loaded = xfrsim_scenario::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    for warning in &loaded.zone_warnings {
        eprintln!("{warning}");
    }
    let seed = seed.or(loaded.scenario.seed).unwrap_or(DEFAULT_SEED);
    // Lines are printed as the simulation produces them: a long run shows progress and
    // its timeline is never held in memory.
    let outcome = xfrsim_sim::run_streaming(&loaded, RunOptions { seed, warp: !no_warp }, |line| {
        println!("{line}");
    })?;
    for failure in &outcome.failures {
        println!("FAILED {failure}");
    }
    println!("digest={}", outcome.digest_hex());
    Ok(if outcome.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The event catalog: Windows event ID, severity, symbolic name.
pub fn events() -> Result<ExitCode> {
    for (id, name, severity) in xfrsim_engine::CATALOG {
        let id = id.map_or_else(|| "-".to_string(), |id| id.to_string());
        println!("{id:>5} {severity:<7} {name}");
    }
    Ok(ExitCode::SUCCESS)
}
