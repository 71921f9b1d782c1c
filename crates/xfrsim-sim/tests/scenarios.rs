//! One test per scenario file under `scenarios/` (`cargo test <name>` filters), each checking:
//! the expectations hold with the file's seed; the timeline matches its committed snapshot in
//! `tests/snapshots/`; the same seed replays byte for byte; two other seeds also meet the
//! expectations; and the timeline is the same with the time warp off (the whole scenario up to
//! two hours long, the first ten minutes of a longer one).
//!
//! Also one test per file under `tests/bad-scenarios/`: loading fails with the message in its
//! snapshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use xfrsim_scenario::DEFAULT_SEED;
use xfrsim_sim::RunOptions;

/// Scenarios up to this long are compared warp on / warp off over their whole length.
const WARP_CHECK_WHOLE_UP_TO: Duration = Duration::from_secs(2 * 3600);
/// Longer ones over this first part.
const WARP_CHECK_PREFIX: Duration = Duration::from_secs(600);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

fn snapshot_settings(input: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(input);
    settings.set_omit_expression(true);
    settings
}

fn scenario_test(path: &Path) -> Result<(), Failed> {
    let loaded = xfrsim_scenario::load(path).map_err(|e| e.to_string())?;
    let seed = loaded.scenario.seed.unwrap_or(DEFAULT_SEED);
    let run = |seed: u64, warp: bool, loaded: &xfrsim_scenario::LoadedScenario| {
        xfrsim_sim::run(loaded, RunOptions { seed, warp }).map_err(|e| Failed::from(format!("seed {seed}: {e}")))
    };
    let outcome = run(seed, true, &loaded)?;
    if !outcome.passed() {
        let failures: Vec<String> = outcome.failures.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{}\n  {}\n  reproduce: cargo xtask replay {} --seed {seed}",
            outcome.summary_line(),
            failures.join("\n  "),
            path.display()
        )
        .into());
    }
    let again = run(seed, true, &loaded)?;
    if again.recording.lines != outcome.recording.lines {
        return Err(format!("seed {seed} did not replay byte for byte").into());
    }
    for other in [seed.wrapping_add(1), seed.wrapping_add(2)] {
        let outcome = run(other, true, &loaded)?;
        if !outcome.passed() {
            let failures: Vec<String> = outcome.failures.iter().map(ToString::to_string).collect();
            return Err(format!(
                "expectations fail with seed {other}:\n  {}\n  reproduce: cargo xtask replay {} --seed {other}",
                failures.join("\n  "),
                path.display()
            )
            .into());
        }
    }
    // Only now, with the expectations met at every seed: under `INSTA_UPDATE=always` insta writes
    // what it is given, and a snapshot must never record a scenario that fails (`cargo xtask
    // bless` keeps the same rule).
    let mut timeline = outcome.recording.lines.join("\n");
    timeline.push_str(&format!("\ndigest={}\n", outcome.digest_hex()));
    snapshot_settings(path).bind(|| insta::assert_snapshot!(loaded.name.as_str(), timeline));

    // Warp equality: the scheduler's jumps against a visit to every millisecond, over the whole
    // scenario when it is at most two hours long, its first ten minutes otherwise (stepping
    // idle days millisecond by millisecond is what the scheduler exists to avoid).
    let mut short = loaded.clone();
    if short.setup.duration > WARP_CHECK_WHOLE_UP_TO {
        short.setup.end_at(WARP_CHECK_PREFIX);
    }
    short.scenario.expect.clear();
    let warped = run(seed, true, &short)?;
    let stepped = run(seed, false, &short)?;
    if warped.recording.lines != stepped.recording.lines {
        let diff = warped
            .recording
            .lines
            .iter()
            .zip(&stepped.recording.lines)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("warp: {a}\nstep: {b}"))
            .unwrap_or_else(|| format!("{} vs {} lines", warped.recording.lines.len(), stepped.recording.lines.len()));
        return Err(format!("the time warp changed the timeline:\n{diff}").into());
    }
    Ok(())
}

fn bad_scenario_test(path: &Path) -> Result<(), Failed> {
    let shown = path.strip_prefix(root()).unwrap_or(path).display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // Loaded from where it is (its zone files are found beside it), shown from the root.
    let error = match xfrsim_scenario::parse(&source, path) {
        Ok(_) => return Err(format!("{shown} loaded, but it is in tests/bad-scenarios to be refused").into()),
        Err(e) => e.to_string().replace(&format!("{}/", root().display()), ""),
    };
    let name = format!("bad-{}", path.file_stem().unwrap_or_default().to_string_lossy());
    snapshot_settings(path).bind(|| insta::assert_snapshot!(name.as_str(), error));
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for path in files(&root().join("scenarios")) {
        let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        trials.push(Trial::test(name, move || scenario_test(&path)));
    }
    for path in files(&root().join("tests/bad-scenarios")) {
        let name = format!("bad::{}", path.file_stem().unwrap_or_default().to_string_lossy());
        trials.push(Trial::test(name, move || bad_scenario_test(&path)));
    }
    libtest_mimic::run(&args, trials).exit();
}
