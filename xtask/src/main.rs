//! `cargo xtask`: the commands users type.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xfrsim_scenario::DEFAULT_SEED;

mod bench;
mod bench_axfr;
mod bless;
mod events;
mod explore;
mod fuzz;
mod interop;
mod logging;
mod replay;
mod run;
mod targets;
mod timeline;

#[derive(Parser)]
// `bin_name`: help and usage say `cargo xtask`, what users type, not the binary's own name.
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "xfrsim: deterministic DNS zone-transfer simulation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios and print one PASS/FAIL line per scenario and seed, then
    /// `<N> passed, <M> failed` (default: everything under scenarios/).
    Run {
        /// Scenario files, directories, or names of bundled scenarios (`chain`: scenarios/chain.ron;
        /// the start of one name is enough).
        targets: Vec<PathBuf>,
        /// Seed for every scenario (default: each file's `seed`, else 6523).
        #[arg(long, conflicts_with = "seeds")]
        seed: Option<u64>,
        /// Every seed of a range for every scenario: `A..B` (B excluded) or `A..=B`.
        #[arg(long, value_parser = run::parse_seeds)]
        seeds: Option<std::ops::RangeInclusive<u64>>,
        /// Scenarios run at once (default: one per core). The output is the same for any value.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Print the scenarios with their descriptions instead of running them.
        #[arg(long, conflicts_with_all = ["seed", "seeds", "format", "junit"])]
        list: bool,
        /// `text`: the PASS/FAIL lines; `json`: one JSON document instead.
        #[arg(long, value_enum, default_value = "text")]
        format: run::Format,
        /// Also write a JUnit XML report here: one testcase per scenario and seed.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Write or update the timeline snapshots (tests/snapshots/) of scenarios that meet their
    /// expectations at every seed `cargo test` checks; a failing scenario is reported, not
    /// blessed (default: every scenario under scenarios/).
    Bless {
        /// Scenario files, directories, or names of bundled scenarios.
        targets: Vec<PathBuf>,
    },
    /// Replay one scenario: the whole timeline, then `digest=<16 hex>` (always of the whole,
    /// unfiltered timeline).
    Replay(replay::ReplayArgs),
    /// Swarm exploration: for each seed a derived topology and fault schedule over the
    /// built-in base, a safety phase, then heal and require convergence within the bound the
    /// zone's timers give; each seed runs twice. Ends with
    /// `explored <n> seeds in <s> s (<rate>/min), failures=<k>`.
    Explore {
        /// Base scenarios (not built yet: only the built-in base).
        bases: Vec<PathBuf>,
        /// Seeds: `A..B` (B excluded) or `A..=B`.
        #[arg(long, value_parser = run::parse_seeds, default_value = "0..100")]
        seeds: std::ops::RangeInclusive<u64>,
        /// Threads (default: one per core).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Plant one bug in every server: accept-truncated-axfr, keep-expire-on-equal-serial,
        /// no-axfr-fallback, integer-serial-compare, serve-during-transfer.
        #[arg(long, value_parser = explore::parse_canary)]
        canary: Option<xfrsim_engine::Canary>,
        /// Only this share of the seeds: `K/N` (1-based).
        #[arg(long, value_parser = explore::parse_shard)]
        shard: Option<explore::Shard>,
    },
    /// Run one node on real sockets from a RON node configuration until Ctrl-C; SIGHUP reloads
    /// the primary zone files that changed.
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
    /// Print the event catalog (Windows event ID, severity, symbolic name, meaning), or one
    /// event in full: parameters, when it fires, the BIND 9 and Knot lines.
    Events {
        /// A Windows ID (6523) or symbolic name, in any case.
        event: Option<String>,
        /// Print the catalog as Markdown (`cargo xtask events --markdown > docs/events.md`).
        #[arg(long, conflicts_with = "event")]
        markdown: bool,
    },
    /// Benchmarks (release build): simulated seconds per wall second, memory.
    Bench {
        /// Run one case in this process (used by `bench` itself, one process per case so
        /// each peak RSS is its own).
        #[arg(long, hide = true)]
        case: Option<String>,
    },
}

/// The workspace: where `scenarios/` and `tests/snapshots/` are. `XFRSIM_WORKSPACE` moves it,
/// so that xtask's tests can bless and list scenarios in a directory of their own.
fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XFRSIM_WORKSPACE") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version: their whole text, on stdout.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // clap's first line says what is wrong (`error: invalid value '5..5' for
            // '--seeds <SEEDS>': ...`); the rest is a pointer to --help.
            let text = error.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { targets, list: true, .. } => {
            targets::list(&targets::scenario_files(&targets)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { targets, seed, seeds, jobs, list: false, format, junit } => {
            logging::init_tracing(None, false)?;
            run::run(run::RunArgs {
                targets,
                seeds: seeds.map_or(run::Seeds::One(seed), run::Seeds::Range),
                jobs: jobs.map(usize::from),
                format,
                junit,
            })
        }
        Command::Bless { targets } => bless::bless(&targets),
        Command::Replay(args) => {
            logging::init_tracing(None, false)?;
            replay::replay(args)
        }
        Command::Explore { bases, seeds, jobs, canary, shard } => {
            logging::init_tracing(None, false)?;
            explore::explore(explore::ExploreArgs { bases, seeds, jobs: jobs.map(usize::from), canary, shard })
        }
        Command::Serve { config, seed } => {
            logging::init_tracing(Some("xfrsim=info"), true)?;
            xfrsim_serve::serve(&config, seed)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Interop { peer } => interop::run(peer.as_deref()),
        Command::Bench { case: Some(case) } => bench::run_case(&case),
        Command::Bench { case: None } => bench::run_all(),
        Command::Fuzz { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus } => {
            fuzz::run(&fuzz::FuzzArgs { target, iterations, seed, deadline_ms, alloc_cap_mb, replay, write_corpus })
        }
        Command::Events { event: None, markdown: false } => events::list(),
        Command::Events { event: None, markdown: true } => {
            print!("{}", events::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { event: Some(event), .. } => events::show(&event),
    }
}
