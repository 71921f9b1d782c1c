//! `cargo xtask replay`: one scenario's whole timeline, then `digest=<16 hex>` (a contract), or
//! a view of it: filtered lines, JSON lines, a table of each server's zone state, the first
//! difference from another seed's run, an HTML picture.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use xfrsim_scenario::{DEFAULT_SEED, LoadedScenario};
use xfrsim_sim::{Outcome, RunOptions, Status};

use xfrsim_sim::timeline::{Entry, What};

use crate::Invocation;
use crate::timeline::{self, Filter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The timeline lines, as the contract has them.
    Text,
    /// One JSON object per timeline line, then one with the digest.
    Json,
}

/// What `replay` was asked for.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    pub path: PathBuf,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Step through idle time tick by tick instead of jumping (slow; for checking the warp).
    #[arg(long)]
    pub no_warp: bool,
    /// Only this server's events (and the actions that concern it).
    #[arg(long)]
    pub server: Option<String>,
    /// Only this zone's events (trailing dot optional).
    #[arg(long)]
    pub zone: Option<String>,
    /// Only this event: a Windows ID (6523) or a symbolic name, in any case.
    #[arg(long, conflicts_with = "table")]
    pub event: Option<String>,
    /// Only from this time on (a duration such as 90s, 2h, 1d 6h).
    #[arg(long)]
    pub from: Option<String>,
    /// Only until this time, inclusive.
    #[arg(long)]
    pub until: Option<String>,
    /// Instead of the timeline: each server's zone state (serial, expired, - for not loaded)
    /// at every change, one line per change, a column per server.
    #[arg(long, conflicts_with = "format")]
    pub table: bool,
    /// `json`: one JSON object per timeline line, then one with the digest.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Instead of the timeline: where the run with this seed first differs.
    #[arg(long, conflicts_with_all = ["table", "format", "server", "zone", "event", "from", "until"])]
    pub diff_seed: Option<u64>,
    /// Also write a picture of the run: one self-contained HTML file.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Also judge the run with the explorer's outside checkers (a scenario `explore` wrote).
    #[arg(long)]
    pub invariants: bool,
    /// Plant one bug in every server (as `explore --canary`).
    #[arg(long, value_parser = crate::explore::parse_canary)]
    pub canary: Option<xfrsim_engine::Canary>,
}

/// Writes a line to stdout; `false` once stdout is gone (a closed pipe, as with `| head`), so
/// the run goes on to its digest without printing or panicking.
fn emit(line: &str) -> bool {
    writeln!(std::io::stdout().lock(), "{line}").is_ok()
}

pub fn replay(context: &Invocation, args: ReplayArgs) -> Result<ExitCode> {
    // Every flag is checked before the run starts: a typo costs no simulation.
    let filter = Filter {
        server: args.server.clone(),
        zone: args.zone.clone(),
        event: args.event.as_deref().map(|e| crate::events::lookup(context, e)).transpose()?,
        from_ms: args.from.as_deref().map(|t| timeline::parse_duration("--from", t)).transpose()?.map(millis),
        until_ms: args.until.as_deref().map(|t| timeline::parse_duration("--until", t)).transpose()?.map(millis),
    };
    let path = crate::targets::scenario_file(context, &args.path)?;
    let loaded = xfrsim_scenario::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    for warning in &loaded.zone_warnings {
        eprintln!("{warning}");
    }
    if let Some(server) = &filter.server
        && loaded.setup.server_id(server).is_none()
    {
        bail!("--server `{server}`: the scenario has no such server ({})", server_names(&loaded));
    }
    if let Some(zone) = &filter.zone
        && !loaded.scenario.zones.iter().any(|z| timeline::same_zone(&z.origin, zone))
    {
        bail!("--zone `{zone}`: the scenario has no such zone");
    }
    let seed = args.seed.or(loaded.scenario.seed).unwrap_or(DEFAULT_SEED);
    let options = RunOptions { seed, warp: !args.no_warp };
    if let Some(other) = args.diff_seed {
        return diff_seeds(&loaded, options, other);
    }

    // Lines are printed as the simulation produces them: a long run shows progress and its
    // timeline is never held in memory.
    let (format, table) = (args.format, args.table);
    let mut printing = true;
    let outcome = xfrsim_sim::run_streaming_canary(&loaded, options, args.canary, move |line| {
        if table || !printing {
            return;
        }
        let Some(entry) = xfrsim_sim::timeline::parse(line) else {
            printing = emit(line);
            return;
        };
        if filter.keeps(&entry) {
            printing = match format {
                Format::Text => emit(line),
                Format::Json => emit(&json_line(&entry).to_string()),
            };
        }
    })?;
    if table {
        print_table(&outcome, &args)?;
    }
    if let Some(path) = &args.html {
        xfrsim_picture::write_html(&loaded, &outcome, path)?;
        eprintln!("wrote {}", path.display());
    }
    // The explorer's checkers read only the status history and events, which a streamed run
    // keeps.
    let violations: Vec<String> = match args.invariants {
        true => xfrsim_explore::outside_checks(&loaded, &outcome.recording)
            .iter()
            .map(|v| format!("invariant: {v}"))
            .collect(),
        false => Vec::new(),
    };
    let passed = outcome.passed() && violations.is_empty();
    if format == Format::Json {
        let mut failures: Vec<String> = outcome.failures.iter().map(ToString::to_string).collect();
        failures.extend(violations);
        emit(&serde_json::json!({ "digest": outcome.digest_hex(), "seed": seed, "failures": failures }).to_string());
    } else {
        for failure in &outcome.failures {
            emit(&format!("FAILED {failure}"));
        }
        for violation in &violations {
            emit(&format!("FAILED {violation}"));
        }
        emit(&format!("digest={}", outcome.digest_hex()));
    }
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn server_names(loaded: &LoadedScenario) -> String {
    loaded.scenario.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// One timeline line as a JSON object (keys in sorted order, so the bytes are stable).
fn json_line(entry: &Entry<'_>) -> serde_json::Value {
    use serde_json::json;
    match &entry.what {
        What::Event { windows_id, name, zone, params } => {
            let severity = xfrsim_engine::catalog::info_by_name(name).map(|info| info.severity.to_string());
            let params: serde_json::Map<String, serde_json::Value> =
                params.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
            json!({
                "type": "event", "time_ms": entry.at_ms, "time": entry.at_text, "server": entry.server,
                "zone": zone, "event_id": windows_id, "name": name, "severity": severity, "params": params,
            })
        }
        What::Action(text) => json!({
            "type": "action", "time_ms": entry.at_ms, "time": entry.at_text, "server": entry.server, "action": text,
        }),
    }
}

/// Runs the scenario with a second seed and reports the first line where the two timelines
/// part, then the digest of the first run as usual.
fn diff_seeds(loaded: &LoadedScenario, options: RunOptions, other: u64) -> Result<ExitCode> {
    let ours = xfrsim_sim::run(loaded, options)?;
    let theirs = xfrsim_sim::run(loaded, RunOptions { seed: other, ..options })?;
    let (a, b) = (&ours.recording.lines, &theirs.recording.lines);
    let seed = options.seed;
    match (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        None => {
            emit(&format!("seeds {seed} and {other}: identical timelines ({} lines)", a.len()));
        }
        Some(i) => {
            let show = |lines: &Vec<String>| lines.get(i).map_or("(end of timeline)".to_string(), Clone::clone);
            emit(&format!("seeds {seed} and {other}: first difference at line {}", i + 1));
            emit(&format!("  seed {seed} line {}: {}", i + 1, show(a)));
            emit(&format!("  seed {other} line {}: {}", i + 1, show(b)));
        }
    }
    emit(&format!("digest={}", ours.digest_hex()));
    Ok(ExitCode::SUCCESS)
}

/// A copy's state as one short cell.
fn cell(status: Status) -> String {
    match status {
        Status::Serving { serial, .. } => serial.to_string(),
        Status::Expired => "expired".to_string(),
        Status::Absent => "-".to_string(),
    }
}

/// For each zone, one line per instant at which any server's copy changed: the time, then
/// every server's state (`*` after the ones that changed then). `--server` picks columns,
/// `--zone` tables, `--from`/`--until` rows.
fn print_table(outcome: &Outcome, args: &ReplayArgs) -> Result<()> {
    let from = args.from.as_deref().map(|t| timeline::parse_duration("--from", t)).transpose()?.map(millis);
    let until = args.until.as_deref().map(|t| timeline::parse_duration("--until", t)).transpose()?.map(millis);
    let recording = &outcome.recording;
    let mut zones: Vec<&String> = recording.history.keys().map(|(_, zone)| zone).collect();
    zones.sort();
    zones.dedup();
    for zone in zones.into_iter().filter(|z| args.zone.as_deref().is_none_or(|want| timeline::same_zone(z, want))) {
        let columns: Vec<(&String, &Vec<_>)> = recording
            .servers
            .iter()
            .filter(|s| args.server.as_deref().is_none_or(|want| want == s.as_str()))
            .filter_map(|s| recording.history.get(&(s.clone(), zone.clone())).map(|h| (s, h)))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let width = columns.iter().map(|(s, _)| s.len()).max().unwrap_or(0).max(11);
        emit(&format!("zone {zone}"));
        let mut header = format!("{:<15}", "time");
        for (server, _) in &columns {
            header.push_str(&format!(" {server:<width$}"));
        }
        emit(header.trim_end());
        let mut instants: Vec<xfrsim_engine::Time> =
            columns.iter().flat_map(|(_, history)| history.iter().map(|(t, _)| *t)).collect();
        instants.sort();
        instants.dedup();
        for at in instants {
            let ms = at.as_millis();
            if from.is_some_and(|f| ms < f) || until.is_some_and(|u| ms > u) {
                continue;
            }
            let mut row = format!("{:<15}", at.to_string());
            for (server, history) in &columns {
                let changed = history.iter().any(|(t, _)| *t == at);
                let mark = if changed { "*" } else { "" };
                let text = format!("{}{mark}", cell(recording.status_at(server, zone, at)));
                row.push_str(&format!(" {text:<width$}"));
            }
            emit(row.trim_end());
        }
    }
    Ok(())
}
