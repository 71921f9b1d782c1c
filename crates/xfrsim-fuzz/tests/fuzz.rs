//! The fuzz targets on their committed corpus, every recorded regression, and a short seeded
//! run per target (`cargo xtask fuzz` runs long ones).

use std::path::{Path, PathBuf};
use std::time::Duration;

use xfrsim_fuzz::runner::{RunOptions, Runner};
use xfrsim_fuzz::{ALL_TARGETS, DEFAULT_ALLOC_CAP_BYTES, DEFAULT_DEADLINE, Mutator, Target};

/// Inputs per target in the short run: enough to pass every kind of edit many times, few
/// enough for a debug build to take a few seconds.
const SHORT_RUN_INPUTS: u64 = 400;
const SHORT_RUN_SEED: u64 = 6523;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn runner(target: Target) -> Runner {
    let options = RunOptions {
        // A debug build on a shared machine is slower than the release build the command uses.
        deadline: DEFAULT_DEADLINE * 5,
        alloc_cap_bytes: DEFAULT_ALLOC_CAP_BYTES,
        crash_dir: fuzz_dir().join("crashes"),
    };
    let fatal = Box::new(|failure: &xfrsim_fuzz::Failure| {
        eprintln!("{} {} (input: {:?})", failure.target.name(), failure.kind, failure.path);
    });
    Runner::new(target, options, fatal).expect("runner starts")
}

/// Corpus files of a target by name.
fn corpus_files(target: Target) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target.name());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn corpus_reaches_past_the_parsers() {
    for target in ALL_TARGETS {
        let mut runner = runner(target);
        for (name, input) in corpus_files(target) {
            let reach = runner.run_input(&input).unwrap_or_else(|panic| panic!("{} {name}: {panic}", target.name()));
            // What each kind of corpus file must get to, or it tests only the first parser.
            let expected_accepted = match target {
                Target::MessageSecondary => {
                    name.starts_with("axfr-") && name != "axfr-notauth.bin" || name.starts_with("ixfr-restored")
                }
                // The engine answers no referrals or wildcards (NXDOMAIN): those two only reach
                // the lookup.
                Target::MessagePrimary => !matches!(name.as_str(), "referral-query.bin" | "wildcard-query.bin"),
                Target::Scenario => !name.starts_with("bad-"),
                Target::NodeConfig => true,
                Target::MasterFile => name == "example.com.zone" || name == "directives.zone",
            };
            if expected_accepted {
                assert!(reach.accepted, "{} {name}: not accepted ({reach:?})", target.name());
            }
            if target == Target::MessagePrimary {
                assert!(reach.sent_messages + reach.sent_datagrams > 0, "{name}: the primary answered nothing");
            }
        }
    }
}

#[test]
fn committed_message_corpus_is_what_the_generator_writes() {
    for (target, name, bytes) in xfrsim_fuzz::message_corpus() {
        let path = fuzz_dir().join("corpus").join(target.name()).join(format!("{name}.bin"));
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(committed, bytes, "{}: run `cargo xtask fuzz all --write-corpus`", path.display());
    }
}

/// Every input that once failed, kept under `fuzz/regressions/<target>/`, now passes.
#[test]
fn regressions_replay() {
    for target in ALL_TARGETS {
        let dir = fuzz_dir().join("regressions").join(target.name());
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut runner = runner(target);
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).unwrap();
            if let Err(panic) = runner.run_input(&input) {
                panic!("{}: {panic}", file.display());
            }
        }
    }
}

#[test]
fn short_seeded_run_per_target() {
    for target in ALL_TARGETS {
        let corpus = xfrsim_fuzz::load_corpus(&fuzz_dir().join("corpus").join(target.name())).unwrap();
        let report = runner(target).fuzz(&corpus, SHORT_RUN_SEED, SHORT_RUN_INPUTS, &mut |_, _| {}).unwrap();
        assert_eq!(report.inputs, SHORT_RUN_INPUTS);
        let failures: Vec<String> = report.failures.iter().map(|f| format!("{} {:?}", f.kind, f.path)).collect();
        assert_eq!(report.failure_count, 0, "{}: {failures:#?}", target.name());
    }
}

#[test]
fn same_seed_same_inputs() {
    let corpus = vec![b"example.com. 300 IN A 192.0.2.1\n".to_vec(), vec![0, 1, 2, 3, 0xc0, 0x0c]];
    let inputs = |seed: u64| {
        let mut mutator = Mutator::new(seed, true);
        let mut input = Vec::new();
        (0..200)
            .map(|_| {
                mutator.next_input(&corpus, &mut input);
                input.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(inputs(1), inputs(1));
    assert_ne!(inputs(1), inputs(2));
    assert!(inputs(3).iter().all(|i| i.len() <= xfrsim_fuzz::MAX_INPUT_BYTES));
}

/// Set in the child process of the tests below: where it writes the input.
const CHILD_CRASH_DIR: &str = "XFRSIM_FUZZ_TEST_CRASH_DIR";

/// A cap small enough that loading a bundled scenario passes it.
const TINY_ALLOC_CAP_BYTES: usize = 64 * 1024;

/// A deadline every slow input passes: one watchdog tick.
const TINY_DEADLINE: Duration = Duration::from_millis(1);

/// A hang or an allocation overrun ends the process, so a test runs itself again as a child
/// process (that test alone) and checks the child's exit status and the input it wrote. In the
/// child (`CHILD_CRASH_DIR` set) this runs the input and must never return.
fn assert_fatal(test: &str, target: Target, input: &[u8], deadline: Duration, alloc_cap_bytes: usize) {
    if let Some(crash_dir) = std::env::var_os(CHILD_CRASH_DIR) {
        let options = RunOptions { deadline, alloc_cap_bytes, crash_dir: crash_dir.into() };
        let fatal = Box::new(|failure: &xfrsim_fuzz::Failure| println!("fatal: {}", failure.kind));
        let mut runner = Runner::new(target, options, fatal).unwrap();
        let _ = runner.run_input(input);
        panic!("the input ran to its end");
    }
    let crash_dir = std::env::temp_dir().join(format!("xfrsim-fuzz-test-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&crash_dir);
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_CRASH_DIR, &crash_dir)
        .output()
        .unwrap();
    let written = std::fs::read(crash_dir.join(target.name()).join(xfrsim_fuzz::input_hash(input)));
    let _ = std::fs::remove_dir_all(&crash_dir);
    assert_eq!(child.status.code(), Some(xfrsim_fuzz::runner::FATAL_EXIT_CODE), "{child:?}");
    assert_eq!(written.unwrap(), input);
    let stdout = String::from_utf8_lossy(&child.stdout);
    let expected = if alloc_cap_bytes == TINY_ALLOC_CAP_BYTES { "fatal: allocation cap" } else { "fatal: hang" };
    assert!(stdout.contains(expected), "{stdout}");
}

#[test]
fn allocation_overrun_ends_the_run_and_keeps_the_input() {
    let input = std::fs::read(fuzz_dir().join("corpus/scenario/many-zones-transfer-quota.ron")).unwrap();
    let test = "allocation_overrun_ends_the_run_and_keeps_the_input";
    assert_fatal(test, Target::Scenario, &input, DEFAULT_DEADLINE * 5, TINY_ALLOC_CAP_BYTES);
}

#[test]
fn hang_ends_the_run_and_keeps_the_input() {
    // Half a million generated records: seconds of work, far past one watchdog tick.
    let mut input = b"@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\n".to_vec();
    for i in 0..8 {
        input.extend_from_slice(format!("$GENERATE 1-65535 h{i}-$ A 10.0.0.1\n").as_bytes());
    }
    let test = "hang_ends_the_run_and_keeps_the_input";
    assert_fatal(test, Target::MasterFile, &input, TINY_DEADLINE, DEFAULT_ALLOC_CAP_BYTES);
}

#[test]
fn bad_input_to_the_command_is_an_error() {
    assert_eq!(
        Target::from_name("dns").unwrap_err().to_string(),
        "unknown fuzz target `dns` (targets: message-primary, message-secondary, scenario, node-config, master-file, all)"
    );
    let missing = fuzz_dir().join("corpus").join("no-such-target");
    let error = xfrsim_fuzz::load_corpus(&missing).unwrap_err().to_string();
    assert!(error.starts_with("cannot read corpus ") && error.ends_with("entity not found"), "{error}");
}
