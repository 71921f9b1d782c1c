//! The xfrsim product: the commands users run on scenario files (`run`, `replay`, `explore`,
//! `events`, `bless`, `serve`), their arguments, and where they find things. Two binaries call
//! it: `xfrsim` (installed, run from anywhere) and `cargo xtask` (inside a checkout, also
//! holding the development commands). Each passes its [`Invocation`]: the program name users type,
//! which the `reproduce:` lines print, and the checkout, when there is one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

mod bless;
mod events;
pub mod explore;
pub mod logging;
mod replay;
pub mod run;
mod targets;
mod timeline;

/// How the library was invoked and what it may use.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// What users type to run us: `cargo xtask` or `xfrsim`. Printed in front of `replay` in
    /// every `reproduce:` line (an output contract: `<program> replay <file> --seed <N>`).
    pub program: &'static str,
    /// The xfrsim checkout: where bundled scenarios (`scenarios/`), snapshots and `target/` are.
    /// `None` outside one: scenarios are then given as paths.
    pub workspace: Option<PathBuf>,
}

impl Invocation {
    /// `xfrsim`: the checkout is found from the current directory (or `XFRSIM_WORKSPACE`), as
    /// an installed binary has no other way to know it.
    pub fn xfrsim() -> Invocation {
        let workspace = std::env::var_os("XFRSIM_WORKSPACE")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok().and_then(|cwd| find_workspace(&cwd)));
        Invocation { program: "xfrsim", workspace }
    }

    /// `cargo xtask`: the checkout it was built in (`XFRSIM_WORKSPACE` moves it, so tests can
    /// bless and list scenarios in a directory of their own).
    pub fn cargo_xtask(built_in: PathBuf) -> Invocation {
        let workspace = std::env::var_os("XFRSIM_WORKSPACE").map_or(built_in, PathBuf::from);
        Invocation { program: "cargo xtask", workspace: Some(workspace) }
    }

    /// Where failing runs leave what they leave (pictures, explore's scenario files):
    /// `$CARGO_TARGET_DIR/xfrsim/`, else `target/xfrsim/` in the checkout, else `xfrsim-out/`
    /// in the current directory.
    pub fn output_dir(&self) -> PathBuf {
        if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            return PathBuf::from(target).join("xfrsim");
        }
        match &self.workspace {
            Some(root) => root.join("target").join("xfrsim"),
            None => PathBuf::from("xfrsim-out"),
        }
    }
}

/// The nearest directory at or above `start` holding a `Cargo.toml` with a `[workspace]` table
/// and a `scenarios/` directory: an xfrsim checkout.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|dir| is_workspace(dir)).map(Path::to_path_buf)
}

fn is_workspace(dir: &Path) -> bool {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    manifest.lines().any(|line| line.trim() == "[workspace]") && dir.join("scenarios").is_dir()
}

/// The path as the user should type it in a reproduce line: relative to the current directory
/// when possible.
pub fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

/// The product commands, in the order `--help` lists them.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Print the event catalog (Windows event ID, severity, symbolic name, meaning), or one
    /// event in full: parameters, when it fires, the BIND 9 and Knot lines.
    Events {
        /// A Windows ID (6523) or symbolic name, in any case.
        event: Option<String>,
        /// Print the catalog as Markdown (`cargo xtask events --markdown > docs/events.md`).
        #[arg(long, conflicts_with = "event")]
        markdown: bool,
    },
}

/// Runs one product command.
pub fn execute(command: Command, context: &Invocation) -> Result<ExitCode> {
    match command {
        Command::Run { targets, list: true, .. } => {
            targets::list(&targets::scenario_files(context, &targets)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { targets, seed, seeds, jobs, list: false, format, junit } => {
            logging::init_tracing(None, false)?;
            let seeds = seeds.map_or(run::Seeds::One(seed), run::Seeds::Range);
            let args = run::RunArgs { targets, seeds, jobs: jobs.map(usize::from), format, junit };
            run::run(context, args)
        }
        Command::Bless { targets } => bless::bless(context, &targets),
        Command::Replay(args) => {
            logging::init_tracing(None, false)?;
            replay::replay(context, args)
        }
        Command::Explore { bases, seeds, jobs, canary, shard } => {
            logging::init_tracing(None, false)?;
            let args = explore::ExploreArgs { bases, seeds, jobs: jobs.map(usize::from), canary, shard };
            explore::explore(context, args)
        }
        Command::Serve { config, seed } => {
            logging::init_tracing(Some("xfrsim=info"), true)?;
            xfrsim_serve::serve(&config, seed)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { event: None, markdown: false } => events::list(),
        Command::Events { event: None, markdown: true } => {
            print!("{}", events::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { event: Some(event), .. } => events::show(&event),
    }
}

/// A binary's `main`: parses its command line (`C`), runs it, and turns the result into the
/// exit status. A user error is one line on stderr and status 1 — never a backtrace, whatever
/// `RUST_BACKTRACE` says (anyhow prints one when `main` returns its error); a usage error is
/// clap's first line and status 2; `--help` and `--version` print their whole text on stdout.
pub fn main_for<C: clap::Parser>(run: impl FnOnce(C) -> Result<ExitCode>) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
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

#[cfg(test)]
mod tests {
    use super::find_workspace;

    #[test]
    fn the_checkout_is_the_nearest_workspace_with_scenarios() {
        let root = std::env::temp_dir().join(format!("xfrsim-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let deep = root.join("crates/member/src");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"crates/*\"]\n").unwrap();
        std::fs::write(root.join("crates/member/Cargo.toml"), "[package]\nname = \"member\"\n").unwrap();
        // A workspace without scenarios/ is someone else's.
        assert_eq!(find_workspace(&deep), None);
        std::fs::create_dir(root.join("scenarios")).unwrap();
        assert_eq!(find_workspace(&deep), Some(root.clone()));
        assert_eq!(find_workspace(&root), Some(root.clone()));
        let _ = std::fs::remove_dir_all(&root);
    }
}
