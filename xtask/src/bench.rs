//! `cargo xtask bench`: how fast simulated time goes, on the cases of issue "Time warp".
//!
//! Output contract, one line per case:
//! `bench <name> sim=<simulated seconds> wall=<milliseconds> ratio=<sim/wall> events=<count> peak_rss_mb=<n>`
//! followed (for big-zone-like cases) by extra fields at the end: `records=<transferred>`
//! `ms_per_100k_records=<x>`, then what the simulated network did: `instants=<n>` (where the
//! scheduler stopped), `packets=<n>`, `egress_passes=<n>` (always 0: the network makes none since
//! it became our own), `wall_us=<µs>`. After the no-warp case: `speedup <x>` on its own line. After the
//! fleet cases: `per_event_us n4=<x> n16=<y> n64=<z> n200=<w>`, wall microseconds per event
//! for 4, 16, 64 and 200 secondaries (the cost of one more server should be flat), each the
//! median of three runs of its case.
//! Then `bench scenario-load steps5k_ms=<x> steps40k_ms=<y> growth=<y/x>`: loading a scenario
//! of 5,000 and of 40,000 timeline steps (linear loading gives a growth near 8).
//! Then `bench many-zones zones=100000 load_ms=<x> start_ms=<y> quarter_start_ms=<z> growth=<y/z>
//! peak_rss_mb=<n>`: loading and starting a scenario of 100,000 zones on a primary and a
//! secondary, and of a quarter as many (linear start-up gives a growth near 4).
//! Then `bench net-packets case=<tcp-bulk|udp-storm> packets=<n> wall_ms=<ms> packets_per_sec=<n>
//! bytes=<n> sim_ms=<ms> instants=<n>`, ending with `resent_bytes=<n>` (TCP) or `queries=<n>`
//! (UDP): the simulated network alone, no DNS engine (see `bench_net.rs`).
//! Last, `bench explore-500 seeds=500 wall=<ms> seeds_per_min=<x> jobs=<n> failures=<k>`:
//! `cargo xtask explore --seeds 0..500` on every core (each seed is two runs).

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use xfrsim_sim::RunOptions;

use crate::workspace_root;

struct Case {
    name: &'static str,
    file: &'static str,
    warp: bool,
    /// Run only this much of the file (expectations are then not checked).
    limit: Option<Duration>,
}

const CASES: &[Case] = &[
    Case { name: "month-of-refreshes", file: "month-of-refreshes.ron", warp: true, limit: None },
    Case {
        name: "month-of-refreshes-nowarp-1d",
        file: "month-of-refreshes.ron",
        warp: false,
        limit: Some(Duration::from_secs(86_400)),
    },
    Case { name: "week-partition-expire", file: "week-partition-expire.ron", warp: true, limit: None },
    Case { name: "big-zone", file: "big-zone.ron", warp: true, limit: None },
    Case { name: "fleet-4-week", file: "fleet-4-week.ron", warp: true, limit: None },
    Case { name: "fleet-16-1d", file: "fleet-16-1d.ron", warp: true, limit: None },
    Case { name: "fleet-64-1d", file: "fleet-64-1d.ron", warp: true, limit: None },
    Case { name: "fleet-week", file: "fleet-week.ron", warp: true, limit: None },
    Case { name: "day-of-updates", file: "day-of-updates.ron", warp: true, limit: None },
];

/// The cases of the `per_event_us` line, by fleet size: the same workload (refresh 1h, an
/// update every 6 h, NOTIFY to all) with 4, 16, 64 and 200 secondaries.
const PER_EVENT: &[(&str, &str)] =
    &[("n4", "fleet-4-week"), ("n16", "fleet-16-1d"), ("n64", "fleet-64-1d"), ("n200", "fleet-week")];

/// Milliseconds to load (parse and check) a scenario of `steps` timeline steps, each a
/// partition or a heal between two servers, best of three.
fn load_ms(steps: usize) -> Result<f64> {
    let mut source = String::from(
        "(duration: \"30d\", zones: [(origin: \"example.com.\")], servers: [\n\
         (name: \"ns1\", address: \"192.0.2.1\", zones: [Primary(zone: \"example.com.\")]),\n\
         (name: \"ns2\", address: \"192.0.2.2\", zones: [Secondary(zone: \"example.com.\", masters: [\"ns1\"])]),\n\
         ], timeline: [\n",
    );
    for step in 0..steps {
        let action = if step % 2 == 0 { "Partition" } else { "Heal" };
        source.push_str(&format!("    (at: \"{}s\", action: {action}(\"ns1\", \"ns2\")),\n", step + 1));
    }
    source.push_str("], expect: [Converged(zone: \"example.com.\", by: \"30d\")])\n");
    let path = PathBuf::from("generated-load.ron");
    let mut best = f64::MAX;
    for _ in 0..3 {
        let (loaded, wall) = timed(|| xfrsim_scenario::parse(&source, &path));
        loaded.map_err(|e| anyhow::anyhow!("{e}"))?;
        best = best.min(wall.as_secs_f64() * 1000.0);
    }
    Ok(best)
}

/// Zones of the `many-zones` case: a hosting operator's secondary (the limit is
/// `xfrsim_scenario::MAX_ZONES`).
const MANY_ZONES: usize = 100_000;

/// A scenario of `zones` zones, each held by one primary and one secondary, run for its first
/// millisecond: what starting it costs (loading, building every zone, starting both nodes).
fn many_zones_source(zones: usize) -> String {
    let mut source = String::from("(duration: \"1ms\", zones: [\n");
    for i in 0..zones {
        source.push_str(&format!("(origin: \"z{i}.example.\"),\n"));
    }
    source.push_str("], servers: [\n(name: \"ns1\", address: \"192.0.2.1\", zones: [");
    for i in 0..zones {
        source.push_str(&format!("Primary(zone: \"z{i}.example.\"),"));
    }
    source.push_str("]),\n(name: \"ns2\", address: \"192.0.2.2\", zones: [");
    for i in 0..zones {
        source.push_str(&format!("Secondary(zone: \"z{i}.example.\", masters: [\"ns1\"]),"));
    }
    source.push_str(
        "]),\n], expect: [State(on: \"ns1\", zone: \"z0.example.\", at: \"1ms\", state: Serving(2026010101))])\n",
    );
    source
}

/// Milliseconds to load and to start a scenario of `zones` zones.
fn start_ms(zones: usize) -> Result<(f64, f64)> {
    let source = many_zones_source(zones);
    let (loaded, load) = timed(|| xfrsim_scenario::parse(&source, std::path::Path::new("many-zones.ron")));
    let loaded = loaded.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (outcome, run) = timed(|| xfrsim_sim::run_streaming(&loaded, RunOptions { seed: 1, warp: true }, |_| {}));
    if !outcome?.passed() {
        bail!("many-zones: the primary does not serve its first zone after start-up");
    }
    Ok((load.as_secs_f64() * 1000.0, (load + run).as_secs_f64() * 1000.0))
}

/// `bench many-zones zones=<n> load_ms=<x> start_ms=<y> quarter_start_ms=<z> growth=<y/z>
/// peak_rss_mb=<m>`: starting `MANY_ZONES` zones, and a quarter as many (linear start-up gives
/// a growth near 4).
fn many_zones() -> Result<ExitCode> {
    let (_, quarter) = start_ms(MANY_ZONES / 4)?;
    let (load, start) = start_ms(MANY_ZONES)?;
    let rss = peak_rss_mb().map_or_else(|| "unknown".to_string(), |mb| mb.to_string());
    println!(
        "bench many-zones zones={MANY_ZONES} load_ms={load:.0} start_ms={start:.0} quarter_start_ms={quarter:.0} growth={:.1} peak_rss_mb={rss}",
        start / quarter.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// Peak resident set of this process, from Linux's `/proc/self/status` (VmHWM).
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Wall time of a closure. The one place xfrsim reads a real clock outside a real-socket
/// driver: benchmarks measure wall time by definition.
#[allow(clippy::disallowed_methods)]
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let value = f();
    (value, start.elapsed())
}

pub fn run_case(name: &str) -> Result<ExitCode> {
    if name == "axfr-real-sockets" {
        return crate::bench_axfr::run();
    }
    if name == "explore-500" {
        return xfrsim::explore::bench_case(&crate::context());
    }
    if name == "many-zones" {
        return many_zones();
    }
    if name == "net-packets" {
        return crate::bench_net::run();
    }
    let case = CASES.iter().find(|c| c.name == name).with_context(|| format!("no bench case `{name}`"))?;
    let path: PathBuf = workspace_root().join("xtask/bench").join(case.file);
    let mut loaded = xfrsim_scenario::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(limit) = case.limit {
        loaded.setup.end_at(limit);
        loaded.scenario.expect.clear();
    }
    let seed = loaded.scenario.seed.unwrap_or(xfrsim_scenario::DEFAULT_SEED);
    let (outcome, wall) = timed(|| xfrsim_sim::run_streaming(&loaded, RunOptions { seed, warp: case.warp }, |_| {}));
    let outcome = outcome?;
    let sim = loaded.setup.duration.as_secs_f64();
    let wall_ms = wall.as_secs_f64() * 1000.0;
    let ratio = sim / wall.as_secs_f64().max(1e-9);
    let records: usize = outcome
        .recording
        .events
        .iter()
        .filter_map(|o| match o.kind {
            xfrsim_engine::EventKind::ZoneXfrSuccessful { records, .. } => Some(records),
            _ => None,
        })
        .sum();
    let rss = peak_rss_mb().map_or_else(|| "unknown".to_string(), |mb| mb.to_string());
    let per_100k = if records > 0 { wall_ms * 100_000.0 / records as f64 } else { 0.0 };
    println!(
        "bench {} sim={sim:.0} wall={wall_ms:.0} ratio={ratio:.0} events={} peak_rss_mb={rss} records={records} ms_per_100k_records={per_100k:.0} instants={} packets={} egress_passes={} wall_us={}",
        case.name,
        outcome.event_count(),
        outcome.network.instants,
        outcome.network.packets,
        outcome.network.egress_passes,
        wall.as_micros(),
    );
    if !outcome.passed() {
        for failure in &outcome.failures {
            eprintln!("  {failure}");
        }
        bail!("bench case {} did not meet its expectations", case.name);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_all() -> Result<ExitCode> {
    if cfg!(debug_assertions) {
        // Benchmarks mean nothing in a debug build: run this command again, optimised.
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["run", "--quiet", "--release", "--package", "xtask", "--", "bench"])
            .current_dir(workspace_root())
            .status()
            .context("starting the release build of xtask")?;
        return Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let exe = std::env::current_exe().context("locating xtask")?;
    let mut ratios = Vec::new();
    let mut per_event = Vec::new();
    let mut ok = true;
    for case in CASES {
        eprintln!("running bench case {} ...", case.name);
        let output =
            Command::new(&exe).args(["bench", "--case", case.name]).output().context("running a bench case")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            ok = false;
        }
        let ratio =
            stdout.split_whitespace().find_map(|f| f.strip_prefix("ratio=")).and_then(|r| r.parse::<f64>().ok());
        ratios.push((case.name, ratio));
        let field = |name: &str| {
            stdout.split_whitespace().find_map(|f| f.strip_prefix(name)).and_then(|r| r.parse::<f64>().ok())
        };
        if let (Some(wall_us), Some(events)) = (field("wall_us="), field("events="))
            && PER_EVENT.iter().any(|(_, name)| *name == case.name)
        {
            // A case of a few milliseconds is at the mercy of one scheduling hiccup: the
            // per-event figure is the median of three runs of it (this one and two more).
            let mut walls = vec![wall_us];
            for _ in 0..2 {
                let again =
                    Command::new(&exe).args(["bench", "--case", case.name]).output().context("running a bench case")?;
                let again = String::from_utf8_lossy(&again.stdout).into_owned();
                walls.extend(
                    again
                        .split_whitespace()
                        .find_map(|f| f.strip_prefix("wall_us="))
                        .and_then(|r| r.parse::<f64>().ok()),
                );
            }
            walls.sort_by(f64::total_cmp);
            per_event.push((case.name, walls[walls.len() / 2] / events.max(1.0)));
        }
        if case.name == "month-of-refreshes-nowarp-1d" {
            let warp = ratios.iter().find(|(n, _)| *n == "month-of-refreshes").and_then(|(_, r)| *r);
            if let (Some(warp), Some(step)) = (warp, ratio) {
                println!("speedup {:.0}", warp / step.max(1e-9));
            }
        }
    }
    let sizes: Vec<String> = PER_EVENT
        .iter()
        .map(|(label, case)| match per_event.iter().find(|(n, _)| n == case) {
            Some((_, us)) => format!("{label}={us:.1}"),
            None => format!("{label}=unknown"),
        })
        .collect();
    println!("per_event_us {}", sizes.join(" "));
    let (small, large) = (load_ms(5_000)?, load_ms(40_000)?);
    println!("bench scenario-load steps5k_ms={small:.1} steps40k_ms={large:.1} growth={:.1}", large / small.max(1e-9));
    eprintln!("running bench case many-zones ...");
    let output = Command::new(&exe).args(["bench", "--case", "many-zones"]).output().context("running a bench case")?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    ok &= output.status.success();
    eprintln!("running bench case net-packets ...");
    let output =
        Command::new(&exe).args(["bench", "--case", "net-packets"]).output().context("running a bench case")?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    ok &= output.status.success();
    eprintln!("running bench case axfr-real-sockets ...");
    let output =
        Command::new(&exe).args(["bench", "--case", "axfr-real-sockets"]).output().context("running a bench case")?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    ok &= output.status.success();
    eprintln!("running bench case explore-500 ...");
    let output =
        Command::new(&exe).args(["bench", "--case", "explore-500"]).output().context("running a bench case")?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    ok &= output.status.success();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
