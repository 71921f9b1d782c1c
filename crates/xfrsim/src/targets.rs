//! Which scenario files a command means: paths (files or directories) as given, or names of
//! bundled scenarios (`chain` for `scenarios/chain.ron`), so users need not type the path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::Invocation;

/// How many names an "unknown scenario" error suggests.
const SUGGESTIONS: usize = 3;

/// The bundled scenarios' directory. Outside a checkout there is none: the error is `wanted`
/// (why one was needed, ending in "and") then what to do instead, on one line.
pub fn scenarios_dir(context: &Invocation, wanted: &str) -> Result<PathBuf> {
    match &context.workspace {
        Some(root) => Ok(root.join("scenarios")),
        None => {
            anyhow::bail!(
                "{wanted} there is no xfrsim checkout here (no bundled scenarios): give a scenario file's path"
            )
        }
    }
}

/// Scenario files for the given arguments, in argument order, each directory's files sorted
/// (directory order is filesystem-dependent). No argument means every bundled scenario.
pub fn scenario_files(context: &Invocation, args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if args.is_empty() {
        return ron_files(&scenarios_dir(context, "no scenario given, and")?);
    }
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            files.extend(ron_files(arg)?);
        } else if arg.exists() {
            files.push(arg.clone());
        } else if looks_like_name(arg) {
            files.push(by_name(context, &arg.to_string_lossy())?);
        } else {
            anyhow::bail!("{}: no such file or directory", arg.display());
        }
    }
    Ok(files)
}

/// One scenario for a command that takes exactly one (`replay`): a file, or a bundled
/// scenario's name as `run` takes it.
pub fn scenario_file(context: &Invocation, arg: &Path) -> Result<PathBuf> {
    if arg.is_file() || !looks_like_name(arg) {
        return Ok(arg.to_path_buf());
    }
    by_name(context, &arg.to_string_lossy())
}

/// A bare word (no directory part, no `.ron`) is a scenario name; anything else is a path the
/// user meant literally, so a typo in it is reported as a missing file.
fn looks_like_name(arg: &Path) -> bool {
    arg.components().count() == 1 && arg.extension().is_none_or(|e| e != "ron")
}

fn ron_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "ron") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap_or_default().to_string_lossy().into_owned()
}

/// `name` is a bundled scenario's file name without `.ron`, or the start of exactly one of
/// them; an exact name wins over longer ones it starts (`chain` is `chain.ron`, not
/// `chain-expiry-edns-expire.ron`).
fn by_name(context: &Invocation, name: &str) -> Result<PathBuf> {
    let dir = scenarios_dir(context, &format!("`{name}` is not a file, and"))?;
    let files = ron_files(&dir)?;
    if let Some(exact) = files.iter().find(|f| stem(f) == name) {
        return Ok(exact.clone());
    }
    let starting: Vec<&PathBuf> = files.iter().filter(|f| stem(f).starts_with(name)).collect();
    match starting.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            let suggested = suggest(name, files.iter().map(|f| stem(f)).collect());
            if suggested.is_empty() {
                anyhow::bail!("no scenario named `{name}` (`{} run --list` lists them)", context.program)
            }
            anyhow::bail!("no scenario named `{name}`; did you mean {}?", suggested.join(", "))
        }
        several => {
            let names: Vec<String> = several.iter().map(|f| stem(f)).collect();
            anyhow::bail!("`{name}` names several scenarios: {}", names.join(", "))
        }
    }
}

/// The names nearest a mistyped one: those containing it, then those within a few edits.
fn suggest(name: &str, mut names: Vec<String>) -> Vec<String> {
    let containing: Vec<String> = names.iter().filter(|n| n.contains(name)).take(SUGGESTIONS).cloned().collect();
    if !containing.is_empty() {
        return containing;
    }
    // Up to a third of the name mistyped: further than that, a suggestion is a guess.
    let budget = name.chars().count().div_ceil(3);
    names.sort_by_key(|n| (edit_distance(name, prefix_like(n, name)), n.clone()));
    names.into_iter().filter(|n| edit_distance(name, prefix_like(n, name)) <= budget).take(SUGGESTIONS).collect()
}

/// As much of `candidate` as `typed` is long: a typo in the start of a long name is compared
/// against that start, not against the whole name.
fn prefix_like<'a>(candidate: &'a str, typed: &str) -> &'a str {
    let len = typed.chars().count();
    candidate.char_indices().nth(len).map_or(candidate, |(i, _)| &candidate[..i])
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `cargo xtask run --list`: each scenario's name and description, aligned.
pub fn list(files: &[PathBuf]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let width = files.iter().map(|f| stem(f).chars().count()).max().unwrap_or(0);
    for file in files {
        let description = match xfrsim_scenario::load(file) {
            Ok(loaded) => loaded.scenario.description,
            Err(e) => format!("(does not load: {e})"),
        };
        // One line per scenario, whatever the description holds.
        let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
        // A closed pipe (`| head`) ends the listing, as it ends any filter.
        if writeln!(out, "{:<width$}  {description}", stem(file)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("chian", "chain"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("notify", "notify"), 0);
    }

    #[test]
    fn a_mistyped_start_suggests_the_names_it_resembles() {
        let names = vec!["chain".to_string(), "notify-lost".to_string(), "serial-wrap".to_string()];
        assert_eq!(suggest("chian", names.clone()), vec!["chain".to_string()]);
        assert_eq!(suggest("lost", names.clone()), vec!["notify-lost".to_string()]);
        assert!(suggest("zzzzzzzz", names).is_empty());
    }
}
