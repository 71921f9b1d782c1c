//! `cargo xtask interop`: every interop check against BIND, Knot and NSD, one line each, then
//! the totals alone on the last line. Exit status 0 iff none failed.
//!
//! Output contract: `interop <peer> <check> ok` or `interop <peer> <check> FAIL <why>`, in the
//! order of `xfrsim_interop::all_checks`, then `<N> passed, <M> failed`. What to look at after
//! a failure (our timeline, the peer's log) goes to stderr.

use std::process::ExitCode;

use anyhow::Result;
use xfrsim_interop::{Check, CheckFailure, KEEP_ENV, all_checks};

/// Checks run this many at a time: each has its own ports and directory, and most of a check
/// is waiting on another process.
const PARALLEL: usize = 4;

/// Runs a check; a panic (a bug in a check or in the engine) is that check's failure, not the
/// end of the run: the other checks still report and the totals line still comes. The check's
/// servers were stopped while unwinding.
fn run_catching_panics(check: &Check) -> Result<(), CheckFailure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check.run())).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(CheckFailure::Failed { why: format!("panicked: {message}"), details: String::new() })
    })
}

pub fn run(peer: Option<&str>) -> Result<ExitCode> {
    let checks: Vec<Check> = all_checks().into_iter().filter(|c| peer.is_none_or(|p| p == c.peer_name())).collect();
    if checks.is_empty() {
        anyhow::bail!("no checks for peer `{}` (peers: bind, knot, nsd, none)", peer.unwrap_or_default());
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    // Printed in check order as soon as every earlier check has finished.
    xfrsim_report::run_ordered(
        &checks,
        PARALLEL,
        |_, check| run_catching_panics(check),
        |index, result| {
            let check = &checks[index];
            match result {
                Ok(()) => {
                    passed += 1;
                    println!("interop {} {} ok", check.peer_name(), check.name);
                }
                Err(failure) => {
                    failed += 1;
                    println!("interop {} {} FAIL {}", check.peer_name(), check.name, failure.why());
                    if !failure.details().is_empty() {
                        eprintln!("{}", failure.details().trim_end());
                    }
                }
            }
        },
    );
    if failed > 0 && std::env::var_os(KEEP_ENV).is_none() {
        eprintln!("(set {KEEP_ENV}=1 to keep each check's directory: configurations, zone files, server logs)");
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
