//! The configuration of one real node, for `cargo xtask serve`: where it listens and which
//! zones it holds. RON, like scenarios, with the same `path:line:col` errors.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ScenarioError;
use crate::model::default_journal;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The name printed on every timeline line.
    #[serde(default = "default_name")]
    pub name: String,
    /// Address and port for both UDP and TCP, e.g. `"127.0.0.1:5300"`: the node's first
    /// address, which NOTIFY and transfers leave from.
    pub listen: SocketAddr,
    /// More addresses to answer on, each bound separately so answers leave from the address
    /// asked, e.g. `["[::1]:5300"]` for IPv6 beside IPv4.
    #[serde(default)]
    pub also_listen: Vec<SocketAddr>,
    /// Which real server the node behaves as (default `Bind`), and settings over its defaults.
    #[serde(default)]
    pub profile: crate::model::ServerProfile,
    #[serde(default)]
    pub options: crate::model::Options,
    pub zones: Vec<NodeZone>,
}

fn default_name() -> String {
    "xfrsim".to_string()
}

/// A zone on the node. Peers (`masters`, `notify`) are `IP` or `IP:port` (53 by default);
/// ACLs (`allow_transfer`, `allow_update`) are addresses or prefixes (`127.0.0.0/8`,
/// `2001:db8::/32`), as in a BIND `address_match_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum NodeZone {
    Primary {
        zone: String,
        /// Master file, relative to the configuration file.
        file: String,
        #[serde(default)]
        notify: Vec<String>,
        /// `None`: anyone may transfer.
        #[serde(default)]
        allow_transfer: Option<Vec<String>>,
        #[serde(default)]
        allow_update: Vec<String>,
        #[serde(default = "default_journal")]
        journal: usize,
        /// Settings for this zone over the node's.
        #[serde(default)]
        options: crate::model::Options,
    },
    Secondary {
        zone: String,
        masters: Vec<String>,
        /// Where the last transferred copy is kept, relative to the configuration file: written
        /// after each transfer and loaded at start, its expire time kept in the file's
        /// modification time (BIND's `file` for a secondary zone). `None`: nothing survives a
        /// restart, the zone answers SERVFAIL until its first transfer.
        #[serde(default)]
        file: Option<String>,
        #[serde(default)]
        notify: Vec<String>,
        #[serde(default)]
        allow_transfer: Option<Vec<String>>,
        #[serde(default = "default_journal")]
        journal: usize,
        #[serde(default)]
        options: crate::model::Options,
    },
}

impl NodeZone {
    pub fn options(&self) -> &crate::model::Options {
        match self {
            NodeZone::Primary { options, .. } | NodeZone::Secondary { options, .. } => options,
        }
    }
}

/// A node configuration that parsed and passed its checks, its zone files read.
#[derive(Debug, Clone)]
pub struct LoadedNode {
    pub node: NodeFile,
    pub path: PathBuf,
    /// For each entry of `node.zones`: the loaded file of a primary (`None` when it failed to
    /// load: see `zone_errors`), or of a secondary that names one that exists and loaded.
    pub zones: Vec<Option<ZoneFileData>>,
    /// What loading the zone files warned about.
    pub zone_warnings: Vec<xfrsim_zone::ZoneFileWarning>,
    /// Zone files that exist but could not be loaded, one per zone. A primary is then skipped
    /// and the other zones serve; a secondary starts empty and transfers at once (BIND zone.c
    /// `zone_postload`: "not loaded due to errors", a secondary's bad file set aside and
    /// refreshed at once).
    pub zone_errors: Vec<NodeZoneError>,
}

/// A master file as read: its zone, and when the file was last modified.
#[derive(Debug, Clone)]
pub struct ZoneFileData {
    pub zone: xfrsim_zone::Zone,
    /// Read before the contents, so a change made while reading is seen at the next reload.
    /// BIND keeps a secondary's expire timing in it (zone.c `setmodtime`) and reloads only a
    /// file modified since its last load (zone.c `zone_touched`). `None` when the file system
    /// does not keep it.
    pub modified: Option<std::time::SystemTime>,
    pub warnings: Vec<xfrsim_zone::ZoneFileWarning>,
}

/// A zone file that exists but failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("zone `{zone}` not loaded: {error}")]
pub struct NodeZoneError {
    pub zone: String,
    pub error: xfrsim_zone::ZoneFileError,
}

impl LoadedNode {
    /// A zone file named in the configuration: relative to the configuration file's directory.
    pub fn zone_file_path(&self, file: &str) -> PathBuf {
        config_dir(&self.path).join(file)
    }
}

fn config_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Reads a master file for `origin` as the profile's server reads master files (which TTL a
/// mixed RRset keeps). Operators keep zones anywhere (/etc/bind, ...): absolute paths are fine;
/// files are still checked to be regular and bounded.
pub fn read_zone_file(
    path: &Path,
    origin: &hickory_proto::rr::Name,
    profile: crate::model::ServerProfile,
) -> Result<ZoneFileData, xfrsim_zone::ZoneFileError> {
    let rrset_ttl = xfrsim_engine::Behaviour::of(profile.engine()).rrset_ttl;
    let options =
        xfrsim_zone::ReadOptions { rrset_ttl, ..xfrsim_zone::ReadOptions::new(xfrsim_zone::Confinement::Anywhere) };
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let loaded = xfrsim_zone::load_zone_file(path, origin, &options)?;
    Ok(ZoneFileData { zone: loaded.zone, modified, warnings: loaded.warnings })
}

/// A peer reference: `IP:port`, or `IP` meaning port 53.
pub fn parse_peer(reference: &str) -> Option<SocketAddr> {
    reference.parse::<SocketAddr>().ok().or_else(|| reference.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

pub fn load_node(path: &Path) -> Result<LoadedNode, ScenarioError> {
    let shown = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::plain(shown.clone(), 0, 0, format!("cannot read node configuration: {e}")))?;
    parse_node(&source, path)
}

pub fn parse_node(source: &str, path: &Path) -> Result<LoadedNode, ScenarioError> {
    let shown = path.display().to_string();
    let node: NodeFile = crate::ron_options()
        .from_str(source)
        .map_err(|e| ScenarioError::from_diagnostics(&shown, source, vec![crate::ron_error::translate(source, &e)]))?;
    let error = |needle: &str, message: String| {
        let (line, col) = crate::checker::locate_line_col(source, needle, 0);
        ScenarioError::plain(shown.clone(), line, col, message)
    };
    let mut listening = std::collections::BTreeSet::from([node.listen]);
    for address in &node.also_listen {
        if !listening.insert(*address) {
            // Point at the repeat, in `also_listen`.
            let from = source.find("also_listen").unwrap_or(0);
            let (line, col) = crate::checker::locate_line_col(source, &address.to_string(), from);
            return Err(ScenarioError::plain(shown, line, col, format!("{address} is listed twice")));
        }
    }
    let behaviour = node.options.behaviour(node.profile).map_err(|e| error("options", e.to_string()))?;
    for zone in &node.zones {
        let name = match zone {
            NodeZone::Primary { zone, .. } | NodeZone::Secondary { zone, .. } => zone,
        };
        zone.options().check_zone(&behaviour).map_err(|e| error(name, format!("zone `{name}` options: {e}")))?;
    }
    let mut origins = std::collections::BTreeSet::new();
    for zone in &node.zones {
        let (origin, peers): (&String, Vec<&String>) = match zone {
            NodeZone::Primary { zone, notify, .. } => (zone, notify.iter().collect()),
            NodeZone::Secondary { zone, masters, notify, .. } => {
                if masters.is_empty() {
                    return Err(error(zone, format!("secondary zone `{zone}` has no masters")));
                }
                (zone, masters.iter().chain(notify).collect())
            }
        };
        if !origin.ends_with('.') {
            return Err(error(origin, format!("zone origin `{origin}` must be absolute (end with `.`)")));
        }
        if !origins.insert(origin.as_str()) {
            return Err(error(origin, format!("zone `{origin}` is configured twice")));
        }
        for peer in peers {
            if parse_peer(peer).is_none() {
                return Err(error(peer, format!("`{peer}` is not an address (IP or IP:port)")));
            }
        }
        let acls: Vec<&String> = match zone {
            NodeZone::Primary { allow_transfer, allow_update, .. } => {
                allow_transfer.iter().flatten().chain(allow_update).collect()
            }
            NodeZone::Secondary { allow_transfer, .. } => allow_transfer.iter().flatten().collect(),
        };
        for entry in acls {
            if entry.parse::<xfrsim_engine::Prefix>().is_err() {
                return Err(error(
                    entry,
                    format!("`{entry}` is not an address or prefix (192.0.2.1, 127.0.0.0/8, 2001:db8::/32)"),
                ));
            }
        }
    }
    // Every origin is a domain name: a malformed configuration stays an error with its
    // position, whereas a zone file that fails to load only skips its zone (below).
    let mut origins = Vec::with_capacity(node.zones.len());
    for zone in &node.zones {
        let (NodeZone::Primary { zone, .. } | NodeZone::Secondary { zone, .. }) = zone;
        // Read as scenario files and zone files read names (RFC 1035 §5.1: `\DDD` is decimal).
        let origin = crate::setup::parse_origin(zone).map_err(|e| error(zone, e.to_string()))?;
        origins.push(origin.to_hickory());
    }
    // Zone files are read now, before anything listens. As BIND (zone.c `zone_postload`), a
    // zone whose file fails to load is reported and skipped, the others serve; a secondary's
    // file that does not exist yet is no error (the first transfer writes it).
    let dir = config_dir(path);
    let mut zones = Vec::with_capacity(node.zones.len());
    let mut zone_warnings = Vec::new();
    let mut zone_errors = Vec::new();
    for (zone, origin) in node.zones.iter().zip(&origins) {
        let (name, file, optional) = match zone {
            NodeZone::Primary { zone, file, .. } => (zone, Some(file), false),
            NodeZone::Secondary { zone, file, .. } => (zone, file.as_ref(), true),
        };
        let Some(file) = file else {
            zones.push(None);
            continue;
        };
        match read_zone_file(&dir.join(file), origin, node.profile) {
            Ok(mut data) => {
                zone_warnings.append(&mut data.warnings);
                zones.push(Some(data));
            }
            Err(e)
                if optional
                    && e.line == 0
                    && e.kind == xfrsim_zone::ZoneFileErrorKind::Io(std::io::ErrorKind::NotFound) =>
            {
                zones.push(None);
            }
            Err(e) => {
                zone_errors.push(NodeZoneError { zone: name.clone(), error: e });
                zones.push(None);
            }
        }
    }
    Ok(LoadedNode { node, path: path.to_path_buf(), zones, zone_warnings, zone_errors })
}
