//! `cargo xtask`: the commands users type.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod bench;
mod bench_axfr;
mod interop;
mod replay;
mod run;
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
        Command::Run { paths, seed } => run::run(&paths, seed),
        Command::Replay { path, seed, no_warp } => replay::replay(&path, seed, no_warp),
        Command::Serve { config, seed } => serve::serve(&config, seed),
        Command::Interop { peer } => interop::run(peer.as_deref()),
        Command::Bench { case: Some(case) } => bench::run_case(&case),
        Command::Bench { case: None } => bench::run_all(),
        Command::Events => replay::events(),
    }
}
