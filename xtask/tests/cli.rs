//! The command line as a user meets it: a user error is one line on stderr and exit status 1,
//! never a backtrace — also with `RUST_BACKTRACE=1` set, as many CI environments have it.

use std::process::Command;

#[test]
fn a_user_error_is_one_line_even_with_rust_backtrace_set() {
    for args in [&["replay", "/nonexistent/scenario.ron"][..], &["serve", "/nonexistent/node.ron"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("xtask runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("error: /nonexistent/"), "{args:?}: {stderr}");
        assert!(!stderr.contains("backtrace") && !stderr.contains("Stack"), "{args:?}: {stderr}");
    }
}

// `serve` on real loopback sockets: zone files, restarts and SIGHUP.
#[path = "cli/serve.rs"]
mod serve;

// `run` and `bless`: names, --list, seed sweeps, reports.
#[path = "cli/run.rs"]
mod run;

// `replay`'s filters, table, JSON, seed diff, tracing and picture.
#[path = "cli/replay.rs"]
mod replay;

// `events`: one event in full, the list, docs/events.md.
#[path = "cli/events.rs"]
mod events;
