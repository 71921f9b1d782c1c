//! Load errors as a compiler shows them: the position, the source line with the fault
//! underlined, and a hint in plain words; every fault of a file at once.
//!
//! The first line of every fault is `path:line:col: message`, the one-line form scripts and
//! editors already read; the excerpt and the hint follow on lines of their own.

use std::fmt;
use std::io::IsTerminal;
use std::ops::Range;

use annotate_snippets::{Level, Renderer, Snippet};

/// A scenario that cannot run. `path`, `line`, `col` and `message` describe the first fault;
/// `diagnostics` holds every fault found (the first one included), each with its source text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// Empty when there is no source text to show (the file could not be read at all).
    pub diagnostics: Vec<Diagnostic>,
}

/// One fault in a file: where, what, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line and column (in characters) of the fault.
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// What to write instead, in plain words.
    pub hint: Option<String>,
    /// Boxed: checks pass diagnostics around in `Result`s, which should stay small.
    marks: Box<Marks>,
}

/// Where the fault is in the source and what its excerpt shows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Marks {
    /// Byte range of the fault in the source, and what the underline says.
    span: Range<usize>,
    label: String,
    /// Other places worth showing (byte range, label), e.g. the earlier of two contradictions.
    notes: Vec<(Range<usize>, String)>,
    /// The source lines the marks are on, cut out when the error is built so the error owns
    /// everything it shows.
    excerpt: Option<Excerpt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Excerpt {
    first_line: usize,
    text: String,
    /// (range in `text`, label, is the fault itself).
    marks: Vec<(Range<usize>, String, bool)>,
}

/// Notes further than this from the fault are not shown in its excerpt (the hint names them).
const MAX_EXCERPT_LINES: usize = 12;

impl Diagnostic {
    /// A fault at bytes `span` of `source` (clamped to the text, widened to a whole character).
    pub(crate) fn at(source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let span = clamp_span(source, span);
        let (line, col) = line_col(source, span.start);
        Diagnostic {
            line,
            col,
            message: message.into(),
            hint: None,
            marks: Box::new(Marks { span, label: String::new(), notes: Vec::new(), excerpt: None }),
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.marks.label = label.into();
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn hint_opt(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// Another place to show beside the fault.
    pub(crate) fn note(mut self, source: &str, span: Range<usize>, label: impl Into<String>) -> Self {
        self.marks.notes.push((clamp_span(source, span), label.into()));
        self
    }

    /// Cuts the lines the marks are on out of `source`.
    fn with_excerpt(mut self, source: &str) -> Self {
        let near = |range: &Range<usize>| {
            let (line, _) = line_col(source, range.start);
            line.abs_diff(self.line) < MAX_EXCERPT_LINES
        };
        let mut marks: Vec<(Range<usize>, String, bool)> =
            vec![(self.marks.span.clone(), self.marks.label.clone(), true)];
        marks.extend(
            self.marks.notes.iter().filter(|(range, _)| near(range)).map(|(r, l)| (r.clone(), l.clone(), false)),
        );
        // Spans come from positions in the text; a position off a character boundary (or past
        // the end) is moved back to one rather than trusted with a slice.
        let start = char_floor(source, marks.iter().map(|(r, _, _)| r.start).min().unwrap_or(0));
        let end = char_floor(source, marks.iter().map(|(r, _, _)| r.end).max().unwrap_or(0)).max(start);
        let from = source[..start].rfind('\n').map_or(0, |nl| nl + 1);
        let to = source[end..].find('\n').map_or(source.len(), |nl| end + nl);
        let (first_line, _) = line_col(source, from);
        let text = source[from..to].to_string();
        let marks = marks
            .into_iter()
            .map(|(r, label, primary)| {
                // An empty span (the end of the file) still gets a caret.
                let r = char_floor(&text, r.start.saturating_sub(from))..char_floor(&text, r.end.saturating_sub(from));
                let r = if r.start >= r.end {
                    // One character wide, however many bytes it takes.
                    let width = text[r.start..].chars().next().map_or(0, char::len_utf8);
                    r.start..r.start + width
                } else {
                    r
                };
                (r, label, primary)
            })
            .collect();
        self.marks.excerpt = Some(Excerpt { first_line, text, marks });
        self
    }

    fn render(&self, path: &str, renderer: &Renderer, out: &mut String) {
        out.push_str(&format!("{path}:{}:{}: {}\n", self.line, self.col, self.message));
        let Some(excerpt) = &self.marks.excerpt else {
            if let Some(hint) = &self.hint {
                out.push_str(&format!("  = help: {hint}\n"));
            }
            return;
        };
        let mut snippet = Snippet::source(&excerpt.text).line_start(excerpt.first_line).fold(false);
        for (range, label, primary) in &excerpt.marks {
            let level = if *primary { Level::Error } else { Level::Note };
            snippet = snippet.annotation(level.span(range.clone()).label(label));
        }
        let mut message = Level::Error.title(&self.message).snippet(snippet);
        if let Some(hint) = &self.hint {
            message = message.footer(Level::Help.title(hint));
        }
        let rendered = renderer.render(message).to_string();
        // The renderer's own title line repeats the message; ours above carries the position.
        for line in rendered.lines().skip(1) {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

impl ScenarioError {
    /// A fault with a position but no source text to show.
    pub fn plain(path: impl Into<String>, line: usize, col: usize, message: impl Into<String>) -> Self {
        ScenarioError { path: path.into(), line, col, message: message.into(), diagnostics: Vec::new() }
    }

    /// Every fault found in `source`, in the order found; the first becomes the headline.
    pub(crate) fn from_diagnostics(path: &str, source: &str, diagnostics: Vec<Diagnostic>) -> Self {
        let diagnostics: Vec<Diagnostic> = diagnostics.into_iter().map(|d| d.with_excerpt(source)).collect();
        match diagnostics.first() {
            Some(first) => ScenarioError {
                path: path.to_string(),
                line: first.line,
                col: first.col,
                message: first.message.clone(),
                diagnostics,
            },
            None => ScenarioError::plain(path, 0, 0, "scenario is not valid"),
        }
    }

    /// The whole report, in colour or not. The first line is `path:line:col: message`.
    pub fn render(&self, colour: bool) -> String {
        if self.diagnostics.is_empty() {
            return match self.line {
                // Not a position in the text (the file could not be read at all).
                0 => format!("{}: {}", self.path, self.message),
                line => format!("{}:{line}:{}: {}", self.path, self.col, self.message),
            };
        }
        let renderer = if colour { Renderer::styled() } else { Renderer::plain() };
        let mut out = String::new();
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            diagnostic.render(&self.path, &renderer, &mut out);
        }
        if self.diagnostics.len() > 1 {
            out.push_str(&format!("\n{}: {} errors\n", self.path, self.diagnostics.len()));
        }
        out.truncate(out.trim_end().len());
        out
    }

    /// The report for a stream: in colour when the stream is a terminal and `NO_COLOR` is unset
    /// (https://no-color.org).
    pub fn render_for(&self, stream: &impl IsTerminal) -> String {
        self.render(colour_wanted(stream))
    }
}

/// Whether to colour output to `stream`: a terminal, and `NO_COLOR` unset or empty.
pub fn colour_wanted(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl fmt::Display for ScenarioError {
    /// The plain report (no colour): what tests snapshot and logs keep.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// 1-based line and character column of byte `offset`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Byte offset of a 1-based line and character column (clamped to the text).
pub(crate) fn offset_of(source: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match source[start..].find('\n') {
            Some(nl) => start += nl + 1,
            None => return source.len(),
        }
    }
    let rest = &source[start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    start + rest[..line_len].char_indices().nth(col.saturating_sub(1)).map_or(line_len, |(i, _)| i)
}

fn floor_char(source: &str, mut offset: usize) -> usize {
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn clamp_span(source: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_char(source, span.start.min(source.len()));
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The candidate closest to `wrong`, if one is close enough to be a slip of the keyboard:
/// fewest edits (a swap of two neighbours counts one), then most alike from the start.
pub(crate) fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    let allowed = (wrong.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = strsim::osa_distance(&wrong_lower, &candidate.to_lowercase());
            (distance <= allowed).then(|| (distance, strsim::jaro_winkler(wrong, candidate), candidate))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate)
}

/// `did you mean `x`?`, or nothing.
pub(crate) fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(wrong, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `a`, `b` or `c`.
pub(crate) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "none".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `at`, or the nearest character boundary before it, within `text`.
fn char_floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let source = "ab\ncdé f\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 3), (2, 1));
        assert_eq!(offset_of(source, 2, 4), 7);
        assert_eq!(line_col(source, 7), (2, 4));
        assert_eq!(offset_of(source, 9, 9), source.len());
    }

    #[test]
    fn closest_prefers_a_swap_and_refuses_strangers() {
        assert_eq!(closest("6532", ["6522", "6523", "6524"]), Some("6523"));
        assert_eq!(closest("nss2", ["ns1", "ns2"]), Some("ns2"));
        assert_eq!(closest("primary", ["ns1", "ns2"]), None);
    }

    #[test]
    fn colour_keeps_the_plain_first_line() {
        let source = "(\n  duration: 5,\n)";
        let error =
            ScenarioError::from_diagnostics("f.ron", source, vec![Diagnostic::at(source, 14..15, "no").hint("h")]);
        let coloured = error.render(true);
        assert!(coloured.starts_with("f.ron:2:13: no\n"), "{coloured}");
        assert!(coloured.contains('\u{1b}'), "{coloured}");
        assert!(!error.to_string().contains('\u{1b}'));
    }

    #[test]
    fn a_span_past_the_end_still_renders() {
        let source = "(\n  x: 1";
        let error = ScenarioError::from_diagnostics("f.ron", source, vec![Diagnostic::at(source, 50..60, "eof")]);
        let text = error.to_string();
        assert!(text.starts_with("f.ron:2:7: eof\n"), "{text}");
    }
}
