//! `cargo xtask run`: scenarios checked against their expectations, one PASS/FAIL line per
//! scenario and seed (a contract users' CI parses: fields are only ever added at the end), then
//! `<N> passed, <M> failed`.
//!
//! Runs go to a pool of threads, but what is printed is each run's buffered report, in file
//! order then seed order: `--jobs 1` and `--jobs 8` print the same bytes.

use std::ops::RangeInclusive;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use xfrsim_scenario::{DEFAULT_SEED, LoadedScenario};
use xfrsim_sim::RunOptions;

use crate::{Invocation, shown};
use xfrsim_report::{self as report, RunReport};

/// How the report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The PASS/FAIL lines, failures, reproduce lines, then the totals line.
    Text,
    /// One JSON document (see README, "Reports").
    Json,
}

/// Which seeds each scenario runs with.
#[derive(Debug, Clone)]
pub enum Seeds {
    /// The file's `seed` (else 6523), or `--seed`.
    One(Option<u64>),
    /// `--seeds A..B`: every seed from A to B-1 (`A..=B`: to B).
    Range(RangeInclusive<u64>),
}

pub struct RunArgs {
    pub targets: Vec<PathBuf>,
    pub seeds: Seeds,
    /// Threads running scenarios; `None`: one per core.
    pub jobs: Option<usize>,
    pub format: Format,
    pub junit: Option<PathBuf>,
}

/// `--seeds` as clap parses it: `A..B` (B excluded, as in Rust) or `A..=B`; never empty.
pub fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let usage = "expected A..B (B excluded) or A..=B, e.g. 0..50";
    let (start, end, inclusive) = if let Some((a, b)) = text.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = text.split_once("..") {
        (a, b, false)
    } else {
        return Err(usage.to_string());
    };
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("`{}`: {e}; {usage}", s.trim()));
    let (start, end) = (number(start)?, number(end)?);
    let last = if inclusive { Some(end) } else { end.checked_sub(1) };
    match last {
        Some(last) if last >= start => Ok(start..=last),
        _ => Err(format!("`{text}` holds no seed; {usage}")),
    }
}

/// One unit of work: a file (index into the file list) at a seed, or at the file's own.
#[derive(Debug, Clone, Copy)]
struct Unit {
    file: usize,
    seed: Option<u64>,
}

fn units(file_count: usize, seeds: &Seeds) -> Vec<Unit> {
    let mut units = Vec::new();
    for file in 0..file_count {
        match seeds {
            Seeds::One(seed) => units.push(Unit { file, seed: *seed }),
            Seeds::Range(range) => units.extend(range.clone().map(|seed| Unit { file, seed: Some(seed) })),
        }
    }
    units
}

pub fn run(context: &Invocation, args: RunArgs) -> Result<ExitCode> {
    let files = crate::targets::scenario_files(context, &args.targets)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files found");
    }
    let units = units(files.len(), &args.seeds);
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut reports = Vec::with_capacity(units.len());
    run_units(context, &files, &units, jobs, |report| {
        // Only a file's first run carries its zone warnings; on stderr, as the PASS/FAIL lines
        // on stdout are a contract.
        for warning in &report.warnings {
            eprintln!("{warning}");
        }
        if args.format == Format::Text {
            for line in &report.lines {
                print_or_stop(line);
            }
        }
        reports.push(report);
    });
    match args.format {
        Format::Text => print_or_stop(&report::totals_line(&reports)),
        Format::Json => print_or_stop(&report::json(&reports)),
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&reports)).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if reports.iter().all(RunReport::passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs every unit on `jobs` threads, handing each report to `emit` in unit order as soon as it
/// and all before it are done (so a long run shows progress, and the order never depends on
/// which thread finished first).
fn run_units(context: &Invocation, files: &[PathBuf], units: &[Unit], jobs: usize, mut emit: impl FnMut(RunReport)) {
    // Each file is loaded once, by the first unit that needs it; the others wait for it.
    let loaded: Vec<OnceLock<Result<LoadedScenario, String>>> = files.iter().map(|_| OnceLock::new()).collect();
    let work = |index: usize, unit: &Unit| {
        let file = &files[unit.file];
        let scenario = loaded[unit.file].get_or_init(|| xfrsim_scenario::load(file).map_err(|e| e.to_string()));
        let first = index_is_first(units, index);
        // A panic in the simulation is a bug; it must not end the run or scramble the
        // output: it becomes this run's error (the panic message is on stderr).
        std::panic::catch_unwind(AssertUnwindSafe(|| run_one(context, file, scenario, unit.seed, first)))
            .unwrap_or_else(|_| panicked(context, file, scenario, unit.seed))
    };
    xfrsim_report::run_ordered(units, jobs, work, |_, report| {
        if let Some(report) = report {
            emit(report);
        }
    });
}

fn index_is_first(units: &[Unit], index: usize) -> bool {
    index == 0 || units[index - 1].file != units[index].file
}

/// The report of one unit; `None` for a file that did not load, but at its first unit (its
/// error is reported once, and counted once).
fn run_one(
    context: &Invocation,
    file: &Path,
    loaded: &Result<LoadedScenario, String>,
    seed: Option<u64>,
    first: bool,
) -> Option<RunReport> {
    let name = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    let shown_file = shown(file);
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return first.then(|| RunReport::not_loaded(name, shown_file, e.clone())),
    };
    let seed = seed.or(loaded.scenario.seed).unwrap_or(DEFAULT_SEED);
    let mut report = match xfrsim_sim::run_streaming(loaded, RunOptions { seed, warp: true }, |_| {}) {
        Ok(outcome) => {
            let mut report = RunReport::finished(context.program, loaded.name.clone(), shown_file, &outcome);
            if !outcome.passed() {
                // A failing run's picture, named by scenario and seed, next to the reproduce line.
                let pictures = context.output_dir();
                let path = pictures.join(format!("{}-seed{seed}.html", loaded.name));
                let written = std::fs::create_dir_all(&pictures)
                    .map_err(anyhow::Error::from)
                    .and_then(|()| xfrsim_picture::write_html(loaded, &outcome, &path).map_err(anyhow::Error::from));
                match written {
                    Ok(()) => {
                        report.lines.push(format!("  picture: {}", shown(&path)));
                        report.picture = Some(shown(&path));
                    }
                    Err(e) => report.lines.push(format!("  picture not written: {e:#}")),
                }
            }
            report
        }
        Err(e) => RunReport::sim_error(context.program, loaded.name.clone(), shown_file, seed, e.to_string()),
    };
    if first {
        report.warnings = loaded.zone_warnings.iter().map(ToString::to_string).collect();
    }
    Some(report)
}

/// Prints a line of the report; once stdout is gone (a closed pipe, as with `| head`) the
/// process ends quietly with the status a shell gives a command killed by SIGPIPE (128 + 13),
/// instead of panicking in `println!`.
fn print_or_stop(line: &str) {
    use std::io::Write as _;
    if writeln!(std::io::stdout().lock(), "{line}").is_err() {
        std::process::exit(141);
    }
}

fn panicked(
    context: &Invocation,
    file: &Path,
    loaded: &Result<LoadedScenario, String>,
    seed: Option<u64>,
) -> Option<RunReport> {
    let file_seed = loaded.as_ref().ok().and_then(|l| l.scenario.seed);
    let seed = seed.or(file_seed).unwrap_or(DEFAULT_SEED);
    let name = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    Some(RunReport::sim_error(
        context.program,
        name,
        shown(file),
        seed,
        "the simulation panicked (see stderr)".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges_exclude_their_end_unless_written_with_an_equals_sign() {
        assert_eq!(parse_seeds("0..50"), Ok(0..=49));
        assert_eq!(parse_seeds("3..=3"), Ok(3..=3));
        assert_eq!(parse_seeds("0..=18446744073709551615"), Ok(0..=u64::MAX));
    }

    #[test]
    fn a_range_without_seeds_or_numbers_is_refused() {
        for bad in ["5..5", "9..2", "0..0", "a..b", "7", "-1..3", "..4", "1..99999999999999999999999"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
    }
}
