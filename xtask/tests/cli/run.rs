//! `cargo xtask run` and `bless` as CI meets them: names, `--list`, seed sweeps, the totals
//! line, the JSON and JUnit reports, and bless refusing a scenario that fails.
//!
//! Fixtures in `xtask/tests/data/`: `jitter-window.ron` passes at its own seed (5) and fails at
//! seeds 0 and 6 (a window narrower than BIND's refresh jitter); `never-converges.ron` fails
//! its `Converged` at every seed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(file).display().to_string()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).current_dir(root()).output().expect("xtask runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xfrsim-run-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

/// `<N> passed, <M> failed`, parsed from the last line, which must be that alone.
fn totals(text: &str) -> (usize, usize) {
    let last = text.lines().last().unwrap_or_default();
    let (passed, failed) = last.split_once(" passed, ").unwrap_or_else(|| panic!("no totals line: {last:?}"));
    let failed = failed.strip_suffix(" failed").unwrap_or_else(|| panic!("no totals line: {last:?}"));
    (passed.parse().expect("a count"), failed.parse().expect("a count"))
}

/// The bundled scenarios' names in the order `run` takes them: by file name (so `chain-...`
/// comes before `chain`, as `-` sorts before `.`).
fn bundled_names() -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    paths.sort();
    paths.iter().map(|p| p.file_stem().unwrap_or_default().to_string_lossy().into_owned()).collect()
}

#[test]
fn a_name_runs_its_scenario_and_an_exact_name_wins_over_longer_ones() {
    let out = xtask(&["run", "chain"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("PASS chain seed=9 events="), "{text}");
    // Fields are only ever added at the end of the contract line.
    let fields: Vec<&str> = lines[0].split(' ').skip(2).map(|f| f.split('=').next().unwrap_or_default()).collect();
    assert_eq!(fields, ["seed", "events", "converged", "digest", "transfers", "notifies", "bytes"], "{text}");
    assert_eq!(lines[1], "1 passed, 0 failed");
}

#[test]
fn an_ambiguous_or_unknown_name_is_one_line_with_the_candidates() {
    let out = xtask(&["run", "two-masters"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("two-masters-first-behind") && err.contains("two-masters-first-down"), "{err}");

    let out = xtask(&["run", "chian"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: no scenario named `chian`; did you mean chain"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn list_prints_every_bundled_scenario_with_its_description() {
    let out = xtask(&["run", "--list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let names: Vec<&str> = text.lines().map(|l| l.split_whitespace().next().unwrap_or_default()).collect();
    assert_eq!(names, bundled_names(), "{text}");
    let chain = text.lines().find(|l| l.starts_with("chain ")).expect("chain listed");
    assert!(chain.ends_with("chain primary → secondary → secondary, NOTIFY along the chain"), "{chain}");
}

#[test]
fn a_bad_seed_range_is_one_line() {
    for range in ["5..5", "9..2", "x..3", "7"] {
        let out = xtask(&["run", "chain", "--seeds", range]);
        assert_eq!(out.status.code(), Some(2), "{range}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{range}: {err}");
        assert!(err.starts_with("error: invalid value"), "{range}: {err}");
    }
}

#[test]
fn seeds_reports_each_failing_seed_with_its_reproduce_line_and_counts_every_run() {
    let file = data("jitter-window.ron");
    let out = xtask(&["run", &file, "--seeds", "0..8", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let verdicts: Vec<&str> = text.lines().filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL ")).collect();
    assert_eq!(verdicts.len(), 8, "{text}");
    for (seed, line) in verdicts.iter().enumerate() {
        assert!(line.contains(&format!(" seed={seed} ")), "seeds in order: {text}");
    }
    assert!(verdicts[0].starts_with("FAIL jitter-window seed=0 "), "{text}");
    assert!(verdicts[5].starts_with("PASS jitter-window seed=5 "), "{text}");
    assert!(verdicts[6].starts_with("FAIL jitter-window seed=6 "), "{text}");
    let failed = verdicts.iter().filter(|l| l.starts_with("FAIL")).count();
    for line in verdicts.iter().filter(|l| l.starts_with("FAIL")) {
        let seed = line.split(" seed=").nth(1).and_then(|s| s.split(' ').next()).expect("seed");
        let reproduce = format!("  reproduce: cargo xtask replay xtask/tests/data/jitter-window.ron --seed {seed}");
        assert!(text.lines().any(|l| l == reproduce), "{reproduce} missing: {text}");
    }
    assert_eq!(totals(&text), (8 - failed, failed), "{text}");
}

#[test]
fn parallel_runs_print_what_a_sequential_run_prints() {
    let file = data("jitter-window.ron");
    let args = |jobs: &'static str| ["run", "chain", "notify-lost", file.as_str(), "--seeds", "3..7", "--jobs", jobs];
    let sequential = xtask(&args("1"));
    let parallel = xtask(&args("2"));
    assert_eq!(stdout(&sequential), stdout(&parallel));
    assert_eq!(totals(&stdout(&sequential)).0 + totals(&stdout(&sequential)).1, 12);
}

#[test]
fn a_failed_converged_shows_each_server_at_the_deadline_and_events_one_per_line() {
    let out = xtask(&["run", &data("never-converges.ron")]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| *l == "    at 00:30:00.000:").unwrap_or_else(|| panic!("{text}"));
    assert!(lines[at + 1].starts_with("      ns1 serving serial 2026010101 (digest "), "{text}");
    assert_eq!(lines[at + 2], "      ns2 not serving (never loaded, or server down)", "{text}");
    let nearest = lines.iter().position(|l| *l == "    nearest events:").unwrap_or_else(|| panic!("{text}"));
    assert!(lines[nearest + 1].starts_with("      00:") && lines[nearest + 1].contains(" ns2 6523 "), "{text}");
    // Instants in one format: the expectation's deadline as the timeline writes times.
    assert!(lines[1].ends_with("by 00:30:00.000 and from then on"), "{text}");
}

#[test]
fn json_report_has_each_run_with_its_failures_states_and_reproduce_command() {
    let out = xtask(&["run", &data("never-converges.ron"), &data("jitter-window.ron"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON document");
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    let never = &runs[0];
    assert_eq!(never["scenario"], "never-converges");
    assert_eq!(never["seed"], 6523);
    assert_eq!(never["verdict"], "fail");
    assert_eq!(never["reproduce"], "cargo xtask replay xtask/tests/data/never-converges.ron --seed 6523");
    assert_eq!(never["stats"]["converged"], serde_json::Value::Null);
    let failure = &never["failures"][0];
    assert!(failure["expected"].as_str().expect("expected").contains("by 00:30:00.000"));
    assert_eq!(failure["deadline"], "00:30:00.000");
    assert_eq!(failure["states"][0]["server"], "ns1");
    assert_eq!(failure["states"][0]["state"], "serving");
    assert_eq!(failure["states"][0]["serial"], 2026010101);
    assert_eq!(failure["states"][0]["digest"].as_str().expect("digest").len(), 16);
    assert_eq!(failure["states"][1]["state"], "absent");
    assert!(!failure["nearest"].as_array().expect("nearest").is_empty());
    let jitter = &runs[1];
    assert_eq!(jitter["verdict"], "pass");
    assert_eq!(jitter["stats"]["transfers"], 1);
    assert!(jitter["stats"]["bytes"].as_u64().expect("bytes") > 0);
    assert!(jitter["failures"].as_array().expect("failures").is_empty());
}

#[test]
fn junit_report_has_one_testcase_per_scenario_and_seed() {
    let dir = temp_dir("junit");
    let junit = dir.join("report.xml");
    let out = xtask(&["run", &data("jitter-window.ron"), "--seeds", "4..7", "--junit", junit.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let cases: Vec<roxmltree::Node> = document.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attribute("name").unwrap_or_default()).collect();
    assert_eq!(names, ["jitter-window seed=4", "jitter-window seed=5", "jitter-window seed=6"]);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap_or_default())
        .collect();
    assert_eq!(failed, ["jitter-window seed=4", "jitter-window seed=6"]);
    let failure = cases[2].children().find(|n| n.has_tag_name("failure")).expect("failure");
    let body = failure.text().unwrap_or_default();
    assert!(body.contains("expected at least 1× 6521 on ns2 between 00:55:00.000 and 01:01:00.000"), "{body}");
    assert!(body.contains("reproduce: cargo xtask replay xtask/tests/data/jitter-window.ron --seed 6"), "{body}");
    let suite = document.descendants().find(|n| n.has_tag_name("testsuite")).expect("testsuite");
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("2"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A workspace of its own for bless: `scenarios/` with the given files, `tests/snapshots/`.
fn bless_workspace(test: &str, files: &[(&str, PathBuf)]) -> PathBuf {
    let dir = temp_dir(test);
    std::fs::create_dir_all(dir.join("scenarios")).expect("scenarios/");
    std::fs::create_dir_all(dir.join("tests/snapshots")).expect("tests/snapshots/");
    for (name, from) in files {
        std::fs::copy(from, dir.join("scenarios").join(name)).expect("copy");
    }
    dir
}

fn bless(workspace: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("bless")
        .args(args)
        .env("XFRSIM_WORKSPACE", workspace)
        .current_dir(workspace)
        .output()
        .expect("xtask runs")
}

#[test]
fn bless_refuses_a_scenario_failing_at_a_seed_the_snapshot_test_checks() {
    // Passes at its own seed, 5, fails at 6: `cargo test` checks 5, 6 and 7.
    let workspace = bless_workspace("refuse", &[("jitter-window.ron", data("jitter-window.ron").into())]);
    let out = bless(&workspace, &["jitter-window"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("REFUSED jitter-window: expectations unmet at seed 6\n"), "{text}");
    assert!(text.contains("reproduce: cargo xtask replay scenarios/jitter-window.ron --seed 6"), "{text}");
    assert_eq!(text.lines().last(), Some("0 blessed, 1 refused"));
    assert!(!workspace.join("tests/snapshots/jitter-window.snap").exists(), "a failing scenario was blessed");
    let _ = std::fs::remove_dir_all(&workspace);
}

#[test]
fn bless_writes_the_snapshot_cargo_test_compares() {
    let workspace = bless_workspace("write", &[("chain.ron", root().join("scenarios/chain.ron"))]);
    let out = bless(&workspace, &[]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "blessed chain seeds=9,10,11 new\n1 blessed, 0 refused\n");
    let written = std::fs::read_to_string(workspace.join("tests/snapshots/chain.snap")).expect("snapshot written");
    let committed = std::fs::read_to_string(root().join("tests/snapshots/chain.snap")).expect("committed snapshot");
    assert_eq!(written, committed);
    // Again: nothing to change.
    let out = bless(&workspace, &["chain"]);
    assert_eq!(stdout(&out), "blessed chain seeds=9,10,11 unchanged\n1 blessed, 0 refused\n");
    let _ = std::fs::remove_dir_all(&workspace);
}

#[test]
fn help_shows_the_command_users_type() {
    let out = xtask(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Usage: cargo xtask <COMMAND>"), "{}", stdout(&out));
    let out = xtask(&["run", "--help"]);
    assert!(stdout(&out).contains("Usage: cargo xtask run [OPTIONS] [TARGETS]..."), "{}", stdout(&out));
}

#[test]
fn a_failing_run_writes_its_picture_and_names_it_after_the_reproduce_line() {
    let target = temp_dir("picture");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["run", &data("never-converges.ron"), &data("jitter-window.ron"), "--seed", "5"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root())
        .output()
        .expect("xtask runs");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let reproduce = lines.iter().position(|l| l.starts_with("  reproduce: ") && l.contains("never-converges"));
    let reproduce = reproduce.unwrap_or_else(|| panic!("{text}"));
    let picture = lines[reproduce + 1].strip_prefix("  picture: ").unwrap_or_else(|| panic!("{text}"));
    let html = std::fs::read_to_string(root().join(picture)).unwrap_or_else(|e| panic!("{picture}: {e}"));
    assert!(picture.ends_with("xfrsim/never-converges-seed5.html"), "{picture}");
    assert_eq!(html.matches("data-lane=").count(), 2, "a lane per server");
    // A passing run draws nothing.
    assert!(text.contains("PASS jitter-window seed=5 "), "{text}");
    assert!(!target.join("xfrsim/jitter-window-seed5.html").exists());
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        // Far more report than a pipe buffers (64 KiB), so writes fail once the reader is gone.
        .args(["run", "--seeds", "0..2000", &data("jitter-window.ron")])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xtask runs");
    // Read one line, then close the pipe as `| head -1` does.
    let mut first = [0u8; 16];
    child.stdout.take().expect("piped").read_exact(&mut first).expect("a first line");
    let out = child.wait_with_output().expect("xtask ends");
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
