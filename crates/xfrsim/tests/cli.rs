//! `xfrsim` as an installed binary meets users: scenario files from any directory, names of
//! bundled scenarios only inside a checkout, its own name in help and in reproduce lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the checkout")
}

/// A fresh directory outside the checkout (the system's temporary directory).
fn outside(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xfrsim-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    assert!(!dir.starts_with(checkout()), "the temporary directory is inside the checkout");
    dir
}

/// `xfrsim` in `dir`, with nothing pointing it at the checkout.
fn xfrsim(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xfrsim"))
        .args(args)
        .current_dir(dir)
        .env_remove("XFRSIM_WORKSPACE")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("xfrsim runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_scenario_file_runs_from_a_directory_outside_the_checkout() {
    let dir = outside("file");
    std::fs::copy(checkout().join("scenarios/chain.ron"), dir.join("mine.ron")).expect("copy");
    let out = xfrsim(&dir, &["run", "mine.ron"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("PASS mine seed=9 events="), "{stdout}");
    assert_eq!(lines[1..], ["1 passed, 0 failed"], "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_name_outside_a_checkout_is_one_line_asking_for_a_path() {
    let dir = outside("name");
    let out = xfrsim(&dir, &["run", "chain"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: `chain` is not a file") && stderr.contains("give a scenario file's path"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_name_inside_a_checkout_resolves_from_any_directory_in_it() {
    let out = xfrsim(&checkout().join("crates/xfrsim/src"), &["run", "chain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("PASS chain seed=9 events="), "{}", text(&out.stdout));
}

#[test]
fn a_failing_run_says_how_to_replay_it_with_xfrsim_and_leaves_its_picture_here() {
    let dir = outside("reproduce");
    let fixture = checkout().join("xtask/tests/data/never-converges.ron");
    std::fs::copy(fixture, dir.join("never-converges.ron")).expect("copy");
    let out = xfrsim(&dir, &["run", "never-converges.ron"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\n  reproduce: xfrsim replay never-converges.ron --seed 6523\n"), "{stdout}");
    assert!(stdout.contains("\n  picture: xfrsim-out/never-converges-seed6523.html\n"), "{stdout}");
    assert!(dir.join("xfrsim-out/never-converges-seed6523.html").is_file());
    // The reproduce line works as printed.
    let replayed = xfrsim(&dir, &["replay", "never-converges.ron", "--seed", "6523"]);
    assert!(text(&replayed.stdout).lines().last().is_some_and(|l| l.starts_with("digest=")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_names_xfrsim_and_only_the_product_commands() {
    let out = xfrsim(&std::env::temp_dir(), &["--help"]);
    let help = text(&out.stdout);
    assert!(help.contains("Usage: xfrsim <COMMAND>"), "{help}");
    for command in ["run", "replay", "explore", "events", "bless", "serve"] {
        assert!(help.contains(&format!("\n  {command} ")), "{command}: {help}");
    }
    for development in ["interop", "fuzz", "bench"] {
        assert!(!help.contains(&format!("\n  {development} ")), "{development}: {help}");
    }
}

#[test]
fn replay_takes_a_bundled_scenario_by_name_as_run_does() {
    let by_path = xfrsim(&checkout(), &["replay", "scenarios/chain.ron"]);
    let by_name = xfrsim(&checkout(), &["replay", "chain"]);
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name.stderr));
    assert!(text(&by_name.stdout).ends_with("digest=88e368f0c82e6a00\n"), "{}", text(&by_name.stdout));
    assert_eq!(by_name.stdout, by_path.stdout, "a name replays the same file");
}
