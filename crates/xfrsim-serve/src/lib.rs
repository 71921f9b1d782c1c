//! `xfrsim serve CONFIG` as a library: one xfrsim node on real sockets — the same engine and
//! driver as in simulation, with tokio sockets and wall-clock time.
//!
//! Zone files are handled here, outside the engine, as BIND 9 handles them (lib/dns/zone.c):
//! - a primary's file is read at start and again on SIGHUP when it was modified since; which
//!   reloaded files are taken is the profile's `ReloadRule` (`reload.rs`);
//! - a secondary's `file` is written after each transfer (atomically, by a thread of its own so
//!   the engine never waits on the disk) and loaded at start, its expire time kept in the file's
//!   modification time;
//! - a zone whose file fails to load is reported on one line and skipped; the others serve.

mod files;
mod reload;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use hickory_proto::rr::Name;
use xfrsim_driver::{Clock as _, NodeSlot, Tokio, WallClock};
use xfrsim_engine::{Acl, Behaviour, ConfigError, EventKind, Node, NodeConfig, ProfileError, Role, ZoneConfig};
use xfrsim_scenario::{LoadedNode, NodeZone, parse_peer};

use crate::files::{Epoch, FileZone, Save, set_aside, spawn_writer};
pub use crate::reload::{Decision, decide};

/// Why a node could not start or stopped serving. Each says what failed; the underlying error
/// is its source.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The node configuration, rendered as the scenario loader renders errors (position,
    /// excerpt, hint), coloured when stderr is a terminal.
    #[error("{rendered}")]
    Config { rendered: String },
    #[error("options")]
    Options(#[from] ProfileError),
    #[error("zone `{zone}`")]
    ZoneName { zone: String, source: hickory_proto::ProtoError },
    #[error("node configuration")]
    Node(#[from] ConfigError),
    #[error("starting tokio")]
    Runtime(#[source] std::io::Error),
    #[error("installing the {signal} handler")]
    Signal { signal: &'static str, source: std::io::Error },
    #[error("the driver task failed")]
    DriverTask(#[from] tokio::task::JoinError),
    #[error("serving on {addresses}")]
    Serving { addresses: String, source: std::io::Error },
}

/// The zone's behaviour: the node's with the zone's own settings over it (what the engine
/// clamps the SOA timers with).
fn zone_behaviour(node: &Behaviour, zone: &NodeZone) -> Result<Behaviour, ProfileError> {
    node.clone().with(&zone.options().overrides())
}

/// The engine's configuration of every zone that loaded. A secondary's copy read from its file
/// expires at the file's modification time plus the zone's EXPIRE as clamped (BIND zone.c
/// `zone_postload`: `isc_file_getmodtime(zone->masterfile)` + `zone->expire`; without a
/// modification time, now + RETRY). A copy already past that time is handed over anyway and
/// expires at the engine's first timeout, before any socket is open: BIND loads it, then
/// `zone_maintenance` finds `now >= expiretime` and calls `zone_expire`, refreshing at once.
fn zone_configs(loaded: &LoadedNode, behaviour: &Behaviour, epoch: Epoch) -> Result<Vec<ZoneConfig>, ServeError> {
    let peers = |list: &[String]| list.iter().filter_map(|p| parse_peer(p)).collect::<Vec<_>>();
    // Checked when the file was loaded: every entry parses.
    let prefixes = |list: &[String]| list.iter().map(|p| p.parse().expect("checked at load")).collect();
    let acl = |list: &Option<Vec<String>>| list.as_deref().map_or(Acl::Any, |l| Acl::Only(prefixes(l)));
    let mut configs = Vec::new();
    for (zone, data) in loaded.node.zones.iter().zip(&loaded.zones) {
        let config = match zone {
            NodeZone::Primary { zone, notify, allow_transfer, allow_update, journal, options, .. } => {
                // A primary whose file failed to load was reported; as in BIND it stays
                // configured, answering SERVFAIL, and a SIGHUP after the file is mended loads it.
                let role = match data {
                    Some(data) => Role::Primary { zone: data.zone.clone() },
                    None => Role::PrimaryNotLoaded,
                };
                ZoneConfig {
                    origin: Name::from_ascii(zone)
                        .map_err(|source| ServeError::ZoneName { zone: zone.clone(), source })?,
                    role,
                    notify: peers(notify),
                    allow_transfer: acl(allow_transfer),
                    allow_update: Acl::Only(prefixes(allow_update)),
                    journal_max_diffs: *journal,
                    // Sources are the node's first address, `listen`.
                    notify_source: None,
                    transfer_source: None,
                    overrides: options.overrides(),
                }
            }
            NodeZone::Secondary { zone: name, masters, notify, allow_transfer, journal, options, .. } => {
                let restored = match data {
                    Some(data) => {
                        let soa = data.zone.soa();
                        let behaviour = zone_behaviour(behaviour, zone)?;
                        let (_, retry, expire) = behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire);
                        let expire_at = match data.modified {
                            // Added in wall time first: the engine's time starts now and
                            // cannot go before it.
                            Some(modified) => epoch.time_of(modified.checked_add(expire).unwrap_or(modified)),
                            None => epoch.time + retry,
                        };
                        Some((data.zone.clone(), expire_at))
                    }
                    None => None,
                };
                ZoneConfig {
                    origin: Name::from_ascii(name)
                        .map_err(|source| ServeError::ZoneName { zone: name.clone(), source })?,
                    role: Role::Secondary { masters: peers(masters), restored },
                    notify: peers(notify),
                    allow_transfer: acl(allow_transfer),
                    allow_update: Acl::None,
                    journal_max_diffs: *journal,
                    notify_source: None,
                    transfer_source: None,
                    overrides: options.overrides(),
                }
            }
        };
        configs.push(config);
    }
    Ok(configs)
}

/// The zones with files, by origin: every primary (one whose file did not load has no
/// modification time yet, so the next SIGHUP reads it), and secondaries that name a file.
fn file_zones(loaded: &LoadedNode) -> BTreeMap<Name, FileZone> {
    let mut zones = BTreeMap::new();
    for (zone, data) in loaded.node.zones.iter().zip(&loaded.zones) {
        let (name, file, loaded_modified) = match zone {
            NodeZone::Primary { zone, file, .. } => (zone, file, Some(data.as_ref().and_then(|d| d.modified))),
            NodeZone::Secondary { zone, file: Some(file), .. } => (zone, file, None),
            NodeZone::Secondary { file: None, .. } => continue,
        };
        // Checked when the configuration was loaded.
        let Ok(origin) = Name::from_ascii(name) else { continue };
        let path = loaded.zone_file_path(file);
        zones.insert(origin.clone(), FileZone { origin, path, loaded_modified });
    }
    zones
}

/// Serves the node configured in `path` until Ctrl-C (`Ok`), or until the driver fails. Timeline
/// lines go to stdout, everything else to stderr; the caller installs the tracing subscriber.
/// `seed` seeds message ids and jitter (default: the process id; a real node has nothing to
/// replay).
pub fn serve(path: &Path, seed: Option<u64>) -> Result<(), ServeError> {
    // Errors go to stderr: coloured when that is a terminal and NO_COLOR is unset.
    let loaded = xfrsim_scenario::load_node(path)
        .map_err(|e| ServeError::Config { rendered: e.render_for(&std::io::stderr()) })?;
    for warning in &loaded.zone_warnings {
        eprintln!("{warning}");
    }
    // One line per zone that failed to load; the others serve, even none at all (BIND starts
    // with zones that failed to load, answering for the rest).
    for error in &loaded.zone_errors {
        let secondary_file = loaded.node.zones.iter().find_map(|z| match z {
            NodeZone::Secondary { zone, file: Some(file), .. } if *zone == error.zone => Some(file),
            _ => None,
        });
        match secondary_file {
            Some(file) => match set_aside(&loaded.zone_file_path(file)) {
                Ok(aside) => {
                    eprintln!("{error}; renamed to {} for failure analysis, transferring again", aside.display());
                }
                Err(e) => eprintln!("{error}; transferring again (cannot rename it aside: {e})"),
            },
            None => eprintln!("{error}"),
        }
    }
    let listen = loaded.node.listen;
    let addresses: Vec<std::net::SocketAddr> =
        std::iter::once(listen).chain(loaded.node.also_listen.iter().copied()).collect();
    let shown = addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let name = loaded.node.name.clone();
    let profile = loaded.node.profile;
    let behaviour = loaded.node.options.behaviour(profile)?;
    let reload_rule = behaviour.reload_rule;
    let seed = seed.unwrap_or_else(|| u64::from(std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ServeError::Runtime)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let clock = WallClock::start();
        // Files carry wall-clock times; this is the one place serve reads that clock.
        #[expect(clippy::disallowed_methods, reason = "zone files' modification times are wall-clock times")]
        let epoch = Epoch { time: clock.now(), system: SystemTime::now() };
        let config = NodeConfig {
            name: name.clone(),
            addresses: addresses.clone(),
            zones: zone_configs(&loaded, &behaviour, epoch)?,
            behaviour,
        };
        let mut files = file_zones(&loaded);
        let node = Node::new(config, seed, epoch.time)?;
        // Installs and in-sync refreshes of secondaries with a file, for the loop below.
        let (saves, mut to_save) = tokio::sync::mpsc::unbounded_channel::<(Name, bool)>();
        let with_file: Vec<Name> =
            files.iter().filter(|(_, z)| z.loaded_modified.is_none()).map(|(o, _)| o.clone()).collect();
        let printer_name = name.clone();
        let on_event = move |event: &xfrsim_engine::Event| {
            // Timeline lines as in `replay`, with time since the node started.
            println!("{}", event.timeline_line(&printer_name));
            let rewrite = match event.kind {
                EventKind::ZoneUpdate { .. } => true,
                EventKind::ZoneInSync { .. } => false,
                _ => return,
            };
            if let Some(origin) = event.zone.as_ref().filter(|o| with_file.contains(o)) {
                let _ = saves.send((origin.clone(), rewrite));
            }
        };
        let slot = NodeSlot::new(Some(node), Box::new(on_event));
        // A copy restored past its expire time expires now, before anything is answered.
        slot.with(|node| node.handle_timeout(clock.now()));
        let (writer, writer_thread) = spawn_writer();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|source| ServeError::Signal { signal: "SIGHUP", source })?;
        let mut driver =
            tokio::task::spawn_local(xfrsim_driver::run::<Tokio, WallClock>(slot.clone(), addresses, clock.clone()));
        eprintln!("{name}: serving on {shown} (UDP and TCP); SIGHUP reloads zone files; Ctrl-C stops");
        loop {
            tokio::select! {
                biased;
                stopped = tokio::signal::ctrl_c() => {
                    stopped.map_err(|source| ServeError::Signal { signal: "Ctrl-C", source })?;
                    // Saves already asked for are finished before the process ends.
                    drop(writer);
                    let _ = writer_thread.join();
                    eprintln!("{name}: stopped");
                    return Ok(());
                }
                ended = &mut driver => {
                    ended?.map_err(|source| ServeError::Serving { addresses: shown.clone(), source })?;
                    return Ok(());
                }
                Some((origin, rewrite)) = to_save.recv() => {
                    let Some(file) = files.get(&origin) else { continue };
                    // What the zone holds now (a later install may already be in; writing it is
                    // what the next save would do anyway).
                    let saved = slot.with(|node| {
                        let (expire_at, expire) = node.expiry(&origin)?;
                        Some((node.zone(&origin).cloned().filter(|_| rewrite), expire_at, expire))
                    });
                    let Some(Some((zone, expire_at, expire))) = saved else { continue };
                    // EXPIRE before the expire time, as BIND's `setmodtime`.
                    let expires = epoch.system_of(expire_at);
                    let modified = expires.checked_sub(expire).unwrap_or(expires);
                    let path = file.path.clone();
                    let save = match zone {
                        Some(zone) => Save::Write { origin, path, zone: Box::new(zone), modified },
                        None => Save::Touch { origin, path, modified },
                    };
                    let _ = writer.send(save);
                }
                _ = hangup.recv() => {
                    eprintln!("{name}: SIGHUP: reloading zone files");
                    reload::reload_primaries(&slot, &mut files, profile, reload_rule, &clock).await;
                }
            }
        }
    })
}
