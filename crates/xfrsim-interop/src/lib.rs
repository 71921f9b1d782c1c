//! Interop checks: the xfrsim engine on real loopback sockets against the real servers it
//! models — BIND 9, Knot DNS and NSD — started by each check in a directory of its own.
//!
//! `cargo xtask interop` runs every check and prints `interop <peer> <check> ok|FAIL <why>`;
//! the crate's integration test runs the same checks under `cargo test`.

mod axfr;
mod checks;
mod client;
pub mod fixture;
mod ours;
mod peer;
mod program;
mod proxy;
pub mod workdir;
mod zonetext;

use std::io::{Read, Write as _};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use axfr::{Axfr, axfr};
pub use checks::{Check, CheckFailure, all_checks};
pub use peer::{Peer, PeerRole, PeerServer, SecondaryOptions};
pub use program::{Program, find_program, missing_packages};
pub use workdir::{KEEP_ENV, WorkDir, free_port};

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

/// The wall clock now, for stamping what real servers and our nodes report as it arrives (the
/// event-sequence checks compare when things happened on both sides).
#[expect(clippy::disallowed_methods, reason = "interop compares real servers in real time")]
pub(crate) fn wall_now() -> Instant {
    Instant::now()
}

/// Runs a client program (dig, nsupdate, nsd-control, ...) to completion, feeding it `input`;
/// kills it if it has not finished within `timeout`, so no check can hang on one.
pub(crate) fn run_program(mut command: Command, input: &str, timeout: Duration) -> Result<Output, String> {
    let shown = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|e| format!("writing to `{shown}`: {e}"))?;
    }
    // Drain both pipes while waiting: an AXFR prints far more than a pipe buffer holds.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = wait_until(timeout, || child.try_wait().ok().flatten());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("`{shown}` did not finish within {timeout:?}; killed"));
    };
    Ok(Output { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default() })
}
