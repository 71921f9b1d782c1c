//! Timeline lines read back into their fields: the reader next to its printers. An event line
//! is `Event::timeline_line` (`<time> <server> <id|-> <NAME> zone=<zone|-> k=v ...`, a value
//! with a space quoted), an action line is the harness's `<time> <server|*> action <text>`
//! (harness/actions.rs). The line format is the output contract, so reading it is as stable as
//! writing it, and the simulation keeps streaming plain lines without holding anything for
//! its readers (`replay`'s filters and JSON view).

/// One timeline line, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub at_ms: u64,
    /// The time as printed.
    pub at_text: &'a str,
    /// A server name, or `*` for a network action.
    pub server: &'a str,
    pub what: What<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What<'a> {
    Event {
        windows_id: Option<u16>,
        name: &'a str,
        /// `None` for node-wide events (`zone=-`).
        zone: Option<&'a str>,
        params: Vec<(&'a str, &'a str)>,
    },
    Action(&'a str),
}

/// Splits a timeline line; `None` for anything else (a line this version does not know).
pub fn parse(line: &str) -> Option<Entry<'_>> {
    let (at_text, rest) = line.split_once(' ')?;
    let (server, rest) = rest.split_once(' ')?;
    let at_ms = parse_time(at_text)?;
    if let Some(text) = rest.strip_prefix("action ") {
        return Some(Entry { at_ms, at_text, server, what: What::Action(text) });
    }
    let (id, rest) = rest.split_once(' ')?;
    let windows_id = if id == "-" { None } else { Some(id.parse().ok()?) };
    let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (zone, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let zone = zone.strip_prefix("zone=")?;
    let zone = (zone != "-").then_some(zone);
    let mut params = Vec::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        // Values with spaces are quoted, and never hold a quote themselves.
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (value, after) = quoted.split_once('"')?;
                (value, after.strip_prefix(' ').unwrap_or(after))
            }
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        params.push((key, value));
        rest = after;
    }
    Some(Entry { at_ms, at_text, server, what: What::Event { windows_id, name, zone, params } })
}

/// `[Nd]hh:mm:ss.mmm` (the engine's `Time` display) to milliseconds.
fn parse_time(text: &str) -> Option<u64> {
    let (days, clock) = match text.split_once('d') {
        Some((days, clock)) => (days.parse::<u64>().ok()?, clock),
        None => (0, text),
    };
    let mut parts = clock.split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let (seconds, millis) = parts.next()?.split_once('.')?;
    let (seconds, millis): (u64, u64) = (seconds.parse().ok()?, millis.parse().ok()?);
    Some((((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Entry, What, parse, parse_time};
    use crate::RunOptions;

    /// A bundled scenario with a crash, faults, expiry and convergence: actions, node-wide and
    /// zone events, quoted values.
    fn outcome() -> crate::Outcome {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/two-masters-first-down.ron");
        let loaded = xfrsim_scenario::load(&path).expect("the scenario loads");
        crate::run(&loaded, RunOptions { seed: 1, warp: true }).expect("the run ends")
    }

    #[test]
    fn every_event_line_printed_reads_back_as_the_event_it_printed() {
        let outcome = outcome();
        let recording = &outcome.recording;
        assert!(recording.events.len() > 20);
        for observed in &recording.events {
            let line = recording.line_of(observed);
            let event = recording.event(observed);
            let entry = parse(&line).unwrap_or_else(|| panic!("does not parse: {line}"));
            assert_eq!(entry.at_ms, observed.at.as_millis(), "{line}");
            assert_eq!(entry.at_text, observed.at.to_string(), "{line}");
            assert_eq!(entry.server, recording.servers[usize::from(observed.server)], "{line}");
            let What::Event { windows_id, name, zone, params } = &entry.what else {
                panic!("an event read as an action: {line}");
            };
            assert_eq!(*windows_id, event.kind.windows_id(), "{line}");
            assert_eq!(*name, event.kind.name(), "{line}");
            let printed_zone = observed.zone.map(|z| recording.zones[z as usize].as_str());
            assert_eq!(*zone, printed_zone, "{line}");
            let expected: Vec<(&str, String)> = event.kind.params();
            let read: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
            assert_eq!(read, expected, "{line}");
        }
    }

    #[test]
    fn every_line_of_a_run_parses_and_actions_keep_their_text() {
        let outcome = outcome();
        let mut actions = 0;
        for line in &outcome.recording.lines {
            let entry = parse(line).unwrap_or_else(|| panic!("does not parse: {line}"));
            if let What::Action(text) = entry.what {
                actions += 1;
                assert_eq!(format!("{} {} action {text}", entry.at_text, entry.server), *line);
            }
        }
        assert!(actions > 0, "the scenario has timeline actions");
    }

    #[test]
    fn times_read_with_and_without_days_and_other_lines_are_not_timeline_lines() {
        assert_eq!(parse_time("00:00:01.002"), Some(1002));
        assert_eq!(parse_time("2d01:00:00.000"), Some((2 * 24 + 1) * 3_600_000));
        assert_eq!(parse("digest=0123456789abcdef"), None);
        assert_eq!(parse("not a timeline line"), None);
        let entry = parse("00:00:05.000 * action heal");
        assert_eq!(
            entry,
            Some(Entry { at_ms: 5000, at_text: "00:00:05.000", server: "*", what: What::Action("heal") })
        );
    }
}
