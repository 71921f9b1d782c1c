//! `cargo xtask replay`'s views of a run: each must show a part of the same timeline, never
//! change its digest, and fail loudly on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A short scenario with a crash, expiry, faults and convergence: every view has something.
fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/two-masters-first-down.ron")
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).env_remove("RUST_LOG").output().expect("xtask runs")
}

fn replay(extra: &[&str]) -> (Vec<String>, String) {
    let path = scenario();
    let mut args = vec!["replay", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = xtask(&args);
    assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    (stdout.lines().map(str::to_string).collect(), String::from_utf8(out.stderr).unwrap())
}

fn digest(lines: &[String]) -> &str {
    lines.last().and_then(|l| l.strip_prefix("digest=")).expect("the last line is the digest")
}

#[test]
fn filtered_lines_are_a_subset_and_the_digest_is_of_the_whole_timeline() {
    let (full, _) = replay(&[]);
    let (filtered, _) =
        replay(&["--server", "ns2", "--event", "xfr_master_unavailable", "--from", "1h", "--until", "3h"]);
    assert_eq!(digest(&filtered), digest(&full));
    let body = &filtered[..filtered.len() - 1];
    assert!(body.len() >= 2 && body.len() < full.len() / 4, "{body:#?}");
    for line in body {
        assert!(full.contains(line), "not in the full timeline: {line}");
        assert!(line.contains(" ns2 6523 "), "{line}");
        let clock = line.split(' ').next().unwrap();
        assert!(("01:00:00.000"..="03:00:00.000").contains(&clock), "{line}");
    }
    // A zone without its trailing dot, and actions kept for context.
    let (zone, _) = replay(&["--zone", "example.com", "--server", "ns1"]);
    assert!(zone.iter().any(|l| l.contains(" ns1 action Crash")), "{zone:#?}");
    assert!(zone[..zone.len() - 1].iter().all(|l| l.contains(" ns1 ")), "{zone:#?}");
}

#[test]
fn json_lines_parse_with_every_field() {
    let (text, _) = replay(&[]);
    let (json, _) = replay(&["--format", "json"]);
    assert_eq!(json.len(), text.len(), "one object per line, and the digest");
    for (object, line) in json.iter().zip(&text) {
        let value: serde_json::Value = serde_json::from_str(object).unwrap_or_else(|e| panic!("{e}: {object}"));
        if let Some(digest) = value.get("digest") {
            assert_eq!(Some(digest.as_str().unwrap()), line.strip_prefix("digest="));
            continue;
        }
        assert_eq!(value["time"].as_str(), line.split(' ').next(), "{object}");
        assert!(value["time_ms"].is_u64(), "{object}");
        assert_eq!(value["server"].as_str(), line.split(' ').nth(1), "{object}");
        if value["type"] == "action" {
            assert!(line.contains(" action "), "{line}");
            continue;
        }
        for field in ["zone", "event_id", "name", "severity", "params"] {
            assert!(value.get(field).is_some(), "{field} missing: {object}");
        }
        assert!(line.contains(value["name"].as_str().unwrap()), "{object} / {line}");
        if value["event_id"] == 6523 {
            assert_eq!(value["severity"], "warning");
            assert_eq!(value["params"]["master"], "192.0.2.1:53");
            assert_eq!(value["params"]["reason"], "connection refused");
        }
    }
    assert!(json.iter().any(|l| l.contains("\"event_id\":6527")), "the expiry is there");
}

#[test]
fn the_table_shows_each_serial_change() {
    let (full, _) = replay(&[]);
    let (table, _) = replay(&["--table"]);
    assert_eq!(digest(&table), digest(&full));
    assert_eq!(table[0], "zone example.com.");
    let header: Vec<&str> = table[1].split_whitespace().collect();
    assert_eq!(header, ["time", "ns1", "ns3", "ns2"]);
    let rows = &table[2..table.len() - 1];
    assert!(rows.iter().all(|r| r.contains('*')), "a row is an instant where something changed: {rows:#?}");
    let cells = |at: &str| -> Vec<String> {
        let row = rows.iter().find(|r| r.starts_with(at)).unwrap_or_else(|| panic!("no row at {at}: {rows:#?}"));
        row.split_whitespace().skip(1).map(str::to_string).collect()
    };
    // ns1 crashes at 30 min; both secondaries expire at 4 h; the update reaches everyone.
    assert_eq!(cells("00:30:00.000"), ["-*", "2026010101", "2026010101"]);
    assert!(rows.iter().any(|r| r.starts_with("04:00:00") && r.ends_with("expired*")), "{rows:#?}");
    let last: Vec<String> =
        rows.last().unwrap().split_whitespace().skip(1).map(|c| c.trim_end_matches('*').to_string()).collect();
    assert_eq!(last, ["2026010102"; 3]);
}

#[test]
fn diff_seed_names_the_first_differing_line_or_says_identical() {
    let (differ, _) = replay(&["--seed", "7", "--diff-seed", "8"]);
    assert!(differ[0].starts_with("seeds 7 and 8: first difference at line "), "{differ:#?}");
    let n = differ[0].rsplit(' ').next().unwrap();
    assert!(differ[1].starts_with(&format!("  seed 7 line {n}: ")), "{differ:#?}");
    assert!(differ[2].starts_with(&format!("  seed 8 line {n}: ")), "{differ:#?}");
    assert_ne!(differ[1].split_once(": ").unwrap().1, differ[2].split_once(": ").unwrap().1);
    let (same, _) = replay(&["--seed", "7", "--diff-seed", "7"]);
    assert!(same[0].starts_with("seeds 7 and 7: identical timelines ("), "{same:#?}");
}

#[test]
fn bad_flags_are_one_line_errors() {
    let path = scenario();
    for (flag, value, expect) in [
        ("--from", "2x", "error: --from `2x`"),
        ("--until", "soon", "error: --until `soon`"),
        ("--event", "6532", "did you mean 6523"),
        ("--server", "ns9", "error: --server `ns9`"),
    ] {
        let out = xtask(&["replay", path.to_str().unwrap(), flag, value]);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing ran");
    }
}

#[test]
fn rust_log_traces_engine_events_on_stderr_only() {
    let (quiet, quiet_err) = replay(&[]);
    assert!(quiet_err.is_empty(), "{quiet_err}");
    let path = scenario();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["replay", path.to_str().unwrap()])
        .env("RUST_LOG", "xfrsim::event=error")
        .output()
        .unwrap();
    let stdout: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(stdout, quiet, "stdout is the contract, whatever RUST_LOG says");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("DNS_EVENT_ZONE_EXPIRATION") && stderr.contains("sim_time=\"04:00:00"), "{stderr}");
    assert!(!stderr.contains("DNS_EVENT_ZONE_IN_SYNC"), "info is filtered out: {stderr}");
}

// The picture's content is tested in crates/xfrsim-picture; here, that the command writes it.
#[test]
fn html_writes_the_picture_and_changes_nothing_on_stdout() {
    let (full, _) = replay(&[]);
    let out = std::env::temp_dir().join(format!("xfrsim-replay-{}.html", std::process::id()));
    let (with_html, stderr) = replay(&["--html", out.to_str().unwrap()]);
    assert_eq!(with_html, full, "the picture changes nothing on stdout");
    assert!(stderr.contains(&format!("wrote {}", out.display())), "{stderr}");
    let html = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(html.matches("data-lane=").count(), 3);
}
