//! The xfrsim simulation harness: runs a scenario on a simulated network and judges it.
//!
//! [`run`] builds one host per server on the simulated network (xfrsim-net), each running the
//! engine through the driver,
//! applies the timeline, and returns an [`Outcome`]: the timeline (one line per event or
//! action), its digest, and each expectation's verdict.

// Without `--cfg tokio_unstable` an unbiased `tokio::select!` draws from an unseeded RNG and a
// panic in a host task is swallowed: a simulation built so would not replay its seed. Refuse
// to build rather than run a simulator that cannot keep its one promise. The workspace's
// `.cargo/config.toml` sets the flag for every build started inside the checkout.
#[cfg(not(tokio_unstable))]
compile_error!(
    "xfrsim-sim needs `--cfg tokio_unstable` (seeds do not replay without it): the checkout's .cargo/config.toml \
     sets it for `cargo build` and `cargo install --path crates/xfrsim`; a RUSTFLAGS variable replaces that \
     setting, so add `--cfg tokio_unstable` to it"
);

mod check;
mod harness;
mod network;
mod record;
pub mod timeline;

use std::time::Duration;

pub use check::{Failure, ServerState};
pub use network::NetworkStats;
pub use record::{Observed, Recording, Status};
use xfrsim_engine::{EventKind, Time};
use xfrsim_scenario::LoadedScenario;
pub use xfrsim_scenario::generated_zone;

/// Why a scenario could not be run to its end (distinct from expectations failing).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("zone data: {0}")]
    Zone(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("timeline action failed: {0}")]
    Action(String),
    #[error("network simulation failed: {0}")]
    Network(String),
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub seed: u64,
    /// Jump over idle time (see the harness docs). Off only to prove it changes nothing.
    pub warp: bool,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub seed: u64,
    pub recording: Recording,
    pub failures: Vec<Failure>,
    /// When every zone had converged for good, if it did.
    pub converged: Option<Time>,
    pub sim_duration: Duration,
    /// What the simulated network carried.
    pub network: NetworkStats,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn digest_hex(&self) -> String {
        format!("{:016x}", self.recording.digest())
    }

    /// Number of engine events in the timeline.
    pub fn event_count(&self) -> usize {
        self.recording.events.len()
    }

    /// Incoming transfers completed: 6520 DNS_EVENT_ZONE_UPDATE events (a transferred version
    /// installed by a secondary, AXFR or IXFR) on every server.
    pub fn transfer_count(&self) -> usize {
        self.count_events(|kind| matches!(kind, EventKind::ZoneUpdate { .. }))
    }

    /// NOTIFYs sent: XFRSIM_NOTIFY_SENT events, one per target and zone version announced
    /// (retransmissions of the same NOTIFY are not counted).
    pub fn notify_count(&self) -> usize {
        self.count_events(|kind| matches!(kind, EventKind::NotifySent { .. }))
    }

    fn count_events(&self, wanted: impl Fn(&EventKind) -> bool) -> usize {
        self.recording.events.iter().filter(|o| wanted(&o.kind)).count()
    }

    /// The contract line: `PASS|FAIL <name> seed=<N> events=<count> converged=<time|never>
    /// digest=<hex> transfers=<n> notifies=<n> bytes=<n>` (fields are only ever added at the
    /// end: users' CI parses the line).
    pub fn summary_line(&self) -> String {
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let converged = self.converged.map_or_else(|| "never".to_string(), |t| t.to_string());
        format!(
            "{verdict} {} seed={} events={} converged={converged} digest={} transfers={} notifies={} bytes={}",
            self.name,
            self.seed,
            self.event_count(),
            self.digest_hex(),
            self.transfer_count(),
            self.notify_count(),
            self.network.tcp_payload_bytes
        )
    }
}

/// Runs a loaded scenario with the given options, keeping the timeline in
/// `outcome.recording.lines`.
pub fn run(loaded: &LoadedScenario, options: RunOptions) -> Result<Outcome, SimError> {
    run_with(loaded, options, Recording::new(&loaded.setup))
}

/// Runs a loaded scenario, handing each timeline line to `on_line` as the simulation goes
/// instead of keeping it (the recording then holds only what the checks need).
pub fn run_streaming(
    loaded: &LoadedScenario,
    options: RunOptions,
    on_line: impl FnMut(&str) + 'static,
) -> Result<Outcome, SimError> {
    run_with(loaded, options, Recording::streaming(&loaded.setup, Box::new(on_line)))
}

/// Runs with a planted bug ([`xfrsim_engine::Canary`]) in every server, or none, keeping no
/// timeline lines (only the digest): the explorer's run.
pub fn run_quiet(
    loaded: &LoadedScenario,
    options: RunOptions,
    canary: Option<xfrsim_engine::Canary>,
) -> Result<Outcome, SimError> {
    let recording = Recording::streaming(&loaded.setup, Box::new(|_: &str| {}));
    run_inner(loaded, options, recording, canary)
}

/// As [`run_quiet`], keeping the timeline lines (to show where two runs part).
pub fn run_keeping(
    loaded: &LoadedScenario,
    options: RunOptions,
    canary: Option<xfrsim_engine::Canary>,
) -> Result<Outcome, SimError> {
    run_inner(loaded, options, Recording::new(&loaded.setup), canary)
}

/// As [`run_streaming`], with a planted bug in every server (`cargo xtask replay --canary`).
pub fn run_streaming_canary(
    loaded: &LoadedScenario,
    options: RunOptions,
    canary: Option<xfrsim_engine::Canary>,
    on_line: impl FnMut(&str) + 'static,
) -> Result<Outcome, SimError> {
    run_inner(loaded, options, Recording::streaming(&loaded.setup, Box::new(on_line)), canary)
}

fn run_with(loaded: &LoadedScenario, options: RunOptions, recording: Recording) -> Result<Outcome, SimError> {
    run_inner(loaded, options, recording, None)
}

fn run_inner(
    loaded: &LoadedScenario,
    options: RunOptions,
    recording: Recording,
    canary: Option<xfrsim_engine::Canary>,
) -> Result<Outcome, SimError> {
    let mut harness = harness::Harness::new(loaded, options.seed, options.warp, recording, canary)?;
    harness.run()?;
    let recording = std::mem::take(&mut *harness.recording.borrow_mut());
    let network = harness.network_stats();
    drop(harness);
    let end = Time::from_duration(loaded.setup.duration);
    let failures = check::check(&loaded.scenario, &loaded.setup, &recording, end);
    let converged = check::converged_at(&loaded.setup, &recording, end);
    Ok(Outcome {
        name: loaded.name.clone(),
        seed: options.seed,
        recording,
        failures,
        converged,
        sim_duration: loaded.setup.duration,
        network,
    })
}
