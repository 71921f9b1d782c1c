//! A run as one self-contained HTML page (`replay --html OUT.html`): inline SVG, no network,
//! a small inline script for zoom. A lane per server with the serial each copy holds over time
//! (coloured, labelled segments; the same serial has the same colour on every lane, so
//! convergence is visible as one colour), expired spans in red, the scenario's faults as bands,
//! events as marks coloured by severity with their timeline line on hover, expectation windows
//! and the convergence instant. When the run is mostly idle, spans longer than a twelfth of it are compressed
//! on the time axis, so a month reads at a glance; the wheel zooms, a drag pans.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use xfrsim_engine::{Severity, Time};
use xfrsim_scenario::Expectation;
use xfrsim_scenario::LoadedScenario;
use xfrsim_sim::{Outcome, Status};

/// Where the plot starts (lane labels to its left) and how wide it is, in pixels.
const LEFT_PX: f64 = 120.0;
const WIDTH_PX: f64 = 1400.0;
const ZONE_ROW_PX: f64 = 20.0;
const EVENT_ROWS_PX: f64 = 30.0;
const FAULT_ROW_PX: f64 = 16.0;
/// Past this many events, marks of one server, severity and pixel are merged into one (the
/// title says how many), so a day of updates stays a page and not 100 MB.
const MARKS_MAX: usize = 20_000;

/// Why a picture was not written.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes the picture of a finished run (`outcome` from `xfrsim_sim::run` or `run_streaming`
/// of `loaded`) to `path`.
pub fn write_html(loaded: &LoadedScenario, outcome: &Outcome, path: &Path) -> Result<(), PictureError> {
    std::fs::write(path, render(loaded, outcome))
        .map_err(|source| PictureError::Write { path: path.to_path_buf(), source })
}

/// Maps simulated time to the plot's x, compressing idle spans.
struct Axis {
    /// (time in ms, x offset before scaling) at each point where something happens.
    knots: Vec<(u64, f64)>,
    scale: f64,
    /// Compressed spans: (start ms, end ms).
    gaps: Vec<(u64, u64)>,
}

impl Axis {
    fn new(mut times: Vec<u64>, end_ms: u64) -> Axis {
        times.push(0);
        times.push(end_ms);
        times.sort_unstable();
        times.dedup();
        // A gap is idle when it is longer than a twelfth of the run: shorter ones are the rhythm of
        // the timers (refresh, retry), which a reader wants to see at their true length.
        let cap = (end_ms / 12).max(60_000);
        // Compressing pays only where the run is mostly idle; otherwise a linear axis keeps
        // every span its true length, which is easier to read.
        let idle_ms: u64 = times.windows(2).map(|p| p[1] - p[0]).filter(|span| *span > cap).sum();
        let cap = if idle_ms * 2 > end_ms { cap } else { u64::MAX };
        let (mut knots, mut gaps, mut at) = (vec![(times[0], 0.0)], Vec::new(), 0.0);
        for pair in times.windows(2) {
            let span = pair[1] - pair[0];
            if span > cap {
                gaps.push((pair[0], pair[1]));
            }
            at += span.min(cap) as f64;
            knots.push((pair[1], at));
        }
        Axis { knots, scale: WIDTH_PX / at.max(1.0), gaps }
    }

    fn x(&self, ms: u64) -> f64 {
        let i = self.knots.partition_point(|(t, _)| *t <= ms).max(1) - 1;
        let (t0, x0) = self.knots[i];
        let offset = match self.knots.get(i + 1) {
            Some(&(t1, x1)) if t1 > t0 => (x1 - x0) * (ms - t0) as f64 / (t1 - t0) as f64,
            _ => 0.0,
        };
        LEFT_PX + (x0 + offset) * self.scale
    }
}

/// Text safe inside SVG/HTML elements and attributes.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "#5b8fd6",
        Severity::Warning => "#f0a030",
        Severity::Error => "#d62d2d",
    }
}

/// A distinct, light fill per serial (by rank among the zone's serials), so equal serials
/// match across lanes and neighbours differ.
fn serial_colour(rank: usize) -> String {
    let hue = (rank * 137 + 200) % 360;
    format!("hsl({hue},55%,78%)")
}

/// A short time for labels: `2d 03:00`, `01:30:00`, `00:00:05`, `00:00:00.120`.
fn short_time(ms: u64) -> String {
    let (days, rest) = (ms / 86_400_000, ms % 86_400_000);
    let (h, m, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    // Seconds always within the first day, so `00:01:00` never reads as one second.
    match (days, milli) {
        (1.., _) => format!("{days}d {h:02}:{m:02}"),
        (0, 0) => format!("{h:02}:{m:02}:{s:02}"),
        _ => format!("{h:02}:{m:02}:{s:02}.{milli:03}"),
    }
}

fn ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A fault or an operator action of the scenario: a band from `start` to `end`, or a point.
struct Fault {
    start_ms: u64,
    end_ms: Option<u64>,
    label: String,
    /// Servers it concerns (lanes get a mark), by name.
    servers: Vec<String>,
    /// What closes it: a band stays open until an action with an equal key.
    key: Option<String>,
}

/// The scenario's timeline as bands (partitions, crashes, held links, cut transfers, update
/// runs) and points (every other action), as [`xfrsim_scenario::Fault::band`] says; each is
/// labelled with the line the timeline prints for it.
fn faults(loaded: &LoadedScenario) -> Vec<Fault> {
    let setup = &loaded.setup;
    let mut out: Vec<Fault> = Vec::new();
    for timed in &setup.timeline {
        let at = ms(timed.at);
        // As the timeline shows it: the server acted on (none for the network), then the fault.
        let line = timed.fault.line(setup, None);
        let label = timed.fault.server().map_or(line.clone(), |s| format!("{} {line}", setup.server(s).name));
        let band = timed.fault.band(setup);
        if let Some(until) = band.until {
            out.push(Fault { start_ms: at, end_ms: Some(ms(until)), label, servers: band.lanes, key: None });
            continue;
        }
        // A closing fault ends the bands it names (a band prefix matches: Heal ends Blocks).
        for fault in out.iter_mut().filter(|f| f.end_ms.is_none()) {
            if fault.key.as_ref().is_some_and(|k| band.closes.iter().any(|c| k == c || k.starts_with(&format!("{c} "))))
            {
                fault.end_ms = Some(at);
            }
        }
        out.push(Fault { start_ms: at, end_ms: None, label, servers: band.lanes, key: band.opens });
    }
    let end = ms(setup.duration);
    for fault in &mut out {
        if fault.key.is_some() && fault.end_ms.is_none() {
            fault.end_ms = Some(end);
        }
    }
    out
}

/// The page.
pub fn render(loaded: &LoadedScenario, outcome: &Outcome) -> String {
    let recording = &outcome.recording;
    let end_ms = ms(loaded.setup.duration);
    let faults = faults(loaded);
    let expectations = &loaded.scenario.expect;

    // Everything that happens is a knot of the axis, so only true idle time is compressed.
    let mut times: Vec<u64> = recording.events.iter().map(|e| e.at.as_millis()).collect();
    times.extend(recording.history.values().flat_map(|h| h.iter().map(|(t, _)| t.as_millis())));
    times.extend(faults.iter().flat_map(|f| [Some(f.start_ms), f.end_ms]).flatten());
    times.extend(outcome.converged.map(Time::as_millis));
    for expectation in expectations {
        times.extend(expectation_span(expectation, end_ms).map(|(a, b)| [a, b]).into_iter().flatten());
    }
    times.retain(|t| *t <= end_ms);
    let axis = Axis::new(times, end_ms);

    let mut svg = String::new();
    let mut y = 50.0;
    // Fault bands, packed into as few rows as do not overlap.
    let mut row_ends: Vec<f64> = Vec::new();
    let mut bands = String::new();
    for fault in faults.iter().filter(|f| (f.end_ms.is_some() && f.key.is_some()) || f.label.starts_with("Updates")) {
        let (x1, x2) = (axis.x(fault.start_ms), axis.x(fault.end_ms.unwrap_or(end_ms)));
        let label_end = x1 + 7.0 * fault.label.len() as f64;
        let row = row_ends.iter().position(|e| *e < x1).unwrap_or(row_ends.len());
        if row == row_ends.len() {
            row_ends.push(0.0);
        }
        row_ends[row] = x2.max(label_end);
        let top = y + row as f64 * FAULT_ROW_PX;
        let title =
            format!("{} – {}: {}", short_time(fault.start_ms), short_time(fault.end_ms.unwrap_or(end_ms)), fault.label);
        let _ = write!(
            bands,
            r##"<g class="fault"><title>{t}</title><rect data-x="{x1:.1}" data-x2="{x2:.1}" y="{top:.1}" height="13" fill="#b9a6d9" fill-opacity="0.55"/><text data-x="{x1:.1}" dx="3" y="{:.1}" class="small sticky">{l}</text></g>"##,
            top + 10.0,
            t = esc(&title),
            l = esc(&fault.label),
        );
    }
    if !row_ends.is_empty() {
        let _ = write!(svg, r##"<text x="8" y="{:.1}" class="lane">faults</text>{bands}"##, y + 11.0);
        y += row_ends.len() as f64 * FAULT_ROW_PX + 10.0;
    }

    // Serials of each zone, ranked, for colours.
    let mut serials: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for ((_, zone), history) in &recording.history {
        for (_, status) in history {
            if let Status::Serving { serial, .. } = status {
                serials.entry(zone).or_default().push(*serial);
            }
        }
    }
    for list in serials.values_mut() {
        list.sort_unstable();
        list.dedup();
    }

    let plot_top = y;
    let mut lane_of: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (index, server) in recording.servers.iter().enumerate() {
        let zones: Vec<&String> = recording.history.keys().filter(|(s, _)| s == server).map(|(_, z)| z).collect();
        // With several zones the server's name gets a line of its own above their rows.
        let header = if zones.len() > 1 { 20.0 } else { 0.0 };
        let height = header + zones.len().max(1) as f64 * ZONE_ROW_PX + EVENT_ROWS_PX + 12.0;
        let shade = if index % 2 == 0 { "#f6f6f6" } else { "#ffffff" };
        let _ = write!(
            svg,
            r##"<rect data-lane="{lane}" x="0" y="{y:.1}" width="{w:.1}" height="{height:.1}" fill="{shade}"/><text x="8" y="{:.1}" class="lane">{}</text>"##,
            y + 16.0,
            esc(server),
            w = LEFT_PX + WIDTH_PX + 10.0,
            lane = esc(server),
        );
        lane_of.insert(server, (y, height));
        for (row, zone) in zones.iter().enumerate() {
            let top = y + header + 4.0 + row as f64 * ZONE_ROW_PX;
            if zones.len() > 1 {
                let _ = write!(svg, r##"<text x="18" y="{:.1}" class="small">{}</text>"##, top + 13.0, esc(zone));
            }
            let history = &recording.history[&(server.clone(), (*zone).clone())];
            for (i, (at, status)) in history.iter().enumerate() {
                let until = history.get(i + 1).map_or(end_ms, |(t, _)| t.as_millis());
                let (fill, text) = match status {
                    Status::Serving { serial, .. } => {
                        let rank = serials[zone.as_str()].binary_search(serial).unwrap_or(0);
                        (serial_colour(rank), serial.to_string())
                    }
                    Status::Expired => ("#e53935".to_string(), "expired".to_string()),
                    Status::Absent => ("#dddddd".to_string(), "not loaded".to_string()),
                };
                let (x1, x2) = (axis.x(at.as_millis()), axis.x(until));
                let title =
                    format!("{server} {zone} {text} from {} to {}", short_time(at.as_millis()), short_time(until));
                let _ = write!(
                    svg,
                    r##"<g><title>{}</title><rect data-x="{x1:.1}" data-x2="{x2:.1}" y="{top:.1}" height="{h}" fill="{fill}" stroke="#fff" stroke-width="0.5"/><text data-x="{x1:.1}" data-x2="{x2:.1}" dx="3" y="{:.1}" class="serial sticky">{}</text></g>"##,
                    esc(&title),
                    top + 13.0,
                    esc(&text),
                    h = ZONE_ROW_PX - 3.0,
                );
            }
        }
        y += height;
    }
    let plot_bottom = y;

    // Crashes and isolations shade their server's whole lane; other actions mark it.
    for fault in &faults {
        for server in &fault.servers {
            let Some(&(top, height)) = lane_of.get(server.as_str()) else { continue };
            let x1 = axis.x(fault.start_ms);
            let title = esc(&format!("{} {}", short_time(fault.start_ms), fault.label));
            match (&fault.key, fault.end_ms) {
                (Some(key), Some(end)) if key.starts_with("crash") || key.starts_with("isolate") => {
                    let _ = write!(
                        svg,
                        r##"<g><title>{title}</title><rect data-x="{x1:.1}" data-x2="{:.1}" y="{top:.1}" height="{height:.1}" fill="url(#hatch)"/></g>"##,
                        axis.x(end),
                    );
                }
                _ => {
                    let _ = write!(
                        svg,
                        r##"<g><title>{title}</title><path data-x="{x1:.1}" d="M0,0 l-4,-7 h8 z" transform="translate({x1:.1},{:.1})" fill="#7e57c2"/></g>"##,
                        top + height - 1.0,
                    );
                }
            }
        }
    }

    // Expectation windows under the lanes they are about; convergence across all lanes.
    let mut converge_by_drawn = Vec::new();
    for expectation in expectations {
        let Some((from, until)) = expectation_span(expectation, end_ms) else { continue };
        // One line per deadline: 75 zones converging by the same time are one mark.
        if matches!(expectation, Expectation::Converged { .. }) {
            if converge_by_drawn.contains(&until) {
                continue;
            }
            converge_by_drawn.push(until);
        }
        let title = esc(&format!("expect {}", format!("{expectation:?}").replace('"', "")));
        let (x1, x2) = (axis.x(from), axis.x(until));
        match expectation {
            Expectation::Event { on, .. } | Expectation::State { on, .. } => {
                let Some(&(top, height)) = lane_of.get(on.as_str()) else { continue };
                let _ = write!(
                    svg,
                    r##"<g><title>{title}</title><rect data-x="{x1:.1}" data-x2="{:.1}" y="{:.1}" height="4" fill="#00897b" fill-opacity="0.6"/></g>"##,
                    x2.max(x1 + 2.0),
                    top + height - 5.0,
                );
            }
            Expectation::Converged { .. } => {
                let _ = write!(
                    svg,
                    r##"<g><title>{title}</title><line data-x="{x2:.1}" y1="{:.1}" y2="{plot_bottom:.1}" stroke="#00897b" stroke-dasharray="5,4" stroke-width="1.5"/><text data-x="{x2:.1}" dx="{dx}" y="{:.1}" class="small" fill="#00695c" text-anchor="{anchor}">converge by</text></g>"##,
                    plot_top - 4.0,
                    plot_top - 6.0,
                    dx = if x2 > LEFT_PX + WIDTH_PX - 150.0 { -3 } else { 3 },
                    anchor = if x2 > LEFT_PX + WIDTH_PX - 150.0 { "end" } else { "start" },
                );
            }
            Expectation::Lag { .. } | Expectation::Before { .. } => {
                let _ = write!(
                    svg,
                    r##"<g><title>{title}</title><rect data-x="{x1:.1}" data-x2="{x2:.1}" y="{:.1}" height="4" fill="#00897b" fill-opacity="0.6"/></g>"##,
                    plot_bottom + 2.0,
                );
            }
        }
    }
    if let Some(at) = outcome.converged {
        let x = axis.x(at.as_millis());
        let _ = write!(
            svg,
            r##"<g><title>converged at {at}</title><line data-x="{x:.1}" y1="{:.1}" y2="{plot_bottom:.1}" stroke="#2e7d32" stroke-width="2"/><text data-x="{x:.1}" dx="{dx}" y="{:.1}" class="small" fill="#2e7d32" text-anchor="{anchor}">converged {}</text></g>"##,
            plot_top - 4.0,
            plot_bottom + 16.0,
            short_time(at.as_millis()),
            // Near the right edge the label goes to the left of its line, where it fits.
            dx = if x > LEFT_PX + WIDTH_PX - 150.0 { -3 } else { 3 },
            anchor = if x > LEFT_PX + WIDTH_PX - 150.0 { "end" } else { "start" },
        );
    }

    // Events: one mark each (merged per pixel past MARKS_MAX), a row per severity.
    let merge = recording.events.len() > MARKS_MAX;
    let mut marks: BTreeMap<(u16, Severity, i64), (u64, usize, String)> = BTreeMap::new();
    for (i, observed) in recording.events.iter().enumerate() {
        let severity = observed.kind.severity();
        let at = observed.at.as_millis();
        let slot = if merge { axis.x(at).round() as i64 } else { i as i64 };
        let entry =
            marks.entry((observed.server, severity, slot)).or_insert_with(|| (at, 0, recording.line_of(observed)));
        entry.1 += 1;
    }
    for ((server, severity, _), (at, count, line)) in &marks {
        let Some(&(top, height)) = lane_of.get(recording.servers[usize::from(*server)].as_str()) else { continue };
        let row = match severity {
            Severity::Info => 2.0,
            Severity::Warning => 1.0,
            Severity::Error => 0.0,
        };
        let cy = top + height - EVENT_ROWS_PX - 2.0 + row * 9.0;
        let x = axis.x(*at);
        let title = if *count > 1 { format!("{count} events from {line}") } else { line.clone() };
        let _ = write!(
            svg,
            r##"<circle class="event" data-x="{x:.1}" cy="{cy:.1}" r="3.2" fill="{}"><title>{}</title></circle>"##,
            severity_colour(*severity),
            esc(&title),
        );
    }

    // The time axis: ticks at several granularities (the script shows those that fit) and the
    // compressed idle spans.
    let mut axis_svg = String::new();
    for (start, stop) in &axis.gaps {
        let _ = write!(
            axis_svg,
            r##"<g><title>{} to {}: nothing happens (compressed)</title><rect data-x="{:.1}" data-x2="{:.1}" y="{:.1}" height="{:.1}" fill="#000" fill-opacity="0.035"/><text data-x="{:.1}" dx="-4" y="46" class="small" fill="#888">≈</text></g>"##,
            short_time(*start),
            short_time(*stop),
            axis.x(*start),
            axis.x(*stop),
            plot_top,
            plot_bottom - plot_top,
            (axis.x(*start) + axis.x(*stop)) / 2.0,
        );
    }
    let steps_ms: [u64; 13] =
        [604_800_000, 86_400_000, 21_600_000, 3_600_000, 900_000, 300_000, 60_000, 10_000, 1_000, 100, 10, 1, 0];
    let mut ticks_svg = String::new();
    let mut ticks = 0;
    for (level, step) in steps_ms.iter().enumerate().take(12) {
        let count = end_ms / step;
        if count > 600 || ticks > 3000 {
            break;
        }
        for k in 0..=count {
            let t = k * step;
            // Coarser levels already drew this tick.
            if steps_ms[..level].iter().any(|coarse| t % coarse == 0) {
                continue;
            }
            // Inside a compressed span ticks would crowd; its edges say when it starts and ends.
            if axis.gaps.iter().any(|(start, stop)| t > *start && t < *stop) {
                continue;
            }
            ticks += 1;
            let x = axis.x(t);
            let _ = write!(
                ticks_svg,
                r##"<g class="tick" data-p="{level}"><line data-x="{x:.1}" y1="34" y2="{plot_bottom:.1}" stroke="#e0e0e0"/><text data-x="{x:.1}" y="30" class="small" text-anchor="middle">{}</text></g>"##,
                short_time(t),
            );
        }
    }

    let height = plot_bottom + 60.0;
    let verdict = if outcome.passed() { "PASS" } else { "FAIL" };
    let mut failures = String::new();
    for failure in &outcome.failures {
        let _ = write!(failures, "<li>{}</li>", esc(&failure.to_string()));
    }
    let legend = format!(
        r##"<span style="color:{}">● info</span> <span style="color:{}">● warning</span> <span style="color:{}">● error</span> · <span class="sw" style="background:#e53935"></span> expired · <span class="sw" style="background:#ddd"></span> not loaded · <span class="sw" style="background:#b9a6d9"></span> fault · hatched: server down or isolated · ▼ operator action · <span class="sw" style="background:#00897b"></span> expectation window · <span style="color:#2e7d32">│</span> converged · ≈ <span class="sw" style="background:#eee"></span> idle time compressed. Wheel: zoom, drag: pan, double-click: reset."##,
        severity_colour(Severity::Info),
        severity_colour(Severity::Warning),
        severity_colour(Severity::Error),
    );
    format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{name} seed {seed}</title>
<style>body{{font:14px sans-serif;margin:12px}} .lane{{font:bold 13px sans-serif}} .small{{font:11px sans-serif}} .serial{{font:11px monospace}} .sw{{display:inline-block;width:12px;height:10px}} svg{{user-select:none}} li{{font-family:monospace}}</style></head>
<body><h3>{name} — seed {seed} — {verdict} — {events} events — digest={digest}</h3><p>{description}</p><ul>{failures}</ul><p class="small">{legend}</p>
<svg id="plot" xmlns="http://www.w3.org/2000/svg" width="{total_w:.0}" height="{height:.0}">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#000" fill-opacity="0.06"/><line x1="0" y1="0" x2="0" y2="6" stroke="#555" stroke-opacity="0.45" stroke-width="2"/></pattern>

<clipPath id="clip"><rect x="{LEFT_PX}" y="0" width="{WIDTH_PX}" height="{height:.0}"/></clipPath>
<clipPath id="ticks"><rect x="{clip_x}" y="0" width="{clip_w}" height="{height:.0}"/></clipPath></defs>
{lanes_bg}<g clip-path="url(#ticks)">{ticks_svg}</g><g clip-path="url(#clip)">{axis_svg}{lanes}</g></svg>
<script>{script}</script></body></html>
"##,
        name = esc(&loaded.name),
        seed = outcome.seed,
        events = recording.events.len(),
        digest = outcome.digest_hex(),
        description = esc(&loaded.scenario.description),
        total_w = LEFT_PX + WIDTH_PX + 40.0,
        // Wide enough for the first and last tick labels.
        clip_x = LEFT_PX - 30.0,
        clip_w = WIDTH_PX + 60.0,
        lanes_bg = lane_backgrounds(&svg),
        lanes = lane_content(&svg),
        script = SCRIPT.replace("LEFT,", &format!("{LEFT_PX},")).replace("WIDTH,", &format!("{WIDTH_PX},")),
    )
}

/// The lane backgrounds and labels sit outside the clipped plot (so zooming never hides the
/// names): they are the elements without `data-x`.
fn lane_backgrounds(svg: &str) -> String {
    split_top_level(svg).into_iter().filter(|e| !e.contains("data-x")).collect()
}

fn lane_content(svg: &str) -> String {
    split_top_level(svg).into_iter().filter(|e| e.contains("data-x")).collect()
}

/// The top-level elements of a fragment we generated (no comments, no CDATA, `<g>` nesting
/// only), each as its text.
fn split_top_level(svg: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0, 0);
    let bytes = svg.as_bytes();
    while let Some(offset) = svg[i..].find('<') {
        let at = i + offset;
        let close = svg[at..].find('>').map_or(svg.len(), |c| at + c + 1);
        let tag = &svg[at..close];
        if depth == 0 {
            start = at;
        }
        if tag.starts_with("</") {
            depth = depth.saturating_sub(1);
        } else if bytes[close - 2] != b'/' {
            depth += 1;
        }
        if depth == 0 {
            out.push(&svg[start..close]);
        }
        i = close;
    }
    out
}

/// The span an expectation is about, in ms: its window, or the instant it names.
fn expectation_span(expectation: &Expectation, end_ms: u64) -> Option<(u64, u64)> {
    match expectation {
        Expectation::Event { from, until, .. } => Some((from.map_or(0, ms), until.map_or(end_ms, ms))),
        Expectation::Converged { by, .. } => Some((ms(*by), ms(*by))),
        Expectation::Lag { from, until, .. } => Some((ms(*from), ms(*until))),
        Expectation::State { at, .. } => Some((ms(*at), ms(*at))),
        Expectation::Before { .. } => None,
    }
}

/// Zoom and pan: every positioned element keeps its unzoomed x in `data-x` (and its right edge
/// in `data-x2`); the script maps those through the view and shows the tick labels that fit.
const SCRIPT: &str = r##"
(function(){
const L=LEFT,W=WIDTH,svg=document.getElementById('plot');
const els=[...svg.querySelectorAll('[data-x]')];
const ticks=[...svg.querySelectorAll('.tick')].sort((a,b)=>a.dataset.p-b.dataset.p);
let k=1,o=0;
function sx(x){return L+(x-L-o)*k;}
function draw(){
 for(const e of els){const x=sx(+e.dataset.x);
  if(e.tagName==='rect'){const x2=sx(+e.dataset.x2);e.setAttribute('x',x);e.setAttribute('width',Math.max(x2-x,0.5));}
  else if(e.tagName==='circle'){e.setAttribute('cx',x);}
  else if(e.tagName==='line'){e.setAttribute('x1',x);e.setAttribute('x2',x);}
  else if(e.tagName==='path'){e.setAttribute('transform',e.getAttribute('transform').replace(/translate\([^,]*/,'translate('+x));}
  else if(e.tagName==='text'){
   // A band's or segment's label stays at the left edge while its band goes on past it.
   const lx=e.classList.contains('sticky')?Math.max(x,L):x;e.setAttribute('x',lx);
   if(e.dataset.x2!==undefined){e.style.display=(sx(+e.dataset.x2)-lx>e.textContent.length*7+4)?'':'none';}}}
 // Whole levels, coarse to fine, while every label of the level fits: even spacing.
 const shown=[];let open=true;
 for(let p=0;p<13;p++){const lv=ticks.filter(t=>+t.dataset.p===p);
  const xs=lv.map(t=>sx(+t.querySelector('line').dataset.x));
  const inside=xs.filter(x=>x>=L-20&&x<=L+W+20);
  const all=shown.concat(inside).sort((a,b)=>a-b);
  const fits=open&&all.every((x,i)=>i===0||x-all[i-1]>75);
  if(fits){shown.push(...inside);}else{open=false;}
  lv.forEach((t,i)=>{t.style.display=(fits&&xs[i]>=L-20&&xs[i]<=L+W+20)?'':'none';});}
}
svg.addEventListener('wheel',ev=>{ev.preventDefault();const r=svg.getBoundingClientRect();
 const mx=ev.clientX-r.left,base=(mx-L)/k+o+L,nk=Math.min(Math.max(k*(ev.deltaY<0?1.25:0.8),1),100000);
 k=nk;o=base-L-(mx-L)/k;o=Math.min(Math.max(o,0),W-W/k);draw();},{passive:false});
let drag=null;
svg.addEventListener('mousedown',ev=>{drag=[ev.clientX,o];});
window.addEventListener('mouseup',()=>{drag=null;});
window.addEventListener('mousemove',ev=>{if(!drag)return;o=Math.min(Math.max(drag[1]-(ev.clientX-drag[0])/k,0),W-W/k);draw();});
svg.addEventListener('dblclick',()=>{k=1;o=0;draw();});
draw();
})();
"##;
