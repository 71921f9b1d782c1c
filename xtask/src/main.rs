//! `cargo xtask`: the product's commands (the `xfrsim` library, as `xfrsim` has them, with
//! `cargo xtask` in reproduce lines) and the development ones: interop, bench, fuzz.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xfrsim_scenario::DEFAULT_SEED;

mod bench;
mod bench_axfr;
mod bench_net;
mod fuzz;
mod interop;

#[derive(Parser)]
// `bin_name`: help and usage say `cargo xtask`, what users type, not the binary's own name.
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "xfrsim: deterministic DNS zone-transfer simulation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The product's commands (crates/xfrsim): run, bless, replay, explore, serve, events.
    #[command(flatten)]
    Product(xfrsim::Command),
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
    /// Benchmarks (release build): simulated seconds per wall second, memory.
    Bench {
        /// Run one case in this process (used by `bench` itself, one process per case so
        /// each peak RSS is its own).
        #[arg(long, hide = true)]
        case: Option<String>,
    },
}

/// The checkout xtask was built in: `cargo xtask` only ever runs inside it.
fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XFRSIM_WORKSPACE") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn context() -> xfrsim::Invocation {
    xfrsim::Invocation::cargo_xtask(workspace_root())
}

fn main() -> ExitCode {
    xfrsim::main_for(run)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Product(command) => xfrsim::execute(command, &context()),
        Command::Interop { peer } => interop::run(peer.as_deref()),
        Command::Bench { case: Some(case) } => bench::run_case(&case),
        Command::Bench { case: None } => bench::run_all(),
        Command::Fuzz { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus } => {
            fuzz::run(&fuzz::FuzzArgs { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus })
        }
    }
}
