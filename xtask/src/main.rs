//! `cargo xtask`: the commands users type.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod bench;
mod bench_axfr;
mod events;
pub mod html;
mod interop;
mod logging;
mod replay;
mod run;
mod serve;
mod timeline;

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
    /// Replay one scenario: the whole timeline, then `digest=<16 hex>` (always of the whole,
    /// unfiltered timeline).
    Replay {
        path: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        /// Step through idle time tick by tick instead of jumping (slow; for checking the warp).
        #[arg(long)]
        no_warp: bool,
        /// Only this server's events (and the actions that concern it).
        #[arg(long)]
        server: Option<String>,
        /// Only this zone's events (trailing dot optional).
        #[arg(long)]
        zone: Option<String>,
        /// Only this event: a Windows ID (6523) or a symbolic name, in any case.
        #[arg(long, conflicts_with = "table")]
        event: Option<String>,
        /// Only from this time on (a duration such as 90s, 2h, 1d 6h).
        #[arg(long)]
        from: Option<String>,
        /// Only until this time, inclusive.
        #[arg(long)]
        until: Option<String>,
        /// Instead of the timeline: each server's zone state (serial, expired, - for not loaded)
        /// at every change, one line per change, a column per server.
        #[arg(long, conflicts_with = "format")]
        table: bool,
        /// `json`: one JSON object per timeline line, then one with the digest.
        #[arg(long, value_enum, default_value = "text")]
        format: replay::Format,
        /// Instead of the timeline: where the run with this seed first differs.
        #[arg(long, conflicts_with_all = ["table", "format", "server", "zone", "event", "from", "until"])]
        diff_seed: Option<u64>,
        /// Also write a picture of the run: one self-contained HTML file.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
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
            logging::init_tracing(None, false)?;
            run::run(&paths, seed)
        }
        Command::Replay { path, seed, no_warp, server, zone, event, from, until, table, format, diff_seed, html } => {
            logging::init_tracing(None, false)?;
            let args = replay::ReplayArgs {
                path,
                seed,
                no_warp,
                server,
                zone,
                event,
                from,
                until,
                table,
                format,
                diff_seed,
                html,
            };
            replay::replay(args)
        }
        Command::Serve { config, seed } => serve::serve(&config, seed),
        Command::Interop { peer } => interop::run(peer.as_deref()),
        Command::Bench { case: Some(case) } => bench::run_case(&case),
        Command::Bench { case: None } => bench::run_all(),
        Command::Events { event: None, markdown: false } => events::list(),
        Command::Events { event: None, markdown: true } => {
            print!("{}", events::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { event: Some(event), .. } => events::show(&event),
    }
}
