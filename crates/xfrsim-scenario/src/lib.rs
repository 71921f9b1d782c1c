//! The xfrsim scenario format: one RON file describing servers, zones, a timeline of faults and
//! operator actions, and expectations. See `docs/scenarios.md` for the user's guide.
//!
//! [`load`] parses and validates; every error's first line is `path:line:col: message`, then
//! the source line with the fault underlined and a hint; a file's faults come all at once.

mod check_expectations;
mod check_timeline;
mod checker;
mod diagnostics;
mod duration;
mod fault;
mod ids;
mod model;
mod node;
mod ron_error;
mod setup;
mod zones;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use checker::fmt_duration;
pub use diagnostics::{Diagnostic, ScenarioError, colour_wanted};
pub use duration::{DurationError, format_duration, parse_duration};
pub use fault::{AclPeer, Band, Endpoint, Fault, LinkChange, LinkShape, Names, TimedFault};
pub use model::*;
pub use node::{
    LoadedNode, NodeFile, NodeZone, NodeZoneError, ZoneFileData, load_node, parse_node, parse_peer, read_zone_file,
};
pub use setup::{HeldZone, LowerError, ServerId, Setup, SetupServer, SetupZone, ZoneId, ZoneRole, parse_origin};
pub use zones::{ZoneLoadError, build_zone, generated_zone};

/// The seed used when neither the command line nor the file gives one.
pub const DEFAULT_SEED: u64 = 6523;

// Limits on what one scenario file may ask for, checked when it loads, before anything is
// built: what a run costs grows with each of them (docs/scenarios.md, "Limits").

/// The largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;
/// The longest simulated duration: a year. Every time in the file is bounded by it, so no
/// time arithmetic can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);
/// Timeline steps once `Updates` are expanded into single updates.
pub const MAX_TIMELINE_STEPS: u64 = 1_000_000;
/// Servers in one scenario.
pub const MAX_SERVERS: usize = 1_000;
/// Zones in one scenario. A hosting operator's secondary holds a few hundred thousand; every
/// zone is built (SOA, NS, generated hosts) before the run, and held by each of its servers.
pub const MAX_ZONES: usize = 250_000;
/// Generated hosts in one zone (each is two records).
pub const MAX_GENERATED_HOSTS: u32 = 1_000_000;
/// One-way latency or jitter of a link (a geostationary satellite hop is 0.6 s).
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

/// A scenario that loaded and passed every check, with what it was loaded from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The file as written (what the picture shows and the explorer writes).
    pub scenario: Scenario,
    /// The same scenario lowered: what the harness runs.
    pub setup: Setup,
    pub path: PathBuf,
    pub name: String,
    /// What loading the zone files warned about (BIND's warnings: out-of-zone data skipped,
    /// TTLs unified within an RRset).
    pub zone_warnings: Vec<xfrsim_zone::ZoneFileWarning>,
}

/// Reads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let error = |message: String| ScenarioError::plain(path.display().to_string(), 0, 0, message);
    // A FIFO or a device named `x.ron` would block the read, or never end: regular files only.
    let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read scenario: {e}")))?;
    if !meta.is_file() {
        return Err(error("cannot read scenario: not a regular file".into()));
    }
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err(error(format!("scenario is {} bytes; the limit is {MAX_SCENARIO_BYTES}", meta.len())));
    }
    let source = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read scenario: {e}")))?;
    parse(&source, path)
}

/// Parses and validates scenario text; `path` names it in errors and anchors relative paths.
pub fn parse(source: &str, path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let shown = path.display().to_string();
    let mut scenario: Scenario = ron_options()
        .from_str(source)
        .map_err(|e| ScenarioError::from_diagnostics(&shown, source, vec![ron_error::translate(source, &e)]))?;
    let name = scenario.name.clone().unwrap_or_else(|| {
        path.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
    });
    let checker = checker::Checker::new(source, &scenario);
    let errors = checker.check();
    if !errors.is_empty() {
        return Err(ScenarioError::from_diagnostics(&shown, source, errors));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A zone file is read as the server holding the zone as primary reads it (the first such
    // server in file order; a zone no server holds as primary is read as BIND reads it).
    let mut primary_profile: std::collections::BTreeMap<&str, ServerProfile> = std::collections::BTreeMap::new();
    for server in &scenario.servers {
        for zone in &server.zones {
            if let model::ServerZone::Primary { zone, .. } = zone {
                primary_profile.entry(zone.as_str()).or_insert(server.profile);
            }
        }
    }
    let rrset_ttl = |origin: &str| {
        let profile = primary_profile.get(origin).copied().unwrap_or(ServerProfile::Bind);
        xfrsim_engine::Behaviour::of(profile.engine()).rrset_ttl
    };
    let (zones, zone_warnings) = zones::build_all(&scenario.zones, dir, rrset_ttl).map_err(|(index, e)| {
        // Point at this zone's `file:` value (the same file may serve several zones).
        let spec = &scenario.zones[index];
        checker.anchor_nth(&format!("\"{}\"", spec.origin), 0, "zones");
        let message = format!("zone `{}`: {e}", spec.origin);
        // A fault inside the zone file carries the record's own `file:line:col:`.
        let hint = match has_position(&e.to_string()) {
            true => {
                "the second position is the record at fault; the file must load as BIND's `named-checkzone` loads it"
            }
            false => "`file:` names a master file relative to this scenario file, inside its directory",
        };
        let diagnostic = checker
            .error_at(spec.file.as_deref().unwrap_or(&spec.origin), message)
            .label("this zone does not load")
            .hint(hint);
        ScenarioError::from_diagnostics(&shown, source, vec![diagnostic])
    })?;
    let timeline = checker.take_timeline().unwrap_or_default();
    let setup = Setup::lower(&scenario, zones, timeline).map_err(|e| {
        let diagnostic = checker
            .error_at("servers", format!("cannot lower the scenario: {e}"))
            .label("passed the checks, yet does not resolve")
            .hint("this is a bug in xfrsim's loader: please report it with this file");
        ScenarioError::from_diagnostics(&shown, source, vec![diagnostic])
    })?;
    drop(checker);
    // Peers in expectations' parameters are written as everywhere else (a name, an IP); the
    // events print `IP:port`: rewrite them once, here, so matching is plain comparison.
    check_expectations::normalise_params(&mut scenario);
    setup.normalise_zones(&mut scenario);
    Ok(LoadedScenario { scenario, setup, path: path.to_path_buf(), name, zone_warnings })
}

/// Whether `text` holds a `:line:col:` position.
fn has_position(text: &str) -> bool {
    text.split(':').collect::<Vec<_>>().windows(3).any(|w| {
        let number = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        number(w[0]) && number(w[1]) && !w[2].is_empty()
    })
}

/// RON as every xfrsim file is read: `Some` implied, newtype variants unwrapped.
fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_default_extension(ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES)
}

pub(crate) fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a peer reference points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Server(usize),
    Address(SocketAddr),
}

impl Scenario {
    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Resolves a peer reference (server name, `IP` or `IP:port`) to a socket address.
    pub fn resolve(&self, reference: &str) -> Option<SocketAddr> {
        match self.server_index(reference) {
            Some(i) => Some(SocketAddr::new(self.servers[i].address, 53)),
            None => parse_peer(reference),
        }
    }

    /// Every address a host exists at: servers, silent hosts, closed hosts.
    pub fn host_addresses(&self) -> BTreeSet<IpAddr> {
        self.servers
            .iter()
            .flat_map(ServerSpec::addresses)
            .chain(self.silent_hosts.iter().copied())
            .chain(self.closed_hosts.iter().copied())
            .collect()
    }
}
