//! Interop checks: the xfrsim engine on real loopback sockets against the real servers it
//! models — BIND 9, Knot DNS and NSD — started by each check in a directory of its own.
//!
//! `cargo xtask interop` runs every check and prints `interop <peer> <check> ok|FAIL <why>`;
//! the crate's integration test runs the same checks under `cargo test`.

mod checks;
mod client;
mod ours;
mod peer;
mod workdir;
mod zonetext;

use std::time::{Duration, Instant};

pub use checks::{Check, CheckFailure, all_checks};
pub use peer::{Peer, Program, missing_packages};
pub use workdir::KEEP_ENV;

/// Polls `probe` every 50 ms until it returns `Some`, or `timeout` passes (`None`).
///
/// Real servers run on the wall clock; this crate is the one place outside the driver's
/// `WallClock` that reads it, and nothing in it runs inside a simulation.
#[expect(clippy::disallowed_methods, reason = "interop waits on real servers, in real time")]
pub(crate) fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
