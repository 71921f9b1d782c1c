//! `cargo xtask explore`: swarm exploration over seeds (crates/xfrsim-explore). Each seed's plan
//! runs twice; a failing one is printed with its derived parameters, shrunk, and written as a
//! scenario file with the command that replays it. The last line is
//! `explored <n> seeds in <s> s (<rate>/min), failures=<k>`.

use std::io::{IsTerminal as _, Write as _};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use xfrsim_engine::Canary;
use xfrsim_explore::{Plan, Verdict};

use crate::{Invocation, shown};

/// `--shard K/N`: this process explores the seeds whose offset in the range is K-1 modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// Parses `K/N` with 1 <= K <= N.
pub fn parse_shard(text: &str) -> Result<Shard, String> {
    let usage = "expected K/N with 1 <= K <= N, e.g. 1/4";
    let (k, n) = text.split_once('/').ok_or_else(|| usage.to_string())?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("`{}`: {e}; {usage}", s.trim()));
    let (index, count) = (number(k)?, number(n)?);
    if index == 0 || count == 0 || index > count {
        return Err(format!("`{text}`: {usage}"));
    }
    Ok(Shard { index, count })
}

/// Parses a canary name (`--canary`).
pub fn parse_canary(text: &str) -> Result<Canary, String> {
    Canary::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = Canary::ALL.iter().map(|c| c.name()).collect();
        format!("unknown canary `{text}`; the canaries are {}", names.join(", "))
    })
}

pub struct ExploreArgs {
    pub bases: Vec<PathBuf>,
    pub seeds: RangeInclusive<u64>,
    pub jobs: Option<usize>,
    pub canary: Option<Canary>,
    pub shard: Option<Shard>,
}

/// What one seed came to.
struct SeedReport {
    seed: u64,
    /// Empty when the seed passed.
    lines: Vec<String>,
}

pub fn explore(context: &Invocation, args: ExploreArgs) -> Result<ExitCode> {
    if !args.bases.is_empty() {
        bail!("explore over a base scenario file is not built yet: run without PATH for the built-in base");
    }
    let shard = args.shard.unwrap_or(Shard { index: 1, count: 1 });
    let start = *args.seeds.start();
    let seeds: Vec<u64> = args.seeds.clone().filter(|s| (s - start) % shard.count == shard.index - 1).collect();
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let terminal = std::io::stderr().is_terminal();
    let (failures, wall) = timed(|| {
        run_seeds(context, &seeds, jobs, args.canary, |done, report| {
            for line in &report.lines {
                println!("{line}");
            }
            if terminal {
                eprint!("\rexplored {done}/{} seeds", seeds.len());
                let _ = std::io::stderr().flush();
            } else if done % 100 == 0 || done == seeds.len() {
                eprintln!("explored {done}/{} seeds", seeds.len());
            }
        })
    });
    if terminal {
        eprintln!();
    }
    let secs = wall.as_secs_f64();
    println!("{}", totals_line(seeds.len(), secs, failures));
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `cargo xtask bench --case explore-500`: seeds 0..500 on every core, no canary.
pub fn bench_case(context: &Invocation) -> Result<ExitCode> {
    let seeds: Vec<u64> = (0..500).collect();
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (failures, wall) = timed(|| run_seeds(context, &seeds, jobs, None, |_, _| {}));
    let secs = wall.as_secs_f64();
    let rate = seeds.len() as f64 * 60.0 / secs.max(1e-9);
    println!(
        "bench explore-500 seeds={} wall={:.0} seeds_per_min={rate:.0} jobs={jobs} failures={failures}",
        seeds.len(),
        secs * 1000.0
    );
    Ok(ExitCode::SUCCESS)
}

/// Wall time of a closure: explore reports its rate, the one thing here that is about real time.
#[allow(clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let start = std::time::Instant::now();
    let value = f();
    (value, start.elapsed())
}

pub fn totals_line(seeds: usize, secs: f64, failures: usize) -> String {
    let rate = if secs > 0.0 { seeds as f64 * 60.0 / secs } else { 0.0 };
    format!("explored {seeds} seeds in {secs:.1} s ({rate:.0}/min), failures={failures}")
}

/// Explores `seeds` on `jobs` threads; `emit` gets (seeds done, report) in seed order.
/// Returns the number of failing seeds.
fn run_seeds(
    context: &Invocation,
    seeds: &[u64],
    jobs: usize,
    canary: Option<Canary>,
    mut emit: impl FnMut(usize, &SeedReport),
) -> usize {
    let mut failures = 0;
    let work = |_: usize, &seed: &u64| {
        let lines = std::panic::catch_unwind(|| explore_seed(context, seed, canary))
            .unwrap_or_else(|_| vec![format!("FAIL seed={seed}"), "  the simulation panicked (see stderr)".into()]);
        SeedReport { seed, lines }
    };
    xfrsim_report::run_ordered(seeds, jobs, work, |index, report| {
        if !report.lines.is_empty() {
            failures += 1;
        }
        debug_assert_eq!(report.seed, seeds[index]);
        emit(index + 1, &report);
    });
    failures
}

/// One seed: empty when it passed, else the report lines (shrinking and writing the file).
fn explore_seed(context: &Invocation, seed: u64, canary: Option<Canary>) -> Vec<String> {
    let plan = xfrsim_explore::generate(seed);
    let verdict = match xfrsim_explore::judge(&plan, canary) {
        Ok(verdict) if verdict.passed() => return Vec::new(),
        Ok(verdict) => verdict,
        Err(e) => return vec![format!("FAIL seed={seed}"), format!("  error: {e}"), params_line(&plan)],
    };
    let mut lines = vec![format!("FAIL seed={seed}"), params_line(&plan)];
    lines.extend(plan.faults.iter().map(|f| format!("  fault: {f}")));
    lines.extend(failure_lines(&verdict));
    let signature = verdict.signature().unwrap_or_default();
    let shrunk = xfrsim_explore::shrink::shrink(&plan, canary, &signature);
    lines.push(format!(
        "  shrunk: {} of {} faults, {} servers, heal at {}s",
        shrunk.faults.len(),
        plan.faults.len(),
        shrunk.profiles.len(),
        shrunk.heal_at.as_secs()
    ));
    match write_plan(context, &shrunk) {
        Ok(path) => {
            let canary_flag = canary.map_or_else(String::new, |c| format!(" --canary {c}"));
            lines.push(format!("  file: {}", shown(&path)));
            let replay = xfrsim_report::reproduce_line(context.program, &shown(&path), seed);
            lines.push(format!("  reproduce: {replay} --invariants{canary_flag}"));
        }
        Err(e) => lines.push(format!("  file not written: {e:#}")),
    }
    lines
}

fn params_line(plan: &Plan) -> String {
    format!("  params: seed={} {}", plan.seed, plan.summary())
}

fn failure_lines(verdict: &Verdict) -> Vec<String> {
    let mut lines: Vec<String> = verdict.failures.iter().map(|f| format!("  failed: {f}")).collect();
    if let Some(difference) = &verdict.nondeterminism {
        lines.push(format!("  nondeterministic: the two runs' timelines differ at {difference}"));
    }
    lines
}

/// Writes a plan's scenario to `target/xfrsim/explore/explore-<seed>.ron`.
fn write_plan(context: &Invocation, plan: &Plan) -> Result<PathBuf> {
    let (text, _) = xfrsim_explore::load(plan)?;
    let dir = context.output_dir().join("explore");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("explore-{}.ron", plan.seed));
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::{Shard, parse_canary, parse_shard};

    #[test]
    fn shards_are_one_based_and_bounded() {
        assert_eq!(parse_shard("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canaries_are_named_as_in_the_issue() {
        assert!(parse_canary("integer-serial-compare").is_ok());
        assert!(parse_canary("nope").unwrap_err().contains("accept-truncated-axfr"));
    }
}
