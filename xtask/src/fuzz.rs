//! `cargo xtask fuzz <target>`: seeded, mutation-based fuzzing over the committed corpus.
//!
//! Output contract, one line per target on stdout:
//! `fuzz <target> inputs=<n> crashes=<k> accepted=<a> seed=<s> secs=<t>` (`accepted`: inputs
//! the code under test took whole, a measure of depth), and for `all` a last line
//! `fuzz all inputs=<n> crashes=<k> seed=<s> secs=<t>`. Each failing input follows its target's
//! line as `  <reason>`, `  input: <path>` and `  reproduce: cargo xtask fuzz <target> --replay
//! <path>`. Progress goes to stderr. Exit status 1 when anything failed; 3 (from the watchdog)
//! after a hang or an allocation overrun, which end the run at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xfrsim_fuzz::runner::{FailureKind, RunOptions, Runner};
use xfrsim_fuzz::{ALL_TARGETS, Failure, Target};

use xfrsim::shown;

use crate::workspace_root;

/// How often a long run reports progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Inputs between two looks at the clock for progress (a clock read per input would be
/// measurable next to microsecond inputs).
const PROGRESS_CHECK_INPUTS: u64 = 1_000;

pub struct FuzzArgs {
    pub target: String,
    pub iterations: u64,
    pub seed: u64,
    pub deadline_ms: u64,
    pub alloc_cap_mb: usize,
    pub replay: Vec<PathBuf>,
    pub write_corpus: bool,
}

/// Wall time since `start`: reported to the user, never fed to a target.
#[expect(clippy::disallowed_methods, reason = "fuzz reports its own wall time and progress")]
fn now() -> Instant {
    Instant::now()
}

fn fuzz_dir() -> PathBuf {
    workspace_root().join("fuzz")
}

fn targets(name: &str) -> Result<Vec<Target>> {
    if name == "all" {
        return Ok(ALL_TARGETS.to_vec());
    }
    Ok(vec![Target::from_name(name)?])
}

fn options(args: &FuzzArgs) -> Result<RunOptions> {
    if args.deadline_ms == 0 {
        anyhow::bail!("--deadline-ms must be greater than zero");
    }
    let alloc_cap_bytes = args
        .alloc_cap_mb
        .checked_mul(1 << 20)
        .filter(|&b| b > 0)
        .context("--alloc-cap-mb must be between 1 and the address space")?;
    Ok(RunOptions {
        deadline: Duration::from_millis(args.deadline_ms),
        alloc_cap_bytes,
        crash_dir: fuzz_dir().join("crashes"),
    })
}

/// The options a reproduce line must repeat: the limits, when not the defaults.
fn limit_flags(options: &RunOptions) -> String {
    let mut flags = String::new();
    if options.deadline != xfrsim_fuzz::DEFAULT_DEADLINE {
        flags += &format!(" --deadline-ms {}", options.deadline.as_millis());
    }
    if options.alloc_cap_bytes != xfrsim_fuzz::DEFAULT_ALLOC_CAP_BYTES {
        flags += &format!(" --alloc-cap-mb {}", options.alloc_cap_bytes >> 20);
    }
    flags
}

fn print_failure(failure: &Failure, flags: &str) {
    println!("  {}", failure.kind);
    if let Some(path) = &failure.path {
        println!("  input: {}", shown(path));
        println!("  reproduce: cargo xtask fuzz {}{flags} --replay {}", failure.target.name(), shown(path));
    }
}

/// The watchdog's report of a hang or an allocation overrun, just before it exits.
fn fatal_report(flags: String) -> Box<dyn Fn(&Failure) + Send> {
    Box::new(move |failure: &Failure| {
        println!("fuzz {} FAILED", failure.target.name());
        print_failure(failure, &flags);
        if failure.path.is_none() {
            println!("  (the input could not be written)");
        }
    })
}

pub fn run(args: &FuzzArgs) -> Result<ExitCode> {
    if args.write_corpus {
        return write_corpus();
    }
    let targets = targets(&args.target)?;
    let options = options(args)?;
    let flags = limit_flags(&options);
    if !args.replay.is_empty() {
        let [target] = targets[..] else { anyhow::bail!("--replay needs one target, not `all`") };
        return replay(target, &args.replay, options);
    }
    let start = now();
    let (mut inputs, mut crashes) = (0u64, 0u64);
    for &target in &targets {
        let corpus_dir = fuzz_dir().join("corpus").join(target.name());
        let corpus = xfrsim_fuzz::load_corpus(&corpus_dir)?;
        let mut runner = Runner::new(target, options.clone(), fatal_report(flags.clone()))?;
        let target_start = now();
        let mut last_progress = target_start;
        let report = runner.fuzz(&corpus, args.seed, args.iterations, &mut |done, report| {
            if done % PROGRESS_CHECK_INPUTS == 0 && last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = now();
                eprintln!(
                    "fuzz {} progress inputs={done} crashes={} secs={:.1}",
                    target.name(),
                    report.failure_count,
                    target_start.elapsed().as_secs_f64()
                );
            }
        })?;
        println!(
            "fuzz {} inputs={} crashes={} accepted={} seed={} secs={:.1}",
            target.name(),
            report.inputs,
            report.failure_count,
            report.accepted,
            args.seed,
            target_start.elapsed().as_secs_f64()
        );
        for failure in &report.failures {
            print_failure(failure, &flags);
        }
        if report.failure_count > report.failures.len() as u64 {
            println!("  ({} more failing inputs not written)", report.failure_count - report.failures.len() as u64);
        }
        inputs += report.inputs;
        crashes += report.failure_count;
    }
    if targets.len() > 1 {
        println!(
            "fuzz all inputs={inputs} crashes={crashes} seed={} secs={:.1}",
            args.seed,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(if crashes == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs saved inputs once each: `replay <target> <file> ok|FAIL <reason>`.
fn replay(target: Target, files: &[PathBuf], options: RunOptions) -> Result<ExitCode> {
    let flags = limit_flags(&options);
    let mut runner = Runner::new(target, options, fatal_report(flags))?;
    let mut failed = false;
    for file in files {
        let input = std::fs::read(file).with_context(|| format!("reading {}", shown(file)))?;
        match runner.replay(&input) {
            None => println!("replay {} {} ok", target.name(), shown(file)),
            Some(Failure { kind, .. }) => {
                failed = true;
                let kind: FailureKind = kind;
                println!("replay {} {} FAIL {kind}", target.name(), shown(file));
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Writes the captured DNS messages of the message targets under `fuzz/corpus/`.
fn write_corpus() -> Result<ExitCode> {
    for (target, name, bytes) in xfrsim_fuzz::message_corpus() {
        let dir = fuzz_dir().join("corpus").join(target.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", shown(&dir)))?;
        let path: PathBuf = dir.join(format!("{name}.bin"));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", shown(&path)))?;
        println!("wrote {} ({} bytes)", shown(Path::new(&path)), bytes.len());
    }
    Ok(ExitCode::SUCCESS)
}
