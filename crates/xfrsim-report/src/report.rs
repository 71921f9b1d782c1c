//! What `run` reports for each scenario and seed, and its three renderings: the text lines
//! (the PASS/FAIL contract), a JSON document (`--format json`) and JUnit XML (`--junit FILE`).
//! All three are built from the same [`RunReport`], so they cannot disagree.

use std::fmt::Write as _;

use serde::Serialize;
use xfrsim_sim::{Failure, Outcome, Status};

/// One scenario at one seed (or a scenario that did not load, at no seed).
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// The scenario's name (its file name without `.ron`).
    pub scenario: String,
    /// The file, as the user would type it.
    pub file: String,
    /// `None` when the file did not load.
    pub seed: Option<u64>,
    pub verdict: Verdict,
    /// Why the scenario could not run (load or simulation error), for `Verdict::Error`.
    pub error: Option<String>,
    /// What the run counted; `None` when it did not run to its end.
    pub stats: Option<Stats>,
    /// Each unmet expectation.
    pub failures: Vec<FailureReport>,
    /// The command that replays this run exactly; `None` when the file did not load.
    pub reproduce: Option<String>,
    /// The picture of a failed run (`replay --html`), written under `target/xfrsim/`.
    pub picture: Option<String>,
    /// The text lines, first the PASS/FAIL line (not in the JSON: it has the fields).
    #[serde(skip)]
    pub lines: Vec<String>,
    /// What loading the zone files warned about, printed once per file on stderr.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Did not run to its end: the file did not load, or the simulation failed.
    Error,
}

/// The fields of the PASS/FAIL line after the seed.
#[derive(Debug, Serialize)]
pub struct Stats {
    pub events: usize,
    /// `[Nd]HH:MM:SS.mmm` of simulated time, `None` for never.
    pub converged: Option<String>,
    pub digest: String,
    pub transfers: usize,
    pub notifies: usize,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct FailureReport {
    pub expected: String,
    pub seen: String,
    /// Timeline lines of the nearest events, in timeline order.
    pub nearest: Vec<String>,
    /// The instant `states` describe (`Converged` and `State` expectations).
    pub deadline: Option<String>,
    pub states: Vec<StateReport>,
}

/// One server's copy of the zone at the deadline.
#[derive(Debug, Serialize)]
pub struct StateReport {
    pub server: String,
    /// `serving`, `expired` (SERVFAIL) or `absent` (never loaded, or the server is down).
    pub state: &'static str,
    pub serial: Option<u32>,
    /// The content digest, 16 hex digits.
    pub digest: Option<String>,
}

/// The command that replays a run: `<program> replay <file> --seed <N>`, where `program` is
/// how the user invoked us (`cargo xtask` or `xfrsim`). An output contract users parse: the
/// words after the program never change.
pub fn reproduce_line(program: &str, file: &str, seed: u64) -> String {
    format!("{program} replay {file} --seed {seed}")
}

impl RunReport {
    /// A file that did not load.
    pub fn not_loaded(scenario: String, file: String, error: String) -> RunReport {
        RunReport {
            lines: vec![format!("FAIL {scenario} error: {error}")],
            scenario,
            file,
            seed: None,
            verdict: Verdict::Error,
            error: Some(error),
            stats: None,
            failures: Vec::new(),
            reproduce: None,
            picture: None,
            warnings: Vec::new(),
        }
    }

    /// A simulation that stopped with an error; `program` as in [`reproduce_line`].
    pub fn sim_error(program: &str, scenario: String, file: String, seed: u64, error: String) -> RunReport {
        let reproduce = reproduce_line(program, &file, seed);
        RunReport {
            lines: vec![format!("FAIL {scenario} seed={seed} error: {error}"), format!("  reproduce: {reproduce}")],
            scenario,
            file,
            seed: Some(seed),
            verdict: Verdict::Error,
            error: Some(error),
            stats: None,
            failures: Vec::new(),
            reproduce: Some(reproduce),
            picture: None,
            warnings: Vec::new(),
        }
    }

    /// A run to the end, judged; `program` as in [`reproduce_line`].
    pub fn finished(program: &str, scenario: String, file: String, outcome: &Outcome) -> RunReport {
        let reproduce = reproduce_line(program, &file, outcome.seed);
        let mut lines = vec![outcome.summary_line()];
        if !outcome.passed() {
            lines.extend(outcome.failures.iter().flat_map(|f| indented(&f.to_string())));
            lines.push(format!("  reproduce: {reproduce}"));
        }
        RunReport {
            scenario,
            file,
            seed: Some(outcome.seed),
            verdict: if outcome.passed() { Verdict::Pass } else { Verdict::Fail },
            error: None,
            stats: Some(Stats {
                events: outcome.event_count(),
                converged: outcome.converged.map(|t| t.to_string()),
                digest: outcome.digest_hex(),
                transfers: outcome.transfer_count(),
                notifies: outcome.notify_count(),
                bytes: outcome.network.tcp_payload_bytes,
            }),
            failures: outcome.failures.iter().map(FailureReport::of).collect(),
            reproduce: Some(reproduce),
            picture: None,
            lines,
            warnings: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// A failure's text under its PASS/FAIL line: the first line indented by two spaces; the
/// others come indented by the failure itself.
fn indented(text: &str) -> Vec<String> {
    text.lines().enumerate().map(|(i, line)| if i == 0 { format!("  {line}") } else { line.to_string() }).collect()
}

impl FailureReport {
    fn of(failure: &Failure) -> FailureReport {
        FailureReport {
            expected: failure.expected.clone(),
            seen: failure.seen.clone(),
            nearest: failure.nearest.clone(),
            deadline: failure.deadline.map(|t| t.to_string()),
            states: failure
                .states
                .iter()
                .map(|s| {
                    let (state, serial, digest) = match s.status {
                        Status::Serving { serial, digest } => ("serving", Some(serial), Some(format!("{digest:016x}"))),
                        Status::Expired => ("expired", None, None),
                        Status::Absent => ("absent", None, None),
                    };
                    StateReport { server: s.server.clone(), state, serial, digest }
                })
                .collect(),
        }
    }
}

/// The closing line: runs (scenario × seed) that passed and that did not.
pub fn totals_line(reports: &[RunReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!("{passed} passed, {} failed", reports.len() - passed)
}

/// `--format json`: one document on stdout.
#[derive(Serialize)]
struct JsonReport<'a> {
    runs: &'a [RunReport],
    passed: usize,
    failed: usize,
}

pub fn json(reports: &[RunReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    let document = JsonReport { runs: reports, passed, failed: reports.len() - passed };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// `--junit FILE`: one `<testcase>` per scenario and seed, named `<scenario> seed=<N>`, in one
/// `<testsuite>`. No `time` attributes: the report is as deterministic as the runs.
pub fn junit(reports: &[RunReport]) -> String {
    let failures = reports.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let errors = reports.iter().filter(|r| r.verdict == Verdict::Error).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!("tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\"", reports.len());
    let _ = writeln!(xml, "<testsuites name=\"xfrsim\" {counts}>");
    let _ = writeln!(xml, "  <testsuite name=\"scenarios\" {counts}>");
    for report in reports {
        let name = match report.seed {
            Some(seed) => format!("{} seed={seed}", report.scenario),
            None => report.scenario.clone(),
        };
        let _ = write!(
            xml,
            "    <testcase classname=\"scenarios.{}\" name=\"{}\" file=\"{}\"",
            escape(&report.scenario),
            escape(&name),
            escape(&report.file)
        );
        if report.passed() {
            xml.push_str("/>\n");
            continue;
        }
        xml.push_str(">\n");
        let (element, kind, message) = match &report.error {
            Some(error) => ("error", "error", error.clone()),
            None => {
                let n = report.failures.len();
                ("failure", "expectation", format!("{n} unmet expectation{}", if n == 1 { "" } else { "s" }))
            }
        };
        // The body is the text report: the PASS/FAIL line, each failure, the reproduce line.
        let _ = writeln!(
            xml,
            "      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>",
            escape(&message),
            escape(&report.lines.join("\n")).replace("&#10;", "\n")
        );
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Text for an XML attribute or element: the five special characters escaped, and the control
/// characters XML 1.0 forbids replaced (a scenario description or error could hold any).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if u32::from(c) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use xfrsim_sim::RunOptions;

    use super::*;

    /// A bundled or fixture scenario run at its own seed, reported as `program` would.
    fn report(program: &str, relative: &str) -> RunReport {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
        let loaded = xfrsim_scenario::load(&path).expect("the scenario loads");
        let seed = loaded.scenario.seed.unwrap_or(xfrsim_scenario::DEFAULT_SEED);
        let outcome = xfrsim_sim::run(&loaded, RunOptions { seed, warp: true }).expect("the run ends");
        RunReport::finished(program, loaded.name.clone(), relative.to_string(), &outcome)
    }

    #[test]
    fn a_passing_run_is_one_line_and_counts_in_the_totals() {
        let report = report("cargo xtask", "scenarios/chain.ron");
        assert!(report.passed());
        assert_eq!(report.lines.len(), 1, "{:?}", report.lines);
        assert!(report.lines[0].starts_with("PASS chain seed=9 events="), "{:?}", report.lines);
        assert_eq!(totals_line(std::slice::from_ref(&report)), "1 passed, 0 failed");
    }

    #[test]
    fn a_failing_run_names_the_command_that_replays_it_as_the_user_invoked_us() {
        let file = "xtask/tests/data/never-converges.ron";
        for program in ["cargo xtask", "xfrsim"] {
            let report = report(program, file);
            assert_eq!(report.verdict, Verdict::Fail);
            let expected = format!("{program} replay {file} --seed 6523");
            assert_eq!(report.lines.last().map(String::as_str), Some(format!("  reproduce: {expected}").as_str()));
            assert_eq!(report.reproduce.as_deref(), Some(expected.as_str()));
        }
    }

    #[test]
    fn json_and_junit_carry_the_same_verdicts_as_the_lines() {
        let reports = [
            report("cargo xtask", "scenarios/chain.ron"),
            report("cargo xtask", "xtask/tests/data/never-converges.ron"),
        ];
        let document: serde_json::Value = serde_json::from_str(&json(&reports)).expect("JSON");
        assert_eq!((document["passed"].as_u64(), document["failed"].as_u64()), (Some(1), Some(1)));
        assert_eq!(document["runs"][0]["verdict"], "pass");
        assert_eq!(document["runs"][1]["verdict"], "fail");
        assert_eq!(document["runs"][1]["failures"][0]["states"].as_array().map(Vec::len), Some(2));
        let xml = junit(&reports);
        assert!(xml.contains("<testsuites name=\"xfrsim\" tests=\"2\" failures=\"1\" errors=\"0\">"), "{xml}");
        assert!(xml.contains("<testcase classname=\"scenarios.chain\" name=\"chain seed=9\""), "{xml}");
        assert_eq!(xml.matches("<failure message=\"1 unmet expectation\"").count(), 1, "{xml}");
    }

    #[test]
    fn xml_special_and_control_characters_are_escaped() {
        assert_eq!(escape("a<b>&\"c'\n\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;\u{fffd}");
    }
}
