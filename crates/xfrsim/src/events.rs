//! `cargo xtask events [ID|NAME] [--markdown]`: the event catalog (`xfrsim_engine::catalog`),
//! as a list, one event in full, or the Markdown of `docs/events.md`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Result, bail};
use xfrsim_engine::catalog::EVENTS;
use xfrsim_engine::{Emitter, EventInfo};

use crate::Invocation;

fn id_text(info: &EventInfo) -> String {
    info.windows_id.map_or_else(|| "-".to_string(), |id| id.to_string())
}

/// The list: ID, severity, name (the original three columns, which scripts may read), then
/// the message.
pub fn list() -> Result<ExitCode> {
    for info in EVENTS {
        println!("{:>5} {:<7} {:<41} {}", id_text(info), info.severity, info.name, info.message);
    }
    Ok(ExitCode::SUCCESS)
}

/// One event in full, or a one-line error naming the closest event.
pub fn show(query: &str) -> Result<ExitCode> {
    let Some(info) = xfrsim_engine::find_event(query) else {
        bail!("no event `{query}`{}", did_you_mean(query));
    };
    print!("{}", detail(info));
    Ok(ExitCode::SUCCESS)
}

/// An event named by a user (`replay --event`), or the same error as `events`.
pub fn lookup(context: &Invocation, query: &str) -> Result<&'static EventInfo> {
    match xfrsim_engine::find_event(query) {
        Some(info) => Ok(info),
        None => {
            bail!("--event `{query}`: no such event{} (`{} events` lists them)", did_you_mean(query), context.program)
        }
    }
}

/// `; did you mean 6523 DNS_EVENT_...?` (the name alone for an `XFRSIM_` event) for the event
/// the catalog suggests, or nothing.
fn did_you_mean(query: &str) -> String {
    match xfrsim_engine::suggest_event(query) {
        Some(info) => match info.windows_id {
            Some(id) => format!("; did you mean {id} {}?", info.name),
            None => format!("; did you mean {}?", info.name),
        },
        None => String::new(),
    }
}

/// Who emits an event, in words.
fn emitted_by_text(emitter: Emitter) -> &'static str {
    match emitter {
        Emitter::Secondary => "a server holding the zone as a secondary",
        Emitter::Primary => "a server holding the zone as its primary",
        Emitter::Any => "a server in either role",
    }
}

/// One event as `events ID` prints it.
fn detail(info: &EventInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} ({})", id_text(info), info.name, info.severity);
    let _ = writeln!(out, "  {}", info.message);
    let _ = writeln!(out, "parameters:");
    if info.params.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for param in info.params {
        let _ = writeln!(out, "  {:<10} {}", param.name, param.meaning);
    }
    let _ = writeln!(out, "emitted by:\n  {}", emitted_by_text(info.emitted_by));
    let _ = writeln!(out, "when xfrsim emits it:\n  {}", info.fires);
    let _ = writeln!(out, "BIND 9:\n  {}", info.bind);
    let _ = writeln!(out, "Knot DNS:\n  {}", info.knot);
    out
}

/// `docs/events.md`, generated: `cargo xtask events --markdown > docs/events.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Events\n\n<!-- Generated from crates/xfrsim-engine/src/catalog.rs by \
         `cargo xtask events --markdown > docs/events.md`; do not edit. -->\n\n\
         Every event an xfrsim node reports: the Windows DNS Server event ID and symbolic name where \
         Windows has one (`XFRSIM_` names are xfrsim's own), the severity, what it means, its \
         parameters as timeline lines print them, when xfrsim emits it, and what BIND 9 and Knot DNS \
         log in the same situation. In scenarios, `event:` takes the ID or the name, in any case, with \
         or without its `DNS_EVENT_` or `XFRSIM_` prefix (`6523`, `xfr_master_unavailable`), and \
         the scenario loader refuses an event the server's role for the zone never emits; \
         `cargo xtask events 6523` prints one event.\n\n| ID | name | severity | emitted by | meaning |\n\
         |---|---|---|---|---|\n",
    );
    for info in EVENTS {
        let _ = writeln!(
            out,
            "| {} | [`{}`](#{}) | {} | {} | {} |",
            id_text(info),
            info.name,
            anchor(info),
            info.severity,
            info.emitted_by,
            info.message
        );
    }
    for info in EVENTS {
        let _ = writeln!(out, "\n## {} {}\n", id_text(info), info.name);
        let _ = writeln!(out, "{} Severity: {}.\n", info.message, info.severity);
        if info.params.is_empty() {
            let _ = writeln!(out, "Parameters: none.\n");
        } else {
            let _ = writeln!(out, "| parameter | meaning |\n|---|---|");
            for param in info.params {
                let _ = writeln!(out, "| `{}` | {} |", param.name, param.meaning);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "Emitted by: {}.\n", emitted_by_text(info.emitted_by));
        let _ = writeln!(out, "When: {}\n", info.fires);
        let _ = writeln!(out, "- BIND 9: {}", log_line(info.bind));
        let _ = writeln!(out, "- Knot DNS: {}", log_line(info.knot));
    }
    out
}

/// The GitHub anchor of an event's section heading (`## 6523 DNS_EVENT_...`).
fn anchor(info: &EventInfo) -> String {
    format!("{} {}", id_text(info), info.name)
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// A log line as code; a note in parentheses (no such line) as text.
fn log_line(text: &str) -> String {
    if text.starts_with('(') { text.to_string() } else { format!("`{text}`") }
}
