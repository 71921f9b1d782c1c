//! The picture of a real run, checked as a library: a lane per server, a mark per event with
//! its timeline line on hover, faults and convergence labelled, nothing fetched from outside.

use std::path::Path;

use xfrsim_scenario::DEFAULT_SEED;
use xfrsim_sim::RunOptions;

/// A short scenario with a crash, expiry, faults and convergence: every part has something.
fn picture() -> (String, usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/two-masters-first-down.ron");
    let loaded = xfrsim_scenario::load(&path).expect("the scenario loads");
    let seed = loaded.scenario.seed.unwrap_or(DEFAULT_SEED);
    let outcome = xfrsim_sim::run(&loaded, RunOptions { seed, warp: true }).expect("the run ends");
    (xfrsim_picture::render(&loaded, &outcome), outcome.recording.events.len())
}

#[test]
fn a_lane_per_server_and_a_mark_per_event_with_its_line_on_hover() {
    let (html, events) = picture();
    for server in ["ns1", "ns2", "ns3"] {
        assert_eq!(html.matches(&format!("data-lane=\"{server}\"")).count(), 1, "{server}");
    }
    assert_eq!(html.matches("data-lane=").count(), 3);
    assert_eq!(html.matches("<circle class=\"event\"").count(), events);
    // Parameters on hover: the 6523 lines, as the timeline has them.
    assert!(html.contains("<title>00:45:25.149 ns2 6523 DNS_EVENT_XFR_MASTER_UNAVAILABLE"), "hover text");
}

#[test]
fn expiry_faults_and_convergence_are_labelled_and_nothing_is_fetched() {
    let (html, _) = picture();
    assert!(html.contains("expired") && html.contains("ns1 Crash") && html.contains("converged 07:00"));
    for outside in ["<script src", "<link", "url(http", "@import"] {
        assert!(!html.contains(outside), "{outside}");
    }
}

#[test]
fn a_picture_that_cannot_be_written_says_where() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/two-masters-first-down.ron");
    let loaded = xfrsim_scenario::load(&path).expect("the scenario loads");
    let outcome = xfrsim_sim::run(&loaded, RunOptions { seed: 1, warp: true }).expect("the run ends");
    let error = xfrsim_picture::write_html(&loaded, &outcome, Path::new("/nonexistent/dir/out.html"))
        .expect_err("no such directory");
    assert!(error.to_string().starts_with("writing /nonexistent/dir/out.html: "), "{error}");
}
