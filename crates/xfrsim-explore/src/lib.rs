//! Swarm exploration: each seed derives a plan (topology variation, enabled fault kinds, a
//! fault schedule: [`plan`]), renders it to an ordinary scenario, runs it twice (the digests
//! must match), and judges it: the scenario's own expectation (convergence within the bound
//! of [`bound`] after everything heals) and the outside checkers of [`invariants`]. A failing
//! plan is shrunk ([`shrink`]) to the smallest schedule that still fails.

pub mod bound;
pub mod invariants;
pub mod plan;
pub mod shrink;

use std::path::Path;
use std::time::Duration;

use xfrsim_engine::{Behaviour, Canary};
use xfrsim_scenario::{LoadedScenario, Scenario, ServerSpec};
use xfrsim_sim::RunOptions;

pub use bound::ExpireIntervals;
pub use plan::{Fault, FaultKind, Plan, generate};

/// Why a plan could not be judged (distinct from it failing).
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("the generated scenario does not serialise: {0}")]
    Serialise(String),
    #[error("the generated scenario does not load: {0}")]
    Load(String),
    #[error("the simulation failed: {0}")]
    Sim(#[from] xfrsim_sim::SimError),
}

/// What one run of a plan showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub digest: u64,
    /// Unmet expectations and broken invariants, one line each; empty when the run passed.
    pub failures: Vec<String>,
    /// Set when the second run's timeline differed from the first's: where.
    pub nondeterminism: Option<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.nondeterminism.is_none()
    }

    /// A short key of what failed, for checking that a shrunk plan fails the same way: the
    /// first failure's kind (the text up to its first `:`, times and servers removed).
    pub fn signature(&self) -> Option<String> {
        if self.nondeterminism.is_some() {
            return Some("nondeterminism".into());
        }
        self.failures.first().map(|f| signature_of(f))
    }
}

fn signature_of(failure: &str) -> String {
    if let Some(rest) = failure.strip_prefix("invariant: ") {
        // `invariant: <time> <server>: <what>`: the words of `what` before its first number.
        let what = rest.split_once(": ").map_or(rest, |(_, w)| w);
        let words: Vec<&str> = what.split(' ').take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit())).collect();
        return format!("invariant: {}", words.join(" "));
    }
    if failure.starts_with("panic: ") {
        return "panic".to_string();
    }
    "expectation: converged".to_string()
}

/// The scenario as RON text: what a failing seed writes, and what every run loads, so the file
/// replays exactly what was explored.
pub fn to_ron(scenario: &Scenario) -> Result<String, ExploreError> {
    let config = ron::ser::PrettyConfig::default().struct_names(false);
    ron::ser::to_string_pretty(scenario, config).map_err(|e| ExploreError::Serialise(e.to_string()))
}

/// Loads the plan's scenario through the scenario loader (every check a file gets).
pub fn load(plan: &Plan) -> Result<(String, LoadedScenario), ExploreError> {
    let text = to_ron(&plan.scenario())?;
    let path = format!("explore-{}.ron", plan.seed);
    let loaded = xfrsim_scenario::parse(&text, Path::new(&path)).map_err(|e| ExploreError::Load(e.to_string()))?;
    Ok((text, loaded))
}

/// Runs a plan twice and judges it. A panic in the simulation is a failure of the plan (a bug
/// in the harness or the engine), so it is shrunk and written like any other.
pub fn judge(plan: &Plan, canary: Option<Canary>) -> Result<Verdict, ExploreError> {
    let (_, loaded) = load(plan)?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| judge_loaded(&loaded, canary))) {
        Ok(verdict) => verdict,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "(no message)".into());
            Ok(Verdict { digest: 0, failures: vec![format!("panic: {message}")], nondeterminism: None })
        }
    }
}

/// Runs a loaded explore scenario twice (the second only to compare digests) and judges it.
pub fn judge_loaded(loaded: &LoadedScenario, canary: Option<Canary>) -> Result<Verdict, ExploreError> {
    let seed = loaded.scenario.seed.unwrap_or(xfrsim_scenario::DEFAULT_SEED);
    let options = RunOptions { seed, warp: true };
    let first = xfrsim_sim::run_quiet(loaded, options, canary)?;
    let second = xfrsim_sim::run_quiet(loaded, options, canary)?;
    let nondeterminism =
        (first.recording.digest() != second.recording.digest()).then(|| first_difference(loaded, options, canary));
    let mut failures: Vec<String> = first.failures.iter().map(|f| format!("expectation: {f}")).collect();
    for violation in outside_checks(loaded, &first.recording) {
        failures.push(format!("invariant: {violation}"));
    }
    Ok(Verdict { digest: first.recording.digest(), failures, nondeterminism })
}

/// The outside checkers over a run of an explore scenario (server 0 is the primary of its one
/// zone).
pub fn outside_checks(loaded: &LoadedScenario, recording: &xfrsim_sim::Recording) -> Vec<invariants::Violation> {
    let scenario = &loaded.scenario;
    let (Some(primary), Some(zone)) = (scenario.servers.first(), scenario.zones.first()) else {
        return Vec::new();
    };
    // A server the scenario does not name has no events to judge: any interval will do.
    let never = ExpireIntervals { after_transfer: Duration::MAX, after_in_sync: Duration::MAX };
    let expire_of = |server: &str| expire_intervals(loaded, server).unwrap_or(never);
    invariants::check(recording, &primary.name, &zone.origin, &expire_of)
}

/// The expire intervals the outside checkers hold `server` to for the scenario's first zone,
/// whose primary is the first server: the timers the primary serves (the loaded zone's SOA) as
/// the engine uses them on that server ([`bound::expire_intervals`]). `None` for a server or
/// zone the scenario does not have.
pub fn expire_intervals(loaded: &LoadedScenario, server: &str) -> Option<ExpireIntervals> {
    let origin = &loaded.scenario.zones.first()?.origin;
    let soa = loaded.setup.zones.first()?.data.soa();
    let primary = zone_behaviour(loaded.scenario.servers.first()?, origin)?;
    let secondary = zone_behaviour(loaded.scenario.servers.iter().find(|s| s.name == server)?, origin)?;
    Some(bound::expire_intervals(&secondary, &primary, bound::SoaTimers::from(soa)))
}

/// A server's behaviour for one zone, as the harness builds its node: the profile, the
/// server's options, then the zone's.
fn zone_behaviour(spec: &ServerSpec, origin: &str) -> Option<Behaviour> {
    let behaviour = spec.options.behaviour(spec.profile).ok()?;
    match spec.zones.iter().find(|z| z.zone() == origin) {
        Some(zone) => behaviour.with(&zone.options().overrides()).ok(),
        None => Some(behaviour),
    }
}

/// Both runs again with their timelines kept: the first line where they part.
fn first_difference(loaded: &LoadedScenario, options: RunOptions, canary: Option<Canary>) -> String {
    let lines = || xfrsim_sim::run_keeping(loaded, options, canary).map(|o| o.recording.lines);
    match (lines(), lines()) {
        (Ok(a), Ok(b)) => match (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
            Some(i) => format!(
                "line {}: first run `{}`, second run `{}`",
                i + 1,
                a.get(i).map_or("(end)", String::as_str),
                b.get(i).map_or("(end)", String::as_str)
            ),
            None => "the digests differed but the kept timelines did not".to_string(),
        },
        (Err(e), _) | (_, Err(e)) => format!("a rerun failed: {e}"),
    }
}
