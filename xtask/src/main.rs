//! `cargo xtask`: the commands users type.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use xfrsim_scenario::DEFAULT_SEED;
use xfrsim_sim::RunOptions;

mod bench;
mod bench_axfr;
mod fuzz;
mod interop;
mod serve;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "xfrsim: deterministic DNS zone-transfer simulation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios and print one PASS/FAIL line each (default: everything under scenarios/).
    Run {
        /// Scenario files or directories.
        paths: Vec<PathBuf>,
        /// Seed for every scenario (default: each file's `seed`, else 6523).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Replay one scenario: the whole timeline, then `digest=<16 hex>`.
    Replay {
        path: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        /// Step through idle time tick by tick instead of jumping (slow; for checking the warp).
        #[arg(long)]
        no_warp: bool,
    },
    /// Run one node on real sockets from a RON node configuration, until Ctrl-C.
    Serve {
        config: PathBuf,
        /// Seed for message ids and jitter (default: the process id; a real node has nothing
        /// to replay).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run the interop checks against BIND 9, Knot DNS and NSD on loopback (each started here,
    /// in a temporary directory); one `interop <peer> <check> ok|FAIL <why>` line per check.
    Interop {
        /// Only the checks of this peer: bind, knot, nsd, or none (checks without a peer).
        #[arg(long)]
        peer: Option<String>,
    },
    /// Fuzz a target (message-primary, message-secondary, scenario, node-config, master-file,
    /// or all) with seeded mutations of its corpus in fuzz/corpus/<target>/; one
    /// `fuzz <target> inputs=<n> crashes=<k> accepted=<a> seed=<s> secs=<t>` line per target.
    Fuzz {
        target: String,
        /// Inputs per target (the corpus entries first, then mutations).
        #[arg(long, default_value_t = 10_000)]
        iterations: u64,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// An input running longer than this is a hang (recorded; the run stops).
        #[arg(long, default_value_t = xfrsim_fuzz::DEFAULT_DEADLINE.as_millis() as u64)]
        deadline_ms: u64,
        /// An input holding more than this live is a failure (recorded; the run stops).
        #[arg(long, default_value_t = xfrsim_fuzz::DEFAULT_ALLOC_CAP_BYTES >> 20)]
        alloc_cap_mb: usize,
        /// Run these saved inputs once each instead of fuzzing.
        #[arg(long, num_args = 1..)]
        replay: Vec<PathBuf>,
        /// Write the captured DNS messages of the message targets to fuzz/corpus/ and stop.
        #[arg(long)]
        write_corpus: bool,
    },
    /// Print the event catalog: Windows event ID, severity, symbolic name.
    Events,
    /// Benchmarks (release build): simulated seconds per wall second, memory.
    Bench {
        /// Run one case in this process (used by `bench` itself, one process per case so
        /// each peak RSS is its own).
        #[arg(long, hide = true)]
        case: Option<String>,
    },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// Scenario files under the given paths, sorted (directory order is filesystem-dependent).
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let roots = if paths.is_empty() { vec![workspace_root().join("scenarios")] } else { paths.to_vec() };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            for entry in std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "ron") {
                    files.push(path);
                }
            }
        } else if root.exists() {
            files.push(root);
        } else {
            anyhow::bail!("{}: no such file or directory", root.display());
        }
    }
    files.sort();
    Ok(files)
}

/// The path as the user should type it in a reproduce line: relative to the current directory
/// when possible.
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// A user error is one line on stderr and exit status 1 — never a backtrace, whatever
/// `RUST_BACKTRACE` says (anyhow prints one when `main` returns its error).
fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { paths, seed } => {
            let files = scenario_files(&paths)?;
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
        Command::Replay { path, seed, no_warp } => {
            let loaded = xfrsim_scenario::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        Command::Serve { config, seed } => serve::serve(&config, seed),
        Command::Interop { peer } => interop::run(peer.as_deref()),
        Command::Bench { case: Some(case) } => bench::run_case(&case),
        Command::Bench { case: None } => bench::run_all(),
        Command::Fuzz { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus } => {
            fuzz::run(&fuzz::FuzzArgs { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus })
        }
        Command::Events => {
            for (id, name, severity) in xfrsim_engine::CATALOG {
                let id = id.map_or_else(|| "-".to_string(), |id| id.to_string());
                println!("{id:>5} {severity:<7} {name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
