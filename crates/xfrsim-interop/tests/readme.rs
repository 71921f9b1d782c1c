//! The README states how many interop checks run; this keeps that number the code's.

use xfrsim_interop::all_checks;

/// Every number the README puts before "checks" or "interop checks", with its line.
fn stated_counts(readme: &str) -> Vec<(usize, usize)> {
    let mut counts = Vec::new();
    for (index, line) in readme.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (at, word) in words.iter().enumerate() {
            let Ok(count) = word.trim_start_matches('(').parse::<usize>() else { continue };
            let next = words.get(at + 1).map(|w| w.trim_end_matches([')', ',', '.', ';']));
            let after = words.get(at + 2).map(|w| w.trim_end_matches([')', ',', '.', ';']));
            if next == Some("checks") || (next == Some("interop") && after == Some("checks")) {
                counts.push((index + 1, count));
            }
        }
    }
    counts
}

#[test]
fn the_readme_states_the_number_of_interop_checks_that_run() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let counts = stated_counts(&readme);
    assert!(!counts.is_empty(), "README.md states no number of interop checks");
    let running = all_checks().len();
    for (line, count) in counts {
        assert_eq!(count, running, "README.md:{line} says {count} checks; all_checks() has {running}");
    }
}
