//! The one tracing subscriber of every command: `RUST_LOG` (a list of `target=level`, e.g.
//! `xfrsim::event=warn`) filters what goes to stderr. Engine events are traced at target
//! `xfrsim::event` with simulated time in `sim_time`; stdout stays the command's contract.

use anyhow::{Context, Result};

/// Installs the subscriber. `default` applies when `RUST_LOG` is unset: `serve` logs
/// `xfrsim=info` (an operator watches it), while `run` and `replay` pass `None` and stay
/// silent, because their stdout already carries every event. `wall_clock`: stamp lines with
/// the wall time (a real node); a simulation leaves it out, so its stderr is the same on every
/// run and each event's `sim_time` is the only time shown.
pub fn init_tracing(default: Option<&str>, wall_clock: bool) -> Result<()> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let spec = match std::env::var("RUST_LOG") {
        Ok(spec) => spec,
        Err(_) => match default {
            Some(default) => default.to_string(),
            None => return Ok(()),
        },
    };
    let filter = spec.parse::<Targets>().unwrap_or_else(|e| {
        let fallback = default.unwrap_or("xfrsim=info");
        eprintln!("RUST_LOG=`{spec}` is not a list of target=level ({e}); logging {fallback}");
        fallback.parse().unwrap_or_default()
    });
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    if wall_clock { registry.with(layer).try_init() } else { registry.with(layer.without_time()).try_init() }
        .context("installing the tracing subscriber")
}
