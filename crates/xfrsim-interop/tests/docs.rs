//! What the documents state about the code, checked against the code: the README's count of
//! interop checks, and every file ARCHITECTURE.md's code map names. (Here, in the crate whose
//! checks the README counts; a test binary of its own, as the crate's other one is the checks'
//! own harness.)

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

/// The files and folders each code-map entry of ARCHITECTURE.md names: under a heading
/// "### `DIR`", every "`PATH` —" is `DIR/src/PATH` or `DIR/PATH` (a folder when it ends in `/`);
/// within an entry for a folder ("- `node/` — ..."), the files it goes on to name are in it.
fn code_map_paths(architecture: &str) -> Vec<(usize, String)> {
    let mut paths = Vec::new();
    let mut dir: Option<String> = None;
    let mut folder = String::new();
    for (index, line) in architecture.lines().enumerate() {
        if let Some(entry) = line.strip_prefix("- `") {
            let first = entry.split('`').next().unwrap_or("");
            folder = if first.ends_with('/') { first.to_string() } else { String::new() };
        }
        if let Some(heading) = line.strip_prefix("### `").and_then(|h| h.strip_suffix('`')) {
            dir = Some(heading.to_string());
            continue;
        }
        if line.starts_with("## ") {
            dir = None;
        }
        let Some(dir) = &dir else { continue };
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            let token = &after[..end];
            rest = &after[end + 1..];
            if rest.starts_with(" —") && !token.is_empty() && !token.contains(' ') {
                let inside = if token == folder { "" } else { folder.as_str() };
                paths.push((index + 1, format!("{dir}/{inside}{token}")));
            }
        }
    }
    paths
}

#[test]
fn every_path_the_code_map_names_exists() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let path = format!("{root}/ARCHITECTURE.md");
    let architecture = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let paths = code_map_paths(&architecture);
    assert!(paths.len() > 50, "the code map names only {} paths: is the parser still right?", paths.len());
    let mut missing = Vec::new();
    for (line, entry) in paths {
        let (dir, file) = entry.split_once('/').map_or((entry.as_str(), ""), |(d, f)| (d, f));
        let (dir, file) = match dir {
            "crates" => {
                let (krate, file) = file.split_once('/').unwrap_or((file, ""));
                (format!("crates/{krate}"), file.to_string())
            }
            _ => (dir.to_string(), file.to_string()),
        };
        let found = [format!("{root}/{dir}/src/{file}"), format!("{root}/{dir}/{file}")]
            .iter()
            .any(|candidate| std::path::Path::new(candidate).exists());
        if !found {
            missing.push(format!("ARCHITECTURE.md:{line}: {dir}/{file}"));
        }
    }
    assert!(missing.is_empty(), "the code map names files that do not exist:\n{}", missing.join("\n"));
}
